"""The network's VPC flow logs: an encrypted log group, its key and the publishing role."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_llm_training.config.training_network import NetworkOptions
from cdk_llm_training.constructs._provider_logs import provider_log_group
from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs

# CloudWatch Logs retention periods in days -> the RetentionDays member.
RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def create_flow_logs(
    scope: Construct,
    vpc: ec2.Vpc,
    options: NetworkOptions,
    *,
    log_key: kms.IKey | None,
    removal_policy: RemovalPolicy,
) -> tuple[kms.IKey, logs.LogGroup]:
    """Flow logs of ``vpc`` (all traffic) to the ``FlowLogs`` log group in ``scope``, encrypted
    with ``log_key`` or a new ``FlowLogKey``; also gives the VPC's default-security-group
    provider Lambda a log group with the same retention and key. Returns (key, log group)."""
    retention = RETENTION[options.flow_log_retention_days]
    key = log_key or _create_log_key(scope, removal_policy)
    if log_key is not None:
        allow_cloudwatch_logs(log_key)
    log_group = logs.LogGroup(
        scope,
        "FlowLogs",
        encryption_key=key,
        retention=retention,
        removal_policy=removal_policy,
    )
    vpc.add_flow_log(
        "FlowLog",
        destination=ec2.FlowLogDestination.to_cloud_watch_logs(
            log_group, _create_flow_log_role(scope)
        ),
        traffic_type=ec2.FlowLogTrafficType.ALL,
    )
    # The default-security-group restriction runs a CDK provider Lambda during the deploy:
    # its log group gets the flow logs' retention and key instead of none.
    provider_log_group(
        vpc.node.find_child("RestrictDefaultSecurityGroupCustomResource"),
        provider_id="Custom::VpcRestrictDefaultSGCustomResourceProvider",
        retention=retention,
        key=key,
        removal_policy=removal_policy,
    )
    return key, log_group


def _create_flow_log_role(scope: Construct) -> iam.Role:
    """The role VPC Flow Logs assumes, for this account's flow logs only (the VPC user
    guide's "IAM role for publishing flow logs to CloudWatch Logs" recommends both source
    keys); CDK's default role has no condition."""
    return iam.Role(
        scope,
        "FlowLogRole",
        description="Assumed by VPC Flow Logs to publish this network's flow logs.",
        assumed_by=service_principal_from(
            "vpc-flow-logs.amazonaws.com", this_account_arn("ec2", "vpc-flow-log/*")
        ),
    )


def _create_log_key(scope: Construct, removal_policy: RemovalPolicy) -> kms.Key:
    key = kms.Key(
        scope,
        "FlowLogKey",
        description="Encrypts the VPC flow logs of the LLM training network.",
        enable_key_rotation=True,
        removal_policy=removal_policy,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsOfThisRegion",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    )
                }
            },
        )
    )
    return key
