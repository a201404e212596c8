"""SageMakerServerlessCustomization's workflows (SFT, RLVR) on every branch: the job started
through the AWS SDK integration and polled to Completed, Failed or Stopped; polls running
out (the job is stopped); invalid data; a validator crash."""

from __future__ import annotations

import pytest
from workflows.aws_world import Cloud
from workflows.workflow_inputs import put_dataset, results

CREATE = "sagemaker:createTrainingJob"
DESCRIBE = "sagemaker:describeTrainingJob"
STOP = "sagemaker:stopTrainingJob"
VARIANTS = ("serverless_sft", "serverless_rlvr")


@pytest.mark.parametrize("minimal", [False, True], ids=["full", "required-fields-only"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_job_is_polled_to_completion_and_registered(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, minimal: bool
) -> None:
    cloud.optional_fields = not minimal
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert cloud.ops().count(DESCRIBE) == 2  # InProgress, then Completed
    request = next(p for op, p in cloud.calls if op == CREATE)
    serverless = request["ServerlessJobConfig"]
    assert serverless["JobType"] == "FineTuning"
    assert serverless["Peft"] == "LORA"
    technique = "SFT" if variant == "serverless_sft" else "RLVR"
    assert serverless["CustomizationTechnique"] == technique
    assert ("EvaluatorArn" in serverless) is (technique == "RLVR")
    assert request["ModelPackageConfig"]["ModelPackageGroupArn"].startswith("arn:aws:sagemaker:")
    assert results(cloud) == ["SUCCEEDED"]
    assert execution.visited.count("WaitForJob") == 2


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_failed_job_notifies(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, status: str
) -> None:
    logical_id = machine_ids[variant]
    cloud.job_status[CREATE] = status
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert results(cloud) == ["FAILED"]
    assert cloud.notifications[0]["error"] == "JobFailed"
    assert status in cloud.notifications[0]["cause"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_polls_running_out_stop_the_job(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    cloud.job_status[CREATE] = "InProgress"
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert cloud.ops().count(DESCRIBE) == 4  # max_polls=3: polls 0..3, then stop
    assert STOP in cloud.ops()
    assert cloud.notifications[0]["error"] == "PollsExhausted"


def test_a_rejected_request_notifies(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    logical_id = machine_ids["serverless_rlvr"]
    cloud.raise_on[CREATE] = ("SageMaker.ResourceLimitExceededException", "quota")
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert DESCRIBE not in cloud.ops()


@pytest.mark.parametrize("variant", VARIANTS)
def test_invalid_data_starts_no_job(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, valid=False))
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert CREATE not in cloud.ops()


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_validator_crash_notifies(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    cloud.raise_on["lambda:bedrock_dataset_validator.handler"] = ("Lambda.Unknown", "timed out")
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "ValidationError")
    assert results(cloud) == ["VALIDATION_ERROR"]
