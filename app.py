#!/usr/bin/env python3
"""The ready CDK app: every tier stack, from defaults or ``cdk synth -c config=PATH``.

This is the only place that reads CDK context or environment variables. A bad config file
ends the process with one ``error: ...`` line, never a traceback.
"""

import sys

import aws_cdk as cdk
from jsii.errors import JSIIError

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
    try:
        build_tier_stacks(app, config)
    except ValueError as error:
        # The config models apply every rule that needs only the file; a construct rule
        # that still fires is reported the same way (and is a bug to report).
        sys.exit(f"error: {config_path or 'default config'}: {error}")
    # The library's own rule pack runs on every synth: error findings stop it.
    cdk.Validations.of(app).add_plugins(LlmTrainingChecks())
    try:
        app.synth()
    except (JSIIError, RuntimeError) as error:
        sys.exit(f"error: synthesis failed: {error}")


if __name__ == "__main__":
    main()
