"""Options of :class:`cdk_llm_training.TrainingAlarms`: alarm thresholds and e-mail (and the
FSx metric period the dashboard shares)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from cdk_llm_training.config.base import FrozenModel

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FSX_METRIC_PERIOD_MINUTES = 5
"""Period of the FSx alarms' metrics (FSx for Lustre publishes every minute; 5 minutes
smooths bursts)."""


class AlarmOptions(FrozenModel):
    """Alarm thresholds and who hears about them. Defaults alarm on every failure signal the
    construct is given, with no e-mail subscription (subscribe to the topic yourself)."""

    email: str | None = None
    """Address subscribed to the alarm topic (it must confirm the subscription). Default None:
    no subscription."""

    fsx_free_capacity_percent: float = Field(default=10.0, gt=0, lt=100)
    """Alarm when an FSx file system's free capacity falls below this share of its capacity.
    Default 10 %."""

    fsx_throughput_percent: float = Field(default=90.0, gt=0, le=100)
    """Alarm when read + write throughput stays above this share of the file system's
    baseline throughput (capacity x tier) for ``fsx_throughput_sustained_minutes``.
    Default 90 %."""

    fsx_throughput_sustained_minutes: int = Field(default=30, ge=5, le=1440)
    """How long throughput must stay above ``fsx_throughput_percent`` before the alarm
    fires, a multiple of 5 minutes. Default 30 minutes."""

    workflow_failures: bool = True
    """Alarm on failed executions of every state machine given. Default True."""

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"email {value!r} is not an e-mail address; allowed: name@domain")
        return value

    @field_validator("fsx_throughput_sustained_minutes")
    @classmethod
    def _check_minutes(cls, value: int) -> int:
        if value % FSX_METRIC_PERIOD_MINUTES:
            raise ValueError(
                f"fsx_throughput_sustained_minutes {value} is not a multiple of "
                f"{FSX_METRIC_PERIOD_MINUTES}; allowed: 5, 10, 15, ... 1440"
            )
        return value
