"""The validator Lambda's record formats for the training methods (DPO, KTO, GRPO, CPT): line-
numbered errors, the labeling converter's preference output accepted as it is, and the same
verdicts as the training script's own up-front check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import dataset_validation
from cdk_llm_training.assets.runtime import open_model_dataset_validator as validator
from cdk_llm_training.assets.runtime.labeling_postprocess import convert, rows_to_jsonl
from cdk_llm_training.assets.training import formats, methods

DATASETS, ARTIFACTS = "curated-bucket", "artifacts-bucket"
ENV = {
    "DATASET_BUCKET": DATASETS,
    "DATASET_PREFIX": "finetune/",
    "REPORT_BUCKET": ARTIFACTS,
    "REPORT_PREFIX": "sagemaker/validation-reports/",
    "OUTPUT_PREFIX": "sagemaker/output/",
    "CHECKPOINT_PREFIX": "checkpoints/sagemaker/",
    "LIMITS": "{}",
    "JOB_NAME_PREFIX": "dpo",
    "MAX_VALIDATION_FILES": "1",
}
LABEL = "llm-labels"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=DATASETS)
        client.create_bucket(Bucket=ARTIFACTS)
        yield client


def _validate(s3: Any, monkeypatch: pytest.MonkeyPatch, record_format: str, body: bytes) -> Any:
    monkeypatch.setenv("RECORD_FORMAT", record_format)
    s3.put_object(Bucket=DATASETS, Key="finetune/r/train.jsonl", Body=body)
    return validator.handler(
        {"trainingDataKey": "finetune/r/train.jsonl", "jobNameSuffix": "r"}, s3=s3
    )


def test_every_script_record_format_is_a_validator_format() -> None:
    assert set(methods.RECORD_FORMATS) <= set(dataset_validation.record_formats())


def test_labeling_converter_preference_output_is_valid_as_it_is(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        json.dumps(
            {
                "source": f"question {n}",
                "context": "some context" if n % 2 else "",
                "response_a": f"answer a{n}",
                "response_b": f"answer b{n}",
                LABEL: {
                    "annotationsFromAllWorkers": [
                        {"workerId": "w1", "annotationData": {"content": '{"preference":"B"}'}}
                    ]
                },
            }
        )
        for n in range(3)
    ]
    conversion = convert(lines, task_type="preference", label_attribute=LABEL)
    assert len(conversion.rows) == 3
    output = _validate(s3, monkeypatch, "preference", rows_to_jsonl(conversion.rows))
    assert output["valid"] is True, output["errors"]


@pytest.mark.parametrize(
    ("record_format", "records", "line", "reason"),
    [
        (
            "preference",
            [{"prompt": "q", "chosen": "a", "rejected": "b"}, {"prompt": "q", "chosen": "a"}],
            2,
            "missing field 'rejected'",
        ),
        (
            "kto",
            [{"prompt": "q", "completion": "a", "label": 1}],
            1,
            "field 'label' must be true or false, got number",
        ),
        (
            "grpo",
            [{"prompt": "q", "answer": "4"}, {"prompt": "q"}, {"prompt": "q", "pattern": "[a-"}],
            3,
            "field 'pattern' is not a regular expression: unterminated character set at position 0",
        ),
        (
            "grpo",
            [{"prompt": "q", "schema": ["not", "an", "object"]}],
            1,
            "field 'schema' must be a JSON object (a JSON Schema), got list",
        ),
        (
            "text",
            [{"text": "a corpus line"}, {"input": "bedrock layout"}],
            2,
            "missing field 'text'",
        ),
    ],
)
def test_bad_records_are_reported_with_their_line(  # noqa: PLR0917 - parametrized
    s3: Any,
    monkeypatch: pytest.MonkeyPatch,
    record_format: str,
    records: list[Any],
    line: int,
    reason: str,
) -> None:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    output = _validate(s3, monkeypatch, record_format, body)
    assert output["valid"] is False
    assert output["errors"] == [{"file": "finetune/r/train.jsonl", "line": line, "reason": reason}]


AGREEMENT_CASES: dict[str, list[Any]] = {
    "preference": [
        {"prompt": "q", "chosen": "a", "rejected": "b", "extra": 1},
        {"prompt": "q", "chosen": "a"},
        {"prompt": "", "chosen": "a", "rejected": "b"},
        {"prompt": "q", "chosen": 3, "rejected": "b"},
        [],
    ],
    "kto": [
        {"prompt": "q", "completion": "a", "label": False},
        {"prompt": "q", "completion": "a"},
        {"prompt": "q", "completion": "a", "label": "true"},
    ],
    "grpo": [
        {"prompt": "q"},
        {"prompt": "q", "answer": "4", "pattern": r"\d", "schema": {"type": "string"}},
        {"prompt": "q", "answer": 4},
        {"prompt": "q", "pattern": "("},
        {"prompt": "q", "schema": "x"},
        {"answer": "4"},
    ],
    "text": [{"text": "t"}, {"text": " "}, {"text": 1}, {}],
    "prompt_completion": [{"prompt": "q", "completion": "a"}, {"prompt": "q"}],
}


@pytest.mark.parametrize("record_format", sorted(AGREEMENT_CASES))
def test_validator_and_training_script_agree(record_format: str) -> None:
    checker = dataset_validation.format_checker(record_format)
    for record in AGREEMENT_CASES[record_format]:
        lambda_ok = not checker(record)
        script_ok = not formats.check_record(record, record_format)
        assert lambda_ok == script_ok, (record_format, record)
