"""The foundation the cluster tiers (medium, large) share: network, data lake, FSx linked to
the lake, and HyperPod on EKS wired into them."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack

from cdk_llm_training.config.cluster_training_run import ClusterRunOptions
from cdk_llm_training.config.hyperpod import HyperPodClusterOptions
from cdk_llm_training.config.training_data_lake import DataLakeOptions
from cdk_llm_training.config.training_file_system import FileSystemOptions
from cdk_llm_training.config.training_network import NetworkOptions
from cdk_llm_training.constructs.cluster_training_run import ClusterTrainingRun
from cdk_llm_training.constructs.hyperpod import HyperPodEksCluster
from cdk_llm_training.constructs.notification_key import NotificationKey
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.constructs.training_file_system import TrainingFileSystem
from cdk_llm_training.constructs.training_network import TrainingNetwork
from cdk_llm_training.constructs.trainium_parallel_cluster import TrainiumParallelCluster


@dataclass(frozen=True)
class ClusterFoundation:
    """What :func:`add_cluster_foundation` created."""

    network: TrainingNetwork
    data_lake: TrainingDataLake
    file_system: TrainingFileSystem
    notification_key: NotificationKey


def add_cluster_foundation(
    stack: Stack,
    *,
    network: NetworkOptions,
    data_lake: DataLakeOptions,
    file_system: FileSystemOptions,
) -> ClusterFoundation:
    """The training network, the data lake and FSx for Lustre in the compute subnet, linked to
    the lake, and the key of the tier's topics and log groups (apart from the lake key).
    ``network=`` makes the network's compute nodes (the EFA group) the file system's
    clients."""
    # One key for every topic and log group of the tier, the flow logs included.
    notification_key = NotificationKey(stack, "NotificationKey")
    training_network = TrainingNetwork(
        stack, "Network", options=network, log_key=notification_key.key
    )
    lake = TrainingDataLake(stack, "DataLake", options=data_lake)
    fsx = TrainingFileSystem(
        stack, "FileSystem", options=file_system, network=training_network, data_lake=lake
    )
    return ClusterFoundation(training_network, lake, fsx, notification_key)


def add_hyperpod(
    stack: Stack, *, options: HyperPodClusterOptions, foundation: ClusterFoundation
) -> HyperPodEksCluster:
    """HyperPod on EKS in the network's compute subnet with the EFA group (control plane also
    in the second-AZ subnet), pods mounting the file system (its capacity is the volume's),
    lifecycle bucket logging to the lake's access-log bucket, its deployment's log group
    encrypted with the tier's log key."""
    network, file_system = foundation.network, foundation.file_system
    return HyperPodEksCluster(
        stack,
        "HyperPod",
        vpc=network.vpc,
        subnet=network.compute_subnet,
        security_groups=network.security_groups,
        control_plane_subnets=network.control_plane_subnets,
        options=options,
        file_system=file_system,
        access_logs_bucket=foundation.data_lake.access_logs_bucket,
        log_key=foundation.notification_key.key,
        closed_network=network.options.closed_network,
        install_dependencies_after=[network.internet_connectivity_established],
    )


def add_training_runs(
    stack: Stack,
    *,
    options: ClusterRunOptions,
    foundation: ClusterFoundation,
    hyperpod: HyperPodEksCluster | None = None,
    parallel_cluster: TrainiumParallelCluster | None = None,
) -> ClusterTrainingRun | None:
    """The run workflow on ``hyperpod`` (``Runs``) or on ``parallel_cluster``
    (``SlurmRuns``), reporting to the lake's artifacts zone, its topic and logs on the tier's
    key; None when ``options.enabled`` is off."""
    if not options.enabled:
        return None
    return ClusterTrainingRun(
        stack,
        "SlurmRuns" if parallel_cluster is not None else "Runs",
        hyperpod=hyperpod,
        parallel_cluster=parallel_cluster,
        data_lake=foundation.data_lake,
        key=foundation.notification_key.key,
        options=options,
    )
