"""Reusable constructs: one construct per module."""

from cdk_llm_training.constructs.labeling_workforce import LabelingWorkforce
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

__all__ = ["LabelingWorkforce", "TrainingDataLake"]
