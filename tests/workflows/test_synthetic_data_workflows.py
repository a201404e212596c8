"""SyntheticData's workflow on every branch: the real prepare, convert and validator
Lambdas on moto S3, Bedrock batch inference faked in the API's shapes (polled)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from workflows.aws_world import Cloud, ResolvedTemplate
from workflows.workflow_inputs import results

MACHINE = "synthetic"
PROMPTS = "synthetic/prompts/set1.jsonl"


@pytest.fixture(scope="module")
def curated(stack: cdk.Stack, template: ResolvedTemplate) -> str:
    lake: Any = stack.node.find_child("Lake")
    return template.ref(stack.get_logical_id(lake.curated_bucket.node.default_child))


def _put_prompts(cloud: Cloud, bucket: str, count: int) -> None:
    lines = [json.dumps({"prompt": f"Explain topic {i} briefly."}) for i in range(count)]
    cloud.s3.put_object(Bucket=bucket, Key=PROMPTS, Body="\n".join(lines) + "\n")


@pytest.mark.parametrize("status", ["Completed", "PartiallyCompleted"])
def test_answers_converts_validates_and_notifies(
    cloud: Cloud, machine_ids: dict[str, str], curated: str, status: str
) -> None:
    cloud.job_status["bedrock:getModelInvocationJob"] = status
    _put_prompts(cloud, curated, 120)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS}, name="gen1")
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert results(cloud) == ["SUCCEEDED"]
    assert cloud.ops().count("bedrock:getModelInvocationJob") == 2  # polled until done
    create = next(p for op, p in cloud.calls if op == "bedrock:createModelInvocationJob")
    assert create["TimeoutDurationInHours"] == 24
    assert create["ModelId"] == "anthropic.claude-3-haiku-20240307-v1:0"
    note = cloud.notifications[0]
    assert note["datasetS3Uri"] == f"s3://{curated}/finetune/synthetic/gen1/train.jsonl"
    assert note["counts"]["records"] == 120
    assert note["costEstimate"]["maxUsd"] > 0
    body = cloud.s3.get_object(Bucket=curated, Key="finetune/synthetic/gen1/train.jsonl")["Body"]
    first = json.loads(body.read().decode().splitlines()[0])
    assert first["messages"][1] == {
        "role": "assistant",
        "content": "A careful answer to: Explain topic 0 briefly.",
    }


def test_too_few_prompts_start_no_job(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    _put_prompts(cloud, curated, 10)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "PromptsInvalid")
    assert "bedrock:createModelInvocationJob" not in cloud.ops()
    assert results(cloud) == ["PROMPTS_INVALID"]
    assert cloud.notifications[0]["recordCount"] == 10


@pytest.mark.parametrize("status", ["Failed", "Stopped", "Expired"])
def test_failed_job_notifies(
    cloud: Cloud, machine_ids: dict[str, str], curated: str, status: str
) -> None:
    cloud.job_status["bedrock:getModelInvocationJob"] = status
    _put_prompts(cloud, curated, 100)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert results(cloud) == ["JOB_FAILED"]
    assert cloud.notifications[0]["status"] == status


@pytest.mark.parametrize(
    "broken",
    [
        "lambda:synthetic_data.prepare_handler",
        "bedrock:createModelInvocationJob",
        "bedrock:getModelInvocationJob",
        "lambda:synthetic_data.convert_handler",
        "lambda:bedrock_dataset_validator.handler",
    ],
)
def test_each_step_failure_notifies(
    cloud: Cloud, machine_ids: dict[str, str], curated: str, broken: str
) -> None:
    _put_prompts(cloud, curated, 100)
    cloud.raise_on[broken] = ("ServiceError", "broken on purpose")
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "Failed")
    assert results(cloud) == ["FAILED"]


def test_missing_prompt_set_is_a_caught_failure(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": "synthetic/prompts/none.jsonl"})
    assert (execution.status, execution.error) == ("FAILED", "Failed")
    assert cloud.notifications[0]["error"] == "PromptSetError"


def test_no_usable_answer_is_an_invalid_dataset(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    cloud.job_status["bedrock:getModelInvocationJob"] = "PartiallyCompleted"
    _put_prompts(cloud, curated, 100)
    cloud.batch_record_errors = True
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert results(cloud) == ["DATASET_INVALID"]
