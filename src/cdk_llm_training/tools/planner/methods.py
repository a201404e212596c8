"""The planner's methods: the training script's objectives (sft, dpo, kto, grpo, distill, cpt)
plus the ways of training it sizes besides them (pretrain, full, lora, qlora, bedrock), and
what each objective adds to memory and compute (pure Python).

``--method`` names an objective or a tuning; ``--tuning`` picks the weights an objective
trains (LoRA by default; ``cpt`` trains every weight unless told otherwise).
"""

from __future__ import annotations

import math

from cdk_llm_training.assets.training import methods as script_methods
from cdk_llm_training.config.sizing.gpu_memory import (
    GIB,
    MEMORY_HEADROOM_FRACTION,
    activations_bytes,
    bytes_per_param,
    flops_per_param_token,
)
from cdk_llm_training.config.sizing.method_cost import (
    compute_multiplier,
    generation_kv_bytes,
    reference_copy_bytes,
)
from cdk_llm_training.config.vocabulary import TrainingMethod

OBJECTIVES: tuple[str, ...] = script_methods.method_names()
"""The training script's methods, in its order."""
TUNINGS: tuple[str, ...] = script_methods.tuning_names()
"""Which weights an objective trains: lora, qlora, full (each a :class:`TrainingMethod`)."""
PLANNER_METHODS: tuple[str, ...] = (
    *OBJECTIVES,
    *(m.value for m in TrainingMethod if m.value not in OBJECTIVES),
)
"""What ``plan --method`` takes: every script method, then pretrain, full, lora, qlora and
bedrock."""


def resolve(method: str, tuning: str | None = None) -> tuple[TrainingMethod, str | None]:
    """``(sizing method, objective)`` for ``--method`` and ``--tuning``.

    An objective trains LoRA adapters unless ``tuning`` says otherwise (``cpt``: every
    weight). ``full``, ``lora`` and ``qlora`` are sft with that tuning. ``pretrain`` and
    ``bedrock`` have no objective of the script. Raises ``ValueError`` naming what is allowed.
    """
    if tuning is not None and tuning not in TUNINGS:
        raise ValueError(f"tuning {tuning!r} is not known; allowed: {', '.join(TUNINGS)}")
    if method in OBJECTIVES:
        default = TrainingMethod.CPT if method == "cpt" else TrainingMethod.LORA
        if tuning is None or (method == "cpt" and tuning == "full"):
            return default, method
        return TrainingMethod(tuning), method
    if method not in PLANNER_METHODS:
        raise ValueError(f"method {method!r} is not known; allowed: {', '.join(PLANNER_METHODS)}")
    sizing = TrainingMethod(method)
    if tuning is not None and tuning != method:
        raise ValueError(
            f"method {method!r} already names how weights are trained; --tuning {tuning} "
            f"applies to {', '.join(OBJECTIVES)} only"
        )
    if sizing in (TrainingMethod.PRETRAIN, TrainingMethod.BEDROCK):
        return sizing, None
    return sizing, "sft"


def flops_multiplier(objective: str | None, method: TrainingMethod, num_generations: int) -> float:
    """Model FLOPs per dataset token relative to training on it (1 without an objective)."""
    if objective is None:
        return 1.0
    return compute_multiplier(
        objective, flops_per_param_token(method), num_generations=num_generations
    )


def extra_bytes(
    params: float,
    objective: str | None,
    method: TrainingMethod,
    *,
    seq_len: int,
    num_generations: int,
    completion_len: int,
) -> tuple[float, float]:
    """``(shardable, per accelerator)`` bytes the objective adds: a full-weight reference
    copy (sharded like the weights) and a GRPO group's KV cache (on every accelerator)."""
    if objective is None:
        return 0.0, 0.0
    reference = reference_copy_bytes(params, objective, adapter=method.trains_adapters)
    kv = generation_kv_bytes(
        params,
        objective,
        num_generations=num_generations,
        tokens_per_sequence=seq_len + completion_len,
    )
    return reference, kv


def shard_degree(
    params: float,
    method: TrainingMethod,
    objective: str | None,
    *,
    seq_len: int,
    accelerator_memory_gib: float,
    num_generations: int,
    completion_len: int,
) -> int | None:
    """The fewest accelerators whose sharded training state (plus the objective's reference
    copy) fits beside one sequence's activations and the objective's KV cache, or None."""
    reference, kv = extra_bytes(
        params,
        objective,
        method,
        seq_len=seq_len,
        num_generations=num_generations,
        completion_len=completion_len,
    )
    usable = accelerator_memory_gib * (1.0 - MEMORY_HEADROOM_FRACTION) * GIB
    room = usable - activations_bytes(params, seq_len) - kv
    if room <= 0:
        return None
    state = bytes_per_param(method) * params + reference
    return max(1, math.ceil(state / room))


def notes(
    params: float,
    method: TrainingMethod,
    objective: str | None,
    *,
    seq_len: int,
    num_generations: int,
    completion_len: int,
) -> list[str]:
    """What the objective adds, in words, for the plan's notes."""
    if objective is None or objective in ("sft", "distill", "cpt"):
        return []
    reference, kv = extra_bytes(
        params,
        objective,
        method,
        seq_len=seq_len,
        num_generations=num_generations,
        completion_len=completion_len,
    )
    multiplier = flops_multiplier(objective, method, num_generations)
    out = []
    if script_methods.method(objective).reference_model:
        held = (
            f"a frozen reference copy of the weights ({reference / GIB:,.1f} GiB before sharding)"
            if reference
            else "the base with the adapter switched off as its reference (no second copy)"
        )
        out.append(f"{objective}: holds {held}; compute x{multiplier:.2f} per dataset token.")
    else:
        out.append(
            f"{objective}: samples {num_generations} completions of up to {completion_len} "
            f"tokens per prompt (KV cache {kv / GIB:,.1f} GiB per accelerator, grouped-query "
            f"attention assumed); compute x{multiplier:.2f} per dataset token."
        )
    return out
