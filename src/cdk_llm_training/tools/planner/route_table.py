"""The docs' method table: method x model size -> route (Bedrock managed, SageMaker job,
cluster), computed by the planner itself so the docs and ``cdk-llm-training plan`` cannot
disagree (a test compares the page with :func:`route_table_markdown`)."""

from __future__ import annotations

from cdk_llm_training.config.vocabulary import Engine
from cdk_llm_training.tools.planner.methods import PLANNER_METHODS, resolve
from cdk_llm_training.tools.planner.model import Plan, PlanningError, PlanRequest
from cdk_llm_training.tools.planner.plan import make_plan

MODEL_SIZES: tuple[float, ...] = (1e9, 8e9, 70e9, 405e9)
"""The model sizes of the table's columns."""
TABLE_TOKENS = 1e9
"""Training tokens of every cell (the route depends on memory, not on tokens, without a
deadline)."""
BEDROCK_CUSTOMIZATIONS: dict[str, str] = {
    "sft": "FINE_TUNING",
    "distill": "DISTILLATION",
    "cpt": "CONTINUED_PRE_TRAINING",
}
"""Script methods that Amazon Bedrock also runs as a managed customization
(``BedrockFineTuneJob``), for the base models it offers."""
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
        bedrock = BEDROCK_CUSTOMIZATIONS.get(method)
        also = f"Bedrock managed (`{bedrock}`) for the base models it offers" if bedrock else ""
        rows.append(f"| `{method}` | " + " | ".join(cells) + f" | {also} |")
    return "\n".join(rows) + "\n"
