"""FSx for Lustre proposal for a plan: capacity and throughput tier from dataset and
checkpoint bytes and a target checkpoint write time.

The sizing rule itself is the library-wide one in :mod:`cdk_llm_training.config.sizing.fsx`,
shared with TrainingFileSystem's defaults; this module only turns a model and a token count
into the bytes that rule needs.
"""

from __future__ import annotations

import math

from cdk_llm_training.config.sizing.fsx import propose_lustre_sizing
from cdk_llm_training.config.sizing.gpu_memory import ADAPTER_FRACTION, GIB
from cdk_llm_training.config.vocabulary import TrainingMethod
from cdk_llm_training.tools.planner.model import FsxPlan

DATASET_BYTES_PER_TOKEN = 4.0
"""UTF-8 text is about 4 bytes per token; tokenized shards in uint32 are the same size."""
CHECKPOINT_BYTES_PER_PARAM = 14.0
"""A resumable checkpoint: BF16 weights (2) + FP32 master weights and Adam state (12)."""
CHECKPOINTS_KEPT = 2
"""The last good checkpoint is kept while the next one is written."""


def checkpoint_bytes(params: float, method: TrainingMethod) -> float:
    """Bytes of one resumable checkpoint (adapter methods save only the adapters)."""
    if method.trains_adapters:
        return CHECKPOINT_BYTES_PER_PARAM * ADAPTER_FRACTION * params
    return CHECKPOINT_BYTES_PER_PARAM * params


def propose_fsx(
    params: float,
    method: TrainingMethod,
    tokens: float,
    target_write_seconds: float,
    *,
    efa_enabled: bool = False,
) -> FsxPlan:
    """The file system for this run, from the library-wide sizing rule
    (:func:`cdk_llm_training.config.sizing.fsx.propose_lustre_sizing`): it holds the dataset
    and the kept checkpoints with free space left, writes one checkpoint within
    ``target_write_seconds``, and is the cheapest valid PERSISTENT_2 size and tier (EFA
    capacity steps with ``efa_enabled``, as on the large tier)."""
    dataset = DATASET_BYTES_PER_TOKEN * tokens
    checkpoint = checkpoint_bytes(params, method)
    sizing = propose_lustre_sizing(
        dataset_bytes=math.ceil(dataset),
        checkpoint_bytes=math.ceil(checkpoint),
        target_checkpoint_write_seconds=target_write_seconds,
        checkpoints_kept=CHECKPOINTS_KEPT,
        efa_enabled=efa_enabled,
    )
    return FsxPlan(
        storage_capacity_gib=sizing.storage_capacity_gib,
        throughput_mb_per_s_per_tib=sizing.effective_tier_mb_per_s_per_tib,
        throughput_mb_per_s=sizing.throughput_mb_per_s,
        dataset_gib=dataset / GIB,
        checkpoint_gib=checkpoint / GIB,
        checkpoint_write_seconds=sizing.checkpoint_write_seconds(math.ceil(checkpoint)),
        efa_enabled=efa_enabled,
    )
