"""Route choice: which service should run a customization, and the config that deploys it.

For a model, a method, a dataset size and a budget, :func:`plan_routes` lists every route
(Bedrock managed customization, SageMaker serverless customization, a SageMaker training job
with the library's LoRA script, a cluster run), says for each whether it is feasible, what it
costs and how long it takes where the library can price it, and why; then recommends one.
:func:`routes_config` is the app config (``cdk synth -c config=PATH``) of the recommendation.

The order of preference among feasible routes: Bedrock managed, SageMaker serverless,
SageMaker job, cluster. The managed routes need no instances, no training script and leave
nothing running between jobs; the instance routes come next, cheapest first as the sizing
planner ranks them. The managed services bill per token or per job; their prices and the
source and date each was checked at are in :mod:`managed_prices`, and where a price is not
verified the option's cost is not estimated and says "price unverified". A budget or deadline
is then not checked for a managed recommendation, and the reason says so.

Pure Python (no aws_cdk import).
"""

from __future__ import annotations

import argparse
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.bedrock_fine_tune_job import BedrockFineTuneOptions, resolve_base_model
from cdk_llm_training.config.catalogs.bedrock_models import (
    CustomizationType,
    default_bedrock_catalog,
)
from cdk_llm_training.config.sagemaker_serverless_customization import HUB_CONTENT_ARN
from cdk_llm_training.config.vocabulary import Engine, TrainingMethod
from cdk_llm_training.tools.planner.managed_prices import (
    ManagedPrice,
    bedrock_prices,
    serverless_prices,
)
from cdk_llm_training.tools.planner.model import PlanningError, PlanRequest
from cdk_llm_training.tools.planner.plan import make_plan
from cdk_llm_training.tools.planner.report import app_config_yaml


class Route(StrEnum):
    """Where a customization runs."""

    BEDROCK_MANAGED = "bedrock-managed"
    SAGEMAKER_SERVERLESS = "sagemaker-serverless"
    SAGEMAKER_JOB = "sagemaker-job"
    CLUSTER = "cluster"


class CustomizationMethod(StrEnum):
    """What the customization does (the route planner's methods)."""

    SFT = "sft"
    """Supervised fine-tuning of every weight."""
    LORA = "lora"
    QLORA = "qlora"
    CPT = "cpt"
    """Continued pre-training."""
    DISTILLATION = "distillation"
    DPO = "dpo"
    RLVR = "rlvr"
    """Reinforcement learning with verifiable rewards (a grader)."""
    RLAIF = "rlaif"
    """Reinforcement learning from AI feedback (a judge model)."""


ROUTE_ORDER = (
    Route.BEDROCK_MANAGED,
    Route.SAGEMAKER_SERVERLESS,
    Route.SAGEMAKER_JOB,
    Route.CLUSTER,
)

BEDROCK_TYPES: dict[CustomizationMethod, CustomizationType] = {
    CustomizationMethod.SFT: CustomizationType.FINE_TUNING,
    CustomizationMethod.CPT: CustomizationType.CONTINUED_PRE_TRAINING,
    CustomizationMethod.DISTILLATION: CustomizationType.DISTILLATION,
    CustomizationMethod.RLVR: CustomizationType.REINFORCEMENT_FINE_TUNING,
    CustomizationMethod.RLAIF: CustomizationType.REINFORCEMENT_FINE_TUNING,
}
"""Bedrock customization type per method (RLAIF: an RFT grader that calls a judge model)."""
SERVERLESS_TECHNIQUES: dict[CustomizationMethod, str] = {
    CustomizationMethod.SFT: "SFT",
    CustomizationMethod.LORA: "SFT",
    CustomizationMethod.DPO: "DPO",
    CustomizationMethod.RLVR: "RLVR",
    CustomizationMethod.RLAIF: "RLAIF",
}
"""ServerlessJobConfig.CustomizationTechnique per method (LoRA: SFT with Peft=LORA)."""
INSTANCE_METHODS: dict[CustomizationMethod, TrainingMethod] = {
    CustomizationMethod.SFT: TrainingMethod.FULL,
    CustomizationMethod.LORA: TrainingMethod.LORA,
    CustomizationMethod.QLORA: TrainingMethod.QLORA,
    CustomizationMethod.CPT: TrainingMethod.CPT,
}
"""Sizing-planner method for the instance routes. DPO and RL on instances need a script of
your own and are not sized here."""
SCRIPT_METHODS = (CustomizationMethod.LORA, CustomizationMethod.QLORA)
"""What the library's own SageMaker training script (``train_lora.py``) trains."""


class RouteRequest(FrozenModel):
    """What to customize. Units are in the field names."""

    method: CustomizationMethod
    params: float = Field(gt=0)
    """Model parameter count, e.g. ``8e9``."""
    tokens: float = Field(gt=0)
    """Training tokens processed (all epochs)."""
    bedrock_model_id: str | None = None
    """The model's Bedrock base-model id, when Bedrock offers it. Default: none."""
    hub_model_arn: str | None = None
    """The model's SageMaker hub-content ARN, when serverless customization offers it."""
    budget_usd: float | None = Field(default=None, gt=0)
    deadline_hours: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _hub_arn(self) -> RouteRequest:
        if self.hub_model_arn is not None and not HUB_CONTENT_ARN.match(self.hub_model_arn):
            raise ValueError(f"hub_model_arn {self.hub_model_arn!r} is not a hub-content ARN")
        return self


class RouteOption(FrozenModel):
    """One route: feasible or not, why, and its cost and time where the library prices it."""

    route: Route
    feasible: bool
    why: str
    estimated_cost_usd: float | None = None
    wall_clock_hours: float | None = None
    config: dict[str, Any] | None = None
    """App config that deploys this route (feasible routes only)."""
    price_status: str = "none"
    """``estimated`` (instance routes: the price book), ``unverified`` (a managed route whose
    price was not confirmed at its source) or ``none`` (an infeasible route)."""
    price_sources: tuple[str, ...] = ()
    """What the route is billed for, with the source and check date of each price."""


class RouteAdvice(FrozenModel):
    """Every route and the recommended one (``None`` when none is feasible)."""

    request: RouteRequest
    options: tuple[RouteOption, ...]
    recommended: Route | None
    reason: str

    def option(self, route: Route) -> RouteOption:
        return next(o for o in self.options if o.route is route)


def plan_routes(request: RouteRequest) -> RouteAdvice:
    """List the routes for ``request`` and recommend one (see the module docstring)."""
    options = (
        _bedrock(request),
        _serverless(request),
        *_instance_routes(request),
    )
    feasible = [o for o in options if o.feasible]
    if not feasible:
        return RouteAdvice(
            request=request,
            options=options,
            recommended=None,
            reason="no route is feasible: " + "; ".join(f"{o.route}: {o.why}" for o in options),
        )
    best = min(feasible, key=lambda o: ROUTE_ORDER.index(o.route))
    reasons = {
        Route.BEDROCK_MANAGED: "managed by Bedrock: no instances, no script, nothing idle",
        Route.SAGEMAKER_SERVERLESS: "managed by SageMaker: no instances, no script, nothing idle",
        Route.SAGEMAKER_JOB: "the cheapest instance route; no cluster to keep",
        Route.CLUSTER: "the only route that fits the model and method",
    }
    reason = reasons[best.route]
    unchecked = []
    if request.budget_usd is not None:
        unchecked.append(f"the ${request.budget_usd:,.0f} budget")
    if request.deadline_hours is not None:
        unchecked.append(f"the {request.deadline_hours:g} h deadline")
    if unchecked and best.estimated_cost_usd is None:
        # A managed route has no cost or time estimate: say so rather than imply a check.
        reason += f"; not checked for it: {' and '.join(unchecked)} (no cost or time estimate)"
    return RouteAdvice(request=request, options=options, recommended=best.route, reason=reason)


def _bedrock(request: RouteRequest) -> RouteOption:
    route = Route.BEDROCK_MANAGED
    kind = BEDROCK_TYPES.get(request.method)
    if kind is None:
        return RouteOption(
            route=route, feasible=False, why=f"Bedrock has no {request.method} customization"
        )
    if request.bedrock_model_id is None:
        return RouteOption(route=route, feasible=False, why="no Bedrock base-model id given")
    catalog = default_bedrock_catalog()
    if request.bedrock_model_id not in catalog:
        return RouteOption(
            route=route,
            feasible=False,
            why=f"{request.bedrock_model_id} is not in the Bedrock catalog",
        )
    if kind is CustomizationType.DISTILLATION:
        return RouteOption(
            route=route, feasible=False, why="distillation needs a teacher: configure it by hand"
        )
    section: dict[str, Any] = {
        "base_model_id": request.bedrock_model_id,
        "customization_type": kind.value,
    }
    if kind is CustomizationType.REINFORCEMENT_FINE_TUNING:
        # A placeholder grader would deploy a wrong reward; the built-in exact match is a real
        # grader the user replaces when their answers are not exact strings.
        section["rft"] = {"grader": {"builtin": "exact_match"}}
    try:
        options = BedrockFineTuneOptions.model_validate(section)
        resolve_base_model(options)
    except (ValueError, ValidationError) as error:
        return RouteOption(route=route, feasible=False, why=_first_line(error))
    prices = bedrock_prices(kind)
    return RouteOption(
        route=route,
        feasible=True,
        why=f"{kind.value} of {request.bedrock_model_id}; billed per token trained plus model "
        f"storage; cost not estimated ({_price_state(prices)})",
        config={"stacks": ["SmallLoRAStack"], "small_lora": {"bedrock_fine_tune": section}},
        price_status=_status(prices),
        price_sources=tuple(p.label() for p in prices),
    )


def _serverless(request: RouteRequest) -> RouteOption:
    route = Route.SAGEMAKER_SERVERLESS
    technique = SERVERLESS_TECHNIQUES.get(request.method)
    if technique is None:
        return RouteOption(
            route=route, feasible=False, why=f"serverless customization has no {request.method}"
        )
    if request.hub_model_arn is None:
        return RouteOption(route=route, feasible=False, why="no SageMaker hub model ARN given")
    section: dict[str, Any] = {"base_model_arn": request.hub_model_arn, "technique": technique}
    if request.method is CustomizationMethod.SFT:
        section["lora"] = False
    prices = serverless_prices()
    why = (
        f"{technique}{' (LoRA)' if section.get('lora', True) else ''} on the hub model; billed "
        f"by SageMaker per job; cost not estimated ({_price_state(prices)})"
    )
    if technique in ("RLVR", "RLAIF"):
        why += "; set evaluator_arn (the reward function or judge) before deploying"
    return RouteOption(
        route=route,
        feasible=True,
        why=why,
        config={"stacks": ["SmallLoRAStack"], "small_lora": {"sagemaker_serverless": section}},
        price_status=_status(prices),
        price_sources=tuple(p.label() for p in prices),
    )


def _status(prices: tuple[ManagedPrice, ...]) -> str:
    return "estimated" if all(p.verified for p in prices) else "unverified"


def _price_state(prices: tuple[ManagedPrice, ...]) -> str:
    if all(p.verified for p in prices):
        return "prices verified"
    return f"price unverified: {prices[0].source}, checked {prices[0].checked_on}"


def _instance_routes(request: RouteRequest) -> tuple[RouteOption, RouteOption]:
    method = INSTANCE_METHODS.get(request.method)
    job, cluster = Route.SAGEMAKER_JOB, Route.CLUSTER
    if method is None:
        why = f"{request.method} on instances needs a training script of your own (not sized here)"
        return (
            RouteOption(route=job, feasible=False, why=why),
            RouteOption(route=cluster, feasible=False, why=why),
        )
    try:
        plan = make_plan(
            PlanRequest(
                params=request.params,
                method=method,
                tokens=request.tokens,
                budget_usd=request.budget_usd,
                deadline_hours=request.deadline_hours,
            )
        )
    except PlanningError as error:
        why = str(error)
        return (
            RouteOption(route=job, feasible=False, why=why),
            RouteOption(route=cluster, feasible=False, why=why),
        )
    single = plan.engine is Engine.SAGEMAKER_SINGLE_NODE
    a = plan.assumptions
    priced: dict[str, Any] = {
        "estimated_cost_usd": plan.estimated_cost_usd,
        "wall_clock_hours": plan.wall_clock_hours,
        "price_status": "estimated" if plan.estimated_cost_usd is not None else "none",
        "price_sources": (
            ()
            if a.price_usd_per_instance_hour is None
            else (
                f"${a.price_usd_per_instance_hour:,.2f} per instance-hour ({a.price_channel} "
                f"{a.price_region}, {a.price_source}, as of {a.price_as_of})",
            )
        ),
    }
    summary = f"{plan.instance_count} x {plan.instance_type}, {plan.tier} tier"
    config = yaml.safe_load(app_config_yaml(plan))
    if single and request.method in SCRIPT_METHODS:
        return (
            RouteOption(
                route=job,
                feasible=True,
                why=f"the library's LoRA script on {summary}",
                config=config,
                **priced,
            ),
            RouteOption(
                route=cluster, feasible=False, why="fits one instance: a cluster is not needed"
            ),
        )
    if single:
        return (
            RouteOption(
                route=job,
                feasible=False,
                why=f"the library's script trains LoRA / QLoRA only, not {request.method}",
            ),
            RouteOption(
                route=cluster, feasible=False, why="fits one instance: a cluster is not needed"
            ),
        )
    return (
        RouteOption(
            route=job,
            feasible=False,
            why=f"the sizing planner puts it on {plan.engine} ({summary})",
        ),
        RouteOption(
            route=cluster,
            feasible=True,
            why=f"{plan.engine} with {summary}",
            config=config,
            **priced,
        ),
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[-1 if isinstance(error, ValidationError) else 0]


def routes_config(advice: RouteAdvice) -> str:
    """The YAML of the recommended route's app config; ``ValueError`` when none is feasible."""
    if advice.recommended is None:
        raise ValueError(advice.reason)
    option = advice.option(advice.recommended)
    assert option.config is not None
    header = [
        f"# Generated by `cdk-llm-training routes`: route {option.route}",
        f"# why: {option.why}",
        *(f"# price: {source}" for source in option.price_sources),
        "# Deploy with: cdk synth -c config=THIS_FILE",
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(option.config, sort_keys=False)


def render_routes(advice: RouteAdvice) -> str:
    """A human table of every route, then the recommendation."""
    lines = [f"{'route':<22} {'feasible':<9} {'cost USD':>10} {'hours':>8}  why"]
    for option in advice.options:
        cost = (
            f"{option.estimated_cost_usd:,.0f}"
            if option.estimated_cost_usd is not None
            else "unverified"
            if option.price_status == "unverified"
            else "-"
        )
        hours = f"{option.wall_clock_hours:,.1f}" if option.wall_clock_hours is not None else "-"
        feasible = "yes" if option.feasible else "no"
        lines.append(f"{option.route:<22} {feasible:<9} {cost:>10} {hours:>8}  {option.why}")
    lines.append(f"recommended: {advice.recommended or 'none'} ({advice.reason})")
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------------------


def add_route_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", choices=[m.value for m in CustomizationMethod], required=True)
    parser.add_argument("--params", type=float, required=True, help="parameters, e.g. 8e9")
    parser.add_argument("--tokens", type=float, required=True, help="training tokens, e.g. 1e8")
    parser.add_argument("--bedrock-model-id", help="the model's Bedrock base-model id")
    parser.add_argument("--hub-model-arn", help="the model's SageMaker hub-content ARN")
    parser.add_argument("--budget-usd", type=float)
    parser.add_argument("--deadline-hours", type=float)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--write-config", type=Path, metavar="PATH", help="write the recommended route's config"
    )


def run_routes(args: argparse.Namespace) -> int:
    """The ``routes`` command: 0 with a recommendation, 2 when no route is feasible or the
    request is invalid."""
    try:
        request = RouteRequest(
            method=CustomizationMethod(args.method),
            params=args.params,
            tokens=args.tokens,
            bedrock_model_id=args.bedrock_model_id,
            hub_model_arn=args.hub_model_arn,
            budget_usd=args.budget_usd,
            deadline_hours=args.deadline_hours,
        )
    except ValidationError as error:
        print(f"error: {_first_line(error)}", file=sys.stderr)
        return 2
    advice = plan_routes(request)
    print(
        json.dumps(advice.model_dump(mode="json"), indent=1) if args.json else render_routes(advice)
    )
    if advice.recommended is None:
        return 2
    if args.write_config is not None:
        args.write_config.write_text(routes_config(advice), encoding="utf-8")
        print(f"wrote {args.write_config}", file=sys.stderr)
    return 0
