"""Rules for the managed customization routes (Bedrock reinforcement fine-tuning)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id

_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
_PLACEHOLDER = "@@{}@@"
_INVOKE_ACTIONS = ("lambda:invokefunction", "lambda:*", "*")


def _rendered(definition: Any) -> str | None:
    """The definition text with each reference replaced by ``@@<logical id>@@``."""
    if isinstance(definition, str):
        return definition
    if not isinstance(definition, Mapping):
        return None
    join = definition.get("Fn::Join")
    if not (isinstance(join, list) and len(join) == 2 and isinstance(join[1], list)):
        return None
    parts = []
    for part in join[1]:
        if isinstance(part, str):
            parts.append(part)
        else:
            parts.append(_PLACEHOLDER.format(referenced_id(part) or "?"))
    return str(join[0]).join(parts)


def _states(machine: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for state in (machine.get("States") or {}).values():
        if isinstance(state, Mapping):
            yield state
            for branch in as_list(state.get("Branches")):
                if isinstance(branch, Mapping):
                    yield from _states(branch)


def _referenced(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("@@") and value.endswith("@@"):
        return value[2:-2]
    return None


def _rft_jobs(view: TemplateView) -> Iterator[tuple[str, str, str]]:
    """(state machine, role logical id, grader logical id) of every RFT job task whose role
    and grader are resources of this template."""
    for logical_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        text = _rendered(props.get("DefinitionString"))
        if text is None:
            continue
        try:
            machine = json.loads(text)
        except ValueError:
            continue
        for state in _states(machine):
            params = state.get("Parameters")
            if not isinstance(params, Mapping):
                continue
            if params.get("CustomizationType") != "REINFORCEMENT_FINE_TUNING":
                continue
            config = (params.get("CustomizationConfig") or {}).get("RftConfig") or {}
            grader = (config.get("GraderConfig") or {}).get("LambdaGrader") or {}
            role = _referenced(params.get("RoleArn"))
            function = _referenced(grader.get("LambdaArn"))
            if role and function:
                yield logical_id, role, function


def _grants_invoke(view: TemplateView, role: str, function: str) -> bool:
    for _, props in view.of_type(*_POLICY_TYPES):
        if role not in {referenced_id(r) for r in as_list(props.get("Roles"))}:
            continue
        for statement in as_list((props.get("PolicyDocument") or {}).get("Statement")):
            if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
                continue
            actions = {str(a).lower() for a in as_list(statement.get("Action"))}
            if not actions & set(_INVOKE_ACTIONS):
                continue
            resources = as_list(statement.get("Resource"))
            if "*" in resources or function in {referenced_id(r) for r in resources}:
                return True
    return False


def _check_rft_role_invokes_grader(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for machine, role, function in _rft_jobs(view):
        if not _grants_invoke(view, role, function):
            findings.append(
                (
                    machine,
                    f"starts a reinforcement fine-tuning job whose service role {role} may not "
                    f"invoke its grader {function} (lambda:InvokeFunction): the paid job fails "
                    "when it first scores a response.",
                    "Properties/DefinitionString",
                )
            )
    return findings


MANAGED_RULES = [
    Rule(
        "LLM-RFT1",
        "The service role of a Bedrock reinforcement fine-tuning job may invoke its grader "
        "Lambda (Amazon Bedrock User Guide, 'Reinforcement fine-tuning access and security': "
        "Lambda permissions for reward functions).",
        Severity.ERROR,
        "Bedrock invokes the reward function with the job's service role; without "
        "lambda:InvokeFunction on the grader the job fails after it has started. "
        "Source: Amazon Bedrock User Guide, Reinforcement fine-tuning access and security.",
        "Add lambda:InvokeFunction on the grader function's ARN to the role passed as RoleArn "
        "(BedrockFineTuneJob does this for the grader it deploys).",
        _check_rft_role_invokes_grader,
    ),
]
