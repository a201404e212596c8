"""No construct module over 400 lines: a construct that needs more becomes a package of small
modules (``constructs/hyperpod/``, ``constructs/fine_tune/``, ``constructs/labeling/``, ...)."""

from __future__ import annotations

from pathlib import Path

import cdk_llm_training

MAX_LINES = 400
CONSTRUCTS_DIR = Path(cdk_llm_training.__file__).parent / "constructs"


def _line_counts() -> dict[str, int]:
    return {
        str(path.relative_to(CONSTRUCTS_DIR)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(CONSTRUCTS_DIR.rglob("*.py"))
    }


def test_the_counter_sees_the_construct_modules() -> None:
    counts = _line_counts()
    assert "runtime_function.py" in counts
    assert len(counts) > 40


def test_no_construct_module_over_the_limit() -> None:
    over = {module: lines for module, lines in _line_counts().items() if lines > MAX_LINES}
    assert over == {}
