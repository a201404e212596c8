"""Route choice on a table of cases, and the config each recommendation writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cdk_llm_training.config import parse_app_config
from cdk_llm_training.tools.cli import main
from cdk_llm_training.tools.planner.routes import (
    CustomizationMethod as M,
)
from cdk_llm_training.tools.planner.routes import (
    Route,
    RouteRequest,
    plan_routes,
    routes_config,
)

HUB = (
    "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/"
    "huggingface-reasoning-qwen3-8b"
)
NOVA2 = "amazon.nova-2-lite-v1:0:256k"
B, S, J, C = (
    Route.BEDROCK_MANAGED,
    Route.SAGEMAKER_SERVERLESS,
    Route.SAGEMAKER_JOB,
    Route.CLUSTER,
)

CASES: list[tuple[str, dict[str, Any], Route | None, set[Route]]] = [
    # name, request, recommended, feasible routes
    ("lora 8B, no managed model", {"method": "lora", "params": 8e9, "tokens": 1e8}, J, {J}),
    (
        "lora 8B on a hub model: serverless first",
        {"method": "lora", "params": 8e9, "tokens": 1e8, "hub_model_arn": HUB},
        S,
        {S, J},
    ),
    ("full 70B: only a cluster fits", {"method": "sft", "params": 70e9, "tokens": 2e9}, C, {C}),
    (
        "sft on a Bedrock model: Bedrock first",
        {
            "method": "sft",
            "params": 8e9,
            "tokens": 1e8,
            "bedrock_model_id": "meta.llama3-1-8b-instruct-v1:0:128k",
        },
        B,
        {B, C},
    ),
    (
        "rlvr on Nova 2 Lite: Bedrock RFT",
        {"method": "rlvr", "params": 8e9, "tokens": 1e7, "bedrock_model_id": NOVA2},
        B,
        {B},
    ),
    (
        "rlvr on a model Bedrock cannot RFT, with a hub model: serverless",
        {
            "method": "rlvr",
            "params": 8e9,
            "tokens": 1e7,
            "bedrock_model_id": "amazon.nova-micro-v1:0:128k",
            "hub_model_arn": HUB,
        },
        S,
        {S},
    ),
    (
        "dpo without a hub model: nothing",
        {"method": "dpo", "params": 8e9, "tokens": 1e8, "bedrock_model_id": NOVA2},
        None,
        set(),
    ),
    (
        "sft on Titan Text: no new jobs, falls to a cluster",
        {
            "method": "sft",
            "params": 8e9,
            "tokens": 1e8,
            "bedrock_model_id": "amazon.titan-text-lite-v1:0:4k",
        },
        C,
        {C},
    ),
    (
        "lora over budget: nothing",
        {"method": "lora", "params": 70e9, "tokens": 5e10, "budget_usd": 10},
        None,
        set(),
    ),
    (
        "qlora 70B: one 8-GPU instance, every GPU trains (the SageMaker job)",
        {"method": "qlora", "params": 70e9, "tokens": 1e8},
        J,
        {J},
    ),
]


@pytest.mark.parametrize(
    ("name", "settings", "recommended", "feasible"), CASES, ids=[c[0] for c in CASES]
)
def test_route_choice(
    name: str, settings: dict[str, Any], recommended: Route | None, feasible: set[Route]
) -> None:
    advice = plan_routes(RouteRequest(**settings))
    assert advice.recommended is recommended, advice.reason
    assert {o.route for o in advice.options if o.feasible} == feasible
    assert [o.route for o in advice.options] == [B, S, J, C]
    for option in advice.options:
        assert option.why
        assert (option.config is not None) is option.feasible


def test_instance_routes_carry_cost_and_time() -> None:
    advice = plan_routes(RouteRequest(method=M.LORA, params=8e9, tokens=1e8))
    job = advice.option(Route.SAGEMAKER_JOB)
    assert job.estimated_cost_usd is not None
    assert job.estimated_cost_usd > 0
    assert job.wall_clock_hours is not None
    assert job.wall_clock_hours > 0
    managed = plan_routes(
        RouteRequest(method=M.RLVR, params=8e9, tokens=1e7, bedrock_model_id=NOVA2)
    )
    assert managed.option(Route.BEDROCK_MANAGED).estimated_cost_usd is None
    assert "not estimated" in managed.option(Route.BEDROCK_MANAGED).why


@pytest.mark.parametrize(
    "settings",
    [
        {"method": "rlvr", "params": 8e9, "tokens": 1e7, "bedrock_model_id": NOVA2},
        {"method": "lora", "params": 8e9, "tokens": 1e8, "hub_model_arn": HUB},
        {"method": "lora", "params": 8e9, "tokens": 1e8},
        {"method": "sft", "params": 70e9, "tokens": 2e9},
    ],
)
def test_the_written_config_validates(settings: dict[str, Any]) -> None:
    text = routes_config(plan_routes(RouteRequest(**settings)))
    parse_app_config(yaml.safe_load(text), source="routes")


def test_no_feasible_route_writes_nothing() -> None:
    advice = plan_routes(RouteRequest(method=M.DPO, params=8e9, tokens=1e8))
    with pytest.raises(ValueError, match="no route is feasible"):
        routes_config(advice)


def test_cli_writes_the_recommended_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rft.yaml"
    code = main(
        [
            "routes",
            "--method",
            "rlvr",
            "--params",
            "8e9",
            "--tokens",
            "1e7",
            "--bedrock-model-id",
            NOVA2,
            "--write-config",
            str(path),
        ]
    )
    assert code == 0
    assert "recommended: bedrock-managed" in capsys.readouterr().out
    config = parse_app_config(yaml.safe_load(path.read_text()), source="rft.yaml")
    assert config.small_lora is not None
    assert config.small_lora.bedrock_fine_tune is not None
    assert config.small_lora.bedrock_fine_tune.rft is not None


def test_cli_exits_2_when_nothing_fits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "--method", "dpo", "--params", "8e9", "--tokens", "1e8"]) == 2
    assert "recommended: none" in capsys.readouterr().out


# -- prices of the managed routes and the recommendation's reason ------------------------------

REASON_CASES: list[tuple[str, dict[str, Any], Route, str, str]] = [
    # name, request, recommended, expected in the reason, expected price status
    (
        "sft on a Bedrock model with a budget: Bedrock, budget flagged as unchecked",
        {
            "method": "sft",
            "params": 8e9,
            "tokens": 1e8,
            "bedrock_model_id": "meta.llama3-1-8b-instruct-v1:0:128k",
            "budget_usd": 500,
        },
        B,
        "not checked for it: the $500 budget",
        "unverified",
    ),
    (
        "rlvr on a hub model with a deadline: serverless, deadline flagged as unchecked",
        {
            "method": "rlvr",
            "params": 8e9,
            "tokens": 1e7,
            "hub_model_arn": HUB,
            "deadline_hours": 12,
        },
        S,
        "not checked for it: the 12 h deadline",
        "unverified",
    ),
    (
        "lora 8B with a budget: the job route is priced, nothing flagged",
        {"method": "lora", "params": 8e9, "tokens": 1e8, "budget_usd": 500},
        J,
        "the cheapest instance route",
        "estimated",
    ),
]


@pytest.mark.parametrize(
    ("name", "settings", "recommended", "reason", "status"),
    REASON_CASES,
    ids=[c[0] for c in REASON_CASES],
)
def test_recommendation_reason_and_price_status(
    name: str, settings: dict[str, Any], recommended: Route, reason: str, status: str
) -> None:
    advice = plan_routes(RouteRequest(**settings))
    assert advice.recommended is recommended
    assert reason in advice.reason
    chosen = advice.option(recommended)
    assert chosen.price_status == status
    assert chosen.price_sources
    if status == "unverified":
        assert chosen.estimated_cost_usd is None
        assert "price unverified" in chosen.why
        assert all("checked 2026-11-30" in source for source in chosen.price_sources)
    else:
        assert "not checked" not in advice.reason
    assert (
        "not checked"
        not in plan_routes(
            RouteRequest(
                **{k: v for k, v in settings.items() if k not in ("budget_usd", "deadline_hours")}
            )
        ).reason
    )


def test_infeasible_routes_carry_no_price() -> None:
    advice = plan_routes(RouteRequest(method=M.DPO, params=8e9, tokens=1e8))
    assert all(o.price_status == "none" and not o.price_sources for o in advice.options)


def test_no_unverified_price_carries_a_number() -> None:
    from cdk_llm_training.tools.planner.managed_prices import MANAGED_PRICES

    for price in MANAGED_PRICES:
        assert price.source.startswith("https://aws.amazon.com/")
        assert price.checked_on == "2026-11-30"
        assert (price.usd is not None) is price.verified, price.key


def test_written_config_names_the_price_source() -> None:
    text = routes_config(
        plan_routes(RouteRequest(method=M.RLVR, params=8e9, tokens=1e7, bedrock_model_id=NOVA2))
    )
    assert "# price: " in text
    assert "price unverified (https://aws.amazon.com/bedrock/pricing/, checked 2026-11-30)" in text


def test_docs_list_the_managed_prices_the_planner_uses() -> None:
    from cdk_llm_training.tools.planner.managed_prices import price_markdown

    page = Path(__file__).parents[2] / "docs" / "guides" / "customization-routes.md"
    text = page.read_text(encoding="utf-8")
    start, end = "<!-- managed-prices -->\n", "<!-- /managed-prices -->"
    assert text[text.index(start) + len(start) : text.index(end)] == price_markdown()
    for name in ("Bedrock managed", "SageMaker serverless", "SageMaker job", "Cluster run"):
        section = text[text.index(f"- **{name}") :]
        assert "Price source" in section.split("\n- **")[0], name


def test_table_shows_unverified_cost_for_managed_routes() -> None:
    from cdk_llm_training.tools.planner.routes import render_routes

    text = render_routes(
        plan_routes(
            RouteRequest(
                method=M.SFT,
                params=8e9,
                tokens=1e8,
                bedrock_model_id="meta.llama3-1-8b-instruct-v1:0:128k",
                hub_model_arn=HUB,
            )
        )
    )
    rows = {line.split()[0]: line for line in text.splitlines()[1:-1]}
    assert rows["bedrock-managed"].split()[2] == "unverified"
    assert rows["sagemaker-serverless"].split()[2] == "unverified"
    assert rows["sagemaker-job"].split()[2] == "-"  # infeasible: the sizing planner says cluster
    assert rows["cluster"].split()[2] not in ("-", "unverified")
