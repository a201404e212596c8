"""Training compute and memory arithmetic, re-exported from its new home,
:mod:`cdk_llm_training.config.sizing.gpu_memory` (this old path keeps working).

The facts live on the config floor so that config, constructs and checks read them without
importing a tool.
"""

from cdk_llm_training.config.sizing.gpu_memory import (
    ADAPTER_FLOPS_PER_PARAM_TOKEN,
    ADAPTER_FRACTION,
    ADAPTER_TRAINING_BYTES,
    ASPECT_RATIO,
    CHECKPOINT_BYTES_PER_TOKEN_HIDDEN,
    FULL_GRADIENT_BYTES,
    FULL_OPTIMIZER_BYTES,
    FULL_TRAINING_FLOPS_PER_PARAM_TOKEN,
    FULL_WEIGHT_BYTES,
    GIB,
    LAYER_ACTIVATION_BYTES_PER_TOKEN_HIDDEN,
    MEMORY_HEADROOM_FRACTION,
    WEIGHT_BYTES,
    MemoryBreakdown,
    activations_bytes,
    architecture,
    bytes_per_param,
    flops_per_param_token,
    memory_per_accelerator,
    min_shard_degree,
    training_flops,
)

__all__ = [
    "ADAPTER_FLOPS_PER_PARAM_TOKEN",
    "ADAPTER_FRACTION",
    "ADAPTER_TRAINING_BYTES",
    "ASPECT_RATIO",
    "CHECKPOINT_BYTES_PER_TOKEN_HIDDEN",
    "FULL_GRADIENT_BYTES",
    "FULL_OPTIMIZER_BYTES",
    "FULL_TRAINING_FLOPS_PER_PARAM_TOKEN",
    "FULL_WEIGHT_BYTES",
    "GIB",
    "LAYER_ACTIVATION_BYTES_PER_TOKEN_HIDDEN",
    "MEMORY_HEADROOM_FRACTION",
    "WEIGHT_BYTES",
    "MemoryBreakdown",
    "activations_bytes",
    "architecture",
    "bytes_per_param",
    "flops_per_param_token",
    "memory_per_accelerator",
    "min_shard_degree",
    "training_flops",
]
