"""LLM-GT2 on raw CloudFormation: a compliant and a non-compliant fixture."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template

TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team"


def _policy(statement: dict[str, Any], *, inline: bool = False) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": [statement]}
    if inline:
        return {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {"Statement": []},
                "Policies": [{"PolicyName": "p", "PolicyDocument": document}],
            },
        }
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyName": "p", "PolicyDocument": document, "Roles": ["r"]},
    }


def _findings(resource: dict[str, Any]) -> list[str]:
    template = {"Resources": {"Workflow": resource}}
    return [f.logical_id for f in check_template(template, [RULES_BY_ID["LLM-GT2"]])]


@pytest.mark.parametrize("inline", [False, True])
def test_gt2_create_labeling_job_needs_a_workteam_condition(inline: bool) -> None:
    open_statement = {
        "Effect": "Allow",
        "Action": ["sagemaker:CreateLabelingJob", "sagemaker:DescribeLabelingJob"],
        "Resource": "*",
    }
    assert _findings(_policy(open_statement, inline=inline)) == ["Workflow"]
    limited = {**open_statement, "Condition": {"ArnEquals": {"sagemaker:WorkteamArn": [TEAM]}}}
    assert _findings(_policy(limited, inline=inline)) == []


def test_gt2_ignores_other_actions_and_denies() -> None:
    describe = {"Effect": "Allow", "Action": "sagemaker:DescribeLabelingJob", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "sagemaker:CreateLabelingJob", "Resource": "*"}
    assert _findings(_policy(describe)) == []
    assert _findings(_policy(deny)) == []
