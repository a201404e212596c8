"""The Bedrock fine-tune workflow with the opt-in evaluation step (ModelEvaluation), with
provisioned throughput and with a model ARN given in the input, on every branch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from workflows.aws_world import Cloud, check_request, check_response
from workflows.workflow_inputs import function_env, put_dataset, results

from cdk_llm_training.assets.runtime import evaluation_responses

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


# -- on-demand route: custom model deployment, answers written by the workflow ---------------

ON_DEMAND = "fine_tune_evaluated_on_demand"


class FakeConverse:
    """bedrock-runtime Converse: one answer per call, ``fail_at`` (call number) raises."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_at = fail_at

    def converse(self, **params: Any) -> dict[str, Any]:
        check_request("bedrock-runtime", "Converse", params)
        self.calls.append(params)
        if self.fail_at is not None and len(self.calls) >= self.fail_at:
            raise RuntimeError("ModelNotReadyException (fake)")
        response = {
            "output": {"message": {"role": "assistant", "content": [{"text": "Paris."}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
            "metrics": {"latencyMs": 100},
        }
        check_response("bedrock-runtime", "Converse", response)
        return response


@pytest.fixture
def converse(monkeypatch: pytest.MonkeyPatch) -> FakeConverse:
    fake = FakeConverse()
    monkeypatch.setattr(evaluation_responses, "runtime_client", lambda: fake)
    return fake


def _deployments_deleted(cloud: Cloud) -> list[bool]:
    return [d["deleted"] for d in cloud.deployments.values()]


def _report(cloud: Cloud) -> dict[str, Any]:
    return next(n for n in cloud.notifications if n.get("result") == "EVALUATED")


def test_on_demand_evaluation_deploys_answers_evaluates_and_deletes(
    cloud: Cloud, machine_ids: dict[str, str], converse: FakeConverse
) -> None:
    execution = start(cloud, machine_ids[ON_DEMAND])
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert "bedrock:createProvisionedModelThroughput" not in cloud.ops()
    (request,) = [p for op, p in cloud.calls if op == "bedrock:createCustomModelDeployment"]
    job = next(p for op, p in cloud.calls if op == "bedrock:createModelCustomizationJob")
    assert request["ModelArn"].endswith(
        f"/{job['BaseModelIdentifier']}/" + request["ModelArn"][-12:]
    )
    assert cloud.ops().count("bedrock:getCustomModelDeployment") == 2  # Creating, then Active
    # 10 prompts in runs of 4: three runs, every prompt answered once through the deployment
    assert cloud.ops().count("lambda:evaluation_responses.handler") == 3
    deployment = next(iter(cloud.deployments))
    assert [c["modelId"] for c in converse.calls] == [deployment] * 10
    candidate = [
        p for op, p in cloud.calls if op == "bedrock:createEvaluationJob" and "-cj-" in p["JobName"]
    ]
    assert candidate[0]["InferenceConfig"]["Models"] == [
        {"PrecomputedInferenceSource": {"InferenceSourceIdentifier": "candidate"}}
    ]
    assert _deployments_deleted(cloud) == [True]
    inference = _report(cloud)["inference"]
    assert inference["route"] == "on-demand"
    assert inference["resource"] == deployment
    assert inference["afterPassedGate"] == "deleted"
    assert (inference["inputTokens"], inference["outputTokens"]) == (120, 30)
    assert "per input and output token" in inference["billing"]
    assert results(cloud)[-1] == "SUCCEEDED"


def test_kept_deployment_survives_a_passed_gate(
    cloud: Cloud, machine_ids: dict[str, str], converse: FakeConverse
) -> None:
    execution = start(cloud, machine_ids["on_demand_kept"])
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert _deployments_deleted(cloud) == [False]
    assert _report(cloud)["inference"]["afterPassedGate"] == "kept"


@pytest.mark.parametrize("variant", [ON_DEMAND, "on_demand_kept"])
@pytest.mark.parametrize(
    "broken",
    ["low-scores", "job-failed", "catalog-invalid", "report-crash", "invoke-failed"],
)
def test_on_demand_failures_delete_the_deployment_and_notify(
    cloud: Cloud,
    machine_ids: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    variant: str,
    broken: str,
) -> None:
    fake = FakeConverse(fail_at=6 if broken == "invoke-failed" else None)
    monkeypatch.setattr(evaluation_responses, "runtime_client", lambda: fake)
    if broken == "low-scores":
        cloud.eval_score = 0.0
    elif broken == "job-failed":
        cloud.job_status["bedrock:getEvaluationJob"] = "Failed"
    elif broken == "report-crash":
        cloud.raise_on["lambda:evaluation_report.bedrock_report_handler"] = ("Lambda.Unknown", "x")
    execution = start(cloud, machine_ids[variant], valid=broken != "catalog-invalid")
    assert execution.status == "FAILED"
    assert _deployments_deleted(cloud) == [True]  # kept only after a passed gate
    assert (
        cloud.ops().index("bedrock:deleteCustomModelDeployment")
        < cloud.ops().index("sns:publish", cloud.ops().index("bedrock:createCustomModelDeployment"))
        or broken == "low-scores"
    )  # the report is published before the gate deletes
    assert results(cloud)[-1] != "SUCCEEDED"
    if broken == "invoke-failed":
        assert execution.error == "EvaluationFailed"
        assert "bedrock:createEvaluationJob" not in cloud.ops()


@pytest.mark.parametrize("variant", [ON_DEMAND, "on_demand_kept"])
@pytest.mark.parametrize("status", ["Failed", "Creating"])
def test_deployment_that_never_becomes_active_is_deleted_and_notified(
    cloud: Cloud, machine_ids: dict[str, str], converse: FakeConverse, status: str, variant: str
) -> None:
    cloud.job_status["bedrock:getCustomModelDeployment"] = status
    execution = start(cloud, machine_ids[variant])
    assert (execution.status, execution.error) == ("FAILED", "EvaluationFailed")
    assert _deployments_deleted(cloud) == [True]
    assert not converse.calls
    assert results(cloud)[-1] == "EVALUATION_FAILED"


@pytest.mark.parametrize("variant", [ON_DEMAND, "on_demand_kept"])
def test_deployment_that_cannot_be_created_fails_notified_with_nothing_to_delete(
    cloud: Cloud, machine_ids: dict[str, str], converse: FakeConverse, variant: str
) -> None:
    cloud.raise_on["bedrock:createCustomModelDeployment"] = (
        "Bedrock.ValidationException",
        "on-demand deployment is not supported in this Region",
    )
    execution = start(cloud, machine_ids[variant])
    assert (execution.status, execution.error) == ("FAILED", "EvaluationFailed")
    assert "bedrock:deleteCustomModelDeployment" not in cloud.ops()
    assert cloud.notifications[-1]["cause"] == (
        "on-demand deployment is not supported in this Region"
    )


def test_a_failing_delete_after_a_passed_gate_fails_the_run_notified(
    cloud: Cloud, machine_ids: dict[str, str], converse: FakeConverse
) -> None:
    cloud.raise_on["bedrock:deleteCustomModelDeployment"] = ("Bedrock.InternalServerException", "x")
    execution = start(cloud, machine_ids[ON_DEMAND])
    assert (execution.status, execution.error) == ("FAILED", "EvaluationFailed")
    assert cloud.ops().count("bedrock:deleteCustomModelDeployment") == 2  # after pass, error
    assert results(cloud)[-1] == "EVALUATION_FAILED"


def test_provisioned_throughput_is_deleted_after_a_passed_gate(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    execution = start(cloud, machine_ids["fine_tune_evaluated"])
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert cloud.ops().count("bedrock:deleteProvisionedModelThroughput") == 1
    inference = _report(cloud)["inference"]
    assert (inference["route"], inference["modelUnits"]) == ("provisioned", 1)
    assert "per model unit per hour" in inference["billing"]


@pytest.mark.parametrize("variant", [ON_DEMAND, "on_demand_kept"])
def test_a_failing_baseline_job_deletes_the_deployment(
    cloud: Cloud, machine_ids: dict[str, str], converse: FakeConverse, variant: str
) -> None:
    cloud.failing_jobs = ("eval-bj-",)
    execution = start(cloud, machine_ids[variant])
    assert (execution.status, execution.error) == ("FAILED", "EvaluationFailed")
    assert _deployments_deleted(cloud) == [True]
    assert results(cloud)[-1] == "EVALUATION_FAILED"
