"""FSx for Lustre capacity and throughput rules, and a sizing proposal from training needs.

Pure Python: no aws_cdk import. Used by :class:`cdk_llm_training.config.FileSystemOptions`
(its defaults and its validation) and by the planner.

The rules (FSx for Lustre API reference and user guide):

- SCRATCH_2 and PERSISTENT_2 on SSD: 1200 GiB, 2400 GiB, then increments of 2400 GiB.
- PERSISTENT_2 throughput tiers: 125, 250, 500, 1000 MB/s per TiB. SCRATCH_2 has no tier to
  choose (200 MB/s per TiB baseline).
- EFA-enabled file systems (PERSISTENT_2 only): capacity in multiples of 38400 GiB at 125,
  19200 GiB at 250, 9600 GiB at 500 and 4800 GiB at 1000 MB/s per TiB.
- Throughput of the file system = capacity in TiB x tier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cdk_llm_training.config.catalogs.service_prices import fsx_persistent_2_cost_per_gib_month

GIB = 1024**3
"""Bytes in a GiB."""
MB = 1000**2
"""Bytes in a megabyte (FSx throughput is in MB/s)."""


class LustreDeploymentType(StrEnum):
    """FSx for Lustre deployment types this library creates."""

    PERSISTENT_2 = "PERSISTENT_2"
    """Long-lived, replicated within the AZ, throughput tier of choice. The default."""
    SCRATCH_2 = "SCRATCH_2"
    """Temporary, not replicated, 200 MB/s per TiB baseline; cheapest for short jobs."""


PERSISTENT_2_THROUGHPUT_TIERS: tuple[int, ...] = (125, 250, 500, 1000)
"""Valid ``PerUnitStorageThroughput`` values of PERSISTENT_2, MB/s per TiB."""

SCRATCH_2_THROUGHPUT_MB_PER_S_PER_TIB = 200
"""Baseline throughput of SCRATCH_2, MB/s per TiB (not configurable)."""

SSD_SMALL_CAPACITIES_GIB: tuple[int, ...] = (1200, 2400)
SSD_CAPACITY_INCREMENT_GIB = 2400

EFA_CAPACITY_INCREMENT_GIB: Mapping[int, int] = {125: 38400, 250: 19200, 500: 9600, 1000: 4800}
"""Capacity multiple of an EFA-enabled file system, by throughput tier (MB/s per TiB)."""

DEFAULT_COST_PER_GIB_MONTH: Mapping[int, float] = fsx_persistent_2_cost_per_gib_month()
"""Cost of a GiB-month by PERSISTENT_2 tier (USD, us-east-1 list prices), read from the
service price table ``config/catalogs/data/service_prices.json`` that ``cdk-llm-training cost`` uses
too. Only the ratios matter here: the proposal picks the cheapest tier and capacity meeting
the needs. Override with prices of your Region and date."""


def throughput_error(
    deployment_type: LustreDeploymentType, throughput_mb_per_s_per_tib: int | None
) -> str | None:
    """Why ``throughput_mb_per_s_per_tib`` is invalid for ``deployment_type``, or None."""
    if deployment_type is LustreDeploymentType.SCRATCH_2:
        if throughput_mb_per_s_per_tib is not None:
            return (
                f"throughput_mb_per_s_per_tib {throughput_mb_per_s_per_tib} cannot be set with "
                "deployment_type SCRATCH_2 (fixed 200 MB/s per TiB); allowed: leave it unset"
            )
        return None
    if throughput_mb_per_s_per_tib not in PERSISTENT_2_THROUGHPUT_TIERS:
        return (
            f"throughput_mb_per_s_per_tib {throughput_mb_per_s_per_tib} is not a "
            f"{deployment_type.value} tier; allowed: "
            f"{', '.join(map(str, PERSISTENT_2_THROUGHPUT_TIERS))}"
        )
    return None


def allowed_capacities(
    deployment_type: LustreDeploymentType,
    throughput_mb_per_s_per_tib: int | None,
    *,
    efa_enabled: bool,
) -> str:
    """The valid storage capacities, in words, for the error messages."""
    step = EFA_CAPACITY_INCREMENT_GIB.get(throughput_mb_per_s_per_tib or 0)
    if efa_enabled and step is not None:
        return f"multiples of {step} GiB (EFA-enabled at {throughput_mb_per_s_per_tib} MB/s/TiB)"
    return "1200, 2400 or a multiple of 2400 GiB"


def is_valid_capacity(
    storage_capacity_gib: int,
    deployment_type: LustreDeploymentType,
    throughput_mb_per_s_per_tib: int | None,
    *,
    efa_enabled: bool,
) -> bool:
    """Whether FSx accepts ``storage_capacity_gib`` for this deployment type, tier and EFA."""
    if storage_capacity_gib <= 0:
        return False
    if efa_enabled:
        step = EFA_CAPACITY_INCREMENT_GIB.get(throughput_mb_per_s_per_tib or 0)
        return step is not None and storage_capacity_gib % step == 0
    return (
        storage_capacity_gib in SSD_SMALL_CAPACITIES_GIB
        or storage_capacity_gib % SSD_CAPACITY_INCREMENT_GIB == 0
    )


def capacity_error(
    storage_capacity_gib: int,
    deployment_type: LustreDeploymentType,
    throughput_mb_per_s_per_tib: int | None,
    *,
    efa_enabled: bool,
) -> str | None:
    """Why ``storage_capacity_gib`` is invalid, or None. Assumes a valid throughput tier."""
    if is_valid_capacity(
        storage_capacity_gib,
        deployment_type,
        throughput_mb_per_s_per_tib,
        efa_enabled=efa_enabled,
    ):
        return None
    allowed = allowed_capacities(
        deployment_type, throughput_mb_per_s_per_tib, efa_enabled=efa_enabled
    )
    return (
        f"storage_capacity_gib {storage_capacity_gib} is not valid for "
        f"{deployment_type.value}; allowed: {allowed}"
    )


def smallest_valid_capacity(
    minimum_gib: float,
    deployment_type: LustreDeploymentType,
    throughput_mb_per_s_per_tib: int | None,
    *,
    efa_enabled: bool,
) -> int:
    """The smallest valid capacity that is at least ``minimum_gib``."""
    if efa_enabled:
        step = EFA_CAPACITY_INCREMENT_GIB[throughput_mb_per_s_per_tib or 0]
        return max(1, math.ceil(minimum_gib / step)) * step
    for small in SSD_SMALL_CAPACITIES_GIB:
        if minimum_gib <= small:
            return small
    return math.ceil(minimum_gib / SSD_CAPACITY_INCREMENT_GIB) * SSD_CAPACITY_INCREMENT_GIB


def throughput_mb_per_s(storage_capacity_gib: int, throughput_mb_per_s_per_tib: int) -> float:
    """Aggregate throughput of a file system: capacity in TiB x tier."""
    return storage_capacity_gib / 1024 * throughput_mb_per_s_per_tib


@dataclass(frozen=True)
class LustreSizing:
    """A proposed file system size."""

    deployment_type: LustreDeploymentType
    storage_capacity_gib: int
    throughput_mb_per_s_per_tib: int | None
    """The PERSISTENT_2 tier; None for SCRATCH_2."""
    efa_enabled: bool

    @property
    def effective_tier_mb_per_s_per_tib(self) -> int:
        """The tier, or the SCRATCH_2 baseline."""
        return self.throughput_mb_per_s_per_tib or SCRATCH_2_THROUGHPUT_MB_PER_S_PER_TIB

    @property
    def throughput_mb_per_s(self) -> float:
        """Aggregate baseline throughput, MB/s."""
        return throughput_mb_per_s(self.storage_capacity_gib, self.effective_tier_mb_per_s_per_tib)

    def checkpoint_write_seconds(self, checkpoint_bytes: int) -> float:
        """Seconds to write one checkpoint of ``checkpoint_bytes`` at baseline throughput."""
        return checkpoint_bytes / MB / self.throughput_mb_per_s


def propose_lustre_sizing(
    *,
    dataset_bytes: int,
    checkpoint_bytes: int,
    target_checkpoint_write_seconds: float,
    checkpoints_kept: int = 2,
    free_space_fraction: float = 0.2,
    deployment_type: LustreDeploymentType = LustreDeploymentType.PERSISTENT_2,
    efa_enabled: bool = False,
    cost_per_gib_month: Mapping[int, float] = DEFAULT_COST_PER_GIB_MONTH,
    tiers: Sequence[int] = PERSISTENT_2_THROUGHPUT_TIERS,
) -> LustreSizing:
    """Propose capacity and tier from what training needs.

    The file system holds the dataset plus ``checkpoints_kept`` checkpoints with
    ``free_space_fraction`` of the capacity left free, and writes one checkpoint within
    ``target_checkpoint_write_seconds`` at baseline throughput. For PERSISTENT_2 every tier is
    sized and the cheapest by ``cost_per_gib_month`` wins (ties: the smaller file system).
    No public per-GPU sizing rule exists; these two needs are what a training job can state.

    ``tiers`` restricts the PERSISTENT_2 tiers considered (default: all four).

    :raises ValueError: on negative sizes, a non-positive target, an unknown tier, or EFA with
        SCRATCH_2.
    """
    if dataset_bytes < 0 or checkpoint_bytes < 0 or checkpoints_kept < 0:
        raise ValueError(
            f"dataset_bytes {dataset_bytes}, checkpoint_bytes {checkpoint_bytes} and "
            f"checkpoints_kept {checkpoints_kept} must be >= 0"
        )
    if not target_checkpoint_write_seconds > 0:
        raise ValueError(
            f"target_checkpoint_write_seconds {target_checkpoint_write_seconds} must be > 0"
        )
    if not 0 <= free_space_fraction < 1:
        raise ValueError(f"free_space_fraction {free_space_fraction} must be in [0, 1)")
    if efa_enabled and deployment_type is not LustreDeploymentType.PERSISTENT_2:
        raise ValueError(
            f"efa_enabled requires deployment_type PERSISTENT_2, got {deployment_type.value}"
        )
    stored_bytes = dataset_bytes + checkpoints_kept * checkpoint_bytes
    min_capacity_gib = stored_bytes / (1 - free_space_fraction) / GIB
    min_throughput = checkpoint_bytes / MB / target_checkpoint_write_seconds

    if deployment_type is LustreDeploymentType.SCRATCH_2:
        tier = SCRATCH_2_THROUGHPUT_MB_PER_S_PER_TIB
        needed = max(min_capacity_gib, min_throughput / tier * 1024)
        capacity = smallest_valid_capacity(needed, deployment_type, None, efa_enabled=False)
        return LustreSizing(deployment_type, capacity, None, False)

    unknown = [tier for tier in tiers if tier not in PERSISTENT_2_THROUGHPUT_TIERS]
    if unknown or not tiers:
        raise ValueError(
            f"tiers {list(tiers)!r} must be a non-empty subset of "
            f"{list(PERSISTENT_2_THROUGHPUT_TIERS)!r}"
        )
    best: tuple[float, int, int] | None = None
    for tier in tiers:
        needed = max(min_capacity_gib, min_throughput / tier * 1024)
        capacity = smallest_valid_capacity(needed, deployment_type, tier, efa_enabled=efa_enabled)
        candidate = (capacity * cost_per_gib_month[tier], capacity, tier)
        if best is None or candidate < best:
            best = candidate
    assert best is not None
    return LustreSizing(deployment_type, best[1], best[2], efa_enabled)
