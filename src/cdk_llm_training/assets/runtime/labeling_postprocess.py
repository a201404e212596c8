"""Ground Truth Lambdas of LabelingWorkforce: pre-annotation, annotation consolidation, and the
converter that turns a labeling job's output manifest into training data.

Plain boto3, no other dependency: this module is deployed as it is (the whole ``runtime``
folder is the Lambda asset), so it must never import aws_cdk, pydantic or the library.

Manifest lines (input): one JSON object per line, ``source`` holding the prompt, plus
optional ``id``, ``context``, ``system``, ``response`` (rating), ``response_a`` and
``response_b`` (preference), ``criteria`` (rating, a list of strings).

Worker answers (from the shipped templates): SFT ``{"response": str}``; preference
``{"preference": "A" | "B" | "tie", "rationale": str}``; rating ``{"score": "1".."5",
"comment": str}``. The converter also accepts the crowd-classifier shape
(``{"preference": {"label": "A"}}``) and the radio-group shape (``{"preference": {"A":
{"on": true}}}``).

The converter streams: it reads the output manifest in 1 MiB chunks, line by line (time
linear in the size; a line longer than ``MAX_LINE_BYTES``, default 64 MiB, is counted and
reported, never buffered), and writes the dataset with an S3 multipart upload as rows come
(8 MiB parts), so memory does not grow with the manifest. Every bad line, malformed
annotation, invalid UTF-8 sequence, lone surrogate escape or too deeply nested JSON value
becomes a reported problem, never an exception. Inputs are checked up front by
:func:`validate_inputs` (also a Lambda handler, :func:`input_check_handler`, for a
workflow's first state). Errors a workflow can Catch: ``LabelingInputError`` (unusable
input) and ``NoExamplesError`` (0 examples; the report is written first).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

if TYPE_CHECKING or __package__:  # imported from the installed package (tests, tools)
    from cdk_llm_training.assets.runtime.dataset_validation import (
        DEFAULT_CHUNK_BYTES,
        Readable,
        cap_reason,
        iter_chunks,
        iter_lines,
        lone_surrogate_path,
        preview,
    )
    from cdk_llm_training.assets.runtime.s3_writer import DEFAULT_PART_BYTES, S3StreamWriter
else:  # in Lambda, this folder is the code root
    from dataset_validation import (
        DEFAULT_CHUNK_BYTES,
        Readable,
        cap_reason,
        iter_chunks,
        iter_lines,
        lone_surrogate_path,
        preview,
    )
    from s3_writer import DEFAULT_PART_BYTES, S3StreamWriter

TASK_TYPES = ("sft", "preference", "rating")
SFT_FORMATS = ("prompt_completion", "conversation")
PREFERENCE_CHOICES = ("A", "B", "tie")
_CHOICE_ALIASES = {
    "a": "A",
    "response a": "A",
    "response 1": "A",
    "b": "B",
    "response b": "B",
    "response 2": "B",
    "tie": "tie",
    "equal": "tie",
    "both equal": "tie",
}
_TASK_INPUT_FIELDS = ("id", "context", "system", "response", "response_a", "response_b")

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longest output-manifest line the converter reads (``MAX_LINE_BYTES`` overrides it)."""
MAX_PROBLEMS_IN_REPORT = 1000
"""Problems listed in ``report.json``; ``problems.jsonl`` holds them all."""
PROBLEMS_IN_OUTPUT = 5
"""Problems carried in the Lambda result (the Step Functions state)."""
MAX_PROBLEM_CHARS = 300
"""A problem's text is cut to this many characters."""
MAX_ID_CHARS = 120
"""Item ids, worker ids and other manifest text in a problem are cut to this."""
MAX_CHOICE_CHARS = 100
"""A preference or score value longer than this is not a valid answer."""
OUTPUT_PART_BYTES = DEFAULT_PART_BYTES
"""Part size of the dataset's multipart upload: memory held for output is at most this."""


def _s3() -> S3Client:
    return boto3.client("s3")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an S3 object URI: {preview(uri)} (expected s3://bucket/key)")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


# -- Ground Truth pre-annotation Lambda ---------------------------------------------------


def pre_annotation_handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Turn one manifest line into the ``task.input`` the templates render.

    Lines without a non-empty ``source`` (the prompt) are not sent to workers
    (``isHumanAnnotationRequired: "false"``): the converter reports them as unlabeled.
    """
    data = event.get("dataObject") or {}
    prompt = data.get("source")
    if not isinstance(prompt, str) or not prompt.strip():
        return {"taskInput": {}, "isHumanAnnotationRequired": "false"}
    task_input: dict[str, Any] = {"prompt": prompt}
    for name in _TASK_INPUT_FIELDS:
        if data.get(name) not in (None, ""):
            task_input[name] = data[name]
    criteria = data.get("criteria")
    if isinstance(criteria, list):
        task_input["criteria"] = [str(c) for c in criteria]
    elif isinstance(criteria, str) and criteria.strip():
        task_input["criteria"] = [criteria]
    return {"taskInput": task_input, "isHumanAnnotationRequired": "true"}


# -- Ground Truth annotation-consolidation Lambda -----------------------------------------


def consolidation_handler(
    event: dict[str, Any], _context: Any = None, *, s3: S3Client | None = None
) -> list[dict[str, Any]]:
    """Keep every worker's answer (no voting here: the converter votes, and reports).

    Reads the payload file Ground Truth wrote to the job's output location and returns, per
    data object, ``{label_attribute: {"annotationsFromAllWorkers": [...]}}``.
    """
    client = s3 or _s3()
    label_attribute = event["labelAttributeName"]
    bucket, key = split_s3_uri(event["payload"]["s3Uri"])
    payload = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    results = []
    for item in payload:
        results.append(
            {
                "datasetObjectId": item["datasetObjectId"],
                "consolidatedAnnotation": {
                    "content": {
                        label_attribute: {"annotationsFromAllWorkers": item.get("annotations", [])}
                    }
                },
            }
        )
    return results


# -- converter ----------------------------------------------------------------------------


class LabelingInputError(ValueError):
    """The converter (or labeling) input is unusable; the message lists every problem. Step
    Functions sees the error name ``LabelingInputError``."""


class NoExamplesError(RuntimeError):
    """The output manifest gave no training example (empty manifest, or every item
    unusable). The report is written before this is raised; Step Functions sees the error
    name ``NoExamplesError`` and can Catch it to notify."""


@dataclass
class Problem:
    """One thing wrong with the output manifest: reported, never dropped silently."""

    line: int
    item: str | None
    problem: str
    worker: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "item": self.item, "problem": self.problem}
        if self.worker is not None:
            out["worker"] = self.worker
        return out


class ProblemLog:
    """Every problem found: counted, the first ``keep`` kept for the report, each one also
    passed to ``sink`` (the handler streams them all to ``problems.jsonl``). Text from the
    manifest in a problem is cut to :data:`MAX_PROBLEM_CHARS`."""

    def __init__(
        self, *, keep: int = MAX_PROBLEMS_IN_REPORT, sink: Callable[[Problem], None] | None = None
    ) -> None:
        self.count = 0
        self.kept: list[Problem] = []
        self._keep = keep
        self._sink = sink

    def add(self, line: int, item: str | None, problem: str, worker: str | None = None) -> None:
        entry = Problem(
            line,
            None if item is None else _short(item),
            cap_reason(problem, MAX_PROBLEM_CHARS),
            None if worker is None else _short(worker),
        )
        self.count += 1
        if len(self.kept) < self._keep:
            self.kept.append(entry)
        if self._sink is not None:
            self._sink(entry)


@dataclass
class Item:
    """One data object of the output manifest with its workers' parsed answers."""

    line: int
    id: str
    record: dict[str, Any]
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    problems: int = 0
    """Problems already reported for this item."""

    @property
    def prompt(self) -> str:
        prompt = self.record.get("source")
        context = self.record.get("context")
        prompt = prompt if isinstance(prompt, str) else ""
        return f"{context}\n\n{prompt}" if isinstance(context, str) and context else prompt


@dataclass
class Conversion:
    """What the converter produced: training rows (or score rows) and the report."""

    task_type: str
    rows: list[dict[str, Any]]
    report: dict[str, Any]


@dataclass(frozen=True)
class ManifestLine:
    """One line of the output manifest: ``data`` is None when the line was longer than the
    limit (it was counted, never buffered)."""

    number: int
    data: str | bytes | bytearray | None
    length: int
    owned: bool = False
    """``data`` is the reader's handed-over buffer: the converter frees it once decoded."""


def manifest_lines(
    stream: Readable,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[ManifestLine]:
    """The lines of a binary stream (an S3 body), read in ``chunk_bytes`` chunks: time is
    linear in the size, memory is bounded by the chunk size plus ``max_line_bytes``."""
    for line in iter_lines(iter_chunks(stream, chunk_bytes), max_line_bytes=max_line_bytes):
        yield ManifestLine(line.number, line.data, line.length, owned=True)


def _numbered(lines: Iterable[str | bytes | ManifestLine]) -> Iterator[ManifestLine]:
    for number, raw in enumerate(lines, start=1):
        yield raw if isinstance(raw, ManifestLine) else ManifestLine(number, raw, len(raw))


def read_items(
    lines: Iterable[str | bytes | ManifestLine],
    label_attribute: str,
    problems: ProblemLog | list[Problem],
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Item]:
    """Parse output-manifest lines into items; every defect becomes a problem, never an
    exception: an oversized line, invalid UTF-8, malformed or too deeply nested JSON, a lone
    surrogate escape, a malformed annotation. ``problems`` may be a plain list (every
    problem is appended)."""
    if isinstance(problems, list):
        problems = ProblemLog(keep=0, sink=problems.append)
    for line in _numbered(lines):
        number = line.number
        if line.data is None or line.length > max_line_bytes:
            problems.add(
                number,
                None,
                f"line is {line.length} bytes, more than the limit of {max_line_bytes} bytes",
            )
            continue
        record = _parse_line(line, problems)
        if record is None:
            continue
        raw_id = record.get("id")
        item_id = raw_id if isinstance(raw_id, str) and raw_id else f"line-{number}"
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            item_id = str(raw_id)
        item = Item(number, item_id, record)
        _read_answers(item, label_attribute, problems)
        yield item


def _parse_line(line: ManifestLine, problems: ProblemLog) -> dict[str, Any] | None:
    """The JSON object on ``line``; None (with the problem reported) when there is none.
    Blank lines are skipped silently."""
    raw = line.data
    if isinstance(raw, (bytes, bytearray)):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.add(line.number, None, f"not valid UTF-8 (byte {error.start + 1} of the line)")
            return None
        finally:
            if line.owned and isinstance(raw, bytearray):
                raw.clear()  # a long line's bytes are not needed once decoded
    else:
        text = raw or ""
    if not text or text.isspace():
        return None
    record, reason = _loads(text)
    if reason is not None:
        problems.add(line.number, None, reason)
        return None
    if not isinstance(record, dict):
        problems.add(line.number, None, "line is not a JSON object")
        return None
    return record


def _loads(text: str) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, reason)`` for malformed JSON, nesting too deep for the
    decoder, or a string with a lone UTF-16 surrogate (which cannot be written as UTF-8)."""
    try:
        value = json.loads(text)
    except RecursionError:
        return None, "malformed JSON line: nested too deeply for the JSON decoder"
    except json.JSONDecodeError as error:
        return None, f"malformed JSON line: {error.msg}"
    except ValueError as error:  # an integer of over 4,300 digits
        return None, f"malformed JSON line: {cap_reason(str(error), 120)}"
    if "\\u" in text:
        where = lone_surrogate_path(value)
        if where is not None:
            return None, f"{where} holds a lone UTF-16 surrogate escape (not valid Unicode)"
    return value, None


def _read_answers(item: Item, label_attribute: str, problems: ProblemLog) -> None:
    def report(problem: str, worker: str | None = None) -> None:
        item.problems += 1
        problems.add(item.line, item.id, problem, worker)

    label = item.record.get(label_attribute)
    if not isinstance(label, dict):
        metadata = item.record.get(f"{label_attribute}-metadata")
        reason = metadata.get("failure-reason") if isinstance(metadata, dict) else None
        detail = f": {_short(reason)}" if isinstance(reason, str) and reason else ""
        report(f"no annotations for '{_short(label_attribute)}'{detail}")
        return
    # The parsed answers replace the raw annotations (which may be large JSON strings).
    del item.record[label_attribute]
    annotations = label.get("annotationsFromAllWorkers")
    if not isinstance(annotations, list):
        report("annotationsFromAllWorkers is missing")
        return
    for position, annotation in enumerate(annotations, start=1):
        if not isinstance(annotation, dict):
            report(f"annotation {position} is not an object", f"worker-{position}")
            continue
        worker_id = annotation.get("workerId")
        worker = worker_id if isinstance(worker_id, str) and worker_id else f"worker-{position}"
        data = annotation.get("annotationData")
        content = data.get("content") if isinstance(data, dict) else None
        if isinstance(content, str):
            content, reason = _loads(content)
            if reason is not None:
                report("worker answer is not valid JSON", worker)
                continue
        if not isinstance(content, dict):
            report("worker answer is missing", worker)
            continue
        item.answers.append((worker, content))


def _report_unusable(item: Item, problems: ProblemLog, what: str) -> None:
    """Report an item that yields nothing, once: the reason may already be on record."""
    if item.answers:
        problems.add(item.line, item.id, f"no usable {what}")
    elif not item.problems:
        problems.add(item.line, item.id, "no worker answers")


def _short(text: str) -> str:
    return text if len(text) <= MAX_ID_CHARS else f"{text[:MAX_ID_CHARS]}..."


def _text(value: Any) -> str:
    if isinstance(value, dict):  # crowd-text-area may nest {"value": ...}
        value = value.get("value", "")
    return value.strip() if isinstance(value, str) else ""


def parse_preference(answer: dict[str, Any]) -> str | None:
    """The worker's choice as ``A``, ``B`` or ``tie``; None when absent or unknown."""
    value = answer.get("preference")
    if isinstance(value, dict):
        if "label" in value:
            value = value["label"]
        else:
            chosen = [k for k, v in value.items() if isinstance(v, dict) and v.get("on") is True]
            value = chosen[0] if len(chosen) == 1 else None
    if not isinstance(value, str) or len(value) > MAX_CHOICE_CHARS:
        return None
    return _CHOICE_ALIASES.get(value.strip().lower())


def parse_score(answer: dict[str, Any]) -> int | None:
    """The worker's 1-5 score; None when absent, of another type or out of range."""
    value = answer.get("score")
    if isinstance(value, dict):
        value = value.get("value", value.get("label"))
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and len(value) <= MAX_CHOICE_CHARS:
        try:
            value = int(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int):
        return None
    return value if 1 <= value <= 5 else None


def _prompt_problem(item: Item) -> str | None:
    source, context = item.record.get("source"), item.record.get("context")
    if not isinstance(source, str) or not source.strip():
        return "no prompt ('source' must be a non-empty string)"
    if context is not None and not isinstance(context, str):
        return "'context' must be a string"
    return None


def sft_rows(
    items: Iterable[Item], problems: ProblemLog, sft_format: str, report: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """One training example per valid worker demonstration; fills ``report`` at the end."""
    seen = with_demo = examples = 0
    for item in items:
        seen += 1
        prompt_problem = _prompt_problem(item) if item.answers else None
        system = item.record.get("system")
        if prompt_problem is None and system is not None and not isinstance(system, str):
            prompt_problem = "'system' must be a string"
        if prompt_problem is not None:
            problems.add(item.line, item.id, prompt_problem)
            continue
        kept = 0
        for worker, answer in item.answers:
            completion = _text(answer.get("response"))
            if not completion:
                problems.add(item.line, item.id, "empty response", worker)
                continue
            kept += 1
            if sft_format == "conversation":
                row: dict[str, Any] = {
                    "schemaVersion": "bedrock-conversation-2024",
                    "messages": [
                        {"role": "user", "content": [{"text": item.prompt}]},
                        {"role": "assistant", "content": [{"text": completion}]},
                    ],
                }
                if system:
                    row["system"] = [{"text": system}]
                yield row
            else:
                yield {"prompt": item.prompt, "completion": completion}
        examples += kept
        if kept:
            with_demo += 1
        else:
            _report_unusable(item, problems, "demonstration")
    report.update({"items": seen, "items_with_examples": with_demo, "examples": examples})


def preference_rows(
    items: Iterable[Item], problems: ProblemLog, report: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Majority vote per item; ties (in votes, or a 'tie' verdict) are dropped and counted.
    Agreement statistics are running sums: memory does not grow with the manifest."""
    seen = tied = pairs_out = 0
    share_sum = 0.0
    multi_vote_items = agreeing_pairs = total_pairs = unanimous = 0
    for item in items:
        seen += 1
        votes: list[str] = []
        for worker, answer in item.answers:
            choice = parse_preference(answer)
            if choice is None:
                problems.add(item.line, item.id, "no valid preference", worker)
                continue
            votes.append(choice)
        if not votes:
            _report_unusable(item, problems, "vote")
            continue
        a, b = item.record.get("response_a"), item.record.get("response_b")
        if not isinstance(a, str) or not isinstance(b, str):
            problems.add(item.line, item.id, "response_a or response_b missing")
            continue
        prompt_problem = _prompt_problem(item)
        if prompt_problem is not None:
            problems.add(item.line, item.id, prompt_problem)
            continue
        counts = Counter(votes)
        agreeing_pairs += sum(n * (n - 1) // 2 for n in counts.values())
        total_pairs += len(votes) * (len(votes) - 1) // 2
        top, top_votes = counts.most_common(1)[0]
        share = top_votes / len(votes)
        if len(votes) > 1:
            multi_vote_items += 1
            share_sum += share
            unanimous += top_votes == len(votes)
        if share <= 0.5 or top == "tie":
            tied += 1
            continue
        chosen, rejected = (a, b) if top == "A" else (b, a)
        pairs_out += 1
        yield {"prompt": item.prompt, "chosen": chosen, "rejected": rejected}
    report.update(
        {
            "items": seen,
            "pairs": pairs_out,
            "dropped_ties": tied,
            "agreement": {
                "items_with_2_or_more_votes": multi_vote_items,
                "mean_majority_share": (
                    round(share_sum / multi_vote_items, 4) if multi_vote_items else None
                ),
                "pairwise_agreement": (
                    round(agreeing_pairs / total_pairs, 4) if total_pairs else None
                ),
                "unanimous_items": unanimous,
            },
        }
    )


def rating_rows(
    items: Iterable[Item], problems: ProblemLog, report: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """A per-item score table: count, mean, median, min, max, the scores themselves."""
    distribution: Counter[int] = Counter()
    seen = scored = 0
    for item in items:
        seen += 1
        scores: list[int] = []
        for worker, answer in item.answers:
            score = parse_score(answer)
            if score is None:
                problems.add(item.line, item.id, "no valid 1-5 score", worker)
                continue
            scores.append(score)
        if not scores:
            _report_unusable(item, problems, "score")
            continue
        distribution.update(scores)
        scored += 1
        yield {
            "id": item.id,
            "ratings": len(scores),
            "mean": round(statistics.fmean(scores), 3),
            "median": statistics.median(scores),
            "min": min(scores),
            "max": max(scores),
            "scores": " ".join(map(str, scores)),
        }
    total = sum(distribution.values())
    mean = sum(s * n for s, n in distribution.items()) / total if total else None
    report.update(
        {
            "items": seen,
            "scored_items": scored,
            "mean_score": round(mean, 3) if mean is not None else None,
            "score_distribution": {str(s): distribution.get(s, 0) for s in range(1, 6)},
        }
    )


EXAMPLE_COUNT_FIELD = {"sft": "examples", "preference": "pairs", "rating": "scored_items"}
"""The report field that counts the converter's output rows, per task type."""


def convert_rows(
    lines: Iterable[str | bytes | ManifestLine],
    *,
    task_type: str,
    label_attribute: str,
    problems: ProblemLog,
    report: dict[str, Any],
    sft_format: str = "prompt_completion",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[dict[str, Any]]:
    """The streaming converter: yields output rows one at a time, reports every problem to
    ``problems`` and fills ``report`` once the rows are exhausted. Raises
    :class:`LabelingInputError` for an unknown ``task_type`` or ``sft_format``."""
    _raise_for(_converter_input_problems(task_type, sft_format, label_attribute))
    items = read_items(lines, label_attribute, problems, max_line_bytes=max_line_bytes)
    if task_type == "sft":
        return sft_rows(items, problems, sft_format, report)
    if task_type == "preference":
        return preference_rows(items, problems, report)
    return rating_rows(items, problems, report)


def convert(
    lines: Iterable[str | bytes | ManifestLine],
    *,
    task_type: str,
    label_attribute: str,
    sft_format: str = "prompt_completion",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Conversion:
    """Convert output-manifest lines in memory (rows as a list; for tests and small
    manifests). The report lists the first :data:`MAX_PROBLEMS_IN_REPORT` problems."""
    problems = ProblemLog()
    report: dict[str, Any] = {}
    rows = list(
        convert_rows(
            lines,
            task_type=task_type,
            label_attribute=label_attribute,
            problems=problems,
            report=report,
            sft_format=sft_format,
            max_line_bytes=max_line_bytes,
        )
    )
    report["problem_count"] = problems.count
    report["problems"] = [p.as_dict() for p in problems.kept]
    return Conversion(task_type, rows, report)


def rows_to_jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(jsonl_line(r) for r in rows)


def jsonl_line(row: dict[str, Any]) -> bytes:
    """One JSONL line (UTF-8, not ASCII-escaped)."""
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


CSV_COLUMNS = ("id", "ratings", "mean", "median", "min", "max", "scores")


def csv_line(row: dict[str, Any] | None) -> bytes:
    """One CSV line of the score table; ``None`` gives the header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    if row is None:
        writer.writeheader()
    else:
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def rows_to_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    return csv_line(None) + b"".join(csv_line(r) for r in rows)


# -- input checks -------------------------------------------------------------------------

_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
"""SageMaker ``LabelingJobName`` (1-63 characters); the converter also uses it as a folder."""
_LABEL_ATTRIBUTE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$")
"""SageMaker ``LabelAttributeName``."""
_INTEGER_BOUNDS: dict[str, tuple[int, int | None]] = {
    "workers_per_object": (1, 9),
    "task_time_limit_seconds": (30, None),
    "task_availability_lifetime_seconds": (60, None),
    "max_concurrent_tasks": (1, 5000),
}
"""Bounds of the CreateLabelingJob members the labeling overrides feed
(``NumberOfHumanWorkersPerDataObject``, ``TaskTimeLimitInSeconds``,
``TaskAvailabilityLifetimeInSeconds``, ``MaxConcurrentTaskCount``), from the SageMaker API
model. Tighter, cost-driven bounds belong to the workflow's configuration."""
_STRING_LENGTHS = {"title": 128, "description": 255}
"""``TaskTitle`` and ``TaskDescription`` maximum lengths (SageMaker API model)."""


def validate_inputs(event: Mapping[str, Any]) -> list[str]:
    """Every problem with a labeling request, before any paid job starts (empty when fine).

    Pure (no AWS call): the labeling workflow's first state (through
    :func:`input_check_handler`) or any caller can use it. ``event`` is the workflow input
    (or the converter's event): ``task_type`` (required: sft, preference or rating),
    ``job_name`` (required: the labeling job name, letters, digits and hyphens, at most 63),
    optional ``sft_format`` (prompt_completion or conversation), ``manifest_key`` (a string),
    ``label_attribute_name``, ``output_manifest_uri`` (an ``s3://`` URI), and the overrides
    ``workers_per_object`` (1-9), ``task_time_limit_seconds`` (>= 30),
    ``task_availability_lifetime_seconds`` (>= 60), ``max_concurrent_tasks`` (1-5000),
    ``title`` (1-128 characters), ``description`` (1-255 characters). Each message names the
    field, the value (shortened) and what is allowed."""
    problems: list[str] = []
    if not isinstance(event, Mapping):
        return [f"the input must be a JSON object, got {preview(event)}"]
    task_type = event.get("task_type")
    if task_type not in TASK_TYPES:
        problems.append(f"task_type {preview(task_type)} is not one of {', '.join(TASK_TYPES)}")
    job_name = event.get("job_name")
    if not isinstance(job_name, str) or not _NAME.match(job_name):
        problems.append(
            f"job_name {preview(job_name)} must be 1-63 letters, digits and hyphens, starting "
            "and ending with a letter or digit"
        )
    sft_format = event.get("sft_format")
    if sft_format is not None and sft_format not in SFT_FORMATS:
        problems.append(f"sft_format {preview(sft_format)} is not one of {', '.join(SFT_FORMATS)}")
    label = event.get("label_attribute_name")
    if label is not None and (not isinstance(label, str) or not _LABEL_ATTRIBUTE.match(label)):
        problems.append(
            f"label_attribute_name {preview(label)} must be 1-127 letters, digits and hyphens"
        )
    for name in ("manifest_key", "output_manifest_uri"):
        value = event.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            problems.append(f"{name} {preview(value)} must be a non-empty string")
    uri = event.get("output_manifest_uri")
    if isinstance(uri, str) and uri:
        try:
            split_s3_uri(uri)
        except ValueError as error:
            problems.append(f"output_manifest_uri: {cap_reason(str(error), 200)}")
    for name, (low, high) in _INTEGER_BOUNDS.items():
        value = event.get(name)
        if value is None:
            continue
        in_range = isinstance(value, int) and not isinstance(value, bool) and low <= value
        if not in_range or (high is not None and value > high):
            allowed = f"an integer from {low} to {high}" if high else f"an integer >= {low}"
            problems.append(f"{name} {preview(value)} must be {allowed}")
    for name, longest in _STRING_LENGTHS.items():
        value = event.get(name)
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= longest):
            problems.append(f"{name} {preview(value)} must be a string of 1-{longest} characters")
    return problems


def input_check_handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Lambda handler over :func:`validate_inputs`: ``{"valid": bool, "problems": [...]}``
    (at most :data:`PROBLEMS_IN_OUTPUT` problems, each shortened; ``problemCount`` counts
    them all). Never raises on bad input: a Choice state reads ``$.valid``."""
    problems = validate_inputs(event)
    return {
        "valid": not problems,
        "problemCount": len(problems),
        "problems": [cap_reason(p, MAX_PROBLEM_CHARS) for p in problems[:PROBLEMS_IN_OUTPUT]],
    }


def _converter_input_problems(task_type: Any, sft_format: Any, label_attribute: Any) -> list[str]:
    problems = []
    if task_type not in TASK_TYPES:
        problems.append(f"task_type {preview(task_type)} is not one of {', '.join(TASK_TYPES)}")
    if sft_format not in SFT_FORMATS:
        problems.append(f"sft_format {preview(sft_format)} is not one of {', '.join(SFT_FORMATS)}")
    if not isinstance(label_attribute, str) or not label_attribute:
        problems.append(f"label_attribute_name {preview(label_attribute)} must be a string")
    return problems


def _raise_for(problems: list[str]) -> None:
    if problems:
        raise LabelingInputError("; ".join(problems))


# -- the converter Lambda -----------------------------------------------------------------


def convert_handler(
    event: dict[str, Any], _context: Any = None, *, s3: S3Client | None = None
) -> dict[str, Any]:
    """Step Functions task: stream the output manifest, write the dataset and the report.

    Event: ``task_type``, ``job_name``, ``output_manifest_uri``, ``label_attribute_name``,
    optional ``sft_format`` (default ``prompt_completion``). Environment:
    ``DATASET_BUCKET``, ``DATASET_PREFIX`` (default ``labeling/datasets/``), optional
    ``MAX_LINE_BYTES`` (default :data:`DEFAULT_MAX_LINE_BYTES`).

    Writes, under ``<prefix><job>/``: ``train.jsonl`` (sft, preference) or ``scores.csv``
    (rating), streamed with a multipart upload; ``problems.jsonl`` (every problem, one JSON
    object a line); ``report.json`` (counts and the first :data:`MAX_PROBLEMS_IN_REPORT`
    problems).

    Returns ``{"dataset_uri", "report_uri", "problems_uri", "summary"}``; ``summary`` is the
    report without its problem list plus ``first_problems`` (at most
    :data:`PROBLEMS_IN_OUTPUT`, each shortened), so the result stays a few KiB whatever the
    manifest holds.

    Raises :class:`LabelingInputError` for an unusable event (before reading anything) and
    :class:`NoExamplesError` when the manifest gives no example (after writing the report
    and the problems; no dataset object is left behind).
    """
    problems_found = validate_inputs(event)
    for name in ("output_manifest_uri", "label_attribute_name"):
        if not event.get(name):
            problems_found.append(f"{name} is required")
    _raise_for(problems_found)
    client = s3 or _s3()
    bucket = os.environ["DATASET_BUCKET"]
    prefix = os.environ.get("DATASET_PREFIX", "labeling/datasets/")
    max_line_bytes = int(os.environ.get("MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES))
    job = str(event["job_name"])
    task_type = str(event["task_type"])
    manifest_uri = str(event["output_manifest_uri"])
    source_bucket, source_key = split_s3_uri(manifest_uri)
    base = f"{prefix}{job}/"
    data_key = f"{base}scores.csv" if task_type == "rating" else f"{base}train.jsonl"
    report: dict[str, Any] = {}
    with S3StreamWriter(
        client, bucket, f"{base}problems.jsonl", content_type="application/x-ndjson"
    ) as problems_out:
        problems = ProblemLog(sink=lambda p: problems_out.write(jsonl_line(p.as_dict())))
        body = client.get_object(Bucket=source_bucket, Key=source_key)["Body"]
        try:
            rows = convert_rows(
                manifest_lines(body, max_line_bytes=max_line_bytes),
                task_type=task_type,
                label_attribute=str(event["label_attribute_name"]),
                problems=problems,
                report=report,
                sft_format=str(event.get("sft_format") or "prompt_completion"),
                max_line_bytes=max_line_bytes,
            )
            examples = _write_rows(client, bucket, data_key, task_type, rows)
        finally:
            body.close()
    report = {
        "job_name": job,
        "task_type": task_type,
        "output_manifest_uri": manifest_uri,
        **report,
        "problem_count": problems.count,
        "problems_uri": problems_out.uri,
        "problems": [p.as_dict() for p in problems.kept],
    }
    report_key = f"{base}report.json"
    client.put_object(
        Bucket=bucket,
        Key=report_key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    report_uri = f"s3://{bucket}/{report_key}"
    if examples == 0:
        raise NoExamplesError(
            f"the output manifest {preview(manifest_uri, 200)} gave 0 {task_type} examples "
            f"({report.get('items', 0)} items, {problems.count} problems); see {report_uri}"
        )
    summary = {k: v for k, v in report.items() if k != "problems"}
    summary["first_problems"] = report["problems"][:PROBLEMS_IN_OUTPUT]
    return {
        "dataset_uri": f"s3://{bucket}/{data_key}",
        "report_uri": report_uri,
        "problems_uri": problems_out.uri,
        "summary": summary,
    }


def _write_rows(
    client: Any, bucket: str, key: str, task_type: str, rows: Iterable[dict[str, Any]]
) -> int:
    """Stream ``rows`` to ``s3://bucket/key``; returns how many. With no row the upload is
    aborted: no empty dataset is left for a training job to pick up."""
    count = 0
    content_type = "text/csv" if task_type == "rating" else "application/x-ndjson"
    writer = S3StreamWriter(
        client, bucket, key, content_type=content_type, part_bytes=OUTPUT_PART_BYTES
    )
    try:
        if task_type == "rating":
            writer.write(csv_line(None))
            for row in rows:
                writer.write(csv_line(row))
                count += 1
        else:
            for row in rows:
                writer.write(json.dumps(row, ensure_ascii=False).encode("utf-8"))
                writer.write(b"\n")
                count += 1
    except BaseException:
        writer.abort()
        raise
    if count:
        writer.close()
    else:
        writer.abort()
    return count
