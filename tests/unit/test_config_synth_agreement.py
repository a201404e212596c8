"""validate == synth: a config that `cdk-llm-training validate` accepts synthesizes.

Property, checked on every config of the docs and the tests and on mutations of them (every
leaf setting of every tier model set to edge values, plus mutations aimed at the rules that
once lived only in the constructs): if validation accepts a config, building its stacks and
synthesizing them (with the library's rule pack, as app.py does) succeeds. The contrapositive
is the issue's other half: whatever synth rejects, validate rejects.

Validation is cheap, so every mutation is validated; synthesis is not (jsii), so all seeds,
all targeted mutations and a deterministic sample of the accepted leaf mutations are
synthesized in one process. Set ``CONFIG_AGREEMENT_FULL=1`` (``make test-config-agreement``)
to synthesize every accepted mutation (about 3,000 configs: an hour or more).
"""

from __future__ import annotations

import os
import time
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_support import cdk_context, stack_key
from config_cases import TEST_CONFIGS, Case, docs_yaml_snippets, mutations, seed_sections

from cdk_llm_training.checks import LlmTrainingChecks
from cdk_llm_training.config import (
    AppConfig,
    ConfigError,
    LargeEngine,
    StackName,
    parse_app_config,
)
from cdk_llm_training.stacks import build_tier_stacks

SAMPLED_LEAF_MUTATIONS = 12
"""Accepted leaf mutations synthesized per run (the rest are validated only). With the seeds
and the targeted mutations this is about 45 syntheses: about a minute on a quiet machine."""


def _validate(case: Case) -> AppConfig | str:
    try:
        return parse_app_config(case.data, source=case.name)
    except ConfigError as error:
        return str(error)


def _synth(config: AppConfig) -> str | None:
    """None when the config's stacks build and synthesize, else the error."""
    app = cdk.App(context=cdk_context())
    try:
        build_tier_stacks(app, config)
        cdk.Validations.of(app).add_plugins(LlmTrainingChecks())
        app.synth()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def _seeds() -> list[Case]:
    return [*docs_yaml_snippets(), *TEST_CONFIGS]


def _plan(seeds: list[Case]) -> tuple[list[Case], list[Case], int]:
    """(configs to synthesize, accepted mutations not synthesized, mutations validated)."""
    chosen: list[Case] = []
    rest: list[Case] = []
    validated = 0
    aimed: set[str] = set()
    for seed in seeds:
        chosen.append(seed)
        # The targeted mutations once per tier (on its first seed), leaf edges on every seed.
        sections = set(seed_sections(seed))
        for case in mutations(seed, targeted=sections - aimed):
            validated += 1
            if isinstance(_validate(case), str):
                continue
            if "/ " in case.name and ".targeted=" in case.name:
                chosen.append(case)
            else:
                rest.append(case)
        aimed |= sections
    unique: dict[str, Case] = {}
    for case in rest:
        unique.setdefault(case.key, case)
    ordered = sorted(unique.values(), key=lambda case: case.key)
    if os.environ.get("CONFIG_AGREEMENT_FULL"):
        return chosen + ordered, [], validated
    return chosen + ordered[:SAMPLED_LEAF_MUTATIONS], ordered[SAMPLED_LEAF_MUTATIONS:], validated


def test_every_docs_config_names_its_stacks() -> None:
    """A snippet meant for one tier sets `stacks:` so it does not build the other tiers."""
    missing = [case.name for case in docs_yaml_snippets() if "stacks" not in case.data]
    assert not missing, f"docs YAML snippets without 'stacks:': {missing}"


def test_seed_configs_are_valid() -> None:
    problems = {
        case.name: result for case in _seeds() if isinstance(result := _validate(case), str)
    }
    assert not problems


def test_what_validate_accepts_synth_builds(
    record_property: Any,
    tier_templates: dict[StackName, Any],
    large_templates: dict[LargeEngine, Any],
    documented_stacks: dict[tuple[StackName, str], cdk.Stack],
) -> None:
    seeds = _seeds()
    started = time.monotonic()
    to_synth, skipped, validated = _plan(seeds)
    planned = time.monotonic() - started
    # A stack is built from its tier section alone: one that the session fixtures above
    # already synthesized (with this rule pack and stricter ones) or that an earlier case
    # here did is not built again.
    built = {stack_key(AppConfig(), name) for name in StackName} | set(documented_stacks)
    built |= {
        stack_key(
            AppConfig.model_validate({"large_pretrain": {"engine": engine.value}}),
            StackName.LARGE_PRETRAIN,
        )
        for engine in large_templates
    }
    failures: dict[str, str] = {}
    reused = 0
    for case in to_synth:
        config = _validate(case)
        assert not isinstance(config, str), config  # seeds and accepted mutations only
        new = [name for name in config.stacks if stack_key(config, name) not in built]
        reused += len(config.stacks) - len(new)
        if not new:
            continue
        error = _synth(config.model_copy(update={"stacks": new}))
        if error is not None:
            failures[case.name] = error[:600]
        else:
            built |= {stack_key(config, name) for name in new}
    elapsed = time.monotonic() - started
    record_property("seeds", len(seeds))
    record_property("validated", validated)
    record_property("synthesized", len(to_synth))
    record_property("validated_only", len(skipped))
    record_property("stacks_already_synthesized", reused)
    record_property("seconds", round(elapsed, 1))
    print(
        f"\n{len(seeds)} seeds, {validated} mutations validated in {planned:.1f} s, "
        f"{len(to_synth)} configs synthesized ({reused} of their stacks already were), "
        f"{len(skipped)} accepted mutations validated only; {elapsed:.1f} s in all"
    )
    assert not failures, "validate accepted configs that synth rejects:\n" + "\n".join(
        f"- {name}: {error}" for name, error in failures.items()
    )


@pytest.mark.parametrize(
    ("section", "change", "message"),
    [
        (
            "small_lora",
            {"bedrock_fine_tune": {"hyperparameters": {"epochCount": 1000}}},
            "hyperparameter 'epochCount' = 1000 is outside the range 1 to 5",
        ),
        (
            "small_lora",
            {"bedrock_fine_tune": {"customization_type": "CONTINUED_PRE_TRAINING"}},
            "customization_type CONTINUED_PRE_TRAINING is not supported by base model",
        ),
        (
            "small_lora",
            {"sagemaker_fine_tune": {"base_model_parameters": 70e9}},
            "needs about 138.6 GiB per GPU",
        ),
        (
            "small_lora",
            {"labeling": {"workforce": {"mode": "import"}}},
            "teams llm-labelers: oidc_groups is empty",
        ),
        (
            "medium_fine_tune",
            {
                "hyperpod": {
                    "instance_groups": [
                        {"name": "g", "instance_type": "ml.zz9.48xlarge", "instance_count": 2}
                    ]
                }
            },
            "instance_type 'ml.zz9.48xlarge' is neither in the instance catalog nor a "
            "HyperPod instance type",
        ),
    ],
)
def test_rules_that_lived_only_in_constructs_fail_validate(
    section: str, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_app_config({section: change})


def test_shipped_hyperpod_instance_types_are_the_api_enum() -> None:
    """The list that tells an unknown ml.* type from a CPU group is the SageMaker API's
    ClusterInstanceType enum (botocore's service model, when installed)."""
    botocore_session = pytest.importorskip("botocore.session")
    from cdk_llm_training.config.catalogs.hyperpod_instance_types import hyperpod_instance_types

    model = botocore_session.get_session().get_service_model("sagemaker")
    api = set(model.shape_for("ClusterInstanceType").enum)
    shipped = hyperpod_instance_types()
    assert shipped <= api, sorted(shipped - api)
    assert {"ml.m5.2xlarge", "ml.c6i.4xlarge", "ml.p5.48xlarge", "ml.trn1.32xlarge"} <= shipped
