"""Lambda handlers of the synthetic-data workflow (Bedrock batch inference with a teacher).

Plain boto3, no other dependency (the ``runtime`` folder is the Lambda asset).

``prepare_handler``: reads the prompt set (JSON lines ``{"prompt": str, "id"?: str,
"system"?: str}``) from the curated zone, checks it, and writes the batch inference input:
one ``{"recordId": str, "modelInput": {...}}`` line per prompt, ``modelInput`` being the
teacher's InvokeModel request body for its family (Anthropic Messages, Amazon Nova, Meta
Llama). It counts the records against the per-job minimum and maximum (Bedrock refuses a
job below its minimum record count) and estimates the cost from the prices it is given.

``convert_handler``: reads the job's output (``<output>/<job id>/*.jsonl.out``, lines
``{"recordId", "modelInput", "modelOutput"}`` or ``{"recordId", "modelInput", "error"}``),
extracts the teacher's text per family, and writes SFT records in the chat format
(``{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}``) to the curated
zone with a dataset card. Errors of single records are counted, never raised.

Unverified in the API models (they are the model providers' documented bodies, not part of
the Bedrock service model): the request and response body shapes per family and the output
layout ``<output>/<job id>/<input file>.out``; the tests pin what this module expects.

Environment: ``PROMPT_BUCKET``, ``PROMPT_PREFIX`` (curated zone), ``WORK_BUCKET``,
``WORK_PREFIX`` (artifacts zone: batch input and output), ``DATASET_PREFIX`` (curated zone:
results), ``TEACHER_MODEL_ID``, ``MAX_TOKENS``, ``TEMPERATURE``, ``MIN_RECORDS``,
``MAX_RECORDS``, ``INPUT_PRICE_PER_MILLION_TOKENS``, ``OUTPUT_PRICE_PER_MILLION_TOKENS``
(empty: no estimate); preference mode only: ``OUTPUT_MODE`` (``preference``; absent: SFT),
``SECOND_TEMPERATURE``, ``JUDGE_MODEL_ID``.

Preference mode (``OUTPUT_MODE=preference``): ``prepare_handler`` writes two records per
prompt (``<id>-a`` at ``TEMPERATURE``, ``<id>-b`` at ``SECOND_TEMPERATURE``; none of the
supported request bodies has an ``n`` parameter for several samples); the judging and the
preference records are in :mod:`synthetic_preference`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING or __package__:  # imported from the installed package (tests, tools)
    from cdk_llm_training.assets.runtime.batch_limits import check_batch_job
    from cdk_llm_training.assets.runtime.batch_output import OutputScan
    from cdk_llm_training.assets.runtime.s3_writer import S3StreamWriter
else:  # in Lambda, this folder is the code root
    from batch_limits import check_batch_job
    from batch_output import OutputScan
    from s3_writer import S3StreamWriter

CHARS_PER_TOKEN = 4
"""Rough characters per token for the cost estimate (English text; an estimate only)."""
RECORD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PAIR_ID = re.compile(r"^[A-Za-z0-9_-]{1,62}$")
"""A prompt id in preference mode: ``-a``/``-b`` are appended for the two samples."""
SAMPLE_SUFFIXES = ("-a", "-b")
MAX_REASONS = 10


class PromptSetError(ValueError):
    """The prompt set cannot become a batch job (missing, empty, too small or too large)."""


def model_family(model_id: str) -> str:
    """``anthropic``, ``nova`` or ``llama`` from a Bedrock model id (with or without a
    cross-Region inference prefix such as ``us.``)."""
    name = model_id.split(":", maxsplit=1)[0]
    for family, marker in (
        ("anthropic", "anthropic."),
        ("nova", "amazon.nova"),
        ("llama", "meta.llama"),
    ):
        if marker in name:
            return family
    raise PromptSetError(
        f"teacher model {model_id!r} is not supported; use an Anthropic Claude, Amazon Nova "
        "or Meta Llama model"
    )


def model_input(
    family: str, prompt: str, system: str | None, *, max_tokens: int, temperature: float
) -> dict[str, Any]:
    """The InvokeModel request body of one prompt for ``family``."""
    if family == "anthropic":
        body: dict[str, Any] = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "temperature": temperature,
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
        }
        if system:
            body["system"] = system
        return body
    if family == "nova":
        body = {
            "schemaVersion": "messages-v1",
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": temperature},
        }
        if system:
            body["system"] = [{"text": system}]
        return body
    text = f"{system}\n\n{prompt}" if system else prompt
    return {"prompt": text, "max_gen_len": max_tokens, "temperature": temperature}


def output_text(family: str, output: Any) -> str | None:
    """The teacher's answer in ``modelOutput`` of ``family``, or None when absent."""
    try:
        if family == "anthropic":
            parts = [c["text"] for c in output["content"] if c.get("type") == "text"]
            return "".join(parts) or None
        if family == "nova":
            parts = [c["text"] for c in output["output"]["message"]["content"] if "text" in c]
            return "".join(parts) or None
        text = output["generation"]
        return text if isinstance(text, str) and text else None
    except (KeyError, TypeError, IndexError):
        return None


def _lines(s3: Any, bucket: str, key: str) -> Iterator[str]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for raw in body.iter_lines():
        line = raw.decode("utf-8", errors="replace").strip()
        if line:
            yield line


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return sorted(keys)


PRICE_SOURCE = "SyntheticDataOptions input/output_price_per_million_tokens"
"""Where the prices of the estimate come from (the workflow's options; no price catalog)."""


def _prices(env: Mapping[str, str]) -> tuple[float, float] | None:
    input_price = env.get("INPUT_PRICE_PER_MILLION_TOKENS", "")
    output_price = env.get("OUTPUT_PRICE_PER_MILLION_TOKENS", "")
    return (float(input_price), float(output_price)) if input_price and output_price else None


def estimate_cost(
    input_chars: int, records: int, max_tokens: int, env: Mapping[str, str]
) -> dict[str, Any]:
    """Upper-bound estimate: input tokens from the characters sent, output tokens at
    ``max_tokens`` per record, at the given per-million-token prices (batch prices)."""
    input_tokens = input_chars // CHARS_PER_TOKEN
    output_tokens = records * max_tokens
    estimate: dict[str, Any] = {"inputTokens": input_tokens, "maxOutputTokens": output_tokens}
    prices = _prices(env)
    if prices is not None:
        usd = input_tokens / 1e6 * prices[0] + output_tokens / 1e6 * prices[1]
        estimate["maxUsd"] = round(usd, 4)
        estimate["priceSource"] = PRICE_SOURCE
        estimate["usdPerMillionTokens"] = {"input": prices[0], "output": prices[1]}
    else:
        estimate["maxUsd"] = None  # no prices given: tokens only
        estimate["priceSource"] = None
    return estimate


def actual_cost(manifest: Mapping[str, int] | None, env: Mapping[str, str]) -> dict[str, Any]:
    """The cost of the tokens the job's ``manifest.json.out`` reports, at the same prices."""
    if not manifest:
        return {"usd": None, "reason": "no manifest.json.out"}
    tokens = {"inputTokens": manifest.get("inputTokenCount", 0)}
    tokens["outputTokens"] = manifest.get("outputTokenCount", 0)
    prices = _prices(env)
    if prices is None:
        return {**tokens, "usd": None, "priceSource": None}
    usd = tokens["inputTokens"] / 1e6 * prices[0] + tokens["outputTokens"] / 1e6 * prices[1]
    return {**tokens, "usd": round(usd, 4), "priceSource": PRICE_SOURCE}


def control_clients() -> tuple[Any, Any]:
    """(Service Quotas, Bedrock) clients for the up-front batch limit checks."""
    return boto3.client("service-quotas"), boto3.client("bedrock")


def check_limits(
    records: int, input_bytes: int, model_id: str, env: Mapping[str, str]
) -> tuple[list[str], dict[str, Any]]:
    """The batch limits of a job of ``model_id`` (see :mod:`batch_limits`)."""
    names = json.loads(env.get("QUOTA_MODEL_NAMES", "{}") or "{}")
    quotas, bedrock = control_clients()
    return check_batch_job(
        records=records,
        input_bytes=input_bytes,
        model_id=model_id,
        model_name=names.get(model_id),
        env=env,
        quotas_client=quotas,
        bedrock_client=bedrock,
    )


def prepare(event: Mapping[str, Any], env: Mapping[str, str], s3: Any, run: str) -> dict[str, Any]:
    """Build the batch input for the prompt set ``event["promptsKey"]``."""
    key = event.get("promptsKey")
    prefix = env["PROMPT_PREFIX"]
    if not isinstance(key, str) or not key.startswith(prefix):
        raise PromptSetError(f"'promptsKey' must be a key under {prefix!r}, got {key!r}")
    family = model_family(env["TEACHER_MODEL_ID"])
    max_tokens, temperature = int(env["MAX_TOKENS"]), float(env["TEMPERATURE"])
    minimum, maximum = int(env["MIN_RECORDS"]), int(env["MAX_RECORDS"])
    pairs = env.get("OUTPUT_MODE") == "preference"
    temperatures = (temperature, float(env.get("SECOND_TEMPERATURE", temperature)))
    id_pattern = PAIR_ID if pairs else RECORD_ID
    problems: list[str] = []
    lines: list[str] = []
    input_chars = 0
    seen: set[str] = set()
    try:
        source = list(_lines(s3, env["PROMPT_BUCKET"], key))
    except s3.exceptions.NoSuchKey:
        raise PromptSetError(f"no prompt set at s3://{env['PROMPT_BUCKET']}/{key}") from None
    for number, line in enumerate(source, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"line {number}: not JSON")
            continue
        prompt = record.get("prompt") if isinstance(record, dict) else None
        if not isinstance(prompt, str) or not prompt.strip():
            problems.append(f"line {number}: 'prompt' must be a non-empty string")
            continue
        record_id = str(record.get("id", f"p{number:08d}"))
        if not id_pattern.match(record_id) or record_id in seen:
            problems.append(
                f"line {number}: id {record_id!r} is not unique letters/digits/-/_"
                + (" (at most 62 in preference mode)" if pairs else "")
            )
            continue
        seen.add(record_id)
        system = record.get("system") if isinstance(record.get("system"), str) else None
        samples = zip(SAMPLE_SUFFIXES, temperatures, strict=True) if pairs else [("", temperature)]
        for suffix, sample_temperature in samples:
            body = model_input(
                family, prompt, system, max_tokens=max_tokens, temperature=sample_temperature
            )
            lines.append(json.dumps({"recordId": f"{record_id}{suffix}", "modelInput": body}))
            input_chars += len(prompt) + len(system or "")
    count = len(lines)
    batch_input = ("\n".join(lines) + "\n").encode("utf-8")
    del lines
    what = f"{count} batch records from {len(seen)} usable prompts" if pairs else None
    if count < minimum:
        problems.append(
            f"{what or f'{count} usable prompts'}; a batch inference job needs at least "
            f"{minimum} records"
        )
    if count > maximum:
        problems.append(
            f"{what or f'{count} prompts'}; at most {maximum} records per job are allowed"
        )
    limits: dict[str, Any] | None = None
    if not problems:  # only a job that could start is worth the quota calls
        limit_problems, limits = check_limits(count, len(batch_input), env["TEACHER_MODEL_ID"], env)
        problems += limit_problems
    work = f"{env['WORK_PREFIX']}{run}/"
    result: dict[str, Any] = {
        "valid": not problems,
        "recordCount": count,
        "promptCount": len(seen),
        "problems": problems[:MAX_REASONS],
        "problemCount": len(problems),
        "jobName": f"synth-{run}"[:63],
        "inputS3Uri": f"s3://{env['WORK_BUCKET']}/{work}input/records.jsonl",
        "outputS3Uri": f"s3://{env['WORK_BUCKET']}/{work}output/",
        "costEstimate": estimate_cost(input_chars, count, max_tokens, env),
        "limits": limits,
    }
    if not problems:
        s3.put_object(Bucket=env["WORK_BUCKET"], Key=f"{work}input/records.jsonl", Body=batch_input)
    return result


def convert(event: Mapping[str, Any], env: Mapping[str, str], s3: Any, run: str) -> dict[str, Any]:
    """Turn every output part of the finished job into SFT chat records (streamed to the
    curated zone), a card, line-numbered problems and the reconciled record counts."""
    family = model_family(env["TEACHER_MODEL_ID"])
    bucket = env["WORK_BUCKET"]
    output_prefix = f"{env['WORK_PREFIX']}{run}/output/"
    scan = OutputScan()
    dataset_key = f"{env['DATASET_PREFIX']}{run}/train.jsonl"
    writer: S3StreamWriter | None = None
    records = 0
    try:
        for part, number, item in scan.items(s3, bucket, output_prefix):
            prompt = _prompt_of(family, item.get("modelInput"))
            answer = output_text(family, item.get("modelOutput"))
            if prompt is None or answer is None:
                scan.counts["no_text"] += 1
                scan.problem(part, number, f"record {item['recordId']!r}: no prompt or answer")
                continue
            messages = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": answer.strip()},
            ]
            if writer is None:  # no object at all when no answer is usable
                writer = S3StreamWriter(s3, env["PROMPT_BUCKET"], dataset_key)
            writer.write((json.dumps({"messages": messages}, ensure_ascii=False) + "\n").encode())
            records += 1
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    return _finish(event, env, s3, run, scan=scan, records=records, dataset_key=dataset_key)


def _finish(
    event: Mapping[str, Any],
    env: Mapping[str, str],
    s3: Any,
    run: str,
    *,
    scan: OutputScan,
    records: int,
    dataset_key: str,
) -> dict[str, Any]:
    expected = event.get("recordCount")
    reconciliation = scan.reconcile(expected if isinstance(expected, int) else None)
    counts = {"records": records, **dict(sorted(scan.counts.items()))}
    card = {
        "kind": "synthetic_sft",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "teacher_model_id": env["TEACHER_MODEL_ID"],
        "lineage": {
            "prompts": event.get("promptsKey"),
            "batch_job": event.get("jobArn"),
            "batch_output": f"s3://{env['WORK_BUCKET']}/{env['WORK_PREFIX']}{run}/output/",
        },
        "counts": counts,
        "reconciliation": reconciliation,
        "output_problems": scan.report(),
        "cost_estimate": event.get("costEstimate"),
        "cost_actual": actual_cost(reconciliation["manifest"], env),
        "limits": event.get("limits"),
    }
    s3.put_object(
        Bucket=env["PROMPT_BUCKET"],
        Key=f"{env['DATASET_PREFIX']}{run}/dataset_card.json",
        Body=json.dumps(card, indent=2).encode("utf-8"),
    )
    return {
        "trainingDataKey": dataset_key,
        "records": records,
        "counts": counts,
        "reconciled": reconciliation["consistent"],
        "reconciliation": reconciliation,
        **scan.report(),
        "costActual": card["cost_actual"],
    }


def _prompt_of(family: str, body: Any) -> str | None:
    try:
        if family == "anthropic":
            return str(body["messages"][0]["content"][0]["text"])
        if family == "nova":
            return str(body["messages"][0]["content"][0]["text"])
        return str(body["prompt"])
    except (KeyError, TypeError, IndexError):
        return None


def prepare_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    return prepare(event, os.environ, boto3.client("s3"), str(event["run"]))


def convert_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    return convert(event, os.environ, boto3.client("s3"), str(event["run"]))
