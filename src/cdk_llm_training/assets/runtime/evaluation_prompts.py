"""The evaluation prompt catalog: validator and converter to Bedrock's evaluation dataset.

Catalog format (JSONL, one object per line)::

    {"prompt": "What is 17 * 23?", "reference": "391", "task_type": "QuestionAndAnswer",
     "tags": ["math"], "id": "q1"}

``prompt`` (non-empty string) is required; ``reference`` (string), ``task_type`` (one of
:data:`TASK_TYPES`), ``tags`` (list of strings) and ``id`` (string) are optional; no other
fields. The same catalog feeds the Bedrock evaluation job (converted by
:func:`to_bedrock_record`), the SageMaker task-metrics script (which needs ``reference``) and
the human rating template (``prompt`` -> the manifest's ``source``).

Validation reuses the streaming core in :mod:`dataset_validation` (the record format
``evaluation_prompt`` is registered there); this module adds no streaming code of its own.
Plain boto3, deployed as part of the runtime Lambda asset.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING or __package__:
    from cdk_llm_training.assets.runtime.dataset_validation import (
        HARD_MAX_LINE_BYTES,
        FileLimits,
        FileReport,
        iter_chunks,
        iter_lines,
        register_format,
        validate_stream,
    )
else:  # in Lambda, this folder is the code root
    from dataset_validation import (
        HARD_MAX_LINE_BYTES,
        FileLimits,
        FileReport,
        iter_chunks,
        iter_lines,
        register_format,
        validate_stream,
    )

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RECORD_FORMAT = "evaluation_prompt"
TASK_TYPES = ("Generation", "Summarization", "Classification", "QuestionAndAnswer", "Custom")
FIELDS = ("prompt", "reference", "task_type", "tags", "id")
MAX_BEDROCK_PROMPTS = 1000
"""Bedrock automatic evaluation jobs take at most 1000 prompts per dataset."""


def check_evaluation_prompt(record: Any) -> list[str]:
    """Reasons ``record`` is not a catalog line (empty when it is one)."""
    if not isinstance(record, dict):
        return ["record must be a JSON object"]
    problems = []
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append("'prompt' must be a non-empty string")
    reference = record.get("reference")
    if reference is not None and not isinstance(reference, str):
        problems.append("'reference' must be a string")
    task_type = record.get("task_type")
    if task_type is not None and task_type not in TASK_TYPES:
        problems.append(f"'task_type' {task_type!r} is not one of {', '.join(TASK_TYPES)}")
    tags = record.get("tags")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags)
    ):
        problems.append("'tags' must be a list of non-empty strings")
    if "id" in record and not isinstance(record["id"], str):
        problems.append("'id' must be a string")
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        problems.append(f"unknown fields {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    return problems


register_format(RECORD_FORMAT, check_evaluation_prompt)


def validate_catalog(
    stream: Any, *, key: str, max_records: int | None = MAX_BEDROCK_PROMPTS
) -> FileReport:
    """Stream ``stream`` (a binary file or S3 body) and check every line."""
    return validate_stream(
        stream,
        key=key,
        role="evaluation_prompts",
        record_format=RECORD_FORMAT,
        limits=FileLimits(min_records=1, max_records=max_records),
    )


def iter_records(stream: Any) -> Iterator[dict[str, Any]]:
    """Decoded records of an already validated catalog (same line splitter as the validator)."""
    for line in iter_lines(iter_chunks(stream), max_line_bytes=HARD_MAX_LINE_BYTES):
        if line.data is not None and line.data.strip():
            yield json.loads(line.data)


def to_bedrock_record(record: dict[str, Any]) -> dict[str, Any]:
    """A catalog line as a Bedrock evaluation dataset line (``prompt``,
    ``referenceResponse``, ``category``: the first tag)."""
    out: dict[str, Any] = {"prompt": record["prompt"]}
    if record.get("reference"):
        out["referenceResponse"] = record["reference"]
    if record.get("tags"):
        out["category"] = record["tags"][0]
    return out


def to_rating_manifest_line(record: dict[str, Any], response: str) -> dict[str, Any]:
    """A catalog line plus a model response as a LabelingWorkforce rating manifest line."""
    line: dict[str, Any] = {"source": record["prompt"], "response": response}
    if record.get("id"):
        line["id"] = record["id"]
    return line


def jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def prepare_handler(
    event: dict[str, Any], _context: Any = None, *, s3: S3Client | None = None
) -> dict[str, Any]:
    """Step Functions task: validate the catalog, write it in Bedrock's format.

    Event: ``catalogKey`` (curated zone, under ``CATALOG_PREFIX``), ``runId``. Environment:
    ``CATALOG_BUCKET``, ``CATALOG_PREFIX``, ``OUTPUT_BUCKET``, ``INPUT_PREFIX``. Returns
    ``valid``, ``records``, ``errors`` (first 10), ``datasetS3Uri`` (when valid).
    """
    client = s3 or boto3.client("s3")
    bucket = os.environ["CATALOG_BUCKET"]
    prefix = os.environ.get("CATALOG_PREFIX", "")
    key = str(event["catalogKey"])
    if not key.startswith(prefix) or ".." in key.split("/"):
        return {
            "valid": False,
            "records": 0,
            "errors": [{"line": None, "reason": f"catalogKey {key!r} is not under {prefix!r}"}],
        }
    report = validate_catalog(client.get_object(Bucket=bucket, Key=key)["Body"], key=key)
    result: dict[str, Any] = {
        "valid": report.valid,
        "records": report.records,
        "errorCount": report.error_count,
        "errors": report.errors[:10],
    }
    if not report.valid:
        return result
    records = iter_records(client.get_object(Bucket=bucket, Key=key)["Body"])
    out_bucket = os.environ["OUTPUT_BUCKET"]
    out_key = f"{os.environ.get('INPUT_PREFIX', '')}{event['runId']}/prompts.jsonl"
    client.put_object(
        Bucket=out_bucket, Key=out_key, Body=jsonl(to_bedrock_record(r) for r in records)
    )
    result["datasetS3Uri"] = f"s3://{out_bucket}/{out_key}"
    return result


# -- human evaluation: sample model outputs into a rating manifest -----------------------------


def check_model_output(record: Any) -> list[str]:
    """A model-output line: a catalog line plus the model's ``response`` (and optional
    ``criteria``, the rating criteria shown to workers)."""
    if not isinstance(record, dict):
        return ["record must be a JSON object"]
    base = {k: v for k, v in record.items() if k not in ("response", "criteria")}
    problems = check_evaluation_prompt(base)
    if not isinstance(record.get("response"), str):
        problems.append("'response' must be a string")
    criteria = record.get("criteria")
    if criteria is not None and (
        not isinstance(criteria, list) or not all(isinstance(c, str) for c in criteria)
    ):
        problems.append("'criteria' must be a list of strings")
    return problems


register_format("evaluation_model_output", check_model_output)


def sample_records(records: Iterable[dict[str, Any]], size: int, seed: str) -> list[dict[str, Any]]:
    """A uniform random sample of ``size`` records in one pass (reservoir sampling), in input
    order, reproducible for a given ``seed``."""
    rng = random.Random(seed)
    reservoir: list[tuple[int, dict[str, Any]]] = []
    for index, record in enumerate(records):
        if len(reservoir) < size:
            reservoir.append((index, record))
        else:
            slot = rng.randint(0, index)
            if slot < size:
                reservoir[slot] = (index, record)
    return [record for _, record in sorted(reservoir, key=lambda pair: pair[0])]


def rating_manifest_line(record: dict[str, Any]) -> dict[str, Any]:
    """A model-output line as a LabelingWorkforce rating manifest line."""
    line = to_rating_manifest_line(record, record["response"])
    for key in ("tags", "criteria", "reference"):
        if record.get(key):
            line[key] = record[key]
    return line


def sample_handler(
    event: dict[str, Any], _context: Any = None, *, s3: S3Client | None = None
) -> dict[str, Any]:
    """Step Functions task: validate a model-outputs file, sample it, write a rating manifest.

    Event: ``outputsKey`` (under ``OUTPUTS_PREFIX``), ``runId``, ``sampleSize``. Environment:
    ``BUCKET`` (curated zone), ``OUTPUTS_PREFIX``, ``MANIFEST_PREFIX``. Returns ``valid``,
    ``errors``, ``total``, ``sampled`` and ``manifestKey``.
    """
    client = s3 or boto3.client("s3")
    bucket = os.environ["BUCKET"]
    prefix = os.environ.get("OUTPUTS_PREFIX", "")
    key = str(event["outputsKey"])
    if not key.startswith(prefix) or ".." in key.split("/"):
        reason = f"outputsKey {key!r} is not under {prefix!r}"
        return {"valid": False, "errors": [{"line": None, "reason": reason}]}
    report = validate_stream(
        client.get_object(Bucket=bucket, Key=key)["Body"],
        key=key,
        role="model_outputs",
        record_format="evaluation_model_output",
        limits=FileLimits(min_records=1),
    )
    if not report.valid:
        return {"valid": False, "errors": report.errors[:10], "errorCount": report.error_count}
    run_id = str(event["runId"])
    sample = sample_records(
        iter_records(client.get_object(Bucket=bucket, Key=key)["Body"]),
        int(event["sampleSize"]),
        seed=run_id,
    )
    manifest_key = f"{os.environ.get('MANIFEST_PREFIX', '')}{run_id}.manifest"
    client.put_object(
        Bucket=bucket, Key=manifest_key, Body=jsonl(rating_manifest_line(r) for r in sample)
    )
    return {
        "valid": True,
        "errors": [],
        "total": report.records,
        "sampled": len(sample),
        "manifestKey": manifest_key,
    }
