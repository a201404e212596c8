"""Validated, plain-data configuration models (pydantic v2)."""

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.data_lake import DataLakeOptions, DataZone
from cdk_llm_training.config.errors import ConfigError, describe_validation_error
from cdk_llm_training.config.tiers import (
    AppConfig,
    SmallLoRAConfig,
    StackName,
    load_app_config,
    parse_app_config,
)

__all__ = [
    "AppConfig",
    "ConfigError",
    "DataLakeOptions",
    "DataZone",
    "FrozenModel",
    "SmallLoRAConfig",
    "StackName",
    "describe_validation_error",
    "load_app_config",
    "parse_app_config",
]
