"""HyperPodEksCluster: SageMaker HyperPod with Amazon EKS as orchestrator.

Kept for existing imports; the code lives in :mod:`cdk_llm_training.constructs.hyperpod`.
"""

from cdk_llm_training.constructs.hyperpod import (
    ESTIMATED_IPS_PER_ACCELERATED_NODE,
    ESTIMATED_IPS_PER_CPU_NODE,
    LIFECYCLE_PREFIX,
    SSM_MESSAGES_ACTIONS,
    SSM_MESSAGES_SID,
    HyperPodEksCluster,
)

__all__ = [
    "ESTIMATED_IPS_PER_ACCELERATED_NODE",
    "ESTIMATED_IPS_PER_CPU_NODE",
    "LIFECYCLE_PREFIX",
    "SSM_MESSAGES_ACTIONS",
    "SSM_MESSAGES_SID",
    "HyperPodEksCluster",
]
