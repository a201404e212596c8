"""The run inputs ``plan --write-config`` writes are accepted by the controllers that run
them: a ``neuron-pretrain`` input by the Slurm template's parameter check, an
``fsdp-pretrain`` input by the HyperPod template renderer, a recipe input by the recipe
request check and the Hydra override grammar."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_llm_training.assets.runtime import cluster_run_recipe_actions as recipe_actions
from cdk_llm_training.assets.runtime.cluster_run_templates import render_template_job
from cdk_llm_training.assets.runtime.recipe_overrides import apply_overrides
from cdk_llm_training.assets.runtime.slurm_run_templates import neuron_pretrain_parameters
from cdk_llm_training.tools.planner.methods import resolve
from cdk_llm_training.tools.planner.model import Plan, PlanRequest
from cdk_llm_training.tools.planner.plan import make_plan
from cdk_llm_training.tools.planner.run_input import plan_run_input


def _plan(method: str, params: float, tokens: float, **extra: Any) -> Plan:
    sizing, objective = resolve(method, extra.pop("tuning", None))
    return make_plan(
        PlanRequest(params=params, method=sizing, objective=objective, tokens=tokens, **extra)
    )


def _document(plan: Plan, model: str) -> dict[str, Any]:
    run = plan_run_input(plan, model=model)
    assert run.document is not None, run.reason
    return run.document


@pytest.mark.parametrize(
    "model", ["meta-llama/Meta-Llama-3-8B", "meta-llama/Llama-3.1-8B", "llama3-8b"]
)
def test_trainium_pretrain_input_passes_the_neuron_template_check(model: str) -> None:
    plan = _plan("pretrain", 8e9, 2e11, accelerator="trn1")
    document = _document(plan, model)
    assert document["job"]["template"] == "neuron-pretrain"
    assert plan.instance_type is not None
    checked = neuron_pretrain_parameters(
        document["job"]["parameters"],
        instance_type=plan.instance_type.removeprefix("ml."),
        nodes=document["nodes"],
    )
    assert checked.max_steps == document["job"]["parameters"]["max_steps"]


def test_nvidia_pretrain_input_renders_with_the_fsdp_template() -> None:
    plan = _plan("pretrain", 8e9, 2e11, accelerator="h100", max_instances=16)
    document = _document(plan, "meta-llama/Llama-3.1-8B")
    job = document["job"]
    assert job["template"] == "fsdp-pretrain"
    rendered = render_template_job(
        job,
        nodes=document["nodes"],
        accelerators_per_node=8,
        script_dir="/fsx/data/library/training-script/0123456789abcdef",
        image="763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:x",
        data_mount_path="/fsx/data",
    )
    assert rendered["command"]


def test_hyperpod_recipe_input_passes_the_request_check_and_override_grammar() -> None:
    plan = _plan("full", 70e9, 2e9, deadline_hours=48)
    document = _document(plan, "meta-llama/Llama-3.3-70B-Instruct")
    name, overrides = recipe_actions.recipe_request(document["job"])
    assert name.startswith("fine-tuning/")
    # the keys the planner overrides, as the pinned release's llmft recipes have them
    config: dict[str, Any] = {
        "trainer": {"num_nodes": 4, "devices": 8},
        "training_config": {
            "training_args": {
                "train_batch_size": 32,
                "max_len": 4096,
                "max_epochs": 5,
                "max_samples": 100000000.0,
            }
        },
    }
    apply_overrides(config, overrides)
    assert config["trainer"]["num_nodes"] == document["nodes"]
