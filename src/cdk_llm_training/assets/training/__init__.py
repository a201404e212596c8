"""The training script shipped to SageMaker training jobs (package data).

The files of :data:`SOURCE_FILES` are packed into the source tarball that
:class:`cdk_llm_training.SageMakerFineTuneJob` uploads; the training container installs
``requirements.txt`` and runs ``train_lora.py``, which loads the other modules of this folder
as one package. Importing this package (or :mod:`.methods`, :mod:`.args`, :mod:`.formats`,
:mod:`.rewards`) does not import torch: only :mod:`.run` and :mod:`.callbacks` do.
"""

from pathlib import Path

SOURCE_DIR = Path(__file__).parent
"""The folder holding the training script and its requirements."""
ENTRY_POINT = "train_lora.py"
"""The script the container runs (the ``sagemaker_program`` hyperparameter)."""
MODULES = (
    "__init__.py",
    "args.py",
    "callbacks.py",
    "checkpoints.py",
    "distributed.py",
    "formats.py",
    "methods.py",
    "model_card.py",
    "rewards.py",
    "run.py",
)
"""The modules ``train_lora.py`` imports, shipped next to it."""
SOURCE_FILES = (ENTRY_POINT, "requirements.txt", *MODULES)
"""The files packed into the source tarball, in this order."""
