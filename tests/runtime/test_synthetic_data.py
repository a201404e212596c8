"""The synthetic-data Lambdas on moto S3: batch input building, record-count checks, output
parsing per teacher family, failure cases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import synthetic_data as sd

ENV = {
    "PROMPT_BUCKET": "curated",
    "PROMPT_PREFIX": "synthetic/prompts/",
    "WORK_BUCKET": "artifacts",
    "WORK_PREFIX": "synthetic/batch/",
    "DATASET_PREFIX": "finetune/synthetic/",
    "TEACHER_MODEL_ID": "anthropic.claude-3-haiku-20240307-v1:0",
    "MAX_TOKENS": "512",
    "TEMPERATURE": "0.7",
    "MIN_RECORDS": "100",
    "MAX_RECORDS": "50000",
    "INPUT_PRICE_PER_MILLION_TOKENS": "0.125",
    "OUTPUT_PRICE_PER_MILLION_TOKENS": "0.625",
}


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


def _put_prompts(s3: Any, lines: list[Any], key: str = "synthetic/prompts/set.jsonl") -> str:
    body = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    s3.put_object(Bucket="curated", Key=key, Body=body)
    return key


def test_prepare_writes_one_record_per_prompt(s3: Any) -> None:
    key = _put_prompts(
        s3, [{"prompt": f"Question {i}?", "system": "Be brief."} for i in range(120)]
    )
    result = sd.prepare({"promptsKey": key}, ENV, s3, "run1")
    assert result["valid"] is True
    assert result["recordCount"] == 120
    assert result["inputS3Uri"] == "s3://artifacts/synthetic/batch/run1/input/records.jsonl"
    body = s3.get_object(Bucket="artifacts", Key="synthetic/batch/run1/input/records.jsonl")
    records = [json.loads(line) for line in body["Body"].read().decode().splitlines()]
    assert records[0] == {
        "recordId": "p00000001",
        "modelInput": {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 512,
            "temperature": 0.7,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Question 0?"}]}],
            "system": "Be brief.",
        },
    }
    estimate = result["costEstimate"]
    assert estimate["maxOutputTokens"] == 120 * 512
    assert estimate["maxUsd"] == pytest.approx(
        estimate["inputTokens"] / 1e6 * 0.125 + 120 * 512 / 1e6 * 0.625, abs=1e-4
    )


def test_too_few_prompts_is_refused_and_nothing_written(s3: Any) -> None:
    key = _put_prompts(s3, [{"prompt": "Only one."}, "not json", {"prompt": ""}, {"id": "x"}])
    result = sd.prepare({"promptsKey": key}, ENV, s3, "run2")
    assert result["valid"] is False
    assert result["problems"] == [
        "line 2: not JSON",
        "line 3: 'prompt' must be a non-empty string",
        "line 4: 'prompt' must be a non-empty string",
        "1 usable prompts; a batch inference job needs at least 100 records",
    ]
    assert "Contents" not in s3.list_objects_v2(Bucket="artifacts")


def test_too_many_prompts_and_duplicate_ids(s3: Any) -> None:
    env = {**ENV, "MIN_RECORDS": "1", "MAX_RECORDS": "2"}
    key = _put_prompts(
        s3,
        [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]
        + [{"prompt": f"p{i}"} for i in range(2)],
    )
    result = sd.prepare({"promptsKey": key}, env, s3, "run3")
    assert result["valid"] is False
    assert "line 2: id 'a' is not unique letters/digits/-/_" in result["problems"]
    assert "3 prompts; at most 2 records per job are allowed" in result["problems"]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"promptsKey": "elsewhere/set.jsonl"}, "must be a key under"),
        ({}, "must be a key under"),
        ({"promptsKey": "synthetic/prompts/missing.jsonl"}, "no prompt set"),
    ],
)
def test_unusable_input_raises(s3: Any, event: dict[str, Any], message: str) -> None:
    with pytest.raises(sd.PromptSetError, match=message):
        sd.prepare(event, ENV, s3, "run4")


def test_unsupported_teacher_is_refused() -> None:
    with pytest.raises(sd.PromptSetError, match="not supported"):
        sd.model_family("cohere.command-r-v1:0")
    assert sd.model_family("us.anthropic.claude-3-5-haiku-20241022-v1:0") == "anthropic"
    assert sd.model_family("amazon.nova-pro-v1:0") == "nova"
    assert sd.model_family("meta.llama3-1-70b-instruct-v1:0") == "llama"


OUTPUTS = {
    "anthropic.claude-3-haiku-20240307-v1:0": {
        "content": [{"type": "text", "text": " The answer. "}],
        "stop_reason": "end_turn",
    },
    "amazon.nova-lite-v1:0": {
        "output": {"message": {"role": "assistant", "content": [{"text": "The answer."}]}},
        "stopReason": "end_turn",
    },
    "meta.llama3-1-70b-instruct-v1:0": {"generation": "The answer.", "stop_reason": "stop"},
}


@pytest.mark.parametrize("model_id", sorted(OUTPUTS))
def test_convert_parses_each_family_and_counts_errors(s3: Any, model_id: str) -> None:
    env = {**ENV, "TEACHER_MODEL_ID": model_id}
    family = sd.model_family(model_id)
    model_input = sd.model_input(family, "What is LoRA?", None, max_tokens=64, temperature=0.0)
    lines = [
        json.dumps({"recordId": "a", "modelInput": model_input, "modelOutput": OUTPUTS[model_id]}),
        json.dumps(
            {
                "recordId": "b",
                "modelInput": model_input,
                "error": {"errorCode": 400, "errorMessage": "Malformed input"},
            }
        ),
        json.dumps({"recordId": "c", "modelInput": model_input, "modelOutput": {}}),
        "{broken",
    ]
    prefix = "synthetic/batch/run5/output/abcdef123456/"
    s3.put_object(Bucket="artifacts", Key=f"{prefix}records.jsonl.out", Body="\n".join(lines))
    s3.put_object(Bucket="artifacts", Key=f"{prefix}manifest.json.out", Body="{}")
    result = sd.convert({"promptsKey": "synthetic/prompts/set.jsonl"}, env, s3, "run5")
    assert result["records"] == 1
    assert result["counts"] == {
        "model_outputs": 2,
        "no_text": 1,
        "output_lines": 4,
        "output_parts": 1,
        "record_errors": 1,
        "records": 1,
        "unparsable": 1,
    }
    assert result["problems"] == [
        "abcdef123456/records.jsonl.out line 2: record 'b' failed: 400 Malformed input",
        "abcdef123456/records.jsonl.out line 3: record 'c': no prompt or answer",
        "abcdef123456/records.jsonl.out line 4: not JSON",
    ]
    assert result["reconciled"] is False  # the empty manifest counts no success
    body = s3.get_object(Bucket="curated", Key="finetune/synthetic/run5/train.jsonl")["Body"]
    (record,) = [json.loads(line) for line in body.read().decode().splitlines()]
    assert record == {
        "messages": [
            {"role": "user", "content": "What is LoRA?"},
            {"role": "assistant", "content": "The answer."},
        ]
    }
    card = json.loads(
        s3.get_object(Bucket="curated", Key="finetune/synthetic/run5/dataset_card.json")[
            "Body"
        ].read()
    )
    assert card["teacher_model_id"] == model_id
    assert card["counts"]["records"] == 1


def test_convert_with_no_usable_output_writes_no_dataset(s3: Any) -> None:
    result = sd.convert({}, ENV, s3, "run6")
    assert result["records"] == 0
    listing = s3.list_objects_v2(Bucket="curated", Prefix="finetune/synthetic/run6/")
    assert [o["Key"] for o in listing["Contents"]] == ["finetune/synthetic/run6/dataset_card.json"]
