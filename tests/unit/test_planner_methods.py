"""The planner's methods are the training script's: the same list, with each objective's
memory and compute rules and the tier it lands in."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_llm_training.assets.training import methods as script_methods
from cdk_llm_training.config.sizing.gpu_memory import architecture
from cdk_llm_training.config.sizing.method_cost import (
    KV_HEAD_FRACTION,
    compute_multiplier,
    generation_kv_bytes,
    reference_copy_bytes,
)
from cdk_llm_training.config.vocabulary import Tier, TrainingMethod
from cdk_llm_training.tools import cli
from cdk_llm_training.tools.planner.methods import OBJECTIVES, PLANNER_METHODS, resolve
from cdk_llm_training.tools.planner.model import PlanningError, PlanRequest
from cdk_llm_training.tools.planner.plan import make_plan


def test_the_planner_method_list_matches_the_script() -> None:
    assert script_methods.method_names() == OBJECTIVES
    assert PLANNER_METHODS[: len(OBJECTIVES)] == script_methods.method_names()
    assert cli.METHODS == PLANNER_METHODS
    assert script_methods.tuning_names() == cli.TUNINGS
    # The script's tunings and continued pre-training are the planner's TrainingMethod values.
    assert {*script_methods.tuning_names(), "cpt"} <= {m.value for m in TrainingMethod}


@pytest.mark.parametrize(
    ("method", "tuning", "expected"),
    [
        ("sft", None, (TrainingMethod.LORA, "sft")),
        ("dpo", "qlora", (TrainingMethod.QLORA, "dpo")),
        ("grpo", "full", (TrainingMethod.FULL, "grpo")),
        ("cpt", None, (TrainingMethod.CPT, "cpt")),
        ("cpt", "lora", (TrainingMethod.LORA, "cpt")),
        ("lora", None, (TrainingMethod.LORA, "sft")),
        ("full", None, (TrainingMethod.FULL, "sft")),
        ("pretrain", None, (TrainingMethod.PRETRAIN, None)),
        ("bedrock", None, (TrainingMethod.BEDROCK, None)),
    ],
)
def test_resolve(method: str, tuning: str | None, expected: tuple[TrainingMethod, str]) -> None:
    assert resolve(method, tuning) == expected


def test_resolve_rejects_a_tuning_on_a_tuning() -> None:
    with pytest.raises(ValueError, match=r"^method 'lora' already names how weights are trained"):
        resolve("lora", "full")


def test_dpo_reference_is_free_with_adapters_and_a_copy_when_full() -> None:
    assert reference_copy_bytes(8e9, "dpo", adapter=True) == 0
    assert reference_copy_bytes(8e9, "dpo", adapter=False) == 2 * 8e9
    assert reference_copy_bytes(8e9, "sft", adapter=False) == 0
    # GRPO keeps no reference (TRL's beta defaults to 0).
    assert reference_copy_bytes(8e9, "grpo", adapter=False) == 0


def test_grpo_kv_cache_grows_with_the_group() -> None:
    hidden, layers = architecture(8e9)
    one = generation_kv_bytes(8e9, "grpo", num_generations=1, tokens_per_sequence=1000)
    assert one == pytest.approx(4 * KV_HEAD_FRACTION * layers * hidden * 1000)
    assert generation_kv_bytes(8e9, "grpo", num_generations=8, tokens_per_sequence=1000) == (
        pytest.approx(8 * one)
    )
    assert generation_kv_bytes(8e9, "dpo", num_generations=8, tokens_per_sequence=1000) == 0


@pytest.mark.parametrize(
    ("objective", "train_flops", "expected"),
    [
        ("sft", 4.0, 1.0),
        ("distill", 6.0, 1.0),
        ("kto", 4.0, 1.5),  # + a reference forward (2 of 4)
        ("dpo", 4.0, 3.0),  # two answers, each + a reference forward
        ("dpo", 6.0, 2 * 8 / 6),
        ("grpo", 4.0, 8 * 1.5),  # 8 completions, each generated (2) and trained (4)
    ],
)
def test_compute_multipliers(objective: str, train_flops: float, expected: float) -> None:
    assert compute_multiplier(objective, train_flops, num_generations=8) == pytest.approx(expected)


def _plan(method: str, tuning: str | None = None, **values: Any) -> Any:
    sizing, objective = resolve(method, tuning)
    request = PlanRequest(params=8e9, method=sizing, objective=objective, tokens=1e8, **values)
    return make_plan(request)


def test_dpo_costs_more_than_sft_and_stays_small() -> None:
    sft, dpo = _plan("sft"), _plan("dpo")
    assert dpo.tier is sft.tier is Tier.SMALL_LORA
    ratio = dpo.training_flops / sft.training_flops
    assert ratio == pytest.approx(3.0)
    assert any("reference" in note for note in dpo.assumptions.notes)


def test_full_dpo_goes_to_a_cluster() -> None:
    plan = _plan("dpo", "full")
    assert plan.tier is Tier.MEDIUM_FINE_TUNE
    assert any("frozen reference copy" in n for n in plan.assumptions.notes)


def test_grpo_needs_more_memory_and_compute() -> None:
    sft, grpo = _plan("sft"), _plan("grpo", num_generations=16, completion_len=1024)
    assert grpo.training_flops == pytest.approx(24 * sft.training_flops)
    assert any("samples 16 completions" in n for n in grpo.assumptions.notes)


def test_large_grpo_group_does_not_fit_one_small_gpu() -> None:
    sizing, objective = resolve("grpo")
    request = PlanRequest(
        params=8e9,
        method=sizing,
        objective=objective,
        tokens=1e8,
        instance_type="ml.g5.2xlarge",
        num_generations=64,
        completion_len=4096,
    )
    with pytest.raises(PlanningError) as caught:
        make_plan(request)
    assert str(caught.value) == (
        "the model does not fit any catalog instance: the closest option, the activations of "
        "one 4096-token sequence and the KV cache of 64 sampled completions need 74.8 GiB per "
        "accelerator; g5.2xlarge has 21.6 GiB usable (short by 53.2 GiB)."
    )


def test_unknown_objective_is_rejected() -> None:
    with pytest.raises(ValueError, match="objective 'ppo' is not a method of the training script"):
        PlanRequest(params=8e9, method=TrainingMethod.LORA, objective="ppo", tokens=1e8)


def test_docs_route_table_is_the_planner_answer() -> None:
    from pathlib import Path

    from cdk_llm_training.tools.planner.route_table import route_table_markdown

    page = Path(__file__).parents[2] / "docs" / "guides" / "training-methods.md"
    text = page.read_text(encoding="utf-8")
    start, end = "<!-- route-table -->\n", "<!-- /route-table -->"
    documented = text[text.index(start) + len(start) : text.index(end)]
    assert documented == route_table_markdown(), (
        "regenerate the table: python -c 'from cdk_llm_training.tools.planner.route_table import "
        "route_table_markdown; print(route_table_markdown())'"
    )
