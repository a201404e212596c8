"""BedrockFineTuneJob with ``registry_group_name``: the custom model is recorded in the
registry group (after the evaluation gate when there is one), or the failure is notified."""

from __future__ import annotations

from typing import Any

import pytest
from workflows.aws_world import Cloud
from workflows.conftest import REGISTRY_GROUP
from workflows.test_model_evaluation_workflows import GIVEN_MODEL
from workflows.test_model_evaluation_workflows import start as start_evaluated
from workflows.workflow_inputs import put_dataset, results


def start(cloud: Cloud, logical_id: str, *, gated: bool) -> Any:
    """An execution with a valid dataset (and, when ``gated``, a prompt catalog and the
    model to evaluate)."""
    if gated:
        return start_evaluated(cloud, logical_id, evaluationModelArn=GIVEN_MODEL)
    return cloud.start(logical_id, put_dataset(cloud, logical_id))


@pytest.mark.parametrize("variant", ["fine_tune_recorded", "fine_tune_evaluated_recorded"])
def test_custom_model_is_recorded_pending_approval(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    gated = variant == "fine_tune_evaluated_recorded"
    execution = start(cloud, machine_ids[variant], gated=gated)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    job = next(p for op, p in cloud.calls if op == "bedrock:createModelCustomizationJob")
    assert len(cloud.packages) == 1
    arn, package = next(iter(cloud.packages.items()))
    assert arn.endswith(f":model-package/{REGISTRY_GROUP}/1")
    assert package["ModelPackageGroupName"] == REGISTRY_GROUP
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert "InferenceSpecification" not in package
    metadata = package["CustomerMetadataProperties"]
    assert metadata["servingTarget"] == "bedrock"
    assert metadata["customizationType"] == "FINE_TUNING"
    assert metadata["customModelArn"].startswith("arn:aws:bedrock:")
    assert ":custom-model/" in metadata["customModelArn"]
    assert metadata["baseModel"].endswith(f"foundation-model/{job['BaseModelIdentifier']}")
    assert ":model-customization-job/" in metadata["jobArn"]
    if gated:
        assert metadata["evaluationVerdict"] == "PASSED"
        assert metadata["evaluationReport"].startswith("s3://")
    else:
        assert "evaluationVerdict" not in metadata
    # Recorded before the success notification, which is the last state.
    ops = cloud.ops()
    assert ops.index("sagemaker:createModelPackage") < len(ops) - 1
    assert results(cloud)[-1] == "SUCCEEDED"


@pytest.mark.parametrize("broken", ["job-failed", "gate-failed"])
def test_no_record_without_a_passed_gate(
    cloud: Cloud, machine_ids: dict[str, str], broken: str
) -> None:
    if broken == "job-failed":
        cloud.job_status["bedrock:createModelCustomizationJob"] = "Failed"
    else:
        cloud.eval_score = 0.0
    execution = start(cloud, machine_ids["fine_tune_evaluated_recorded"], gated=True)
    assert execution.status == "FAILED"
    assert "sagemaker:createModelPackage" not in cloud.ops()
    assert results(cloud)[-1] != "SUCCEEDED"


@pytest.mark.parametrize("variant", ["fine_tune_recorded", "fine_tune_evaluated_recorded"])
def test_registration_failure_is_notified(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    cloud.raise_on["sagemaker:createModelPackage"] = ("SageMaker.ValidationException", "no")
    execution = start(cloud, machine_ids[variant], gated=variant == "fine_tune_evaluated_recorded")
    assert (execution.status, execution.error) == ("FAILED", "RegistrationFailed")
    assert not cloud.packages
    assert results(cloud)[-1] == "REGISTRATION_FAILED"
    assert cloud.notifications[-1]["customModelArn"].startswith("arn:aws:bedrock:")


def test_gated_record_without_validation_data(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    logical_id = machine_ids["fine_tune_evaluated_recorded"]
    execution = start_evaluated(cloud, logical_id, validation=False, evaluationModelArn=GIVEN_MODEL)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    job = next(p for op, p in cloud.calls if op == "bedrock:createModelCustomizationJob")
    assert "ValidationDataConfig" not in job
    assert len(cloud.packages) == 1
