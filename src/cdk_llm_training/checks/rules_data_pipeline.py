"""Rules for the data pipeline workflows (curation processing jobs)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView
from cdk_llm_training.checks.state_machines import optimized_integrations, parsed_definition

PROCESSING_STRING_MAX = 256
"""CreateProcessingJob: ContainerEntrypoint and ContainerArguments entries and Environment
values are strings of at most 256 characters (SageMaker API reference, AppSpecification and
CreateProcessingJob Environment)."""
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def _literal_length(value: str) -> int:
    """Characters of ``value`` outside ``${...}`` placeholders (a lower bound of the
    deployed length)."""
    return len(_PLACEHOLDER.sub("", value))


def _long_strings(parameters: Mapping[str, Any]) -> list[str]:
    app = parameters.get("AppSpecification") or {}
    named: list[tuple[str, Any]] = [
        *(
            (f"ContainerEntrypoint[{i}]", v)
            for i, v in enumerate(app.get("ContainerEntrypoint") or [])
        ),
        *(
            (f"ContainerArguments[{i}]", v)
            for i, v in enumerate(app.get("ContainerArguments") or [])
        ),
        *(
            (f"Environment.{k}", v)
            for k, v in (parameters.get("Environment") or {}).items()
            if not str(k).endswith(".$")  # a JSONPath, resolved at run time
        ),
    ]
    return [
        f"{where} ({_literal_length(value)} characters)"
        for where, value in named
        if isinstance(value, str) and _literal_length(value) > PROCESSING_STRING_MAX
    ]


def _check_processing_strings(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for machine_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        for integration, state in optimized_integrations(parsed_definition(props)):
            if not integration.startswith("sagemaker:createProcessingJob"):
                continue
            too_long = _long_strings(state.get("Parameters") or {})
            if too_long:
                findings.append(
                    (
                        machine_id,
                        "a CreateProcessingJob request has strings over "
                        f"{PROCESSING_STRING_MAX} characters: {', '.join(too_long)}; every "
                        "execution would fail with a ValidationException.",
                        "Properties/DefinitionString",
                    )
                )
    return findings


BATCH_TIMEOUT_HOURS = (24, 168)
"""CreateModelInvocationJob ``timeoutDurationInHours`` range (Bedrock API Reference)."""


def _check_batch_timeouts(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    low, high = BATCH_TIMEOUT_HOURS
    for machine_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        for integration, state in optimized_integrations(parsed_definition(props)):
            if integration != "aws-sdk:bedrock:createModelInvocationJob":
                continue
            hours = (state.get("Parameters") or {}).get("TimeoutDurationInHours")
            if isinstance(hours, int) and not low <= hours <= high:
                findings.append(
                    (
                        machine_id,
                        f"a CreateModelInvocationJob request sets TimeoutDurationInHours "
                        f"{hours}; Bedrock allows {low} to {high}.",
                        "Properties/DefinitionString",
                    )
                )
    return findings


DATA_PIPELINE_RULES = [
    Rule(
        "LLM-DP1",
        "Processing job requests keep every container entrypoint entry, container argument "
        "and environment value within 256 characters (SageMaker API Reference, "
        "AppSpecification and CreateProcessingJob).",
        Severity.ERROR,
        "The limit is checked when the job is created, not when the template deploys: an "
        "over-long entry passes synthesis and deployment and fails every execution.",
        "Split long settings into several arguments (DataCuration passes its settings as "
        "one --set PATH=JSON argument each) or ship them as a file in the code asset.",
        _check_processing_strings,
    ),
    Rule(
        "LLM-DP2",
        "Bedrock batch inference requests set TimeoutDurationInHours within 24 to 168 "
        "(Amazon Bedrock API Reference, CreateModelInvocationJob).",
        Severity.ERROR,
        "Step Functions passes the value as it is: a timeout out of range fails every "
        "execution when the job is created, after the prompts were prepared.",
        "Set SyntheticDataOptions.timeout_hours (validated to 24-168) or the request's "
        "TimeoutDurationInHours within the range.",
        _check_batch_timeouts,
    ),
]
