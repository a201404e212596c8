"""The ``cdk-llm-training preflight`` sub-command: arguments, AWS session, exit codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_ERROR = 2


DESCRIPTION = (
    "With your AWS credentials, check with read-only calls what a first deploy of the config "
    "needs and a template cannot show: CDK bootstrap, AZ IDs, instance offerings, SageMaker "
    "and EC2 quotas, Bedrock model access, the private workforce, cost-allocation tag "
    "activation. Exit 1 on a blocker, 2 on an error."
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``preflight`` on a CLI's sub-parsers."""
    parser = subparsers.add_parser(
        "preflight",
        help="check an AWS account before a first deploy (quotas, model access, ...)",
        description=DESCRIPTION,
    )
    add_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``preflight``."""
    parser.add_argument(
        "--stack",
        action="append",
        metavar="NAME",
        help="a tier stack to check (repeatable; default: the config's stacks)",
    )
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="config=PATH",
        help="the tier config file, as given to cdk synth (-c config=PATH)",
    )
    parser.add_argument("--region", help="AWS Region (default: the profile's or AWS_REGION)")
    parser.add_argument("--profile", help="AWS named profile (default: the default chain)")
    parser.add_argument(
        "--cdk-out",
        type=Path,
        default=Path("cdk.out"),
        help="cloud assembly to read the bootstrap version from, when present (default cdk.out)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (for CI)")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _config_path(context: list[str]) -> Path | None:
    path: Path | None = None
    for item in context:
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise ValueError(f"-c {item!r} must look like config=PATH")
        if key == "config":
            path = Path(value)
    return path


class _Clients:
    """One client per service and Region from ``session`` (the checks' client factory)."""

    def __init__(self, session: Any, region: str) -> None:
        self._session = session
        self._region = region
        self._made: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self._region)
        if key not in self._made:
            self._made[key] = self._session.client(service, region_name=key[1])
        return self._made[key]


def _default_session(profile: str | None, region: str | None) -> Any:
    import boto3

    return boto3.Session(profile_name=profile, region_name=region)


def run(args: argparse.Namespace, session_factory: Any = None) -> int:
    """Run preflight for parsed ``args``. ``session_factory(profile, region)`` returns a
    boto3-like session (tests pass one with stubbed clients). Exit 0 without blockers, 1
    with, 2 on an error (printed as one ``error:`` line, never a traceback)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from cdk_llm_training.config.errors import ConfigError
    from cdk_llm_training.config.tiers import AppConfig, load_app_config
    from cdk_llm_training.tools.preflight.requirements import select_stacks
    from cdk_llm_training.tools.preflight.runner import run_preflight

    try:
        path = _config_path(args.context)
        config = load_app_config(path) if path is not None else AppConfig()
        stacks = select_stacks(config, args.stack)
        session = (session_factory or _default_session)(args.profile, args.region)
    except (ConfigError, ValueError, BotoCoreError) as error:  # BotoCoreError: ProfileNotFound
        return _error(str(error))
    region = args.region or session.region_name
    if not region:
        return _error("no AWS Region: pass --region or set AWS_REGION / the profile's region")
    try:
        report = run_preflight(
            config, stacks, clients=_Clients(session, region), region=region, cdk_out=args.cdk_out
        )
    except NoCredentialsError:
        return _error(
            "no AWS credentials found: configure a profile (aws configure / aws sso login) "
            "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then run preflight again"
        )
    except ClientError as error:
        detail = error.response.get("Error", {})
        return _error(
            f"the AWS credentials were rejected ({detail.get('Code')}: {detail.get('Message')})"
        )
    except BotoCoreError as error:
        return _error(f"cannot reach AWS: {error}")
    print(report.to_json() if args.json else report.render_text(), end="\n" if args.json else "")
    return EXIT_BLOCKED if report.blockers else EXIT_OK
