"""Cross-account grants: a resource policy that lets another account's principals in names
the condition that narrows it (the promotion tag, the service the key is used through, the
event source)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView

_ACCOUNT_IN_ARN = re.compile(r"(?::iam::|^)(\d{12})(?::|$)")


def _statements(document: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
            yield statement


def _other_accounts(statement: Mapping[str, Any]) -> list[str]:
    """Literal 12-digit accounts among the statement's AWS principals (the template's own
    account is written as ``AWS::AccountId``, never as digits)."""
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping) or "AWS" not in principal:
        return []
    values = principal["AWS"] if isinstance(principal["AWS"], list) else [principal["AWS"]]
    found = []
    for value in values:
        text = value if isinstance(value, str) else json.dumps(value)
        for part in re.split(r'"', text):
            match = _ACCOUNT_IN_ARN.search(part)
            if match:
                found.append(match.group(1))
    return found


def _actions(statement: Mapping[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [a.lower() for a in (actions if isinstance(actions, list) else [actions])]


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return set()
    return {
        key.lower() for block in condition.values() if isinstance(block, Mapping) for key in block
    }


def _check_bucket_reads(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, props in view.of_type("AWS::S3::BucketPolicy"):
        for statement in _statements(props.get("PolicyDocument")):
            accounts = _other_accounts(statement)
            reads = [a for a in _actions(statement) if a in ("s3:getobject", "s3:*", "*")]
            if accounts and reads and not _condition_keys(statement):
                findings.append(
                    (
                        logical_id,
                        f"statement {statement.get('Sid', '(no Sid)')} lets account(s) "
                        f"{', '.join(accounts)} read objects without a condition: every "
                        "object under the resource, approved or not, is theirs to read.",
                        "Properties/PolicyDocument",
                    )
                )
    return findings


def _check_key_decrypt(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, props in view.of_type("AWS::KMS::Key"):
        # With an explicit stack account CDK writes the owner's own root as digits in the
        # key administration statement (kms:*): that account is not "another" one.
        owners = {
            account
            for statement in _statements(props.get("KeyPolicy"))
            if "kms:*" in _actions(statement)
            for account in _other_accounts(statement)
        }
        for statement in _statements(props.get("KeyPolicy")):
            accounts = [a for a in _other_accounts(statement) if a not in owners]
            decrypts = [a for a in _actions(statement) if a in ("kms:decrypt", "kms:*", "*")]
            if accounts and decrypts and "kms:viaservice" not in _condition_keys(statement):
                findings.append(
                    (
                        logical_id,
                        f"statement {statement.get('Sid', '(no Sid)')} lets account(s) "
                        f"{', '.join(accounts)} decrypt without kms:ViaService: they could "
                        "decrypt any ciphertext of this key directly, not only the objects "
                        "the bucket policy opens to them.",
                        "Properties/KeyPolicy",
                    )
                )
    return findings


def _check_bus_policy(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, props in view.of_type("AWS::Events::EventBusPolicy"):
        statement = props.get("Statement")
        if isinstance(statement, Mapping):
            accounts = _other_accounts(statement)
            if accounts and "events:source" not in _condition_keys(statement):
                findings.append(
                    (
                        logical_id,
                        f"the bus admits any event from account(s) {', '.join(accounts)}: "
                        "without an events:source condition they can trigger every rule "
                        "that matches on the bus.",
                        "Properties/Statement",
                    )
                )
        elif props.get("Principal") not in (None, "") and not props.get("Condition"):
            findings.append(
                (
                    logical_id,
                    f"the bus admits any event from {props.get('Principal')}: no condition.",
                    "Properties/Condition",
                )
            )
    return findings


CROSS_ACCOUNT_RULES: tuple[Rule, ...] = (
    Rule(
        "LLM-XA1",
        "A bucket policy that lets another account read objects carries a condition (Amazon "
        "S3 User Guide: Tagging and access control policies, s3:ExistingObjectTag).",
        Severity.ERROR,
        "An unconditioned cross-account read opens every artifact under the prefix, approved "
        "or rejected; the promotion opens only objects tagged on approval.",
        "Use ModelPromotion (it conditions the read on the cdk-llm-training-promoted tag), "
        "or add a Condition naming what the other account may read.",
        _check_bucket_reads,
    ),
    Rule(
        "LLM-XA2",
        "A key policy that lets another account decrypt limits it with kms:ViaService (AWS "
        "KMS Developer Guide: Allowing users in other accounts to use a KMS key; "
        "kms:ViaService).",
        Severity.ERROR,
        "Without kms:ViaService the other account can decrypt any ciphertext of the key by "
        "calling KMS directly, beyond the objects the bucket policy opens.",
        "Add Condition StringEquals kms:ViaService = s3.<region>.amazonaws.com (as "
        "ModelPromotion does).",
        _check_key_decrypt,
    ),
    Rule(
        "LLM-XA3",
        "An event bus policy that admits another account names the event source "
        "(Amazon EventBridge User Guide: Permissions for event buses, events:source).",
        Severity.ERROR,
        "An unconditioned bus policy lets the other account put any event on the bus and "
        "trigger every rule that matches it.",
        "Add Condition StringEquals events:source (ModelPromotionTarget admits only "
        "cdk-llm-training.promotion).",
        _check_bus_policy,
    ),
)
