"""Options of the cross-account promotion constructs: :class:`ModelPromotion` (the account
that trains and approves) and :class:`ModelPromotionTarget` (an account that uses the
approved models)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.types import LOG_RETENTION_DAYS

ACCOUNT_ID = re.compile(r"\d{12}")
PROMOTED_TAG_KEY = "cdk-llm-training-promoted"
"""The S3 object tag that opens an approved artifact to the target accounts."""
PROMOTION_EVENT_SOURCE = "cdk-llm-training.promotion"
PROMOTION_DETAIL_TYPE = "Model Package Promoted"


def _check_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise ValueError(
            f"log_retention_days: {value} is not a CloudWatch Logs retention; allowed: {allowed}"
        )
    return value


def _check_account(value: str, field: str) -> str:
    if not ACCOUNT_ID.fullmatch(value):
        raise ValueError(f"{field}: {value!r} is not an AWS account id (12 digits).")
    return value


class ModelPromotionOptions(FrozenModel):
    """Where approved model packages of a SageMaker adapter group go."""

    target_accounts: tuple[str, ...] = Field(min_length=1, max_length=5)
    """Account ids (12 digits) that receive every approved package: the group is shared
    with them, the approved artifact opened to them, and a promotion event forwarded to
    their default event bus. At most 5 (an EventBridge rule has at most 5 targets)."""
    log_retention_days: int = 365
    """Retention of the promotion workflow's log group. Default 365."""

    @field_validator("target_accounts")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for account in value:
            _check_account(account, "target_accounts")
        if len(set(value)) != len(value):
            raise ValueError(f"target_accounts: {list(value)} lists an account twice.")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return _check_retention(value)


class ModelPromotionTargetOptions(FrozenModel):
    """How an account that uses the approved models records them."""

    source_account: str
    """The account whose :class:`ModelPromotion` sends the promotion events (12 digits)."""
    source_model_package_group_name: str | None = Field(
        default=None, min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    )
    """Only this group of the source account. Default: any group the source account promotes
    (what it shares is still limited by its group policies; the source group's name is
    generated per stack unless set, and a fixed name on a retained group blocks redeploys)."""
    model_package_group_name: str | None = Field(
        default=None, min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    )
    """This account's group for the promoted versions. Default: a name unique to the stack."""
    approval_status: Literal["PendingManualApproval", "Approved"] = "PendingManualApproval"
    """Status of the version registered here: by default the team approves a deployment in
    this account too; ``Approved`` trusts the source account's approval."""
    log_retention_days: int = 365
    """Retention of the workflow's log group. Default 365."""

    @field_validator("source_account")
    @classmethod
    def _account(cls, value: str) -> str:
        return _check_account(value, "source_account")

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return _check_retention(value)
