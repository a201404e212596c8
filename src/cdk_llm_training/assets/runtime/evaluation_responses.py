"""Answers the evaluation prompts with a custom model deployment, for a Bedrock evaluation job
that brings its own inference responses.

Bedrock evaluation jobs do not accept a custom model deployment ARN as the evaluated model
(``EvaluationBedrockModel.modelIdentifier`` allows foundation, provisioned and imported
models, inference profiles, prompt routers and SageMaker endpoints), while the runtime
``Converse`` API does (``modelId`` may be ``...:custom-model-deployment/<id>``). So the
workflow invokes the deployment here and writes each prepared prompt line with a
``modelResponses`` list of one ``{"response", "modelIdentifier"}`` entry; the job then names
the same identifier as its ``precomputedInferenceSource`` (Amazon Bedrock User Guide,
"Create a prompt dataset for a model evaluation job that uses a model as judge": bring your
own inference responses).

One run answers up to ``BATCH_SIZE`` prompts from ``next`` and stops early when less than
``RESERVE_SECONDS`` of the Lambda's time is left; it writes them as one part file, and the
workflow calls it again until ``done``. The last run joins the parts into
``<RESPONSES_PREFIX><runId>/responses.jsonl``. Plain boto3.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config

DEFAULT_SOURCE_IDENTIFIER = "candidate"
"""``modelIdentifier`` of the responses (``SOURCE_IDENTIFIER`` in the environment), which the
job names as its ``inferenceSourceIdentifier``."""
RESERVE_SECONDS = 60
"""Stop answering when less time than this is left in the run (one answer's worst case)."""


class NoProgressError(RuntimeError):
    """The run could not answer a single prompt in its time: it would loop for ever."""


def _split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"datasetS3Uri {uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _read_lines(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def answer(runtime: Any, model_id: str, prompt: str, max_tokens: int) -> tuple[str, int, int]:
    """The model's text answer and its input / output token counts."""
    response = runtime.converse(
        modelId=model_id,
        messages=[{"role": "user", "content": [{"text": prompt}]}],
        inferenceConfig={"maxTokens": max_tokens},
    )
    blocks = response.get("output", {}).get("message", {}).get("content", [])
    text = "".join(str(b["text"]) for b in blocks if isinstance(b, Mapping) and "text" in b)
    usage = response.get("usage", {})
    return text, int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))


def generate(
    event: Mapping[str, Any],
    env: Mapping[str, str],
    s3: Any,
    runtime: Any,
    remaining_ms: Callable[[], int],
) -> dict[str, Any]:
    """One run. Event: ``runId``, ``datasetS3Uri`` (the prepared prompts), ``deploymentArn``,
    ``next`` (first prompt index; 0 on the first run), ``inputTokens`` / ``outputTokens``
    (totals so far). Returns the same counters, ``done``, ``prompts`` and, when done,
    ``datasetS3Uri`` of the responses dataset."""
    bucket, key = _split_uri(str(event["datasetS3Uri"]))
    prompts = _read_lines(s3, bucket, key)
    start = int(event.get("next") or 0)
    batch = int(env["BATCH_SIZE"])
    max_tokens = int(env["MAX_TOKENS"])
    work = f"{env['RESPONSES_PREFIX']}{event['runId']}/"
    out_bucket = env["OUTPUT_BUCKET"]
    tokens_in = int(event.get("inputTokens") or 0)
    tokens_out = int(event.get("outputTokens") or 0)
    source = env.get("SOURCE_IDENTIFIER", DEFAULT_SOURCE_IDENTIFIER)
    lines = []
    index = start
    while index < len(prompts) and index < start + batch:
        if index > start and remaining_ms() < RESERVE_SECONDS * 1000:
            break
        record = prompts[index]
        text, used_in, used_out = answer(
            runtime, str(event["deploymentArn"]), str(record["prompt"]), max_tokens
        )
        tokens_in += used_in
        tokens_out += used_out
        lines.append({**record, "modelResponses": [{"response": text, "modelIdentifier": source}]})
        index += 1
    if index == start and start < len(prompts):
        raise NoProgressError(f"no prompt answered from index {start}")
    if lines:
        body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        s3.put_object(Bucket=out_bucket, Key=f"{work}parts/{start:06d}.jsonl", Body=body.encode())
    result: dict[str, Any] = {
        "done": index >= len(prompts),
        "next": index,
        "prompts": len(prompts),
        "inputTokens": tokens_in,
        "outputTokens": tokens_out,
    }
    if result["done"]:
        result["datasetS3Uri"] = _join_parts(s3, out_bucket, work)
    return result


def _join_parts(s3: Any, bucket: str, work: str) -> str:
    keys: list[str] = []
    token: str | None = None
    while True:
        page = s3.list_objects_v2(
            Bucket=bucket,
            Prefix=f"{work}parts/",
            **({"ContinuationToken": token} if token else {}),
        )
        keys += [item["Key"] for item in page.get("Contents", [])]
        token = page.get("NextContinuationToken")
        if not token:
            break
    body = b"".join(s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in sorted(keys))
    key = f"{work}responses.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def runtime_client() -> Any:
    """A bedrock-runtime client with adaptive retries (throttling of on-demand quotas)."""
    return boto3.client(
        "bedrock-runtime", config=Config(retries={"mode": "adaptive", "max_attempts": 8})
    )


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Step Functions task (see :func:`generate`). Environment: ``OUTPUT_BUCKET``,
    ``RESPONSES_PREFIX``, ``BATCH_SIZE``, ``MAX_TOKENS``, ``SOURCE_IDENTIFIER``."""

    def remaining() -> int:
        return int(context.get_remaining_time_in_millis()) if context is not None else 10**9

    return generate(event, os.environ, boto3.client("s3"), runtime_client(), remaining)
