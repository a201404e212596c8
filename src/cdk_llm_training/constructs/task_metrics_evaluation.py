"""TaskMetricsEvaluation: a SageMaker processing job that scores a fine-tuned adapter.

Kept for existing imports; the code lives in :mod:`cdk_llm_training.constructs.evaluation`.
"""

from cdk_llm_training.constructs.evaluation.task_metrics_evaluation import (
    DLC_ACCOUNT,
    TaskMetricsEvaluation,
)
from cdk_llm_training.constructs.evaluation.task_metrics_steps import (
    PROCESSING_SYNC,
    TaskMetricsSteps,
)

__all__ = ["DLC_ACCOUNT", "PROCESSING_SYNC", "TaskMetricsEvaluation", "TaskMetricsSteps"]
