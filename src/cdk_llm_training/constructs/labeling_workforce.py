"""LabelingWorkforce and LabelingWorkflow (SageMaker Ground Truth).

Kept for existing imports; the code lives in :mod:`cdk_llm_training.constructs.labeling`.
"""

from cdk_llm_training.constructs.labeling import (
    LABEL_ATTRIBUTE_NAME,
    SFT_FORMATS,
    WORKFORCE_RESOURCE_TYPE,
    LabelingWorkflow,
    LabelingWorkforce,
    WorkTeamRef,
)
from cdk_llm_training.constructs.runtime_function import RUNTIME_SOURCE as RUNTIME_DIR

__all__ = [
    "LABEL_ATTRIBUTE_NAME",
    "RUNTIME_DIR",
    "SFT_FORMATS",
    "WORKFORCE_RESOURCE_TYPE",
    "LabelingWorkflow",
    "LabelingWorkforce",
    "WorkTeamRef",
]
