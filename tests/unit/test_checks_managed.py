"""LLM-RFT1 on raw CloudFormation fixtures: an RFT job's role that may invoke its grader, and
one that may not."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template

DEFINITION_PARTS: list[Any] = [
    '{"StartAt":"Job","States":{"Job":{"Type":"Task","End":true,'
    '"Resource":"arn:aws:states:::bedrock:createModelCustomizationJob.sync",'
    '"Parameters":{"CustomizationType":"REINFORCEMENT_FINE_TUNING","RoleArn":"',
    {"Fn::GetAtt": ["JobRole", "Arn"]},
    '","BaseModelIdentifier":"amazon.nova-2-lite-v1:0:256k",'
    '"CustomizationConfig":{"RftConfig":{"GraderConfig":{"LambdaGrader":{"LambdaArn":"',
    {"Fn::GetAtt": ["Grader", "Arn"]},
    '"}}}}}}}}',
]

COMPLIANT: dict[str, Any] = {
    "Resources": {
        "JobRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
        "Grader": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "JobRolePolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "JobRole"}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "lambda:InvokeFunction",
                            "Resource": {"Fn::GetAtt": ["Grader", "Arn"]},
                        }
                    ]
                },
            },
        },
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"DefinitionString": {"Fn::Join": ["", DEFINITION_PARTS]}},
        },
    }
}


def _findings(template: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.logical_id, f.message) for f in check_template(template, [RULES_BY_ID["LLM-RFT1"]])]


def test_the_definition_fixture_is_json_once_rendered() -> None:
    text = "".join(p if isinstance(p, str) else "@@x@@" for p in DEFINITION_PARTS)
    assert json.loads(text)["States"]["Job"]["Parameters"]["RoleArn"] == "@@x@@"


def test_compliant_rft_role_passes() -> None:
    assert _findings(COMPLIANT) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda t: t["Resources"].pop("JobRolePolicy"),
        lambda t: t["Resources"]["JobRolePolicy"]["Properties"]["PolicyDocument"]["Statement"][
            0
        ].update(Action="lambda:GetFunction"),
        lambda t: t["Resources"]["JobRolePolicy"]["Properties"].update(
            Roles=[{"Ref": "OtherRole"}]
        ),
    ],
    ids=["no-policy", "wrong-action", "other-role"],
)
def test_rft_role_that_cannot_invoke_the_grader_is_flagged(break_it: Any) -> None:
    template = copy.deepcopy(COMPLIANT)
    break_it(template)
    ((logical_id, message),) = _findings(template)
    assert logical_id == "Machine"
    assert "JobRole" in message
    assert "Grader" in message


def test_a_fine_tuning_job_is_not_checked() -> None:
    template = copy.deepcopy(COMPLIANT)
    template["Resources"].pop("JobRolePolicy")
    parts = list(DEFINITION_PARTS)
    parts[0] = parts[0].replace("REINFORCEMENT_FINE_TUNING", "FINE_TUNING")
    template["Resources"]["Machine"]["Properties"]["DefinitionString"] = {"Fn::Join": ["", parts]}
    assert _findings(template) == []
