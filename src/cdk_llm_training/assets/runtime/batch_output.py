"""Read every part a Bedrock batch inference job wrote, in bounded memory, and reconcile the
record counts.

Plain boto3. Bedrock writes one ``<input file>.jsonl.out`` per input file under
``<output uri>/<job id>/``, each line ``{"recordId", "modelInput", "modelOutput"}`` or, for a
record that failed, ``{"recordId", "modelInput", "error": {"errorCode", "errorMessage"}}``,
and a ``manifest.json.out`` with ``totalRecordCount``, ``processedRecordCount``,
``successRecordCount``, ``errorRecordCount``, ``inputTokenCount`` and ``outputTokenCount``
(Bedrock user guide, "View the results of a batch inference job").

:class:`OutputScan` streams the parts line by line (one line in memory at a time, plus the set
of record ids seen, which the per-job record quota bounds), counts what it finds and keeps
line-numbered problems per part, at most :data:`MAX_PROBLEMS` of at most
:data:`PROBLEM_CHARS` characters each (a Lambda response is at most 6 MB and a Step Functions
state's data at most 256 KiB; the count of every problem is kept).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

MAX_PROBLEMS = 20
PROBLEM_CHARS = 300
MANIFEST = "manifest.json.out"
MANIFEST_FIELDS = (
    "totalRecordCount",
    "processedRecordCount",
    "successRecordCount",
    "errorRecordCount",
    "inputTokenCount",
    "outputTokenCount",
)


def keys_under(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return sorted(keys)


def numbered_lines(s3: Any, bucket: str, key: str) -> Iterator[tuple[int, str]]:
    """(line number from 1, stripped text) of every non-blank line, streamed."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for number, raw in enumerate(body.iter_lines(), start=1):
        line = raw.decode("utf-8", errors="replace").strip()
        if line:
            yield number, line


class OutputScan:
    """Every output line of the batch job(s) under one prefix, checked and counted."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []
        self.problem_count = 0
        self.record_ids: set[str] = set()
        self.manifest: Counter[str] = Counter()
        self.manifests = 0

    def problem(self, part: str, line: int, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{part} line {line}: {text}"[:PROBLEM_CHARS])

    def items(self, s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int, Any]]:
        """(part, line number, record) of every output line with a ``modelOutput``; error
        lines, unparsable lines and repeated record ids are counted and reported here."""
        for key in keys_under(s3, bucket, prefix):
            part = key[len(prefix) :]
            if key.endswith(MANIFEST):
                self._read_manifest(s3, bucket, key)
                continue
            if not key.endswith(".jsonl.out"):
                continue
            self.counts["output_parts"] += 1
            for number, line in numbered_lines(s3, bucket, key):
                item = self._record(part, number, line)
                if item is not None:
                    yield part, number, item

    def _record(self, part: str, number: int, line: str) -> Any:
        self.counts["output_lines"] += 1
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            self.counts["unparsable"] += 1
            self.problem(part, number, "not JSON")
            return None
        record_id = item.get("recordId") if isinstance(item, dict) else None
        if not isinstance(record_id, str):
            self.counts["unparsable"] += 1
            self.problem(part, number, "no string 'recordId'")
            return None
        if record_id in self.record_ids:
            self.counts["duplicate_records"] += 1
            self.problem(part, number, f"record {record_id!r} was already read")
            return None
        self.record_ids.add(record_id)
        if "error" in item:
            self.counts["record_errors"] += 1
            error = item["error"] if isinstance(item["error"], dict) else {}
            self.problem(
                part,
                number,
                f"record {record_id!r} failed: {error.get('errorCode', '?')} "
                f"{error.get('errorMessage', item['error'])}",
            )
            return None
        if "modelOutput" not in item:
            self.counts["unparsable"] += 1
            self.problem(part, number, f"record {record_id!r} has neither modelOutput nor error")
            return None
        self.counts["model_outputs"] += 1
        return item

    def _read_manifest(self, s3: Any, bucket: str, key: str) -> None:
        try:
            body = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except json.JSONDecodeError:
            self.problem(key.rsplit("/", 1)[-1], 1, "manifest is not JSON")
            return
        self.manifests += 1
        for field in MANIFEST_FIELDS:
            if isinstance(body, dict) and isinstance(body.get(field), int):
                self.manifest[field] += body[field]

    def reconcile(self, input_records: int | None) -> dict[str, Any]:
        """Input records against output records, errors and the manifest: ``consistent`` is
        False with the reasons in ``mismatches`` when they disagree."""
        outputs = len(self.record_ids)
        successes = self.counts["model_outputs"]
        errors = self.counts["record_errors"]
        mismatches: list[str] = []
        unprocessed = 0
        if self.manifests:
            total = self.manifest["totalRecordCount"]
            unprocessed = total - self.manifest["processedRecordCount"]
            if input_records is not None and total != input_records:
                mismatches.append(
                    f"manifest totalRecordCount {total} != inputRecords {input_records}"
                )
            for field, seen in (("successRecordCount", successes), ("errorRecordCount", errors)):
                if self.manifest[field] != seen:
                    mismatches.append(f"manifest {field} {self.manifest[field]} != {seen} read")
        missing = None if input_records is None else input_records - outputs
        if missing is not None and missing < 0:
            mismatches.append(f"outputRecords {outputs} > inputRecords {input_records}")
        elif missing and missing != unprocessed:
            mismatches.append(
                f"{missing} input records have no output line"
                + (f" (the manifest reports {unprocessed} unprocessed)" if self.manifests else "")
            )
        for kind in ("unparsable", "duplicate_records"):
            if self.counts[kind]:
                mismatches.append(f"{kind} {self.counts[kind]}")
        return {
            "inputRecords": input_records,
            "outputRecords": outputs,
            "modelOutputs": successes,
            "recordErrors": errors,
            "missing": missing,
            "manifest": dict(self.manifest) if self.manifests else None,
            "consistent": not mismatches,
            "mismatches": mismatches[:MAX_PROBLEMS],
        }

    def report(self) -> dict[str, Any]:
        """The problems, within the size limits (``problemCount`` counts them all)."""
        return {"problems": self.problems, "problemCount": self.problem_count}
