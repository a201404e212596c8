"""FineTuneWorkflow: the skeleton both fine-tune workflows are built on.

:class:`BedrockFineTuneJob` and :class:`SageMakerFineTuneJob` are the same Step Functions
Standard workflow around a different job: ``ValidateDataset`` (a Lambda that streams the JSONL
files and writes a report) -> ``DatasetValid?`` (invalid: ``NotifyDatasetInvalid`` ->
``DatasetInvalid``, no job) -> the job, with or without validation data -> ... ->
``NotifySucceeded`` -> ``Done``; failures are caught into ``$.error`` and notified. The
skeleton builds that shape and what it needs (workflow key, topic, validator, state machine
with its log group, the workflow role's shared grants, nag acknowledgements) as children of
the construct, at the paths both constructs have always used, so logical IDs do not move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.constructs._acknowledge import acknowledge_wildcards
from cdk_llm_training.constructs._workflow import (
    RETENTION,
    create_dataset_validator,
    create_workflow_key,
    dataset_validation_states,
    notify,
    notify_and_fail,
)
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.runtime_function import RuntimeFunction

JOB_NETWORK_DESCRIBE_ACTIONS = (
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)
"""What the job service's role needs on ``*`` to place a job's network interfaces in a VPC
(Bedrock and SageMaker both list them for jobs in a VPC)."""

VALIDATOR_WILDCARD_REASON = (
    "Object access is limited to the dataset and report key prefixes (prefix*), the only way "
    "to name the datasets and reports of future executions."
)


def catch_all(state: sfn.TaskStateBase | sfn.CustomState, handler: sfn.IChainable) -> None:
    """How every task of the workflow fails: all errors caught into ``$.error``, to
    ``handler``."""
    state.add_catch(handler, errors=["States.ALL"], result_path="$.error")


class FineTuneOptions(Protocol):
    """The option fields the skeleton reads (``BedrockFineTuneOptions`` and
    ``SageMakerFineTuneOptions`` both have them)."""

    @property
    def log_retention_days(self) -> int: ...
    @property
    def dataset_prefix(self) -> str: ...
    @property
    def report_prefix(self) -> str: ...
    @property
    def validator_memory_mib(self) -> int: ...
    @property
    def validator_timeout_minutes(self) -> int: ...


class WorkflowHook(Protocol):
    """An opt-in evaluation wired into the workflow (ModelEvaluation, TaskMetricsEvaluation)."""

    def grant_workflow(self, grantee: iam.IGrantable) -> iam.Grant: ...


@dataclass(frozen=True)
class JobService:
    """The service that runs the workflow's jobs, as the workflow role deals with it."""

    principal: str
    """Service principal the job role is passed to, e.g. ``bedrock.amazonaws.com``."""
    pass_role_sid: str
    """Sid of the workflow role's ``iam:PassRole`` statement."""
    managed_rule_names: tuple[str, ...]
    """EventBridge rules Step Functions manages for the job's ``.sync`` integration."""


@dataclass(frozen=True)
class Retry:
    """A task's retry on ``errors``: ``interval_seconds``, backoff 2, 3 attempts."""

    errors: tuple[str, ...]
    interval_seconds: int


class FineTuneWorkflow(Construct):
    """Base of the fine-tune workflow constructs.

    A subclass sets ``options``, ``dataset_bucket`` and ``data_key``, then calls, in order,
    :meth:`_create_notifications` (``Key`` unless given, ``Topic`` unless given),
    :meth:`_create_validator` (``Validator``, ``ValidatorRole``, ``ValidatorLogs``), builds
    its job states with :meth:`_service_task`, joins them with :meth:`_dataset_gate` and
    :meth:`_notify_succeeded`, and finishes with :meth:`_create_state_machine` (``Resource``
    with ``WorkflowLogs``) and :meth:`_acknowledge_wildcards`. Every resource it creates is
    removed by the ``removal_policy`` given here.
    """

    options: FineTuneOptions
    dataset_bucket: s3.IBucket
    data_key: kms.IKey | None
    key: kms.IKey
    """Encrypts the topic and the log groups (given, or ``Key``)."""
    topic: sns.ITopic
    """Where the workflow notifies (given, or ``Topic``)."""
    validator: RuntimeFunction
    """The dataset validator Lambda (``Validator``)."""
    state_machine: sfn.StateMachine
    """The workflow (``Resource``)."""

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self._removal_policy = removal_policy
        """For the created key, log groups and other retained resources."""

    # -- public API ----------------------------------------------------------------------

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions of the workflow."""
        return self.state_machine.grant_start_execution(grantee)

    # -- resources -----------------------------------------------------------------------

    @property
    def _log_retention(self) -> logs.RetentionDays:
        return RETENTION[self.options.log_retention_days]

    def _create_notifications(
        self,
        *,
        key: kms.IKey | None,
        topic: sns.ITopic | None,
        workflow_name: str,
        topic_display_name: str,
    ) -> None:
        """``key`` (or ``Key``: rotating) with the CloudWatch Logs statement in its policy,
        since it encrypts log groups too, and ``topic`` (or ``Topic``: encrypted, TLS-only)."""
        self.key = key or create_workflow_key(
            self,
            "Key",
            description=f"Encrypts the {workflow_name} workflow's topic and log groups.",
            removal_policy=self._removal_policy,
        )
        allow_cloudwatch_logs(self.key)
        self.topic = topic or sns.Topic(
            self,
            "Topic",
            display_name=topic_display_name,
            master_key=self.key,
            enforce_ssl=True,
        )

    def _create_validator(
        self,
        *,
        handler: str,
        description: str,
        role_description: str,
        report_bucket: s3.IBucket,
        environment: Mapping[str, str],
    ) -> RuntimeFunction:
        """The dataset validator: it may read and list the dataset prefix, write reports
        under the report prefix of ``report_bucket`` and use the data key. ``environment``
        adds to the bucket and prefix variables every validator reads."""
        opts = self.options
        self.validator = create_dataset_validator(
            self,
            role_description=role_description,
            description=description,
            handler=handler,
            log_retention=self._log_retention,
            log_key=self.key,
            removal_policy=self._removal_policy,
            dataset_bucket=self.dataset_bucket,
            dataset_prefix=opts.dataset_prefix,
            report_bucket=report_bucket,
            report_prefix=opts.report_prefix,
            data_key=self.data_key,
            memory_mib=opts.validator_memory_mib,
            timeout_minutes=opts.validator_timeout_minutes,
            environment=environment,
        )
        return self.validator

    # -- states --------------------------------------------------------------------------

    def _notify_failed(
        self,
        id: str,
        *,
        subject: str,
        message: Mapping[str, Any],
        fail_id: str,
        cause: str,
        error: str | None = None,
    ) -> sfn.IChainable:
        """Notify ``message`` on the topic, then end in the ``Fail`` state ``fail_id`` with
        ``error`` (default: ``fail_id``) and ``cause``."""
        return notify_and_fail(
            self,
            id,
            topic=self.topic,
            subject=subject,
            message=message,
            fail_id=fail_id,
            error=error or fail_id,
            cause=cause,
        )

    def _notify_succeeded(self, *, subject: str, message: Mapping[str, Any]) -> sfn.IChainable:
        """``NotifySucceeded`` with ``message``, then ``Done``."""
        return notify(
            self, "NotifySucceeded", topic=self.topic, subject=subject, message=message
        ).next(sfn.Succeed(self, "Done"))

    def _service_task(
        self,
        id: str,
        *,
        comment: str,
        integration: str,
        parameters: Mapping[str, Any],
        result_path: str,
        on_failure: sfn.IChainable,
        result_selector: Mapping[str, Any] | None = None,
        timeout_hours: int | None = None,
        retry: Retry | None = None,
    ) -> sfn.CustomState:
        """A ``Task`` state calling ``arn:<partition>:states:::<integration>`` with
        ``parameters`` (JSONPath), its result in ``result_path``, every error caught into
        ``$.error`` and sent to ``on_failure``."""
        state_json: dict[str, Any] = {
            "Type": "Task",
            "Comment": comment,
            "Resource": f"arn:{Aws.PARTITION}:states:::{integration}",
            "Parameters": dict(parameters),
        }
        if result_selector is not None:
            state_json["ResultSelector"] = dict(result_selector)
        state_json["ResultPath"] = result_path
        if timeout_hours is not None:
            state_json["TimeoutSeconds"] = timeout_hours * 3600
        state = sfn.CustomState(self, id, state_json=state_json)
        if retry is not None:
            state.add_retry(
                errors=list(retry.errors),
                interval=Duration.seconds(retry.interval_seconds),
                backoff_rate=2,
                max_attempts=3,
            )
        catch_all(state, on_failure)
        return state

    def _dataset_gate(
        self,
        *,
        subject_prefix: str,
        on_validator_error: sfn.IChainable,
        job: sfn.IChainable,
        job_with_validation: sfn.IChainable | None,
    ) -> tasks.LambdaInvoke:
        """``ValidateDataset`` (the validator, result in ``$.validation``; a failure goes to
        ``on_validator_error``) -> ``DatasetValid?``: invalid data -> ``NotifyDatasetInvalid``
        (the report's first errors) -> ``DatasetInvalid``, before any job starts; validation
        data present -> ``job_with_validation`` (when there is one); otherwise ``job``."""
        validate, invalid = dataset_validation_states(
            self,
            validator=self.validator,
            topic=self.topic,
            subject=f"{subject_prefix}: dataset invalid, no job started",
        )
        catch_all(validate, on_validator_error)
        choice = sfn.Choice(self, "DatasetValid?").when(
            sfn.Condition.boolean_equals("$.validation.valid", False), invalid
        )
        if job_with_validation is not None:
            choice.when(
                sfn.Condition.boolean_equals("$.validation.hasValidationData", True),
                job_with_validation,
            )
        validate.next(choice.otherwise(job))
        return validate

    # -- workflow ------------------------------------------------------------------------

    def _create_state_machine(
        self,
        *,
        comment: str,
        definition: sfn.IChainable,
        service: JobService,
        job_role: iam.IRole,
        statements: Sequence[iam.PolicyStatement],
        job_key: kms.IKey | None = None,
        job_key_actions: Sequence[str] = (),
        hook: WorkflowHook | None = None,
    ) -> sfn.StateMachine:
        """``Resource``: a Standard state machine running ``definition`` with X-Ray tracing
        and logging (ALL, with execution data) to ``WorkflowLogs``. Beside the grants of its
        tasks its role gets ``statements``, passing ``job_role`` to the job service, the
        service's ``.sync`` EventBridge rules, the workflow key (to publish to the encrypted
        topic), ``job_key_actions`` on the job's ``job_key`` (when given), and what ``hook``
        needs."""
        state_machine = sfn.StateMachine(
            self,
            "Resource",
            comment=comment,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(
                    self,
                    "WorkflowLogs",
                    retention=self._log_retention,
                    encryption_key=self.key,
                    removal_policy=self._removal_policy,
                ),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        for statement in statements:
            state_machine.add_to_role_policy(statement)
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid=service.pass_role_sid,
                actions=["iam:PassRole"],
                resources=[job_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": service.principal}},
            )
        )
        if service.managed_rule_names:  # none for a job the workflow polls itself
            state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ManageSyncEventsRule",
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[
                        f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{name}"
                        for name in service.managed_rule_names
                    ],
                )
            )
        self.key.grant(state_machine, "kms:Decrypt", "kms:GenerateDataKey*")
        if job_key is not None:
            job_key.grant(state_machine, *job_key_actions)
        if hook is not None:
            hook.grant_workflow(state_machine)
        self.state_machine = state_machine
        return state_machine

    def _acknowledge_wildcards(
        self, *, job_role: iam.IRole | None, job_role_reason: str, workflow_reason: str
    ) -> None:
        """Acknowledge the wildcard findings of the job role (when this construct made it),
        the validator role and the workflow role, each with its reason. Call it last: it
        reads the policies as they are."""
        if job_role is not None:
            acknowledge_wildcards(job_role, job_role_reason)
        acknowledge_wildcards(self.validator.role, VALIDATOR_WILDCARD_REASON)
        acknowledge_wildcards(self.state_machine.role, workflow_reason)
