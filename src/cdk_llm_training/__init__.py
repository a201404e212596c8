"""cdk-llm-training: AWS CDK v2 constructs and stacks to train and fine-tune LLMs on AWS.

The public API is re-exported here. Names are resolved lazily, so that light entry points
(the CLI, the planner, Lambda handlers) never pay for importing aws-cdk-lib and jsii.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cdk_llm_training._version import __version__

if TYPE_CHECKING:
    from cdk_llm_training.config import (
        AppConfig,
        ConfigError,
        DataLakeOptions,
        DataZone,
        LabelingJobDefaults,
        LabelingOptions,
        LabelingTaskType,
        MfaMode,
        OidcOptions,
        SmallLoRAConfig,
        StackName,
        WorkforceMode,
        WorkforceOptions,
        WorkteamOptions,
        load_app_config,
        parse_app_config,
    )
    from cdk_llm_training.constructs import LabelingWorkforce, TrainingDataLake
    from cdk_llm_training.stacks import SmallLoRAStack

_EXPORTS: dict[str, str] = {
    "AppConfig": "cdk_llm_training.config",
    "ConfigError": "cdk_llm_training.config",
    "DataLakeOptions": "cdk_llm_training.config",
    "DataZone": "cdk_llm_training.config",
    "LabelingJobDefaults": "cdk_llm_training.config",
    "LabelingOptions": "cdk_llm_training.config",
    "LabelingTaskType": "cdk_llm_training.config",
    "MfaMode": "cdk_llm_training.config",
    "OidcOptions": "cdk_llm_training.config",
    "WorkforceMode": "cdk_llm_training.config",
    "WorkforceOptions": "cdk_llm_training.config",
    "WorkteamOptions": "cdk_llm_training.config",
    "SmallLoRAConfig": "cdk_llm_training.config",
    "StackName": "cdk_llm_training.config",
    "load_app_config": "cdk_llm_training.config",
    "parse_app_config": "cdk_llm_training.config",
    "LabelingWorkforce": "cdk_llm_training.constructs",
    "TrainingDataLake": "cdk_llm_training.constructs",
    "SmallLoRAStack": "cdk_llm_training.stacks",
}

__all__ = [
    "AppConfig",
    "ConfigError",
    "DataLakeOptions",
    "DataZone",
    "LabelingJobDefaults",
    "LabelingOptions",
    "LabelingTaskType",
    "LabelingWorkforce",
    "MfaMode",
    "OidcOptions",
    "SmallLoRAConfig",
    "SmallLoRAStack",
    "StackName",
    "TrainingDataLake",
    "WorkforceMode",
    "WorkforceOptions",
    "WorkteamOptions",
    "__version__",
    "load_app_config",
    "parse_app_config",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cdk_llm_training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
