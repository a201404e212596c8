"""BedrockFineTuneJob's workflows (fine-tune, continued pre-training, distillation) run on
every branch from the synthesized definitions."""

from __future__ import annotations

from typing import Any

import pytest
from workflows.aws_world import Cloud
from workflows.workflow_inputs import function_env, put_dataset, results

VARIANTS = ("fine_tune", "continued_pre_training", "distillation")
GIVEN_MODEL_VARIANTS = ("fine_tune_evaluated_given_model", "fine_tune_evaluated_recorded")
"""Variants that evaluate a model ARN given in the input (no provisioned throughput)."""
ALL_VARIANTS = (
    *VARIANTS,
    "fine_tune_evaluated",
    *GIVEN_MODEL_VARIANTS,
    "fine_tune_recorded",
    "fine_tune_evaluated_on_demand",
    "on_demand_kept",
)
"""The evaluated and recorded variants share the states before the evaluation (dataset,
job)."""
GIVEN_MODEL = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"


def job_input(cloud: Cloud, logical_id: str, variant: str, **kwargs: Any) -> dict[str, Any]:
    payload = put_dataset(cloud, logical_id, **kwargs)
    if variant in GIVEN_MODEL_VARIANTS:
        payload["evaluationModelArn"] = GIVEN_MODEL
    return payload


@pytest.mark.parametrize("minimal", [False, True], ids=["full", "required-fields-only"])
@pytest.mark.parametrize(
    ("variant", "validation"),
    [(v, False) for v in VARIANTS]
    + [("fine_tune", True), ("continued_pre_training", True), ("distillation", True)]
    + [("fine_tune_recorded", True)],
)
def test_valid_dataset_runs_the_job_and_notifies_success(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, validation: bool, minimal: bool
) -> None:
    cloud.optional_fields = not minimal
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, validation=validation))
    if variant == "distillation" and validation:
        # Distillation takes no validation data: the validator refuses it, no job starts.
        assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
        assert "bedrock:createModelCustomizationJob" not in cloud.ops()
        return
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    job = next(p for op, p in cloud.calls if op == "bedrock:createModelCustomizationJob")
    assert ("ValidationDataConfig" in job) is validation
    assert results(cloud) == ["SUCCEEDED"]
    assert execution.visited[-1] == "Done"


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_invalid_dataset_notifies_and_starts_no_job(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, job_input(cloud, logical_id, variant, valid=False))
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert "bedrock:createModelCustomizationJob" not in cloud.ops()
    assert results(cloud) == ["DATASET_INVALID"]


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_job_failure_notifies(cloud: Cloud, machine_ids: dict[str, str], variant: str) -> None:
    logical_id = machine_ids[variant]
    cloud.job_status["bedrock:createModelCustomizationJob"] = "Failed"
    execution = cloud.start(logical_id, job_input(cloud, logical_id, variant))
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert results(cloud) == ["FAILED"]


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_validator_crash_notifies(cloud: Cloud, machine_ids: dict[str, str], variant: str) -> None:
    logical_id = machine_ids[variant]
    cloud.raise_on["lambda:bedrock_dataset_validator.handler"] = ("Lambda.Unknown", "timed out")
    execution = cloud.start(logical_id, job_input(cloud, logical_id, variant))
    assert (execution.status, execution.error) == ("FAILED", "ValidationError")
    assert results(cloud) == ["VALIDATION_ERROR"]


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


@pytest.mark.parametrize("variant", VARIANTS)
def test_ready_marker_input_from_the_event_rule_runs_the_job(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    """The input the ready-marker EventBridge rule sends (``readyMarker``: bucket, key)."""
    logical_id = machine_ids[variant]
    payload = put_dataset(cloud, logical_id)
    bucket = function_env(cloud, logical_id, "ValidateDataset")["DATASET_BUCKET"]
    marker = payload["trainingDataKey"].rsplit("/", 1)[0] + "/_READY"
    cloud.s3.put_object(Bucket=bucket, Key=marker, Body=b"")
    execution = cloud.start(logical_id, {"readyMarker": {"bucket": bucket, "key": marker}})
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert results(cloud) == ["SUCCEEDED"]


def test_oversized_input_is_refused_by_step_functions(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    execution = cloud.start(machine_ids["fine_tune"], {"trainingDataKey": "x" * 300_000})
    assert (execution.status, execution.error) == ("FAILED", "States.DataLimitExceeded")
    assert not cloud.calls
