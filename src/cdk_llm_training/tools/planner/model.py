"""Inputs and outputs of the sizing planner (plain data, pydantic, no aws_cdk import)."""

from __future__ import annotations

from pydantic import Field, model_validator

from cdk_llm_training.assets.training import methods as script_methods
from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.sizing.gpu_memory import MemoryBreakdown as MemoryBreakdown  # noqa: PLC0414 (re-export)
from cdk_llm_training.config.vocabulary import Engine, Tier, TrainingMethod

MAX_MFU = 0.60
"""No plan assumes a model FLOPs utilization above this."""


class PlanRequest(FrozenModel):
    """What the user wants to train. Units are in the field names."""

    params: float = Field(gt=0)
    """Model parameter count, e.g. ``7e9``."""
    method: TrainingMethod
    """How the weights are trained (sizes memory and compute)."""
    objective: str | None = None
    """The training script's method (``sft``, ``dpo``, ``kto``, ``grpo``, ``distill``,
    ``cpt``): adds a reference model or a group of sampled completions. Default none: plain
    next-token training."""
    num_generations: int = Field(default=8, ge=2, le=256)
    """grpo: completions sampled per prompt. Default 8."""
    completion_len: int = Field(default=256, ge=1, le=131072)
    """grpo: longest sampled completion, tokens. Default 256."""
    tokens: float = Field(gt=0)
    """Training tokens processed (all epochs)."""
    accelerator: str | None = None
    """Accelerator alias (``a100-80gb``, ``h100``, ``h200``, ``trn1``, ...). Default: any."""
    instance_type: str | None = None
    """A specific instance type (EC2 or ``ml.`` name). Default: any."""
    seq_len: int = Field(default=4096, ge=128, le=1_048_576)
    """Sequence length in tokens. Default 4096."""
    deadline_hours: float | None = Field(default=None, gt=0)
    """Longest acceptable wall-clock time. Default: none (the plan states the time it takes;
    only a deadline or budget the user gives can fail a plan)."""
    budget_usd: float | None = Field(default=None, gt=0)
    """Largest acceptable on-demand cost. Default: no budget."""
    mfu: float | None = Field(default=None, gt=0, le=MAX_MFU)
    """Model FLOPs utilization override (0-0.6]. Default: per accelerator family."""
    max_instances: int = Field(default=256, ge=1, le=4096)
    """Largest cluster the plan may propose. Default 256."""
    checkpoint_write_seconds: float = Field(default=300, gt=0)
    """Target time to write one checkpoint to FSx for Lustre. Default 300 s."""

    @model_validator(mode="after")
    def _known_objective(self) -> PlanRequest:
        if self.objective is not None and self.objective not in script_methods.method_names():
            raise ValueError(
                f"objective {self.objective!r} is not a method of the training script; "
                f"allowed: {', '.join(script_methods.method_names())}"
            )
        return self

    @model_validator(mode="after")
    def _one_hardware_selector(self) -> PlanRequest:
        if self.accelerator is not None and self.instance_type is not None:
            raise ValueError("give either accelerator or instance_type, not both")
        return self


class FsxPlan(FrozenModel):
    """FSx for Lustre PERSISTENT_2 proposal for data and checkpoints."""

    storage_capacity_gib: int
    throughput_mb_per_s_per_tib: int
    throughput_mb_per_s: float
    dataset_gib: float
    checkpoint_gib: float
    checkpoint_write_seconds: float
    efa_enabled: bool = False
    """EFA-enabled (the large tier's file system)."""


class Assumptions(FrozenModel):
    """Every number the plan rests on, so users can check the arithmetic."""

    flops_per_param_token: float
    """6 for full training; 4 for LoRA / QLoRA (no weight gradients for frozen weights)."""
    mfu: float
    mfu_source: str
    peak_tflops_per_accelerator: float | None
    bytes_per_param: float
    """Weights + gradients + optimizer state per model parameter before sharding."""
    adapter_fraction: float | None
    memory_headroom_fraction: float
    deadline_hours: float | None
    deadline_source: str
    price_usd_per_instance_hour: float | None
    price_channel: str | None
    price_as_of: str | None
    price_source: str | None
    price_region: str | None
    notes: tuple[str, ...] = ()


class Plan(FrozenModel):
    """The planner's answer."""

    request: PlanRequest
    tier: Tier
    engine: Engine
    instance_type: str | None
    """SageMaker (``ml.``) or EC2 name, as the engine expects it. None for Bedrock."""
    instance_count: int
    accelerator: str | None
    accelerators_total: int
    """Accelerators the training uses: all of the cluster's, or every GPU of the small tier's
    training-job instance (the script runs one process per GPU)."""
    training_flops: float
    accelerator_hours: float | None
    wall_clock_hours: float | None
    estimated_cost_usd: float | None
    memory: MemoryBreakdown | None
    fsx: FsxPlan | None
    assumptions: Assumptions


class PlanningError(ValueError):
    """The request cannot be met (budget, deadline, memory). The message says by how much."""
