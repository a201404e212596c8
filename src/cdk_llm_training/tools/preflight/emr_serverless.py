"""The EMR Serverless vCPU quota against the curation application's maximum capacity.

All EMR Serverless applications of an account share one Region-wide quota, "Max concurrent
vCPUs per account" (service code ``emr-serverless``; name and default 16 from the EMR
Serverless User Guide, "Endpoints and quotas for EMR Serverless"). Its code (L-D05C8A75 in
public tools) is on no AWS page found, hence unverified: the quota is read by name, like the
others, and the code comes back with it. A job run over the quota waits or fails after it
was started; an application whose maximum capacity exceeds the quota deploys but can never
reach it.
"""

from __future__ import annotations

from cdk_llm_training.config.data_curation import EMR_MIN_CAPACITY
from cdk_llm_training.tools.preflight._aws import Context, guarded
from cdk_llm_training.tools.preflight.model import Finding, Status
from cdk_llm_training.tools.preflight.quotas import QuotaBook, request_fix
from cdk_llm_training.tools.preflight.requirements import EmrServerlessNeed

CHECK = "emr-serverless-quota"
SERVICE_CODE = "emr-serverless"
VCPU_QUOTA_NAME = "Max concurrent vCPUs per account"


def check_emr_serverless(context: Context, needs: list[EmrServerlessNeed]) -> list[Finding]:
    """One row: the applications' maximum vCPUs together vs the account quota. Below one
    job's minimum (a driver and an executor) nothing runs (blocker); below the total the
    applications stop scaling before their maximum capacity (warning)."""
    if not needs:
        return []
    total = sum(need.maximum_vcpu for need in needs)
    source = ", ".join(need.source for need in needs)

    def run() -> list[Finding]:
        book = QuotaBook(context.clients("service-quotas", context.region), SERVICE_CODE)
        quota = book.find(VCPU_QUOTA_NAME)
        if quota is None:
            return [
                Finding(
                    CHECK,
                    Status.WARNING,
                    VCPU_QUOTA_NAME,
                    f"quota not found in {context.region}; the config scales to {total} vCPUs "
                    "(EMR Serverless may not be offered in this Region)",
                    "check EMR Serverless in the Service Quotas console for the Region",
                    source,
                )
            ]
        value = float(quota.get("Value", 0))
        detail = f"quota {value:g} vCPUs, maximum capacity {total} vCPUs"
        if value >= total:
            return [Finding(CHECK, Status.PASS, VCPU_QUOTA_NAME, detail, source=source)]
        status = Status.BLOCKER if value < EMR_MIN_CAPACITY["vcpu"] else Status.WARNING
        fix = request_fix(context, SERVICE_CODE, quota, total)
        return [Finding(CHECK, status, VCPU_QUOTA_NAME, detail, fix, source)]

    return guarded(
        CHECK,
        VCPU_QUOTA_NAME,
        "servicequotas:ListServiceQuotas and servicequotas:ListAWSDefaultServiceQuotas",
        run,
        source,
    )
