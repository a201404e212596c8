"""The docs' method table: method x model size -> route (SageMaker job, cluster), and the
managed routes (Bedrock, SageMaker serverless) of each method, computed by the planners so
the docs, ``cdk-llm-training plan`` and ``cdk-llm-training routes`` cannot disagree (a test
compares the page with :func:`route_table_markdown`)."""

from __future__ import annotations

from cdk_llm_training.config.vocabulary import Engine
from cdk_llm_training.tools.planner.methods import PLANNER_METHODS, resolve
from cdk_llm_training.tools.planner.model import Plan, PlanningError, PlanRequest
from cdk_llm_training.tools.planner.plan import make_plan
from cdk_llm_training.tools.planner.routes import (
    BEDROCK_TYPES,
    SERVERLESS_TECHNIQUES,
    CustomizationMethod,
)

MODEL_SIZES: tuple[float, ...] = (1e9, 8e9, 70e9, 405e9)
"""The model sizes of the table's columns."""
TABLE_TOKENS = 1e9
"""Training tokens of every cell (the route depends on memory, not on tokens, without a
deadline)."""
MANAGED_METHODS: dict[str, CustomizationMethod] = {
    "sft": CustomizationMethod.SFT,
    "lora": CustomizationMethod.LORA,
    "dpo": CustomizationMethod.DPO,
    "grpo": CustomizationMethod.RLVR,
    "distill": CustomizationMethod.DISTILLATION,
    "cpt": CustomizationMethod.CPT,
}
"""``plan --method`` values with a managed counterpart, as the route planner
(``cdk-llm-training routes``) names it; the "also" column reads the route planner's own maps,
so the table and ``routes`` cannot disagree."""
ENGINE_NAMES = {
    Engine.SAGEMAKER_SINGLE_NODE: "SageMaker job",
    Engine.HYPERPOD_EKS: "HyperPod cluster",
    Engine.PARALLELCLUSTER_TRAINIUM: "ParallelCluster (Trainium)",
    Engine.BEDROCK: "Bedrock managed",
}


def _cell(plan: Plan) -> str:
    route = ENGINE_NAMES[plan.engine]
    if plan.engine is Engine.BEDROCK:
        return route
    return f"{route} ({plan.tier.short_name}): {plan.instance_count} x `{plan.instance_type}`"


def route(method: str, params: float) -> str:
    """The planner's route for ``method`` (a ``plan --method`` value) at ``params``."""
    sizing, objective = resolve(method)
    request = PlanRequest(params=params, method=sizing, objective=objective, tokens=TABLE_TOKENS)
    try:
        return _cell(make_plan(request))
    except PlanningError:
        return "does not fit the catalog"


def managed_routes(method: str) -> str:
    """The managed routes of ``method`` (a ``plan --method`` value), as the route planner
    offers them; empty when there are none."""
    managed = MANAGED_METHODS.get(method)
    if managed is None:
        return ""
    parts = []
    bedrock = BEDROCK_TYPES.get(managed)
    if bedrock is not None:
        parts.append(f"Bedrock managed (`{bedrock.value}`)")
    technique = SERVERLESS_TECHNIQUES.get(managed)
    if technique is not None:
        lora = " with LoRA" if managed is CustomizationMethod.LORA else ""
        parts.append(f"SageMaker serverless (`{technique}`{lora})")
    return " or ".join(parts) + " for the base models they offer" if parts else ""


def _size(params: float) -> str:
    return f"{params / 1e9:g}B"


def route_table_markdown() -> str:
    """The table of the docs: one row per ``plan --method`` value, one column per size."""
    header = "| method | " + " | ".join(_size(p) for p in MODEL_SIZES) + " | also |"
    rows = [header, "|---" * (len(MODEL_SIZES) + 2) + "|"]
    for method in PLANNER_METHODS:
        if method == "bedrock":
            continue
        cells = [route(method, params) for params in MODEL_SIZES]
        also = managed_routes(method)
        rows.append(f"| `{method}` | " + " | ".join(cells) + f" | {also} |")
    return "\n".join(rows) + "\n"
