"""What the observability constructs watch: file systems and HyperPod clusters, as
constructs or by attributes, and the FSx metrics both the alarms and the dashboard use."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_fsx as fsx

from cdk_llm_training.config.sizing.fsx import SCRATCH_2_THROUGHPUT_MB_PER_S_PER_TIB
from cdk_llm_training.config.training_alarms import FSX_METRIC_PERIOD_MINUTES
from cdk_llm_training.constructs.hyperpod import HyperPodEksCluster
from cdk_llm_training.constructs.training_file_system import TrainingFileSystem

GIB = 1024**3
MB = 1000**2
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _\-]{0,63}$")


@dataclass(frozen=True)
class MonitoredFileSystem:
    """An FSx for Lustre file system to watch, by ID, with the size its thresholds need.

    Use it for a file system this app does not create; pass :class:`TrainingFileSystem` or
    ``fsx.LustreFileSystem`` objects directly otherwise.
    """

    file_system_id: str
    storage_capacity_gib: int
    throughput_mb_per_s_per_tib: int = SCRATCH_2_THROUGHPUT_MB_PER_S_PER_TIB
    """Baseline throughput tier. Default 200 (SCRATCH_2)."""
    label: str | None = None
    """Name on the dashboard and alarms. Default: the construct path or the ID."""

    @property
    def baseline_mb_per_s(self) -> float:
        """Capacity in TiB x tier."""
        return self.storage_capacity_gib / 1024 * self.throughput_mb_per_s_per_tib


FileSystemLike = TrainingFileSystem | fsx.LustreFileSystem | MonitoredFileSystem
"""What the observability constructs accept as a file system."""


def monitored_file_system(file_system: FileSystemLike) -> MonitoredFileSystem:
    """The ID, capacity and tier of ``file_system``, read from its construct when it is one.

    :raises ValueError: when a ``fsx.LustreFileSystem``'s capacity is not known at synth.
    """
    if isinstance(file_system, MonitoredFileSystem):
        return file_system
    if isinstance(file_system, TrainingFileSystem):
        opts = file_system.options
        return MonitoredFileSystem(
            file_system_id=file_system.file_system_id,
            storage_capacity_gib=opts.capacity_gib,
            throughput_mb_per_s_per_tib=(
                opts.throughput_mb_per_s_per_tib or SCRATCH_2_THROUGHPUT_MB_PER_S_PER_TIB
            ),
            label=file_system.node.id,
        )
    cfn = file_system.node.default_child
    if not isinstance(cfn, fsx.CfnFileSystem):
        raise ValueError(f"file system {file_system.node.path} has no AWS::FSx::FileSystem")
    capacity = cfn.storage_capacity
    if capacity is None or Token.is_unresolved(capacity):
        raise ValueError(
            f"file system {file_system.node.path}: storage capacity is not known at synth; "
            "pass a MonitoredFileSystem with storage_capacity_gib"
        )
    lustre = cfn.lustre_configuration
    tier = getattr(lustre, "per_unit_storage_throughput", None)
    return MonitoredFileSystem(
        file_system_id=file_system.file_system_id,
        storage_capacity_gib=int(capacity),
        throughput_mb_per_s_per_tib=(
            int(tier) if isinstance(tier, int | float) else SCRATCH_2_THROUGHPUT_MB_PER_S_PER_TIB
        ),
        label=file_system.node.id,
    )


def fsx_metric(file_system_id: str, name: str, statistic: str) -> cloudwatch.Metric:
    """An ``AWS/FSx`` metric of one file system at the alarms' 5-minute period."""
    return cloudwatch.Metric(
        namespace="AWS/FSx",
        metric_name=name,
        dimensions_map={"FileSystemId": file_system_id},
        statistic=statistic,
        period=Duration.minutes(FSX_METRIC_PERIOD_MINUTES),
    )


def fsx_throughput_percent(file_system: MonitoredFileSystem) -> cloudwatch.MathExpression:
    """Read + write bytes per second as a percentage of the baseline throughput."""
    bytes_per_s = file_system.baseline_mb_per_s * MB
    return cloudwatch.MathExpression(
        expression=(
            "100 * (FILL(datareadbytes, 0) + FILL(datawritebytes, 0)) / PERIOD(datareadbytes) "
            f"/ {bytes_per_s:.0f}"
        ),
        using_metrics={
            "datareadbytes": fsx_metric(file_system.file_system_id, "DataReadBytes", "Sum"),
            "datawritebytes": fsx_metric(file_system.file_system_id, "DataWriteBytes", "Sum"),
        },
        label="Throughput, % of baseline",
        period=Duration.minutes(FSX_METRIC_PERIOD_MINUTES),
    )


def check_labels(labels: Sequence[str], field: str) -> None:
    """Fail on a label that cannot be part of a construct ID or an alarm name."""
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(
                f"{field}: label {label!r} is not valid; allowed: 1-64 letters, digits, "
                "spaces, _ and -, starting with a letter or digit"
            )


@dataclass(frozen=True)
class MonitoredHyperPodCluster:
    """A HyperPod cluster to watch that this app does not create, by ARN or by name.

    Pass :class:`HyperPodEksCluster` objects directly otherwise.
    """

    cluster_arn: str | None = None
    """The HyperPod cluster ARN (matched on the events' ``resources``)."""
    cluster_name: str | None = None
    """The HyperPod cluster name (matched on the events' ``detail.ClusterName``); used when
    ``cluster_arn`` is not given."""
    eks_cluster_name: str | None = None
    """Name of the orchestrating EKS cluster, for the dashboard's EKS section. Default: none."""

    def __post_init__(self) -> None:
        if self.cluster_arn is None and self.cluster_name is None:
            raise ValueError(
                "MonitoredHyperPodCluster needs cluster_arn or cluster_name; got neither"
            )


HyperPodClusterLike = HyperPodEksCluster | MonitoredHyperPodCluster
"""What the observability constructs accept as a HyperPod cluster."""


def monitored_hyperpod_cluster(cluster: HyperPodClusterLike) -> MonitoredHyperPodCluster:
    """The ARN and EKS cluster name of ``cluster`` (read from the construct when it is one)."""
    if isinstance(cluster, MonitoredHyperPodCluster):
        return cluster
    return MonitoredHyperPodCluster(
        cluster_arn=cluster.hyperpod_cluster_arn, eks_cluster_name=cluster.cluster_name
    )


def cluster_identifiers(
    clusters: Sequence[MonitoredHyperPodCluster],
) -> tuple[list[str], list[str]]:
    """(names of the clusters watched by name, ARNs of the clusters watched by ARN)."""
    names = [c.cluster_name for c in clusters if c.cluster_arn is None and c.cluster_name]
    arns = [c.cluster_arn for c in clusters if c.cluster_arn is not None]
    return names, arns
