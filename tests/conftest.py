"""Session-wide fixtures: every tier stack configuration that several test modules read is
built and synthesized once per test session (jsii start-up and synthesis dominate the cost of
a CDK test suite), in apps checked by every pack ``make test`` enforces (cdk-nag AwsSolutions,
NIST 800-53 R5, HIPAA Security and LlmTrainingChecks with warnings failing): one synthesis
serves the snapshot, assertion, nag and compliance tests.

``Template.from_stack`` synthesizes a stack's whole app once and reuses that assembly for every
other stack of the app (aws-cdk-lib caches it and refuses changes after synthesis), so the
templates of one app cost one synthesis. A test module that needs a configuration of its own
builds it in a module-scoped fixture, never per test.
"""

from __future__ import annotations

import re

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from cdk_support import (
    LARGE_CLOSED,
    MEDIUM_CLOSED,
    compliance_app,
    documented_configs,
    stack_key,
    template_of,
)

from cdk_llm_training.config import AppConfig, LargeEngine, LargePretrainConfig, StackName
from cdk_llm_training.config.tiers import MediumFineTuneConfig
from cdk_llm_training.stacks import (
    LargePretrainStack,
    MediumFineTuneStack,
    SmallLoRAStack,
    build_tier_stacks,
)

# Loaded here, not in tests/workflows/conftest.py, so the main process of an xdist run of the
# whole suite (which never imports that folder's conftest) merges the workers' records.
pytest_plugins = ("workflows.state_coverage",)


@pytest.fixture(scope="session")
def tier_stacks() -> dict[StackName, Stack]:
    """The ready app's default tier stacks (all three), in one app checked by every pack."""
    return build_tier_stacks(compliance_app(), AppConfig())


@pytest.fixture(scope="session")
def tier_templates(tier_stacks: dict[StackName, Stack]) -> dict[StackName, Template]:
    """Synthesized templates of :func:`tier_stacks` (one synthesis runs every pack)."""
    return {name: template_of(stack) for name, stack in tier_stacks.items()}


def _large_stack(engine: LargeEngine) -> LargePretrainStack:
    """LargePretrainStack with ``engine`` and otherwise default config, in its own app."""
    return LargePretrainStack(
        compliance_app(), StackName.LARGE_PRETRAIN.value, config=LargePretrainConfig(engine=engine)
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


@pytest.fixture(scope="session")
def medium_closed() -> Template:
    """MediumFineTuneStack in closed-network mode (:data:`cdk_support.MEDIUM_CLOSED`)."""
    config = MediumFineTuneConfig.model_validate(MEDIUM_CLOSED)
    stack = MediumFineTuneStack(compliance_app(), StackName.MEDIUM_FINE_TUNE.value, config=config)
    return template_of(stack)


@pytest.fixture(scope="session")
def large_closed() -> Template:
    """LargePretrainStack with both engines in closed-network mode
    (:data:`cdk_support.LARGE_CLOSED`)."""
    config = LargePretrainConfig.model_validate(LARGE_CLOSED)
    stack = LargePretrainStack(compliance_app(), StackName.LARGE_PRETRAIN.value, config=config)
    return template_of(stack)


@pytest.fixture(scope="session")
def documented_stacks() -> dict[tuple[StackName, str], Stack]:
    """Every stack of every YAML app configuration in docs/ that is not a default tier stack,
    by :func:`cdk_support.stack_key`, in ONE app checked by every pack and synthesized (a
    finding anywhere fails this fixture, listing every unacknowledged finding)."""
    app = compliance_app()
    defaults = AppConfig()
    stacks: dict[tuple[StackName, str], Stack] = {}
    for label, config in documented_configs():
        prefix = re.sub(r"[^A-Za-z0-9]", "", label.title())
        for name in config.stacks:
            key = stack_key(config, name)
            if key == stack_key(defaults, name) or key in stacks:
                continue
            stack_id = f"{prefix}{name.value}"
            if name is StackName.SMALL_LORA:
                stacks[key] = SmallLoRAStack(app, stack_id, config=config.small_lora)
            elif name is StackName.MEDIUM_FINE_TUNE:
                stacks[key] = MediumFineTuneStack(app, stack_id, config=config.medium_fine_tune)
            else:
                stacks[key] = LargePretrainStack(app, stack_id, config=config.large_pretrain)
    app.synth()
    return stacks
