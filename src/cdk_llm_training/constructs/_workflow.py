"""Pieces shared by the workflow constructs (fine-tune jobs, evaluations): the workflow KMS
key, log retention, where the data lives, notification and dataset-validation states, S3 list
statements scoped to a prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.types import LOG_RETENTION_DAYS
from cdk_llm_training.constructs._bring_your_own import none_with, not_both
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.runtime_function import RuntimeFunction

if TYPE_CHECKING:
    from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

RETENTION: dict[int, logs.RetentionDays] = dict(
    zip(LOG_RETENTION_DAYS, [r for r in logs.RetentionDays if r.name != "INFINITE"], strict=True)
)
"""CloudWatch Logs retention by number of days."""


def lake_buckets(
    owner: str,
    *,
    data_lake: TrainingDataLake | None,
    data_key: kms.IKey | None,
    inputs: tuple[str, s3.IBucket | None],
    outputs: tuple[str, s3.IBucket | None],
) -> tuple[s3.IBucket, s3.IBucket, kms.IKey | None]:
    """(input bucket, output bucket, data key): the lake's curated and artifacts zones and its
    key, or the explicit ``(name, bucket)`` pairs (+ ``data_key``), not both. ``owner`` names
    the construct in the error."""
    because = "the lake supplies its zone buckets and key"
    none_with(owner, ("data_lake", data_lake), dict([inputs, outputs]), because=because)
    not_both(owner, ("data_lake", data_lake), ("data_key", data_key), because=because)
    if data_lake is not None:
        return data_lake.curated_bucket, data_lake.artifacts_bucket, data_lake.key
    (input_name, input_bucket), (output_name, output_bucket) = inputs, outputs
    if input_bucket is not None and output_bucket is not None:
        return input_bucket, output_bucket, data_key
    raise ValueError(
        f"{owner} needs data_lake=, or both {input_name}= and {output_name}=; got neither."
    )


def notify(
    scope: Construct, id: str, *, topic: sns.ITopic, subject: str, message: Mapping[str, Any]
) -> tasks.SnsPublish:
    """A state publishing ``message`` (JSON, JsonPath values allowed) to ``topic``; its output
    is its input."""
    return tasks.SnsPublish(
        scope,
        id,
        topic=topic,
        subject=subject,
        message=sfn.TaskInput.from_object(dict(message)),
        result_path=sfn.JsonPath.DISCARD,
    )


def caught_error_message(result: str = "FAILED", **fields: Any) -> dict[str, Any]:
    """The notification body of a failure caught into ``$.error``: ``result``, the execution,
    ``fields`` (in order), then the caught ``error`` and ``cause``."""
    return {
        "result": result,
        "execution": sfn.JsonPath.execution_id,
        **fields,
        "error": sfn.JsonPath.string_at("$.error.Error"),
        "cause": sfn.JsonPath.string_at("$.error.Cause"),
    }


def notify_and_fail(
    scope: Construct,
    id: str,
    *,
    topic: sns.ITopic,
    subject: str,
    message: Mapping[str, Any],
    fail_id: str,
    error: str,
    cause: str,
) -> sfn.IChainable:
    """:func:`notify`, then end the execution in a ``Fail`` state ``fail_id``."""
    return notify(scope, id, topic=topic, subject=subject, message=message).next(
        sfn.Fail(scope, fail_id, error=error, cause=cause)
    )


def dataset_validation_states(
    scope: Construct, *, validator: lambda_.IFunction, topic: sns.ITopic, subject: str
) -> tuple[tasks.LambdaInvoke, sfn.IChainable]:
    """The ``ValidateDataset`` step (the validator Lambda, result in ``$.validation``) and
    the branch for invalid data: notify with the report's first errors, then ``DatasetInvalid``
    before any job starts."""
    validate = tasks.LambdaInvoke(
        scope,
        "ValidateDataset",
        comment="Stream the JSONL files, check every record, write the report.",
        lambda_function=validator,
        payload_response_only=True,
        result_path="$.validation",
        retry_on_service_exceptions=True,
    )
    invalid = notify_and_fail(
        scope,
        "NotifyDatasetInvalid",
        topic=topic,
        subject=subject,
        message={
            "result": "DATASET_INVALID",
            "execution": sfn.JsonPath.execution_id,
            "jobName": sfn.JsonPath.string_at("$.validation.jobName"),
            "reportS3Uri": sfn.JsonPath.string_at("$.validation.reportS3Uri"),
            "errorCount": sfn.JsonPath.number_at("$.validation.errorCount"),
            "firstErrors": sfn.JsonPath.object_at("$.validation.errors"),
        },
        fail_id="DatasetInvalid",
        error="DatasetInvalid",
        cause="The dataset failed validation; see the report in the artifacts zone.",
    )
    return validate, invalid


def create_dataset_validator(
    scope: Construct,
    *,
    role_description: str,
    description: str,
    handler: str,
    log_retention: logs.RetentionDays,
    log_key: kms.IKey,
    removal_policy: RemovalPolicy,
    dataset_bucket: s3.IBucket,
    dataset_prefix: str,
    report_bucket: s3.IBucket,
    report_prefix: str,
    data_key: kms.IKey | None,
    memory_mib: int,
    timeout_minutes: int,
    environment: Mapping[str, str],
) -> RuntimeFunction:
    """The dataset validator Lambda (``Validator``, with ``ValidatorRole`` and
    ``ValidatorLogs``): it may read and list ``dataset_prefix``, write reports under
    ``report_prefix`` and use ``data_key``. ``environment`` adds to the bucket and prefix
    variables every validator reads."""
    return RuntimeFunction(
        scope,
        "Validator",
        handler=handler,
        description=description,
        role_description=role_description,
        invoked_by="the workflow's lambda:invoke task",
        log_retention=log_retention,
        log_key=log_key,
        removal_policy=removal_policy,
        statements=[
            iam.PolicyStatement(
                sid="ReadDatasets",
                actions=["s3:GetObject"],
                resources=[dataset_bucket.arn_for_objects(f"{dataset_prefix}*")],
            ),
            list_statement(dataset_bucket, dataset_prefix, "ListDatasets"),
            iam.PolicyStatement(
                sid="WriteReports",
                actions=["s3:PutObject"],
                resources=[report_bucket.arn_for_objects(f"{report_prefix}*")],
            ),
        ],
        data_key=data_key,
        memory_mib=memory_mib,
        timeout=Duration.minutes(timeout_minutes),
        environment={
            "DATASET_BUCKET": dataset_bucket.bucket_name,
            "DATASET_PREFIX": dataset_prefix,
            "REPORT_BUCKET": report_bucket.bucket_name,
            "REPORT_PREFIX": report_prefix,
            **environment,
        },
    )


def create_workflow_key(
    scope: Construct, id: str, *, description: str, removal_policy: RemovalPolicy
) -> kms.Key:
    """A rotating KMS key that CloudWatch Logs of this account may use for log groups."""
    key = kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
    )
    allow_cloudwatch_logs(key)
    return key


def list_statement(bucket: s3.IBucket, prefix: str, sid: str) -> iam.PolicyStatement:
    """``s3:ListBucket`` on ``bucket`` limited to keys under ``prefix``."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
    )


def add_list_statement(role: iam.IRole, bucket: s3.IBucket, prefix: str, sid: str) -> None:
    """Adds :func:`list_statement` to ``role``."""
    role.add_to_principal_policy(list_statement(bucket, prefix, sid))
