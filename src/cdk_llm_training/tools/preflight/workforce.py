"""The private SageMaker workforce: AWS allows one per account and Region.

``ListWorkforces`` (sagemaker:ListWorkforces) returns the account's private workforce, if any,
in the Region. A config that imports one needs it to exist; a config that creates one fails to
deploy when one exists already.
"""

from __future__ import annotations

from typing import Any

from cdk_llm_training.tools.preflight._aws import Context, guarded, pages
from cdk_llm_training.tools.preflight.model import Finding, Status
from cdk_llm_training.tools.preflight.requirements import WorkforceNeed

CHECK = "workforce"
_CREATE_MODES = ("cognito", "oidc")
_CONSOLE = "SageMaker console > Ground Truth > Labeling workforces > Private"


def check_workforces(context: Context, needs: list[WorkforceNeed]) -> list[Finding]:
    """One row per stack that uses a workforce."""
    if not needs:
        return []

    def run() -> list[Finding]:
        client = context.clients("sagemaker", context.region)
        existing = list(pages(client, "list_workforces", "Workforces"))
        return [_row(context, need, existing) for need in needs]

    return guarded(CHECK, "private workforce", "sagemaker:ListWorkforces", run)


def _row(context: Context, need: WorkforceNeed, existing: list[dict[str, Any]]) -> Finding:
    names = [str(w["WorkforceName"]) for w in existing]
    found = next((w for w in existing if w["WorkforceName"] == need.name), None)
    subject = f"workforce {need.name!r} (mode {need.mode})"
    if need.mode == "import":
        if found is None:
            hint = (
                f"set {need.source}.name: {names[0]} (the workforce this account has)"
                if names
                else f"create the private workforce in the {_CONSOLE}, or set "
                f"{need.source}.mode: cognito so the stack creates it"
            )
            return Finding(
                CHECK,
                Status.BLOCKER,
                subject,
                f"no workforce named {need.name!r} in {context.region}"
                + (f" (the account has {', '.join(names)})" if names else ""),
                hint,
                need.source,
            )
        status = str(found.get("Status", "Active"))
        if status != "Active":
            return Finding(
                CHECK,
                Status.WARNING,
                subject,
                f"exists but its status is {status}",
                f"wait until it is Active, or see its failure reason in the {_CONSOLE}",
                need.source,
            )
        return Finding(
            CHECK, Status.PASS, subject, "exists; the stack imports it", source=need.source
        )
    if need.mode in _CREATE_MODES:
        if names:
            return Finding(
                CHECK,
                Status.BLOCKER,
                subject,
                f"the account already has the private workforce {names[0]!r} in "
                f"{context.region}; AWS allows one per account and Region, so creating "
                "another fails the deploy",
                f"set {need.source}.mode: import and {need.source}.name: {names[0]}"
                + _cognito_hint(existing[0], need.source),
                need.source,
            )
        return Finding(
            CHECK,
            Status.PASS,
            subject,
            f"no private workforce in {context.region}; the stack creates it",
            source=need.source,
        )
    detail = (
        f"the account has {', '.join(repr(n) for n in names)}"
        if names
        else "the account has no private workforce"
    )
    return Finding(
        CHECK, Status.PASS, subject, f"{detail}; mode {need.mode} decides", source=need.source
    )


def _cognito_hint(workforce: dict[str, Any], source: str) -> str:
    cognito = workforce.get("CognitoConfig") or {}
    if not cognito.get("UserPool") or not cognito.get("ClientId"):
        return ""
    return (
        f" (to build teams from Cognito groups also set {source}.cognito_user_pool_id: "
        f"{cognito['UserPool']} and {source}.cognito_client_id: {cognito['ClientId']})"
    )
