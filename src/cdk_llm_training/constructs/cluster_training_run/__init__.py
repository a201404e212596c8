"""ClusterTrainingRun: start, watch, cancel and report training runs on a HyperPod EKS cluster
(``run``: the workflow; ``controller``: the in-VPC controller, its access entry and the
cancel rule)."""

from cdk_llm_training.constructs.cluster_training_run.controller import (
    CANCELLED_STATUSES,
    EDIT_POLICY,
    RunController,
)
from cdk_llm_training.constructs.cluster_training_run.run import ClusterTrainingRun

__all__ = ["CANCELLED_STATUSES", "EDIT_POLICY", "ClusterTrainingRun", "RunController"]
