"""The execution (instance) role of the HyperPod nodes, created in the HyperPodEksCluster."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Aws, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_llm_training.constructs.acknowledgements import acknowledge, nag_ref
from cdk_llm_training.constructs.hyperpod.lifecycle import LIFECYCLE_PREFIX

SSM_MESSAGES_SID = "SessionManager"
SSM_MESSAGES_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
"""The Session Manager actions of AmazonSageMakerClusterInstanceRolePolicy (nodes' SSM access)."""


def create_execution_role(
    scope: Construct,
    *,
    vpc: ec2.IVpc,
    cluster_arn: str,
    lifecycle_bucket: s3.IBucket,
    ecr_repository_arns: Sequence[str],
) -> iam.Role:
    """The nodes' instance role (``ExecutionRole``), least privilege."""
    role = iam.Role(
        scope,
        "ExecutionRole",
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description="Instance role of the HyperPod nodes (EKS orchestrator).",
    )
    acknowledge(
        role,
        "LLM-SRC1",
        "HyperPod is not among the SageMaker features documented to send aws:SourceArn / "
        "aws:SourceAccount when assuming a role (SageMaker 'Cross-service confused deputy "
        "prevention'); a condition on an unsent key would stop the nodes from starting.",
    )
    stack = Stack.of(scope)
    vpc_arn = stack.format_arn(service="ec2", resource="vpc", resource_name=vpc.vpc_id)
    role.add_to_policy(
        iam.PolicyStatement(
            sid="NodeNetworkInterfaces",
            actions=[
                "ec2:AssignPrivateIpAddresses",
                "ec2:AttachNetworkInterface",
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
                "ec2:DetachNetworkInterface",
                "ec2:ModifyNetworkInterfaceAttribute",
                "ec2:UnassignPrivateIpAddresses",
            ],
            resources=["*"],
            # ec2:Vpc is a resource condition key of network interfaces, subnets and
            # security groups: writes stay inside the training VPC.
            conditions={"ArnEquals": {"ec2:Vpc": vpc_arn}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="DescribeNetwork",
            actions=[
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeTags",
                "ec2:DescribeVpcs",
            ],
            resources=["*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="TagNetworkInterfaces",
            actions=["ec2:CreateTags"],
            resources=[
                stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
            ],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="RegistryLogin",
            # GetAuthorizationToken supports no resource scope.
            actions=["ecr:GetAuthorizationToken"],
            resources=["*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PullImages",
            actions=[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            resources=list(ecr_repository_arns)
            # Default: any repository in the stack's Region. HyperPod's own images (the
            # health-monitoring agent), EKS add-on images and the Deep Learning Containers
            # are served from AWS-owned registries in the same Region.
            or [Fn.join("", ["arn:", Aws.PARTITION, ":ecr:", Aws.REGION, ":*:repository/*"])],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid=SSM_MESSAGES_SID,
            # Session Manager on the nodes (kept from AmazonSageMakerClusterInstanceRolePolicy,
            # which this role replaces); these actions support no resource scope.
            actions=list(SSM_MESSAGES_ACTIONS),
            resources=["*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PodIdentity",
            actions=["eks-auth:AssumeRoleForPodIdentity"],
            resources=[cluster_arn],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadLifecycleScripts",
            actions=["s3:GetObject"],
            resources=[lifecycle_bucket.arn_for_objects(f"{LIFECYCLE_PREFIX}*")],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ListLifecycleScripts",
            actions=["s3:ListBucket"],
            resources=[lifecycle_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{LIFECYCLE_PREFIX}*"]}},
        )
    )
    log_group_arn = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name="/aws/sagemaker/Clusters/*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ClusterLogs",
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            resources=[log_group_arn, f"{log_group_arn}:log-stream:*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ClusterMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Clusters"}},
        )
    )
    reason = (
        "Node ENIs and pod IPs do not exist before the nodes do (ec2 network-interface "
        "writes are limited to the training VPC by ec2:Vpc, ec2:Describe*, ssmmessages:* and "
        "ecr:GetAuthorizationToken support no resource scope); images come from AWS-owned "
        "registries in other accounts (pass ecr_repository_arns to narrow); log groups "
        "and streams "
        "are scoped to /aws/sagemaker/Clusters/*, lifecycle objects to their prefix, "
        "metrics to the SageMaker cluster namespace."
    )
    bucket_arn = nag_ref(stack, lifecycle_bucket.bucket_arn)
    logs_arn = "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
    for finding in (
        "Resource::*",
        "Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:*:repository/*",
        f"Resource::{bucket_arn}/{LIFECYCLE_PREFIX}*",
        "Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*",
        f"Resource::{logs_arn}/aws/sagemaker/Clusters/*",
        f"Resource::{logs_arn}/aws/sagemaker/Clusters/*:log-stream:*",
    ):
        acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
    return role
