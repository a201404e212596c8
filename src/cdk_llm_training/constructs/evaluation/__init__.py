"""Evaluation constructs: Bedrock model evaluation, SageMaker task metrics and human rating,
each with its states as a ``StateMachineFragment`` that a workflow embeds."""

from cdk_llm_training.constructs.evaluation.human_evaluation import HumanEvaluation
from cdk_llm_training.constructs.evaluation.model_evaluation import (
    PREPARE_HANDLER,
    REPORT_HANDLER,
    ModelEvaluation,
    on_demand_model_id,
)
from cdk_llm_training.constructs.evaluation.model_evaluation_steps import ModelEvaluationSteps
from cdk_llm_training.constructs.evaluation.task_metrics_evaluation import (
    DLC_ACCOUNT,
    TaskMetricsEvaluation,
)
from cdk_llm_training.constructs.evaluation.task_metrics_steps import (
    PROCESSING_SYNC,
    TaskMetricsSteps,
)

__all__ = [
    "DLC_ACCOUNT",
    "PREPARE_HANDLER",
    "PROCESSING_SYNC",
    "REPORT_HANDLER",
    "HumanEvaluation",
    "ModelEvaluation",
    "ModelEvaluationSteps",
    "TaskMetricsEvaluation",
    "TaskMetricsSteps",
    "on_demand_model_id",
]
