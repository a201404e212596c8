"""LLM-ODE1..3 on raw CloudFormation fixtures: a workflow that creates a custom model
deployment and deletes it with a role allowed to, and the ways each contract breaks."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template

CREATE: dict[str, Any] = {
    "Type": "Task",
    "Resource": "arn:aws:states:::aws-sdk:bedrock:createCustomModelDeployment",
    "Parameters": {"ModelDeploymentName": "eval-1", "ModelArn.$": "$.job.OutputModelArn"},
    "Next": "Evaluate",
}
EVALUATE: dict[str, Any] = {
    "Type": "Task",
    "Resource": "arn:aws:states:::aws-sdk:bedrock:createEvaluationJob",
    "Parameters": {
        "InferenceConfig": {
            "Models": [{"PrecomputedInferenceSource": {"InferenceSourceIdentifier": "candidate"}}]
        }
    },
    "Next": "Delete",
}
DELETE: dict[str, Any] = {
    "Type": "Task",
    "Resource": "arn:aws:states:::aws-sdk:bedrock:deleteCustomModelDeployment",
    "Parameters": {"CustomModelDeploymentIdentifier.$": "$.evaluation.deployment"},
    "End": True,
}
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456"


def template(states: dict[str, Any], *, delete_allowed: bool = True) -> dict[str, Any]:
    definition = json.dumps({"StartAt": "Deploy", "States": states})
    action = "bedrock:deleteCustomModelDeployment" if delete_allowed else "bedrock:GetCustomModel"
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
            "RolePolicy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [{"Ref": "Role"}],
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "bedrock:createCustomModelDeployment",
                                    action,
                                ],
                                "Resource": "*",
                            }
                        ]
                    },
                },
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                    "DefinitionString": {"Fn::Join": ["", [definition]]},
                },
            },
        }
    }


COMPLIANT = template({"Deploy": CREATE, "Evaluate": EVALUATE, "Delete": DELETE})


def findings(rule: str, tpl: dict[str, Any]) -> list[str]:
    return [f.logical_id for f in check_template(tpl, [RULES_BY_ID[rule]])]


@pytest.mark.parametrize("rule", ["LLM-ODE1", "LLM-ODE2", "LLM-ODE3"])
def test_the_compliant_workflow_passes(rule: str) -> None:
    assert findings(rule, COMPLIANT) == []


def test_a_deployment_never_deleted_is_found() -> None:
    evaluate = {**EVALUATE, "End": True}
    evaluate.pop("Next")
    assert findings("LLM-ODE1", template({"Deploy": CREATE, "Evaluate": evaluate})) == ["Machine"]


def test_a_delete_the_role_may_not_run_is_found() -> None:
    states = {"Deploy": CREATE, "Evaluate": EVALUATE, "Delete": DELETE}
    assert findings("LLM-ODE2", template(states, delete_allowed=False)) == ["Machine"]


def test_a_deployment_arn_as_the_evaluated_model_is_found() -> None:
    evaluate = copy.deepcopy(EVALUATE)
    evaluate["Parameters"]["InferenceConfig"]["Models"] = [
        {"BedrockModel": {"ModelIdentifier": DEPLOYMENT}}
    ]
    states = {"Deploy": CREATE, "Evaluate": evaluate, "Delete": DELETE}
    assert findings("LLM-ODE3", template(states)) == ["Machine"]


def test_a_machine_without_deployments_is_not_concerned() -> None:
    states = {"Deploy": {"Type": "Pass", "End": True}}
    for rule in ("LLM-ODE1", "LLM-ODE2", "LLM-ODE3"):
        assert findings(rule, template(states, delete_allowed=False)) == []
