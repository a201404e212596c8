"""Pieces shared by the fine-tune workflows (Bedrock, SageMaker): the workflow KMS key, log
retention, S3 list statements scoped to a prefix and per-finding cdk-nag acknowledgements."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_llm_training.config.bedrock import LOG_RETENTION_DAYS
from cdk_llm_training.constructs._acknowledge import acknowledge

RETENTION: dict[int, logs.RetentionDays] = dict(
    zip(LOG_RETENTION_DAYS, [r for r in logs.RetentionDays if r.name != "INFINITE"], strict=True)
)
"""CloudWatch Logs retention by number of days."""


def create_workflow_key(
    scope: Construct, id: str, *, description: str, removal_policy: RemovalPolicy
) -> kms.Key:
    """A rotating KMS key that CloudWatch Logs of this account may use for log groups."""
    key = kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:DescribeKey",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                    )
                }
            },
        )
    )
    return key


def add_list_statement(role: iam.IRole, bucket: s3.IBucket, prefix: str, sid: str) -> None:
    """``s3:ListBucket`` on ``bucket`` limited to keys under ``prefix``."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=sid,
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )


def acknowledge_wildcards(role: iam.IRole | None, reason: str) -> None:
    """Acknowledge cdk-nag's AwsSolutions-IAM5 finding for each wildcard action and resource
    of ``role``'s default policy, one by one (cdk-nag 3 ids name the exact value), so a
    wildcard added later by someone else is still reported."""
    policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
    if not isinstance(policy, iam.Policy):
        return
    document = Stack.of(policy).resolve(policy.document)
    findings: set[str] = set()
    for statement in document.get("Statement", []):
        for action in _as_list(statement.get("Action")):
            if "*" in action:
                findings.add(f"AwsSolutions-IAM5[Action::{action}]")
        for resource in _as_list(statement.get("Resource")):
            rendered = render_reference(resource)
            if "*" in rendered:
                findings.add(f"AwsSolutions-IAM5[Resource::{rendered}]")
    for finding in sorted(findings):
        acknowledge(policy, finding, reason)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def render_reference(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it: ``<Ref>``, ``<Id.Attr>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return f"<{resource}.{attribute}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render_reference(part) for part in parts)
    return json.dumps(value, sort_keys=True)
