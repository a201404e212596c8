"""SyntheticData's workflow on every branch: the real prepare, convert and validator
Lambdas on moto S3, Bedrock batch inference faked in the API's shapes (polled)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from workflows.aws_world import Cloud, ResolvedTemplate
from workflows.synthetic_world import BedrockControl, ServiceQuotas
from workflows.workflow_inputs import results

from cdk_llm_training.assets.runtime import synthetic_data as sd

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


# -- batch limits checked before CreateModelInvocationJob ----------------------------------

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(autouse=True)
def batch_control(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prepare Lambda's Service Quotas and Bedrock clients talk to the world's fakes."""
    monkeypatch.setattr(
        sd, "control_clients", lambda: (ServiceQuotas(cloud), BedrockControl(cloud))
    )


def _refused(cloud: Cloud, machine_ids: dict[str, str]) -> list[str]:
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "PromptsInvalid")
    assert "bedrock:createModelInvocationJob" not in cloud.ops()
    assert results(cloud) == ["PROMPTS_INVALID"]
    problems: list[str] = cloud.notifications[0]["problems"]
    return problems


def test_quotas_are_read_by_name_and_reported(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    cloud.batch_quotas = {
        "Minimum number of records per batch inference job for Claude 3 Haiku": 50,
        "Records per batch inference job for Claude 3 Haiku": 1000,
        "Batch inference input file size (in GB) for Claude 3 Haiku": 1,
        "Sum of in-progress and submitted batch inference jobs using a base model for "
        "Claude 3 Haiku": 2,
        "Records per batch inference job for Claude 3 Sonnet": 1,  # another model's
    }
    cloud.foreign_batch_jobs = [(HAIKU, "InProgress"), ("amazon.nova-lite-v1:0", "Submitted")]
    _put_prompts(cloud, curated, 120)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS}, name="gen2")
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    listed = [p["statusEquals"] for op, p in cloud.calls if op == "bedrock:listModelInvocationJobs"]
    assert listed == ["Submitted", "Validating", "Scheduled", "InProgress"]
    card_body = cloud.s3.get_object(Bucket=curated, Key="finetune/synthetic/gen2/dataset_card.json")
    card = json.loads(card_body["Body"].read())
    limits = card["limits"]
    assert limits["inFlightJobs"] == 1
    assert limits["limits"]["min_records"] == {"value": 50.0, "source": "quota"}
    assert limits["limits"]["max_job_gib"] == {"value": 5.0, "source": "configured"}
    assert card["reconciliation"]["consistent"] is True
    assert card["cost_actual"]["priceSource"].startswith("SyntheticDataOptions")
    # 120 records x 40 input and 25 output tokens at 0.125 and 0.625 USD per million
    assert cloud.notifications[0]["costActual"]["usd"] == round(
        4800 / 1e6 * 0.125 + 3000 / 1e6 * 0.625, 4
    )


@pytest.mark.parametrize(
    ("quota", "value", "field"),
    [
        ("Minimum number of records per batch inference job for Claude 3 Haiku", 150, "records"),
        ("Records per batch inference job for Claude 3 Haiku", 110, "records"),
        ("Records per input file per batch inference job for Claude 3 Haiku", 119, "records"),
        ("Batch inference input file size (in GB) for Claude 3 Haiku", 0.00001, "inputBytes"),
        ("Batch inference job size (in GB) for Claude 3 Haiku", 0.00001, "inputBytes"),
    ],
)
def test_a_job_outside_a_quota_is_refused_up_front(  # noqa: PLR0917 - fixtures + parameters
    cloud: Cloud, machine_ids: dict[str, str], curated: str, quota: str, value: float, field: str
) -> None:
    cloud.batch_quotas = {quota: value}
    _put_prompts(cloud, curated, 120)
    (problem,) = _refused(cloud, machine_ids)
    assert problem.startswith(f"{field} ")
    assert "quota" in problem
    assert "Claude 3 Haiku" in problem


def test_too_many_jobs_in_flight_is_refused_up_front(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    name = "Sum of in-progress and submitted batch inference jobs using a base model for "
    cloud.batch_quotas = {f"{name}Claude 3 Haiku": 2}
    as_arn = f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
    cloud.foreign_batch_jobs = [(HAIKU, "Submitted"), (as_arn, "Scheduled")]
    _put_prompts(cloud, curated, 120)
    (problem,) = _refused(cloud, machine_ids)
    assert problem.startswith("inFlightJobs 2:")


def test_quota_read_failure_is_a_caught_failure(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    cloud.raise_on["servicequotas:ListServiceQuotas"] = ("AccessDeniedException", "no")
    _put_prompts(cloud, curated, 120)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "Failed")
    assert "bedrock:createModelInvocationJob" not in cloud.ops()


# -- every output part validated, counts reconciled -------------------------------------------


def test_every_output_part_is_converted(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    cloud.batch_parts = 3
    _put_prompts(cloud, curated, 120)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS}, name="parts")
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    counts = cloud.notifications[0]["counts"]
    assert (counts["records"], counts["output_parts"], counts["output_lines"]) == (120, 3, 120)


def test_a_bad_line_in_a_later_part_is_named_and_stops_the_run(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    cloud.batch_parts = 2
    cloud.batch_corrupt_line = -1  # the last line of the second part
    _put_prompts(cloud, curated, 120)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "OutputsMismatch")
    note = cloud.notifications[0]
    assert note["result"] == "OUTPUTS_MISMATCH"
    assert note["problems"] == [f"{_job_dir(cloud)}records-2.jsonl.out line 60: not JSON"]
    assert note["reconciliation"]["mismatches"][-1] == "unparsable 1"
    assert "lambda:bedrock_dataset_validator.handler" not in cloud.ops()


def test_a_manifest_that_disagrees_stops_the_run(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    cloud.batch_manifest_override = {"totalRecordCount": 130, "processedRecordCount": 130}
    _put_prompts(cloud, curated, 120)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "OutputsMismatch")
    mismatches = cloud.notifications[0]["reconciliation"]["mismatches"]
    assert mismatches == ["manifest totalRecordCount 130 != inputRecords 120"]


def _job_dir(cloud: Cloud) -> str:
    arn = next(iter(cloud.batch_jobs))
    return arn.rsplit("/", 1)[-1] + "/"
