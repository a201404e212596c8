"""MediumFineTuneStack: full fine-tunes and continued pre-training on SageMaker HyperPod (EKS)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from cdk_llm_training.config.tiers import MediumFineTuneConfig
from cdk_llm_training.constructs.hyperpod_eks_cluster import HyperPodEksCluster
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.constructs.training_file_system import TrainingFileSystem
from cdk_llm_training.constructs.training_network import TrainingNetwork
from cdk_llm_training.stacks._observability import monitor_tier
from cdk_llm_training.stacks._outputs import (
    data_lake_outputs,
    file_system_outputs,
    hyperpod_outputs,
)


class MediumFineTuneStack(Stack):
    """The medium tier: a training network, the data lake, FSx for Lustre linked to the lake,
    and SageMaker HyperPod on EKS whose pods mount the file system at ``/fsx``.

    Wiring: every HyperPod node is in the network's single-AZ compute subnet with the EFA
    security group; the EKS control plane uses the compute subnet plus the network's second-AZ
    control-plane subnet; the file system sits in the compute subnet and admits the network's
    compute nodes (its ``connections``: the EFA group the nodes join); the lifecycle bucket
    logs to the data lake's access-log bucket.

    :param config: validated tier configuration. Default: ``MediumFineTuneConfig()``.
    :param stack_kwargs: passed to :class:`aws_cdk.Stack` (``env``, ``description``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: MediumFineTuneConfig | None = None,
        **stack_kwargs: Any,
    ) -> None:
        stack_kwargs.setdefault(
            "description",
            "cdk-llm-training medium tier: HyperPod on EKS, FSx for Lustre and a data lake for "
            "full fine-tunes.",
        )
        super().__init__(scope, id, **stack_kwargs)
        self.config = config = config or MediumFineTuneConfig()

        self.network = TrainingNetwork(self, "Network", options=config.network)
        self.data_lake = TrainingDataLake(self, "DataLake", options=config.data_lake)
        # network= makes the network's compute nodes (the EFA group) the file system's clients.
        self.file_system = TrainingFileSystem(
            self,
            "FileSystem",
            options=config.file_system,
            network=self.network,
            data_lake=self.data_lake,
        )
        self.hyperpod = HyperPodEksCluster(
            self,
            "HyperPod",
            vpc=self.network.vpc,
            subnet=self.network.compute_subnet,
            security_group=self.network.efa_security_group,
            control_plane_subnets=self.network.control_plane_subnets,
            options=config.hyperpod,
            fsx_file_system_id=self.file_system.file_system_id,
            fsx_dns_name=self.file_system.dns_name,
            fsx_mount_name=self.file_system.mount_name,
            fsx_subnet=self.network.compute_subnet,
            access_logs_bucket=self.data_lake.access_logs_bucket,
        )

        hyperpod_outputs(self, self.hyperpod)
        monitoring = monitor_tier(
            self,
            tier="medium-fine-tune",
            options=config.observability,
            key=self.data_lake.key,
            file_systems=[self.file_system],
            hyperpods=[self.hyperpod],
        )
        self.alarms = monitoring.alarms
        self.dashboard = monitoring.dashboard
        self.cost_controls = monitoring.cost_controls

        file_system_outputs(self, self.file_system)
        data_lake_outputs(self, self.data_lake)
