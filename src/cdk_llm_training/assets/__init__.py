"""What the library ships to AWS, apart from the library itself: the Lambda runtime
(``runtime``), the SageMaker training entry point (``training``), the evaluation scripts
(``evaluation``), the data-curation job (``curation``), the adapter merge job (``merging``),
the cluster lifecycle scripts (``lifecycle_scripts``), the Ground Truth task
templates (``labeling_templates``) and the HyperPod recipes converter (``recipes``).
Constructs find them with :func:`asset_path`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

ASSETS_DIR = Path(__file__).resolve().parent

AssetFolder = Literal[
    "runtime",
    "training",
    "evaluation",
    "curation",
    "merging",
    "lifecycle_scripts",
    "labeling_templates",
    "recipes",
]


def asset_path(folder: AssetFolder, *parts: str) -> Path:
    """The path of ``parts`` inside the shipped asset ``folder`` (the folder itself without
    ``parts``)."""
    return ASSETS_DIR.joinpath(folder, *parts)
