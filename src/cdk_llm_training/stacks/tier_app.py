"""Builds the ready app's tier stacks from an :class:`AppConfig`."""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct

from cdk_llm_training.config.tiers import AppConfig, StackName
from cdk_llm_training.stacks.large_pretrain import LargePretrainStack
from cdk_llm_training.stacks.medium_fine_tune import MediumFineTuneStack
from cdk_llm_training.stacks.small_lora import SmallLoRAStack


def build_tier_stacks(scope: Construct, config: AppConfig) -> dict[StackName, Stack]:
    """Add the stacks named in ``config.stacks`` to ``scope`` (an ``App`` or ``Stage``).

    Stacks are env-agnostic: no context lookups, so synthesis needs no AWS credentials.
    """
    stacks: dict[StackName, Stack] = {}
    for name in config.stacks:
        if name is StackName.SMALL_LORA:
            stacks[name] = SmallLoRAStack(scope, name.value, config=config.small_lora)
        elif name is StackName.MEDIUM_FINE_TUNE:
            stacks[name] = MediumFineTuneStack(scope, name.value, config=config.medium_fine_tune)
        else:
            stacks[name] = LargePretrainStack(scope, name.value, config=config.large_pretrain)
    return stacks
