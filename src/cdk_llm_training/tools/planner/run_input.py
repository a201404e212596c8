"""The run input of a planned cluster job: what ``plan --write-config`` writes next to the tier
config of a medium or large plan (``<stem>.run.json``), to start the tier's run workflow with.

A run input is ``{job, nodes, instance_group | queue, dataset, output_name, max_run_hours}``
(the cluster run workflow's input). ``job`` takes one of two forms here:

- a HyperPod recipe (``{"recipe": {"name", "overrides"}}``) when the plan runs on HyperPod and
  the pinned recipes release has a recipe for the model, the objective (sft / dpo), the tuning
  (LoRA / full) and the planned instance type (:mod:`recipe_catalog`);
- a library job template (``{"template", "parameters"}``): ``neuron-pretrain`` for Trainium
  plans (ParallelCluster), ``fsdp-pretrain`` for pre-training and continued pre-training on
  HyperPod when no recipe fits. Both take the common parameters ``model``, ``max_steps``,
  ``global_batch_size`` and ``sequence_length``.

Other plans (a fine-tune objective without a recipe) get no run input: the reason says why.

Tokens to steps: ``max_steps = ceil(tokens / (global_batch_size * sequence_length))``.
Recipes use their own global batch size and their 4,096-token sequences; templates use the
plan's sequence length and a global batch of about 4 Mi tokens per step
(:data:`TEMPLATE_TOKENS_PER_STEP`), rounded up to a multiple of the planned accelerators.
``max_run_hours`` is the planned wall clock times :data:`RUN_HOURS_FACTOR` plus
:data:`RUN_HOURS_MARGIN`, rounded up.

Pure Python (no aws_cdk import).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from cdk_llm_training.config.cluster_training_run import ClusterRunOptions
from cdk_llm_training.config.vocabulary import Engine, Tier, TrainingMethod
from cdk_llm_training.tools.planner.model import Plan
from cdk_llm_training.tools.planner.recipe_catalog import (
    RECIPE_RELEASE,
    RECIPE_SEQUENCE_LENGTH,
    HyperPodRecipe,
    find_recipe,
)

TEMPLATE_TOKENS_PER_STEP = 4 * 1024 * 1024
"""Tokens per optimizer step of a template run: about 4 Mi, the batch Llama 2 pre-trained
with (4M tokens). ``global_batch_size`` is this over the sequence length, rounded up to a
multiple of the accelerators so every data-parallel rank gets whole sequences."""
RUN_HOURS_FACTOR = 1.25
"""``max_run_hours`` = planned wall clock x 1.25 + 1 h: room for start-up, checkpoint writes
and an MFU below the plan's, before the workflow stops the job."""
RUN_HOURS_MARGIN = 1.0
DEFAULT_MAX_RUN_HOURS = ClusterRunOptions().max_run_hours
"""The run workflow's default largest ``max_run_hours`` (``runs.max_run_hours``, 336); a plan
that needs more raises it in the tier config it writes."""
LIMIT_RUN_HOURS = 8760
"""The most ``runs.max_run_hours`` accepts (a year; a test keeps the two equal)."""
PRETRAIN_METHODS = (TrainingMethod.PRETRAIN, TrainingMethod.CPT)
SLURM_QUEUE = "compute"
"""The queue name a Trainium plan's tier config gets (see the planner's tier config)."""
TEMPLATE_PARAMETERS = ("model", "max_steps", "global_batch_size", "sequence_length")
"""The parameters every job template accepts."""
TEMPLATES: dict[Engine, str] = {
    Engine.HYPERPOD_EKS: "fsdp-pretrain",
    Engine.PARALLELCLUSTER_TRAINIUM: "neuron-pretrain",
}
NEURON_TEMPLATE_MODELS: dict[str, str] = {
    "meta-llama/Meta-Llama-3-8B": "llama3-8b",
    "meta-llama/Llama-3.1-8B": "llama3.1-8b",
    "meta-llama/Llama-2-7b-hf": "llama2-7b",
}
"""Hugging Face ids of the models the ``neuron-pretrain`` template ships a configuration for,
and its names for them (the template also takes those names as ``--model``)."""
_OUTPUT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_RECIPE_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_OVERRIDE = re.compile(r"^(\+{1,2}|~)?[A-Za-z_][\w.-]*(=.*)?$")
_RUN_FIELDS = {"job", "nodes", "instance_group", "queue", "dataset", "output_name", "max_run_hours"}


class RunInputError(ValueError):
    """A run input breaks a field rule; the message names the field and the value."""


@dataclass(frozen=True)
class RunInput:
    """The run input of a plan (``document``), or why there is none (``reason``)."""

    document: dict[str, Any] | None
    reason: str
    notes: tuple[str, ...] = field(default=())


def output_name_for(model: str, objective: str | None, method: TrainingMethod) -> str:
    """A valid ``output_name`` from the model's last path part and the method."""
    stem = model.rsplit("/", 1)[-1].lower()
    what = objective or method.value
    text = re.sub(r"[^a-z0-9]+", "-", f"{stem}-{what}").strip("-")
    return text[:63].rstrip("-") or "run"


def required_run_hours(plan: Plan) -> int | None:
    """``max_run_hours`` for ``plan``: wall clock x factor + margin, rounded up, from 1 to
    :data:`LIMIT_RUN_HOURS`."""
    if plan.wall_clock_hours is None:
        return None
    hours = math.ceil(plan.wall_clock_hours * RUN_HOURS_FACTOR + RUN_HOURS_MARGIN)
    return min(max(1, hours), LIMIT_RUN_HOURS)


def max_steps(tokens: float, global_batch_size: int, sequence_length: int) -> int:
    """``ceil(tokens / (global_batch_size * sequence_length))``, at least 1."""
    return max(1, math.ceil(tokens / (global_batch_size * sequence_length)))


def template_batch_size(sequence_length: int, accelerators: int) -> int:
    """About :data:`TEMPLATE_TOKENS_PER_STEP` tokens in whole sequences, rounded up to a
    multiple of ``accelerators``."""
    sequences = max(1, math.ceil(TEMPLATE_TOKENS_PER_STEP / sequence_length))
    ranks = max(1, accelerators)
    return math.ceil(sequences / ranks) * ranks


def _tuning(plan: Plan) -> str | None:
    method = plan.request.method
    if method is TrainingMethod.LORA:
        return "lora"
    if method is TrainingMethod.FULL:
        return "full"
    return None  # QLoRA, pre-training, CPT: no LLMFT recipe trains them


def _recipe_job(plan: Plan, recipe: HyperPodRecipe, steps: int) -> dict[str, Any]:
    batch = recipe.global_batch_size
    # LLMFT recipes stop by epochs and samples, not steps (they have no trainer.max_steps):
    # one epoch over max_steps x batch samples is max_steps optimizer steps when the dataset
    # holds that many samples (fewer steps when it holds fewer).
    return {
        "recipe": {
            "name": recipe.name,
            "overrides": [
                f"trainer.num_nodes={plan.instance_count}",
                f"training_config.training_args.train_batch_size={batch}",
                f"training_config.training_args.max_len={RECIPE_SEQUENCE_LENGTH}",
                "training_config.training_args.max_epochs=1",
                f"training_config.training_args.max_samples={steps * batch}",
            ],
        }
    }


def plan_run_input(
    plan: Plan, *, model: str | None, dataset: str | None = None, output_name: str | None = None
) -> RunInput:
    """The run input for ``plan`` (a medium or large tier plan).

    ``model`` is the Hugging Face id (recipes) or the model name the template loads;
    ``dataset`` defaults to ``datasets/<output_name>/``; ``output_name`` defaults to the
    model's last path part and the method. A document is checked with :func:`check_run_input`
    before it is returned.
    """
    if plan.tier is Tier.SMALL_LORA or plan.instance_type is None:
        return RunInput(None, "the small tier has no cluster run workflow")
    if not model:
        return RunInput(None, "no --model given: the run input names the model it trains")
    request = plan.request
    name = output_name or output_name_for(model, request.objective, request.method)
    data = dataset or f"datasets/{name}/"
    notes: list[str] = []
    job: dict[str, Any] | None = None
    objective = request.objective or ("sft" if request.method is TrainingMethod.FULL else None)
    tuning = _tuning(plan)
    if plan.engine is Engine.HYPERPOD_EKS and objective in ("sft", "dpo") and tuning:
        recipe = find_recipe(model, objective, tuning, plan.instance_type)
        if recipe is not None and request.seq_len == RECIPE_SEQUENCE_LENGTH:
            steps = max_steps(request.tokens, recipe.global_batch_size, RECIPE_SEQUENCE_LENGTH)
            job = _recipe_job(plan, recipe, steps)
            notes.append(
                f"recipe {recipe.name} ({RECIPE_RELEASE}): {steps:,} steps of "
                f"{recipe.global_batch_size} x {RECIPE_SEQUENCE_LENGTH} tokens"
            )
    if job is None and request.method in PRETRAIN_METHODS:
        template = TEMPLATES[plan.engine]
        template_model = model
        if template == "neuron-pretrain":
            neuron_names = set(NEURON_TEMPLATE_MODELS.values())
            template_model = NEURON_TEMPLATE_MODELS.get(model, model)
            if template_model not in neuron_names:
                return RunInput(
                    None,
                    f"the neuron-pretrain template has configurations for "
                    f"{', '.join(sorted(NEURON_TEMPLATE_MODELS))} (or "
                    f"{', '.join(sorted(neuron_names))}), not {model}: write the job (command) "
                    "yourself",
                )
        batch = template_batch_size(request.seq_len, plan.accelerators_total)
        steps = max_steps(request.tokens, batch, request.seq_len)
        job = {
            "template": template,
            "parameters": {
                "model": template_model,
                "max_steps": steps,
                "global_batch_size": batch,
                "sequence_length": request.seq_len,
            },
        }
        notes.append(f"template {template}: {steps:,} steps of {batch} x {request.seq_len} tokens")
    if job is None:
        return RunInput(
            None,
            f"no HyperPod recipe of {RECIPE_RELEASE} fine-tunes {model} with "
            f"{objective or request.method.value} ({tuning or request.method.value}) on "
            f"{plan.instance_type} at {request.seq_len}-token sequences, and the job "
            "templates pre-train only: write the job (image and command) yourself",
        )
    document: dict[str, Any] = {"job": job, "nodes": plan.instance_count}
    if plan.engine is Engine.PARALLELCLUSTER_TRAINIUM:
        document["queue"] = SLURM_QUEUE
    else:
        document["instance_group"] = (
            "trn-workers" if plan.instance_type.startswith("ml.trn") else "gpu-workers"
        )
    document["dataset"] = data
    document["output_name"] = name
    hours = required_run_hours(plan)
    if hours is not None:
        document["max_run_hours"] = hours
        wall = plan.wall_clock_hours or 0.0
        if wall * RUN_HOURS_FACTOR + RUN_HOURS_MARGIN > LIMIT_RUN_HOURS:
            notes.append(
                f"the planned {wall:,.0f} h with their margin are more than a run may last "
                f"({LIMIT_RUN_HOURS} h): plan with --deadline-hours for more nodes"
            )
        elif hours > DEFAULT_MAX_RUN_HOURS:
            notes.append(
                f"max_run_hours {hours} is above the default limit {DEFAULT_MAX_RUN_HOURS}: "
                "the tier config raises runs.max_run_hours to match"
            )
    check_run_input(document)
    return RunInput(document, "written", tuple(notes))


def check_run_input(document: Any) -> None:
    """Check ``document`` against the field rules of the cluster run input; raise
    :class:`RunInputError` naming the first field that breaks one."""
    if not isinstance(document, dict):
        raise RunInputError(f"the run input must be a JSON object; got {document!r}")
    unknown = set(document) - _RUN_FIELDS
    if unknown:
        raise RunInputError(f"unknown run input fields {sorted(unknown)}")
    if "instance_group" in document and "queue" in document:
        raise RunInputError("give instance_group (HyperPod) or queue (Slurm), not both")
    _check_job(document.get("job"))
    nodes = document.get("nodes")
    if not _positive_int(nodes):
        raise RunInputError(f"nodes {nodes!r} must be an integer >= 1")
    for key in ("instance_group", "queue"):
        if key in document and not (isinstance(document[key], str) and document[key]):
            raise RunInputError(f"{key} {document[key]!r} must be a non-empty string")
    dataset = document.get("dataset")
    if not isinstance(dataset, str) or not dataset or dataset.startswith("/") or ".." in dataset:
        raise RunInputError(
            f"dataset {dataset!r} must be a key prefix of the curated zone (no leading '/', "
            "no '..')"
        )
    name = document.get("output_name")
    if not isinstance(name, str) or not _OUTPUT_NAME.match(name):
        raise RunInputError(
            f"output_name {name!r} must be lower-case letters, digits and hyphens, at most 63 "
            "characters"
        )
    if "max_run_hours" in document and not _positive_int(document["max_run_hours"]):
        raise RunInputError(f"max_run_hours {document['max_run_hours']!r} must be an integer >= 1")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_job(job: Any) -> None:
    forms = ("image", "recipe", "template")
    if not isinstance(job, dict):
        raise RunInputError(f"job must be an object; got {job!r}")
    present = [key for key in forms if key in job]
    if len(present) != 1:
        raise RunInputError(
            f"job must have exactly one of {', '.join(forms)}; got {sorted(job) or 'none'}"
        )
    if present == ["recipe"]:
        _check_recipe(job)
    elif present == ["template"]:
        _check_template(job)
    elif not (isinstance(job.get("command"), list) and job["command"]):
        raise RunInputError(f"job.command must be a non-empty list; got {job.get('command')!r}")


def _check_recipe(job: dict[str, Any]) -> None:
    if set(job) != {"recipe"}:
        raise RunInputError(f"job with a recipe takes no other keys; got {sorted(job)}")
    recipe = job["recipe"]
    if not isinstance(recipe, dict) or set(recipe) - {"name", "overrides"}:
        raise RunInputError(f"job.recipe must be {{name, overrides}}; got {recipe!r}")
    name = recipe.get("name")
    if not isinstance(name, str) or not _RECIPE_NAME.match(name) or name.endswith(".yaml"):
        raise RunInputError(
            f"job.recipe.name {name!r} must be a recipe path without .yaml, e.g. "
            "fine-tuning/llama/llmft_llama3_1_8b_instruct_seq4k_gpu_sft_lora"
        )
    overrides = recipe.get("overrides", [])
    if not isinstance(overrides, list) or not all(
        isinstance(o, str) and _OVERRIDE.match(o) for o in overrides
    ):
        raise RunInputError(
            f"job.recipe.overrides must be Hydra overrides (key=value, +key=value, ~key); "
            f"got {overrides!r}"
        )


def _check_template(job: dict[str, Any]) -> None:
    if set(job) - {"template", "parameters"}:
        raise RunInputError(f"job with a template takes template and parameters; got {sorted(job)}")
    template = job["template"]
    if template not in TEMPLATES.values():
        raise RunInputError(
            f"job.template {template!r} is not one of {', '.join(sorted(TEMPLATES.values()))}"
        )
    parameters = job.get("parameters")
    if not isinstance(parameters, dict):
        raise RunInputError(f"job.parameters must be an object; got {parameters!r}")
    model = parameters.get("model")
    if not isinstance(model, str) or not model:
        raise RunInputError(f"job.parameters.model {model!r} must be a non-empty string")
    for key in TEMPLATE_PARAMETERS[1:]:
        if not _positive_int(parameters.get(key)):
            raise RunInputError(
                f"job.parameters.{key} {parameters.get(key)!r} must be an integer >= 1"
            )
