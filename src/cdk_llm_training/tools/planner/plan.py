"""The sizing planner: model size + method + tokens -> tier, engine, instances, time, cost.

For every candidate instance type the planner takes the fewest instances that (1) hold the
sharded training state and one sequence's activations in accelerator memory and (2) finish
within the deadline, if one is given, then keeps the cheapest candidate within budget (ties:
fastest, then fewest instances). Plans describe what the deployed code does: LoRA / QLoRA
that fits one GPU runs as the small tier's SageMaker job, whose training script runs one
process per GPU on the instance (DDP), so every GPU of it trains; everything else runs on a
cluster that uses all accelerators. Without a deadline
or budget a plan never fails on time: it states how long the run takes. Pure Python: no
aws_cdk import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cdk_llm_training.config.catalogs.instances import (
    AcceleratorFamily,
    InstanceCatalog,
    InstanceSpec,
    default_instance_catalog,
)
from cdk_llm_training.config.catalogs.prices import (
    PriceBook,
    PriceChannel,
    QuotedPrice,
    default_price_book,
)
from cdk_llm_training.config.sizing.gpu_memory import (
    ADAPTER_FRACTION,
    MEMORY_HEADROOM_FRACTION,
    activations_bytes,
    bytes_per_param,
    flops_per_param_token,
    memory_per_accelerator,
    training_flops,
)
from cdk_llm_training.config.vocabulary import Engine, Tier, TrainingMethod
from cdk_llm_training.tools.planner.methods import extra_bytes as objective_extra_bytes
from cdk_llm_training.tools.planner.methods import flops_multiplier
from cdk_llm_training.tools.planner.methods import notes as objective_notes
from cdk_llm_training.tools.planner.methods import shard_degree as objective_shard_degree
from cdk_llm_training.tools.planner.model import Assumptions, Plan, PlanningError, PlanRequest
from cdk_llm_training.tools.planner.storage import propose_fsx

GIB = 1024**3

ACCELERATOR_ALIASES: dict[str, str] = {
    "a10g": "A10G",
    "l4": "L4",
    "l40s": "L40S",
    "a100": "A100-40GB",
    "a100-40gb": "A100-40GB",
    "a100-80gb": "A100-80GB",
    "h100": "H100",
    "h200": "H200",
    "trn1": "Trainium",
    "trainium": "Trainium",
    "trn2": "Trainium2",
    "trainium2": "Trainium2",
}
"""Command-line accelerator names -> the ``accelerator`` field of the instance catalog."""

DEFAULT_MFU: dict[str, float] = {
    "A100-40GB": 0.40,
    "A100-80GB": 0.40,
    "H100": 0.40,
    "H200": 0.40,
    "A10G": 0.30,
    "L4": 0.30,
    "L40S": 0.30,
    "Trainium": 0.35,
    "Trainium2": 0.35,
}
"""Default model FLOPs utilization per accelerator. A100 / H100 / H200: 0.40, what published
runs achieve (Llama 2 on A100-80GB implies 0.38-0.43; Llama 3 405B reports 38-43% on H100).
PCIe GPUs without NVLink (A10G, L4, L40S): 0.30. Trainium: 0.35. Override with ``mfu``."""
FALLBACK_MFU = 0.30
QLORA_EFFICIENCY = 0.60
"""QLoRA runs with activation checkpointing (a recomputed forward pass: 6 instead of 4 units
of work per parameter-token, x0.67) and dequantizes NF4 blocks on the fly (about 10% more):
its default MFU is the family default x 0.6."""

MULTI_NODE_MIN_ACCELERATORS = 8
"""Only instances with EFA and at least 8 accelerators are proposed for multi-node runs."""
MEDIUM_TIER_MAX_INSTANCES = 16
"""Multi-node runs up to this many instances go to the medium tier, larger ones to large."""


@dataclass(frozen=True)
class _Candidate:
    spec: InstanceSpec
    count: int
    accelerators: int
    """Accelerators the training uses (the small tier's job: every GPU of its instance)."""
    shard_degree: int
    mfu: float
    accelerator_hours: float
    wall_hours: float
    tier: Tier
    engine: Engine
    price: QuotedPrice | None

    @property
    def cost(self) -> float | None:
        if self.price is None:
            return None
        return self.count * self.price.usd_per_hour * self.wall_hours


@dataclass(frozen=True)
class _Rejection:
    kind: str  # "budget" | "deadline" | "memory" | "price" | "method"
    message: str
    shortfall: float  # how far off, in the unit of the kind (GiB, hours, USD, instances)


def resolve_accelerator(alias: str) -> str:
    """The catalog accelerator name for a command-line alias (case-insensitive)."""
    key = alias.strip().lower()
    if key in ACCELERATOR_ALIASES:
        return ACCELERATOR_ALIASES[key]
    known = ", ".join(sorted(ACCELERATOR_ALIASES))
    raise PlanningError(f"accelerator {alias!r} is not known; known: {known}.")


def default_mfu(accelerator: str, method: TrainingMethod) -> tuple[float, str]:
    """The default MFU for ``accelerator`` and ``method``, and where it comes from."""
    base = DEFAULT_MFU.get(accelerator, FALLBACK_MFU)
    source = f"default for {accelerator}"
    if method is TrainingMethod.QLORA:
        return base * QLORA_EFFICIENCY, f"{source} x {QLORA_EFFICIENCY} (QLoRA)"
    return base, source


def placement(
    method: TrainingMethod, spec: InstanceSpec, count: int, *, single_gpu_job: bool = False
) -> tuple[Tier, Engine]:
    """Which tier and engine run ``count`` instances of ``spec``.

    A LoRA / QLoRA job on one instance whose GPUs each hold it (``single_gpu_job``): small
    tier, a SageMaker training job. Trainium clusters: large tier, AWS ParallelCluster. Other
    clusters: HyperPod on EKS, medium tier up to 16 instances, large tier above.
    """
    if single_gpu_job and method.trains_adapters and count == 1:
        return Tier.SMALL_LORA, Engine.SAGEMAKER_SINGLE_NODE
    if spec.accelerator_family is AcceleratorFamily.TRAINIUM:
        return Tier.LARGE_PRETRAIN, Engine.PARALLELCLUSTER_TRAINIUM
    if count <= MEDIUM_TIER_MAX_INSTANCES:
        return Tier.MEDIUM_FINE_TUNE, Engine.HYPERPOD_EKS
    return Tier.LARGE_PRETRAIN, Engine.HYPERPOD_EKS


def _channel(engine: Engine) -> PriceChannel:
    return PriceChannel.EC2 if engine is Engine.PARALLELCLUSTER_TRAINIUM else PriceChannel.SAGEMAKER


def _multi_node(spec: InstanceSpec) -> bool:
    return spec.efa_supported and spec.accelerator_count >= MULTI_NODE_MIN_ACCELERATORS


def _candidates(request: PlanRequest, catalog: InstanceCatalog) -> list[InstanceSpec]:
    if request.instance_type is not None:
        spec = catalog.find(request.instance_type)
        if spec is None:
            known = ", ".join(catalog.names())
            raise PlanningError(
                f"instance type {request.instance_type!r} is not in the catalog; known: {known}."
            )
        return [spec]
    specs = list(catalog)
    if request.accelerator is not None:
        name = resolve_accelerator(request.accelerator)
        specs = [spec for spec in specs if spec.accelerator == name]
        if not specs:
            raise PlanningError(f"no instance type in the catalog has {name} accelerators.")
    return specs


def _size_rejection(
    request: PlanRequest,
    spec: InstanceSpec,
    *,
    count: int,
    memory_instances: int,
    degree: int,
    accelerator_hours: float,
) -> _Rejection | None:
    """Why ``count`` instances of ``spec`` cannot be proposed, or None."""
    usable = spec.accelerator_memory_gib * (1 - MEMORY_HEADROOM_FRACTION)
    deadline = request.deadline_hours
    if count > 1 and not _multi_node(spec):
        if memory_instances > 1 or deadline is None:
            need = bytes_per_param(request.method) * request.params / GIB
            return _Rejection(
                "memory",
                f"{spec.instance_type} cannot span nodes and its "
                f"{spec.accelerator_count} x {usable:.1f} GiB usable cannot hold "
                f"{need:,.0f} GiB of training state (needs {degree} accelerators)",
                need - spec.accelerator_count * usable,
            )
        wall = accelerator_hours / spec.accelerator_count
        return _Rejection(
            "deadline",
            f"one {spec.instance_type} takes {wall:,.1f} h ({wall - deadline:,.1f} h over the "
            f"{deadline:g} h deadline) and it cannot span nodes",
            wall - deadline,
        )
    if count > request.max_instances:
        if memory_instances > request.max_instances or deadline is None:
            return _Rejection(
                "memory",
                f"{spec.instance_type} needs {memory_instances} instances to hold the training "
                f"state, more than the {request.max_instances}-instance limit",
                float(memory_instances - request.max_instances),
            )
        wall = accelerator_hours / (request.max_instances * spec.accelerator_count)
        return _Rejection(
            "deadline",
            f"{request.max_instances} x {spec.instance_type} (the instance limit) take "
            f"{wall:,.1f} h, {wall - deadline:,.1f} h ({(wall / deadline - 1) * 100:.0f}%) "
            f"over the {deadline:g} h deadline",
            wall - deadline,
        )
    return None


def _single_gpu_job(
    request: PlanRequest, spec: InstanceSpec, degree: int, accelerator_hours: float
) -> bool:
    """Whether the small tier's one-instance SageMaker job runs this request on ``spec``: an
    adapter method on an NVIDIA instance each of whose GPUs holds it (DDP over the GPUs),
    within the deadline if given."""
    return (
        request.method.trains_adapters
        and spec.accelerator_family is AcceleratorFamily.NVIDIA
        and degree == 1
        and (
            request.deadline_hours is None
            or accelerator_hours / spec.accelerator_count <= request.deadline_hours
        )
    )


def _evaluate(
    request: PlanRequest, spec: InstanceSpec, prices: PriceBook, flops: float
) -> _Candidate | _Rejection:
    if (
        request.method is TrainingMethod.QLORA
        and spec.accelerator_family is not AcceleratorFamily.NVIDIA
    ):
        return _Rejection(
            "method",
            f"QLoRA loads 4-bit NF4 weights with bitsandbytes, which needs CUDA; "
            f"{spec.instance_type} has {spec.accelerator} accelerators",
            0.0,
        )
    degree = objective_shard_degree(
        request.params,
        request.method,
        request.objective,
        seq_len=request.seq_len,
        accelerator_memory_gib=spec.accelerator_memory_gib,
        num_generations=request.num_generations,
        completion_len=request.completion_len,
    )
    usable = spec.accelerator_memory_gib * (1 - MEMORY_HEADROOM_FRACTION)
    if degree is None:
        need = activations_bytes(request.params, request.seq_len) / GIB
        what = f"the activations of one {request.seq_len}-token sequence"
        _, kv = objective_extra_bytes(
            request.params,
            request.objective,
            request.method,
            seq_len=request.seq_len,
            num_generations=request.num_generations,
            completion_len=request.completion_len,
        )
        if kv:
            need += kv / GIB
            what += f" and the KV cache of {request.num_generations} sampled completions"
        return _Rejection(
            "memory",
            f"{what} need {need:.1f} GiB per accelerator; {spec.instance_type} has "
            f"{usable:.1f} GiB usable (short by {need - usable:.1f} GiB)",
            need - usable,
        )
    mfu = (
        request.mfu if request.mfu is not None else default_mfu(spec.accelerator, request.method)[0]
    )
    accelerator_hours = flops / (spec.peak_bf16_tflops_per_accelerator * 1e12 * mfu) / 3600
    single_gpu = _single_gpu_job(request, spec, degree, accelerator_hours)
    if single_gpu:
        # The script runs one process per GPU (DDP): every GPU of the instance trains.
        count, accelerators, shard_degree = 1, spec.accelerator_count, 1
    else:
        memory_instances = math.ceil(degree / spec.accelerator_count)
        deadline_instances = (
            1
            if request.deadline_hours is None
            else math.ceil(accelerator_hours / (request.deadline_hours * spec.accelerator_count))
        )
        count = max(memory_instances, deadline_instances, 1)
        rejection = _size_rejection(
            request,
            spec,
            count=count,
            memory_instances=memory_instances,
            degree=degree,
            accelerator_hours=accelerator_hours,
        )
        if rejection is not None:
            return rejection
        accelerators = count * spec.accelerator_count
        shard_degree = 1 if degree == 1 else accelerators
    tier, engine = placement(request.method, spec, count, single_gpu_job=single_gpu)
    candidate = _Candidate(
        spec=spec,
        count=count,
        accelerators=accelerators,
        shard_degree=shard_degree,
        mfu=mfu,
        accelerator_hours=accelerator_hours,
        wall_hours=accelerator_hours / accelerators,
        tier=tier,
        engine=engine,
        price=prices.quote(spec.instance_type, _channel(engine)),
    )
    cost = candidate.cost
    if request.budget_usd is not None and cost is None:
        return _Rejection(
            "price",
            f"{spec.instance_type} has no recorded price to check the budget against",
            0.0,
        )
    if request.budget_usd is not None and cost is not None and cost > request.budget_usd:
        over = cost - request.budget_usd
        return _Rejection(
            "budget",
            f"{count} x {spec.instance_type} for {candidate.wall_hours:,.1f} h cost "
            f"${cost:,.0f}, ${over:,.0f} ({over / request.budget_usd * 100:.0f}%) over the "
            f"${request.budget_usd:,.0f} budget",
            over,
        )
    return candidate


def _sort_key(candidate: _Candidate) -> tuple[int, float, float, int]:
    cost = candidate.cost
    return (
        0 if cost is not None else 1,
        cost if cost is not None else 0.0,
        candidate.wall_hours,
        candidate.count,
    )


def _failure(rejections: list[_Rejection]) -> PlanningError:
    for kind, headline in (
        ("budget", "the budget cannot be met"),
        ("deadline", "the deadline cannot be met"),
        ("memory", "the model does not fit any catalog instance"),
        ("price", "the budget cannot be checked"),
        ("method", "no accelerator of the request runs this method"),
    ):
        matching = [r for r in rejections if r.kind == kind]
        if matching:
            best = min(matching, key=lambda r: r.shortfall)
            return PlanningError(f"{headline}: the closest option, {best.message}.")
    return PlanningError("no instance type in the catalog matches the request.")


def _bedrock_plan(request: PlanRequest, flops: float, deadline: float | None, source: str) -> Plan:
    notes = [
        "Amazon Bedrock bills model customization per token processed plus monthly model "
        "storage, at a price that depends on the base model: see Amazon Bedrock pricing.",
        "Bedrock customizes only the base models it offers; check that yours is one of them.",
    ]
    if request.budget_usd is not None or request.deadline_hours is not None:
        notes.append("budget and deadline are not checked for Bedrock (no instance pricing).")
    return Plan(
        request=request,
        tier=Tier.SMALL_LORA,
        engine=Engine.BEDROCK,
        instance_type=None,
        instance_count=0,
        accelerator=None,
        accelerators_total=0,
        training_flops=flops,
        accelerator_hours=None,
        wall_clock_hours=None,
        estimated_cost_usd=None,
        memory=None,
        fsx=None,
        assumptions=Assumptions(
            flops_per_param_token=flops_per_param_token(request.method),
            mfu=request.mfu or 0.0,
            mfu_source="not applicable (managed service)",
            peak_tflops_per_accelerator=None,
            bytes_per_param=bytes_per_param(request.method),
            adapter_fraction=None,
            memory_headroom_fraction=MEMORY_HEADROOM_FRACTION,
            deadline_hours=deadline,
            deadline_source=source,
            price_usd_per_instance_hour=None,
            price_channel=None,
            price_as_of=None,
            price_source=None,
            price_region=None,
            notes=tuple(notes),
        ),
    )


def make_plan(
    request: PlanRequest,
    *,
    catalog: InstanceCatalog | None = None,
    prices: PriceBook | None = None,
) -> Plan:
    """Plan ``request`` against ``catalog`` and ``prices`` (default: the shipped data).

    Raises :class:`PlanningError` when no configuration meets memory, deadline and budget;
    the message names the closest option and by how much it misses.
    """
    catalog = catalog or default_instance_catalog()
    prices = prices or default_price_book()
    flops = training_flops(request.params, request.tokens, request.method) * flops_multiplier(
        request.objective, request.method, request.num_generations
    )
    deadline = request.deadline_hours
    deadline_source = "requested" if deadline is not None else "none given"
    if request.method is TrainingMethod.BEDROCK:
        return _bedrock_plan(request, flops, deadline, deadline_source)

    candidates: list[_Candidate] = []
    rejections: list[_Rejection] = []
    for spec in _candidates(request, catalog):
        outcome = _evaluate(request, spec, prices, flops)
        if isinstance(outcome, _Candidate):
            candidates.append(outcome)
        else:
            rejections.append(outcome)
    if not candidates:
        raise _failure(rejections)
    best = min(candidates, key=_sort_key)
    spec = best.spec
    memory = memory_per_accelerator(
        request.params,
        request.method,
        seq_len=request.seq_len,
        shard_degree=best.shard_degree,
        accelerator_memory_gib=spec.accelerator_memory_gib,
        accelerators_total=best.accelerators,
    )
    fsx = (
        None
        if best.tier is Tier.SMALL_LORA
        else propose_fsx(
            request.params,
            request.method,
            request.tokens,
            request.checkpoint_write_seconds,
            # The large tier's file system is EFA-enabled (its capacity steps differ).
            efa_enabled=best.tier is Tier.LARGE_PRETRAIN,
        )
    )
    notes: list[str] = []
    if best.tier is Tier.SMALL_LORA:
        notes.append(
            "small tier: no FSx for Lustre; the SageMaker training job reads from and writes "
            "checkpoints to the data lake in S3."
        )
        if spec.accelerator_count > 1:
            notes.append(
                f"the training script runs one process per GPU (DDP, distributed: auto): all "
                f"{spec.accelerator_count} GPUs of {spec.instance_type} train, each holding a "
                "full copy of the model."
            )
    notes.extend(
        objective_notes(
            request.params,
            request.method,
            request.objective,
            seq_len=request.seq_len,
            num_generations=request.num_generations,
            completion_len=request.completion_len,
        )
    )
    if best.price is None:
        notes.append(f"{spec.instance_type} has no recorded on-demand price: cost not estimated.")
    elif best.price.note:
        notes.append(best.price.note + ".")
    mfu_source = (
        "requested" if request.mfu is not None else default_mfu(spec.accelerator, request.method)[1]
    )
    name = (
        spec.instance_type
        if best.engine is Engine.PARALLELCLUSTER_TRAINIUM
        else spec.sagemaker_instance_type
    )
    return Plan(
        request=request,
        tier=best.tier,
        engine=best.engine,
        instance_type=name,
        instance_count=best.count,
        accelerator=spec.accelerator,
        accelerators_total=best.accelerators,
        training_flops=flops,
        accelerator_hours=best.accelerator_hours,
        wall_clock_hours=best.wall_hours,
        estimated_cost_usd=best.cost,
        memory=memory,
        fsx=fsx,
        assumptions=Assumptions(
            flops_per_param_token=flops_per_param_token(request.method),
            mfu=best.mfu,
            mfu_source=mfu_source,
            peak_tflops_per_accelerator=spec.peak_bf16_tflops_per_accelerator,
            bytes_per_param=bytes_per_param(request.method),
            adapter_fraction=(ADAPTER_FRACTION if request.method.trains_adapters else None),
            memory_headroom_fraction=MEMORY_HEADROOM_FRACTION,
            deadline_hours=deadline,
            deadline_source=deadline_source,
            price_usd_per_instance_hour=best.price.usd_per_hour if best.price else None,
            price_channel=best.price.channel.value if best.price else None,
            price_as_of=best.price.as_of.isoformat() if best.price else None,
            price_source=best.price.source if best.price else None,
            price_region=prices.region if best.price else None,
            notes=tuple(notes),
        ),
    )
