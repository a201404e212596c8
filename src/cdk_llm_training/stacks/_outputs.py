"""Stack outputs shared by the tier stacks: what a user needs to connect and load data."""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Fn, Stack

from cdk_llm_training.config.hyperpod import HyperPodClusterOptions
from cdk_llm_training.config.trainium_parallel_cluster import TrainiumClusterOptions
from cdk_llm_training.constructs.cluster_training_run import ClusterTrainingRun
from cdk_llm_training.constructs.hyperpod import HyperPodEksCluster
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.constructs.training_file_system import TrainingFileSystem
from cdk_llm_training.constructs.trainium_parallel_cluster import TrainiumParallelCluster


def data_lake_outputs(stack: Stack, data_lake: TrainingDataLake, *, fsx_links: bool = True) -> None:
    """Bucket names of the three zones and the lake's KMS key.

    :param fsx_links: whether the descriptions name the ``/fsx`` paths the curated and
        artifacts zones are linked to; the small tier has no file system. Default: True
    """
    CfnOutput(
        stack,
        "RawBucketName",
        value=data_lake.raw_bucket.bucket_name,
        description="Raw zone: upload source data here.",
    )
    CfnOutput(
        stack,
        "CuratedBucketName",
        value=data_lake.curated_bucket.bucket_name,
        description="Curated zone: training-ready datasets (linked to /fsx/data)."
        if fsx_links
        else "Curated zone: training-ready datasets.",
    )
    CfnOutput(
        stack,
        "ArtifactsBucketName",
        value=data_lake.artifacts_bucket.bucket_name,
        description="Artifacts zone: models and checkpoints (checkpoints/ linked to "
        "/fsx/checkpoints)."
        if fsx_links
        else "Artifacts zone: models, adapters, checkpoints, reports.",
    )
    CfnOutput(
        stack,
        "DataLakeKeyArn",
        value=data_lake.key.key_arn,
        description="KMS key that encrypts the data lake.",
    )


def file_system_outputs(stack: Stack, file_system: TrainingFileSystem) -> None:
    """FSx for Lustre id, DNS name, mount name and a mount command."""
    CfnOutput(
        stack,
        "FsxFileSystemId",
        value=file_system.file_system_id,
        description="FSx for Lustre file system ID.",
    )
    CfnOutput(
        stack, "FsxDnsName", value=file_system.dns_name, description="FSx for Lustre DNS name."
    )
    CfnOutput(
        stack,
        "FsxMountName",
        value=file_system.mount_name,
        description="FSx for Lustre mount name.",
    )
    CfnOutput(
        stack,
        "FsxMountCommand",
        value=file_system.mount_command,
        description="Mounts the file system at /fsx on a Lustre client in the compute subnet.",
    )


def hyperpod_outputs(stack: Stack, hyperpod: HyperPodEksCluster) -> None:
    """Connect to EKS, the cluster ARN, the FSx volume."""
    CfnOutput(
        stack,
        "UpdateKubeconfigCommand",
        value=hyperpod.update_kubeconfig_command,
        description="Run to point kubectl at the HyperPod EKS cluster.",
    )
    CfnOutput(
        stack,
        "EksClusterName",
        value=hyperpod.cluster_name,
        description="EKS cluster that orchestrates HyperPod.",
    )
    CfnOutput(
        stack,
        "HyperPodClusterArn",
        value=hyperpod.hyperpod_cluster_arn,
        description="SageMaker HyperPod cluster ARN.",
    )
    if hyperpod.fsx_volume_manifest is not None:
        CfnOutput(
            stack,
            "FsxVolumeManifest",
            value=hyperpod.fsx_volume_manifest,
            description=(
                "PersistentVolume + claim of the FSx file system, applied by the stack at "
                "deploy time (for reference)."
                if hyperpod.fsx_volume_resource is not None
                else "PersistentVolume + claim of the FSx file system: pipe into "
                "kubectl apply -f -."
            ),
        )


def parallel_cluster_outputs(stack: Stack, cluster: TrainiumParallelCluster) -> None:
    """ParallelCluster name, head node instance id and the Session Manager command."""
    CfnOutput(
        stack,
        "ParallelClusterName",
        value=cluster.cluster_name,
        description="ParallelCluster cluster name (pcluster describe-cluster -n NAME).",
    )
    CfnOutput(
        stack,
        "HeadNodeInstanceId",
        value=cluster.head_node_instance_id,
        description="EC2 instance ID of the Slurm head node.",
    )
    CfnOutput(
        stack,
        "HeadNodeSessionCommand",
        value=Fn.join(
            "",
            [
                "aws ssm start-session --region ",
                Aws.REGION,
                " --target ",
                cluster.head_node_instance_id,
            ],
        ),
        description="Opens a shell on the head node with Session Manager (no SSH key).",
    )


def hyperpod_scaling_output(stack: Stack, options: HyperPodClusterOptions) -> None:
    """How to scale the HyperPod groups: each group's maximum (never its current count, so a
    scale changes nothing in the template but ``InstanceCount``)."""
    limits = ", ".join(
        f"{group.name} ({group.instance_type}) up to {group.resolved_max_instance_count}"
        for group in options.instance_groups
    )
    CfnOutput(
        stack,
        "HyperPodScaling",
        value=limits,
        description="Accelerator groups start at the configured instance_count (0 by default: "
        "nothing billed). To train, set hyperpod.instance_groups[].instance_count (0 up to "
        "max_instance_count) in the config and run cdk deploy again; only InstanceCount "
        "changes. Set it back to 0 after the run.",
    )


def parallel_cluster_scaling_output(stack: Stack, options: TrainiumClusterOptions) -> None:
    """How the Trainium queues scale: Slurm starts dynamic nodes for submitted jobs."""
    limits = ", ".join(
        f"{queue.name}/{resource.name} ({resource.instance_type}) {resource.min_count} "
        f"static, up to {resource.max_count}"
        for queue in options.queues
        for resource in queue.compute_resources
    )
    CfnOutput(
        stack,
        "TrainiumScaling",
        value=limits,
        description="Slurm starts dynamic Trainium nodes when jobs are submitted (sbatch) and "
        f"stops them after {options.scaledown_idletime_minutes} idle minutes; only static "
        "nodes (min_count) bill while no job runs.",
    )


def run_workflow_outputs(stack: Stack, runs: ClusterTrainingRun | None, prefix: str = "") -> None:
    """The run workflow's state machine and topic (``<prefix>RunWorkflowArn``,
    ``<prefix>RunTopicArn``), when the tier has one."""
    if runs is None:
        return
    CfnOutput(
        stack,
        f"{prefix}RunWorkflowArn",
        value=runs.state_machine.state_machine_arn,
        description="Run workflow (ClusterTrainingRun): start an execution with the run input.",
    )
    CfnOutput(
        stack,
        f"{prefix}RunTopicArn",
        value=runs.topic.topic_arn,
        description="Where the run workflow notifies: subscribe to get run reports.",
    )
