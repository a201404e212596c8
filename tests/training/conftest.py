"""Fixtures of the training-script tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_support import build_base_model


@pytest.fixture(scope="session")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny base model folder (built once per session)."""
    folder = tmp_path_factory.mktemp("base-model")
    build_base_model(folder)
    return folder
