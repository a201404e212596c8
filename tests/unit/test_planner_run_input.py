"""The run input ``plan --write-config`` writes beside a medium / large tier config: its shape,
its tokens -> steps arithmetic, and the field rules of the cluster run input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from cdk_llm_training.config import ClusterRunOptions, parse_app_config
from cdk_llm_training.tools import cli
from cdk_llm_training.tools.planner.methods import resolve
from cdk_llm_training.tools.planner.model import Plan, PlanRequest
from cdk_llm_training.tools.planner.plan import make_plan
from cdk_llm_training.tools.planner.recipe_catalog import RECIPE_RELEASE, RECIPES, find_recipe
from cdk_llm_training.tools.planner.run_input import (
    DEFAULT_MAX_RUN_HOURS,
    LIMIT_RUN_HOURS,
    TEMPLATE_TOKENS_PER_STEP,
    RunInputError,
    check_run_input,
    max_steps,
    output_name_for,
    plan_run_input,
    required_run_hours,
    template_batch_size,
)

LLAMA_70B = "meta-llama/Llama-3.3-70B-Instruct"


def _plan(method: str, params: float, tokens: float, **extra: Any) -> Plan:
    sizing, objective = resolve(method, extra.pop("tuning", None))
    return make_plan(
        PlanRequest(params=params, method=sizing, objective=objective, tokens=tokens, **extra)
    )


def test_hyperpod_full_fine_tune_names_a_recipe_of_the_pinned_release() -> None:
    plan = _plan("full", 70e9, 2e9, deadline_hours=48)
    run = plan_run_input(plan, model=LLAMA_70B)
    assert run.document is not None, run.reason
    recipe = run.document["job"]["recipe"]
    assert recipe["name"] == "fine-tuning/llama/llmft_llama3_3_70b_instruct_seq4k_gpu_sft_fft"
    steps = math.ceil(2e9 / (32 * 4096))  # the recipe's batch of 32 sequences of 4,096 tokens
    assert recipe["overrides"] == [
        f"trainer.num_nodes={plan.instance_count}",
        "training_config.training_args.train_batch_size=32",
        "training_config.training_args.max_len=4096",
        "training_config.training_args.max_epochs=1",
        f"training_config.training_args.max_samples={steps * 32}",
    ]
    assert run.document["nodes"] == plan.instance_count
    assert run.document["instance_group"] == "gpu-workers"
    assert run.document["output_name"] == "llama-3-3-70b-instruct-sft"
    assert run.document["dataset"] == "datasets/llama-3-3-70b-instruct-sft/"
    assert plan.wall_clock_hours is not None
    assert run.document["max_run_hours"] == math.ceil(plan.wall_clock_hours * 1.25 + 1)
    assert RECIPE_RELEASE in run.notes[0]


def test_lora_dpo_on_hyperpod_picks_the_peft_dpo_recipe() -> None:
    plan = _plan("dpo", 70e9, 1e9, tuning="lora", instance_type="p5.48xlarge", max_instances=16)
    assert plan.engine.value == "hyperpod-eks"
    run = plan_run_input(plan, model=LLAMA_70B, dataset="prefs/v1/", output_name="l70-dpo")
    assert run.document is not None, run.reason
    assert run.document["job"]["recipe"]["name"].endswith(
        "llmft_llama3_3_70b_instruct_seq4k_gpu_dpo"
    )
    assert run.document["dataset"] == "prefs/v1/"
    assert run.document["output_name"] == "l70-dpo"


def test_hyperpod_pretraining_without_a_recipe_uses_the_fsdp_template() -> None:
    plan = _plan("pretrain", 8e9, 1e11, accelerator="h100", deadline_hours=72)
    run = plan_run_input(plan, model="my-org/my-8b")
    assert run.document is not None
    job = run.document["job"]
    assert job["template"] == "fsdp-pretrain"
    batch = job["parameters"]["global_batch_size"]
    assert batch % plan.accelerators_total == 0
    assert batch * 4096 >= TEMPLATE_TOKENS_PER_STEP
    assert job["parameters"] == {
        "model": "my-org/my-8b",
        "max_steps": math.ceil(1e11 / (batch * 4096)),
        "global_batch_size": batch,
        "sequence_length": 4096,
    }


def test_trainium_plan_uses_the_neuron_template_and_the_slurm_queue() -> None:
    plan = _plan("pretrain", 8e9, 1e11, accelerator="trn2", deadline_hours=72)
    run = plan_run_input(plan, model="meta-llama/Llama-3.1-8B", output_name="llama-8b-pt")
    assert run.document is not None
    assert run.document["job"]["template"] == "neuron-pretrain"
    assert run.document["queue"] == "compute"
    assert "instance_group" not in run.document


@pytest.mark.parametrize(
    ("method", "model", "why"),
    [
        ("full", None, "no --model"),
        ("full", "my-org/unknown-70b", "no HyperPod recipe"),
        ("grpo", LLAMA_70B, "no HyperPod recipe"),
    ],
)
def test_no_run_input_says_why(method: str, model: str | None, why: str) -> None:
    plan = _plan(method, 70e9, 1e9, instance_type="p5.48xlarge", max_instances=16)
    run = plan_run_input(plan, model=model)
    assert run.document is None
    assert why in run.reason


def test_a_recipe_needs_the_recipe_sequence_length() -> None:
    plan = _plan("full", 70e9, 1e9, deadline_hours=48, seq_len=8192)
    run = plan_run_input(plan, model=LLAMA_70B)
    assert run.document is None
    assert "8192-token" in run.reason


def test_small_tier_has_no_run_input() -> None:
    assert plan_run_input(_plan("lora", 8e9, 1e8), model=LLAMA_70B).document is None


def test_tokens_to_steps() -> None:
    assert max_steps(1e9, 128, 4096) == 1908  # ceil(1e9 / 524288)
    assert max_steps(1, 128, 4096) == 1
    assert template_batch_size(4096, 16) == 1024
    assert template_batch_size(4096, 24) == 1032
    assert template_batch_size(2048, 64) == 2048


def test_recipe_lookup_is_exact() -> None:
    assert find_recipe("qwen/qwen3-8b", "sft", "lora", "ml.g5.48xlarge") is not None
    assert find_recipe("Qwen/Qwen3-8B", "sft", "lora", "ml.trn1.32xlarge") is None
    assert find_recipe("Qwen/Qwen2.5-72B-Instruct", "dpo", "full", "ml.p5.48xlarge") is None
    names = [r.name for r in RECIPES]
    assert len(names) == len(set(names))
    assert all(r.name.startswith("fine-tuning/") and "llmft_" in r.name for r in RECIPES)
    assert all(r.global_batch_size > 0 and r.instance_types for r in RECIPES)


def test_output_names_are_valid() -> None:
    from cdk_llm_training.config.vocabulary import TrainingMethod

    name = output_name_for("Org/" + "A" * 80, "sft", TrainingMethod.FULL)
    assert len(name) <= 63
    assert output_name_for("meta-llama/Llama-3.1-8B", None, TrainingMethod.PRETRAIN) == (
        "llama-3-1-8b-pretrain"
    )


def test_the_hour_limit_matches_the_run_options() -> None:
    assert ClusterRunOptions(max_run_hours=LIMIT_RUN_HOURS).max_run_hours == LIMIT_RUN_HOURS
    with pytest.raises(ValidationError):
        ClusterRunOptions(max_run_hours=LIMIT_RUN_HOURS + 1)
    assert ClusterRunOptions().max_run_hours == DEFAULT_MAX_RUN_HOURS


def test_a_long_plan_raises_the_tiers_run_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    argv = ["plan", "--params", "8e9", "--method", "pretrain", "--tokens", "1e12"]
    argv += ["--accelerator", "h100", "--model", "my-8b", "--write-config", str(path)]
    assert cli.main(argv) == 0
    run = json.loads(cli.run_input_path(path).read_text())
    config = parse_app_config(yaml.safe_load(path.read_text()), source="long.yaml")
    assert run["max_run_hours"] > DEFAULT_MAX_RUN_HOURS
    assert config.medium_fine_tune is not None
    assert config.medium_fine_tune.runs.max_run_hours == run["max_run_hours"]
    check_run_input(run)


def test_cli_writes_the_run_input_beside_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "medium.yaml"
    argv = ["plan", "--params", "70e9", "--method", "full", "--tokens", "2e9"]
    argv += ["--deadline-hours", "48", "--model", LLAMA_70B, "--write-config", str(path)]
    assert cli.main(argv) == 0
    run_path = tmp_path / "medium.run.json"
    assert cli.run_input_path(path) == run_path
    document = json.loads(run_path.read_text())
    check_run_input(document)
    assert "recipe" in document["job"]
    config = parse_app_config(yaml.safe_load(path.read_text()), source="medium.yaml")
    assert config.medium_fine_tune is not None
    groups = {g.name: g for g in config.medium_fine_tune.hyperpod.instance_groups}
    assert groups[document["instance_group"]].instance_count == document["nodes"]
    assert f"wrote {run_path}" in capsys.readouterr().err


def test_cli_without_model_writes_only_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "medium.yaml"
    argv = ["plan", "--params", "70e9", "--method", "full", "--tokens", "2e9"]
    assert cli.main([*argv, "--write-config", str(path)]) == 0
    assert path.exists()
    assert not cli.run_input_path(path).exists()
    assert "run input not written: no --model" in capsys.readouterr().err


def test_cli_rejects_a_bad_output_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "medium.yaml"
    argv = ["plan", "--params", "70e9", "--method", "full", "--tokens", "2e9", "--model"]
    argv += [LLAMA_70B, "--output-name", "Not_Valid", "--write-config", str(path)]
    assert cli.main(argv) == 2
    assert "output_name 'Not_Valid'" in capsys.readouterr().err
    assert not path.exists()


# -- the field rules of the run input (one case per rule) ------------------------------------

VALID: dict[str, Any] = {
    "job": {"recipe": {"name": "fine-tuning/llama/x", "overrides": ["trainer.num_nodes=2"]}},
    "nodes": 2,
    "instance_group": "gpu-workers",
    "dataset": "datasets/a/",
    "output_name": "a-run",
    "max_run_hours": 10,
}


def _with(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(VALID))
    for key, value in changes.items():
        if value is None:
            document.pop(key)
        else:
            document[key] = value
    return document


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (_with(extra=1), "unknown run input fields"),
        (_with(queue="compute"), "not both"),
        (_with(job={"image": "a:1", "recipe": {"name": "a/b"}}), "exactly one of"),
        (_with(job={}), "exactly one of"),
        (_with(job={"recipe": {"name": "a/b.yaml"}}), "job.recipe.name"),
        (_with(job={"recipe": {"name": "a/b", "overrides": ["=x"]}}), "job.recipe.overrides"),
        (_with(job={"recipe": {"name": "a/b", "extra": 1}}), "job.recipe must be"),
        (_with(job={"template": "other", "parameters": {}}), "job.template"),
        (
            _with(job={"template": "fsdp-pretrain", "parameters": {"model": "m", "max_steps": 0}}),
            "job.parameters.max_steps",
        ),
        (_with(job={"template": "neuron-pretrain", "parameters": {}}), "job.parameters.model"),
        (_with(nodes=0), "nodes"),
        (_with(nodes=True), "nodes"),
        (_with(dataset="/abs/"), "dataset"),
        (_with(dataset="a/../b/"), "dataset"),
        (_with(output_name="UPPER"), "output_name"),
        (_with(output_name=None), "output_name"),
        (_with(max_run_hours=0), "max_run_hours"),
    ],
)
def test_field_rules(document: dict[str, Any], field: str) -> None:
    with pytest.raises(RunInputError, match=field.replace(".", r"\.")):
        check_run_input(document)


def test_valid_documents_pass() -> None:
    check_run_input(VALID)
    check_run_input(_with(max_run_hours=None))
    check_run_input(
        _with(
            instance_group=None,
            queue="compute",
            job={
                "template": "neuron-pretrain",
                "parameters": {
                    "model": "m",
                    "max_steps": 1,
                    "global_batch_size": 8,
                    "sequence_length": 4096,
                },
            },
        )
    )
    check_run_input(_with(job={"image": "r/i:1", "command": ["python", "train.py"]}))


def test_required_run_hours_is_bounded() -> None:
    plan = _plan("full", 70e9, 2e9, deadline_hours=48)
    hours = required_run_hours(plan)
    assert hours is not None
    assert 1 <= hours <= LIMIT_RUN_HOURS
