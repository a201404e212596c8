"""ModelEvaluation's on-demand route: route resolution by model, Region and metrics; the
synthesized states, the responses Lambda and the permissions (nag and rule pack clean)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_support import cfn_lint_findings, new_app, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    BedrockFineTuneJob,
    BedrockFineTuneOptions,
    EvaluationInference,
    EvaluationThresholds,
    ModelEvaluationOptions,
    TrainingDataLake,
)
from cdk_llm_training.config.catalogs.custom_model_deployment import (
    resolve_inference,
    supports_on_demand,
)

NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"


def _definition(template: Template) -> dict[str, Any]:
    machine = next(iter(resources_of_type(template, "AWS::StepFunctions::StateMachine").values()))
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "<ref>" for p in parts)
    return json.loads(text)["States"]  # type: ignore[no-any-return]


def _policy_statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    out = []
    for logical_id, policy in resources_of_type(template, "AWS::IAM::Policy").items():
        if role_fragment in logical_id:
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


@pytest.fixture(scope="module")
def built() -> tuple[Template, BedrockFineTuneJob]:
    stack = new_stack()  # AwsSolutions and the library's rule pack: any finding fails synth
    job = BedrockFineTuneJob(
        stack,
        "FineTune",
        data_lake=TrainingDataLake(stack, "Lake"),
        options=BedrockFineTuneOptions(
            evaluation=ModelEvaluationOptions(
                thresholds=EvaluationThresholds(min_scores={"Builtin.Correctness": 0.7})
            )
        ),
    )
    return template_of(stack), job


@pytest.mark.parametrize(
    ("choice", "model", "region", "algorithmic", "expected"),
    [
        ("auto", NOVA_MICRO, None, False, "on-demand"),
        ("auto", "amazon.nova-lite-v1:0:300k", "us-west-2", False, "on-demand"),
        ("auto", "amazon.nova-pro-v1:0:300k", "us-east-1", False, "on-demand"),
        ("auto", NOVA_MICRO, "eu-west-1", False, "provisioned"),
        ("auto", NOVA_MICRO, "us-east-1", True, "provisioned"),
        ("auto", LLAMA, "us-east-1", False, "provisioned"),
        ("auto", "amazon.nova-2-lite-v1:0:256k", "us-east-1", False, "provisioned"),
        ("provisioned", NOVA_MICRO, "us-east-1", False, "provisioned"),
        ("on-demand", NOVA_MICRO, None, False, "on-demand"),
    ],
)
def test_route_resolution(
    choice: str, model: str, region: str | None, algorithmic: bool, expected: str
) -> None:
    route = resolve_inference(
        EvaluationInference(choice),
        base_model_id=model,
        region=region,
        algorithmic_metrics=algorithmic,
    )
    assert route.value == expected


@pytest.mark.parametrize(
    ("model", "region", "words"),
    [
        (LLAMA, "us-east-1", "base model 'meta.llama3-1-8b-instruct-v1:0:128k'"),
        (NOVA_MICRO, "eu-west-1", "Region 'eu-west-1'"),
    ],
)
def test_on_demand_where_unsupported_fails_naming_why(model: str, region: str, words: str) -> None:
    with pytest.raises(ValueError, match="evaluation_inference 'on-demand'") as error:
        resolve_inference(
            EvaluationInference.ON_DEMAND,
            base_model_id=model,
            region=region,
            algorithmic_metrics=False,
        )
    assert words in str(error.value)


def test_on_demand_with_algorithmic_metrics_is_refused_by_the_options() -> None:
    with pytest.raises(ValidationError, match="judge metrics only"):
        ModelEvaluationOptions(
            evaluation_inference=EvaluationInference.ON_DEMAND,
            algorithmic_metrics=("Builtin.Accuracy",),
        )


def test_supported_models_are_the_documented_nova_families() -> None:
    assert supports_on_demand(NOVA_MICRO)
    assert not supports_on_demand(LLAMA)


def test_explicit_on_demand_in_an_unsupported_region_fails_synthesis() -> None:
    app = new_app(nag=False)
    stack = cdk.Stack(
        app, "Ireland", env=cdk.Environment(account="123456789012", region="eu-west-1")
    )
    with pytest.raises(ValueError, match="Region 'eu-west-1'"):
        BedrockFineTuneJob(
            stack,
            "FineTune",
            data_lake=TrainingDataLake(stack, "Lake"),
            options=BedrockFineTuneOptions(
                evaluation=ModelEvaluationOptions(
                    evaluation_inference=EvaluationInference.ON_DEMAND
                )
            ),
        )


def test_job_success_deploys_the_new_custom_model(
    built: tuple[Template, BedrockFineTuneJob],
) -> None:
    template, job = built
    assert job.evaluation is not None
    assert job.evaluation.inference is EvaluationInference.ON_DEMAND
    states = _definition(template)
    assert states["CreateCustomizationJob"]["Next"] == "EvalDeploy"
    deploy = states["EvalDeploy"]
    assert deploy["Resource"].endswith(":states:::aws-sdk:bedrock:createCustomModelDeployment")
    assert deploy["Parameters"]["ModelArn.$"] == "$.job.OutputModelArn"
    assert deploy["ResultSelector"] == {"arn.$": "$.CustomModelDeploymentArn"}
    assert deploy["Catch"][0]["Next"] == "EvalNotifyFailed"  # nothing to delete yet
    ready = states["EvalDeploymentReady?"]
    assert ready["Choices"][0]["StringEquals"] == "Active"
    assert ready["Choices"][0]["Next"] == "EvalPreparePrompts"
    assert "EvalProvisionThroughput" not in states


def test_answers_are_generated_in_a_loop_then_evaluated_as_precomputed(
    built: tuple[Template, BedrockFineTuneJob],
) -> None:
    states = _definition(built[0])
    assert states["EvalPromptsValid?"]["Default"] == "EvalGenerateResponses"
    assert states["EvalGenerateResponses"]["Next"] == "EvalResponsesDone?"
    done = states["EvalResponsesDone?"]
    assert done["Choices"][0]["Next"] == "EvalRunJobs"
    assert done["Default"] == "EvalGenerateResponses"
    branches = {b["StartAt"]: b["States"] for b in states["EvalRunJobs"]["Branches"]}
    candidate = branches["Eval-candidate-judge-Create"]["Eval-candidate-judge-Create"]
    params = candidate["Parameters"]
    assert params["InferenceConfig"]["Models"] == [
        {"PrecomputedInferenceSource": {"InferenceSourceIdentifier": "candidate"}}
    ]
    metric = params["EvaluationConfig"]["Automated"]["DatasetMetricConfigs"][0]
    assert metric["Dataset"]["DatasetLocation"] == {
        "S3Uri.$": "$.evaluation.responses.datasetS3Uri"
    }
    baseline = branches["Eval-baseline-judge-Create"]["Eval-baseline-judge-Create"]
    assert "BedrockModel" in baseline["Parameters"]["InferenceConfig"]["Models"][0]


def test_every_path_deletes_the_deployment(built: tuple[Template, BedrockFineTuneJob]) -> None:
    states = _definition(built[0])
    for name in ("EvalPreparePrompts", "EvalGenerateResponses", "EvalRunJobs", "EvalReport"):
        assert states[name]["Catch"][0]["Next"] == "EvalDeleteDeploymentAfterError"
    assert states["EvalGetDeployment"]["Catch"][0]["Next"] == "EvalDeleteDeploymentAfterError"
    assert states["EvalDeploymentFailed"]["Next"] == "EvalDeleteDeploymentAfterError"
    assert states["EvalDeleteDeploymentAfterError"]["Next"] == "EvalNotifyFailed"
    assert states["EvalGate"]["Choices"][0]["Next"] == "EvalDeleteDeploymentAfterPass"
    assert states["EvalGate"]["Default"] == "EvalDeleteDeployment"
    for name in ("EvalDeleteDeployment", "EvalDeleteDeploymentAfterPass"):
        assert states[name]["Parameters"] == {
            "CustomModelDeploymentIdentifier.$": "$.evaluation.deployment"
        }
        assert states[name]["Retry"][0]["ErrorEquals"] == [
            "Bedrock.ThrottlingException",
            "Bedrock.ConflictException",
        ]


def test_report_notification_names_route_resource_and_billing(
    built: tuple[Template, BedrockFineTuneJob],
) -> None:
    message = _definition(built[0])["EvalNotifyReport"]["Parameters"]["Message"]
    inference = message["inference"]
    assert inference["route"] == "on-demand"
    assert inference["resource.$"] == "$.evaluation.deployment"
    assert inference["afterPassedGate"] == "deleted"
    assert "unverified" in inference["billing"]


def test_workflow_role_manages_only_deployments(
    built: tuple[Template, BedrockFineTuneJob],
) -> None:
    statements = _policy_statements(built[0], "FineTuneRoleDefaultPolicy")
    by_action: dict[str, list[str]] = {}
    for statement in statements:
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        ):
            by_action.setdefault(action, []).append(json.dumps(statement["Resource"]))
    for action in (
        "bedrock:createCustomModelDeployment",
        "bedrock:getCustomModelDeployment",
        "bedrock:deleteCustomModelDeployment",
    ):
        assert action in by_action, sorted(by_action)
        assert all("custom-model-deployment/*" in r for r in by_action[action])
    assert "bedrock:createProvisionedModelThroughput" not in by_action


def test_responses_lambda_may_invoke_deployments_and_write_answers(
    built: tuple[Template, BedrockFineTuneJob],
) -> None:
    template, job = built
    assert job.evaluation is not None
    assert job.evaluation.responses_function is not None
    functions = resources_of_type(template, "AWS::Lambda::Function")
    (env,) = [
        f["Properties"]["Environment"]["Variables"]
        for f in functions.values()
        if f["Properties"].get("Handler") == "evaluation_responses.handler"
    ]
    assert env["RESPONSES_PREFIX"] == "evaluation/bedrock-input/responses/"
    assert (env["BATCH_SIZE"], env["MAX_TOKENS"], env["SOURCE_IDENTIFIER"]) == (
        "100",
        "1024",
        "candidate",
    )
    statements = _policy_statements(template, "ResponsesFunction")
    invoke = next(s for s in statements if s.get("Sid") == "InvokeDeployment")
    assert invoke["Action"] == "bedrock:InvokeModel"
    assert "custom-model-deployment/*" in json.dumps(invoke["Resource"])


def test_on_demand_workflow_is_cfn_lint_clean(built: tuple[Template, BedrockFineTuneJob]) -> None:
    assert cfn_lint_findings(built[0].to_json()) == []
