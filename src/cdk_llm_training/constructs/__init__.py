"""Reusable constructs: one construct per module."""

from cdk_llm_training.constructs.bedrock_fine_tune_job import (
    BedrockFineTuneJob,
    BedrockJobVpcConfig,
)
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

__all__ = ["BedrockFineTuneJob", "BedrockJobVpcConfig", "TrainingDataLake"]
