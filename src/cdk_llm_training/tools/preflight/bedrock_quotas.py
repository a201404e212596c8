"""Bedrock quotas of the opt-in workflows: batch inference for synthetic data, and the
inference route the evaluation buys for a new custom model.

Batch limits are read with the synthetic-data runtime's own lookup
(:mod:`cdk_llm_training.assets.runtime.batch_limits`: by name, ``ListServiceQuotas`` only), so
preflight reports the same limits the workflow checks before ``CreateModelInvocationJob``.

Evaluation routes (see :mod:`cdk_llm_training.config.catalogs.custom_model_deployment`):

- provisioned throughput needs model units in the quota "Model units no-commitment Provisioned
  Throughputs across custom models" (the Bedrock guide, "Purchase a Provisioned Throughput",
  says model units must be granted before a purchase; the exact name and code L-BE77399C are
  the ones public guides and tools use, not confirmed on an AWS documentation page:
  unverified);
- on-demand needs the base model, Region and metrics the evaluation accepts (the same
  ``resolve_inference`` rule synthesis applies; lists from the Bedrock user guide). No AWS
  page found names a custom model deployment quota, so any Bedrock quota whose name contains
  "custom model deployment" is reported (unverified).
"""

from __future__ import annotations

from typing import Any

from cdk_llm_training.assets.runtime import batch_limits
from cdk_llm_training.config.catalogs.custom_model_deployment import (
    EvaluationInference,
    resolve_inference,
)
from cdk_llm_training.tools.preflight._aws import Context, guarded, pages
from cdk_llm_training.tools.preflight.model import Finding, Status
from cdk_llm_training.tools.preflight.quotas import QuotaBook, request_fix
from cdk_llm_training.tools.preflight.requirements import (
    BedrockBatchNeed,
    CustomModelInferenceNeed,
)

BATCH_CHECK = "bedrock-batch-quota"
EVALUATION_CHECK = "bedrock-evaluation-inference"
NO_COMMITMENT_UNITS = "Model units no-commitment Provisioned Throughputs across custom models"
DEPLOYMENT_QUOTA_WORDS = "custom model deployment"
_QUOTA_ACTIONS = "servicequotas:ListServiceQuotas and servicequotas:ListAWSDefaultServiceQuotas"


def check_bedrock_batch(context: Context, needs: list[BedrockBatchNeed]) -> list[Finding]:
    """One row per batch model: the per-model limits found by name, a blocker when the
    quota's minimum record count exceeds the configured ``max_records`` (no job could run)."""
    unique = {need.model_id: need for need in needs}
    if not unique:
        return []

    def run() -> list[Finding]:
        client = context.clients("service-quotas", context.region)
        quotas = batch_limits.list_bedrock_quotas(client)
        return [_batch_row(context, quotas, need) for need in unique.values()]

    return guarded(BATCH_CHECK, "Bedrock batch quotas", "servicequotas:ListServiceQuotas", run)


def _batch_row(context: Context, quotas: list[dict[str, Any]], need: BedrockBatchNeed) -> Finding:
    subject = f"batch inference {need.model_id}"
    if need.quota_model_name is None:
        return Finding(
            BATCH_CHECK,
            Status.WARNING,
            subject,
            "not checked: the model's name in the batch quota names is not known",
            "add the model to synthetic.quota_model_names (its name as the Service Quotas "
            "console shows it after 'Records per batch inference job for')",
            need.source,
        )
    found = batch_limits.quota_values(quotas, need.quota_model_name)
    if not found:
        return Finding(
            BATCH_CHECK,
            Status.WARNING,
            subject,
            f"no batch quota named '... for {need.quota_model_name}' in {context.region}; "
            "the workflow falls back to the configured limits",
            "check the name in synthetic.quota_model_names against the Service Quotas "
            "console, or whether the model offers batch inference in this Region",
            need.source,
        )
    detail = ", ".join(f"{limit} {value:g}" for limit, value in sorted(found.items()))
    minimum = found.get("min_records")
    if minimum is not None and minimum > need.max_records:
        return Finding(
            BATCH_CHECK,
            Status.BLOCKER,
            subject,
            f"{detail}: the quota's minimum records exceeds max_records {need.max_records}",
            f"raise synthetic.max_records to at least {minimum:g}",
            need.source,
        )
    return Finding(BATCH_CHECK, Status.PASS, subject, detail, source=need.source)


def check_evaluation_inference(
    context: Context, needs: list[CustomModelInferenceNeed]
) -> list[Finding]:
    """Per evaluated base model: the route the Region resolves to, and its quota."""
    findings: list[Finding] = []
    for need in needs:
        try:
            route = resolved_route(need, context.region)
        except ValueError as error:
            findings.append(
                Finding(
                    EVALUATION_CHECK,
                    Status.BLOCKER,
                    f"evaluation of {need.base_model_id} (on-demand)",
                    str(error),
                    "set evaluation_inference to 'auto' or 'provisioned', or deploy in a "
                    "Region with custom model deployments",
                    need.source,
                )
            )
            continue
        subject = f"evaluation of {need.base_model_id} ({route.value})"

        def run(
            need: CustomModelInferenceNeed = need,
            route: EvaluationInference = route,
            subject: str = subject,
        ) -> list[Finding]:
            client = context.clients("service-quotas", context.region)
            if route is EvaluationInference.ON_DEMAND:
                return [_deployment_row(context, client, need, subject)]
            return [_units_row(context, client, need, subject)]

        findings += guarded(EVALUATION_CHECK, subject, _QUOTA_ACTIONS, run, need.source)
    return findings


def resolved_route(need: CustomModelInferenceNeed, region: str) -> EvaluationInference:
    """The route the evaluation takes in ``region``: the rule synthesis applies
    (``resolve_inference``). Raises ``ValueError`` for ``on-demand`` where it cannot work."""
    return resolve_inference(
        need.route,
        base_model_id=need.base_model_id,
        region=region,
        algorithmic_metrics=need.algorithmic_metrics,
    )


def _units_row(
    context: Context, client: Any, need: CustomModelInferenceNeed, subject: str
) -> Finding:
    quota = QuotaBook(client, "bedrock").find(NO_COMMITMENT_UNITS)
    if quota is None:
        return Finding(
            EVALUATION_CHECK,
            Status.WARNING,
            subject,
            f"quota '{NO_COMMITMENT_UNITS}' not found in {context.region} (name unverified)",
            "check the no-commitment model unit quotas in the Service Quotas console",
            need.source,
        )
    value = float(quota.get("Value", 0))
    detail = f"{NO_COMMITMENT_UNITS}: quota {value:g}, evaluation buys {need.model_units}"
    if value >= need.model_units:
        return Finding(EVALUATION_CHECK, Status.PASS, subject, detail, source=need.source)
    return Finding(
        EVALUATION_CHECK,
        Status.BLOCKER,
        subject,
        detail,
        request_fix(context, "bedrock", quota, need.model_units),
        need.source,
    )


def _deployment_row(
    context: Context, client: Any, need: CustomModelInferenceNeed, subject: str
) -> Finding:
    matches = [
        q
        for q in pages(client, "list_service_quotas", "Quotas", ServiceCode="bedrock")
        if DEPLOYMENT_QUOTA_WORDS in str(q.get("QuotaName", "")).lower()
    ]
    if not matches:
        return Finding(
            EVALUATION_CHECK,
            Status.WARNING,
            subject,
            f"Region supports custom model deployments; no applied Bedrock quota named like "
            f"'{DEPLOYMENT_QUOTA_WORDS}' found (quota name unverified)",
            "check the custom model deployment quotas in the Service Quotas console",
            need.source,
        )
    empty = [q for q in matches if float(q.get("Value", 0)) < 1]
    detail = ", ".join(f"{q['QuotaName']} {float(q.get('Value', 0)):g}" for q in matches)
    if empty:
        return Finding(
            EVALUATION_CHECK,
            Status.BLOCKER,
            subject,
            detail,
            request_fix(context, "bedrock", empty[0], 1),
            need.source,
        )
    return Finding(EVALUATION_CHECK, Status.PASS, subject, detail, source=need.source)
