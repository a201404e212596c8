"""Field types every options module shares: one rule, one message, one schema each.

Each type is an ``Annotated`` alias: use it as a field's annotation and the rule applies, with a
message that names the field, the value received and what is allowed.

S3 prefixes follow one policy: a prefix names a folder, so a value without a trailing ``/``
gets one (``finetune`` and ``finetune/`` are the same setting); the empty prefix means the
whole bucket where a field allows it; no leading ``/`` (S3 keys have none) and no ``*`` or ``?``
(IAM would read them as wildcards). Every value the older per-module rules accepted still
loads: a value that already ended with ``/`` is unchanged.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, WithJsonSchema

from cdk_llm_training.config.vocabulary import ADAPTER_METHODS, TrainingMethod

LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
"""Retention periods CloudWatch Logs accepts, in days (every log group option uses these)."""

AZ_ID_PATTERN = re.compile(r"^[a-z]{2,4}[0-9]{1,2}(-[a-z0-9]+)?-az[0-9]{1,2}$")
"""An Availability Zone ID (``use1-az4``), the same zone in every account."""

ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
"""An IAM role ARN in any partition, with or without a path."""

TRAINING_PLAN_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:training-plan/[a-zA-Z0-9-]+$"
)
"""A SageMaker training plan ARN (reserved capacity)."""


def _field(info: ValidationInfo) -> str:
    return info.field_name or "value"


def _log_retention(value: int, info: ValidationInfo) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"{_field(info)} {value} is not a CloudWatch Logs retention period; "
            f"allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return value


LogRetentionDays = Annotated[
    int,
    AfterValidator(_log_retention),
    Field(json_schema_extra={"enum": list(LOG_RETENTION_DAYS)}),
]
"""Days a CloudWatch Logs log group keeps events: one of :data:`LOG_RETENTION_DAYS`."""


def check_literal_key(field: str, value: str, *, what: str = "S3 key prefix") -> str:
    """``value`` if it is a literal S3 key (prefix): no wildcard, no leading slash."""
    if "*" in value or "?" in value:
        raise ValueError(f"{field} {value!r} must be a literal {what}; '*' and '?' are not allowed")
    if value.startswith("/"):
        raise ValueError(
            f"{field} {value!r} must not start with '/'; S3 keys have no leading slash"
        )
    return value


def as_folder(value: str) -> str:
    """``value`` with one trailing ``/`` (the empty prefix stays empty)."""
    return value if not value or value.endswith("/") else f"{value}/"


def _s3_prefix(value: str, info: ValidationInfo) -> str:
    return as_folder(check_literal_key(_field(info), value))


def _s3_key(value: str, info: ValidationInfo) -> str:
    return check_literal_key(_field(info), value, what="S3 key")


_LITERAL_KEY_SCHEMA = {"pattern": r"^(?!/)[^*?]*$"}

S3Prefix = Annotated[str, AfterValidator(_s3_prefix), Field(json_schema_extra=_LITERAL_KEY_SCHEMA)]
"""A folder of a bucket (see the module's prefix policy): ``/`` is appended when missing."""

S3Key = Annotated[str, AfterValidator(_s3_key), Field(json_schema_extra=_LITERAL_KEY_SCHEMA)]
"""One object's key: literal, no leading ``/``, kept as written."""


def _az_id(value: str, info: ValidationInfo) -> str:
    if not AZ_ID_PATTERN.match(value):
        raise ValueError(
            f"{_field(info)} {value!r} is not an AZ ID; allowed: the form 'use1-az4' "
            "(region code, '-az', number), not an AZ name like 'us-east-1a'"
        )
    return value


AvailabilityZoneId = Annotated[str, AfterValidator(_az_id)]
"""An Availability Zone ID such as ``use1-az4`` (not an AZ name such as ``us-east-1a``)."""


def _role_arn(value: str, info: ValidationInfo) -> str:
    if not ROLE_ARN_PATTERN.match(value):
        raise ValueError(
            f"{_field(info)} {value!r} must be an IAM role ARN 'arn:aws:iam::<account>:role/<name>'"
        )
    return value


RoleArn = Annotated[str, AfterValidator(_role_arn)]
"""An IAM role ARN: ``arn:aws:iam::<account>:role/<name>`` (any partition, optional path)."""


def _training_plan_arn(value: str, info: ValidationInfo) -> str:
    if not TRAINING_PLAN_ARN_PATTERN.match(value):
        raise ValueError(
            f"{_field(info)} {value!r} must look like "
            "'arn:aws:sagemaker:<region>:<account>:training-plan/<name>'"
        )
    return value


TrainingPlanArn = Annotated[str, AfterValidator(_training_plan_arn)]
"""A SageMaker training plan ARN: ``arn:aws:sagemaker:<region>:<account>:training-plan/<name>``."""


def _adapter_method(value: Any, info: ValidationInfo) -> Any:
    allowed = [method.value for method in ADAPTER_METHODS]
    if isinstance(value, str) and value not in allowed:
        raise ValueError(
            f"{_field(info)} {value!r} is not an adapter method; allowed: "
            + " or ".join(repr(name) for name in allowed)
        )
    return value


AdapterMethod = Annotated[
    TrainingMethod,
    BeforeValidator(_adapter_method),
    WithJsonSchema(
        {
            "enum": [method.value for method in ADAPTER_METHODS],
            "title": "AdapterMethod",
            "description": "How the adapter is trained.",
            "type": "string",
        }
    ),
]
"""A :class:`TrainingMethod` that trains adapters: ``lora`` or ``qlora``."""
