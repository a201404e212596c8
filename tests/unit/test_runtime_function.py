"""RuntimeFunction: the one way the library builds a runtime Lambda with its role and logs."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template
from cdk_support import new_app

from cdk_llm_training import RuntimeFunction


@pytest.fixture(scope="module")
def template() -> Template:
    stack = Stack(new_app(nag=False), "RuntimeFunctionStack")
    key = kms.Key(stack, "Key")
    RuntimeFunction(
        stack,
        "Converter",
        handler="labeling_postprocess.convert_handler",
        description="Converts manifests",
        invoked_by="a test",
        log_retention=logs.RetentionDays.ONE_WEEK,
        log_key=key,
        removal_policy=RemovalPolicy.DESTROY,
        statements=[iam.PolicyStatement(sid="Extra", actions=["s3:GetObject"], resources=["*"])],
        data_key=key,
        memory_mib=256,
        timeout=Duration.minutes(2),
    )
    return Template.from_stack(stack)


def test_role_and_log_group_are_siblings_with_stable_ids(template: Template) -> None:
    """The role and log group keep the ids they had as the caller's own children."""
    ids = set(template.to_json()["Resources"])
    assert any(i.startswith("ConverterRole") for i in ids)
    assert any(i.startswith("ConverterLogs") for i in ids)
    assert not any(i.startswith("ConverterServiceRole") for i in ids)


def test_function_defaults_and_overrides(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["arm64"],
            "Runtime": "python3.14",
            "Handler": "labeling_postprocess.convert_handler",
            "MemorySize": 256,
            "Timeout": 120,
            "LoggingConfig": {"LogGroup": Match.any_value()},
        },
    )
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "DeletionPolicy": "Delete",
            "Properties": {"RetentionInDays": 7, "KmsKeyId": Match.any_value()},
        },
    )


def test_role_writes_only_its_own_logs_then_extra_statements_then_key(template: Template) -> None:
    policy = next(iter(template.find_resources("AWS::IAM::Policy").values()))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert [s.get("Sid") for s in statements][:2] == ["WriteOwnLogs", "Extra"]
    assert statements[0]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statements[2]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
