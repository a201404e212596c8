"""The ``cdk-llm-training`` command.

Sub-commands ``plan`` (sizing), ``validate`` (tier config files), ``cost`` (estimate of a
synthesized stack), ``schema`` (the config file's JSON schema), ``diagram`` (pictures of a
cloud assembly) and ``completion`` (a shell completion script). Never imports aws_cdk or
jsii, so it starts fast.

Each command is one :class:`Command` row of :data:`COMMANDS`: a function that adds its
arguments and a function that runs it. A new command is one more row.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cdk_llm_training._version import __version__
from cdk_llm_training.tools.preflight import command as preflight_command

if TYPE_CHECKING:
    from cdk_llm_training.tools.planner.model import Plan

EXIT_OK = 0
EXIT_INVALID = 2

METHODS = (
    "sft", "dpo", "kto", "grpo", "distill", "cpt", "pretrain", "full", "lora", "qlora", "bedrock",
)  # fmt: skip
"""What ``plan --method`` takes (:data:`cdk_llm_training.tools.planner.methods.PLANNER_METHODS`: the
training script's methods, then the other :class:`TrainingMethod` values), written out so the
CLI and its completion start without importing the config models (a test keeps them equal)."""
TUNINGS = ("lora", "qlora", "full")
"""What ``plan --tuning`` takes (the training script's tunings; a test keeps them equal)."""

DOCS_PAGE = "docs/reference/cli.md"
"""The command reference in the documentation (the repository's docs site)."""

_NUMBER = re.compile(r"^-[0-9.][0-9_,.]*(e[+-]?[0-9]+)?[kmbt]?$", re.IGNORECASE)
"""A negative number as typed (``-7e9``, ``-7B``): a value, not an option."""


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
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _help_epilog(examples: Sequence[str], anchor: str) -> str:
    lines = ["examples:", *(f"  {example}" for example in examples)]
    return "\n".join([*lines, "", f"docs: {DOCS_PAGE}#{anchor}"])


@dataclass(frozen=True)
class Command:
    """One sub-command: its name, one-line help, examples, arguments and runner."""

    name: str
    help: str
    description: str
    examples: tuple[str, ...]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]

    def register(
        self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subparsers.add_parser(
            self.name,
            help=self.help,
            description=self.description,
            epilog=_help_epilog(self.examples, f"cdk-llm-training-{self.name}"),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        self.add_arguments(parser)
        parser.set_defaults(run=self.run)
        return parser


# -- plan ------------------------------------------------------------------------------------


_T = TypeVar("_T")


class _OverrideError(Exception):
    """An override file (``--instances``, ``--prices``) cannot be read."""


def _read_override(load: Callable[[Path | None], _T], path: Path | None, what: str) -> _T:
    """``load(path)``; a bad file raises :class:`_OverrideError` with one line naming it."""
    from pydantic import ValidationError

    from cdk_llm_training.config.errors import describe_validation_error

    try:
        return load(path)
    except ValidationError as error:
        raise _OverrideError(describe_validation_error(error, source=str(path))) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise _OverrideError(f"cannot read {what} file {path}: {error}") from None


def _plan_arguments(plan: argparse.ArgumentParser) -> None:
    plan.add_argument("--params", type=_number, required=True, help="parameters, e.g. 7e9 or 7B")
    plan.add_argument(
        "--method",
        choices=METHODS,
        required=True,
        help="training method: an objective of the training script or how weights train",
    )
    plan.add_argument(
        "--tuning",
        choices=TUNINGS,
        help="weights an objective trains (default lora; cpt: full)",
    )
    plan.add_argument(
        "--num-generations",
        type=int,
        default=8,
        help="grpo: completions sampled per prompt (default 8)",
    )
    plan.add_argument("--tokens", type=_number, required=True, help="training tokens, e.g. 2e12")
    hardware = plan.add_mutually_exclusive_group()
    hardware.add_argument(
        "--accelerator", help="a10g, l4, l40s, a100, a100-80gb, h100, h200, trn1, trn2"
    )
    hardware.add_argument("--instance-type", help="e.g. p5.48xlarge or ml.p5.48xlarge")
    plan.add_argument("--seq-len", type=int, default=4096, help="sequence length (default 4096)")
    plan.add_argument(
        "--deadline-hours",
        type=_number,
        help="longest wall-clock time (hours); default none: the plan states the time",
    )
    plan.add_argument("--budget-usd", type=_number, help="largest on-demand cost (USD)")
    plan.add_argument("--mfu", type=float, help="model FLOPs utilization override, (0, 0.6]")
    plan.add_argument(
        "--max-instances", type=int, default=256, help="largest cluster to propose (default 256)"
    )
    plan.add_argument("--prices", type=Path, help="JSON file overriding shipped prices")
    plan.add_argument("--instances", type=Path, help="JSON file overriding the instance catalog")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.add_argument(
        "--write-config",
        type=Path,
        metavar="PATH",
        help="write the tier config for cdk synth (medium / large: and <stem>.run.json, the "
        "run input of the planned job)",
    )
    plan.add_argument(
        "--model", help="run input: the model to train, e.g. meta-llama/Llama-3.1-8B-Instruct"
    )
    plan.add_argument("--dataset", help="run input: curated-zone prefix of the training data")
    plan.add_argument("--output-name", help="run input: name of the run's checkpoints")


def _run_plan(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cdk_llm_training.config.catalogs.instances import load_instance_catalog
    from cdk_llm_training.config.catalogs.prices import load_price_book
    from cdk_llm_training.config.errors import ConfigError, describe_validation_error
    from cdk_llm_training.tools.planner.methods import resolve as resolve_method
    from cdk_llm_training.tools.planner.model import PlanningError, PlanRequest
    from cdk_llm_training.tools.planner.plan import make_plan
    from cdk_llm_training.tools.planner.report import (
        app_config_yaml,
        plan_to_dict,
        render_table,
    )

    try:
        sizing, objective = resolve_method(args.method, args.tuning)
        request = PlanRequest(
            params=args.params,
            method=sizing,
            objective=objective,
            num_generations=args.num_generations,
            tokens=args.tokens,
            accelerator=args.accelerator,
            instance_type=args.instance_type,
            seq_len=args.seq_len,
            deadline_hours=args.deadline_hours,
            budget_usd=args.budget_usd,
            mfu=args.mfu,
            max_instances=args.max_instances,
        )
    except ValueError as error:  # a pydantic ValidationError, or an unknown --tuning
        return _error(
            describe_validation_error(error, source="plan", model=PlanRequest)
            if isinstance(error, ValidationError)
            else str(error)
        )
    try:
        catalog = _read_override(load_instance_catalog, args.instances, "instance catalog")
        prices = _read_override(load_price_book, args.prices, "price")
    except _OverrideError as error:
        return _error(str(error))
    try:
        plan = make_plan(request, catalog=catalog, prices=prices)
    except PlanningError as error:
        return _error(str(error))
    try:
        text = app_config_yaml(plan) if args.write_config is not None else None
    except ConfigError as error:
        return _error(str(error))
    if args.json:
        print(json.dumps(plan_to_dict(plan), indent=2))
    else:
        print(render_table(plan), end="")
    return EXIT_OK if text is None else _write_plan_files(plan, text, args)


def _write_plan_files(plan: Plan, text: str, args: argparse.Namespace) -> int:
    """Write the tier config ``text`` to ``--write-config`` and, for a medium / large plan, the
    run input beside it (or say why there is none). A bad run input writes nothing."""
    from cdk_llm_training.config.vocabulary import Tier
    from cdk_llm_training.tools.planner.run_input import RunInput, RunInputError, plan_run_input

    run = RunInput(None, "")
    if plan.tier is not Tier.SMALL_LORA:
        try:
            run = plan_run_input(
                plan, model=args.model, dataset=args.dataset, output_name=args.output_name
            )
        except RunInputError as error:
            return _error(str(error))
    files = [(args.write_config, text)]
    if run.document is not None:
        document = json.dumps(run.document, indent=2) + "\n"
        files.append((run_input_path(args.write_config), document))
    for path, content in files:
        try:
            path.write_text(content, encoding="utf-8")
        except OSError as error:
            return _error(f"cannot write {path}: {error.strerror}")
        print(f"wrote {path}", file=sys.stderr)
    for note in run.notes:
        print(f"run input: {note}", file=sys.stderr)
    if run.reason and run.document is None:
        print(f"run input not written: {run.reason}", file=sys.stderr)
    return EXIT_OK


def run_input_path(config_path: Path) -> Path:
    """Where ``plan --write-config PATH`` writes the run input: ``<stem>.run.json`` beside it."""
    return config_path.with_name(f"{config_path.stem}.run.json")


# -- validate --------------------------------------------------------------------------------


def _validate_arguments(validate: argparse.ArgumentParser) -> None:
    validate.add_argument("path", type=Path, help="YAML or JSON tier config file")


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


# -- schema ----------------------------------------------------------------------------------


def _schema_arguments(schema: argparse.ArgumentParser) -> None:
    schema.add_argument(
        "--out", type=Path, metavar="PATH", help="write the schema to PATH instead of stdout"
    )


def _run_schema(args: argparse.Namespace) -> int:
    from cdk_llm_training.config.schema import app_config_schema_text

    text = app_config_schema_text()
    if args.out is None:
        print(text, end="")
        return EXIT_OK
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as error:
        return _error(f"cannot write {args.out}: {error.strerror}")
    print(f"wrote {args.out}", file=sys.stderr)
    return EXIT_OK


# -- diagram ---------------------------------------------------------------------------------

DEFAULT_DIAGRAM_DIR = "cdk.out/diagrams"
"""Where ``diagram`` writes by default: beside the templates it reads, never the docs tree."""


def _diagram_arguments(diagram: argparse.ArgumentParser) -> None:
    diagram.add_argument("stacks", nargs="*", help="stack names (default: every stack)")
    diagram.add_argument("--cdk-out", default="cdk.out", help="cloud assembly (default cdk.out)")
    diagram.add_argument(
        "--out", default=DEFAULT_DIAGRAM_DIR, help="output directory (default %(default)s)"
    )


def _run_diagram(args: argparse.Namespace) -> int:
    from cdk_llm_training.tools.diagram import main as diagram_main

    return diagram_main([*args.stacks, "--cdk-out", args.cdk_out, "--out", args.out])


# -- cost ------------------------------------------------------------------------------------


def _cost_arguments(cost: argparse.ArgumentParser) -> None:
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


def _run_cost(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cdk_llm_training.config.catalogs.prices import InstancePrice, default_price_book
    from cdk_llm_training.config.catalogs.service_prices import default_service_prices
    from cdk_llm_training.tools.cost.estimate import CostEstimateError, estimate_stack, render_text

    services = default_service_prices()
    instances = default_price_book()
    if args.prices is not None:
        try:
            document = json.loads(args.prices.read_text(encoding="utf-8"))
            services = services.with_overrides(document)
            instances = instances.with_overrides(
                InstancePrice.model_validate(row) for row in document.get("prices", [])
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ValidationError) as e:
            return _error(f"cannot read price file {args.prices}: {e}")
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


# -- completion ------------------------------------------------------------------------------


def _completion_arguments(completion: argparse.ArgumentParser) -> None:
    completion.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete in")


def _run_completion(args: argparse.Namespace) -> int:
    from cdk_llm_training.tools.completion import completion_script

    print(completion_script(build_parser(), args.shell), end="")
    return EXIT_OK


def _route_arguments(parser: argparse.ArgumentParser) -> None:
    from cdk_llm_training.tools.planner.routes import add_route_arguments

    add_route_arguments(parser)


def _run_routes(args: argparse.Namespace) -> int:
    from cdk_llm_training.tools.planner.routes import run_routes

    return run_routes(args)


COMMANDS: list[Command] = [
    Command(
        name="plan",
        help="size a training run: tier, instances, time, cost",
        description=(
            "From model size, method and tokens to a tier, instance type and count, memory "
            "per accelerator, time and on-demand cost. Exit 2 when a deadline or budget you "
            "gave cannot be met (the message says by how much)."
        ),
        examples=(
            "cdk-llm-training plan --params 8B --method lora --tokens 1e8",
            "cdk-llm-training plan --params 70e9 --method full --tokens 2e9 "
            "--deadline-hours 48 --model meta-llama/Llama-3.3-70B-Instruct "
            "--write-config plan.yaml",
        ),
        add_arguments=_plan_arguments,
        run=_run_plan,
    ),
    Command(
        name="routes",
        help="compare customization routes: Bedrock, SageMaker serverless, job, cluster",
        description=(
            "For a method, model size, tokens and budget: every route (Bedrock managed, "
            "SageMaker serverless, a SageMaker job with the library's script, a cluster run), "
            "feasible or not and why, cost and time where priced, and the recommended one. "
            "Exit 2 when no route is feasible."
        ),
        examples=(
            "cdk-llm-training routes --method rlvr --params 8e9 --tokens 1e7 "
            "--bedrock-model-id amazon.nova-2-lite-v1:0:256k --write-config rft.yaml",
            "cdk-llm-training routes --method lora --params 8e9 --tokens 1e8",
        ),
        add_arguments=_route_arguments,
        run=_run_routes,
    ),
    Command(
        name="validate",
        help="check a tier config file",
        description="Check a tier config file with the models the app uses (every rule that "
        "needs only the file, so a valid file synthesizes). Exit 2 if invalid.",
        examples=("cdk-llm-training validate plan.yaml",),
        add_arguments=_validate_arguments,
        run=_run_validate,
    ),
    Command(
        name="cost",
        help="estimate a synthesized stack's idle and compute cost",
        description=(
            "Read STACK's synthesized template (run `cdk synth` first) and print its monthly "
            "idle cost, itemized, and the hourly cost of its configured compute. Exit 2 when "
            "the template or a price file cannot be read."
        ),
        examples=("cdk-llm-training cost SmallLoRAStack --json",),
        add_arguments=_cost_arguments,
        run=_run_cost,
    ),
    Command(
        name="schema",
        help="print the config file's JSON schema (editor completion and checks)",
        description="Print the JSON schema of the app config file. Save it beside your config "
        "and start the YAML file with `# yaml-language-server: "
        "$schema=./cdk-llm-training.schema.json`.",
        examples=("cdk-llm-training schema > cdk-llm-training.schema.json",),
        add_arguments=_schema_arguments,
        run=_run_schema,
    ),
    Command(
        name="diagram",
        help="draw architecture pictures from cdk.out",
        description="Draw each stack's resources, grouped by construct, from the synthesized "
        "templates into SVG and PNG (needs Graphviz: the docs extra and `dot`).",
        examples=(
            "cdk-llm-training diagram",
            "cdk-llm-training diagram SmallLoRAStack --out pictures/",
        ),
        add_arguments=_diagram_arguments,
        run=_run_diagram,
    ),
    Command(
        name="preflight",
        help="check an AWS account before a first deploy (quotas, model access, ...)",
        description=preflight_command.DESCRIPTION,
        examples=(
            "cdk-llm-training preflight --stack MediumFineTuneStack -c config=medium.yaml",
            "cdk-llm-training preflight --json",
        ),
        add_arguments=preflight_command.add_arguments,
        run=preflight_command.run,
    ),
    Command(
        name="completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a completion script for the shell. Load it from your shell's "
        "start-up file.",
        examples=(
            'eval "$(cdk-llm-training completion bash)"   # in ~/.bashrc',
            'eval "$(cdk-llm-training completion zsh)"    # in ~/.zshrc',
        ),
        add_arguments=_completion_arguments,
        run=_run_completion,
    ),
]
"""Every sub-command, in the order ``--help`` lists them."""


def build_parser(commands: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The argument parser with ``commands`` (default :data:`COMMANDS`)."""
    parser = argparse.ArgumentParser(
        prog="cdk-llm-training",
        description="Provision LLM training infrastructure on AWS with the AWS CDK.",
        epilog=_help_epilog(
            (
                "cdk-llm-training plan --params 8B --method lora --tokens 1e8 "
                "--write-config plan.yaml",
                "cdk-llm-training validate plan.yaml",
            ),
            "cdk-llm-training-command-reference",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS if commands is None else commands:
        command.register(subparsers)
    return parser


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_INVALID


def _value_options(parser: argparse.ArgumentParser) -> set[str]:
    """Option strings (of the parser and its sub-commands) that take a value."""
    options: set[str] = set()
    for action in parser._actions:
        if action.option_strings and action.nargs != 0:
            options.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= _value_options(sub)
    return options


def _values_not_options(argv: Sequence[str], value_options: set[str]) -> list[str]:
    """``--params -7e9`` as ``--params=-7e9``: argparse takes ``-7e9`` for an option and
    says "expected one argument"; joined, the value reaches its type check and gets the
    domain message ("must be greater than 0")."""
    result: list[str] = []
    for token in argv:
        previous = result[-1] if result else ""
        if _NUMBER.match(token) and previous in value_options:
            result[-1] = f"{previous}={token}"
        else:
            result.append(token)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the process exit code."""
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_values_not_options(arguments, _value_options(parser)))
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return EXIT_OK
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
