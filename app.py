#!/usr/bin/env python3
"""The ready CDK app: every tier stack, from defaults or ``cdk synth -c config=PATH``.

This is the only place that reads CDK context or environment variables.
"""

import sys

import aws_cdk as cdk

from cdk_llm_training.checks import LlmTrainingChecks
from cdk_llm_training.config import AppConfig, ConfigError, load_app_config
from cdk_llm_training.stacks import build_tier_stacks


def main() -> None:
    app = cdk.App()
    config_path = app.node.try_get_context("config")
    try:
        config = load_app_config(config_path) if config_path else AppConfig()
    except ConfigError as error:
        sys.exit(f"error: {error}")
    build_tier_stacks(app, config)
    # The library's own rule pack runs on every synth: error findings stop it.
    cdk.Validations.of(app).add_plugins(LlmTrainingChecks())
    app.synth()


if __name__ == "__main__":
    main()
