"""The lifecycle scripts of a HyperPodEksCluster: their bucket and their deployment.

Resources are created directly in ``scope`` (the HyperPodEksCluster), keeping its paths.
"""

from __future__ import annotations

import hashlib

from aws_cdk import Annotations, Aws, Fn, Names, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from cdk_llm_training.assets.lifecycle_scripts import HYPERPOD_LIFECYCLE_DIR
from cdk_llm_training.constructs._compliance import (
    acknowledge_lifecycle_bucket_controls,
    acknowledge_synchronous_function,
)
from cdk_llm_training.constructs.acknowledgements import acknowledge, nag_ref

LIFECYCLE_PREFIX = "hyperpod/lifecycle/"
"""Key prefix of the lifecycle scripts in the lifecycle bucket."""


def create_lifecycle_bucket(
    scope: Construct, access_logs_bucket: s3.IBucket | None, removal_policy: RemovalPolicy
) -> s3.Bucket:
    """The ``sagemaker-hp-...`` bucket (``LifecycleBucket``) the nodes read scripts from."""
    # sagemaker- prefix: the HyperPod managed instance policy reads only such buckets.
    # Globally unique and immutable: a 4-hex construct hash (several clusters per stack),
    # the first block of the stack's UUID (a re-created stack never collides with a
    # retained bucket), account and Region. At most 10+3+5+9+12+1+14 = 54 characters.
    construct_hash = hashlib.sha256(Names.unique_id(scope).encode()).hexdigest()[:4]
    stack_uuid_head = Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))
    bucket_name = Fn.join(
        "-",
        ["sagemaker-hp", construct_hash, stack_uuid_head, Aws.ACCOUNT_ID, Aws.REGION],
    )
    bucket = s3.Bucket(
        scope,
        "LifecycleBucket",
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        removal_policy=removal_policy,
    )
    if access_logs_bucket is not None:
        _log_to(scope, bucket, access_logs_bucket, construct_hash)
    else:
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "Holds only the lifecycle scripts shipped in this package, written by the "
            "deployment; pass access_logs_bucket to log access anyway.",
        )
    acknowledge_lifecycle_bucket_controls(bucket)
    return bucket


def _log_to(scope: Construct, bucket: s3.Bucket, logs: s3.IBucket, construct_hash: str) -> None:
    """Server access logging through a bucket policy for the S3 logging service.

    Not ``server_access_logs_bucket=``: without the
    ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`` feature flag that prop switches the
    log bucket to ACLs, which fails on buckets with ACLs disabled (the data lake's log
    bucket); the construct must work in any app.
    """
    prefix = "hyperpod-lifecycle/"
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, s3.CfnBucket)
    cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=logs.bucket_name, log_file_prefix=prefix
    )
    result = logs.add_to_resource_policy(
        iam.PolicyStatement(
            sid=f"S3ServerAccessLogsHyperPod{construct_hash}",
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[logs.arn_for_objects(f"{prefix}*")],
            conditions={
                "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        )
    )
    if not result.statement_added:
        Annotations.of(scope).add_info(
            "access_logs_bucket is imported: allow logging.s3.amazonaws.com s3:PutObject "
            f"on {prefix}* in its bucket policy."
        )


def deploy_lifecycle_scripts(
    scope: Construct, bucket: s3.IBucket, log_key: kms.IKey | None
) -> s3deploy.BucketDeployment:
    """Upload the packaged scripts under :data:`LIFECYCLE_PREFIX` (``LifecycleScripts``)."""
    deployment = s3deploy.BucketDeployment(
        scope,
        "LifecycleScripts",
        sources=[s3deploy.Source.asset(str(HYPERPOD_LIFECYCLE_DIR))],
        destination_bucket=bucket,
        destination_key_prefix=LIFECYCLE_PREFIX,
        prune=True,
        retain_on_delete=False,
        log_group=logs.LogGroup(
            scope,
            "LifecycleScriptsLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            encryption_key=log_key,
            removal_policy=RemovalPolicy.DESTROY,
        ),
    )
    _acknowledge_bucket_deployment(Stack.of(scope), deployment, bucket)
    return deployment


def _acknowledge_bucket_deployment(
    stack: Stack, deployment: s3deploy.BucketDeployment, bucket: s3.IBucket
) -> None:
    bucket_arn = nag_ref(stack, bucket.bucket_arn)
    reason_iam5 = (
        "CDK's BucketDeployment provider (uploads the packaged lifecycle scripts) reads "
        "the CDK asset objects and replaces the objects of the lifecycle bucket: "
        "action and object wildcards generated by aws-cdk-lib."
    )
    findings_iam5 = [
        "Action::s3:Abort*",
        "Action::s3:DeleteObject*",
        "Action::s3:GetBucket*",
        "Action::s3:GetObject*",
        "Action::s3:List*",
        f"Resource::{bucket_arn}/*",
        "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
    ]
    # The provider Lambda is a stack-level singleton; its role is the narrowest scope.
    handler_role = deployment.handler_role
    acknowledge(
        handler_role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
        "service-role/AWSLambdaBasicExecutionRole]",
        "CDK's BucketDeployment provider Lambda uses the AWS-managed basic execution "
        "policy; aws-cdk-lib owns that role.",
    )
    for finding in findings_iam5:
        acknowledge(handler_role, f"AwsSolutions-IAM5[{finding}]", reason_iam5)
    for child in stack.node.children:
        if child.node.id.startswith("Custom::CDKBucketDeployment"):
            acknowledge(
                child,
                "AwsSolutions-L1",
                "The BucketDeployment provider's Lambda runtime is pinned by aws-cdk-lib.",
            )
            acknowledge_synchronous_function(
                child,
                invoked_by="CloudFormation (CDK's BucketDeployment custom resource)",
                outside_vpc_reason="Copies the packaged lifecycle scripts between S3 "
                "buckets through the S3 API only; it never reaches the cluster network.",
            )
