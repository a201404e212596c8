"""The ``cdk-llm-training`` command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cdk_llm_training._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (sub-commands are added as features land)."""
    parser = argparse.ArgumentParser(
        prog="cdk-llm-training",
        description="Provision LLM training infrastructure on AWS with the AWS CDK.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the process exit code."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
