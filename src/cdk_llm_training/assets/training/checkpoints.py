"""Checkpoints in SageMaker's checkpoint folder: which one a restarted job resumes from.

The Trainer writes ``checkpoint-<step>/`` folders there; SageMaker syncs the folder to S3 while
the job runs and copies it back when a spot job restarts. A checkpoint counts only once the
script has written :data:`COMPLETE_MARKER` into it, after the Trainer finished saving: a
checkpoint cut short by an interruption (or half uploaded) is never resumed from.
Pure Python (no torch import).
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINT_PREFIX = "checkpoint-"
COMPLETE_MARKER = "checkpoint-complete"


def step_of(path: Path) -> int | None:
    """The step of a ``checkpoint-<step>`` folder, else None."""
    suffix = path.name.removeprefix(CHECKPOINT_PREFIX)
    if path.name == suffix or not suffix.isdigit():
        return None
    return int(suffix)


def latest_complete(folder: Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    if not folder.is_dir():
        return None
    complete = [
        p
        for p in folder.iterdir()
        if p.is_dir() and step_of(p) is not None and (p / COMPLETE_MARKER).is_file()
    ]
    return max(complete, key=lambda p: step_of(p) or 0, default=None)


def mark_complete(path: Path, step: int) -> None:
    (path / COMPLETE_MARKER).write_text(f"{step}\n", encoding="utf-8")
