"""What a training objective adds to the memory and compute of its tuning (pure functions).

The tuning (LoRA, QLoRA, full) sets the bytes per parameter (:mod:`.gpu_memory`); the
objective of the training script's method table (:mod:`cdk_llm_training.assets.training.methods`)
adds on top of it:

* a frozen reference policy (DPO, KTO): with adapters it is the base with the adapter switched
  off, so nothing is added; with full fine-tuning it is a second BF16 copy of the weights
  (2 bytes per parameter, sharded like the weights under FSDP). Each step runs the reference
  forward over the same tokens (2 FLOPs per parameter-token), and DPO reads two answers
  (chosen and rejected) per record;
* a group of sampled completions (GRPO): generating ``num_generations`` completions per
  prompt keeps a KV cache of 2 (K and V) x layers x hidden x 2 bytes (BF16) x the share of
  key/value heads per token, for every sequence of the group, and costs a forward pass
  (2 FLOPs per parameter) per generated token; the policy then trains on every completion
  of the group.

The KV cache assumes grouped-query attention with a quarter of the heads holding keys and
values (Llama 3 8B / 70B and Mistral 7B: 8 key/value heads for 32 or 64 query heads);
a model without grouped-query attention needs 4 times (or 8 times) as much.
"""

from __future__ import annotations

from cdk_llm_training.assets.training import methods as script_methods
from cdk_llm_training.config.sizing.gpu_memory import architecture

REFERENCE_WEIGHT_BYTES = 2.0
"""A frozen BF16 reference copy, per parameter."""
KV_BYTES_PER_TOKEN_LAYER_HIDDEN = 4.0
"""K and V, BF16 (2 x 2 bytes), per token, layer and hidden unit."""
FORWARD_FLOPS_PER_PARAM_TOKEN = 2.0
KV_HEAD_FRACTION = 0.25
"""Key/value heads per attention head (grouped-query attention, 8 of 32)."""
DPO_ANSWERS_PER_RECORD = 2
"""Chosen and rejected."""


def reference_copy_bytes(params: float, objective: str, *, adapter: bool) -> float:
    """Bytes of the frozen reference policy, before sharding: 0 with adapters (the base with
    the adapter off) or for an objective without a reference."""
    if adapter or not script_methods.method(objective).reference_model:
        return 0.0
    return REFERENCE_WEIGHT_BYTES * params


def generation_kv_bytes(
    params: float, objective: str, *, num_generations: int, tokens_per_sequence: int
) -> float:
    """KV cache of one prompt's group of sampled completions (0 for a non-generating
    objective)."""
    if not script_methods.method(objective).generates:
        return 0.0
    hidden, layers = architecture(params)
    per_token = KV_BYTES_PER_TOKEN_LAYER_HIDDEN * KV_HEAD_FRACTION * layers * hidden
    return per_token * tokens_per_sequence * num_generations


def compute_multiplier(
    objective: str, train_flops_per_param_token: float, *, num_generations: int = 8
) -> float:
    """Model FLOPs per dataset token relative to plain training on that token
    (``train_flops_per_param_token``: 6 for full, 4 for adapters).

    sft, distill, cpt: 1. kto: one reference forward on top. dpo: two answers per record,
    each trained and run through the reference. grpo: ``num_generations`` completions per
    prompt, each generated (one forward) and trained on.
    """
    method = script_methods.method(objective)
    reference = FORWARD_FLOPS_PER_PARAM_TOKEN if method.reference_model else 0.0
    per_token = (train_flops_per_param_token + reference) / train_flops_per_param_token
    if method.generates:
        generate = FORWARD_FLOPS_PER_PARAM_TOKEN / train_flops_per_param_token
        return num_generations * (1.0 + generate)
    if method.name == "dpo":
        return DPO_ANSWERS_PER_RECORD * per_token
    return per_token
