"""Cost-allocation tag activation for the budgets (Cost Explorer, read-only).

A budget filtered on ``user:stack$<stack name>`` counts nothing until the ``stack`` tag is an
active cost-allocation tag. ``ListCostAllocationTags`` (ce:ListCostAllocationTags) returns a
user-defined tag key once billing data has seen it, with ``Status`` Active or Inactive. Cost
Explorer's endpoint is in us-east-1 whatever the stacks' Region.
"""

from __future__ import annotations

from cdk_llm_training.tools.preflight._aws import Context, guarded, pages
from cdk_llm_training.tools.preflight.model import Finding, Status
from cdk_llm_training.tools.preflight.requirements import CostTagNeed

CHECK = "cost-allocation-tag"
COST_EXPLORER_REGION = "us-east-1"
_TAGS_PAGE = "https://us-east-1.console.aws.amazon.com/billing/home#/tags"


def check_cost_tags(context: Context, needs: list[CostTagNeed]) -> list[Finding]:
    """One row per tag key the budgets filter on (a warning: the deploy itself succeeds)."""
    keys: dict[str, list[CostTagNeed]] = {}
    for need in needs:
        keys.setdefault(need.tag_key, []).append(need)
    if not keys:
        return []

    def run() -> list[Finding]:
        ce = context.clients("ce", COST_EXPLORER_REGION)
        found = {
            str(tag["TagKey"]): str(tag.get("Status"))
            for tag in pages(
                ce,
                "list_cost_allocation_tags",
                "CostAllocationTags",
                TagKeys=sorted(keys),
                Type="UserDefined",
            )
        }
        rows: list[Finding] = []
        for key, members in keys.items():
            stacks = ", ".join(n.stack for n in members)
            source = ", ".join(n.source for n in members)
            subject = f"tag {key!r} (budgets of {stacks})"
            activate = (
                f"activate {key!r} in the Billing console's cost allocation tags page "
                f"{_TAGS_PAGE} or `aws ce update-cost-allocation-tags-status "
                f"--cost-allocation-tags-status TagKey={key},Status=Active`"
            )
            status = found.get(key)
            if status == "Active":
                rows.append(Finding(CHECK, Status.PASS, subject, "active", source=source))
            elif status is None:
                rows.append(
                    Finding(
                        CHECK,
                        Status.WARNING,
                        subject,
                        "not seen in billing data yet, so the budgets count nothing; the "
                        "key appears up to 24 hours after tagged resources exist",
                        f"after the first deploy, {activate}",
                        source,
                    )
                )
            else:
                rows.append(
                    Finding(
                        CHECK,
                        Status.WARNING,
                        subject,
                        f"{status}: the budgets count nothing until it is active",
                        activate,
                        source,
                    )
                )
        return rows

    return guarded(CHECK, "cost-allocation tags", "ce:ListCostAllocationTags", run)
