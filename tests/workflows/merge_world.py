"""The adapter merge job of BedrockModelImport in the fake cloud."""

from __future__ import annotations

from typing import Any


def is_merge_job(params: Any) -> bool:
    """A CreateProcessingJob request of the merge step (its one output is ``merged``)."""
    outputs = params.get("ProcessingOutputConfig", {}).get("Outputs", [])
    return [o.get("OutputName") for o in outputs] == ["merged"]
