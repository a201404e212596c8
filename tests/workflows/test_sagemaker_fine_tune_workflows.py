"""SageMakerFineTuneJob's LoRA workflow, with and without the task-metrics gate, on every
branch from the synthesized definitions."""

from __future__ import annotations

import pytest
from workflows.aws_world import Cloud
from workflows.conftest import SAGEMAKER_METHODS
from workflows.workflow_inputs import put_dataset, results

VARIANTS = ("lora", "lora_gated")
METHOD_VARIANTS = tuple(f"sagemaker_{method}" for method in SAGEMAKER_METHODS)
"""One workflow per SageMaker fine-tune method besides sft (``lora``)."""


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("validation", [False, True])
def test_trains_registers_and_notifies(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, validation: bool
) -> None:
    cloud.optional_fields = validation  # one run each with required response fields only
    cloud.billable_time = True
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, validation=validation))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    job = next(p for op, p in cloud.calls if op == "sagemaker:createTrainingJob")
    channels = [c["ChannelName"] for c in job["InputDataConfig"]]
    assert ("validation" in channels) is validation
    assert "sagemaker:createModelPackage" in cloud.ops()
    assert ("sagemaker:createProcessingJob" in cloud.ops()) is (variant == "lora_gated")
    assert results(cloud) == ["SUCCEEDED"]
    billable = 1200 if validation else "not reported"
    assert cloud.notifications[0]["billableSeconds"] == billable


@pytest.mark.parametrize("variant", VARIANTS)
def test_invalid_dataset_notifies_and_trains_nothing(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, valid=False))
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert "sagemaker:createTrainingJob" not in cloud.ops()
    assert results(cloud) == ["DATASET_INVALID"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "broken",
    [
        "lambda:open_model_dataset_validator.handler",
        "sagemaker:createTrainingJob",
        "sagemaker:createModelPackage",
    ],
)
def test_each_step_failure_notifies(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, broken: str
) -> None:
    logical_id = machine_ids[variant]
    if broken == "sagemaker:createTrainingJob":
        cloud.job_status[broken] = "Failed"
    else:
        cloud.raise_on[broken] = ("SageMaker.ValidationException", "broken on purpose")
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "FineTuneFailed")
    assert results(cloud) == ["FAILED"]


def test_gate_below_threshold_notifies_and_does_not_register(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids["lora_gated"]
    cloud.metrics_passed = False
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "EvaluationFailed")
    assert "sagemaker:createModelPackage" not in cloud.ops()
    assert results(cloud) == ["EVALUATION_FAILED"]


@pytest.mark.parametrize("broken", ["processing-job-failed", "report-unreadable"])
def test_gate_that_cannot_run_notifies(
    cloud: Cloud, machine_ids: dict[str, str], broken: str
) -> None:
    logical_id = machine_ids["lora_gated"]
    if broken == "processing-job-failed":
        cloud.job_status["sagemaker:createProcessingJob"] = "Failed"
    else:
        cloud.raise_on["s3:getObject"] = ("S3.NoSuchKeyException", "gone")
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert execution.status == "FAILED"
    assert "sagemaker:createModelPackage" not in cloud.ops()
    assert results(cloud) in (["EVALUATION_ERROR"], ["FAILED"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_success_is_notified_without_the_optional_billable_time(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    cloud.billable_time = False
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert results(cloud) == ["SUCCEEDED"]
    assert cloud.notifications[0]["billableSeconds"] == "not reported"


@pytest.mark.parametrize("variant", VARIANTS)
def test_registered_package_carries_its_evidence(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, validation=True))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    package = next(p for op, p in cloud.calls if op == "sagemaker:createModelPackage")
    metadata = package["CustomerMetadataProperties"]
    job = next(p for op, p in cloud.calls if op == "sagemaker:createTrainingJob")
    assert metadata["trainingJobName"] == job["TrainingJobName"]
    train = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert metadata["trainingDataset"] == train
    assert metadata["datasetReport"].startswith("s3://")
    assert metadata["datasetReport"].endswith(".json")
    assert metadata["instanceType"] == job["ResourceConfig"]["InstanceType"]
    assert metadata["hp.max_seq_length"] == job["HyperParameters"]["max_seq_length"]
    if variant == "lora_gated":
        report = f"/{execution.name}/report.json"
        assert metadata["evaluationVerdict"] == "passed"
        assert metadata["evaluationReport"].endswith(report)
        statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
        assert statistics == {
            "ContentType": "application/json",
            "S3Uri": metadata["evaluationReport"],
        }
        # The report the gate read is the one attached.
        bucket, _, key = metadata["evaluationReport"][5:].partition("/")
        assert cloud.s3.get_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    else:
        assert metadata["evaluationVerdict"] == "not evaluated"
        assert "ModelMetrics" not in package


@pytest.mark.parametrize("variant", METHOD_VARIANTS)
@pytest.mark.parametrize("validation", [False, True])
def test_each_method_validates_its_format_trains_and_registers(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, validation: bool
) -> None:
    method = variant.removeprefix("sagemaker_")
    logical_id = machine_ids[variant]
    cloud.billable_time = validation  # one run each with and without the optional field
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, validation=validation))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    job = next(p for op, p in cloud.calls if op == "sagemaker:createTrainingJob")
    assert ("validation" in [c["ChannelName"] for c in job["InputDataConfig"]]) is validation
    assert cloud.notifications[0]["billableSeconds"] == (1200 if validation else "not reported")
    assert job["HyperParameters"]["method"] == method
    assert job["TrainingJobName"].startswith(f"{method}-")
    channels = [c["ChannelName"] for c in job["InputDataConfig"]]
    assert ("reward" in channels) is (method == "grpo")
    assert "sagemaker:createModelPackage" in cloud.ops()
    assert results(cloud) == ["SUCCEEDED"]


@pytest.mark.parametrize("variant", METHOD_VARIANTS)
def test_each_method_rejects_records_of_another_format(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, valid=False))
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert "sagemaker:createTrainingJob" not in cloud.ops()
    assert results(cloud) == ["DATASET_INVALID"]


@pytest.mark.parametrize("variant", METHOD_VARIANTS)
def test_each_method_training_failure_notifies(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    cloud.job_status["sagemaker:createTrainingJob"] = "Failed"
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "FineTuneFailed")
    assert "sagemaker:createModelPackage" not in cloud.ops()
    assert results(cloud) == ["FAILED"]
