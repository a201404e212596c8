"""LLM-SLE1 and LLM-SLE2 on raw CloudFormation: compliant and non-compliant fixtures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template

SDK = "arn:aws:states:::aws-sdk:sagemaker:"


def _machine(states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    names = list(states)
    for here, after in zip(names, [*names[1:], None], strict=True):
        states[here] = {"Type": "Task", **states[here]}
        states[here].update({"Next": after} if after else {"End": True})
    definition = {"StartAt": names[0], "States": states}
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "RoleArn": {"Fn::GetAtt": ["WorkflowRole", "Arn"]},
            "DefinitionString": json.dumps(definition),
        },
    }


def _role(actions: list[str]) -> dict[str, Any]:
    return {
        "WorkflowRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        "WorkflowPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "WorkflowRole"}],
                "PolicyDocument": {
                    "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
                },
            },
        },
    }


def _evaluation(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resource": f"{SDK}createTrainingJob",
        "Parameters": {
            "TrainingJobName": "j",
            "ServerlessJobConfig": {"BaseModelArn": "arn", "JobType": "Evaluation", **config},
        },
    }


def _findings(rule: str, resources: dict[str, Any]) -> list[str]:
    return [f.logical_id for f in check_template({"Resources": resources}, [RULES_BY_ID[rule]])]


@pytest.mark.parametrize(
    ("config", "found"),
    [
        ({"EvaluationType": "BenchmarkEvaluation"}, []),
        ({"EvaluationType": "LLMAJEvaluation"}, []),
        ({"EvaluationType.$": "$.type"}, []),
        ({}, ["Workflow"]),
        ({"EvaluationType": "Benchmark"}, ["Workflow"]),
    ],
)
def test_sle1_evaluation_jobs_name_an_evaluation_type(
    config: dict[str, Any], found: list[str]
) -> None:
    machine = _machine({"Evaluate": _evaluation(config)})
    assert _findings("LLM-SLE1", {"Workflow": machine}) == found


def test_sle1_ignores_fine_tuning_jobs() -> None:
    state = _evaluation({})
    state["Parameters"]["ServerlessJobConfig"]["JobType"] = "FineTuning"
    assert _findings("LLM-SLE1", {"Workflow": _machine({"Train": state})}) == []


def _polled_and_gated() -> dict[str, Any]:
    return _machine(
        {
            "Evaluate": _evaluation({"EvaluationType": "BenchmarkEvaluation"}),
            "Describe": {"Resource": f"{SDK}describeTrainingJob", "Parameters": {}},
            "Approve": {"Resource": f"{SDK}updateModelPackage", "Parameters": {}},
        }
    )


def test_sle2_every_sdk_call_is_granted() -> None:
    granted = _role(
        [
            "sagemaker:CreateTrainingJob",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:UpdateModelPackage",
        ]
    )
    assert _findings("LLM-SLE2", {"Workflow": _polled_and_gated(), **granted}) == []
    wildcard = _role(["sagemaker:*"])
    assert _findings("LLM-SLE2", {"Workflow": _polled_and_gated(), **wildcard}) == []


def test_sle2_a_missing_approval_grant_is_found() -> None:
    partial = _role(["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob"])
    resources = {"Workflow": _polled_and_gated(), **partial}
    assert _findings("LLM-SLE2", resources) == ["Workflow"]
    finding = check_template({"Resources": resources}, [RULES_BY_ID["LLM-SLE2"]])[0]
    assert "sagemaker:UpdateModelPackage" in finding.message
