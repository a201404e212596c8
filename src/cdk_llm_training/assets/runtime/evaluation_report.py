"""Evaluation reports: Bedrock evaluation output and human ratings -> one JSON report format.

The shared report format (``report_version`` "1"; the task-metrics script
``cdk_llm_training.assets.evaluation.metrics`` writes the same shape with ``kind: task_metrics``)::

    {"report_version": "1", "kind": "bedrock_evaluation" | "human_rating" | "task_metrics",
     "created": ISO-8601, "model": str, "dataset": str,
     "summary": {"examples": int, "metrics": {name: mean}},
     "baseline": {"model": str, "summary": {...}} | null,
     "delta": {name: candidate - baseline} | null,
     "thresholds": {...}, "passed": bool, "failures": [str], "problems": {...}, ...}

Human ratings add ``agreement`` (Krippendorff's alpha, ordinal, over the 1-5 scores) and
``by_criterion`` / ``by_tag`` means. Why ordinal alpha: Ground Truth gives each item to a
different subset of workers and some answers are missing; alpha handles any number of raters
per item and missing values, corrects for chance agreement (raw pairwise agreement does not),
and the ordinal metric respects that 4 is closer to 5 than 1 is, without assuming the steps
of the scale are equal.

Plain boto3, deployed in the runtime Lambda asset.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import boto3

if TYPE_CHECKING or __package__:
    from cdk_llm_training.assets.runtime.labeling_postprocess import (
        Problem,
        parse_score,
        read_items,
        split_s3_uri,
    )
else:  # in Lambda, this folder is the code root
    from labeling_postprocess import Problem, parse_score, read_items, split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPORT_VERSION = "1"
LOWER_IS_BETTER = frozenset({"Builtin.Harmfulness", "Builtin.Stereotyping", "Builtin.Toxicity"})
OUTPUT_SUFFIX = "_output.jsonl"
Metric = Literal["nominal", "ordinal", "interval"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(statistics.fmean(items), 4) if items else None


# -- agreement -------------------------------------------------------------------------------


def krippendorff_alpha(
    units: Iterable[Sequence[float]], *, metric: Metric = "ordinal"
) -> float | None:
    """Krippendorff's alpha over ``units`` (each the values raters gave one item; missing
    ratings simply left out). Units with fewer than two values are not pairable and are
    ignored. Returns None when nothing is pairable or every value is the same (no variation:
    alpha is undefined)."""
    coincidences: dict[tuple[float, float], float] = defaultdict(float)
    for unit in units:
        values = list(unit)
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    coincidences[(c, k)] += 1 / (m - 1)
    if not coincidences:
        return None
    categories = sorted({c for c, _ in coincidences})
    n_c = {c: sum(v for (a, _), v in coincidences.items() if a == c) for c in categories}
    n = sum(n_c.values())
    if len(categories) < 2:
        return None

    def delta(c: float, k: float) -> float:
        if metric == "nominal":
            return 0.0 if c == k else 1.0
        if metric == "interval":
            return (c - k) ** 2
        low, high = (c, k) if c <= k else (k, c)
        between = sum(n_c[g] for g in categories if low <= g <= high)
        return (between - (n_c[c] + n_c[k]) / 2) ** 2

    observed = sum(v * delta(c, k) for (c, k), v in coincidences.items())
    expected = sum(n_c[c] * n_c[k] * delta(c, k) for c in categories for k in categories)
    if expected == 0:
        return None
    return round(1 - (n - 1) * observed / expected, 4)


def pairwise_agreement(units: Iterable[Sequence[float]]) -> float | None:
    """Share of rater pairs (within an item) that gave the same score; not chance-corrected,
    reported next to alpha because it is easy to read."""
    agree = total = 0
    for unit in units:
        values = list(unit)
        for i in range(len(values)):
            for j in range(i + 1, len(values)):
                total += 1
                agree += values[i] == values[j]
    return round(agree / total, 4) if total else None


# -- thresholds ------------------------------------------------------------------------------


def check_thresholds(
    metrics: Mapping[str, float | None],
    *,
    min_scores: Mapping[str, float],
    delta: Mapping[str, float | None] | None = None,
    min_improvement: Mapping[str, float] | None = None,
) -> list[str]:
    """Failure messages. For lower-is-better metrics, ``min_scores`` holds maxima and
    improvements count downwards."""
    failures = []
    for name, limit in sorted(min_scores.items()):
        value = metrics.get(name)
        if name in LOWER_IS_BETTER:
            if value is None or value > limit:
                failures.append(f"{name} = {value} is above the maximum {limit}")
        elif value is None or value < limit:
            failures.append(f"{name} = {value} is below the minimum {limit}")
    for name, limit in sorted((min_improvement or {}).items()):
        change = (delta or {}).get(name)
        gain = None if change is None else (-change if name in LOWER_IS_BETTER else change)
        if gain is None or gain < limit:
            failures.append(
                f"{name} improved by {gain} over the base model, less than the minimum {limit}"
            )
    return failures


# -- Bedrock evaluation output --------------------------------------------------------------


def parse_bedrock_output_lines(lines: Iterable[bytes | str]) -> tuple[dict[str, list[float]], int]:
    """Scores per metric from Bedrock evaluation output lines (``automatedEvaluationResult``
    ``.scores[]`` with ``metricName`` and ``result``), and the number of records."""
    scores: dict[str, list[float]] = defaultdict(list)
    records = 0
    for raw in lines:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        record = json.loads(text)
        records += 1
        result = record.get("automatedEvaluationResult") or {}
        for entry in result.get("scores") or []:
            value = entry.get("result")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                scores[str(entry.get("metricName"))].append(float(value))
    return scores, records


def read_bedrock_scores(
    s3: S3Client, output_s3_uri: str, job_name: str
) -> tuple[dict[str, list[float]], int, list[str]]:
    """Every ``*_output.jsonl`` Bedrock wrote for ``job_name`` under ``output_s3_uri``."""
    bucket, prefix = split_s3_uri(output_s3_uri.rstrip("/") + "/" + job_name + "/")
    scores: dict[str, list[float]] = defaultdict(list)
    records = 0
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith(OUTPUT_SUFFIX):
                continue
            files.append(f"s3://{bucket}/{obj['Key']}")
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
            file_scores, file_records = parse_bedrock_output_lines(body.iter_lines())
            records += file_records
            for name, values in file_scores.items():
                scores[name].extend(values)
    return scores, records, files


def _collect(
    s3: S3Client, jobs: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, float | None], int, list[str]]:
    merged: dict[str, list[float]] = defaultdict(list)
    records = 0
    files: list[str] = []
    for job in jobs:
        scores, count, job_files = read_bedrock_scores(
            s3, str(job["outputS3Uri"]), str(job["jobName"])
        )
        records = max(records, count)
        files.extend(job_files)
        for name, values in scores.items():
            merged[name].extend(values)
    return {name: _mean(values) for name, values in sorted(merged.items())}, records, files


def build_bedrock_report(
    s3: S3Client,
    *,
    jobs: Sequence[Mapping[str, Any]],
    dataset: str,
    thresholds: Mapping[str, Mapping[str, float]],
) -> dict[str, Any]:
    """The report of one evaluation run: jobs tagged ``role`` candidate / baseline."""
    candidate_jobs = [j for j in jobs if j.get("role") == "candidate"]
    baseline_jobs = [j for j in jobs if j.get("role") == "baseline"]
    metrics, examples, files = _collect(s3, candidate_jobs)
    problems: dict[str, Any] = {}
    if not files:
        problems["candidate"] = "no evaluation output files found for the candidate model"
    baseline = None
    delta = None
    if baseline_jobs:
        base_metrics, base_examples, base_files = _collect(s3, baseline_jobs)
        if not base_files:
            problems["baseline"] = "no evaluation output files found for the base model"
        files = [*files, *base_files]
        baseline = {
            "model": baseline_jobs[0].get("model"),
            "summary": {"examples": base_examples, "metrics": base_metrics},
        }
        delta = {
            name: None
            if value is None or base_metrics.get(name) is None
            else round(value - float(base_metrics[name] or 0.0), 4)
            for name, value in metrics.items()
        }
    failures = check_thresholds(
        metrics,
        min_scores=thresholds.get("min_scores", {}),
        delta=delta,
        min_improvement=thresholds.get("min_improvement", {}),
    )
    if problems.get("candidate"):
        failures.append(problems["candidate"])
    return {
        "report_version": REPORT_VERSION,
        "kind": "bedrock_evaluation",
        "created": _now(),
        "model": candidate_jobs[0].get("model") if candidate_jobs else None,
        "dataset": dataset,
        "summary": {"examples": examples, "metrics": metrics},
        "baseline": baseline,
        "delta": delta,
        "thresholds": {k: dict(v) for k, v in thresholds.items()},
        "passed": not failures,
        "failures": failures,
        "problems": problems,
        "jobs": [{k: j.get(k) for k in ("role", "kind", "jobName", "jobArn")} for j in jobs],
        "output_files": files,
    }


def _put_report(s3: S3Client, report: Mapping[str, Any], run_id: str) -> str:
    bucket = os.environ["REPORT_BUCKET"]
    key = f"{os.environ.get('REPORT_PREFIX', '')}{run_id}/report.json"
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    return f"s3://{bucket}/{key}"


def bedrock_report_handler(
    event: dict[str, Any], _context: Any = None, *, s3: S3Client | None = None
) -> dict[str, Any]:
    """Step Functions task after the evaluation jobs.

    Event: ``runId``, ``dataset`` (S3 URI), ``jobs`` (list of ``{role, kind, model, jobName,
    jobArn, outputS3Uri}``). Environment: ``REPORT_BUCKET``, ``REPORT_PREFIX``,
    ``THRESHOLDS`` (JSON ``{"min_scores": {...}, "min_improvement": {...}}``). Writes
    ``<prefix><runId>/report.json``; returns ``passed``, ``failures``, ``reportS3Uri``, the
    summary, baseline and delta (small enough for the notification).
    """
    client = s3 or boto3.client("s3")
    thresholds = json.loads(os.environ.get("THRESHOLDS") or "{}")
    report = build_bedrock_report(
        client, jobs=event["jobs"], dataset=str(event.get("dataset", "")), thresholds=thresholds
    )
    uri = _put_report(client, report, str(event["runId"]))
    return {
        "passed": report["passed"],
        "failures": report["failures"],
        "reportS3Uri": uri,
        "summary": report["summary"],
        "baseline": report["baseline"],
        "delta": report["delta"],
    }


# -- human ratings ---------------------------------------------------------------------------


def build_human_report(
    lines: Iterable[str | bytes],
    *,
    label_attribute: str,
    job_name: str,
    model: str = "",
    min_scores: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Aggregate a rating job's output manifest (the LabelingWorkforce rating template):
    mean, median, per-criterion and per-tag means, score distribution, Krippendorff's alpha
    (ordinal) and pairwise agreement. ``min_scores`` may name ``mean_score`` and
    ``agreement_alpha``."""
    problems: list[Problem] = []
    units: list[list[int]] = []
    by_criterion: dict[str, list[float]] = defaultdict(list)
    by_tag: dict[str, list[float]] = defaultdict(list)
    per_item = []
    raters: set[str] = set()
    for item in read_items(lines, label_attribute, problems):
        scores = []
        for worker, answer in item.answers:
            score = parse_score(answer)
            if score is None:
                problems.append(Problem(item.line, item.id, "no valid 1-5 score", worker))
                continue
            raters.add(worker)
            scores.append(score)
        if not scores:
            continue
        units.append(scores)
        mean = statistics.fmean(scores)
        criteria = item.record.get("criteria") or ["overall"]
        for criterion in criteria:
            by_criterion[str(criterion)].append(mean)
        for tag in item.record.get("tags") or ():
            by_tag[str(tag)].append(mean)
        per_item.append({"id": item.id, "scores": scores, "mean": round(mean, 4)})
    all_scores = [s for unit in units for s in unit]
    distribution = Counter(all_scores)
    metrics: dict[str, float | None] = {
        "mean_score": _mean(all_scores),
        "median_score": statistics.median(all_scores) if all_scores else None,
        "item_mean_score": _mean(statistics.fmean(u) for u in units),
        "agreement_alpha": krippendorff_alpha(units, metric="ordinal"),
        "pairwise_agreement": pairwise_agreement(units),
    }
    failures = check_thresholds(metrics, min_scores=min_scores or {})
    return {
        "report_version": REPORT_VERSION,
        "kind": "human_rating",
        "created": _now(),
        "model": model,
        "dataset": job_name,
        "summary": {"examples": len(units), "ratings": len(all_scores), "metrics": metrics},
        "baseline": None,
        "delta": None,
        "agreement": {
            "method": "krippendorff_alpha_ordinal",
            "alpha": metrics["agreement_alpha"],
            "pairwise_agreement": metrics["pairwise_agreement"],
            "raters": len(raters),
            "pairable_items": sum(1 for u in units if len(u) >= 2),
        },
        "by_criterion": {k: _mean(v) for k, v in sorted(by_criterion.items())},
        "by_tag": {k: _mean(v) for k, v in sorted(by_tag.items())},
        "score_distribution": {str(s): distribution.get(s, 0) for s in range(1, 6)},
        "thresholds": {"min_scores": dict(min_scores or {})},
        "passed": not failures,
        "failures": failures,
        "problems": {"count": len(problems), "first": [p.as_dict() for p in problems[:50]]},
        "per_item": per_item,
    }


def human_report_handler(
    event: dict[str, Any], _context: Any = None, *, s3: S3Client | None = None
) -> dict[str, Any]:
    """Step Functions task after a rating labeling job (or call it yourself).

    Event: ``job_name``, ``output_manifest_uri``, ``label_attribute_name``, optional
    ``model`` and ``min_scores``. Environment: ``REPORT_BUCKET``, ``REPORT_PREFIX``. Writes
    ``<prefix><job_name>/report.json``.
    """
    client = s3 or boto3.client("s3")
    bucket, key = split_s3_uri(str(event["output_manifest_uri"]))
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    report = build_human_report(
        body.iter_lines(),
        label_attribute=str(event["label_attribute_name"]),
        job_name=str(event["job_name"]),
        model=str(event.get("model") or ""),
        min_scores=event.get("min_scores") or {},
    )
    uri = _put_report(client, report, str(event["job_name"]))
    return {
        "passed": report["passed"],
        "failures": report["failures"],
        "reportS3Uri": uri,
        "summary": report["summary"],
        "agreement": report["agreement"],
    }
