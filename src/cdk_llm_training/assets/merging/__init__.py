"""The adapter merge step (package data): ``merge_adapter.py`` folds a LoRA adapter into its
base model so that the result can be imported into Amazon Bedrock (Custom Model Import takes
full Hugging Face weights, not adapters). It runs as the entry point of a SageMaker processing
or training job with the training image; importing this package does not import torch."""

from pathlib import Path

SOURCE_DIR = Path(__file__).parent
"""The folder holding the merge script."""
ENTRY_POINT = "merge_adapter.py"
"""The script a job runs."""
