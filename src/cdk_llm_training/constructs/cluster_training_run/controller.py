"""The run controller of ClusterTrainingRun: a Lambda function inside the training VPC, its
EKS access entry limited to the training namespace, and the EventBridge rule that cancels the
run of a stopped or timed-out execution."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.catalogs.instances import AcceleratorFamily
from cdk_llm_training.config.catalogs.prices import PriceChannel, default_price_book
from cdk_llm_training.config.cluster_training_run import ClusterRunOptions
from cdk_llm_training.constructs._compliance import acknowledge_synchronous_function
from cdk_llm_training.constructs.acknowledgements import acknowledge
from cdk_llm_training.constructs.cluster_training_run.templates import (
    stage_training_script,
    template_image_uri,
)
from cdk_llm_training.constructs.hyperpod.cluster import HyperPodEksCluster
from cdk_llm_training.constructs.runtime_function import runtime_code

EDIT_POLICY = "AmazonEKSEditPolicy"
"""The EKS access policy of the controller (Kubernetes ``edit``: create, read and delete
Jobs and Services), associated with a ``namespace`` access scope."""
CANCELLED_STATUSES = ("ABORTED", "TIMED_OUT")
"""Execution statuses whose run the cancel rule deletes. A FAILED execution keeps its Job
(and its pods' logs) for inspection; ``activeDeadlineSeconds`` bounds it."""
ACCELERATOR_RESOURCES = {
    AcceleratorFamily.NVIDIA: "nvidia.com/gpu",
    AcceleratorFamily.TRAINIUM: "aws.amazon.com/neuron",
}
"""Kubernetes extended resource of each accelerator family (NVIDIA and Neuron device
plugins)."""
EFA_DEVICES = {
    "p4d.24xlarge": 4,
    "p4de.24xlarge": 4,
    "p5.48xlarge": 32,
    "p5e.48xlarge": 32,
    "p5en.48xlarge": 16,
    "trn1.32xlarge": 8,
    "trn1n.32xlarge": 16,
    "trn2.48xlarge": 16,
}
"""EFA devices (``vpc.amazonaws.com/efa``) a pod requests per node, by instance type.
Unverified against the EC2 network-card tables in this version; types not listed request 1
when the catalog says they support EFA."""


def instance_groups_environment(hyperpod: HyperPodEksCluster) -> dict[str, dict[str, Any]]:
    """Accelerated group name -> what the controller needs (type, count, devices, price)."""
    book = default_price_book()
    groups: dict[str, dict[str, Any]] = {}
    for group in hyperpod.instance_groups:
        if not group.accelerated or group.spec is None:
            continue
        spec = group.spec
        quote = book.quote(spec.instance_type, PriceChannel.SAGEMAKER)
        efa = EFA_DEVICES.get(spec.instance_type, 1) if spec.efa_supported else 0
        groups[group.options.name] = {
            "instanceType": group.options.instance_type,
            # The group's ceiling, not its current count: scaling the group then changes only
            # its InstanceCount; pods of a larger run wait for nodes (the deadline bounds it).
            "count": group.options.max_instance_count
            if group.options.max_instance_count is not None
            else group.options.instance_count,
            "acceleratorCount": spec.accelerator_count,
            "acceleratorResource": ACCELERATOR_RESOURCES[spec.accelerator_family],
            "efaCount": efa,
            "usdPerHour": quote.usd_per_hour if quote else None,
            "priceSource": (
                f"{quote.source} ({quote.channel.value}, as of {quote.as_of})" if quote else None
            ),
        }
    if not groups:
        raise ValueError(
            "ClusterTrainingRun hyperpod: the cluster has no accelerated instance group in the "
            "instance catalog; a run needs one"
        )
    return groups


class RunController(Construct):
    """``Function`` (with ``Logs`` and ``EgressSecurityGroup``), ``AccessEntry``,
    ``CancelRule`` and, for the job templates, ``TrainingScript`` (the training script staged
    in ``curated_bucket``, which the file system links at the data directory)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        hyperpod: HyperPodEksCluster,
        artifacts_bucket: s3.IBucket,
        curated_bucket: s3.IBucket,
        data_key: kms.IKey | None,
        log_key: kms.IKey,
        options: ClusterRunOptions,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        cluster = hyperpod.eks_cluster
        if cluster is None:
            raise ValueError(
                "ClusterTrainingRun hyperpod: the HyperPod cluster must create its EKS cluster "
                "(got one brought with cluster=); the controller reads the endpoint and "
                "certificate of a cluster the stack creates"
            )
        volume = hyperpod.options.fsx_volume
        self.namespace = volume.namespace
        self.security_group = ec2.SecurityGroup(
            self,
            "EgressSecurityGroup",
            vpc=hyperpod.vpc,
            allow_all_outbound=False,
            description="Training run controller: HTTPS out (EKS API, S3, STS)",
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to the EKS API, S3 and STS"
        )
        mount_path = volume.mount_path.rstrip("/")
        data_dir = volume.read_only_data_directory
        data_mount_path = f"{mount_path}/{data_dir or 'data'}"
        script_prefix = stage_training_script(self, curated_bucket)
        self.function = lambda_.Function(
            self,
            "Function",
            description="Starts, watches, cancels and reports training runs on HyperPod EKS.",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="cluster_run.handler",
            code=runtime_code(),
            memory_size=512,
            timeout=Duration.minutes(5),
            vpc=hyperpod.vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=[hyperpod.subnet]),
            # The first node group is attached to the control plane: it reaches the API server.
            security_groups=[hyperpod.connections.security_groups[0], self.security_group],
            log_group=logs.LogGroup(
                self,
                "Logs",
                retention=log_retention,
                encryption_key=log_key,
                removal_policy=removal_policy,
            ),
            environment={
                "CLUSTER_NAME": cluster.ref,
                "CLUSTER_ENDPOINT": cluster.attr_endpoint,
                "CLUSTER_CA": cluster.attr_certificate_authority_data,
                "NAMESPACE": self.namespace,
                "INSTANCE_GROUPS": json.dumps(instance_groups_environment(hyperpod)),
                "CLAIM_NAME": volume.claim_name,
                "DATA_CLAIM_NAME": f"{volume.claim_name}-data" if data_dir else "",
                "MOUNT_PATH": mount_path,
                "DATA_MOUNT_PATH": data_mount_path,
                "TRAINING_SCRIPT_DIR": f"{data_mount_path}/{script_prefix.rstrip('/')}",
                "TEMPLATE_IMAGE": template_image_uri(self),
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "CHECKPOINT_PREFIX": options.checkpoint_prefix,
                "REPORT_PREFIX": options.report_prefix,
                "MAX_RUN_HOURS": str(options.max_run_hours),
                "DEFAULT_RUN_HOURS": str(options.default_run_hours),
            },
        )
        acknowledge_synchronous_function(
            self.function,
            invoked_by="the run workflow's lambda:invoke tasks and the cancel rule",
            outside_vpc_reason=None,
        )
        role = self.function.role
        assert role is not None
        self.role = role
        for policy, reason in (
            ("AWSLambdaBasicExecutionRole", "writes only the function's log streams"),
            (
                "AWSLambdaVPCAccessExecutionRole",
                "the ENIs of a function in a VPC (the EKS endpoint is private)",
            ),
        ):
            acknowledge(
                role,
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{policy}]",
                f"AWS-managed policy of the run controller: {reason}.",
            )
        for sid, actions, prefix in (
            ("ReadCheckpoints", ["s3:GetObject"], options.checkpoint_prefix),
            ("WriteReports", ["s3:PutObject"], options.report_prefix),
        ):
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid=sid,
                    actions=actions,
                    resources=[artifacts_bucket.arn_for_objects(f"{prefix}*")],
                )
            )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListCheckpoints",
                actions=["s3:ListBucket"],
                resources=[artifacts_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{options.checkpoint_prefix}*"]}},
            )
        )
        if data_key is not None:
            data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        self.access_entry = eks.CfnAccessEntry(
            self,
            "AccessEntry",
            cluster_name=cluster.ref,
            principal_arn=role.role_arn,
            type="STANDARD",
            access_policies=[
                eks.CfnAccessEntry.AccessPolicyProperty(
                    policy_arn=Fn.join(
                        "",
                        ["arn:", Aws.PARTITION, f":eks::aws:cluster-access-policy/{EDIT_POLICY}"],
                    ),
                    access_scope=eks.CfnAccessEntry.AccessScopeProperty(
                        type="namespace", namespaces=[self.namespace]
                    ),
                )
            ],
        )


def add_cancel_rule(
    scope: Construct, function: lambda_.IFunction, state_machine: sfn.IStateMachine
) -> events.Rule:
    """``CancelRule`` in ``scope``: a stopped or timed-out execution of ``state_machine`` sends
    its name to the controller ``function``, which cancels that execution's job."""
    rule = events.Rule(
        scope,
        "CancelRule",
        description="Cancels the cluster job of a stopped or timed-out training run.",
        event_pattern=events.EventPattern(
            source=["aws.states"],
            detail_type=["Step Functions Execution Status Change"],
            detail={
                "status": list(CANCELLED_STATUSES),
                "stateMachineArn": [state_machine.state_machine_arn],
            },
        ),
    )
    rule.add_target(
        targets.LambdaFunction(
            function,
            event=events.RuleTargetInput.from_object(
                {"action": "cancel", "executionName": events.EventField.from_path("$.detail.name")}
            ),
            retry_attempts=8,
        )
    )
    return rule
