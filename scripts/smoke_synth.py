"""Synthesize every tier stack of the ready app (and the large tier's `both` engine) with the
library's rule pack, and print the aws-cdk-lib version used.

`make test-lowest-cdk` runs it in a separate virtual environment that holds the lowest
aws-cdk-lib version pyproject.toml allows, to show the constructs work with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--cdk-json", type=Path, default=REPO_ROOT / "cdk.json", help="context source"
    )
    args = parser.parse_args(argv)

    import aws_cdk as cdk

    from cdk_llm_training.checks import LlmTrainingChecks
    from cdk_llm_training.config import parse_app_config
    from cdk_llm_training.stacks import build_tier_stacks

    context = json.loads(args.cdk_json.read_text(encoding="utf-8"))["context"]
    configs: tuple[dict[str, Any], ...] = (
        {},
        {"stacks": ["LargePretrainStack"], "large_pretrain": {"engine": "both"}},
    )
    for data in configs:
        app = cdk.App(context=context)
        stacks = build_tier_stacks(app, parse_app_config(data))
        cdk.Validations.of(app).add_plugins(LlmTrainingChecks())
        app.synth()
        print(f"synthesized {', '.join(stack.stack_name for stack in stacks.values())}")
    print(f"aws-cdk-lib {metadata.version('aws-cdk-lib')}: ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
