"""SageMaker AI serverless evaluation results -> the library's evaluation report (``kind:
serverless_evaluation``, the shape of :mod:`evaluation_report`) and its threshold gate.

Where the jobs write (the SageMaker AI developer guide, "Evaluation Metrics Formats"): under
``<S3OutputPath>/<training-job-name>/output/output/<evaluation-name>/eval_results/``. A
benchmark job writes a summary JSON there: ``{"results": {<task>: {<metric>: value,
<metric>_stderr: value, ...}}}``; the page's example names the task key like
``custom|gen_qa_gen_qa|0``; AWS's SageMaker Python SDK reads a ``results_*.json`` file and
prefers the aggregate key ``all``. A judge job (LLM-as-a-judge, run by Bedrock evaluations)
writes ``bedrock_llm_judge_results.json`` with ``{"results": {<metric>: {"score": value,
...}}}`` (the SDK's reader; not on an AWS page: unverified). Both are read defensively: a
missing file, invalid JSON or a missing metric raises :class:`ResultsUnreadableError` naming the
object and what was expected, and the workflow notifies it.

Plain boto3, deployed in the runtime Lambda asset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING or __package__:
    from cdk_llm_training.assets.runtime.evaluation_report import (
        REPORT_VERSION,
        check_thresholds,
    )
    from cdk_llm_training.assets.runtime.labeling_postprocess import split_s3_uri
else:  # in Lambda, this folder is the code root
    from evaluation_report import REPORT_VERSION, check_thresholds
    from labeling_postprocess import split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BENCHMARK_FILE_PREFIX = "results_"
JUDGE_FILE_NAME = "bedrock_llm_judge_results.json"
AGGREGATE_KEY = "all"


class ResultsUnreadableError(Exception):
    """The evaluation output is missing or not in the documented shape (the Step Functions
    error name is this class's name)."""


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def parse_benchmark_results(document: Any, *, metric: str, source: str) -> float:
    """The ``metric`` of a benchmark summary: from the aggregate key ``all`` when present,
    else from the only task entry that has it (several disagreeing entries: the mean)."""
    results = document.get("results") if isinstance(document, Mapping) else None
    if not isinstance(results, Mapping) or not results:
        raise ResultsUnreadableError(
            f"{source}: expected a JSON object with a non-empty 'results' object "
            "(task -> {metric: value})"
        )
    aggregate = results.get(AGGREGATE_KEY)
    if isinstance(aggregate, Mapping) and _number(aggregate.get(metric)) is not None:
        return float(aggregate[metric])
    values = [
        value
        for task, scores in results.items()
        if isinstance(scores, Mapping) and (value := _number(scores.get(metric))) is not None
    ]
    if not values:
        tasks = ", ".join(sorted(str(t) for t in results)) or "none"
        raise ResultsUnreadableError(
            f"{source}: no numeric {metric!r} in any task of 'results' (tasks: {tasks})"
        )
    return round(sum(values) / len(values), 6)


def judge_metric_name(name: str) -> str:
    """Bedrock's built-in metric names carry ``Builtin.``; the judge file may drop it."""
    return name if name.startswith("Builtin.") else f"Builtin.{name}"


def parse_judge_results(document: Any, *, metrics: Sequence[str], source: str) -> dict[str, float]:
    """Mean score per requested judge metric from a judge summary."""
    results = document.get("results") if isinstance(document, Mapping) else None
    if not isinstance(results, Mapping):
        raise ResultsUnreadableError(
            f"{source}: expected a JSON object with a 'results' object (metric -> "
            "{'score': value})"
        )
    scores: dict[str, float] = {}
    for name, entry in results.items():
        value = _number(entry.get("score")) if isinstance(entry, Mapping) else _number(entry)
        if value is not None:
            scores[judge_metric_name(str(name))] = value
    missing = [m for m in metrics if m not in scores]
    if missing:
        raise ResultsUnreadableError(
            f"{source}: no numeric score for {', '.join(missing)}; found: "
            f"{', '.join(sorted(scores)) or 'none'}"
        )
    return {m: scores[m] for m in metrics}


def find_result_file(
    s3: S3Client, *, output_s3_uri: str, job_name: str, matches: Any
) -> tuple[str, str]:
    """(bucket, key) of the one result file under ``<output>/<job>/output/output/`` whose
    file name ``matches``; none: :class:`ResultsUnreadableError`."""
    bucket, prefix = split_s3_uri(f"{output_s3_uri.rstrip('/')}/{job_name}/output/output/")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if matches(obj["Key"].rsplit("/", 1)[-1]):
                found.append(obj["Key"])
    if not found:
        raise ResultsUnreadableError(
            f"no evaluation result file for job {job_name} under s3://{bucket}/{prefix}"
        )
    return bucket, sorted(found)[-1]


def _read_json(s3: S3Client, bucket: str, key: str) -> Any:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ResultsUnreadableError(f"s3://{bucket}/{key} is not JSON: {error}") from None


def read_job_metrics(
    s3: S3Client, job: Mapping[str, Any], output_s3_uri: str
) -> tuple[dict[str, float], str]:
    """The metrics of one job of the event (``kind`` benchmark or judge) and its file."""
    name = str(job["jobName"])
    if job["kind"] == "benchmark":
        bucket, key = find_result_file(
            s3,
            output_s3_uri=output_s3_uri,
            job_name=name,
            matches=lambda f: f.startswith(BENCHMARK_FILE_PREFIX) and f.endswith(".json"),
        )
        source = f"s3://{bucket}/{key}"
        value = parse_benchmark_results(
            _read_json(s3, bucket, key), metric=str(job["metric"]), source=source
        )
        return {f"{job['benchmark']}/{job['metric']}": round(value, 6)}, source
    bucket, key = find_result_file(
        s3, output_s3_uri=output_s3_uri, job_name=name, matches=lambda f: f == JUDGE_FILE_NAME
    )
    source = f"s3://{bucket}/{key}"
    metrics = parse_judge_results(
        _read_json(s3, bucket, key), metrics=list(job["metrics"]), source=source
    )
    return metrics, source


def build_report(
    s3: S3Client,
    *,
    jobs: Sequence[Mapping[str, Any]],
    output_s3_uri: str,
    model: str,
    thresholds: Mapping[str, Mapping[str, float]],
) -> dict[str, Any]:
    """The report of one evaluation run (every job's metrics, the gate's verdict)."""
    metrics: dict[str, float | None] = {}
    files = []
    for job in jobs:
        job_metrics, source = read_job_metrics(s3, job, output_s3_uri)
        metrics.update(job_metrics)
        files.append(source)
    failures = check_thresholds(metrics, min_scores=thresholds.get("min_scores", {}))
    return {
        "report_version": REPORT_VERSION,
        "kind": "serverless_evaluation",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model,
        "dataset": ", ".join(str(j.get("benchmark") or j.get("dataset")) for j in jobs),
        "summary": {"examples": None, "metrics": dict(sorted(metrics.items()))},
        "baseline": None,
        "delta": None,
        "thresholds": {k: dict(v) for k, v in thresholds.items()},
        "passed": not failures,
        "failures": failures,
        "problems": {},
        "jobs": [{k: j.get(k) for k in ("kind", "jobName", "benchmark")} for j in jobs],
        "output_files": files,
    }


def handler(event: dict[str, Any], _context: Any = None, *, s3: S3Client | None = None) -> Any:
    """Step Functions task after the evaluation jobs.

    Event: ``runId``, ``modelPackageArn``, ``outputS3Uri`` (the jobs' ``S3OutputPath``),
    ``jobs`` (``{kind: benchmark, jobName, benchmark, metric}`` or ``{kind: judge, jobName,
    metrics, dataset}``). Environment: ``REPORT_BUCKET``, ``REPORT_PREFIX``, ``THRESHOLDS``
    (JSON ``{"min_scores": {...}}``). Writes ``<prefix><runId>/report.json``; returns
    ``passed``, ``failures``, ``reportS3Uri`` and the summary.
    """
    client = s3 or boto3.client("s3")
    report = build_report(
        client,
        jobs=event["jobs"],
        output_s3_uri=str(event["outputS3Uri"]),
        model=str(event.get("modelPackageArn") or ""),
        thresholds=json.loads(os.environ.get("THRESHOLDS") or "{}"),
    )
    bucket = os.environ["REPORT_BUCKET"]
    key = f"{os.environ.get('REPORT_PREFIX', '')}{event['runId']}/report.json"
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    return {
        "passed": report["passed"],
        "failures": report["failures"],
        "reportS3Uri": f"s3://{bucket}/{key}",
        "summary": report["summary"],
    }
