"""MediumFineTuneStack: full fine-tunes and continued pre-training on SageMaker HyperPod (EKS)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from cdk_llm_training.config.tiers import MediumFineTuneConfig
from cdk_llm_training.config.vocabulary import Tier
from cdk_llm_training.constructs.permissions_boundary import apply_permissions_boundary
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
    run_workflow_outputs,
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
        self.hyperpod = add_hyperpod(self, options=config.hyperpod, foundation=foundation)
        self.runs = add_training_runs(
            self, options=config.runs, foundation=foundation, hyperpod=self.hyperpod
        )

        hyperpod_outputs(self, self.hyperpod)
        hyperpod_scaling_output(self, config.hyperpod)
        monitoring = monitor_tier(
            self,
            tier=Tier.MEDIUM_FINE_TUNE.cost_tag,
            options=config.observability,
            key=foundation.notification_key.key,
            file_systems=[self.file_system],
            hyperpods=[self.hyperpod],
        )
        self.alarms = monitoring.alarms
        self.dashboard = monitoring.dashboard
        self.cost_controls = monitoring.cost_controls

        run_workflow_outputs(self, self.runs)
        file_system_outputs(self, self.file_system)
        data_lake_outputs(self, self.data_lake)
