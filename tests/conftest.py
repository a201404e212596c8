"""Session-wide fixtures: every tier stack is built once per test session (jsii start-up
dominates the cost of a CDK test suite)."""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from cdk_support import new_app, template_of

from cdk_llm_training.config import AppConfig, StackName
from cdk_llm_training.stacks import build_tier_stacks


@pytest.fixture(scope="session")
def tier_stacks() -> dict[StackName, Stack]:
    """The ready app's default tier stacks, in one cdk-nag-checked app."""
    app = new_app()
    return build_tier_stacks(app, AppConfig())


@pytest.fixture(scope="session")
def tier_templates(tier_stacks: dict[StackName, Stack]) -> dict[StackName, Template]:
    """Synthesized templates of :func:`tier_stacks` (synthesis runs cdk-nag)."""
    return {name: template_of(stack) for name, stack in tier_stacks.items()}
