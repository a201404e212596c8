"""Curate raw text/JSONL into a cleaned, deduplicated, PII-checked JSONL dataset.

Run by the curation Processing job as ``python3 -m curation.curate`` with the SageMaker
Processing layout (each path can be moved by its argument):

- raw input: ``/opt/ml/processing/input/raw`` (``--input-dir``), every ``.jsonl``,
  ``.json`` (JSON lines) and ``.txt`` file below it, each optionally gzipped (``.gz``);
- curated output: ``/opt/ml/processing/output/curated`` (``--output-dir``):
  ``part-00000.jsonl``, ... and ``dataset_card.json``.

Settings come as JSON (``--config``, see :class:`CurationConfig`). PII detection calls
Amazon Comprehend in ``--region``; ``--source-uri`` and ``--output-uri`` are recorded in the
card as lineage. Exit status 0 when the run finished (even if every record was removed).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from .card import CARD_NAME, CurationStats, FileRecord, build_card, sha256_of
from .config import CurationConfig
from .dedup import ExactDeduplicator, NearDeduplicator, datasketch_version
from .normalise import normalise
from .pii import ComprehendClient, PiiScanner, redact
from .quality import failed_check

INPUT_SUFFIXES = (".jsonl", ".json", ".txt")
PII_BUFFER_RECORDS = 1000
JOINER = "\n\n"


def input_files(root: Path) -> list[Path]:
    """Every input file below ``root`` (sorted, so runs are repeatable)."""
    found = []
    for path in sorted(root.rglob("*")):
        name = path.name.removesuffix(".gz")
        if path.is_file() and name.endswith(INPUT_SUFFIXES):
            found.append(path)
    return found


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def parse_line(
    line: str, *, text_file: bool, config: CurationConfig
) -> dict[str, Any] | str | None:
    """One raw line as a record, ``"invalid_json"`` when it is not a JSON object, or None
    for a blank line (skipped, not counted). A ``.txt`` line is a document in the first
    text field."""
    if not line.strip():
        return None
    if text_file:
        return {config.text_fields[0]: line}
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return "invalid_json"
    return record if isinstance(record, dict) else "invalid_json"


def prepare_record(record: dict[str, Any], config: CurationConfig) -> tuple[str, str | None]:
    """Normalise ``record``'s text fields in place and run the quality filters: the joined
    text (what deduplication reads) and the reason the record is removed, or None. Both
    engines (this script and the Spark job) run exactly this."""
    fields = [name for name in config.text_fields if name in record]
    if not fields or any(not isinstance(record[name], str) for name in fields):
        return "", "missing_text"
    for name in fields:
        record[name] = normalise(record[name], config.unicode_form)
    text = JOINER.join(record[name] for name in fields)
    return text, failed_check(text, config.quality)


def rename_fields(record: dict[str, Any], config: CurationConfig) -> dict[str, Any]:
    """``record`` with its fields renamed as ``rename_fields`` says (in place)."""
    for old, new in config.rename_fields.items():
        if old in record:
            record[new] = record.pop(old)
    return record


def apply_pii(
    records: list[dict[str, Any]],
    scanner: PiiScanner,
    config: CurationConfig,
    stats: CurationStats,
) -> list[dict[str, Any] | None]:
    """Scan the text fields of ``records`` in packed requests: each record as it should be
    written (redacted when it held PII in ``redact`` mode), or None when ``drop`` removes it.
    Entity counts, redactions, calls and request bytes go to ``stats``."""
    keys: list[tuple[int, str]] = [
        (index, name)
        for index, record in enumerate(records)
        for name in config.text_fields
        if name in record
    ]
    entities = scanner.find([records[i][name] for i, name in keys])
    hits: dict[int, list[tuple[str, list[Any]]]] = {}
    for (index, name), found in zip(keys, entities, strict=True):
        if found:
            hits.setdefault(index, []).append((name, found))
    out: list[dict[str, Any] | None] = []
    for index, record in enumerate(records):
        record_hits = hits.get(index, [])
        for _name, found in record_hits:
            for entity in found:
                stats.pii_entities[entity.type] += 1
        if not record_hits:
            out.append(record)
        elif config.pii.mode == "drop":
            out.append(None)
        else:
            for name, found in record_hits:
                record[name] = redact(record[name], found)
            stats.pii_records_redacted += 1
            out.append(record)
    stats.pii_calls = scanner.calls
    stats.pii_request_bytes = scanner.request_bytes
    return out


class PartWriter:
    """Writes JSONL records into ``part-NNNNN.jsonl`` files of at most ``max_records``
    each, hashing what it writes."""

    def __init__(self, root: Path, max_records: int | None) -> None:
        self._root = root
        self._max = max_records
        self._handle: IO[bytes] | None = None
        self._digest: Any = None
        self.files: list[FileRecord] = []
        root.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        if self._handle is None or (self._max is not None and self.files[-1].records >= self._max):
            self._roll()
        assert self._handle is not None
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self._handle.write(line)
        self._digest.update(line)
        current = self.files[-1]
        current.records += 1
        current.bytes += len(line)

    def _roll(self) -> None:
        import hashlib

        self.close()
        name = f"part-{len(self.files):05d}.jsonl"
        self._handle = (self._root / name).open("wb")
        self._digest = hashlib.sha256()
        self.files.append(FileRecord(path=name, sha256="", bytes=0))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self.files[-1].sha256 = self._digest.hexdigest()
            self._handle = None


class Curator:
    """The streaming pipeline: feed raw lines with :meth:`add`, then :meth:`finish`."""

    def __init__(
        self,
        config: CurationConfig,
        writer: PartWriter,
        comprehend: ComprehendClient | None = None,
    ) -> None:
        self.config = config
        self.stats = CurationStats()
        self._writer = writer
        self._exact = ExactDeduplicator()
        self._near = (
            NearDeduplicator(config.near_duplicates) if config.near_duplicates.enabled else None
        )
        self._pii: PiiScanner | None = None
        if config.pii.mode != "off":
            if comprehend is None:
                raise ValueError(f"pii.mode is {config.pii.mode!r} but no Comprehend client")
            self._pii = PiiScanner(comprehend, config.pii)
        self._pending: list[dict[str, Any]] = []
        self._pending_bytes = 0

    def _remove(self, reason: str) -> None:
        self.stats.removed[reason] += 1

    def add_json_line(self, line: str) -> None:
        """One JSONL line (blank lines are skipped, not counted)."""
        self._add_line(line, text_file=False)

    def add_text_line(self, line: str) -> None:
        """One line of a ``.txt`` file: a document in the first text field."""
        self._add_line(line, text_file=True)

    def _add_line(self, line: str, *, text_file: bool) -> None:
        parsed = parse_line(line, text_file=text_file, config=self.config)
        if parsed is None:
            return
        self.stats.input_records += 1
        if isinstance(parsed, str):
            self._remove(parsed)
        else:
            self._add_record(parsed)

    def _add_record(self, record: dict[str, Any]) -> None:
        text, reason = prepare_record(record, self.config)
        if reason is not None:
            self._remove(reason)
        elif self._exact.is_duplicate(text):
            self._remove("exact_duplicate")
        elif self._near is not None and self._near.is_duplicate(text):
            self._remove("near_duplicate")
        elif self._pii is None:
            self._write(record)
        else:
            self._pending.append(record)
            self._pending_bytes += len(text)
            if (
                len(self._pending) >= PII_BUFFER_RECORDS
                or self._pending_bytes >= 4 * self.config.pii.max_request_bytes
            ):
                self._flush_pii()

    def _write(self, record: dict[str, Any]) -> None:
        self._writer.write(rename_fields(record, self.config))
        self.stats.output_records += 1

    def _flush_pii(self) -> None:
        assert self._pii is not None
        for record in apply_pii(self._pending, self._pii, self.config, self.stats):
            if record is None:
                self._remove("pii")
            else:
                self._write(record)
        self._pending = []
        self._pending_bytes = 0

    def finish(self) -> None:
        if self._pending:
            self._flush_pii()
        self._writer.close()


def curate(
    *,
    input_dir: Path,
    output_dir: Path,
    config: CurationConfig,
    comprehend: ComprehendClient | None = None,
    source_uris: Sequence[str] = (),
    output_uri: str | None = None,
) -> dict[str, Any]:
    """Curate every input file below ``input_dir`` into ``output_dir``; write and return the
    dataset card."""
    writer = PartWriter(output_dir, config.max_records_per_output_file)
    curator = Curator(config, writer, comprehend)
    inputs: list[FileRecord] = []
    for path in input_files(input_dir):
        before = curator.stats.input_records
        plain_name = path.name.removesuffix(".gz")
        add = curator.add_text_line if plain_name.endswith(".txt") else curator.add_json_line
        with _open_text(path) as handle:
            for line in handle:
                add(line)
        inputs.append(
            FileRecord(
                path=path.relative_to(input_dir).as_posix(),
                sha256=sha256_of(path),
                bytes=path.stat().st_size,
                records=curator.stats.input_records - before,
            )
        )
    curator.finish()
    card = build_card(
        stats=curator.stats,
        config=config.to_dict(),
        inputs=inputs,
        outputs=writer.files,
        source_uris=list(source_uris),
        output_uri=output_uri,
        tool_versions={"datasketch": datasketch_version()},
    )
    (output_dir / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


def comprehend_client(region: str | None) -> ComprehendClient:
    """A boto3 Comprehend client that retries throttling adaptively."""
    import boto3
    from botocore.config import Config

    client: ComprehendClient = boto3.client(
        "comprehend",
        region_name=region,
        config=Config(retries={"mode": "adaptive", "max_attempts": 10}),
    )
    return client


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input/raw"))
    parser.add_argument(
        "--output-dir", type=Path, default=Path("/opt/ml/processing/output/curated")
    )
    parser.add_argument("--config", default="{}", help="the settings as one JSON object")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=JSON",
        help="one setting over --config, e.g. near_duplicates.threshold=0.85 (repeat)",
    )
    parser.add_argument(
        "--source-uri",
        action="append",
        default=[],
        help="lineage (repeat; default: $CURATION_SOURCE_URI)",
    )
    parser.add_argument(
        "--output-uri",
        default=os.environ.get("CURATION_OUTPUT_URI"),
        help="where the output is uploaded (default: $CURATION_OUTPUT_URI)",
    )
    parser.add_argument("--region", default=None, help="Comprehend Region (default: the job's)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sources = args.source_uri or [uri for uri in [os.environ.get("CURATION_SOURCE_URI")] if uri]
    try:
        config = CurationConfig.from_settings(json.loads(args.config or "{}"), args.set)
    except (ValueError, TypeError) as error:
        print(f"[curation] invalid --config: {error}", file=sys.stderr)
        return 2
    comprehend = comprehend_client(args.region) if config.pii.mode != "off" else None
    card = curate(
        input_dir=args.input_dir,
        output_dir=args.output_dir,
        config=config,
        comprehend=comprehend,
        source_uris=sources,
        output_uri=args.output_uri,
    )
    counts = card["counts"]
    print(
        f"[curation] input_records={counts['input_records']} "
        f"output_records={counts['output_records']} removed={json.dumps(counts['removed'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
