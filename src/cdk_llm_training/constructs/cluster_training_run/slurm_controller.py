"""The run controller of ClusterTrainingRun on a Trainium ParallelCluster: a Lambda function
that drives Slurm through SSM Run Command on the head node, allowed to send
``AWS-RunShellScript`` only to instances tagged with the cluster's name."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_llm_training.config.catalogs.instances import default_instance_catalog
from cdk_llm_training.config.catalogs.prices import PriceChannel, default_price_book
from cdk_llm_training.config.cluster_training_run import ClusterRunOptions
from cdk_llm_training.constructs.runtime_function import RuntimeFunction
from cdk_llm_training.constructs.trainium_parallel_cluster import TrainiumParallelCluster

RUN_DOCUMENT = "AWS-RunShellScript"
CLUSTER_NAME_TAG = "parallelcluster:cluster-name"
"""Tag ParallelCluster puts on every instance of a cluster (with ``parallelcluster:node-type``
``HeadNode`` on the head node)."""
NEURON_VENV = "/opt/aws_neuronx_venv_pytorch"
"""Where the library's Neuron node script installs the Neuron PyTorch environment."""


def queues_environment(cluster: TrainiumParallelCluster) -> dict[str, dict[str, Any]]:
    """Queue -> compute resource -> instance type, max nodes, NeuronCores... and the EC2
    price (ParallelCluster bills plain EC2)."""
    book, catalog = default_price_book(), default_instance_catalog()
    queues: dict[str, dict[str, Any]] = {}
    for queue in cluster.options.queues:
        resources: dict[str, Any] = {}
        for resource in queue.compute_resources:
            spec = catalog.find(resource.instance_type)
            quote = book.quote(resource.instance_type, PriceChannel.EC2)
            resources[resource.name] = {
                "instanceType": resource.instance_type,
                "maxCount": resource.max_count,
                "acceleratorCount": spec.accelerator_count if spec else 1,
                "usdPerHour": quote.usd_per_hour if quote else None,
                "priceSource": (
                    f"{quote.source} ({quote.channel.value}, as of {quote.as_of})"
                    if quote
                    else None
                ),
            }
        queues[queue.name] = resources
    return queues


def pretrain_environment(cluster: TrainiumParallelCluster) -> str:
    """The pinned pre-training framework of the cluster's Neuron release, for the
    ``neuron-pretrain`` job template (JSON). Empty, so that the template is refused in the
    first state, when the release pins none or the install script leaves it out; with a
    custom AMI (``install_neuron`` off) the AMI must hold it."""
    options = cluster.options
    release = options.neuron
    if release.pretrain is None or (
        options.install_neuron and not options.install_pretrain_framework
    ):
        return ""
    return json.dumps(
        {
            "release": release.version,
            "repository": release.pretrain.examples_repository,
            "commit": release.pretrain.examples_commit,
            "examplesDir": release.pretrain.examples_dir,
        }
    )


class SlurmRunController(Construct):
    """``Function`` (with ``FunctionRole`` and ``FunctionLogs``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: TrainiumParallelCluster,
        artifacts_bucket: s3.IBucket,
        data_key: kms.IKey | None,
        log_key: kms.IKey,
        options: ClusterRunOptions,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        cluster_name = cluster.options.cluster_name
        mount = cluster.options.fsx_mount_dir.rstrip("/")
        self.namespace = cluster.options.queues[0].name
        self.function = RuntimeFunction(
            self,
            "Function",
            handler="slurm_run.handler",
            description="Starts, watches, cancels and reports Slurm training runs via SSM.",
            role_description="Run controller: SSM Run Command on the cluster's head node.",
            invoked_by="the run workflow's lambda:invoke tasks and the cancel rule",
            log_retention=log_retention,
            log_key=log_key,
            removal_policy=removal_policy,
            memory_mib=256,
            statements=[
                iam.PolicyStatement(
                    sid="FindHeadNode",
                    actions=["ec2:DescribeInstances"],
                    resources=["*"],  # DescribeInstances has no resource-level permissions
                ),
                iam.PolicyStatement(
                    sid="RunShellScriptDocument",
                    actions=["ssm:SendCommand"],
                    resources=[f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}::document/{RUN_DOCUMENT}"],
                ),
                iam.PolicyStatement(
                    sid="OnThisClustersInstances",
                    actions=["ssm:SendCommand"],
                    resources=[f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:instance/*"],
                    conditions={
                        "StringEquals": {f"ssm:resourceTag/{CLUSTER_NAME_TAG}": cluster_name}
                    },
                ),
                iam.PolicyStatement(
                    sid="ReadCommandResults",
                    actions=["ssm:GetCommandInvocation"],
                    resources=["*"],  # GetCommandInvocation has no resource-level permissions
                ),
                iam.PolicyStatement(
                    sid="ReadCheckpoints",
                    actions=["s3:GetObject"],
                    resources=[artifacts_bucket.arn_for_objects(f"{options.checkpoint_prefix}*")],
                ),
                iam.PolicyStatement(
                    sid="WriteReports",
                    actions=["s3:PutObject"],
                    resources=[artifacts_bucket.arn_for_objects(f"{options.report_prefix}*")],
                ),
                iam.PolicyStatement(
                    sid="ListCheckpoints",
                    actions=["s3:ListBucket"],
                    resources=[artifacts_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{options.checkpoint_prefix}*"]}},
                ),
            ],
            data_key=data_key,
            environment={
                "CLUSTER_NAME": cluster_name,
                "QUEUES": json.dumps(queues_environment(cluster)),
                "FSX_MOUNT_DIR": mount,
                "DATA_MOUNT_PATH": f"{mount}/data",
                "CHECKPOINT_MOUNT_PATH": f"{mount}/checkpoints",
                "NEURON_VENV": NEURON_VENV,
                "NEURON_PRETRAIN": pretrain_environment(cluster),
                "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                "CHECKPOINT_PREFIX": options.checkpoint_prefix,
                "REPORT_PREFIX": options.report_prefix,
                "MAX_RUN_HOURS": str(options.max_run_hours),
                "DEFAULT_RUN_HOURS": str(options.default_run_hours),
            },
        )
        self.role: iam.IRole = self.function.execution_role
