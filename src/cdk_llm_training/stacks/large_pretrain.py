"""LargePretrainStack: pre-training on Trainium (ParallelCluster), p5 GPUs (HyperPod) or both."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from cdk_llm_training.config.tiers import LargePretrainConfig
from cdk_llm_training.config.vocabulary import Tier
from cdk_llm_training.constructs.cluster_training_run import ClusterTrainingRun
from cdk_llm_training.constructs.hyperpod import HyperPodEksCluster
from cdk_llm_training.constructs.permissions_boundary import apply_permissions_boundary
from cdk_llm_training.constructs.trainium_parallel_cluster import TrainiumParallelCluster
from cdk_llm_training.stacks._cluster_tier import (
    add_cluster_foundation,
    add_hyperpod,
    add_training_runs,
)
from cdk_llm_training.stacks._data_pipeline import add_data_pipeline
from cdk_llm_training.stacks._observability import monitor_tier
from cdk_llm_training.stacks._outputs import (
    data_lake_outputs,
    file_system_outputs,
    hyperpod_outputs,
    hyperpod_scaling_output,
    parallel_cluster_outputs,
    parallel_cluster_scaling_output,
    run_workflow_outputs,
)


class LargePretrainStack(Stack):
    """The large tier: a network sized for the sum of the nodes, the data lake, EFA-enabled
    FSx for Lustre, and the engine of ``config.engine``: a Trainium ParallelCluster
    (``trainium``, the default), HyperPod on EKS with p5-class groups (``nvidia``), or both.

    Wiring: every node (ParallelCluster queues and head node, HyperPod groups) is in the
    network's single-AZ compute subnet with the EFA security group; the file system sits in
    that subnet and admits the EFA group (all traffic both ways, as EFA-enabled FSx needs);
    ParallelCluster mounts it at ``/fsx``; HyperPod pods get it as a static
    volume; the HyperPod lifecycle bucket logs to the data lake's access-log bucket.

    :param config: validated tier configuration. Default: ``LargePretrainConfig()``.
    :param stack_kwargs: passed to :class:`aws_cdk.Stack` (``env``, ``description``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: LargePretrainConfig | None = None,
        **stack_kwargs: Any,
    ) -> None:
        self.config = config = config or LargePretrainConfig()
        stack_kwargs.setdefault(
            "description",
            f"cdk-llm-training large tier ({config.engine.value}): EFA FSx for Lustre, a data "
            "lake and the pre-training cluster.",
        )
        super().__init__(scope, id, **stack_kwargs)
        if self.config.permissions_boundary is not None:
            apply_permissions_boundary(self, self.config.permissions_boundary)

        foundation = add_cluster_foundation(
            self,
            network=config.network,
            data_lake=config.data_lake,
            file_system=config.file_system,
        )
        self.network = foundation.network
        self.data_lake = foundation.data_lake
        self.file_system = foundation.file_system
        pipeline = add_data_pipeline(
            self,
            options=config.data_pipeline,
            data_lake=self.data_lake,
            key=foundation.notification_key.key,
        )
        self.data_curation = pipeline.curation
        self.synthetic_data = pipeline.synthetic

        self.trainium: TrainiumParallelCluster | None = None
        self.slurm_runs: ClusterTrainingRun | None = None
        if config.engine.uses_trainium:
            self.trainium = TrainiumParallelCluster(
                self,
                "Trainium",
                vpc=self.network.vpc,
                subnet=self.network.compute_subnet,
                security_groups=self.network.security_groups,
                file_system=self.file_system,
                options=config.trainium,
            )
            self.slurm_runs = add_training_runs(
                self, options=config.runs, foundation=foundation, parallel_cluster=self.trainium
            )

        self.hyperpod: HyperPodEksCluster | None = None
        self.runs: ClusterTrainingRun | None = None
        if config.engine.uses_hyperpod:
            self.hyperpod = add_hyperpod(self, options=config.hyperpod, foundation=foundation)
            self.runs = add_training_runs(
                self, options=config.runs, foundation=foundation, hyperpod=self.hyperpod
            )

        if self.trainium is not None:
            parallel_cluster_outputs(self, self.trainium)
            parallel_cluster_scaling_output(self, config.trainium)
        if self.hyperpod is not None:
            hyperpod_outputs(self, self.hyperpod)
            hyperpod_scaling_output(self, config.hyperpod)
        monitoring = monitor_tier(
            self,
            tier=Tier.LARGE_PRETRAIN.cost_tag,
            options=config.observability,
            key=foundation.notification_key.key,
            file_systems=[self.file_system],
            hyperpods=[self.hyperpod] if self.hyperpod is not None else [],
        )
        self.alarms = monitoring.alarms
        self.dashboard = monitoring.dashboard
        self.cost_controls = monitoring.cost_controls

        run_workflow_outputs(self, self.runs)
        run_workflow_outputs(self, self.slurm_runs, prefix="Slurm")
        file_system_outputs(self, self.file_system)
        data_lake_outputs(self, self.data_lake)
