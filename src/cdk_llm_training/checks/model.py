"""The rule model of the LlmTrainingChecks pack: pure Python over CloudFormation templates."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a finding is. Errors fail synthesis; warnings are reported only."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One rule violated by one resource."""

    rule_id: str
    severity: Severity
    logical_id: str
    message: str
    location: str = "Properties"


class TemplateView:
    """Read-only helpers over one synthesized template (resources, intrinsic references)."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        self.template = template
        self.resources: Mapping[str, Mapping[str, Any]] = template.get("Resources", {})

    def of_type(self, *type_names: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(logical ID, properties) of every resource of the given types."""
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in type_names:
                yield logical_id, resource.get("Properties", {}) or {}

    def type_of(self, logical_id: str | None) -> str | None:
        """The resource type of ``logical_id`` in this template, or None."""
        if logical_id is None or logical_id not in self.resources:
            return None
        type_name: str = self.resources[logical_id].get("Type", "")
        return type_name

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        """Properties of ``logical_id`` (empty when absent)."""
        props: Mapping[str, Any] = self.resources.get(logical_id, {}).get("Properties", {}) or {}
        return props


def referenced_id(value: Any) -> str | None:
    """The logical ID behind ``{"Ref": X}`` or ``{"Fn::GetAtt": [X, attr]}``; else None."""
    if isinstance(value, Mapping):
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and isinstance(get_att[0], str):
            return get_att[0]
        if isinstance(get_att, str):
            return get_att.split(".", 1)[0]
    return None


def as_list(value: Any) -> list[Any]:
    """``value`` as a list (CloudFormation allows a scalar where a list of one is meant)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


CheckFunction = Callable[[TemplateView], list[tuple[str, str, str]]]
"""A check returns (logical ID, message, location) for each violation it finds."""


@dataclass(frozen=True)
class Rule:
    """A rule of the pack: id, one-line description, severity, why, fix and its check."""

    rule_id: str
    description: str
    severity: Severity
    why: str
    fix: str
    check: CheckFunction

    def run(self, view: TemplateView) -> list[Finding]:
        """Run the check on one template."""
        return [
            Finding(self.rule_id, self.severity, logical_id, message, location)
            for logical_id, message, location in self.check(view)
        ]
