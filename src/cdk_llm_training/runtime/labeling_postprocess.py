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
"""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

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


def _s3() -> S3Client:
    return boto3.client("s3")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an S3 object URI: {uri!r} (expected s3://bucket/key)")
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


@dataclass
class Item:
    """One data object of the output manifest with its workers' parsed answers."""

    line: int
    id: str
    record: dict[str, Any]
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def prompt(self) -> str:
        prompt = str(self.record.get("source", ""))
        context = self.record.get("context")
        return f"{context}\n\n{prompt}" if context else prompt


@dataclass
class Conversion:
    """What the converter produced: training rows (or score rows) and the report."""

    task_type: str
    rows: list[dict[str, Any]]
    report: dict[str, Any]


def read_items(
    lines: Iterable[str | bytes], label_attribute: str, problems: list[Problem]
) -> Iterator[Item]:
    """Parse output-manifest lines into items; every defect becomes a :class:`Problem`."""
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(Problem(number, None, f"malformed JSON line: {error.msg}"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(number, None, "line is not a JSON object"))
            continue
        item_id = str(record.get("id") or f"line-{number}")
        item = Item(number, item_id, record)
        label = record.get(label_attribute)
        if not isinstance(label, dict):
            metadata = record.get(f"{label_attribute}-metadata")
            reason = metadata.get("failure-reason") if isinstance(metadata, dict) else None
            detail = f": {reason}" if reason else ""
            problems.append(
                Problem(number, item_id, f"no annotations for '{label_attribute}'{detail}")
            )
            yield item
            continue
        annotations = label.get("annotationsFromAllWorkers")
        if not isinstance(annotations, list):
            problems.append(Problem(number, item_id, "annotationsFromAllWorkers is missing"))
            yield item
            continue
        for position, annotation in enumerate(annotations, start=1):
            worker = str((annotation or {}).get("workerId") or f"worker-{position}")
            content = ((annotation or {}).get("annotationData") or {}).get("content")
            if isinstance(content, str):
                try:
                    content = json.loads(content)
                except json.JSONDecodeError:
                    problems.append(
                        Problem(number, item_id, "worker answer is not valid JSON", worker)
                    )
                    continue
            if not isinstance(content, dict):
                problems.append(Problem(number, item_id, "worker answer is missing", worker))
                continue
            item.answers.append((worker, content))
        yield item


def _report_unusable(item: Item, problems: list[Problem], what: str) -> None:
    """Report an item that yields nothing, once: the reason may already be on record."""
    if item.answers:
        problems.append(Problem(item.line, item.id, f"no usable {what}"))
    elif not any(p.line == item.line for p in problems):
        problems.append(Problem(item.line, item.id, "no worker answers"))


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
            chosen = [k for k, v in value.items() if isinstance(v, dict) and v.get("on")]
            value = chosen[0] if len(chosen) == 1 else None
    if not isinstance(value, str):
        return None
    return _CHOICE_ALIASES.get(value.strip().lower())


def parse_score(answer: dict[str, Any]) -> int | None:
    """The worker's 1-5 score; None when absent or out of range."""
    value = answer.get("score")
    if isinstance(value, dict):
        value = value.get("value", value.get("label"))
    try:
        score = int(str(value).strip())
    except ValueError:
        return None
    return score if 1 <= score <= 5 else None


def convert_sft(items: Iterable[Item], problems: list[Problem], sft_format: str) -> Conversion:
    """One training example per valid worker demonstration."""
    rows: list[dict[str, Any]] = []
    seen = with_demo = 0
    for item in items:
        seen += 1
        kept = 0
        for worker, answer in item.answers:
            completion = _text(answer.get("response"))
            if not completion:
                problems.append(Problem(item.line, item.id, "empty response", worker))
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
                if item.record.get("system"):
                    row["system"] = [{"text": str(item.record["system"])}]
                rows.append(row)
            else:
                rows.append({"prompt": item.prompt, "completion": completion})
        if kept:
            with_demo += 1
        else:
            _report_unusable(item, problems, "demonstration")
    report = {"items": seen, "items_with_examples": with_demo, "examples": len(rows)}
    return Conversion("sft", rows, report)


def convert_preference(items: Iterable[Item], problems: list[Problem]) -> Conversion:
    """Majority vote per item; ties (in votes, or a 'tie' verdict) are dropped and counted."""
    rows: list[dict[str, Any]] = []
    seen = tied = 0
    shares: list[float] = []
    agreeing_pairs = total_pairs = unanimous = 0
    for item in items:
        seen += 1
        votes: list[str] = []
        for worker, answer in item.answers:
            choice = parse_preference(answer)
            if choice is None:
                problems.append(Problem(item.line, item.id, "no valid preference", worker))
                continue
            votes.append(choice)
        if not votes:
            _report_unusable(item, problems, "vote")
            continue
        a, b = item.record.get("response_a"), item.record.get("response_b")
        if not isinstance(a, str) or not isinstance(b, str):
            problems.append(Problem(item.line, item.id, "response_a or response_b missing"))
            continue
        counts = Counter(votes)
        same = sum(n * (n - 1) // 2 for n in counts.values())
        pairs = len(votes) * (len(votes) - 1) // 2
        agreeing_pairs += same
        total_pairs += pairs
        top, top_votes = counts.most_common(1)[0]
        share = top_votes / len(votes)
        if len(votes) > 1:
            shares.append(share)
            unanimous += top_votes == len(votes)
        if share <= 0.5 or top == "tie":
            tied += 1
            continue
        chosen, rejected = (a, b) if top == "A" else (b, a)
        rows.append({"prompt": item.prompt, "chosen": chosen, "rejected": rejected})
    report = {
        "items": seen,
        "pairs": len(rows),
        "dropped_ties": tied,
        "agreement": {
            "items_with_2_or_more_votes": len(shares),
            "mean_majority_share": round(statistics.fmean(shares), 4) if shares else None,
            "pairwise_agreement": round(agreeing_pairs / total_pairs, 4) if total_pairs else None,
            "unanimous_items": unanimous,
        },
    }
    return Conversion("preference", rows, report)


def convert_rating(items: Iterable[Item], problems: list[Problem]) -> Conversion:
    """A per-item score table: count, mean, median, min, max, the scores themselves."""
    rows: list[dict[str, Any]] = []
    all_scores: list[int] = []
    seen = 0
    for item in items:
        seen += 1
        scores: list[int] = []
        for worker, answer in item.answers:
            score = parse_score(answer)
            if score is None:
                problems.append(Problem(item.line, item.id, "no valid 1-5 score", worker))
                continue
            scores.append(score)
        if not scores:
            _report_unusable(item, problems, "score")
            continue
        all_scores.extend(scores)
        rows.append(
            {
                "id": item.id,
                "ratings": len(scores),
                "mean": round(statistics.fmean(scores), 3),
                "median": statistics.median(scores),
                "min": min(scores),
                "max": max(scores),
                "scores": " ".join(map(str, scores)),
            }
        )
    distribution = Counter(all_scores)
    report = {
        "items": seen,
        "scored_items": len(rows),
        "mean_score": round(statistics.fmean(all_scores), 3) if all_scores else None,
        "score_distribution": {str(s): distribution.get(s, 0) for s in range(1, 6)},
    }
    return Conversion("rating", rows, report)


def convert(
    lines: Iterable[str | bytes],
    *,
    task_type: str,
    label_attribute: str,
    sft_format: str = "prompt_completion",
) -> Conversion:
    """Convert output-manifest lines. The report lists every problem found."""
    if task_type not in TASK_TYPES:
        raise ValueError(f"task_type {task_type!r} is not one of {', '.join(TASK_TYPES)}")
    if sft_format not in SFT_FORMATS:
        raise ValueError(f"sft_format {sft_format!r} is not one of {', '.join(SFT_FORMATS)}")
    problems: list[Problem] = []
    items = read_items(lines, label_attribute, problems)
    if task_type == "sft":
        result = convert_sft(items, problems, sft_format)
    elif task_type == "preference":
        result = convert_preference(items, problems)
    else:
        result = convert_rating(items, problems)
    result.report["problem_count"] = len(problems)
    result.report["problems"] = [p.as_dict() for p in problems]
    return result


def rows_to_jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def rows_to_csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    columns = ["id", "ratings", "mean", "median", "min", "max", "scores"]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def convert_handler(
    event: dict[str, Any], _context: Any = None, *, s3: S3Client | None = None
) -> dict[str, Any]:
    """Step Functions task: read the output manifest, write the dataset and the report.

    Event: ``task_type``, ``job_name``, ``output_manifest_uri``, ``label_attribute_name``,
    optional ``sft_format``. Environment: ``DATASET_BUCKET``, ``DATASET_PREFIX``. Writes
    ``<prefix><job>/train.jsonl`` (sft, preference) or ``scores.csv`` (rating), plus
    ``report.json``; returns the URIs and the report without its problem list.
    """
    client = s3 or _s3()
    bucket = os.environ["DATASET_BUCKET"]
    prefix = os.environ.get("DATASET_PREFIX", "labeling/datasets/")
    job = str(event["job_name"])
    source_bucket, source_key = split_s3_uri(event["output_manifest_uri"])
    body = client.get_object(Bucket=source_bucket, Key=source_key)["Body"]
    result = convert(
        body.iter_lines(),
        task_type=str(event["task_type"]),
        label_attribute=str(event["label_attribute_name"]),
        sft_format=str(event.get("sft_format") or "prompt_completion"),
    )
    base = f"{prefix}{job}/"
    if result.task_type == "rating":
        data_key, data = f"{base}scores.csv", rows_to_csv(result.rows)
    else:
        data_key, data = f"{base}train.jsonl", rows_to_jsonl(result.rows)
    report = {
        "job_name": job,
        "task_type": result.task_type,
        "output_manifest_uri": event["output_manifest_uri"],
        **result.report,
    }
    client.put_object(Bucket=bucket, Key=data_key, Body=data)
    report_key = f"{base}report.json"
    client.put_object(
        Bucket=bucket,
        Key=report_key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    summary = {k: v for k, v in report.items() if k != "problems"}
    return {
        "dataset_uri": f"s3://{bucket}/{data_key}",
        "report_uri": f"s3://{bucket}/{report_key}",
        "summary": summary,
    }
