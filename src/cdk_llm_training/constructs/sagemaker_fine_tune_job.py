"""SageMakerFineTuneJob: a dataset in the data lake -> a LoRA / QLoRA adapter of an open-weight
model, trained on a SageMaker training job and registered in the SageMaker Model Registry.

Kept for existing imports; the code lives in :mod:`cdk_llm_training.constructs.fine_tune`.
"""

from cdk_llm_training.constructs.fine_tune.sagemaker import VALIDATOR_HANDLER, SageMakerFineTuneJob
from cdk_llm_training.constructs.fine_tune.sagemaker_checks import (
    MULTI_NODE_WITHOUT_EFA_WARNING,
    ONE_GPU_USED_WARNING,
    WARM_POOL_GUIDE_MINUTES,
    WARM_POOL_PERIOD_WARNING,
    WARM_POOL_WITH_SPOT_WARNING,
)
from cdk_llm_training.constructs.fine_tune.sagemaker_job import (
    MANAGED_RULE_NAME,
    PREDICTIONS_ARCHIVE,
    REGISTER_INTEGRATION,
    SOURCE_TARBALL,
    SYNC_INTEGRATION,
    build_source_tarball,
)
from cdk_llm_training.constructs.fine_tune.sagemaker_roles import (
    TRAINING_LOG_GROUP,
    TRAINING_METRICS_NAMESPACE,
)

__all__ = [
    "MANAGED_RULE_NAME",
    "MULTI_NODE_WITHOUT_EFA_WARNING",
    "ONE_GPU_USED_WARNING",
    "PREDICTIONS_ARCHIVE",
    "REGISTER_INTEGRATION",
    "SOURCE_TARBALL",
    "SYNC_INTEGRATION",
    "TRAINING_LOG_GROUP",
    "TRAINING_METRICS_NAMESPACE",
    "VALIDATOR_HANDLER",
    "WARM_POOL_GUIDE_MINUTES",
    "WARM_POOL_PERIOD_WARNING",
    "WARM_POOL_WITH_SPOT_WARNING",
    "SageMakerFineTuneJob",
    "build_source_tarball",
]
