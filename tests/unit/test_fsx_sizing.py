"""FSx for Lustre capacity and throughput rules and the sizing proposal (pure Python)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdk_llm_training.tools.planner import LustreDeploymentType, LustreSizing, propose_lustre_sizing
from cdk_llm_training.tools.planner.fsx_sizing import (
    DEFAULT_COST_PER_GIB_MONTH,
    EFA_CAPACITY_INCREMENT_GIB,
    GIB,
    MB,
    PERSISTENT_2_THROUGHPUT_TIERS,
    capacity_error,
    is_valid_capacity,
    smallest_valid_capacity,
    throughput_error,
)

P2 = LustreDeploymentType.PERSISTENT_2
S2 = LustreDeploymentType.SCRATCH_2
TB = 10**12

tiers = st.sampled_from(PERSISTENT_2_THROUGHPUT_TIERS)
capacities = st.integers(min_value=-2400, max_value=2_000_000)
sizes = st.integers(min_value=0, max_value=2 * 10**15)
seconds = st.floats(min_value=1, max_value=86_400, allow_nan=False)


def _expected_valid(capacity: int, tier: int | None, efa: bool) -> bool:
    """The published rule, written independently of the implementation."""
    if capacity <= 0:
        return False
    if efa:
        return (
            tier is not None
            and capacity % {125: 38400, 250: 19200, 500: 9600, 1000: 4800}[tier] == 0
        )
    return capacity in (1200, 2400) or capacity % 2400 == 0


# -- the rules -----------------------------------------------------------------------------


@given(capacity=capacities, tier=tiers, efa=st.booleans())
def test_persistent_2_capacity_rule(capacity: int, tier: int, efa: bool) -> None:
    assert is_valid_capacity(capacity, P2, tier, efa_enabled=efa) == _expected_valid(
        capacity, tier, efa
    )


@given(capacity=capacities)
def test_scratch_2_capacity_rule(capacity: int) -> None:
    assert is_valid_capacity(capacity, S2, None, efa_enabled=False) == _expected_valid(
        capacity, None, False
    )


@given(minimum=st.floats(min_value=0, max_value=3_000_000), tier=tiers, efa=st.booleans())
def test_smallest_valid_capacity_is_valid_and_minimal(minimum: float, tier: int, efa: bool) -> None:
    capacity = smallest_valid_capacity(minimum, P2, tier, efa_enabled=efa)
    assert capacity >= minimum
    assert is_valid_capacity(capacity, P2, tier, efa_enabled=efa)
    step = EFA_CAPACITY_INCREMENT_GIB[tier] if efa else 1200
    # No valid capacity lies between the minimum and the answer.
    for smaller in range(capacity - step, max(math.ceil(minimum), 1) - 1, -step):
        assert smaller < minimum or not is_valid_capacity(smaller, P2, tier, efa_enabled=efa)


@given(tier=st.integers(min_value=-10, max_value=2000))
def test_throughput_tier_rule(tier: int) -> None:
    error = throughput_error(P2, tier)
    assert (error is None) == (tier in (125, 250, 500, 1000))


def test_efa_increments_per_tier() -> None:
    assert dict(EFA_CAPACITY_INCREMENT_GIB) == {125: 38400, 250: 19200, 500: 9600, 1000: 4800}
    assert is_valid_capacity(4800, P2, 1000, efa_enabled=True)
    assert not is_valid_capacity(4800, P2, 500, efa_enabled=True)
    assert not is_valid_capacity(1200, P2, 1000, efa_enabled=True)


def test_capacity_error_message_names_field_value_and_allowed() -> None:
    assert capacity_error(3600, P2, 250, efa_enabled=False) == (
        "storage_capacity_gib 3600 is not valid for PERSISTENT_2; allowed: 1200, 2400 or a "
        "multiple of 2400 GiB"
    )
    assert capacity_error(9600, P2, 250, efa_enabled=True) == (
        "storage_capacity_gib 9600 is not valid for PERSISTENT_2; allowed: multiples of 19200 "
        "GiB (EFA-enabled at 250 MB/s/TiB)"
    )


# -- the proposal --------------------------------------------------------------------------


@given(dataset=sizes, checkpoint=sizes, target=seconds, efa=st.booleans())
def test_proposal_meets_both_needs_with_a_valid_size(
    dataset: int, checkpoint: int, target: float, efa: bool
) -> None:
    sizing = propose_lustre_sizing(
        dataset_bytes=dataset,
        checkpoint_bytes=checkpoint,
        target_checkpoint_write_seconds=target,
        efa_enabled=efa,
    )
    assert is_valid_capacity(
        sizing.storage_capacity_gib, P2, sizing.throughput_mb_per_s_per_tib, efa_enabled=efa
    )
    assert sizing.storage_capacity_gib * GIB * 0.8 >= (dataset + 2 * checkpoint) * (1 - 1e-9)
    assert sizing.throughput_mb_per_s * (1 + 1e-9) >= checkpoint / MB / target
    assert sizing.checkpoint_write_seconds(checkpoint) <= target * (1 + 1e-9)


@given(dataset=sizes, checkpoint=sizes, target=seconds)
def test_proposal_is_the_cheapest_tier(dataset: int, checkpoint: int, target: float) -> None:
    sizing = propose_lustre_sizing(
        dataset_bytes=dataset, checkpoint_bytes=checkpoint, target_checkpoint_write_seconds=target
    )
    assert sizing.throughput_mb_per_s_per_tib is not None
    chosen = (
        sizing.storage_capacity_gib * DEFAULT_COST_PER_GIB_MONTH[sizing.throughput_mb_per_s_per_tib]
    )
    for tier in PERSISTENT_2_THROUGHPUT_TIERS:
        alone = propose_lustre_sizing(
            dataset_bytes=dataset,
            checkpoint_bytes=checkpoint,
            target_checkpoint_write_seconds=target,
            tiers=(tier,),
        )
        assert chosen <= alone.storage_capacity_gib * DEFAULT_COST_PER_GIB_MONTH[tier]


@given(dataset=sizes, checkpoint=sizes, target=seconds, extra=sizes)
def test_proposal_grows_with_the_dataset(
    dataset: int, checkpoint: int, target: float, extra: int
) -> None:
    small = propose_lustre_sizing(
        dataset_bytes=dataset, checkpoint_bytes=checkpoint, target_checkpoint_write_seconds=target
    )
    large = propose_lustre_sizing(
        dataset_bytes=dataset + extra,
        checkpoint_bytes=checkpoint,
        target_checkpoint_write_seconds=target,
    )
    assert (
        large.storage_capacity_gib
        * DEFAULT_COST_PER_GIB_MONTH[large.throughput_mb_per_s_per_tib or 0]
        >= small.storage_capacity_gib
        * DEFAULT_COST_PER_GIB_MONTH[small.throughput_mb_per_s_per_tib or 0]
    )


@given(dataset=sizes, checkpoint=sizes, target=seconds)
def test_scratch_proposal_meets_needs(dataset: int, checkpoint: int, target: float) -> None:
    sizing = propose_lustre_sizing(
        dataset_bytes=dataset,
        checkpoint_bytes=checkpoint,
        target_checkpoint_write_seconds=target,
        deployment_type=S2,
    )
    assert sizing.throughput_mb_per_s_per_tib is None
    assert is_valid_capacity(sizing.storage_capacity_gib, S2, None, efa_enabled=False)
    assert sizing.throughput_mb_per_s * (1 + 1e-9) >= checkpoint / MB / target


def test_proposal_examples() -> None:
    assert propose_lustre_sizing(
        dataset_bytes=0, checkpoint_bytes=0, target_checkpoint_write_seconds=600
    ) == LustreSizing(P2, 1200, 125, False)
    # 70B model, full fine-tune: ~1.1 TB checkpoints within 2 minutes, 2 TB of data.
    sizing = propose_lustre_sizing(
        dataset_bytes=2 * TB,
        checkpoint_bytes=1_100_000_000_000,
        target_checkpoint_write_seconds=120,
    )
    assert sizing == LustreSizing(P2, 9600, 1000, False)
    assert sizing.throughput_mb_per_s == 9375.0
    assert propose_lustre_sizing(
        dataset_bytes=0, checkpoint_bytes=0, target_checkpoint_write_seconds=1, efa_enabled=True
    ) == LustreSizing(P2, 4800, 1000, True)


# -- validation ----------------------------------------------------------------------------


def test_fails_negative_sizes() -> None:
    with pytest.raises(
        ValueError,
        match=r"^dataset_bytes -1, checkpoint_bytes 0 and checkpoints_kept 2 must be >= 0$",
    ):
        propose_lustre_sizing(
            dataset_bytes=-1, checkpoint_bytes=0, target_checkpoint_write_seconds=1
        )


def test_fails_non_positive_target() -> None:
    with pytest.raises(ValueError, match=r"^target_checkpoint_write_seconds 0 must be > 0$"):
        propose_lustre_sizing(
            dataset_bytes=0, checkpoint_bytes=0, target_checkpoint_write_seconds=0
        )


def test_fails_free_space_fraction_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"^free_space_fraction 1.0 must be in \[0, 1\)$"):
        propose_lustre_sizing(
            dataset_bytes=0,
            checkpoint_bytes=0,
            target_checkpoint_write_seconds=1,
            free_space_fraction=1.0,
        )


def test_fails_efa_with_scratch() -> None:
    with pytest.raises(
        ValueError, match=r"^efa_enabled requires deployment_type PERSISTENT_2, got SCRATCH_2$"
    ):
        propose_lustre_sizing(
            dataset_bytes=0,
            checkpoint_bytes=0,
            target_checkpoint_write_seconds=1,
            deployment_type=S2,
            efa_enabled=True,
        )


def test_fails_unknown_tier() -> None:
    with pytest.raises(
        ValueError, match=r"^tiers \[300\] must be a non-empty subset of \[125, 250, 500, 1000\]$"
    ):
        propose_lustre_sizing(
            dataset_bytes=0, checkpoint_bytes=0, target_checkpoint_write_seconds=1, tiers=(300,)
        )


def test_fails_throughput_with_scratch() -> None:
    assert throughput_error(S2, 125) == (
        "throughput_mb_per_s_per_tib 125 cannot be set with deployment_type SCRATCH_2 (fixed "
        "200 MB/s per TiB); allowed: leave it unset"
    )
    assert throughput_error(P2, 200) == (
        "throughput_mb_per_s_per_tib 200 is not a PERSISTENT_2 tier; allowed: 125, 250, 500, 1000"
    )
