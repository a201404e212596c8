"""HyperPod recipes the planner can name in a run input (form 2 of the cluster run input).

Facts read from the recipe files of the pinned release of aws/sagemaker-hyperpod-recipes
(:data:`RECIPE_RELEASE`): the recipe's path without ``.yaml``, the Hugging Face model it
fine-tunes (``training_config.model_config.model_name_or_path``), its trainer type (``sft`` or
``dpo``), whether it trains LoRA adapters (a ``peft_config``) or every weight, its global batch
size in sequences (``training_args.train_batch_size``, the ``scale_config`` value where the
recipe has one) and the instance types it lists. Every one of these recipes is an LLMFT recipe
with a 4,096-token sequence length (``training_args.max_len``) and a ``trainer.num_nodes`` key.
Recipes are referenced by name and release; no recipe file is copied here.

Pure Python (no aws_cdk import).
"""

from __future__ import annotations

from dataclasses import dataclass

RECIPE_RELEASE = "v2.0.9"
"""The aws/sagemaker-hyperpod-recipes release (git tag, 2026-06-23) the names below exist in."""
RECIPE_SEQUENCE_LENGTH = 4096
"""Sequence length of every recipe below (``training_config.training_args.max_len``)."""


@dataclass(frozen=True)
class HyperPodRecipe:
    """One recipe of :data:`RECIPE_RELEASE` and the facts the planner needs from it."""

    name: str
    """Path under ``recipes_collection/recipes/`` without ``.yaml``."""
    model: str
    """Hugging Face model id the recipe fine-tunes."""
    objective: str
    """``sft`` or ``dpo`` (the recipe's ``trainer_type``)."""
    tuning: str
    """``lora`` (a ``peft_config``) or ``full``."""
    global_batch_size: int
    """Sequences per optimizer step, as the recipe sets it."""
    instance_types: tuple[str, ...]
    """SageMaker instance types the recipe lists (``ml.`` prefix)."""


def _recipe(row: tuple[str, str, str, str, int, str]) -> HyperPodRecipe:
    name, model, objective, tuning, batch, types = row
    return HyperPodRecipe(
        name=f"fine-tuning/{name}",
        model=model,
        objective=objective,
        tuning=tuning,
        global_batch_size=batch,
        instance_types=tuple(f"ml.{t}xlarge" for t in types.split()),
    )


_ROWS: tuple[tuple[str, str, str, str, int, str], ...] = (
    (
        "llama/llmft_llama3_1_8b_instruct_seq4k_gpu_dpo",
        "meta-llama/Llama-3.1-8B-Instruct",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g5.12 g6.12 g6e.12",
    ),
    (
        "llama/llmft_llama3_1_8b_instruct_seq4k_gpu_dpo_fft",
        "meta-llama/Llama-3.1-8B-Instruct",
        "dpo",
        "full",
        16,
        "p5.48",
    ),
    (
        "llama/llmft_llama3_1_8b_instruct_seq4k_gpu_sft_fft",
        "meta-llama/Llama-3.1-8B-Instruct",
        "sft",
        "full",
        8,
        "p5.48",
    ),
    (
        "llama/llmft_llama3_1_8b_instruct_seq4k_gpu_sft_lora",
        "meta-llama/Llama-3.1-8B-Instruct",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g5.12 g6.12 g6e.12",
    ),
    (
        "llama/llmft_llama3_2_1b_instruct_seq4k_gpu_dpo",
        "meta-llama/Llama-3.2-1B-Instruct",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g5.12 g6.12 g6e.12",
    ),
    (
        "llama/llmft_llama3_2_1b_instruct_seq4k_gpu_dpo_fft",
        "meta-llama/Llama-3.2-1B-Instruct",
        "dpo",
        "full",
        16,
        "p5.48 g6.48",
    ),
    (
        "llama/llmft_llama3_2_1b_instruct_seq4k_gpu_sft_fft",
        "meta-llama/Llama-3.2-1B-Instruct",
        "sft",
        "full",
        8,
        "p4d.24 p4de.24 p5.48 g6.48",
    ),
    (
        "llama/llmft_llama3_2_1b_instruct_seq4k_gpu_sft_lora",
        "meta-llama/Llama-3.2-1B-Instruct",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g5.12 g6.48 g6.12 g6e.12",
    ),
    (
        "llama/llmft_llama3_2_3b_instruct_seq4k_gpu_dpo",
        "meta-llama/Llama-3.2-3B-Instruct",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g5.12 g6.12 g6e.12",
    ),
    (
        "llama/llmft_llama3_2_3b_instruct_seq4k_gpu_dpo_fft",
        "meta-llama/Llama-3.2-3B-Instruct",
        "dpo",
        "full",
        16,
        "p5.48 g6.48",
    ),
    (
        "llama/llmft_llama3_2_3b_instruct_seq4k_gpu_sft_fft",
        "meta-llama/Llama-3.2-3B-Instruct",
        "sft",
        "full",
        8,
        "p5.48 g6.48",
    ),
    (
        "llama/llmft_llama3_2_3b_instruct_seq4k_gpu_sft_lora",
        "meta-llama/Llama-3.2-3B-Instruct",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g5.12 g6.12 g6e.12",
    ),
    (
        "llama/llmft_llama3_3_70b_instruct_seq4k_gpu_dpo",
        "meta-llama/Llama-3.3-70B-Instruct",
        "dpo",
        "lora",
        128,
        "p4de.24 p5.48",
    ),
    (
        "llama/llmft_llama3_3_70b_instruct_seq4k_gpu_dpo_fft",
        "meta-llama/Llama-3.3-70B-Instruct",
        "dpo",
        "full",
        64,
        "p4de.24 p5.48",
    ),
    (
        "llama/llmft_llama3_3_70b_instruct_seq4k_gpu_sft_fft",
        "meta-llama/Llama-3.3-70B-Instruct",
        "sft",
        "full",
        32,
        "p4de.24 p5.48",
    ),
    (
        "llama/llmft_llama3_3_70b_instruct_seq4k_gpu_sft_lora",
        "meta-llama/Llama-3.3-70B-Instruct",
        "sft",
        "lora",
        128,
        "p4de.24 p5.48",
    ),
    (
        "llama/llmft_llama4_scout_17b_16e_instruct_seq4k_gpu_dpo",
        "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "dpo",
        "lora",
        128,
        "p5.48 p5e.48",
    ),
    (
        "llama/llmft_llama4_scout_17b_16e_instruct_seq4k_gpu_sft_lora",
        "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "sft",
        "lora",
        128,
        "p5.48 p5e.48",
    ),
    (
        "qwen/llmft_qwen2_5_14b_instruct_seq4k_gpu_dpo_fft",
        "Qwen/Qwen2.5-14B-Instruct",
        "dpo",
        "full",
        16,
        "p4de.24 p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_14b_instruct_seq4k_gpu_sft_fft",
        "Qwen/Qwen2.5-14B-Instruct",
        "sft",
        "full",
        8,
        "p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_14b_seq4k_gpu_dpo",
        "Qwen/Qwen2.5-14B-Instruct",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g6.12 g6e.12",
    ),
    (
        "qwen/llmft_qwen2_5_14b_seq4k_gpu_sft_lora",
        "Qwen/Qwen2.5-14B-Instruct",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g6.12 g6e.12",
    ),
    (
        "qwen/llmft_qwen2_5_32b_instruct_seq4k_gpu_dpo_fft",
        "Qwen/Qwen2.5-32B-Instruct",
        "dpo",
        "full",
        32,
        "p4de.24 p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_32b_instruct_seq4k_gpu_sft_fft",
        "Qwen/Qwen2.5-32B-Instruct",
        "sft",
        "full",
        32,
        "p4de.24 p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_32b_seq4k_gpu_dpo",
        "Qwen/Qwen2.5-32B-Instruct",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g6.48 g6e.12",
    ),
    (
        "qwen/llmft_qwen2_5_32b_seq4k_gpu_sft_lora",
        "Qwen/Qwen2.5-32B-Instruct",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_72b_seq4k_gpu_dpo",
        "Qwen/Qwen2.5-72B-Instruct",
        "dpo",
        "lora",
        128,
        "p4de.24 p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_72b_seq4k_gpu_sft_fft",
        "Qwen/Qwen2.5-72B-Instruct",
        "sft",
        "full",
        32,
        "p4de.24 p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_72b_seq4k_gpu_sft_lora",
        "Qwen/Qwen2.5-72B-Instruct",
        "sft",
        "lora",
        128,
        "p4de.24 p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_7b_instruct_seq4k_gpu_dpo_fft",
        "Qwen/Qwen2.5-7B-Instruct",
        "dpo",
        "full",
        16,
        "p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_7b_instruct_seq4k_gpu_sft_fft",
        "Qwen/Qwen2.5-7B-Instruct",
        "sft",
        "full",
        8,
        "p5.48",
    ),
    (
        "qwen/llmft_qwen2_5_7b_seq4k_gpu_dpo",
        "Qwen/Qwen2.5-7B-Instruct",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48",
    ),
    (
        "qwen/llmft_qwen2_5_7b_seq4k_gpu_sft_lora",
        "Qwen/Qwen2.5-7B-Instruct",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48",
    ),
    (
        "qwen/llmft_qwen3_0_dot_6b_seq4k_gpu_dpo",
        "Qwen/Qwen3-0.6B",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g6.12 g6e.12",
    ),
    (
        "qwen/llmft_qwen3_0_dot_6b_seq4k_gpu_dpo_fft",
        "Qwen/Qwen3-0.6B",
        "dpo",
        "full",
        16,
        "p5.48 g6.48",
    ),
    (
        "qwen/llmft_qwen3_0_dot_6b_seq4k_gpu_sft_fft",
        "Qwen/Qwen3-0.6B",
        "sft",
        "full",
        8,
        "p5.48 g6.48",
    ),
    (
        "qwen/llmft_qwen3_0_dot_6b_seq4k_gpu_sft_lora",
        "Qwen/Qwen3-0.6B",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g6.12 g6e.12",
    ),
    (
        "qwen/llmft_qwen3_14b_seq4k_gpu_dpo",
        "Qwen/Qwen3-14B",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g6.12 g6e.12",
    ),
    ("qwen/llmft_qwen3_14b_seq4k_gpu_dpo_fft", "Qwen/Qwen3-14B", "dpo", "full", 16, "p5.48"),
    ("qwen/llmft_qwen3_14b_seq4k_gpu_sft_fft", "Qwen/Qwen3-14B", "sft", "full", 32, "p4de.24"),
    (
        "qwen/llmft_qwen3_14b_seq4k_gpu_sft_lora",
        "Qwen/Qwen3-14B",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g6.12 g6e.12",
    ),
    (
        "qwen/llmft_qwen3_1_dot_7b_seq4k_gpu_dpo",
        "Qwen/Qwen3-1.7B",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g6.12 g6e.12",
    ),
    ("qwen/llmft_qwen3_1_dot_7b_seq4k_gpu_dpo_fft", "Qwen/Qwen3-1.7B", "dpo", "full", 16, "p5.48"),
    (
        "qwen/llmft_qwen3_1_dot_7b_seq4k_gpu_sft_fft",
        "Qwen/Qwen3-1.7B",
        "sft",
        "full",
        8,
        "p4d.24 p4de.24 p5.48 g6.48",
    ),
    (
        "qwen/llmft_qwen3_1_dot_7b_seq4k_gpu_sft_lora",
        "Qwen/Qwen3-1.7B",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48",
    ),
    (
        "qwen/llmft_qwen3_32b_seq4k_gpu_dpo",
        "Qwen/Qwen3-32B",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48",
    ),
    (
        "qwen/llmft_qwen3_32b_seq4k_gpu_dpo_fft",
        "Qwen/Qwen3-32B",
        "dpo",
        "full",
        32,
        "p4de.24 p5.48",
    ),
    (
        "qwen/llmft_qwen3_32b_seq4k_gpu_sft_fft",
        "Qwen/Qwen3-32B",
        "sft",
        "full",
        32,
        "p4de.24 p5.48",
    ),
    (
        "qwen/llmft_qwen3_32b_seq4k_gpu_sft_lora",
        "Qwen/Qwen3-32B",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g6.48 g6e.12",
    ),
    (
        "qwen/llmft_qwen3_4b_seq4k_gpu_dpo",
        "Qwen/Qwen3-4B",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48 g6.48 g6.12 g6e.12",
    ),
    ("qwen/llmft_qwen3_4b_seq4k_gpu_dpo_fft", "Qwen/Qwen3-4B", "dpo", "full", 16, "p5.48 g6.48"),
    ("qwen/llmft_qwen3_4b_seq4k_gpu_sft_fft", "Qwen/Qwen3-4B", "sft", "full", 8, "p5.48 g6.48"),
    (
        "qwen/llmft_qwen3_4b_seq4k_gpu_sft_lora",
        "Qwen/Qwen3-4B",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48",
    ),
    (
        "qwen/llmft_qwen3_8b_seq4k_gpu_dpo",
        "Qwen/Qwen3-8B",
        "dpo",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48",
    ),
    ("qwen/llmft_qwen3_8b_seq4k_gpu_dpo_fft", "Qwen/Qwen3-8B", "dpo", "full", 16, "p5.48"),
    ("qwen/llmft_qwen3_8b_seq4k_gpu_sft_fft", "Qwen/Qwen3-8B", "sft", "full", 8, "p5.48"),
    (
        "qwen/llmft_qwen3_8b_seq4k_gpu_sft_lora",
        "Qwen/Qwen3-8B",
        "sft",
        "lora",
        128,
        "p4de.24 p4d.24 p5.48 g5.48",
    ),
)
"""(name under ``fine-tuning/``, model, objective, tuning, global batch size, instance types
without ``ml.`` and ``xlarge``)."""

RECIPES: tuple[HyperPodRecipe, ...] = tuple(_recipe(row) for row in _ROWS)
"""The LLMFT recipes of :data:`RECIPE_RELEASE` for Llama 3.x / 4 Scout and Qwen 2.5 / 3."""


def find_recipe(
    model: str, objective: str, tuning: str, instance_type: str
) -> HyperPodRecipe | None:
    """The recipe for ``model`` (case-insensitive Hugging Face id), ``objective``
    (``sft`` / ``dpo``), ``tuning`` (``lora`` / ``full``) that lists ``instance_type``;
    ``None`` when the release has none."""
    for recipe in RECIPES:
        if (
            recipe.model.lower() == model.lower()
            and recipe.objective == objective
            and recipe.tuning == tuning
            and instance_type in recipe.instance_types
        ):
            return recipe
    return None


def recipe_models() -> tuple[str, ...]:
    """The models some recipe fine-tunes, sorted."""
    return tuple(sorted({recipe.model for recipe in RECIPES}))
