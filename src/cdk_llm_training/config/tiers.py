"""Tier configurations: one validated model per tier stack, plus the app-level file format."""

from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.bedrock import BedrockFineTuneOptions
from cdk_llm_training.config.data_lake import DataLakeOptions
from cdk_llm_training.config.errors import ConfigError, describe_validation_error
from cdk_llm_training.config.labeling import LabelingOptions, WorkforceMode, WorkforceOptions
from cdk_llm_training.config.sagemaker_training import SageMakerFineTuneOptions


class StackName(StrEnum):
    """The tier stacks the ready app can build (their CloudFormation stack names)."""

    SMALL_LORA = "SmallLoRAStack"
    MEDIUM_FINE_TUNE = "MediumFineTuneStack"
    LARGE_PRETRAIN = "LargePretrainStack"


class SmallLoRAConfig(FrozenModel):
    """Configuration of :class:`cdk_llm_training.SmallLoRAStack` (LoRA / QLoRA / managed
    fine-tunes). Defaults deploy as-is with near-zero idle cost."""

    data_lake: DataLakeOptions = DataLakeOptions()
    """Data lake options. Default: :class:`DataLakeOptions` defaults."""

    labeling: LabelingOptions | None = LabelingOptions(
        workforce=WorkforceOptions(mode=WorkforceMode.COGNITO)
    )
    """Ground Truth labeling workforce and workflow. Default: this stack CREATES the
    account's private workforce (Cognito). AWS allows one per account and Region, so any
    other stack in the account sets ``workforce.mode: import``; ``null`` turns labeling off."""

    bedrock_fine_tune: BedrockFineTuneOptions | None = BedrockFineTuneOptions()
    """Bedrock fine-tune workflow options; ``None`` leaves the workflow out. Default:
    :class:`BedrockFineTuneOptions` defaults (Nova Micro fine-tuning from curated/finetune/)."""

    sagemaker_fine_tune: SageMakerFineTuneOptions | None = SageMakerFineTuneOptions()
    """LoRA / QLoRA of open-weight models on SageMaker training jobs; ``None`` leaves the
    workflow out. Default: :class:`SageMakerFineTuneOptions` defaults (LoRA of the 8B model
    under artifacts/base-models/llama-3.1-8b-instruct/ on one ml.g5.2xlarge, managed spot)."""


class AppConfig(FrozenModel):
    """The file given to the ready app with ``cdk synth -c config=PATH``.

    Every section is optional; what is left out keeps its documented default.
    """

    stacks: tuple[StackName, ...] = Field(default=(StackName.SMALL_LORA,), min_length=1)
    """Which tier stacks the app builds. Default: the tier stacks available in this release."""

    small_lora: SmallLoRAConfig = SmallLoRAConfig()
    """Settings of SmallLoRAStack."""


def parse_app_config(data: Any, *, source: str = "config") -> AppConfig:
    """Validate already-parsed data as an :class:`AppConfig`.

    Raises :class:`ConfigError` with one paragraph naming every bad field.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: invalid configuration: the top level must be a mapping of settings, "
            f"got {type(data).__name__}."
        )
    try:
        return AppConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source=source)) from None


def load_app_config(path: str | Path) -> AppConfig:
    """Read and validate a YAML (or JSON) tier configuration file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{file}: cannot read configuration file: {error.strerror}.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {error}".rstrip(".") + ".") from None
    return parse_app_config(data, source=str(file))
