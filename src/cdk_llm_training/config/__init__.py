"""Validated, plain-data configuration models (pydantic v2)."""

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.bedrock import (
    BedrockFineTuneOptions,
    BedrockModelCatalog,
    CustomizationType,
    DistillationOptions,
    default_bedrock_catalog,
    load_bedrock_catalog,
)
from cdk_llm_training.config.data_lake import DataLakeOptions, DataZone
from cdk_llm_training.config.errors import ConfigError, describe_validation_error
from cdk_llm_training.config.instances import (
    AcceleratorFamily,
    InstanceCatalog,
    InstanceSpec,
    default_instance_catalog,
    load_instance_catalog,
)
from cdk_llm_training.config.tiers import (
    AppConfig,
    SmallLoRAConfig,
    StackName,
    load_app_config,
    parse_app_config,
)

__all__ = [
    "AcceleratorFamily",
    "AppConfig",
    "BedrockFineTuneOptions",
    "BedrockModelCatalog",
    "ConfigError",
    "CustomizationType",
    "DataLakeOptions",
    "DataZone",
    "DistillationOptions",
    "FrozenModel",
    "InstanceCatalog",
    "InstanceSpec",
    "SmallLoRAConfig",
    "StackName",
    "default_bedrock_catalog",
    "default_instance_catalog",
    "describe_validation_error",
    "load_app_config",
    "load_bedrock_catalog",
    "load_instance_catalog",
    "parse_app_config",
]
