"""The fine-tune constructs' layout: one skeleton both build on, small modules, and the module
paths users imported before the split still work."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from cdk_llm_training import BedrockFineTuneJob, SageMakerFineTuneJob
from cdk_llm_training.constructs import fine_tune
from cdk_llm_training.constructs.fine_tune.workflow import FineTuneWorkflow

MAX_MODULE_LINES = 400
PACKAGE_DIR = Path(fine_tune.__file__).parent


def test_both_constructs_build_on_the_skeleton() -> None:
    assert issubclass(BedrockFineTuneJob, FineTuneWorkflow)
    assert issubclass(SageMakerFineTuneJob, FineTuneWorkflow)


@pytest.mark.parametrize(
    "path",
    [
        *sorted(PACKAGE_DIR.glob("*.py")),
        PACKAGE_DIR.parent / "bedrock_fine_tune_job.py",
        PACKAGE_DIR.parent / "sagemaker_fine_tune_job.py",
        PACKAGE_DIR.parent / "_workflow.py",
    ],
    ids=lambda path: path.name,
)
def test_module_is_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name} has {lines} lines; allowed: 400"


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "bedrock_fine_tune_job",
            ("BedrockFineTuneJob", "BedrockJobVpcConfig", "SYNC_INTEGRATION", "MANAGED_RULE_NAMES"),
        ),
        (
            "sagemaker_fine_tune_job",
            ("SageMakerFineTuneJob", "build_source_tarball", "SYNC_INTEGRATION", "SOURCE_TARBALL"),
        ),
    ],
)
def test_old_module_paths_still_export(module: str, names: tuple[str, ...]) -> None:
    imported = importlib.import_module(f"cdk_llm_training.constructs.{module}")
    assert all(hasattr(imported, name) for name in names)
    assert set(names) <= set(imported.__all__)
