"""The adapter merge step (package data): ``merge_adapter.py`` folds a LoRA adapter into its
base model so that the result can be imported into Amazon Bedrock (Custom Model Import takes
full Hugging Face weights, not adapters). It runs as the entry point of a SageMaker processing
or training job with the training image; importing this package does not import torch."""

from pathlib import Path

SOURCE_DIR = Path(__file__).parent
"""The folder holding the merge script."""
ENTRY_POINT = "merge_adapter.py"
"""The script a job runs."""
SOURCE_FILES = (ENTRY_POINT, "requirements.txt")
"""What the merge job downloads: the script and the pinned versions it installs (the same
pins as the training requirements)."""
REPORT_NAME = "merge-report.json"
"""The report ``merge_adapter.py`` writes next to the merged weights (the script runs alone in
the job, so it holds its own copy of this name)."""
