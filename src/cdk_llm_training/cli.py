"""The ``cdk-llm-training`` command.

Sub-commands ``plan`` (sizing), ``validate`` (tier config files) and ``cost`` (estimate of a
synthesized stack). Never imports aws_cdk or
jsii, so it starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cdk_llm_training._version import __version__
from cdk_llm_training.preflight import command as preflight_command

EXIT_OK = 0
EXIT_INVALID = 2

METHODS = ("pretrain", "cpt", "full", "lora", "qlora", "bedrock")


def _number(text: str) -> float:
    """A positive number; accepts ``7e9``, ``7_000_000_000`` and ``7B`` / ``2T`` / ``100M``."""
    suffixes = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
    cleaned = text.strip().replace("_", "").replace(",", "")
    scale = 1.0
    if cleaned and cleaned[-1].lower() in suffixes:
        scale = suffixes[cleaned[-1].lower()]
        cleaned = cleaned[:-1]
    try:
        value = float(cleaned) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def _add_plan(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = subparsers.add_parser(
        "plan",
        help="size a training run: tier, instances, time, cost",
        description=(
            "From model size, method and tokens to a tier, instance type and count, "
            "memory per accelerator, time and on-demand cost. Exit 2 when the request "
            "cannot be met."
        ),
    )
    plan.add_argument("--params", type=_number, required=True, help="parameters, e.g. 7e9 or 7B")
    plan.add_argument("--method", choices=METHODS, required=True, help="training method")
    plan.add_argument("--tokens", type=_number, required=True, help="training tokens, e.g. 2e12")
    hardware = plan.add_mutually_exclusive_group()
    hardware.add_argument(
        "--accelerator", help="a10g, l4, l40s, a100, a100-80gb, h100, h200, trn1, trn2"
    )
    hardware.add_argument("--instance-type", help="e.g. p5.48xlarge or ml.p5.48xlarge")
    plan.add_argument("--seq-len", type=int, default=4096, help="sequence length (default 4096)")
    plan.add_argument("--deadline-hours", type=_number, help="longest wall-clock time (hours)")
    plan.add_argument("--budget-usd", type=_number, help="largest on-demand cost (USD)")
    plan.add_argument("--mfu", type=float, help="model FLOPs utilization override, (0, 0.6]")
    plan.add_argument(
        "--max-instances", type=int, default=256, help="largest cluster to propose (default 256)"
    )
    plan.add_argument("--prices", type=Path, help="JSON file overriding shipped prices")
    plan.add_argument("--instances", type=Path, help="JSON file overriding the instance catalog")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.add_argument(
        "--write-config", type=Path, metavar="PATH", help="write the tier config for cdk synth"
    )


def _add_validate(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = subparsers.add_parser(
        "validate",
        help="check a tier config file",
        description="Check a tier config file with the models the app uses. Exit 2 if invalid.",
    )
    validate.add_argument("path", type=Path, help="YAML or JSON tier config file")


def _add_diagram(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diagram = subparsers.add_parser(
        "diagram",
        help="draw architecture pictures from cdk.out",
        description="Draw each stack's resources, grouped by construct, from the synthesized "
        "templates into SVG and PNG (needs Graphviz: the docs extra and `dot`).",
    )
    diagram.add_argument("stacks", nargs="*", help="stack names (default: every stack)")
    diagram.add_argument("--cdk-out", default="cdk.out", help="cloud assembly (default cdk.out)")
    diagram.add_argument(
        "--out", default="docs/images/architecture", help="output directory (default %(default)s)"
    )


def _add_cost(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cost = subparsers.add_parser(
        "cost",
        help="estimate a synthesized stack's idle and compute cost",
        description=(
            "Read STACK's synthesized template (run `cdk synth` first) and print its monthly "
            "idle cost, itemized, and the hourly cost of its configured compute. Exit 2 when "
            "the template or a price file cannot be read."
        ),
    )
    cost.add_argument("stack", help="stack name, e.g. SmallLoRAStack")
    cost.add_argument(
        "--cdk-out", type=Path, default=Path("cdk.out"), help="cloud assembly (default cdk.out)"
    )
    cost.add_argument(
        "--prices",
        type=Path,
        help="JSON file overriding shipped prices: 'items' and 'instances' as in "
        "service_prices.json, 'prices' as in prices.json",
    )
    cost.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="cdk-llm-training",
        description="Provision LLM training infrastructure on AWS with the AWS CDK.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_plan(subparsers)
    _add_validate(subparsers)
    _add_diagram(subparsers)
    _add_cost(subparsers)
    preflight_command.add_parser(subparsers)
    return parser


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_INVALID


def _run_plan(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cdk_llm_training.config.errors import ConfigError, describe_validation_error
    from cdk_llm_training.config.instances import load_instance_catalog
    from cdk_llm_training.config.prices import load_price_book
    from cdk_llm_training.planner.model import PlanningError, PlanRequest
    from cdk_llm_training.planner.plan import make_plan
    from cdk_llm_training.planner.report import (
        app_config_yaml,
        plan_to_dict,
        render_table,
    )

    try:
        request = PlanRequest(
            params=args.params,
            method=args.method,
            tokens=args.tokens,
            accelerator=args.accelerator,
            instance_type=args.instance_type,
            seq_len=args.seq_len,
            deadline_hours=args.deadline_hours,
            budget_usd=args.budget_usd,
            mfu=args.mfu,
            max_instances=args.max_instances,
        )
    except ValidationError as error:
        return _error(describe_validation_error(error, source="plan"))
    try:
        catalog = load_instance_catalog(args.instances)
        prices = load_price_book(args.prices)
    except (OSError, ValueError, KeyError) as error:
        return _error(f"cannot read override file: {error}")
    try:
        plan = make_plan(request, catalog=catalog, prices=prices)
    except PlanningError as error:
        return _error(str(error))
    if args.json:
        print(json.dumps(plan_to_dict(plan), indent=2))
    else:
        print(render_table(plan), end="")
    if args.write_config is not None:
        try:
            text = app_config_yaml(plan)
        except ConfigError as error:
            return _error(str(error))
        args.write_config.write_text(text, encoding="utf-8")
        print(f"wrote {args.write_config}", file=sys.stderr)
    return EXIT_OK


def _run_validate(args: argparse.Namespace) -> int:
    from cdk_llm_training.config.errors import ConfigError
    from cdk_llm_training.config.tiers import load_app_config

    try:
        config = load_app_config(args.path)
    except ConfigError as error:
        return _error(str(error))
    stacks = ", ".join(stack.value for stack in config.stacks)
    print(f"{args.path}: valid ({stacks})")
    return EXIT_OK


def _run_cost(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cdk_llm_training.config.prices import InstancePrice, default_price_book
    from cdk_llm_training.cost.estimate import CostEstimateError, estimate_stack, render_text
    from cdk_llm_training.cost.service_prices import default_service_prices

    services = default_service_prices()
    instances = default_price_book()
    if args.prices is not None:
        try:
            document = json.loads(args.prices.read_text(encoding="utf-8"))
            services = services.with_overrides(document)
            instances = instances.with_overrides(
                InstancePrice.model_validate(row) for row in document.get("prices", [])
            )
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as error:
            return _error(f"cannot read price file {args.prices}: {error}")
    try:
        estimate = estimate_stack(
            args.stack, cdk_out=args.cdk_out, services=services, instances=instances
        )
    except CostEstimateError as error:
        return _error(str(error))
    if args.json:
        print(json.dumps(estimate.to_dict(), indent=2))
    else:
        print(render_text(estimate), end="")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "plan":
        return _run_plan(args)
    if args.command == "validate":
        return _run_validate(args)
    if args.command == "diagram":
        from cdk_llm_training.diagram import main as diagram_main

        return diagram_main([*args.stacks, "--cdk-out", args.cdk_out, "--out", args.out])
    if args.command == "cost":
        return _run_cost(args)
    if args.command == "preflight":
        return preflight_command.run(args)
    parser.print_help()
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
