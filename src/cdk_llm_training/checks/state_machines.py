"""Reading state machines and their roles out of a template, for the rules that check what a
workflow calls against what its role allows.

Every walker descends into Parallel branches and Map processors (``Iterator`` and
``ItemProcessor``), so a state nested anywhere is found.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from cdk_llm_training.checks.model import TemplateView, as_list, referenced_id
from cdk_llm_training.checks.render import render


def parsed_definition(props: Mapping[str, Any]) -> Any:
    """A state machine's definition as JSON (placeholders for references), or None."""
    if "Definition" in props and isinstance(props["Definition"], Mapping):
        return props["Definition"]
    text = render(props.get("DefinitionString", ""))
    try:
        return json.loads(text)
    except ValueError:
        return None


def named_states(definition: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, state) of every state of a parsed definition."""
    if not isinstance(definition, Mapping):
        return
    for name, state in (definition.get("States") or {}).items():
        if isinstance(state, Mapping):
            yield str(name), state
            for branch in state.get("Branches") or []:
                yield from named_states(branch)
            for key in ("Iterator", "ItemProcessor"):
                yield from named_states(state.get(key))


def optimized_integrations(definition: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(``service:api[.sync...]``, state) of every optimized-integration Task state."""
    for _, state in named_states(definition):
        resource = state.get("Resource")
        if state.get("Type") == "Task" and isinstance(resource, str) and ":states:::" in resource:
            yield resource.split(":states:::", 1)[1], state


def integration_tasks(
    view: TemplateView, integrations: tuple[str, ...]
) -> Iterator[tuple[str, str, Mapping[str, Any], Mapping[str, Any]]]:
    """(state machine ID, location, machine properties, Parameters) of every Task state
    calling one of ``integrations`` (``.sync`` and ``.waitForTaskToken`` forms included)."""
    for machine_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        for name, state in named_states(parsed_definition(props)):
            resource = state.get("Resource")
            if state.get("Type") != "Task" or not isinstance(resource, str):
                continue
            integration = resource.split(":states:::", 1)[-1].split(".", 1)[0]
            if ":states:::" in resource and integration in integrations:
                parameters = state.get("Parameters")
                if isinstance(parameters, Mapping):
                    location = f"Properties/DefinitionString/States/{name}"
                    yield machine_id, location, props, parameters


def placeholder_id(text: str) -> str | None:
    """``Role`` from ``${Role.Arn}`` / ``${Role}`` (a resource of this template)."""
    if text.startswith("${") and text.endswith("}") and "${" not in text[2:]:
        return text[2:-1].split(".", 1)[0]
    return None


def role_allow_statements(view: TemplateView, role_id: str) -> list[Mapping[str, Any]]:
    """The Allow statements of a role: its inline policies and every policy attached to it."""
    statements: list[Any] = []
    for policy in as_list(view.properties(role_id).get("Policies")):
        statements += as_list((policy or {}).get("PolicyDocument", {}).get("Statement"))
    for _, props in view.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        if role_id in {referenced_id(r) for r in as_list(props.get("Roles"))}:
            statements += as_list(props.get("PolicyDocument", {}).get("Statement"))
    return [s for s in statements if isinstance(s, Mapping) and s.get("Effect") == "Allow"]


def statements_allow(
    statements: list[Mapping[str, Any]], action: str, *, on_any: bool = False
) -> bool:
    """Whether one statement allows ``action`` (wildcards in the statement's actions count);
    with ``on_any``, only a statement whose resources include ``*``."""
    for statement in statements:
        actions = [str(a) for a in as_list(statement.get("Action"))]
        if not any(fnmatchcase(action.lower(), a.lower()) for a in actions):
            continue
        if not on_any:
            return True
        if "*" in [render(r) for r in as_list(statement.get("Resource"))]:
            return True
    return False
