"""FSx for Lustre proposal for a plan: capacity and throughput tier from dataset and
checkpoint bytes and a target checkpoint write time.

Kept in one function (:func:`propose_fsx`) so it can be swapped for the library-wide FSx
sizing function without touching the rest of the planner.
"""

from __future__ import annotations

import math

from cdk_llm_training.planner.memory import ADAPTER_FRACTION, GIB
from cdk_llm_training.planner.model import FsxPlan, Method

DATASET_BYTES_PER_TOKEN = 4.0
"""UTF-8 text is about 4 bytes per token; tokenized shards in uint32 are the same size."""
CHECKPOINT_BYTES_PER_PARAM = 14.0
"""A resumable checkpoint: BF16 weights (2) + FP32 master weights and Adam state (12)."""
CHECKPOINTS_KEPT = 2
"""The last good checkpoint is kept while the next one is written."""
PERSISTENT_2_TIERS_MB_PER_S_PER_TIB = (125, 250, 500, 1000)
"""PERSISTENT_2 SSD throughput tiers, MB/s per TiB of storage."""
MIN_CAPACITY_GIB = 1200
CAPACITY_STEP_GIB = 2400
"""PERSISTENT_2 SSD capacity is 1200 GiB or a multiple of 2400 GiB."""


def checkpoint_bytes(params: float, method: Method) -> float:
    """Bytes of one resumable checkpoint (adapter methods save only the adapters)."""
    if method in (Method.LORA, Method.QLORA):
        return CHECKPOINT_BYTES_PER_PARAM * ADAPTER_FRACTION * params
    return CHECKPOINT_BYTES_PER_PARAM * params


def _round_capacity(gib: float) -> int:
    if gib <= MIN_CAPACITY_GIB:
        return MIN_CAPACITY_GIB
    return CAPACITY_STEP_GIB * math.ceil(gib / CAPACITY_STEP_GIB)


def propose_fsx(
    params: float, method: Method, tokens: float, target_write_seconds: float
) -> FsxPlan:
    """The smallest PERSISTENT_2 file system that holds the dataset and the kept checkpoints
    and writes one checkpoint within ``target_write_seconds`` (lowest tier first, then more
    capacity at the top tier when no tier is fast enough)."""
    dataset = DATASET_BYTES_PER_TOKEN * tokens
    checkpoint = checkpoint_bytes(params, method)
    capacity = _round_capacity((dataset + CHECKPOINTS_KEPT * checkpoint) / GIB)
    chosen_tier = PERSISTENT_2_TIERS_MB_PER_S_PER_TIB[-1]
    for tier in PERSISTENT_2_TIERS_MB_PER_S_PER_TIB:
        if checkpoint / (capacity / 1024 * tier * 1e6) <= target_write_seconds:
            chosen_tier = tier
            break
    else:
        needed_tib = checkpoint / (target_write_seconds * chosen_tier * 1e6)
        capacity = max(capacity, _round_capacity(needed_tib * 1024))
    throughput = capacity / 1024 * chosen_tier
    return FsxPlan(
        storage_capacity_gib=capacity,
        throughput_mb_per_s_per_tib=chosen_tier,
        throughput_mb_per_s=throughput,
        dataset_gib=dataset / GIB,
        checkpoint_gib=checkpoint / GIB,
        checkpoint_write_seconds=checkpoint / (throughput * 1e6),
    )
