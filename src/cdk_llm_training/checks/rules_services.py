"""Bedrock customization and Ground Truth rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list

_DEPUTY_KEYS = ("aws:SourceAccount", "aws:SourceArn")


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    keys: set[str] = set()
    for operator_block in (statement.get("Condition") or {}).values():
        if isinstance(operator_block, Mapping):
            keys.update(str(k).lower() for k in operator_block)
    return keys


def _trusts(statement: Mapping[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return False
    return service in [str(s) for s in as_list(principal.get("Service"))]


def _check_bedrock_confused_deputy(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for role_id, props in view.of_type("AWS::IAM::Role"):
        statements = as_list(props.get("AssumeRolePolicyDocument", {}).get("Statement"))
        for statement in statements:
            if statement.get("Effect") != "Allow" or not _trusts(
                statement, "bedrock.amazonaws.com"
            ):
                continue
            present = _condition_keys(statement)
            missing = [k for k in _DEPUTY_KEYS if k.lower() not in present]
            if missing:
                findings.append(
                    (
                        role_id,
                        "role trusts bedrock.amazonaws.com without "
                        + " and ".join(missing)
                        + " conditions (confused deputy).",
                        "Properties/AssumeRolePolicyDocument",
                    )
                )
    return findings


def _check_workforce_source_ips(view: TemplateView) -> list[tuple[str, str, str]]:
    return [
        (
            logical_id,
            "private workforce has no source-IP restriction; workers can open labeling tasks "
            "(and the data in them) from any network.",
            "Properties/SourceIpConfig",
        )
        # Custom::PrivateWorkforce: LabelingWorkforce's reuse-or-create workforce, same shape.
        for logical_id, props in view.of_type(
            "AWS::SageMaker::Workforce", "Custom::PrivateWorkforce"
        )
        if not as_list(props.get("SourceIpConfig", {}).get("Cidrs"))
    ]


SERVICE_RULES = [
    Rule(
        "LLM-BR1",
        "Roles that Bedrock assumes carry aws:SourceAccount and aws:SourceArn conditions.",
        Severity.ERROR,
        "Without them, any Bedrock customization job in any account that can name the role "
        "could act with its permissions on your data (confused deputy).",
        "Add StringEquals aws:SourceAccount = your account and ArnEquals/ArnLike aws:SourceArn "
        "= arn:<partition>:bedrock:<region>:<account>:model-customization-job/* to the trust.",
        _check_bedrock_confused_deputy,
    ),
    Rule(
        "LLM-GT1",
        "Ground Truth private workforces restrict source IPs.",
        Severity.WARNING,
        "Labeling tasks show training data to workers; a CIDR allow-list keeps them on "
        "corporate networks.",
        "Set SourceIpConfig.Cidrs (LabelingWorkforce option source_ip_cidrs), or acknowledge "
        "LLM-GT1 with the reason your workforce is open.",
        _check_workforce_source_ips,
    ),
]
