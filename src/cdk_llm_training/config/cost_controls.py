"""Options of :class:`cdk_llm_training.CostControls`: the tier stack's monitoring section
(dashboard, alarms, monthly budget, cost-allocation tags)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.training_alarms import AlarmOptions

# AWS tag values: letters, numbers, spaces and _ . : / = + - @ (up to 256 characters).
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{1,256}$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")


class BudgetOptions(FrozenModel):
    """The AWS Budgets cost budget of a stack. Defaults: USD 100 a month, alerts at 80 % and
    100 % of actual spend and at 100 % of forecast spend, scoped to the stack's ``stack``
    cost-allocation tag."""

    enabled: bool = True
    """Create the budget. Default True."""

    monthly_limit_usd: float = Field(default=100.0, gt=0)
    """Monthly budget, USD. Default 100."""

    actual_alert_percents: tuple[float, ...] = Field(default=(80.0, 100.0), max_length=5)
    """Alert when actual spend passes each of these percentages of the budget."""

    forecast_alert_percent: float | None = Field(default=100.0, gt=0)
    """Alert when forecast spend passes this percentage. None: no forecast alert."""

    scope_to_stack_tag: bool = True
    """Count only costs tagged ``stack=<stack name>`` (activate the tag as a cost-allocation
    tag in the Billing console first). False: the whole account's costs."""

    @field_validator("actual_alert_percents")
    @classmethod
    def _check_percents(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        bad = [p for p in value if not p > 0]
        if bad:
            raise ValueError(f"actual_alert_percents {list(value)} must all be > 0")
        return value


class CostTagOptions(FrozenModel):
    """Cost-allocation tags applied once at stack level (so every taggable resource carries
    them). The stack adds ``tier`` and ``stack`` itself."""

    project: str = "cdk-llm-training"
    """Value of the ``project`` tag."""

    owner: str = "unassigned"
    """Value of the ``owner`` tag: a team or person to ask about the cost."""

    extra: dict[str, str] = Field(default_factory=dict)
    """More tags, key to value (for example ``cost-center``)."""

    @field_validator("project", "owner")
    @classmethod
    def _check_value(cls, value: str) -> str:
        if not _TAG_VALUE.match(value):
            raise ValueError(
                f"tag value {value!r} is not valid; allowed: 1-256 letters, digits, spaces "
                "and _ . : / = + - @"
            )
        return value

    @field_validator("extra")
    @classmethod
    def _check_extra(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if not _TAG_KEY.match(key) or key.lower().startswith("aws:"):
                raise ValueError(
                    f"tag key {key!r} is not valid; allowed: 1-128 letters, digits, spaces "
                    "and _ . : / = + - @, not starting with 'aws:'"
                )
            if not _TAG_VALUE.match(tag_value):
                raise ValueError(
                    f"tag value {tag_value!r} of {key!r} is not valid; allowed: 1-256 "
                    "letters, digits, spaces and _ . : / = + - @"
                )
        return value


class ObservabilityOptions(FrozenModel):
    """Dashboard, alarms, budget and cost tags of a tier stack."""

    dashboard: bool = True
    """Create the CloudWatch dashboard (USD 3 a month beyond the free three). Default True."""

    alarms: AlarmOptions = AlarmOptions()
    """Alarm thresholds and e-mail."""

    budget: BudgetOptions = BudgetOptions()
    """Monthly budget and its alerts."""

    tags: CostTagOptions = CostTagOptions()
    """Cost-allocation tags."""
