"""The fine-tune workflows, built on one skeleton (:class:`FineTuneWorkflow`):
:class:`BedrockFineTuneJob` (a Bedrock model customization job) and
:class:`SageMakerFineTuneJob` (a LoRA / QLoRA adapter trained on SageMaker)."""

from cdk_llm_training.constructs.fine_tune.bedrock import BedrockFineTuneJob
from cdk_llm_training.constructs.fine_tune.bedrock_job import BedrockJobVpcConfig
from cdk_llm_training.constructs.fine_tune.sagemaker import SageMakerFineTuneJob
from cdk_llm_training.constructs.fine_tune.sagemaker_serverless import (
    SageMakerServerlessCustomization,
)
from cdk_llm_training.constructs.fine_tune.workflow import FineTuneWorkflow

__all__ = [
    "BedrockFineTuneJob",
    "BedrockJobVpcConfig",
    "FineTuneWorkflow",
    "SageMakerFineTuneJob",
    "SageMakerServerlessCustomization",
]
