"""The JSON schema of the app config file, for editors (``# yaml-language-server: $schema``).

``cdk-llm-training schema`` prints it; save it beside the config file under
:data:`SCHEMA_FILE_NAME` and the first line of the YAML file points editors at it.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_FILE_NAME = "cdk-llm-training.schema.json"
"""Where the docs and ``plan --write-config`` expect the schema: beside the config file."""

SCHEMA_URL = f"./{SCHEMA_FILE_NAME}"
"""The ``$schema`` reference written in config files (relative to the YAML file)."""

SCHEMA_COMMENT = f"# yaml-language-server: $schema={SCHEMA_URL}"
"""First line of a config file that editors with the YAML language server understand."""


def app_config_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of :class:`cdk_llm_training.AppConfig` input."""
    from cdk_llm_training.config.tiers import AppConfig

    schema = AppConfig.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cdk-llm-training app config (cdk synth -c config=PATH)",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def app_config_schema_text() -> str:
    """The schema as indented JSON text with a final newline."""
    return json.dumps(app_config_schema(), indent=2, sort_keys=False) + "\n"
