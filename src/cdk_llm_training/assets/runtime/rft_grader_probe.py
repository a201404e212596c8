"""Lambda handler: try the RFT grader on a few training records before the paid job starts.

A grader that raises, times out or answers in the wrong shape would otherwise fail (or, worse,
silently mis-train) a paid reinforcement fine-tuning job. The probe reads the first
``PROBE_RECORDS`` records of the training file, builds the samples the grader will receive
(the record's messages plus an assistant turn holding the reference answer as text, an
``id``, the reference answer at the top level and under ``metadata`` with the record's other
fields, as the documented payloads show both), invokes the grader synchronously and checks
the documented result: a list with one record per sample, the same ``id``, a finite
``aggregate_reward_score`` and, when present, ``metrics_list`` entries ``{"name": str,
"value": number, "type": "Reward" | "Metric"}``.

Environment: ``DATASET_BUCKET``, ``GRADER_FUNCTION`` (name or ARN), ``PROBE_RECORDS``.
Input: ``{"trainingDataS3Uri": "s3://bucket/key"}`` (what the dataset validator returned).
Output: ``{"works": bool, "problems": [str] (at most 10), "scores": [number]}``; an error
while invoking the grader is a problem, not an exception, so the workflow reports it as a
grader failure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import boto3

MAX_PROBLEMS = 10
MAX_PROBE_BYTES = 4 * 1024 * 1024
"""Never read more than this much of the training file."""
METRIC_TYPES = ("Reward", "Metric")


def handler(
    event: Mapping[str, Any], context: Any = None, *, s3: Any = None, lambda_client: Any = None
) -> dict[str, Any]:
    import os

    env = os.environ
    s3 = s3 if s3 is not None else boto3.client("s3")
    lambda_client = lambda_client if lambda_client is not None else boto3.client("lambda")
    count = int(env.get("PROBE_RECORDS", "3"))
    try:
        records = first_records(s3, str(event["trainingDataS3Uri"]), count)
    except (KeyError, ValueError) as error:
        return {
            "works": False,
            "problems": [f"could not read probe records: {error}"],
            "scores": [],
        }
    samples = [probe_sample(index, record) for index, record in enumerate(records)]
    try:
        response = lambda_client.invoke(
            FunctionName=env["GRADER_FUNCTION"],
            InvocationType="RequestResponse",
            Payload=json.dumps(samples).encode("utf-8"),
        )
        payload = response["Payload"].read()
    except Exception as error:
        return {"works": False, "problems": [f"invoking the grader failed: {error}"], "scores": []}
    if response.get("FunctionError"):
        detail = payload.decode("utf-8", "replace")[:300]
        return {"works": False, "problems": [f"the grader raised an error: {detail}"], "scores": []}
    try:
        result = json.loads(payload)
    except ValueError:
        return {"works": False, "problems": ["the grader did not return JSON"], "scores": []}
    problems = result_problems(samples, result)
    scores = [r.get("aggregate_reward_score") for r in result] if not problems else []
    return {"works": not problems, "problems": problems[:MAX_PROBLEMS], "scores": scores}


def first_records(s3: Any, uri: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` JSON object lines of the object at ``uri``."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, key = uri[5:].split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_PROBE_BYTES - 1}")["Body"]
    text = body.read().decode("utf-8", "replace")
    records: list[dict[str, Any]] = []
    for line in text.splitlines():
        if len(records) == count:
            break
        if line.strip():
            value = json.loads(line)
            if isinstance(value, dict):
                records.append(value)
    if not records:
        raise ValueError(f"{uri} has no records")
    return records


def probe_sample(index: int, record: Mapping[str, Any]) -> dict[str, Any]:
    """The sample the grader receives for ``record``, answered with its reference answer."""
    reference = record.get("reference_answer")
    answer = reference if isinstance(reference, str) else _answer_text(reference)
    extra = {k: v for k, v in record.items() if k not in ("messages", "reference_answer")}
    return {
        "id": f"probe-{index}",
        "messages": [*record.get("messages", []), {"role": "assistant", "content": answer}],
        "reference_answer": reference,
        "metadata": {"reference_answer": reference, **extra},
    }


def _answer_text(reference: Any) -> str:
    if isinstance(reference, dict):
        for key in ("answer", "solution"):
            if isinstance(reference.get(key), str):
                return str(reference[key])
    return json.dumps(reference, ensure_ascii=False)


def result_problems(samples: list[dict[str, Any]], result: Any) -> list[str]:
    """How ``result`` departs from the documented grader output for ``samples``."""
    if not isinstance(result, list):
        return [f"the grader returned {type(result).__name__}, not a list of records"]
    if len(result) != len(samples):
        return [f"the grader returned {len(result)} records for {len(samples)} samples"]
    problems: list[str] = []
    for sample, item in zip(samples, result, strict=True):
        where = f"record for {sample['id']}"
        if not isinstance(item, dict):
            problems.append(f"{where} is not an object")
            continue
        if item.get("id") != sample["id"]:
            problems.append(f"{where} has id {str(item.get('id'))[:40]!r}")
        score = item.get("aggregate_reward_score")
        if not _finite_number(score):
            problems.append(f"{where}: aggregate_reward_score must be a finite number")
        problems.extend(_metric_problems(where, item.get("metrics_list")))
    return problems


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _metric_problems(where: str, metrics: Any) -> list[str]:
    if metrics is None:
        return []
    if not isinstance(metrics, list):
        return [f"{where}: metrics_list must be a list"]
    for metric in metrics:
        if not (
            isinstance(metric, dict)
            and isinstance(metric.get("name"), str)
            and _finite_number(metric.get("value"))
            and metric.get("type") in METRIC_TYPES
        ):
            return [
                f"{where}: metrics_list entries need name, a finite value and type Reward or Metric"
            ]
    return []
