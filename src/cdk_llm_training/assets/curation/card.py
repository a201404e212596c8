"""The dataset card: what went in, what came out, what each stage removed, and how."""

from __future__ import annotations

import hashlib
import platform
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CARD_NAME = "dataset_card.json"
CARD_SCHEMA_VERSION = 1


@dataclass
class FileRecord:
    """One input or output file: its path (relative to its folder), records and SHA-256."""

    path: str
    sha256: str
    bytes: int
    records: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "records": self.records,
        }


@dataclass
class CurationStats:
    """Counts gathered while curating."""

    input_records: int = 0
    output_records: int = 0
    removed: Counter[str] = field(default_factory=Counter)
    """Removed documents by reason: ``invalid_json``, ``missing_text``, the quality checks,
    ``exact_duplicate``, ``near_duplicate``, ``pii``."""
    pii_records_redacted: int = 0
    pii_entities: Counter[str] = field(default_factory=Counter)
    pii_calls: int = 0
    pii_request_bytes: int = 0


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def build_card(
    *,
    stats: CurationStats,
    config: dict[str, Any],
    inputs: list[FileRecord],
    outputs: list[FileRecord],
    source_uris: list[str],
    output_uri: str | None,
    tool_versions: dict[str, str | None],
) -> dict[str, Any]:
    """The card as JSON-ready data. ``removed`` holds every reason, zero or not, so the sum
    of ``output_records`` and ``removed`` is ``input_records``."""
    reasons = [
        "invalid_json",
        "missing_text",
        "too_short",
        "too_long",
        "too_few_words",
        "low_alpha",
        "repeated_lines",
        "repeated_ngrams",
        "exact_duplicate",
        "near_duplicate",
        "pii",
    ]
    removed = {reason: stats.removed.get(reason, 0) for reason in reasons}
    return {
        "schema_version": CARD_SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "lineage": {"sources": source_uris, "output": output_uri},
        "counts": {
            "input_records": stats.input_records,
            "output_records": stats.output_records,
            "removed": removed,
            "removed_total": sum(removed.values()),
        },
        "pii": {
            "records_redacted": stats.pii_records_redacted,
            "records_dropped": removed["pii"],
            "entities_by_type": dict(sorted(stats.pii_entities.items())),
            "comprehend_calls": stats.pii_calls,
            "comprehend_request_bytes": stats.pii_request_bytes,
        },
        "inputs": [record.to_dict() for record in inputs],
        "outputs": [record.to_dict() for record in outputs],
        "config": config,
        "tools": {"python": platform.python_version(), **tool_versions},
    }
