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
        BedrockFineTuneOptions,
        BedrockModelCatalog,
        ConfigError,
        CustomizationType,
        DataLakeOptions,
        DataZone,
        DistillationOptions,
        SmallLoRAConfig,
        StackName,
        default_bedrock_catalog,
        load_app_config,
        parse_app_config,
    )
    from cdk_llm_training.constructs import (
        BedrockFineTuneJob,
        BedrockJobVpcConfig,
        TrainingDataLake,
    )
    from cdk_llm_training.stacks import SmallLoRAStack

_EXPORTS: dict[str, str] = {
    "AppConfig": "cdk_llm_training.config",
    "ConfigError": "cdk_llm_training.config",
    "DataLakeOptions": "cdk_llm_training.config",
    "DataZone": "cdk_llm_training.config",
    "SmallLoRAConfig": "cdk_llm_training.config",
    "StackName": "cdk_llm_training.config",
    "load_app_config": "cdk_llm_training.config",
    "parse_app_config": "cdk_llm_training.config",
    "TrainingDataLake": "cdk_llm_training.constructs",
    "BedrockFineTuneJob": "cdk_llm_training.constructs",
    "BedrockJobVpcConfig": "cdk_llm_training.constructs",
    "BedrockFineTuneOptions": "cdk_llm_training.config",
    "BedrockModelCatalog": "cdk_llm_training.config",
    "CustomizationType": "cdk_llm_training.config",
    "DistillationOptions": "cdk_llm_training.config",
    "default_bedrock_catalog": "cdk_llm_training.config",
    "SmallLoRAStack": "cdk_llm_training.stacks",
}

__all__ = [
    "AppConfig",
    "BedrockFineTuneJob",
    "BedrockFineTuneOptions",
    "BedrockJobVpcConfig",
    "BedrockModelCatalog",
    "ConfigError",
    "CustomizationType",
    "DataLakeOptions",
    "DataZone",
    "DistillationOptions",
    "SmallLoRAConfig",
    "SmallLoRAStack",
    "StackName",
    "TrainingDataLake",
    "__version__",
    "default_bedrock_catalog",
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
