"""A default deploy starts no accelerator, and its default budget agrees with its cost."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from cdk_llm_training.config import (
    LargeEngine,
    LargePretrainConfig,
    MediumFineTuneConfig,
    StackName,
)
from cdk_llm_training.config.catalogs.instances import default_instance_catalog
from cdk_llm_training.config.tiers import LARGE_DEFAULT_BUDGET_USD, MEDIUM_DEFAULT_BUDGET_USD
from cdk_llm_training.tools.cost.estimate import CostEstimate, estimate_template
from cdk_llm_training.tools.cost.service_prices import default_service_prices

PRICES = default_service_prices()
# The budget is the deployed cost rounded up: at least the cost, at most this much more.
HEADROOM = 1.25


def _estimate(template: Template, stack: str) -> CostEstimate:
    return estimate_template(template.to_json(), stack=stack, services=PRICES)


def _accelerated(description: str) -> bool:
    catalog = default_instance_catalog()
    return any(catalog.find(word) is not None for word in description.split())


def _running_accelerators(template: Template) -> list[str]:
    """Accelerated HyperPod groups with instances, ParallelCluster resources with MinCount."""
    found = []
    for logical_id, resource in template.find_resources("AWS::SageMaker::Cluster").items():
        for group in resource["Properties"]["InstanceGroups"]:
            accelerated = default_instance_catalog().find(group["InstanceType"]) is not None
            if accelerated and group["InstanceCount"] != 0:
                found.append(f"{logical_id}/{group['InstanceGroupName']}")
    for logical_id, resource in template.find_resources("Custom::PclusterCluster").items():
        config = resource["Properties"]["ClusterConfiguration"]
        for queue in config["Scheduling"]["SlurmQueues"]:
            for compute in queue["ComputeResources"]:
                if compute["MinCount"] != 0:
                    found.append(f"{logical_id}/{queue['Name']}/{compute['Name']}")
    return found


def test_medium_default_starts_no_accelerator(tier_templates: dict[StackName, Template]) -> None:
    template = tier_templates[StackName.MEDIUM_FINE_TUNE]
    assert _running_accelerators(template) == []
    estimate = _estimate(template, "MediumFineTuneStack")
    assert not any(_accelerated(line.description) for line in estimate.idle)


@pytest.mark.parametrize("engine", list(LargeEngine))
def test_large_default_starts_no_accelerator(
    large_templates: dict[LargeEngine, Template], engine: LargeEngine
) -> None:
    assert _running_accelerators(large_templates[engine]) == []


def test_medium_budget_agrees_with_the_default_deploy(
    tier_templates: dict[StackName, Template],
) -> None:
    estimate = _estimate(tier_templates[StackName.MEDIUM_FINE_TUNE], "MediumFineTuneStack")
    budget = MediumFineTuneConfig().observability.budget.monthly_limit_usd
    assert budget == MEDIUM_DEFAULT_BUDGET_USD
    assert estimate.idle_monthly_usd <= budget <= estimate.idle_monthly_usd * HEADROOM


@pytest.mark.parametrize("engine", list(LargeEngine))
def test_large_budget_agrees_with_the_default_deploy(
    large_templates: dict[LargeEngine, Template], engine: LargeEngine
) -> None:
    estimate = _estimate(large_templates[engine], "LargePretrainStack")
    budget = LargePretrainConfig(engine=engine).observability.budget.monthly_limit_usd
    assert budget == LARGE_DEFAULT_BUDGET_USD
    assert estimate.idle_monthly_usd <= budget <= estimate.idle_monthly_usd * HEADROOM


def test_a_budget_in_the_config_wins_and_partial_sections_keep_the_tier_budget() -> None:
    own = MediumFineTuneConfig.model_validate(
        {"observability": {"budget": {"monthly_limit_usd": 250}}}
    )
    assert own.observability.budget.monthly_limit_usd == 250
    partial = LargePretrainConfig.model_validate({"observability": {"dashboard": False}})
    assert partial.observability.budget.monthly_limit_usd == LARGE_DEFAULT_BUDGET_USD
    assert partial.observability.dashboard is False
