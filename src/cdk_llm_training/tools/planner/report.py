"""Presenting a :class:`Plan`: a JSON object, a human table, and the tier config it deploys."""

from __future__ import annotations

from typing import Any

import yaml

from cdk_llm_training.config.schema import SCHEMA_COMMENT, SCHEMA_FILE_NAME
from cdk_llm_training.config.sizing.fsx import GIB
from cdk_llm_training.config.tiers import P5_CLASS_INSTANCE_TYPES, parse_app_config
from cdk_llm_training.config.vocabulary import Engine, LargeEngine, Tier
from cdk_llm_training.tools.planner.model import Plan
from cdk_llm_training.tools.planner.run_input import DEFAULT_MAX_RUN_HOURS, required_run_hours


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """One JSON-ready object: the headline keys first, then the details."""
    return {
        "tier": plan.tier.short_name,
        "engine": plan.engine.value,
        "instance_type": plan.instance_type,
        "instance_count": plan.instance_count,
        "accelerator": plan.accelerator,
        "accelerators_total": plan.accelerators_total,
        "accelerator_hours": plan.accelerator_hours,
        "wall_clock_hours": plan.wall_clock_hours,
        "estimated_cost_usd": plan.estimated_cost_usd,
        "memory_per_accelerator_gib": plan.memory.total_gib if plan.memory else None,
        "memory": plan.memory.model_dump(mode="json") if plan.memory else None,
        "training_flops": plan.training_flops,
        "fsx": plan.fsx.model_dump(mode="json") if plan.fsx else None,
        "assumptions": plan.assumptions.model_dump(mode="json"),
        "request": plan.request.model_dump(mode="json"),
    }


def plan_to_app_config(plan: Plan) -> dict[str, Any]:
    """The ``cdk synth -c config=PATH`` data that deploys ``plan``'s tier.

    The one place that maps a plan to tier config: the medium and large sections get the
    plan's instance type and count (HyperPod worker group, or the Trainium queue on the
    ParallelCluster engine) and the FSx sizing inputs; the tier config sizes the network
    from the node count. Raises :class:`ConfigError` if the result does not validate.
    """
    data: dict[str, Any] = {
        "stacks": [plan.tier.value],
        plan.tier.config_section: _tier_section(plan),
    }
    parse_app_config(data, source="generated config")  # fail here, not at synth
    return data


def _small_section(plan: Plan) -> dict[str, Any]:
    """The small section: a single-node LoRA / QLoRA plan sizes the SageMaker fine-tune job
    (instance type, method, tuning, model size for its memory check); a Bedrock plan keeps
    defaults."""
    if plan.engine is not Engine.SAGEMAKER_SINGLE_NODE or plan.instance_type is None:
        return {}
    tuning = plan.request.method.value
    if tuning not in ("lora", "qlora"):
        return {}
    job: dict[str, Any] = {
        "instance_type": plan.instance_type,
        "method": plan.request.objective or "sft",
        "tuning": tuning,
        "base_model_parameters": _clean_number(plan.request.params),
    }
    if plan.request.objective == "grpo":
        job["num_generations"] = plan.request.num_generations
        job["max_completion_length"] = plan.request.completion_len
    return {"sagemaker_fine_tune": job}


def _tier_section(plan: Plan) -> dict[str, Any]:
    """The medium / large section: the plan's instances and FSx sizing inputs. The network
    is sized from the node count by the tier config itself."""
    if plan.tier is Tier.SMALL_LORA:
        return _small_section(plan)
    if plan.instance_type is None:
        return {}
    section: dict[str, Any] = {}
    hours = required_run_hours(plan)
    if hours is not None and hours > DEFAULT_MAX_RUN_HOURS:
        # The run input asks for this many hours: let the run workflow accept them.
        section["runs"] = {"max_run_hours": hours}
    if plan.tier is Tier.LARGE_PRETRAIN:
        section["engine"] = LargeEngine.running(plan.engine).value
    if plan.fsx is not None:
        # The exact file system the plan printed (synth builds it as written); the sizing
        # inputs are kept, in whole bytes and the requested seconds, for later re-sizing.
        section["file_system"] = {
            "storage_capacity_gib": plan.fsx.storage_capacity_gib,
            "throughput_mb_per_s_per_tib": plan.fsx.throughput_mb_per_s_per_tib,
            "efa_enabled": plan.fsx.efa_enabled,
            "dataset_bytes": round(plan.fsx.dataset_gib * GIB),
            "checkpoint_bytes": round(plan.fsx.checkpoint_gib * GIB),
            "target_checkpoint_write_seconds": _clean_number(plan.request.checkpoint_write_seconds),
        }
    if plan.engine is Engine.PARALLELCLUSTER_TRAINIUM:
        section["trainium"] = {
            "queues": [
                {
                    "name": "compute",
                    "compute_resources": [
                        {
                            "name": plan.instance_type.split(".")[0],
                            "instance_type": plan.instance_type,
                            "max_count": plan.instance_count,
                        }
                    ],
                }
            ]
        }
        return section
    workers = "trn-workers" if plan.instance_type.startswith("ml.trn") else "gpu-workers"
    section["hyperpod"] = {
        "instance_groups": [
            {
                "name": "system",
                "instance_type": "ml.m5.2xlarge",
                "instance_count": 1,
                "ebs_volume_size_gb": 100,
            },
            {
                "name": workers,
                "instance_type": plan.instance_type,
                "instance_count": plan.instance_count,
            },
        ]
    }
    if plan.tier is Tier.LARGE_PRETRAIN and plan.instance_type not in P5_CLASS_INSTANCE_TYPES:
        section["allow_other_gpu_instance_types"] = True
    return section


def _clean_number(value: float) -> int | float:
    """An integer when whole, else the value rounded to 6 significant digits."""
    if float(value).is_integer():
        return int(value)
    return float(f"{value:.6g}")


TO_SET: dict[Tier, tuple[str, ...]] = {
    Tier.SMALL_LORA: (
        "small_lora.sagemaker_fine_tune.base_model_prefix: the artifacts-zone prefix that "
        "holds your base model's weights (default base-models/llama-3.1-8b-instruct/)",
        "small_lora.labeling.workforce: mode import if the account already has a private "
        "workforce (one per account and Region)",
        "small_lora.observability.alarms.email: who gets the alarms",
    ),
    Tier.MEDIUM_FINE_TUNE: (
        "medium_fine_tune.network.availability_zone_id and control_plane_availability_zone_id:"
        " AZ IDs of your Region with capacity for the instances (defaults use1-az4/use1-az6)",
        "medium_fine_tune.hyperpod.eks.admin_role_arns: the IAM roles that run kubectl",
        "your base model and datasets: upload them to the data lake (curated zone, /data on FSx)",
    ),
    Tier.LARGE_PRETRAIN: (
        "large_pretrain.network.availability_zone_id (and control_plane_availability_zone_id "
        "with HyperPod): AZ IDs of your Region with capacity (defaults use1-az4/use1-az6)",
        "large_pretrain.hyperpod.eks.admin_role_arns (HyperPod: the IAM roles that run "
        "kubectl) or large_pretrain.trainium.head_node (ParallelCluster: key_name / "
        "ssh_allowed_cidr; default Session Manager only)",
        "large_pretrain.training_plan_arn: a SageMaker training plan if you reserved capacity",
        "your datasets: upload them to the data lake (curated zone, /data on FSx)",
    ),
}
"""What a generated config cannot know, per tier: written as comments for the user."""

BEDROCK_TO_SET: tuple[str, ...] = (
    "small_lora.bedrock_fine_tune.base_model_id: the Bedrock base model to customize "
    "(default amazon.nova-micro-v1:0:128k), and its hyperparameters",
    "your datasets: upload them under the curated zone's finetune/ prefix",
    "small_lora.observability.alarms.email: who gets the alarms",
)
"""What a Bedrock plan's config cannot know."""


def app_config_yaml(plan: Plan) -> str:
    """The YAML file text: a comment block with the plan and what to set, then the config."""
    data = plan_to_app_config(plan)
    lines = [
        SCHEMA_COMMENT,
        f"# (editor completion: cdk-llm-training schema > {SCHEMA_FILE_NAME})",
        "# Generated by `cdk-llm-training plan`. Deploy with: cdk synth -c config=THIS_FILE",
        f"# tier: {plan.tier.short_name}  engine: {plan.engine.value}",
    ]
    if plan.instance_type:
        lines.append(f"# instances: {plan.instance_count} x {plan.instance_type}")
    if plan.wall_clock_hours is not None:
        lines.append(f"# wall clock: {plan.wall_clock_hours:,.1f} h")
    if plan.estimated_cost_usd is not None:
        lines.append(
            f"# estimated on-demand cost: ${plan.estimated_cost_usd:,.0f} "
            f"(prices as of {plan.assumptions.price_as_of})"
        )
    if plan.fsx is not None:
        lines.append(
            f"# FSx for Lustre: {plan.fsx.storage_capacity_gib} GiB at "
            f"{plan.fsx.throughput_mb_per_s_per_tib} MB/s/TiB"
            + (" (EFA)" if plan.fsx.efa_enabled else "")
        )
    lines.append("# Still to set before deploying (the plan cannot know them):")
    to_set = BEDROCK_TO_SET if plan.engine is Engine.BEDROCK else TO_SET[plan.tier]
    lines += [f"#   - {item}" for item in to_set]
    return "\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False)


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:{spec}}{unit}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.0f}"


def plan_rows(plan: Plan) -> list[tuple[str, str]]:
    """(label, value) rows of the human table."""
    a = plan.assumptions
    rows = [
        ("tier", plan.tier.short_name),
        ("engine", plan.engine.value),
        (
            "instances",
            f"{plan.instance_count} x {plan.instance_type}" if plan.instance_type else "-",
        ),
        (
            "accelerators",
            f"{plan.accelerators_total} x {plan.accelerator}" if plan.accelerator else "-",
        ),
        ("training FLOPs", f"{plan.training_flops:.3e}"),
        ("accelerator-hours", _fmt(plan.accelerator_hours, ",.0f")),
        ("wall clock", _fmt(plan.wall_clock_hours, ",.1f", " h")),
        (
            "estimated cost",
            _fmt(plan.estimated_cost_usd, ",.0f")
            if plan.estimated_cost_usd is None
            else f"${plan.estimated_cost_usd:,.0f}",
        ),
    ]
    if plan.memory:
        m = plan.memory
        rows += [
            ("memory / accelerator", f"{m.total_gib:.1f} GiB of {m.available_gib:.1f} GiB usable"),
            ("  weights", f"{m.weights_gib:.1f} GiB"),
            ("  gradients", f"{m.gradients_gib:.1f} GiB"),
            ("  optimizer state", f"{m.optimizer_state_gib:.1f} GiB"),
            ("  activations", f"{m.activations_gib:.1f} GiB (estimate)"),
            ("  sharding", m.sharding),
        ]
    if plan.fsx:
        f = plan.fsx
        rows += [
            (
                "FSx for Lustre",
                f"{f.storage_capacity_gib:,} GiB PERSISTENT_2 at "
                f"{f.throughput_mb_per_s_per_tib} MB/s/TiB" + (", EFA" if f.efa_enabled else ""),
            ),
            (
                "  checkpoint",
                f"{f.checkpoint_gib:,.0f} GiB, written in {f.checkpoint_write_seconds:,.0f} s",
            ),
        ]
    rows += [
        ("MFU", f"{a.mfu:.2f} ({a.mfu_source})" if a.peak_tflops_per_accelerator else "-"),
        ("peak BF16 / accelerator", _fmt(a.peak_tflops_per_accelerator, ",.0f", " TFLOPS")),
        ("FLOPs / param / token", f"{a.flops_per_param_token:g}"),
        (
            "deadline",
            "-" if a.deadline_hours is None else f"{a.deadline_hours:,.0f} h ({a.deadline_source})",
        ),
    ]
    if a.price_usd_per_instance_hour is not None:
        rows.append(
            (
                "price",
                f"${a.price_usd_per_instance_hour:,.2f}/h {a.price_channel} {a.price_region}, "
                f"as of {a.price_as_of} ({a.price_source})",
            )
        )
    rows += [("note", note) for note in a.notes]
    return rows


def render_table(plan: Plan) -> str:
    """The human-readable table (rich), as text."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="cdk-llm-training plan", show_header=False, title_justify="left")
    table.add_column("item", style="bold")
    table.add_column("value")
    for label, value in plan_rows(plan):
        table.add_row(label, value)
    console = Console(width=110, record=True, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(table)
    return capture.get()
