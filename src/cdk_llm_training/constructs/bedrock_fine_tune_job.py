"""BedrockFineTuneJob: a dataset in the data lake -> a custom Amazon Bedrock model.

Kept for existing imports; the code lives in :mod:`cdk_llm_training.constructs.fine_tune`.
"""

from cdk_llm_training.constructs.fine_tune.bedrock import (
    UNKNOWN_TEACHER_WARNING,
    VALIDATOR_HANDLER,
    BedrockFineTuneJob,
)
from cdk_llm_training.constructs.fine_tune.bedrock_inputs import READY_MARKER_NEEDS_EVENTS_WARNING
from cdk_llm_training.constructs.fine_tune.bedrock_job import (
    JOB_RETRY_ERRORS,
    MANAGED_RULE_NAMES,
    SYNC_INTEGRATION,
    BedrockJobVpcConfig,
)

__all__ = [
    "JOB_RETRY_ERRORS",
    "MANAGED_RULE_NAMES",
    "READY_MARKER_NEEDS_EVENTS_WARNING",
    "SYNC_INTEGRATION",
    "UNKNOWN_TEACHER_WARNING",
    "VALIDATOR_HANDLER",
    "BedrockFineTuneJob",
    "BedrockJobVpcConfig",
]
