"""LLM-EMR1..4 on raw CloudFormation: compliant and non-compliant EMR Serverless fixtures,
and the DataCuration emr-serverless engine's template clean of them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template

APP = {"Fn::GetAtt": ["App", "ApplicationId"]}
SOURCE = {
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    "ArnLike": {"aws:SourceArn": "arn:aws:emr-serverless:us-east-1:123456789012:/applications/*"},
}


def _definition() -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                '{"StartAt":"Run","States":{"Run":{"Type":"Task","End":true,'
                '"Resource":"arn:aws:states:::emr-serverless:startJobRun.sync",'
                '"Parameters":{"ApplicationId":"',
                APP,
                '","ExecutionRoleArn":"',
                {"Fn::GetAtt": ["JobRole", "Arn"]},
                '","ClientToken.$":"States.UUID()","JobDriver":{"SparkSubmit":'
                '{"EntryPoint":"s3://b/e.py"}}}}}}',
            ],
        ]
    }


def _statements() -> list[dict[str, Any]]:
    return [
        {
            "Effect": "Allow",
            "Action": "emr-serverless:StartJobRun",
            "Resource": "arn:aws:emr-serverless:us-east-1:123456789012:/applications/x",
        },
        {
            "Effect": "Allow",
            "Action": ["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"],
            "Resource": "arn:aws:emr-serverless:us-east-1:123456789012:/applications/x/jobruns/*",
        },
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": {"Fn::GetAtt": ["JobRole", "Arn"]},
            "Condition": {"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:aws:events:",
                        {"Ref": "AWS::Region"},
                        ":123456789012:rule/StepFunctionsGetEventsForEMRServerlessJobRule",
                    ],
                ]
            },
        },
    ]


def _template(
    *,
    statements: list[dict[str, Any]] | None = None,
    trust_service: str = "emr-serverless.amazonaws.com",
    trust_condition: dict[str, Any] | None = SOURCE,
    app: dict[str, Any] | None = None,
) -> dict[str, Any]:
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"Service": trust_service},
    }
    if trust_condition is not None:
        trust["Condition"] = trust_condition
    return {
        "Resources": {
            "App": {
                "Type": "AWS::EMRServerless::Application",
                "Properties": app or {"ReleaseLabel": "emr-7.9.0", "Type": "Spark"},
            },
            "JobRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {"Statement": [trust]}},
            },
            "MachineRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {"Statement": []},
                    "Policies": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": {
                                "Statement": _statements() if statements is None else statements
                            },
                        }
                    ],
                },
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": {"Fn::GetAtt": ["MachineRole", "Arn"]},
                    "DefinitionString": _definition(),
                },
            },
        }
    }


def _messages(rule: str, template: dict[str, Any]) -> list[str]:
    return [f.message for f in check_template(template, [RULES_BY_ID[rule]])]


@pytest.mark.parametrize("rule", ["LLM-EMR1", "LLM-EMR2", "LLM-EMR3", "LLM-EMR4"])
def test_compliant_template_has_no_findings(rule: str) -> None:
    assert _messages(rule, _template()) == []


@pytest.mark.parametrize(
    ("drop", "missing"),
    [
        (0, "emr-serverless:StartJobRun"),
        (1, "emr-serverless:GetJobRun, emr-serverless:CancelJobRun"),
        (2, "iam:PassRole"),
        (3, "events:PutTargets on rule/StepFunctionsGetEventsForEMRServerlessJobRule"),
    ],
)
def test_emr1_names_each_missing_permission(drop: int, missing: str) -> None:
    statements = _statements()
    del statements[drop]
    (message,) = _messages("LLM-EMR1", _template(statements=statements))
    assert missing in message
    assert "MachineRole" in message


def test_emr1_refuses_the_events_actions_on_another_rule() -> None:
    statements = copy.deepcopy(_statements())
    statements[3]["Resource"] = "arn:aws:events:us-east-1:123456789012:rule/Other"
    (message,) = _messages("LLM-EMR1", _template(statements=statements))
    assert "events:DescribeRule on rule/StepFunctionsGetEventsForEMRServerlessJobRule" in message


def test_emr2_flags_a_job_role_that_does_not_trust_the_service() -> None:
    (message,) = _messages("LLM-EMR2", _template(trust_service="sagemaker.amazonaws.com"))
    assert "does not trust emr-serverless.amazonaws.com" in message


def test_emr3_flags_trust_without_source_conditions() -> None:
    (message,) = _messages("LLM-EMR3", _template(trust_condition=None))
    assert "confused deputy" in message
    other = {"StringEquals": {"sts:ExternalId": "x"}}
    assert len(_messages("LLM-EMR3", _template(trust_condition=other))) == 1


def test_emr4_flags_initial_capacity_without_auto_stop() -> None:
    idle = {
        "ReleaseLabel": "emr-7.9.0",
        "Type": "Spark",
        "InitialCapacity": [{"Key": "Driver", "Value": {"WorkerCount": 1}}],
        "AutoStopConfiguration": {"Enabled": False},
    }
    (message,) = _messages("LLM-EMR4", _template(app=idle))
    assert "billed" in message
    idle["AutoStopConfiguration"] = {"Enabled": True, "IdleTimeoutMinutes": 15}
    assert _messages("LLM-EMR4", _template(app=idle)) == []


def test_the_spark_engine_template_is_clean() -> None:
    import aws_cdk as cdk
    from cdk_support import cdk_context

    from cdk_llm_training import DataCuration, TrainingDataLake
    from cdk_llm_training.config.data_curation import DataCurationOptions

    app = cdk.App(context=cdk_context())
    stack = cdk.Stack(app, "Spark")
    DataCuration(
        stack,
        "Curation",
        data_lake=TrainingDataLake(stack, "Lake"),
        options=DataCurationOptions(engine="emr-serverless"),
    )
    template = app.synth().get_stack_by_name("Spark").template
    rules = [RULES_BY_ID[r] for r in ("LLM-EMR1", "LLM-EMR2", "LLM-EMR3", "LLM-EMR4")]
    assert check_template(template, rules) == []
    assert check_template(template) == [], json.dumps(
        [f.message for f in check_template(template)], indent=1
    )
