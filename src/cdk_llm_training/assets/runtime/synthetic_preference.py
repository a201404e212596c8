"""Preference pairs from a teacher's two samples per prompt, judged by a model.

Used by the synthetic-data workflow when ``OUTPUT_MODE`` is ``preference``; plain boto3.

``judge_handler`` reads the sample batch output (records ``<id>-a`` and ``<id>-b``), pairs
the two answers of each prompt (a prompt with a missing or failed sample, or two identical
answers, gives no pair and is counted), writes the pairs to ``<work><run>/pairs.jsonl`` and
then either writes a judge batch input (one record per pair, when there are at least
``MIN_RECORDS`` pairs, so Bedrock accepts the job) or, below that minimum, judges the few
pairs itself with InvokeModel and writes the verdicts in the batch output's line shape
(``{"recordId", "modelInput", "modelOutput"}``) under the same judge output prefix. Either
way ``convert_handler`` reads one layout.

The judge sees the two answers in an order fixed per prompt id (CRC32 parity), so half the
pairs show sample ``b`` first: a judge's position bias does not always favour one
temperature. It must end with ``VERDICT: A``, ``VERDICT: B`` or ``VERDICT: TIE``; ties,
judge errors and unparsable verdicts are dropped and counted in the card.

Environment (besides the ``synthetic_data`` module's): ``JUDGE_MODEL_ID``,
``SECOND_TEMPERATURE``.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING or __package__:  # imported from the installed package (tests, tools)
    from cdk_llm_training.assets.runtime.batch_output import OutputScan
    from cdk_llm_training.assets.runtime.synthetic_data import (
        SAMPLE_SUFFIXES,
        PromptSetError,
        _lines,
        _prompt_of,
        actual_cost,
        check_limits,
        model_family,
        model_input,
        output_text,
    )
else:  # in Lambda, this folder is the code root
    from batch_output import OutputScan
    from synthetic_data import (
        SAMPLE_SUFFIXES,
        PromptSetError,
        _lines,
        _prompt_of,
        actual_cost,
        check_limits,
        model_family,
        model_input,
        output_text,
    )

PAIRS_FILE = "pairs.jsonl"
JUDGE_OUTPUT = "judge-output/"
JUDGE_MAX_TOKENS = 300
DIRECT_JUDGE_WORKERS = 4
"""Concurrent InvokeModel calls when judging below the batch minimum (few, to stay under the
on-demand request quotas; throttled calls are retried by the client's adaptive retries)."""
DIRECT_JUDGE_LIMIT = 500
"""Most pairs judged inside one Lambda run: at a few seconds per call and four at a time,
about ten minutes of the Lambda's fifteen (an estimate, not measured)."""
VERDICT = re.compile(r"VERDICT:\s*(A|B|TIE)\s*$", re.IGNORECASE)
MAX_PROBLEMS = 20


class BatchLimitError(PromptSetError):
    """The judge batch job would break a Bedrock batch limit (checked before it is created)."""


RUBRIC = (
    "You compare two answers to the same user prompt. Judge them by, in this order: "
    "correctness and truthfulness; following every instruction in the prompt; helpfulness "
    "and completeness; clarity and concision. Do not prefer an answer for its length or for "
    "the order in which it is shown. Write one or two sentences of reasoning, then a last "
    "line that is exactly one of: VERDICT: A, VERDICT: B, VERDICT: TIE."
)
"""The judge's fixed rubric (its system prompt); recorded in the dataset card."""


class Judge:
    """The judge model of ``JUDGE_MODEL_ID`` (temperature 0: a repeatable verdict)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.model_id = env["JUDGE_MODEL_ID"]
        self.family = model_family(self.model_id)

    def body(self, pair: Mapping[str, Any]) -> dict[str, Any]:
        """The request body asking for a verdict on ``pair`` (answers in shown order)."""
        first, second = shown_order(pair)
        text = (
            f"<prompt>\n{pair['prompt']}\n</prompt>\n\n"
            f"<answer_a>\n{first}\n</answer_a>\n\n<answer_b>\n{second}\n</answer_b>"
        )
        return model_input(self.family, text, RUBRIC, max_tokens=JUDGE_MAX_TOKENS, temperature=0.0)


def b_shown_first(pair_id: str) -> bool:
    return zlib.crc32(pair_id.encode("utf-8")) % 2 == 1


def shown_order(pair: Mapping[str, Any]) -> tuple[str, str]:
    """The two answers as the judge sees them (A, B)."""
    if b_shown_first(pair["id"]):
        return pair["b"], pair["a"]
    return pair["a"], pair["b"]


def parse_verdict(text: str | None) -> str | None:
    """``A``, ``B`` or ``TIE`` from the judge's last non-empty line; None if absent."""
    if not text:
        return None
    lines = [line.strip().strip("*`").strip() for line in text.splitlines() if line.strip()]
    match = VERDICT.search(lines[-1]) if lines else None
    return match.group(1).upper() if match else None


def make_pairs(samples: Mapping[str, Any]) -> tuple[list[dict[str, Any]], Counter[str]]:
    """One ``{"id", "prompt", "a", "b"}`` per prompt with two different answers."""
    pairs: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for pair_id in sorted(samples):
        entry = samples[pair_id]
        if entry["prompt"] is None or entry["a"] is None or entry["b"] is None:
            counts["one_sample_missing"] += 1
        elif entry["a"] == entry["b"]:
            counts["identical_samples"] += 1
        else:
            pairs.append({"id": pair_id, **entry})
    return pairs, counts


def judge_record(judge: Judge, pair: Mapping[str, Any]) -> dict[str, Any]:
    return {"recordId": pair["id"], "modelInput": judge.body(pair)}


def judge_directly(judge: Judge, pairs: list[dict[str, Any]], runtime: Any) -> list[Any]:
    """InvokeModel per pair; every result in the batch output's line shape."""

    def one(pair: dict[str, Any]) -> dict[str, Any]:
        body = judge.body(pair)
        try:
            response = runtime.invoke_model(
                modelId=judge.model_id,
                body=json.dumps(body),
                contentType="application/json",
                accept="application/json",
            )
            output = json.loads(response["body"].read())
        except runtime.exceptions.ValidationException as error:  # this record only
            return {
                "recordId": pair["id"],
                "modelInput": body,
                "error": {"errorMessage": str(error)},
            }
        return {"recordId": pair["id"], "modelInput": body, "modelOutput": output}

    with ThreadPoolExecutor(max_workers=DIRECT_JUDGE_WORKERS) as pool:
        return list(pool.map(one, pairs))


def preference_records(
    pairs: Mapping[str, Any], judgments: Mapping[str, Any], judge: Judge
) -> tuple[list[dict[str, str]], Counter[str]]:
    """``{"prompt", "chosen", "rejected"}`` per pair with a clear verdict."""
    records: list[dict[str, str]] = []
    counts: Counter[str] = Counter()
    for pair_id in sorted(pairs):
        pair = pairs[pair_id]
        item = judgments.get(pair_id)
        if item is None:
            counts["judgments_missing"] += 1
            continue
        if "error" in item:
            counts["judge_errors"] += 1
            continue
        verdict = parse_verdict(output_text(judge.family, item.get("modelOutput")))
        if verdict is None:
            counts["judgments_unparsable"] += 1
            continue
        if verdict == "TIE":
            counts["ties"] += 1
            continue
        first, second = shown_order(pair)
        chosen, rejected = (first, second) if verdict == "A" else (second, first)
        counts["chosen_" + ("a" if chosen == pair["a"] else "b")] += 1
        records.append({"prompt": pair["prompt"], "chosen": chosen, "rejected": rejected})
    return records, counts


def convert(event: Mapping[str, Any], env: Mapping[str, str], s3: Any, run: str) -> dict[str, Any]:
    """Preference records from the pairs file and the judge's verdicts (batch or direct)."""
    work = f"{env['WORK_PREFIX']}{run}/"
    bucket = env["WORK_BUCKET"]
    judge = Judge(env)
    pairs = {p["id"]: p for p in (json.loads(x) for x in _lines(s3, bucket, f"{work}{PAIRS_FILE}"))}
    judgments: dict[str, Any] = {}
    scan = OutputScan()  # error lines are counted there and below as judge_errors
    for _, _, item in scan.items(s3, bucket, f"{work}{JUDGE_OUTPUT}"):
        judgments[item["recordId"]] = item
    records, counts = preference_records(pairs, judgments, judge)
    counts["judge_errors"] += scan.counts["record_errors"]
    counts["judge_unparsable"] += scan.counts["unparsable"] + scan.counts["duplicate_records"]
    counts["judgments_missing"] -= scan.counts["record_errors"]
    counts = +counts  # drop zero counts
    dataset_key = f"{env['DATASET_PREFIX']}{run}/train.jsonl"
    if records:
        body = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"
        s3.put_object(Bucket=env["PROMPT_BUCKET"], Key=dataset_key, Body=body.encode("utf-8"))
    judging = event.get("judging", {}) if isinstance(event, dict) else {}
    sampling = judging.get("counts", {})
    all_counts = {"records": len(records), **dict(sorted({**sampling, **counts}.items()))}
    judged = scan.reconcile(judging.get("pairCount") if judging.get("batch") else None)
    samples = judging.get("reconciliation") or {"consistent": True, "mismatches": []}
    reconciliation = {
        "consistent": bool(samples["consistent"] and judged["consistent"]),
        "samples": samples,
        "judge": judged,
    }
    card = {
        "kind": "synthetic_preference",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "teacher_model_id": env["TEACHER_MODEL_ID"],
        "judge_model_id": judge.model_id,
        "judge_rubric": RUBRIC,
        "sample_temperatures": [float(env["TEMPERATURE"]), float(env["SECOND_TEMPERATURE"])],
        "lineage": {
            "prompts": event.get("promptsKey"),
            "batch_job": event.get("jobArn"),
            "judge_output": f"s3://{bucket}/{work}{JUDGE_OUTPUT}",
            "batch_output": f"s3://{bucket}/{work}",
        },
        "counts": all_counts,
        "reconciliation": reconciliation,
        "output_problems": {
            "samples": judging.get("problems", []),
            "judge": scan.report()["problems"],
        },
        "cost_estimate": event.get("costEstimate"),
        "cost_actual": {
            "samples": actual_cost(samples.get("manifest"), env),
            "judge": actual_cost(judged["manifest"], env),
        },
        "limits": {"samples": event.get("limits"), "judge": judging.get("limits")},
    }
    s3.put_object(
        Bucket=env["PROMPT_BUCKET"],
        Key=f"{env['DATASET_PREFIX']}{run}/dataset_card.json",
        Body=json.dumps(card, indent=2).encode("utf-8"),
    )
    problems = [*judging.get("problems", []), *scan.report()["problems"]][:MAX_PROBLEMS]
    return {
        "trainingDataKey": dataset_key,
        "records": len(records),
        "counts": all_counts,
        "reconciled": reconciliation["consistent"],
        "reconciliation": {"samples": samples, "judge": judged},
        "problems": problems,
        "problemCount": int(judging.get("problemCount", 0)) + scan.problem_count,
        "costActual": card["cost_actual"],
    }


def read_samples(
    env: Mapping[str, str], s3: Any, run: str
) -> tuple[dict[str, Any], Counter[str], OutputScan]:
    """Per prompt id: the prompt and the text of samples ``a`` and ``b`` (None if missing),
    from every output part of the sample job, with the scan's counts and problems."""
    family = model_family(env["TEACHER_MODEL_ID"])
    bucket = env["WORK_BUCKET"]
    scan = OutputScan()
    samples: dict[str, Any] = {}
    for part, number, item in scan.items(s3, bucket, f"{env['WORK_PREFIX']}{run}/output/"):
        record_id = item["recordId"]
        if record_id[-2:] not in SAMPLE_SUFFIXES:
            scan.counts["unparsable"] += 1
            scan.problem(part, number, f"record {record_id!r} is not a sample -a/-b")
            continue
        entry = samples.setdefault(record_id[:-2], {"prompt": None, "a": None, "b": None})
        prompt = _prompt_of(family, item.get("modelInput"))
        answer = output_text(family, item.get("modelOutput"))
        if prompt is None or answer is None:
            scan.counts["no_text"] += 1
            scan.problem(part, number, f"record {record_id!r}: no prompt or answer")
            continue
        entry["prompt"] = prompt
        entry[record_id[-1]] = answer.strip()
    for record_id in scan.record_ids:  # a failed sample still leaves its prompt unpaired
        if record_id[-2:] in SAMPLE_SUFFIXES:
            samples.setdefault(record_id[:-2], {"prompt": None, "a": None, "b": None})
    counts = Counter({k: v for k, v in scan.counts.items() if k != "model_outputs"})
    return samples, counts, scan


def judge_prepare(
    event: Mapping[str, Any], env: Mapping[str, str], s3: Any, run: str, runtime: Any
) -> dict[str, Any]:
    """Pair the samples; judge them in a batch job (input written here) or, under the batch
    minimum, directly with ``runtime`` (a bedrock-runtime client) into the same output shape."""
    samples, counts, scan = read_samples(env, s3, run)
    expected = event.get("recordCount")
    pairs, pair_counts = make_pairs(samples)
    counts.update(pair_counts)
    judge = Judge(env)
    work = f"{env['WORK_PREFIX']}{run}/"
    bucket = env["WORK_BUCKET"]
    body = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
    s3.put_object(Bucket=bucket, Key=f"{work}{PAIRS_FILE}", Body=body.encode("utf-8"))
    batch = len(pairs) >= int(env["MIN_RECORDS"])
    if len(pairs) > int(env["MAX_RECORDS"]):
        raise PromptSetError(f"{len(pairs)} pairs; at most {env['MAX_RECORDS']} per job")
    limits: dict[str, Any] | None = None
    if batch:
        judge_input = sum(len(json.dumps(judge_record(judge, p))) + 1 for p in pairs)
        problems, limits = check_limits(len(pairs), judge_input, judge.model_id, env)
        if problems:
            raise BatchLimitError("judge batch job refused up front: " + "; ".join(problems))
    result: dict[str, Any] = {
        "batch": batch,
        "pairCount": len(pairs),
        "counts": dict(sorted(counts.items())),
        "reconciliation": scan.reconcile(expected if isinstance(expected, int) else None),
        **scan.report(),
        "limits": limits,
        "inputS3Uri": f"s3://{bucket}/{work}judge-input/records.jsonl",
        "outputS3Uri": f"s3://{bucket}/{work}{JUDGE_OUTPUT}",
    }
    if batch:
        lines = [json.dumps(judge_record(judge, p)) for p in pairs]
        s3.put_object(
            Bucket=bucket,
            Key=f"{work}judge-input/records.jsonl",
            Body=("\n".join(lines) + "\n").encode("utf-8"),
        )
    elif len(pairs) > DIRECT_JUDGE_LIMIT:
        raise PromptSetError(
            f"{len(pairs)} pairs are under MIN_RECORDS {env['MIN_RECORDS']} (no batch job) but "
            f"over {DIRECT_JUDGE_LIMIT} (too many to judge in one Lambda run); set min_records "
            "to the judge model's real batch minimum"
        )
    elif pairs:
        outputs = judge_directly(judge, pairs, runtime)
        s3.put_object(
            Bucket=bucket,
            Key=f"{work}{JUDGE_OUTPUT}direct/records.jsonl.out",
            Body=("\n".join(json.dumps(o) for o in outputs) + "\n").encode("utf-8"),
        )
    return result


def convert_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    return convert(event, os.environ, boto3.client("s3"), str(event["run"]))


def judge_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    return judge_prepare(
        event, os.environ, boto3.client("s3"), str(event["run"]), _bedrock_runtime()
    )


def _bedrock_runtime() -> Any:
    retries = Config(retries={"mode": "adaptive", "max_attempts": 8})
    return boto3.client("bedrock-runtime", config=retries)
