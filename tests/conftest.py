"""Session-wide fixtures: every tier stack is built once per test session (jsii start-up
dominates the cost of a CDK test suite)."""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from cdk_support import new_app, template_of

from cdk_llm_training.config import AppConfig, LargeEngine, LargePretrainConfig, StackName
from cdk_llm_training.stacks import LargePretrainStack, build_tier_stacks


@pytest.fixture(scope="session")
def tier_stacks() -> dict[StackName, Stack]:
    """The ready app's default tier stacks (all three), in one cdk-nag-checked app."""
    app = new_app()
    return build_tier_stacks(app, AppConfig())


@pytest.fixture(scope="session")
def tier_templates(tier_stacks: dict[StackName, Stack]) -> dict[StackName, Template]:
    """Synthesized templates of :func:`tier_stacks` (synthesis runs cdk-nag)."""
    return {name: template_of(stack) for name, stack in tier_stacks.items()}


def _large_stack(engine: LargeEngine) -> LargePretrainStack:
    """LargePretrainStack with ``engine`` and otherwise default config, in its own app."""
    return LargePretrainStack(
        new_app(), StackName.LARGE_PRETRAIN.value, config=LargePretrainConfig(engine=engine)
    )


@pytest.fixture(scope="session")
def large_nvidia_stack() -> LargePretrainStack:
    """LargePretrainStack with ``engine: nvidia`` (HyperPod on EKS), one app."""
    return _large_stack(LargeEngine.NVIDIA)


@pytest.fixture(scope="session")
def large_both_stack() -> LargePretrainStack:
    """LargePretrainStack with ``engine: both`` (ParallelCluster and HyperPod), one app."""
    return _large_stack(LargeEngine.BOTH)


@pytest.fixture(scope="session")
def large_templates(
    tier_templates: dict[StackName, Template],
    large_nvidia_stack: LargePretrainStack,
    large_both_stack: LargePretrainStack,
) -> dict[LargeEngine, Template]:
    """LargePretrainStack templates by engine (``trainium`` is the default app's)."""
    return {
        LargeEngine.TRAINIUM: tier_templates[StackName.LARGE_PRETRAIN],
        LargeEngine.NVIDIA: template_of(large_nvidia_stack),
        LargeEngine.BOTH: template_of(large_both_stack),
    }
