"""Training compute and GPU memory arithmetic (pure functions, documented constants).

A domain fact on the config floor: :mod:`cdk_llm_training.config.sagemaker_fine_tune_job` checks
that a GPU holds the method's memory with it, and the planner sizes clusters with it.

Compute: a dense transformer costs about 2 FLOPs per parameter per token forward and 4
backward (2 for activation gradients, 2 for weight gradients): 6 x params x tokens for full
training. LoRA and QLoRA skip the weight gradients of the frozen weights (adapters are well
under 1% of the parameters), so they cost about 4 x params x tokens.

Memory per parameter (mixed precision, Adam): BF16 weights 2 + BF16 gradients 2 + FP32
master weights, momentum and variance 12 = 16 bytes, divided by the ZeRO-3 / FSDP shard
degree. LoRA keeps 2 bytes (frozen BF16); QLoRA 0.55 bytes (4-bit NF4 weights plus
quantization constants); both add adapters trained with Adam at 16 bytes each.
"""

from __future__ import annotations

import math

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.vocabulary import TrainingMethod


class MemoryBreakdown(FrozenModel):
    """Memory per accelerator, GiB, under the stated sharding."""

    weights_gib: float
    gradients_gib: float
    optimizer_state_gib: float
    activations_gib: float
    total_gib: float
    available_gib: float
    """Accelerator memory usable for training (catalog memory less headroom)."""
    sharding: str
    """E.g. ``ZeRO-3 / FSDP full shard over 16 accelerators``."""
    shard_degree: int


GIB = 1024**3

FULL_TRAINING_FLOPS_PER_PARAM_TOKEN = 6.0
ADAPTER_FLOPS_PER_PARAM_TOKEN = 4.0

WEIGHT_BYTES = {TrainingMethod.LORA: 2.0, TrainingMethod.QLORA: 0.55}
"""Frozen-weight bytes per parameter for adapter methods."""
FULL_WEIGHT_BYTES = 2.0
FULL_GRADIENT_BYTES = 2.0
FULL_OPTIMIZER_BYTES = 12.0
"""FP32 master copy (4) + Adam momentum (4) + Adam variance (4)."""
ADAPTER_TRAINING_BYTES = 16.0
"""Adapter weights, gradients and Adam state per adapter parameter."""
ADAPTER_FRACTION = 0.005
"""Adapters as a fraction of the model: rank 16-64 on every linear layer is 0.2-1%."""

ASPECT_RATIO = 128.0
"""hidden size / layers of the assumed architecture (Llama 2 7B: 4096 / 32)."""
LAYER_ACTIVATION_BYTES_PER_TOKEN_HIDDEN = 34.0
"""One layer's activations being recomputed: 34 x seq x hidden bytes (BF16, flash
attention removes the seq^2 term; Korthikanti et al. 2022)."""
CHECKPOINT_BYTES_PER_TOKEN_HIDDEN = 2.0
"""Full activation checkpointing keeps one BF16 tensor of seq x hidden per layer."""

MEMORY_HEADROOM_FRACTION = 0.10
"""Kept free for the framework, CUDA / Neuron runtime, communication buffers and
fragmentation."""


def flops_per_param_token(method: TrainingMethod) -> float:
    """6 for full training (pretrain, cpt, full), 4 for adapter methods (lora, qlora)."""
    if method.trains_adapters:
        return ADAPTER_FLOPS_PER_PARAM_TOKEN
    return FULL_TRAINING_FLOPS_PER_PARAM_TOKEN


def training_flops(params: float, tokens: float, method: TrainingMethod) -> float:
    """Total model FLOPs of the run."""
    return flops_per_param_token(method) * params * tokens


def bytes_per_param(method: TrainingMethod) -> float:
    """Weights + gradients + optimizer state per model parameter, before sharding."""
    if method.trains_all_weights or method is TrainingMethod.BEDROCK:
        return FULL_WEIGHT_BYTES + FULL_GRADIENT_BYTES + FULL_OPTIMIZER_BYTES
    return WEIGHT_BYTES[method] + ADAPTER_FRACTION * ADAPTER_TRAINING_BYTES


def architecture(params: float) -> tuple[int, int]:
    """(hidden size, layers) of a dense transformer with ``params`` (params ~ 12 L h^2)."""
    hidden = (params * ASPECT_RATIO / 12.0) ** (1.0 / 3.0)
    layers = max(1, round(params / (12.0 * hidden * hidden)))
    return round(hidden), layers


def activations_bytes(params: float, seq_len: int) -> float:
    """Activation memory of one sequence (micro-batch 1) with full activation checkpointing
    and flash attention: one checkpoint per layer plus one layer being recomputed."""
    hidden, layers = architecture(params)
    per_token_hidden = seq_len * hidden
    return per_token_hidden * (
        CHECKPOINT_BYTES_PER_TOKEN_HIDDEN * layers + LAYER_ACTIVATION_BYTES_PER_TOKEN_HIDDEN
    )


def memory_per_accelerator(
    params: float,
    method: TrainingMethod,
    *,
    seq_len: int,
    shard_degree: int,
    accelerator_memory_gib: float,
    accelerators_total: int | None = None,
) -> MemoryBreakdown:
    """Memory per accelerator when weights, gradients and optimizer state are sharded over
    ``shard_degree`` accelerators (ZeRO-3 / FSDP full shard; degree 1 = no sharding)."""
    if method.trains_all_weights or method is TrainingMethod.BEDROCK:
        weights = FULL_WEIGHT_BYTES * params
        gradients = FULL_GRADIENT_BYTES * params
        optimizer = FULL_OPTIMIZER_BYTES * params
    else:
        adapters = ADAPTER_FRACTION * params
        weights = WEIGHT_BYTES[method] * params + 2.0 * adapters
        gradients = 2.0 * adapters
        optimizer = FULL_OPTIMIZER_BYTES * adapters
    activations = activations_bytes(params, seq_len)
    sharded = (weights + gradients + optimizer) / shard_degree
    replicas = accelerators_total or shard_degree
    if shard_degree > 1:
        sharding = f"ZeRO-3 / FSDP full shard over {shard_degree} accelerators"
    elif replicas > 1:
        sharding = f"none: data parallel, each of the {replicas} accelerators holds a full copy"
    else:
        sharding = "none: one accelerator holds everything"

    return MemoryBreakdown(
        weights_gib=weights / shard_degree / GIB,
        gradients_gib=gradients / shard_degree / GIB,
        optimizer_state_gib=optimizer / shard_degree / GIB,
        activations_gib=activations / GIB,
        total_gib=(sharded + activations) / GIB,
        available_gib=accelerator_memory_gib * (1.0 - MEMORY_HEADROOM_FRACTION),
        sharding=sharding,
        shard_degree=shard_degree,
    )


def min_shard_degree(
    params: float, method: TrainingMethod, seq_len: int, accelerator_memory_gib: float
) -> int | None:
    """The fewest accelerators whose sharded memory fits, or None when even infinite sharding
    cannot fit the activations of one sequence."""
    usable = accelerator_memory_gib * (1.0 - MEMORY_HEADROOM_FRACTION) * GIB
    room = usable - activations_bytes(params, seq_len)
    if room <= 0:
        return None
    state = bytes_per_param(method) * params
    return max(1, math.ceil(state / room))
