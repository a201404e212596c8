"""FSx for Lustre sizing rules: this old path re-exports :mod:`cdk_llm_training.config.sizing.fsx`.

The facts live on the config floor so that config, constructs and checks read them without
importing a tool.
"""

from cdk_llm_training.config.sizing.fsx import (
    DEFAULT_COST_PER_GIB_MONTH,
    EFA_CAPACITY_INCREMENT_GIB,
    GIB,
    MB,
    PERSISTENT_2_THROUGHPUT_TIERS,
    SCRATCH_2_THROUGHPUT_MB_PER_S_PER_TIB,
    SSD_CAPACITY_INCREMENT_GIB,
    SSD_SMALL_CAPACITIES_GIB,
    LustreDeploymentType,
    LustreSizing,
    allowed_capacities,
    capacity_error,
    is_valid_capacity,
    propose_lustre_sizing,
    smallest_valid_capacity,
    throughput_error,
    throughput_mb_per_s,
)

__all__ = [
    "DEFAULT_COST_PER_GIB_MONTH",
    "EFA_CAPACITY_INCREMENT_GIB",
    "GIB",
    "MB",
    "PERSISTENT_2_THROUGHPUT_TIERS",
    "SCRATCH_2_THROUGHPUT_MB_PER_S_PER_TIB",
    "SSD_CAPACITY_INCREMENT_GIB",
    "SSD_SMALL_CAPACITIES_GIB",
    "LustreDeploymentType",
    "LustreSizing",
    "allowed_capacities",
    "capacity_error",
    "is_valid_capacity",
    "propose_lustre_sizing",
    "smallest_valid_capacity",
    "throughput_error",
    "throughput_mb_per_s",
]
