"""What both promotion workflows share: key, topic, logged state machine, SDK task states."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs._workflow import RETENTION, create_workflow_key, notify
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs

SDK_RETRY_ERRORS = ("SageMaker.ThrottlingException", "States.Timeout")


def notifications(
    scope: Construct,
    *,
    key: kms.IKey | None,
    topic: sns.ITopic | None,
    name: str,
    removal_policy: RemovalPolicy,
) -> tuple[kms.IKey, sns.ITopic]:
    """``key`` (or ``Key``: rotating, usable by CloudWatch Logs) and ``topic`` (or ``Topic``:
    encrypted with it, TLS-only)."""
    workflow_key = key or create_workflow_key(
        scope,
        "Key",
        description=f"Encrypts the {name} workflow's topic and log group.",
        removal_policy=removal_policy,
    )
    allow_cloudwatch_logs(workflow_key)
    workflow_topic = topic or sns.Topic(
        scope,
        "Topic",
        display_name=f"{name} notifications",
        master_key=workflow_key,
        enforce_ssl=True,
    )
    return workflow_key, workflow_topic


def sdk_task(
    scope: Construct,
    id: str,
    *,
    action: str,
    comment: str,
    parameters: Mapping[str, Any],
    on_failure: sfn.IChainable,
    result_path: str | None = None,
    result_selector: Mapping[str, Any] | None = None,
) -> sfn.CustomState:
    """A ``Task`` on ``aws-sdk:<action>`` (e.g. ``sagemaker:describeModelPackage``), retried
    on throttling, every error caught into ``$.error`` and sent to ``on_failure``; the result
    in ``result_path`` (default ``$.results.<id>``)."""
    state_json: dict[str, Any] = {
        "Type": "Task",
        "Comment": comment,
        "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:{action}",
        "Parameters": dict(parameters),
    }
    if result_selector is not None:
        state_json["ResultSelector"] = dict(result_selector)
    # A custom state cannot render ``"ResultPath": null`` (None is dropped, which would mean
    # "$" and replace the input): a discarded result goes under ``$.results.<id>``.
    state_json["ResultPath"] = result_path or f"$.results.{id}"
    state = sfn.CustomState(scope, id, state_json=state_json)
    state.add_retry(
        errors=list(SDK_RETRY_ERRORS), interval=Duration.seconds(5), backoff_rate=2, max_attempts=3
    )
    state.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")
    return state


def notify_done(
    scope: Construct,
    id: str,
    *,
    topic: sns.ITopic,
    subject: str,
    message: Mapping[str, Any],
    end_id: str,
) -> sfn.IChainable:
    """Notify ``message``, then succeed in ``end_id``."""
    return notify(scope, id, topic=topic, subject=subject, message=message).next(
        sfn.Succeed(scope, end_id)
    )


def logged_state_machine(
    scope: Construct,
    *,
    comment: str,
    definition: sfn.IChainable,
    key: kms.IKey,
    retention_days: int,
    removal_policy: RemovalPolicy,
    statements: list[iam.PolicyStatement],
) -> sfn.StateMachine:
    """``Resource``: a Standard state machine with X-Ray tracing and logging (ALL, with
    execution data) to ``WorkflowLogs`` encrypted by ``key``; its role gets ``statements``
    and may publish to the key's encrypted topic."""
    machine = sfn.StateMachine(
        scope,
        "Resource",
        comment=comment,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=logs.LogGroup(
                scope,
                "WorkflowLogs",
                retention=RETENTION[retention_days],
                encryption_key=key,
                removal_policy=removal_policy,
            ),
            level=sfn.LogLevel.ALL,
            include_execution_data=True,
        ),
    )
    for statement in statements:
        machine.add_to_role_policy(statement)
    key.grant(machine, "kms:Decrypt", "kms:GenerateDataKey*")
    return machine


def events_role(scope: Construct, id: str, *, description: str) -> iam.Role:
    """A role EventBridge assumes for a rule target. EventBridge sends the rule's ARN as
    ``aws:SourceArn`` ("Cross-service confused deputy prevention in Amazon EventBridge"):
    limited to this account's rules (naming the rule would make role and rule depend on each
    other)."""
    return iam.Role(
        scope,
        id,
        description=description,
        assumed_by=service_principal_from(
            "events.amazonaws.com", this_account_arn("events", "rule/*")
        ),
    )
