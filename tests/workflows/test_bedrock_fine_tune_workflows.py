"""BedrockFineTuneJob's workflows (fine-tune, continued pre-training, distillation) run on
every branch from the synthesized definitions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_world import Cloud, ResolvedTemplate

RECORDS: dict[str, dict[str, Any]] = {
    "prompt_completion": {"prompt": "What is 2+2?", "completion": "4"},
    "continued_pretraining": {"input": "Unlabeled domain text."},
    "bedrock_conversation_2024": {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You are terse."}],
        "messages": [
            {"role": "user", "content": [{"text": "Hi"}]},
            {"role": "assistant", "content": [{"text": "Hello."}]},
        ],
    },
    "bedrock_conversation_2024_prompts": {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": "Summarize: ..."}]}],
    },
}
VARIANTS = ("fine_tune", "continued_pre_training", "distillation")


def validator_env(cloud: Cloud, logical_id: str) -> dict[str, str]:
    definition = cloud.definitions[logical_id]
    arn = definition["States"]["ValidateDataset"]["Resource"]
    return cloud.functions[arn][1]


def put_dataset(cloud: Cloud, logical_id: str, *, valid: bool = True, validation: bool = False) -> dict[str, Any]:
    """Upload a dataset in the variant's record format; return the execution input."""
    env = validator_env(cloud, logical_id)
    record = RECORDS[env["RECORD_FORMAT"]] if valid else {"unexpected": True}
    body = "\n".join(json.dumps(record) for _ in range(200)) + "\n"
    prefix = env["DATASET_PREFIX"]
    cloud.s3.put_object(Bucket=env["DATASET_BUCKET"], Key=f"{prefix}run1/train.jsonl", Body=body)
    payload: dict[str, Any] = {"trainingDataKey": f"{prefix}run1/train.jsonl", "jobNameSuffix": "run1"}
    if validation:
        cloud.s3.put_object(Bucket=env["DATASET_BUCKET"], Key=f"{prefix}run1/validation.jsonl", Body=body)
        payload["validationDataKeys"] = [f"{prefix}run1/validation.jsonl"]
    return payload


@pytest.mark.parametrize(
    ("variant", "validation"),
    [(v, False) for v in VARIANTS] + [("fine_tune", True), ("continued_pre_training", True)],
)
def test_valid_dataset_runs_the_job_and_notifies_success(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, validation: bool
) -> None:
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, validation=validation))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    job = next(p for op, p in cloud.calls if op == "bedrock:createModelCustomizationJob")
    assert ("ValidationDataConfig" in job) is validation
    assert [n["result"] for n in cloud.notifications] == ["SUCCEEDED"]
    assert execution.visited[-1] == "Done"


@pytest.mark.parametrize("variant", VARIANTS)
def test_invalid_dataset_notifies_and_starts_no_job(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, valid=False))
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert "bedrock:createModelCustomizationJob" not in cloud.ops()
    assert [n["result"] for n in cloud.notifications] == ["DATASET_INVALID"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_job_failure_notifies(cloud: Cloud, machine_ids: dict[str, str], variant: str) -> None:
    logical_id = machine_ids[variant]
    cloud.job_status["bedrock:createModelCustomizationJob"] = "Failed"
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert [n["result"] for n in cloud.notifications] == ["FAILED"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_validator_crash_notifies(cloud: Cloud, machine_ids: dict[str, str], variant: str) -> None:
    logical_id = machine_ids[variant]
    cloud.raise_on["lambda:bedrock_dataset_validator.handler"] = ("Lambda.Unknown", "timed out")
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "ValidationError")
    assert [n["result"] for n in cloud.notifications] == ["VALIDATION_ERROR"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "payload",
    [{}, {"trainingDataKey": 7}, {"trainingDataKey": "finetune/none.jsonl", "jobNameSuffix": "x"}],
    ids=["empty", "wrong-type", "missing-object"],
)
def test_bad_input_ends_in_a_notified_failure(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, payload: dict[str, Any]
) -> None:
    execution = cloud.start(machine_ids[variant], payload)
    assert execution.status == "FAILED"
    assert execution.error in ("DatasetInvalid", "InvalidInput")
    assert "bedrock:createModelCustomizationJob" not in cloud.ops()
    assert len(cloud.notifications) == 1
