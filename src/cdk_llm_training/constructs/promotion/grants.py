"""The cross-account grants of a promotion, each exact: who (the target accounts' root
principals, so each account's own IAM decides which of its roles may use them), what, and on
which condition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from cdk_llm_training.config.promotion import PROMOTED_TAG_KEY

SHARED_GROUP_ACTIONS = (
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)
"""What a target account may do on the shared group: the actions of the SageMaker Model
Registry page "Set up discoverability" (PutModelPackageGroupPolicy example)."""


def account_principals(accounts: Sequence[str]) -> list[iam.IPrincipal]:
    return [iam.AccountPrincipal(account) for account in accounts]


def artifact_read_statement(
    bucket: s3.IBucket, prefix: str, accounts: Sequence[str], sid: str
) -> iam.PolicyStatement:
    """Bucket policy: the target accounts may read objects under ``prefix`` only while they
    carry the promotion tag (``s3:ExistingObjectTag/<key>``), which the promotion workflow
    sets on an approved artifact and removes on rejection."""
    return iam.PolicyStatement(
        sid=sid,
        principals=account_principals(accounts),
        actions=["s3:GetObject"],
        resources=[bucket.arn_for_objects(f"{prefix}*")],
        conditions={"StringEquals": {f"s3:ExistingObjectTag/{PROMOTED_TAG_KEY}": "true"}},
    )


def key_decrypt_statement(accounts: Sequence[str], sid: str) -> iam.PolicyStatement:
    """Key policy: the target accounts may decrypt, only through S3 in this Region
    (``kms:ViaService``): the artifact's object key, nothing else encrypted by it directly."""
    return iam.PolicyStatement(
        sid=sid,
        principals=account_principals(accounts),
        actions=["kms:Decrypt"],
        resources=["*"],
        conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
    )


def group_policy_document(
    scope: IConstruct, *, group_arn: str, group_name: str, accounts: Sequence[str]
) -> dict[str, Any]:
    """The model package group's resource policy (PutModelPackageGroupPolicy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ShareWithTargetAccounts",
                "Effect": "Allow",
                "Principal": {
                    "AWS": [f"arn:{Aws.PARTITION}:iam::{account}:root" for account in accounts]
                },
                "Action": list(SHARED_GROUP_ACTIONS),
                "Resource": [
                    group_arn,
                    f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
                    f"model-package/{group_name}/*",
                ],
            }
        ],
    }


def group_policy_string(
    scope: IConstruct, *, group_arn: str, group_name: str, accounts: Sequence[str]
) -> str:
    """:func:`group_policy_document` as the JSON string the API takes (tokens resolved at
    deploy time)."""
    document = group_policy_document(
        scope, group_arn=group_arn, group_name=group_name, accounts=accounts
    )
    return Stack.of(scope).to_json_string(document)
