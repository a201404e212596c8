"""plan == synth: `plan --write-config` writes a config that deploys what the plan printed.

A wide grid of plans (model size x method x tokens x deadline x accelerator) is checked at
the config level: the written file validates and its tier config holds the plan's instance
type and count and exactly the plan's FSx (capacity, tier, EFA). A narrow grid, one plan per
tier and engine, is synthesized and the template checked for the same numbers.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk_support import cdk_context

from cdk_llm_training.config import AppConfig, load_app_config
from cdk_llm_training.config.catalogs.instances import default_instance_catalog
from cdk_llm_training.config.vocabulary import Engine, Tier
from cdk_llm_training.tools.planner.model import Plan, PlanningError, PlanRequest
from cdk_llm_training.tools.planner.plan import make_plan
from cdk_llm_training.tools.planner.report import app_config_yaml

PARAMS = (1e9, 8e9, 13e9, 70e9, 405e9)
METHODS = ("pretrain", "cpt", "full", "lora", "qlora")
TOKENS = (1e8, 1e10, 2e12)
DEADLINES = (None, 72.0, 720.0)
ACCELERATORS = (None, "a100", "trn1")

_LONG_FLOAT = re.compile(r"\d+\.\d{7,}")


def _plans() -> list[Plan]:
    plans: list[Plan] = []
    for params, method, tokens, deadline, accelerator in itertools.product(
        PARAMS, METHODS, TOKENS, DEADLINES, ACCELERATORS
    ):
        request = PlanRequest.model_validate(
            {
                "params": params,
                "method": method,
                "tokens": tokens,
                "deadline_hours": deadline,
                "accelerator": accelerator,
            }
        )
        try:
            plans.append(make_plan(request))
        except PlanningError:
            continue  # a deadline the grid set could not be met: nothing to write
    return plans


def _written(plan: Plan, tmp_path: Path, index: int) -> tuple[str, AppConfig]:
    path = tmp_path / f"plan-{index}.yaml"
    text = app_config_yaml(plan)
    path.write_text(text, encoding="utf-8")
    return text, load_app_config(path)


def _expected_workers(plan: Plan, config: AppConfig) -> list[tuple[str, int]]:
    if plan.engine is Engine.PARALLELCLUSTER_TRAINIUM:
        return [
            (resource.instance_type, resource.max_count)
            for queue in config.large_pretrain.trainium.queues
            for resource in queue.compute_resources
        ]
    section = (
        config.medium_fine_tune if plan.tier is Tier.MEDIUM_FINE_TUNE else config.large_pretrain
    )
    return [
        (group.instance_type, group.instance_count)
        for group in section.hyperpod.instance_groups
        if group.name != "system"
    ]


def test_every_plan_of_the_grid_writes_the_config_it_printed(tmp_path: Path) -> None:
    plans = _plans()
    assert len(plans) > 300
    tiers = {plan.tier for plan in plans}
    assert tiers == set(Tier)
    for index, plan in enumerate(plans):
        text, config = _written(plan, tmp_path, index)
        assert not _LONG_FLOAT.search(text), text  # clean numbers only
        assert config.stacks == (
            {
                Tier.SMALL_LORA: "SmallLoRAStack",
                Tier.MEDIUM_FINE_TUNE: "MediumFineTuneStack",
                Tier.LARGE_PRETRAIN: "LargePretrainStack",
            }[plan.tier],
        )
        if plan.tier is Tier.SMALL_LORA:
            job = config.small_lora.sagemaker_fine_tune
            assert job is not None
            # The script trains on every GPU of its one instance (torchrun, one process each).
            assert plan.instance_type is not None
            gpus = default_instance_catalog().get(plan.instance_type).accelerator_count
            assert (job.instance_type, plan.instance_count, plan.accelerators_total) == (
                plan.instance_type,
                1,
                gpus,
            )
            continue
        assert _expected_workers(plan, config) == [(plan.instance_type, plan.instance_count)]
        file_system = (
            config.medium_fine_tune if plan.tier is Tier.MEDIUM_FINE_TUNE else config.large_pretrain
        ).file_system
        assert plan.fsx is not None
        assert (
            file_system.storage_capacity_gib,
            file_system.throughput_mb_per_s_per_tib,
            file_system.efa_enabled,
        ) == (
            plan.fsx.storage_capacity_gib,
            plan.fsx.throughput_mb_per_s_per_tib,
            plan.tier is Tier.LARGE_PRETRAIN,
        )


SYNTH_GRID: tuple[dict[str, Any], ...] = (
    {"params": 8e9, "method": "lora", "tokens": 1e8},
    {"params": 70e9, "method": "qlora", "tokens": 1e8, "instance_type": "p5.48xlarge"},
    {"params": 70e9, "method": "full", "tokens": 2e9},
    {"params": 70e9, "method": "cpt", "tokens": 1e11, "accelerator": "trn1", "deadline_hours": 720},
    {"params": 70e9, "method": "pretrain", "tokens": 2e12, "deadline_hours": 720},
    {
        "params": 405e9,
        "method": "pretrain",
        "tokens": 1e12,
        "deadline_hours": 1440,
        "accelerator": "h100",
    },
)
"""One plan per tier and engine: 70B full fine-tune is the issue's FSx rounding case, 405B
pre-training its EFA case."""


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        resource.get("Properties", {})
        for resource in template["Resources"].values()
        if resource["Type"] == kind
    ]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Plan, dict[str, Any]]]:
    import aws_cdk as cdk

    from cdk_llm_training.checks import LlmTrainingChecks
    from cdk_llm_training.stacks import build_tier_stacks

    tmp_path = tmp_path_factory.mktemp("plans")
    results: list[tuple[Plan, dict[str, Any]]] = []
    for index, request in enumerate(SYNTH_GRID):
        plan = make_plan(PlanRequest.model_validate(request))
        _, config = _written(plan, tmp_path, index)
        app = cdk.App(context=cdk_context(), outdir=str(tmp_path / f"out-{index}"))
        (stack,) = build_tier_stacks(app, config).values()
        cdk.Validations.of(app).add_plugins(LlmTrainingChecks())
        assembly = app.synth()
        template = assembly.get_stack_by_name(stack.stack_name).template
        results.append((plan, template))
    return results


def test_synthesized_plans_cover_every_tier_and_engine(
    synthesized: list[tuple[Plan, dict[str, Any]]],
) -> None:
    assert {(plan.tier, plan.engine) for plan, _ in synthesized} >= {
        (Tier.SMALL_LORA, Engine.SAGEMAKER_SINGLE_NODE),
        (Tier.MEDIUM_FINE_TUNE, Engine.HYPERPOD_EKS),
        (Tier.LARGE_PRETRAIN, Engine.PARALLELCLUSTER_TRAINIUM),
        (Tier.LARGE_PRETRAIN, Engine.HYPERPOD_EKS),
    }


def test_synth_builds_the_instances_and_file_system_the_plan_printed(
    synthesized: list[tuple[Plan, dict[str, Any]]],
) -> None:
    for plan, template in synthesized:
        if plan.tier is Tier.SMALL_LORA:
            definitions = yaml.safe_dump(_resources(template, "AWS::StepFunctions::StateMachine"))
            assert plan.instance_type is not None
            assert plan.instance_type in definitions
            assert not _resources(template, "AWS::FSx::FileSystem")
            continue
        (file_system,) = _resources(template, "AWS::FSx::FileSystem")
        lustre = file_system["LustreConfiguration"]
        assert plan.fsx is not None
        assert (
            file_system["StorageCapacity"],
            lustre["PerUnitStorageThroughput"],
            lustre.get("EfaEnabled", False),
        ) == (
            plan.fsx.storage_capacity_gib,
            plan.fsx.throughput_mb_per_s_per_tib,
            plan.tier is Tier.LARGE_PRETRAIN,
        )
        if plan.engine is Engine.PARALLELCLUSTER_TRAINIUM:
            (cluster,) = _resources(template, "Custom::PclusterCluster")
            queues = cluster["ClusterConfiguration"]["Scheduling"]["SlurmQueues"]
            workers = [
                (resource["InstanceType"], resource["MaxCount"])
                for queue in queues
                for resource in queue["ComputeResources"]
            ]
        else:
            (cluster,) = _resources(template, "AWS::SageMaker::Cluster")
            workers = [
                (group["InstanceType"], group["InstanceCount"])
                for group in cluster["InstanceGroups"]
                if group["InstanceGroupName"] != "system"
            ]
        assert workers == [(plan.instance_type, plan.instance_count)]
