"""Size-tiered stacks: composition only, tier differences live in config models."""

from cdk_llm_training.stacks.large_pretrain import LargePretrainStack
from cdk_llm_training.stacks.medium_fine_tune import MediumFineTuneStack
from cdk_llm_training.stacks.small_lora import SmallLoRAStack
from cdk_llm_training.stacks.tier_app import build_tier_stacks

__all__ = ["LargePretrainStack", "MediumFineTuneStack", "SmallLoRAStack", "build_tier_stacks"]
