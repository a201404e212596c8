"""SageMakerServerlessCustomization: SFT, DPO, RLVR or RLAIF on a SageMaker hub model through
SageMaker AI serverless customization, registered in the Model Registry.

The code lives in :mod:`cdk_llm_training.constructs.fine_tune` beside the other fine-tune
workflows; this module names the construct like its options module
(:mod:`cdk_llm_training.config.sagemaker_serverless_customization`).
"""

from cdk_llm_training.constructs.fine_tune.sagemaker_serverless import (
    SageMakerServerlessCustomization,
)

__all__ = ["SageMakerServerlessCustomization"]
