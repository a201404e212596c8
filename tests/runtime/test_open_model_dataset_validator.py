"""The open-model dataset validator Lambda (SageMaker training workflow) on moto S3."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets import runtime
from cdk_llm_training.assets.runtime import open_model_dataset_validator as validator
from cdk_llm_training.assets.runtime.bedrock_dataset_validator import ValidatorConfig

DATASETS = "curated-bucket"
ARTIFACTS = "artifacts-bucket"
CHAT = {
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
    ]
}
ENV = {
    "DATASET_BUCKET": DATASETS,
    "DATASET_PREFIX": "finetune/",
    "REPORT_BUCKET": ARTIFACTS,
    "REPORT_PREFIX": "sagemaker/validation-reports/",
    "OUTPUT_PREFIX": "sagemaker/output/",
    "CHECKPOINT_PREFIX": "checkpoints/sagemaker/",
    "RECORD_FORMAT": "chat",
    "LIMITS": "{}",
    "JOB_NAME_PREFIX": "lora",
    "MAX_VALIDATION_FILES": "1",
}


def _jsonl(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=DATASETS)
        client.create_bucket(Bucket=ARTIFACTS)
        yield client


def test_valid_chat_dataset_gives_the_training_job_inputs(s3: Any) -> None:
    s3.put_object(Bucket=DATASETS, Key="finetune/r1/train.jsonl", Body=_jsonl(CHAT, CHAT))
    s3.put_object(Bucket=DATASETS, Key="finetune/r1/validation.jsonl", Body=_jsonl(CHAT))
    event = {
        "trainingDataKey": "finetune/r1/train.jsonl",
        "validationDataKeys": ["finetune/r1/validation.jsonl"],
        "jobNameSuffix": "r1",
    }
    output = validator.handler(event, s3=s3)
    assert output["valid"] is True
    expected = {
        "trainingJobName": "lora-r1",
        "trainingS3Uri": f"s3://{DATASETS}/finetune/r1/train.jsonl",
        "validationS3Uri": f"s3://{DATASETS}/finetune/r1/validation.jsonl",
        "outputS3Path": f"s3://{ARTIFACTS}/sagemaker/output/",
        "checkpointS3Uri": f"s3://{ARTIFACTS}/checkpoints/sagemaker/lora-r1/",
        "reportS3Uri": (
            f"s3://{ARTIFACTS}/sagemaker/validation-reports/lora-r1/validation-report.json"
        ),
    }
    assert {key: output[key] for key in expected} == expected
    assert output["hasValidationData"] is True


def test_without_validation_data_the_channel_is_null(s3: Any) -> None:
    s3.put_object(Bucket=DATASETS, Key="finetune/r2/train.jsonl", Body=_jsonl(CHAT))
    output = validator.handler({"trainingDataKey": "finetune/r2/train.jsonl"}, s3=s3)
    assert output["valid"] is True
    assert (output["validationS3Uri"], output["hasValidationData"]) == (None, False)


def test_invalid_chat_record_is_reported_with_its_line(s3: Any) -> None:
    bad = {"messages": [{"role": "user", "content": "only a question"}]}
    s3.put_object(Bucket=DATASETS, Key="finetune/r3/train.jsonl", Body=_jsonl(CHAT, bad))
    output = validator.handler(
        {"trainingDataKey": "finetune/r3/train.jsonl", "jobNameSuffix": "r3"}, s3=s3
    )
    assert output["valid"] is False
    assert output["errors"] == [
        {
            "file": "finetune/r3/train.jsonl",
            "line": 2,
            "reason": "the last message (messages[0]) must have role 'assistant'",
        }
    ]


def test_fails_more_than_one_validation_file(s3: Any) -> None:
    s3.put_object(Bucket=DATASETS, Key="finetune/r4/train.jsonl", Body=_jsonl(CHAT))
    event = {
        "trainingDataKey": "finetune/r4/train.jsonl",
        "validationDataKeys": ["finetune/r4/a.jsonl", "finetune/r4/b.jsonl"],
    }
    output = validator.handler(event, s3=s3)
    assert output["valid"] is False
    assert output["errors"][0]["reason"] == (
        "'validationDataKeys' has 2 keys; at most 1 are allowed"
    )


def test_config_default_keeps_ten_validation_files() -> None:
    env = {k: v for k, v in ENV.items() if k != "MAX_VALIDATION_FILES"}
    assert ValidatorConfig.from_env(env).max_validation_files == 10


def test_handler_imports_as_lambda_loads_it() -> None:
    folder = Path(runtime.__file__).parent
    probe = (
        "import sys, json\n"
        "import open_model_dataset_validator as v\n"
        "print(json.dumps({'core': v.validate_dataset.__module__,\n"
        "  'heavy': sorted(m for m in ('aws_cdk', 'pydantic', 'cdk_llm_training')\n"
        "                  if m in sys.modules)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=folder, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == {"core": "bedrock_dataset_validator", "heavy": []}
