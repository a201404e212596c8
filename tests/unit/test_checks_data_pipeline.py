"""LLM-DP1 on raw CloudFormation: compliant and non-compliant processing job requests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template


def _machine(parameters: dict[str, Any], *, joined: bool = False) -> dict[str, Any]:
    definition = {
        "StartAt": "Job",
        "States": {
            "Job": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": parameters,
                "End": True,
            }
        },
    }
    text = json.dumps(definition)
    body: Any = text
    if joined:  # as CDK writes it: references spliced in with Fn::Join
        head, tail = text.split("REGION", 1)
        body = {"Fn::Join": ["", [head, {"Ref": "AWS::Region"}, tail]]}
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/x", "DefinitionString": body},
    }


def _findings(resource: dict[str, Any]) -> list[str]:
    template = {"Resources": {"Workflow": resource}}
    return [f.message for f in check_template(template, [RULES_BY_ID["LLM-DP1"]])]


def _parameters(argument: str, *, env: str = "x") -> dict[str, Any]:
    return {
        "ProcessingJobName.$": "States.Format('c-{}', States.UUID())",
        "AppSpecification": {
            "ImageUri": "img",
            "ContainerEntrypoint": ["/bin/sh", "-c", "echo REGION"],
            "ContainerArguments": ["--set", argument],
        },
        "Environment": {"A": env, "B.$": "States.Format('{}', $.x)"},
    }


@pytest.mark.parametrize("joined", [False, True])
def test_dp1_accepts_strings_within_the_limit(joined: bool) -> None:
    assert _findings(_machine(_parameters("a" * 256, env="e" * 256), joined=joined)) == []


@pytest.mark.parametrize("joined", [False, True])
def test_dp1_flags_an_argument_over_256_characters(joined: bool) -> None:
    (message,) = _findings(_machine(_parameters("a" * 257), joined=joined))
    assert "ContainerArguments[1] (257 characters)" in message


def test_dp1_flags_environment_and_entrypoint() -> None:
    parameters = _parameters("ok", env="e" * 300)
    parameters["AppSpecification"]["ContainerEntrypoint"][2] = "x" * 400
    (message,) = _findings(_machine(parameters))
    assert "ContainerEntrypoint[2] (400 characters)" in message
    assert "Environment.A (300 characters)" in message


def test_dp1_ignores_other_integrations() -> None:
    resource = _machine(_parameters("a" * 300))
    definition = json.loads(resource["Properties"]["DefinitionString"])
    definition["States"]["Job"]["Resource"] = "arn:aws:states:::sagemaker:createTrainingJob.sync"
    resource["Properties"]["DefinitionString"] = json.dumps(definition)
    assert _findings(resource) == []


def _batch_machine(hours: Any) -> dict[str, Any]:
    definition = {
        "StartAt": "Create",
        "States": {
            "Create": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:bedrock:createModelInvocationJob",
                "Parameters": {"JobName": "j", "TimeoutDurationInHours": hours},
                "End": True,
            }
        },
    }
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"RoleArn": "r", "DefinitionString": json.dumps(definition)},
    }


@pytest.mark.parametrize(("hours", "flagged"), [(24, False), (168, False), (12, True), (200, True)])
def test_dp2_batch_timeout_range(hours: int, flagged: bool) -> None:
    template = {"Resources": {"Workflow": _batch_machine(hours)}}
    findings = check_template(template, [RULES_BY_ID["LLM-DP2"]])
    assert bool(findings) is flagged
    if flagged:
        assert f"TimeoutDurationInHours {hours}" in findings[0].message
