"""HumanEvaluation: have the labeling workforce rate model outputs.

Kept for existing imports; the code lives in :mod:`cdk_llm_training.constructs.evaluation`.
"""

from cdk_llm_training.constructs.evaluation.human_evaluation import (
    AGGREGATE_HANDLER,
    SAMPLE_HANDLER,
    HumanEvaluation,
)

__all__ = ["AGGREGATE_HANDLER", "SAMPLE_HANDLER", "HumanEvaluation"]
