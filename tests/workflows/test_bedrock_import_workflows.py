"""BedrockModelImport: import merged weights, record them in the registry; import failure
and step failures notify."""

from __future__ import annotations

import pytest
from workflows.aws_world import Cloud
from workflows.workflow_inputs import put_dataset, results


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


# -- from a registered adapter: merge, gate on the report, import --------------------------


def _registered_adapter(cloud: Cloud, machine_ids: dict[str, str]) -> str:
    """Train and register an adapter with the LoRA workflow the importer is built on."""
    logical_id = machine_ids["lora"]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    ((arn, _),) = cloud.packages.items()
    cloud.calls.clear()
    cloud.notifications.clear()
    return arn


def test_a_registered_adapter_is_merged_then_imported(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    arn = _registered_adapter(cloud, machine_ids)
    adapter = cloud.packages[arn]["CustomerMetadataProperties"]["adapterArtifact"]
    execution = cloud.start(
        machine_ids["bedrock_import"], {"modelName": "support-bot-v5", "modelPackageArn": arn}
    )
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert cloud.ops() == [
        "sagemaker:describeModelPackage",
        "sagemaker:createProcessingJob",
        "s3:getObject",
        "bedrock:createModelImportJob",
        "bedrock:getModelImportJob",
        "bedrock:getModelImportJob",
        "sagemaker:createModelPackage",
        "sns:publish",
    ]
    merge = cloud.calls[1][1]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in merge["ProcessingInputs"]}
    assert inputs["adapter"] == adapter
    merged = merge["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    imported = cloud.calls[3][1]["modelDataSource"]["s3DataSource"]["s3Uri"]
    assert merged == imported
    assert imported.endswith("/merged-models/support-bot-v5/")
    assert merge["ProcessingJobName"].startswith("adapter-merge-")
    assert results(cloud) == ["IMPORTED"]


def test_a_failed_merge_notifies_and_imports_nothing(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    arn = _registered_adapter(cloud, machine_ids)
    cloud.job_status["sagemaker:createProcessingJob"] = "Failed"
    execution = cloud.start(
        machine_ids["bedrock_import"], {"modelName": "support-bot-v6", "modelPackageArn": arn}
    )
    assert (execution.status, execution.error) == ("FAILED", "MergeFailed")
    assert not [op for op in cloud.ops() if op.startswith("bedrock:")]
    assert results(cloud) == ["MERGE_FAILED"]
    assert cloud.notifications[0]["modelPackageArn"] == arn
    assert "fake failure" in cloud.notifications[0]["cause"]


def test_an_architecture_bedrock_does_not_import_stops_before_the_import(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    arn = _registered_adapter(cloud, machine_ids)
    cloud.merge_architecture = "GemmaForCausalLM"
    execution = cloud.start(
        machine_ids["bedrock_import"], {"modelName": "gemma-bot-2", "modelPackageArn": arn}
    )
    assert (execution.status, execution.error) == ("FAILED", "NotImportable")
    assert cloud.ops()[-2:] == ["s3:getObject", "sns:publish"]
    assert not [op for op in cloud.ops() if op.startswith("bedrock:")]
    assert results(cloud) == ["NOT_IMPORTABLE"]
    assert "GemmaForCausalLM" in cloud.notifications[0]["architectures"]


def test_a_failed_import_after_a_merge_notifies_the_reason(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    arn = _registered_adapter(cloud, machine_ids)
    cloud.job_status["bedrock:getModelImportJob"] = "Failed"
    execution = cloud.start(
        machine_ids["bedrock_import"], {"modelName": "support-bot-v7", "modelPackageArn": arn}
    )
    assert (execution.status, execution.error) == ("FAILED", "ImportFailed")
    assert "sagemaker:createProcessingJob" in cloud.ops()
    assert "sagemaker:createModelPackage" not in cloud.ops()
    assert results(cloud) == ["IMPORT_FAILED"]


@pytest.mark.parametrize("broken", ["sagemaker:describeModelPackage", "s3:getObject"])
def test_each_merge_path_step_failure_notifies(
    cloud: Cloud, machine_ids: dict[str, str], broken: str
) -> None:
    arn = _registered_adapter(cloud, machine_ids)
    cloud.raise_on[broken] = ("SageMaker.ValidationException", "broken on purpose")
    execution = cloud.start(
        machine_ids["bedrock_import"], {"modelName": "support-bot-v8", "modelPackageArn": arn}
    )
    assert (execution.status, execution.error) == ("FAILED", "ModelImportFailed")
    assert not [op for op in cloud.ops() if op.startswith("bedrock:")]
    assert results(cloud) == ["FAILED"]
