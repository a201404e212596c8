"""One enum per concept: the tier's names, the training methods and the engines."""

from __future__ import annotations

import pytest

from cdk_llm_training.config import StackName
from cdk_llm_training.config.vocabulary import (
    ADAPTER_METHODS,
    Engine,
    LargeEngine,
    Tier,
    TrainingMethod,
)
from cdk_llm_training.tools import cli


@pytest.mark.parametrize(
    ("tier", "short", "section", "tag"),
    [
        (Tier.SMALL_LORA, "small", "small_lora", "small-lora"),
        (Tier.MEDIUM_FINE_TUNE, "medium", "medium_fine_tune", "medium-fine-tune"),
        (Tier.LARGE_PRETRAIN, "large", "large_pretrain", "large-pretrain"),
    ],
)
def test_a_tier_carries_each_of_its_names(tier: Tier, short: str, section: str, tag: str) -> None:
    assert (tier.short_name, tier.config_section, tier.cost_tag) == (short, section, tag)


def test_stack_name_is_the_tier_enum() -> None:
    assert StackName is Tier
    assert Tier("LargePretrainStack") is Tier.LARGE_PRETRAIN


def test_adapter_methods_are_the_ones_that_train_adapters() -> None:
    assert [m for m in TrainingMethod if m.trains_adapters] == list(ADAPTER_METHODS)
    assert not any(m.trains_adapters and m.trains_all_weights for m in TrainingMethod)


def test_large_engine_is_a_set_of_engines() -> None:
    assert LargeEngine.BOTH.engines == {Engine.HYPERPOD_EKS, Engine.PARALLELCLUSTER_TRAINIUM}
    assert [e for e in LargeEngine if e.uses_trainium] == [LargeEngine.TRAINIUM, LargeEngine.BOTH]
    assert [e for e in LargeEngine if e.uses_hyperpod] == [LargeEngine.NVIDIA, LargeEngine.BOTH]
    assert LargeEngine.running(Engine.HYPERPOD_EKS) is LargeEngine.NVIDIA
    assert LargeEngine.running(Engine.PARALLELCLUSTER_TRAINIUM) is LargeEngine.TRAINIUM
    with pytest.raises(ValueError, match="engine 'bedrock' does not run in the large tier"):
        LargeEngine.running(Engine.BEDROCK)


def test_the_cli_offers_every_training_method() -> None:
    from cdk_llm_training.tools.planner.methods import PLANNER_METHODS

    assert cli.METHODS == PLANNER_METHODS
    assert {method.value for method in TrainingMethod} <= set(cli.METHODS)
