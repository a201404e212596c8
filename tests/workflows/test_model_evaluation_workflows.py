"""The Bedrock fine-tune workflow with the opt-in evaluation step (ModelEvaluation), with
provisioned throughput and with a model ARN given in the input, on every branch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from workflows.aws_world import Cloud
from workflows.workflow_inputs import function_env, put_dataset, results

PROMPT = {"prompt": "What is the capital of France?", "reference": "Paris"}
GIVEN_MODEL = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"


def start(
    cloud: Cloud,
    logical_id: str,
    *,
    catalog: bool = True,
    valid: bool = True,
    validation: bool = True,
    **extra: Any,
) -> Any:
    payload = put_dataset(cloud, logical_id, validation=validation)
    env = function_env(cloud, logical_id, "EvalPreparePrompts")
    if catalog:
        record = PROMPT if valid else {"question": "no prompt field"}
        body = "\n".join(json.dumps(record) for _ in range(10)) + "\n"
        cloud.s3.put_object(Bucket=env["CATALOG_BUCKET"], Key="evaluation/prompts.jsonl", Body=body)
    return cloud.start(logical_id, {**payload, **extra})


@pytest.mark.parametrize(
    ("variant", "extra"),
    [
        ("fine_tune_evaluated", {}),
        ("fine_tune_evaluated_given_model", {"evaluationModelArn": GIVEN_MODEL}),
    ],
)
@pytest.mark.parametrize("minimal", [False, True], ids=["full", "required-fields-only"])
def test_evaluated_model_passes_the_gate(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, extra: dict[str, Any], minimal: bool
) -> None:
    cloud.optional_fields = not minimal
    execution = start(cloud, machine_ids[variant], **extra)
    assert execution.status == "SUCCEEDED", (
        execution.error,
        execution.cause,
        execution.events[-6:],
    )
    assert cloud.ops().count("bedrock:getEvaluationJob") >= 2  # polled until done
    assert results(cloud)[-1] == "SUCCEEDED"
    assert ("bedrock:createProvisionedModelThroughput" in cloud.ops()) is (
        variant == "fine_tune_evaluated"
    )


@pytest.mark.parametrize(
    ("variant", "extra"),
    [
        ("fine_tune_evaluated", {}),
        ("fine_tune_evaluated_given_model", {"evaluationModelArn": GIVEN_MODEL}),
        ("fine_tune_evaluated_recorded", {"evaluationModelArn": GIVEN_MODEL}),
    ],
)
@pytest.mark.parametrize(
    "broken", ["low-scores", "job-failed", "catalog-missing", "catalog-invalid", "report-crash"]
)
def test_evaluation_failures_end_notified(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, extra: dict[str, Any], broken: str
) -> None:
    if broken == "low-scores":
        cloud.eval_score = 0.0
    elif broken == "job-failed":
        cloud.job_status["bedrock:getEvaluationJob"] = "Failed"
    elif broken == "report-crash":
        cloud.raise_on["lambda:evaluation_report.bedrock_report_handler"] = ("Lambda.Unknown", "x")
    execution = start(
        cloud,
        machine_ids[variant],
        catalog=broken != "catalog-missing",
        valid=broken != "catalog-invalid",
        **extra,
    )
    assert execution.status == "FAILED"
    assert cloud.notifications, "a failure must be notified"
    assert results(cloud)[-1] != "SUCCEEDED"


def test_throughput_that_never_comes_up_is_deleted_and_notified(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    cloud.job_status["bedrock:getProvisionedModelThroughput"] = "Failed"
    execution = start(cloud, machine_ids["fine_tune_evaluated"])
    assert execution.status == "FAILED"
    assert "bedrock:deleteProvisionedModelThroughput" in cloud.ops()
    assert cloud.notifications


@pytest.mark.parametrize(
    "extra",
    [{}, {"evaluationModelArn": ""}, {"evaluationModelArn": 7}],
    ids=["absent", "empty", "number"],
)
@pytest.mark.parametrize(
    "variant", ["fine_tune_evaluated_given_model", "fine_tune_evaluated_recorded"]
)
def test_given_model_missing_fails_before_the_job(
    cloud: Cloud, machine_ids: dict[str, str], extra: dict[str, Any], variant: str
) -> None:
    execution = start(cloud, machine_ids[variant], **extra)
    assert execution.status == "FAILED"
    assert execution.error == "InvalidInput"
    assert "bedrock:createModelCustomizationJob" not in cloud.ops()
    assert results(cloud) == ["INVALID_INPUT"]


@pytest.mark.parametrize(
    ("variant", "extra", "failing"),
    [
        ("fine_tune_evaluated", {}, "eval-bj-"),
        ("fine_tune_evaluated_given_model", {"evaluationModelArn": GIVEN_MODEL}, "eval-cb-"),
        ("fine_tune_evaluated_recorded", {"evaluationModelArn": GIVEN_MODEL}, "eval-cb-"),
    ],
    ids=["baseline-judge-job", "candidate-builtin-job", "recorded-candidate-builtin-job"],
)
def test_any_single_evaluation_job_failing_fails_the_run_notified(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, extra: dict[str, Any], failing: str
) -> None:
    cloud.failing_jobs = (failing,)
    execution = start(cloud, machine_ids[variant], **extra)
    assert execution.status == "FAILED"
    assert results(cloud)[-1] != "SUCCEEDED"
