"""The evaluation prompt catalog validator and converter (streaming core reused; moto S3)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import dataset_validation, evaluation_prompts
from cdk_llm_training.config.model_evaluation import EvaluationPrompt

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

GOOD: list[dict[str, Any]] = [
    {"prompt": "What is 17 * 23?", "reference": "391", "task_type": "QuestionAndAnswer",
     "tags": ["math"], "id": "q1"},
    {"prompt": "Write a haiku about rain."},
]  # fmt: skip


def _stream(rows: list[Any]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode())


def test_format_is_registered_in_the_streaming_core() -> None:
    assert "evaluation_prompt" in dataset_validation.record_formats()
    assert dataset_validation.format_checker("evaluation_prompt") is (
        evaluation_prompts.check_evaluation_prompt
    )


def test_valid_catalog() -> None:
    report = evaluation_prompts.validate_catalog(_stream(GOOD), key="k")
    assert report.valid
    assert report.records == 2


def test_runtime_checker_agrees_with_the_config_model() -> None:
    for row in GOOD:
        EvaluationPrompt.model_validate(row)
        assert evaluation_prompts.check_evaluation_prompt(row) == []


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"prompt": ""}, "'prompt' must be a non-empty string"),
        ({"prompt": "p", "reference": 3}, "'reference' must be a string"),
        (
            {"prompt": "p", "task_type": "Chat"},
            "'task_type' 'Chat' is not one of Generation, Summarization, Classification, "
            "QuestionAndAnswer, Custom",
        ),
        ({"prompt": "p", "tags": "math"}, "'tags' must be a list of non-empty strings"),
        ({"prompt": "p", "id": 7}, "'id' must be a string"),
        (
            {"prompt": "p", "answer": "x"},
            "unknown fields answer; allowed: prompt, reference, task_type, tags, id",
        ),
        ([1], "record must be a JSON object"),
    ],
)
def test_fails_bad_record(record: Any, reason: str) -> None:
    report = evaluation_prompts.validate_catalog(_stream([GOOD[0], record]), key="k")
    assert not report.valid
    assert report.errors == [{"line": 2, "reason": reason}]


def test_fails_too_many_prompts() -> None:
    report = evaluation_prompts.validate_catalog(_stream(GOOD * 3), key="k", max_records=5)
    assert report.errors[-1]["reason"] == "the file has 6 records, more than the maximum of 5"


def test_bedrock_and_rating_conversions() -> None:
    assert evaluation_prompts.to_bedrock_record(GOOD[0]) == {
        "prompt": "What is 17 * 23?",
        "referenceResponse": "391",
        "category": "math",
    }
    assert evaluation_prompts.to_bedrock_record(GOOD[1]) == {"prompt": GOOD[1]["prompt"]}
    assert evaluation_prompts.to_rating_manifest_line(GOOD[0], "391") == {
        "source": "What is 17 * 23?",
        "response": "391",
        "id": "q1",
    }


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("CATALOG_BUCKET", "curated")
    monkeypatch.setenv("CATALOG_PREFIX", "evaluation/")
    monkeypatch.setenv("OUTPUT_BUCKET", "artifacts")
    monkeypatch.setenv("INPUT_PREFIX", "evaluation/bedrock-input/")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="curated")
        client.create_bucket(Bucket="artifacts")
        yield client


def test_prepare_handler_writes_bedrock_dataset(s3: S3Client) -> None:
    s3.put_object(Bucket="curated", Key="evaluation/p.jsonl", Body=_stream(GOOD).getvalue())
    out = evaluation_prompts.prepare_handler(
        {"catalogKey": "evaluation/p.jsonl", "runId": "run1"}, s3=s3
    )
    assert out["valid"] is True
    assert out["records"] == 2
    assert out["datasetS3Uri"] == "s3://artifacts/evaluation/bedrock-input/run1/prompts.jsonl"
    body = s3.get_object(Bucket="artifacts", Key="evaluation/bedrock-input/run1/prompts.jsonl")
    lines = [json.loads(x) for x in body["Body"].read().decode().splitlines()]
    assert lines[0] == {
        "prompt": "What is 17 * 23?",
        "referenceResponse": "391",
        "category": "math",
    }


def test_prepare_handler_reports_invalid_catalog(s3: S3Client) -> None:
    s3.put_object(Bucket="curated", Key="evaluation/p.jsonl", Body=b'{"prompt": 1}\n')
    out = evaluation_prompts.prepare_handler(
        {"catalogKey": "evaluation/p.jsonl", "runId": "r"}, s3=s3
    )
    assert out == {
        "valid": False,
        "records": 1,
        "errorCount": 1,
        "errors": [{"line": 1, "reason": "'prompt' must be a non-empty string"}],
    }


def test_prepare_handler_rejects_key_outside_prefix(s3: S3Client) -> None:
    out = evaluation_prompts.prepare_handler({"catalogKey": "finetune/x.jsonl", "runId": "r"})
    assert out["valid"] is False
    assert out["errors"][0]["reason"] == "catalogKey 'finetune/x.jsonl' is not under 'evaluation/'"


def test_sample_is_uniform_size_ordered_and_reproducible() -> None:
    records = [{"i": i} for i in range(1000)]
    first = evaluation_prompts.sample_records(records, 10, seed="run-1")
    assert len(first) == 10
    assert [r["i"] for r in first] == sorted(r["i"] for r in first)
    assert first == evaluation_prompts.sample_records(records, 10, seed="run-1")
    assert first != evaluation_prompts.sample_records(records, 10, seed="run-2")
    assert evaluation_prompts.sample_records(records[:3], 10, seed="x") == records[:3]


def test_sample_handler_writes_rating_manifest(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUCKET", "curated")
    monkeypatch.setenv("OUTPUTS_PREFIX", "evaluation/outputs/")
    monkeypatch.setenv("MANIFEST_PREFIX", "labeling/input/evaluation/")
    rows = [
        {"prompt": f"q{i}", "response": f"a{i}", "id": f"id{i}", "tags": ["t"],
         "criteria": ["Correct"]}
        for i in range(5)
    ]  # fmt: skip
    s3.put_object(Bucket="curated", Key="evaluation/outputs/o.jsonl", Body=_stream(rows).read())
    out = evaluation_prompts.sample_handler(
        {"outputsKey": "evaluation/outputs/o.jsonl", "runId": "exec-1", "sampleSize": 3}, s3=s3
    )
    assert out == {
        "valid": True,
        "errors": [],
        "total": 5,
        "sampled": 3,
        "manifestKey": "labeling/input/evaluation/exec-1.manifest",
    }
    body = s3.get_object(Bucket="curated", Key=out["manifestKey"])["Body"].read().decode()
    line = json.loads(body.splitlines()[0])
    assert set(line) == {"source", "response", "id", "tags", "criteria"}


def test_sample_handler_rejects_outputs_without_response(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUCKET", "curated")
    monkeypatch.setenv("OUTPUTS_PREFIX", "evaluation/outputs/")
    s3.put_object(Bucket="curated", Key="evaluation/outputs/o.jsonl", Body=b'{"prompt": "p"}\n')
    out = evaluation_prompts.sample_handler(
        {"outputsKey": "evaluation/outputs/o.jsonl", "runId": "r", "sampleSize": 3}, s3=s3
    )
    assert out["valid"] is False
    assert out["errors"] == [{"line": 1, "reason": "'response' must be a string"}]
