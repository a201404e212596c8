"""ModelEvaluation: Bedrock model evaluation after a Bedrock fine-tune.

Kept for existing imports; the code lives in :mod:`cdk_llm_training.constructs.evaluation`.
"""

from cdk_llm_training.constructs.evaluation.model_evaluation import (
    PREPARE_HANDLER,
    REPORT_HANDLER,
    ModelEvaluation,
    on_demand_model_id,
)
from cdk_llm_training.constructs.evaluation.model_evaluation_steps import ModelEvaluationSteps

__all__ = [
    "PREPARE_HANDLER",
    "REPORT_HANDLER",
    "ModelEvaluation",
    "ModelEvaluationSteps",
    "on_demand_model_id",
]
