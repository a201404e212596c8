"""The training script shipped to SageMaker training jobs (package data).

``train_lora.py`` and ``requirements.txt`` in this folder are packed into the source tarball
that :class:`cdk_llm_training.SageMakerFineTuneJob` uploads; the Hugging Face training
container downloads it and runs ``train_lora.py``. Importing this package does not import
torch: only ``train_lora`` does.
"""

from pathlib import Path

SOURCE_DIR = Path(__file__).parent
"""The folder holding the training script and its requirements."""
ENTRY_POINT = "train_lora.py"
"""The script the container runs (the ``sagemaker_program`` hyperparameter)."""
SOURCE_FILES = (ENTRY_POINT, "requirements.txt")
"""The files packed into the source tarball, in this order."""
