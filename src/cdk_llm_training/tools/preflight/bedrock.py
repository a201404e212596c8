"""Bedrock model access for every base, teacher, judge and baseline model of the config.

``GetFoundationModelAvailability`` (bedrock:GetFoundationModelAvailability) returns, for a
foundation model id, ``regionAvailability``, ``entitlementAvailability``,
``authorizationStatus`` and ``agreementAvailability.status`` (AVAILABLE, PENDING,
NOT_AVAILABLE, ERROR). Base models are also looked up in ``ListFoundationModels`` filtered by
the customization type the job runs (``byCustomizationType``), which lists the customizable
variants (``amazon.nova-micro-v1:0:128k``).
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from cdk_llm_training.tools.preflight._aws import Context, error_code, guarded
from cdk_llm_training.tools.preflight.model import Finding, Status
from cdk_llm_training.tools.preflight.requirements import (
    BedrockModelNeed,
    ModelRole,
    on_demand_model_id,
)

CHECK = "bedrock-access"

# Cross-Region inference profile ids are a geography prefix on a model id
# (``us.amazon.nova-micro-v1:0``). Prefixes seen in the Bedrock docs; the list is not
# exhaustive (unverified beyond these).
_PROFILE_PREFIX = re.compile(r"^(us|us-gov|eu|apac|ca|jp|au|global)\.(?=[a-z0-9-]+\.)")


def foundation_model_id(model_id: str) -> str | None:
    """The foundation model behind ``model_id`` (without an inference-profile prefix or a
    context-length suffix, which name variants of one model); None for an ARN (profile, custom or
    provisioned model), which this check does not resolve."""
    if model_id.startswith("arn:"):
        return None
    return on_demand_model_id(_PROFILE_PREFIX.sub("", model_id))


def check_bedrock_models(context: Context, needs: list[BedrockModelNeed]) -> list[Finding]:
    """One row per model (and role)."""
    findings: list[Finding] = []
    customizable: dict[str, set[str]] = {}
    seen: set[tuple[str, ModelRole]] = set()
    for need in needs:
        if (need.model_id, need.role) in seen:
            continue
        seen.add((need.model_id, need.role))
        subject = f"{need.role.value} {need.model_id}"
        model_id = foundation_model_id(need.model_id)
        if model_id is None:
            findings.append(
                Finding(
                    CHECK,
                    Status.WARNING,
                    subject,
                    "not checked: an ARN (inference profile, custom or provisioned model); "
                    "check its access in the Bedrock console",
                    "",
                    need.source,
                )
            )
            continue

        def run(need: BedrockModelNeed = need, model_id: str = model_id) -> list[Finding]:
            client = context.clients("bedrock", context.region)
            row = _availability_row(context, client, need, model_id)
            if row.status is Status.PASS and need.customization_type is not None:
                kinds = customizable.get(need.customization_type)
                if kinds is None:
                    kinds = customizable[need.customization_type] = {
                        str(m["modelId"])
                        for m in client.list_foundation_models(
                            byCustomizationType=need.customization_type
                        ).get("modelSummaries", [])
                    }
                if need.model_id not in kinds:
                    return [
                        Finding(
                            CHECK,
                            Status.BLOCKER,
                            f"{need.role.value} {need.model_id}",
                            f"not customizable with {need.customization_type} in {context.region}",
                            f"pick a model id that ListFoundationModels returns for "
                            f"byCustomizationType={need.customization_type} in this Region "
                            f"(`aws bedrock list-foundation-models --by-customization-type "
                            f"{need.customization_type} --region {context.region}`)",
                            need.source,
                        )
                    ]
            return [row]

        findings += guarded(
            CHECK,
            subject,
            "bedrock:GetFoundationModelAvailability and bedrock:ListFoundationModels",
            run,
            need.source,
        )
    return findings


def _access_page(context: Context) -> str:
    return (
        f"https://{context.region}.console.aws.amazon.com/bedrock/home?region={context.region}"
        "#/modelaccess"
    )


def _availability_row(
    context: Context, client: Any, need: BedrockModelNeed, model_id: str
) -> Finding:
    subject = f"{need.role.value} {need.model_id}"
    try:
        response = client.get_foundation_model_availability(modelId=model_id)
    except ClientError as error:
        if error_code(error) in ("ResourceNotFoundException", "ValidationException"):
            return Finding(
                CHECK,
                Status.BLOCKER,
                subject,
                f"no foundation model {model_id!r} in {context.region}",
                "use a model id that `aws bedrock list-foundation-models --region "
                f"{context.region}` lists, or deploy in a Region that offers it",
                need.source,
            )
        raise
    region = response.get("regionAvailability")
    entitlement = response.get("entitlementAvailability")
    authorization = response.get("authorizationStatus")
    agreement = response.get("agreementAvailability", {}) or {}
    agreement_status = agreement.get("status")
    state = (
        f"region {region}, entitlement {entitlement}, authorization {authorization}, "
        f"agreement {agreement_status}"
    )
    if region == "NOT_AVAILABLE":
        return Finding(
            CHECK,
            Status.BLOCKER,
            subject,
            f"not available in {context.region} ({state})",
            "deploy in a Region that offers the model, or pick another model",
            need.source,
        )
    if entitlement == "NOT_AVAILABLE" or authorization == "NOT_AUTHORIZED":
        return Finding(
            CHECK,
            Status.BLOCKER,
            subject,
            f"no access ({state})",
            f"request access to {model_id} on the Bedrock model access page "
            f"{_access_page(context)}; if access is granted, check the IAM policies and "
            "SCPs of the account for bedrock actions on this model",
            need.source,
        )
    if agreement_status == "ERROR":
        message = agreement.get("errorMessage", "")
        return Finding(
            CHECK,
            Status.BLOCKER,
            subject,
            f"model agreement failed: {message} ({state})".replace(":  (", " ("),
            f"accept the model's offer again on the Bedrock model access page "
            f"{_access_page(context)}",
            need.source,
        )
    if agreement_status in ("PENDING", "NOT_AVAILABLE"):
        return Finding(
            CHECK,
            Status.WARNING,
            subject,
            f"model agreement {agreement_status} ({state}); models sold through AWS "
            "Marketplace fail until their offer is accepted",
            f"accept the model's offer on the Bedrock model access page {_access_page(context)}",
            need.source,
        )
    return Finding(CHECK, Status.PASS, subject, state, source=need.source)
