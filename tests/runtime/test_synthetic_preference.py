"""Preference mode of the synthetic-data Lambdas on moto S3: two samples per prompt, pairing,
the judge's input (batch) or direct calls (under the batch minimum), verdict parsing and the
preference records, with Bedrock outputs faked in the batch output's line shape."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import synthetic_data as sd
from cdk_llm_training.assets.runtime import synthetic_preference as sp
from cdk_llm_training.assets.runtime.dataset_validation import check_preference

TEACHER = "anthropic.claude-3-haiku-20240307-v1:0"
JUDGE = "amazon.nova-lite-v1:0"
ENV = {
    "PROMPT_BUCKET": "curated",
    "PROMPT_PREFIX": "synthetic/prompts/",
    "WORK_BUCKET": "artifacts",
    "WORK_PREFIX": "synthetic/batch/",
    "DATASET_PREFIX": "finetune/synthetic/",
    "TEACHER_MODEL_ID": TEACHER,
    "MAX_TOKENS": "512",
    "TEMPERATURE": "0.7",
    "MIN_RECORDS": "100",
    "MAX_RECORDS": "50000",
    "INPUT_PRICE_PER_MILLION_TOKENS": "",
    "OUTPUT_PRICE_PER_MILLION_TOKENS": "",
    "OUTPUT_MODE": "preference",
    "SECOND_TEMPERATURE": "1.0",
    "JUDGE_MODEL_ID": JUDGE,
}
OUTPUT = "synthetic/batch/{run}/output/job123/records.jsonl.out"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="curated")
        client.create_bucket(Bucket="artifacts")
        yield client


class _NoQuotas:
    """Service Quotas and Bedrock control-plane clients with nothing to report."""

    def list_service_quotas(self, **_: Any) -> dict[str, Any]:
        return {"Quotas": []}

    def list_model_invocation_jobs(self, **_: Any) -> dict[str, Any]:
        return {"invocationJobSummaries": []}


@pytest.fixture(autouse=True)
def _no_quotas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sd, "control_clients", lambda: (_NoQuotas(), _NoQuotas()))


def _sample(record_id: str, prompt: str, text: str | None) -> str:
    """One line of the sample job's output (Anthropic Messages), or an error line."""
    body = sd.model_input("anthropic", prompt, None, max_tokens=512, temperature=0.7)
    if text is None:
        error = {"errorCode": 400, "errorMessage": "Malformed input request"}
        return json.dumps({"recordId": record_id, "modelInput": body, "error": error})
    output = {"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"}
    return json.dumps({"recordId": record_id, "modelInput": body, "modelOutput": output})


def _put_samples(s3: Any, run: str, lines: list[str]) -> None:
    s3.put_object(Bucket="artifacts", Key=OUTPUT.format(run=run), Body="\n".join(lines) + "\n")
    manifest = OUTPUT.format(run=run).replace("records.jsonl.out", "manifest.json.out")
    s3.put_object(Bucket="artifacts", Key=manifest, Body="{}")


def _nova_output(text: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
    }


def _read(s3: Any, bucket: str, key: str) -> str:
    return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def test_prepare_asks_for_two_samples_per_prompt(s3: Any) -> None:
    prompts = "\n".join(json.dumps({"prompt": f"Q{i}?", "id": f"q{i}"}) for i in range(50))
    s3.put_object(Bucket="curated", Key="synthetic/prompts/p.jsonl", Body=prompts)
    result = sd.prepare({"promptsKey": "synthetic/prompts/p.jsonl"}, ENV, s3, "r1")
    assert (result["valid"], result["recordCount"], result["promptCount"]) == (True, 100, 50)
    lines = _read(s3, "artifacts", "synthetic/batch/r1/input/records.jsonl").splitlines()
    first, second = (json.loads(x) for x in lines[:2])
    assert (first["recordId"], second["recordId"]) == ("q0-a", "q0-b")
    assert first["modelInput"]["temperature"] == 0.7
    assert second["modelInput"]["temperature"] == 1.0
    assert first["modelInput"]["messages"] == second["modelInput"]["messages"]


def test_prepare_counts_records_not_prompts_and_limits_ids(s3: Any) -> None:
    lines = [{"prompt": "Q?", "id": "x" * 63}] + [{"prompt": f"Q{i}?"} for i in range(49)]
    s3.put_object(
        Bucket="curated",
        Key="synthetic/prompts/p.jsonl",
        Body="\n".join(json.dumps(x) for x in lines),
    )
    result = sd.prepare({"promptsKey": "synthetic/prompts/p.jsonl"}, ENV, s3, "r2")
    assert result["valid"] is False
    assert result["problems"] == [
        f"line 1: id {'x' * 63!r} is not unique letters/digits/-/_ (at most 62 in preference mode)",
        "98 batch records from 49 usable prompts; a batch inference job needs at least 100 records",
    ]


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("A is correct.\nVERDICT: A", "A"),
        ("Both fine.\n\n**VERDICT: TIE**\n", "TIE"),
        ("reasoning\nverdict: b", "B"),
        ("VERDICT: A\nOn second thought, B.", None),
        ("VERDICT: C", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_verdict_reads_only_the_last_line(text: str | None, verdict: str | None) -> None:
    assert sp.parse_verdict(text) == verdict


def _first_shown(pair_id: str) -> str:
    return "b" if sp.b_shown_first(pair_id) else "a"


def test_pairing_writes_a_judge_batch_input_at_the_minimum(s3: Any) -> None:
    lines = []
    for i in range(102):
        lines += [
            _sample(f"p{i}-a", f"Q{i}?", f"short {i}"),
            _sample(f"p{i}-b", f"Q{i}?", f"long {i}"),
        ]
    lines[-1] = _sample("p101-b", "Q101?", None)  # one sample failed
    lines[-3] = _sample("p100-b", "Q100?", "short 100")  # same answer twice
    lines.append("{broken")
    _put_samples(s3, "r3", lines)
    result = sp.judge_prepare({}, ENV, s3, "r3", runtime=None)
    assert result["batch"] is True
    assert result["pairCount"] == 100
    assert result["counts"] == {
        "identical_samples": 1,
        "one_sample_missing": 1,
        "output_lines": 205,
        "output_parts": 1,
        "record_errors": 1,
        "unparsable": 1,
    }
    assert result["inputS3Uri"] == "s3://artifacts/synthetic/batch/r3/judge-input/records.jsonl"
    judge_lines = _read(s3, "artifacts", "synthetic/batch/r3/judge-input/records.jsonl")
    records = [json.loads(x) for x in judge_lines.splitlines()]
    assert len(records) == 100
    by_id = {r["recordId"]: r["modelInput"] for r in records}
    body = by_id["p7"]  # a Nova request body: the judge is another family than the teacher
    assert body["system"] == [{"text": sp.RUBRIC}]
    assert body["inferenceConfig"]["temperature"] == 0.0
    text = body["messages"][0]["content"][0]["text"]
    shown = "short 7" if _first_shown("p7") == "a" else "long 7"
    assert text.index(f"<answer_a>\n{shown}\n</answer_a>") > text.index("<prompt>\nQ7?\n")
    orders = {_first_shown(f"p{i}") for i in range(100)}
    assert orders == {"a", "b"}  # both orders occur


class FakeRuntime:
    """bedrock-runtime InvokeModel with a Nova response per call (in call order)."""

    class exceptions:  # noqa: N801 - the boto3 client attribute name
        class ValidationException(Exception):  # noqa: N818 - the Bedrock error name
            pass

    def __init__(self, answers: dict[str, str | None]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def invoke_model(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        text = json.loads(params["body"])["messages"][0]["content"][0]["text"]
        prompt = text.split("\n")[1]
        answer = self.answers[prompt]
        if answer is None:
            raise self.exceptions.ValidationException("input too long")
        return {"body": io.BytesIO(json.dumps(_nova_output(answer)).encode())}


def test_small_sets_are_judged_directly_and_converted(s3: Any) -> None:
    lines = []
    for i in range(5):
        lines += [
            _sample(f"p{i}-a", f"Q{i}?", f"good {i}"),
            _sample(f"p{i}-b", f"Q{i}?", f"bad {i}"),
        ]
    _put_samples(s3, "r4", lines)

    def good_is(pair_id: str) -> str:  # the letter the good answer is shown under
        return "A" if _first_shown(pair_id) == "a" else "B"

    runtime = FakeRuntime(
        {
            "Q0?": f"Good one is clearer.\nVERDICT: {good_is('p0')}",
            "Q1?": f"VERDICT: {good_is('p1')}",
            "Q2?": "Equal.\nVERDICT: TIE",
            "Q3?": "I cannot decide which is better.",
            "Q4?": None,
        }
    )
    judging = sp.judge_prepare({}, ENV, s3, "r4", runtime)
    assert (judging["batch"], judging["pairCount"]) == (False, 5)
    assert len(runtime.calls) == 5
    assert {c["modelId"] for c in runtime.calls} == {JUDGE}
    result = sp.convert(
        {"judging": judging, "promptsKey": "synthetic/prompts/p.jsonl"}, ENV, s3, "r4"
    )
    assert result["records"] == 2
    assert result["counts"] == {
        "chosen_a": 2,
        "judge_errors": 1,
        "judgments_unparsable": 1,
        "output_lines": 10,
        "output_parts": 1,
        "records": 2,
        "ties": 1,
    }
    body = _read(s3, "curated", "finetune/synthetic/r4/train.jsonl")
    records = [json.loads(x) for x in body.splitlines()]
    assert records == [
        {"prompt": "Q0?", "chosen": "good 0", "rejected": "bad 0"},
        {"prompt": "Q1?", "chosen": "good 1", "rejected": "bad 1"},
    ]
    assert all(check_preference(r) == [] for r in records)
    card = json.loads(_read(s3, "curated", "finetune/synthetic/r4/dataset_card.json"))
    assert card["kind"] == "synthetic_preference"
    assert card["judge_model_id"] == JUDGE
    assert card["judge_rubric"] == sp.RUBRIC
    assert card["sample_temperatures"] == [0.7, 1.0]
    assert card["counts"]["ties"] == 1


def test_batch_verdicts_missing_or_failed_are_counted(s3: Any) -> None:
    pairs = [{"id": f"p{i}", "prompt": f"Q{i}?", "a": f"x{i}", "b": f"y{i}"} for i in range(3)]
    work = "synthetic/batch/r5/"
    s3.put_object(
        Bucket="artifacts",
        Key=f"{work}pairs.jsonl",
        Body="".join(json.dumps(p) + "\n" for p in pairs),
    )
    judge = sp.Judge(ENV)
    lines = [
        {
            "recordId": "p0",
            "modelInput": judge.body(pairs[0]),
            "modelOutput": _nova_output("VERDICT: B"),
        },
        {"recordId": "p1", "modelInput": judge.body(pairs[1]), "error": {"errorCode": 500}},
    ]
    s3.put_object(
        Bucket="artifacts",
        Key=f"{work}judge-output/judgejob/records.jsonl.out",
        Body="\n".join(json.dumps(x) for x in lines) + "\n{broken\n",
    )
    result = sp.convert({}, ENV, s3, "r5")
    assert result["counts"] == {
        f"chosen_{'a' if _first_shown('p0') == 'b' else 'b'}": 1,
        "judge_errors": 1,
        "judge_unparsable": 1,
        "judgments_missing": 1,
        "records": 1,
    }
    (record,) = [
        json.loads(x)
        for x in _read(s3, "curated", "finetune/synthetic/r5/train.jsonl").splitlines()
    ]
    first, second = sp.shown_order(pairs[0])
    assert record == {"prompt": "Q0?", "chosen": second, "rejected": first}


def test_no_pairs_means_no_judge_and_no_dataset(s3: Any) -> None:
    _put_samples(s3, "r6", [_sample("p0-a", "Q?", "only one")])
    runtime = FakeRuntime({})
    judging = sp.judge_prepare({}, ENV, s3, "r6", runtime)
    assert (judging["batch"], judging["pairCount"], runtime.calls) == (False, 0, [])
    result = sp.convert({"judging": judging}, ENV, s3, "r6")
    assert result["records"] == 0
    assert result["counts"]["one_sample_missing"] == 1
    listing = s3.list_objects_v2(Bucket="curated", Prefix="finetune/synthetic/r6/")
    assert [o["Key"] for o in listing["Contents"]] == ["finetune/synthetic/r6/dataset_card.json"]


def test_too_many_pairs_for_direct_judging_are_refused(s3: Any) -> None:
    lines = []
    for i in range(sp.DIRECT_JUDGE_LIMIT + 1):
        lines += [_sample(f"p{i}-a", "Q?", f"x{i}"), _sample(f"p{i}-b", "Q?", f"y{i}")]
    _put_samples(s3, "r7", lines)
    runtime = FakeRuntime({})
    with pytest.raises(sd.PromptSetError, match="too many to judge in one Lambda run"):
        sp.judge_prepare({}, {**ENV, "MIN_RECORDS": "1000"}, s3, "r7", runtime)
    assert runtime.calls == []
