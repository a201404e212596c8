"""Acknowledging validation findings (cdk-nag rules and our own): one rule on one construct,
the AwsSolutions-IAM5 wildcard findings of a role's default policy, and the way cdk-nag spells
a CloudFormation value in a finding id.

The NIST 800-53 / HIPAA control helpers live in ``_compliance`` and build on these.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on ``scope`` and its children only, with a reason.

    Uses CDK's native policy-validation acknowledgements, which cdk-nag 3 honours; the library
    never imports cdk-nag itself, so it stays a test-only dependency.
    """
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_wildcards(role: iam.IRole | None, reason: str) -> None:
    """Acknowledge cdk-nag's AwsSolutions-IAM5 finding for each wildcard action and resource
    of ``role``'s default policy, one by one (cdk-nag 3 ids name the exact value), so a
    wildcard added later by someone else is still reported. Does nothing without a role or a
    default policy."""
    policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
    if not isinstance(policy, iam.Policy):
        return
    document = Stack.of(policy).resolve(policy.document)
    findings: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action")):
            if "*" in action:
                findings.add(f"AwsSolutions-IAM5[Action::{action}]")
        for resource in _as_list(statement.get("Resource")):
            rendered = render_reference(resource)
            if "*" in rendered:
                findings.add(f"AwsSolutions-IAM5[Resource::{rendered}]")
    for finding in sorted(findings):
        acknowledge(policy, finding, reason)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def nag_ref(stack: Stack, value: str) -> str:
    """How cdk-nag spells the token ``value`` of ``stack`` in a finding id
    (``<LogicalId.Arn>`` for a bucket ARN), e.g. to build ``AwsSolutions-IAM5[Resource::...]``
    ids by hand."""
    return render_reference(stack.resolve(value), template_strings=False)


def render_reference(node: Any, *, template_strings: bool = True) -> str:  # noqa: PLR0911
    """A resolved CloudFormation value as one string, the way cdk-nag names findings:
    ``<LogicalId.Attr>`` for Fn::GetAtt, ``<Name>`` for Ref, Fn::Join joined.

    With ``template_strings`` (the default, used for policy documents) ``${Var}`` in strings
    and Fn::Sub become ``<Var>``, Fn::ImportValue its export name, ``None`` an empty string and
    anything else compact JSON. Without it (``nag_ref``) strings stay as written, only
    Fn::GetAtt, Ref and Fn::Join are rendered and anything else is ``str()`` of the value.
    """
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">") if template_strings else node
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(
                render_reference(i, template_strings=template_strings) for i in items
            )
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            if not template_strings:
                return f"<{resource}.{attribute}>"
            return f"<{render_reference(resource)}.{render_reference(attribute)}>"
        if "Ref" in node:
            ref = node["Ref"]
            return f"<{render_reference(ref) if template_strings else ref}>"
        if template_strings and "Fn::Sub" in node:
            return render_reference(node["Fn::Sub"])
        if template_strings and "Fn::ImportValue" in node:
            return render_reference(node["Fn::ImportValue"])
    if not template_strings:
        return str(node)
    if node is None:
        return ""
    return json.dumps(node, separators=(",", ":"))
