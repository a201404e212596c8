"""The retained, encrypted log groups of the labeling constructs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


def encrypted_log_group(
    scope: Construct,
    id: str,
    *,
    days: int,
    key: kms.IKey,
    removal_policy: RemovalPolicy,
) -> logs.LogGroup:
    """A log group encrypted with ``key``, keeping events ``days`` days (a CloudWatch-allowed
    value, validated by the options) and removed by ``removal_policy``."""
    group = logs.LogGroup(
        scope,
        id,
        retention=logs.RetentionDays.ONE_YEAR,
        encryption_key=key,
        removal_policy=removal_policy,
    )
    cfn = group.node.default_child
    assert isinstance(cfn, logs.CfnLogGroup)
    cfn.retention_in_days = days
    return group
