"""The evaluation states as StateMachineFragments (ModelEvaluationSteps, TaskMetricsSteps):
embedded like one state, chained with ``.next()``, grants returned as ``iam.Grant``; and the
evaluation package's shape (old module paths, module sizes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from cdk_support import new_stack, resources_of_type, template_of

import cdk_llm_training.constructs.evaluation as evaluation_package
from cdk_llm_training import (
    ModelEvaluation,
    ModelEvaluationOptions,
    ModelEvaluationSteps,
    TaskMetricsEvaluation,
    TaskMetricsSteps,
    TrainingDataLake,
)

MAX_MODULE_LINES = 400


def _token(value: dict[str, Any]) -> str:
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}>".format(".".join(value["Fn::GetAtt"]))
    return "<expr>"


def _machines(template: Template) -> dict[str, dict[str, Any]]:
    """Logical ID -> parsed definition of every state machine."""
    machines = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    parsed = {}
    for logical_id, machine in machines.items():
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        text = "".join(p if isinstance(p, str) else _token(p) for p in parts)
        parsed[logical_id] = json.loads(text)
    return parsed


def _policy_statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resources_of_type(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    """One stack: each fragment built directly, without ``on_passed``, chained with
    ``.next()`` into its own state machine; the grants kept."""
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    model_evaluation = ModelEvaluation(
        stack,
        "Eval",
        base_model_id="amazon.nova-micro-v1:0:128k",
        topic=sns.Topic(stack, "Topic"),
        data_lake=lake,
        options=ModelEvaluationOptions(compare_with_base_model=False),
    )
    model_steps = ModelEvaluationSteps(stack, "EvalSteps", evaluation=model_evaluation)
    model_machine = sfn.StateMachine(
        stack,
        "EvalMachine",
        definition_body=sfn.DefinitionBody.from_chainable(
            model_steps.next(sfn.Succeed(stack, "AfterEvaluation"))
        ),
    )
    task_metrics = TaskMetricsEvaluation(stack, "TaskMetrics", data_lake=lake)
    task_steps = TaskMetricsSteps(
        stack,
        "TaskMetricsSteps",
        evaluation=task_metrics,
        predictions_s3_uri_path="$.predictionsS3Uri",
    )
    task_machine = sfn.StateMachine(
        stack,
        "TaskMetricsMachine",
        definition_body=sfn.DefinitionBody.from_chainable(
            task_steps.next(sfn.Succeed(stack, "AfterTaskMetrics"))
        ),
    )
    return {
        "model_steps": model_steps,
        "task_steps": task_steps,
        "model_grant": model_evaluation.grant_workflow(model_machine),
        "task_grant": task_metrics.grant_workflow(task_machine),
        "template": template_of(stack),
    }


def _machine_with(built: dict[str, Any], state: str) -> dict[str, Any]:
    return next(d for d in _machines(built["template"]).values() if state in d["States"])


def test_model_evaluation_fragment_chains_after_its_gate(built: dict[str, Any]) -> None:
    definition = _machine_with(built, "EvalGate")
    states = definition["States"]
    # No custom model name: no provisioned throughput, the fragment starts with EvalSetup.
    assert definition["StartAt"] == "EvalSetup"
    assert built["model_steps"].start_state.state_id == "EvalSetup"
    assert [s.state_id for s in built["model_steps"].end_states] == ["EvalPassed"]
    assert states["EvalGate"]["Choices"][0]["Next"] == "EvalPassed"
    assert states["EvalGate"]["Default"] == "EvalThresholdNotMet"
    assert states["EvalPassed"]["Next"] == "AfterEvaluation"


def test_task_metrics_fragment_chains_after_its_gate(built: dict[str, Any]) -> None:
    definition = _machine_with(built, "TaskMetricsGate")
    states = definition["States"]
    assert definition["StartAt"] == "TaskMetricsJob"
    assert [s.state_id for s in built["task_steps"].end_states] == ["TaskMetricsPassed"]
    assert states["TaskMetricsGate"]["Choices"][0]["Next"] == "TaskMetricsPassed"
    assert states["TaskMetricsGate"]["Default"] == "TaskMetricsFailed"
    assert states["TaskMetricsPassed"]["Next"] == "AfterTaskMetrics"
    sources = states["TaskMetricsJob"]["Parameters"]["ProcessingInputs"][2]["S3Input"]
    assert sources["S3Uri.$"] == "$.predictionsS3Uri"


def test_fragment_ends_where_on_passed_ends() -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    task_metrics = TaskMetricsEvaluation(stack, "TaskMetrics", data_lake=lake)
    approve = sfn.Pass(stack, "Approve")
    steps = task_metrics.chain(predictions_s3_uri_path="$.p", on_passed=approve)
    assert isinstance(steps, TaskMetricsSteps)
    assert steps.node.path == "TestStack/TaskMetrics/Steps"
    assert [s.state_id for s in steps.end_states if isinstance(s, sfn.State)] == ["Approve"]


def test_model_evaluation_grant_is_the_pass_role_statement(built: dict[str, Any]) -> None:
    grant: iam.Grant = built["model_grant"]
    assert grant.success
    statement = grant.principal_statement
    assert statement is not None
    assert statement.sid == "PassEvaluationRole"
    assert statement.actions == ["iam:PassRole"]
    sids = [s.get("Sid") for s in _policy_statements(built["template"])]
    assert sids.count("PassEvaluationRole") == 1


def test_task_metrics_grant_combines_its_statements(built: dict[str, Any]) -> None:
    grant: iam.Grant = built["task_grant"]
    assert grant.success
    sids = {s.sid for s in grant.principal_statements}
    assert {
        "RunProcessingJobs",
        "ListJobTags",
        "ManageProcessingSyncRule",
        "PassProcessingRole",
    } <= sids
    # The lake key: the grant decrypts the report too.
    assert any("kms:Decrypt" in s.actions for s in grant.principal_statements)


def test_old_module_paths_export_the_same_objects() -> None:
    from cdk_llm_training.constructs import human_evaluation, model_evaluation
    from cdk_llm_training.constructs import task_metrics_evaluation as task_metrics

    assert model_evaluation.ModelEvaluation is evaluation_package.ModelEvaluation
    assert model_evaluation.ModelEvaluationSteps is ModelEvaluationSteps
    assert task_metrics.TaskMetricsEvaluation is evaluation_package.TaskMetricsEvaluation
    assert task_metrics.TaskMetricsSteps is TaskMetricsSteps
    assert human_evaluation.HumanEvaluation is evaluation_package.HumanEvaluation


def test_evaluation_modules_stay_small() -> None:
    package_dir = Path(evaluation_package.__file__).parent
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(package_dir.glob("*.py"))
    }
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
    assert "model_evaluation_steps.py" in sizes
