"""The shared field types: one rule and one message each, naming field, value and allowed."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.types import (
    AvailabilityZoneId,
    LogRetentionDays,
    RoleArn,
    S3Key,
    S3Prefix,
    TrainingPlanArn,
)


class _Options(FrozenModel):
    prefix: S3Prefix = ""
    key: S3Key = "a.jsonl"
    retention: LogRetentionDays = 365
    zone: AvailabilityZoneId = "use1-az4"
    roles: tuple[RoleArn, ...] = ()
    plan: TrainingPlanArn | None = None


def _message(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        _Options(**fields)
    (error,) = caught.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


@pytest.mark.parametrize(
    ("given", "kept"),
    [("", ""), ("data/", "data/"), ("data", "data/"), ("a/b", "a/b/"), ("a/b/", "a/b/")],
)
def test_a_prefix_names_a_folder(given: str, kept: str) -> None:
    assert _Options(prefix=given).prefix == kept


def test_a_key_is_kept_as_written() -> None:
    assert _Options(key="evaluation/set.jsonl").key == "evaluation/set.jsonl"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prefix": "a/*"}, "prefix 'a/*' must be a literal S3 key prefix; '*' and '?' are not"),
        ({"prefix": "/a/"}, "prefix '/a/' must not start with '/'; S3 keys have no leading slash"),
        ({"key": "a?.jsonl"}, "key 'a?.jsonl' must be a literal S3 key; '*' and '?' are not"),
        ({"retention": 2}, "retention 2 is not a CloudWatch Logs retention period; allowed: 1, 3"),
        ({"zone": "us-east-1a"}, "zone 'us-east-1a' is not an AZ ID; allowed: the form 'use1-az4'"),
        ({"roles": ["admin"]}, "roles 'admin' must be an IAM role ARN 'arn:aws:iam::<account>"),
        ({"plan": "plan-1"}, "plan 'plan-1' must look like 'arn:aws:sagemaker:<region>:<account>"),
    ],
)
def test_messages_name_field_value_and_allowed(fields: dict[str, Any], message: str) -> None:
    assert _message(**fields).startswith(message)


def test_valid_arns_pass() -> None:
    options = _Options(
        roles=("arn:aws:iam::111122223333:role/path/admin",),
        plan="arn:aws:sagemaker:us-east-1:111122223333:training-plan/p5-reserve",
    )
    assert options.roles == ("arn:aws:iam::111122223333:role/path/admin",)


def test_retention_schema_lists_the_allowed_days() -> None:
    schema = _Options.model_json_schema()["properties"]["retention"]
    assert schema["enum"][:3] == [1, 3, 5]
