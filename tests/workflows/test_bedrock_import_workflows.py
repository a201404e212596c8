"""BedrockModelImport: import merged weights, record them in the registry; import failure
and step failures notify."""

from __future__ import annotations

import pytest
from workflows.aws_world import Cloud
from workflows.workflow_inputs import results


def test_import_is_polled_recorded_and_notified(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    cloud.optional_fields = False
    execution = cloud.start(machine_ids["bedrock_import"], {"modelName": "support-bot-v3"})
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert cloud.ops() == [
        "bedrock:createModelImportJob",
        "bedrock:getModelImportJob",
        "bedrock:getModelImportJob",
        "sagemaker:createModelPackage",
        "sns:publish",
    ]
    request = cloud.calls[0][1]
    source = request["modelDataSource"]["s3DataSource"]["s3Uri"]
    assert source.endswith("/merged-models/support-bot-v3/")
    assert request["jobName"] == request["importedModelName"] == "support-bot-v3"
    package = cloud.calls[3][1]
    metadata = package["CustomerMetadataProperties"]
    assert metadata["servingTarget"] == "bedrock"
    assert metadata["mergedModel"] == source
    assert metadata["importedModelArn"].startswith("arn:aws:bedrock:")
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert results(cloud) == ["IMPORTED"]
    assert cloud.notifications[0]["importedModelArn"] == metadata["importedModelArn"]


def test_import_failure_notifies_the_reason_and_records_nothing(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    cloud.job_status["bedrock:getModelImportJob"] = "Failed"
    execution = cloud.start(machine_ids["bedrock_import"], {"modelName": "gemma-bot"})
    assert (execution.status, execution.error) == ("FAILED", "ImportFailed")
    assert "sagemaker:createModelPackage" not in cloud.ops()
    assert results(cloud) == ["IMPORT_FAILED"]
    assert "not supported" in cloud.notifications[0]["failureMessage"]


@pytest.mark.parametrize(
    "broken",
    ["bedrock:createModelImportJob", "bedrock:getModelImportJob", "sagemaker:createModelPackage"],
)
def test_each_step_failure_notifies(cloud: Cloud, machine_ids: dict[str, str], broken: str) -> None:
    cloud.raise_on[broken] = ("Bedrock.ValidationException", "broken on purpose")
    execution = cloud.start(machine_ids["bedrock_import"], {"modelName": "support-bot-v4"})
    assert (execution.status, execution.error) == ("FAILED", "ModelImportFailed")
    assert results(cloud) == ["FAILED"]


def test_an_invalid_model_name_is_rejected_by_the_api_model(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    # The botocore model's importedModelName pattern: letters, digits, single _ or -.
    with pytest.raises(AssertionError, match="importedModelName"):
        cloud.start(machine_ids["bedrock_import"], {"modelName": "bad name!"})
