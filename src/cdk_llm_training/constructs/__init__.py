"""Reusable constructs: one construct per module."""

from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.constructs.training_file_system import TrainingFileSystem
from cdk_llm_training.constructs.training_network import TrainingNetwork

__all__ = ["TrainingDataLake", "TrainingFileSystem", "TrainingNetwork"]
