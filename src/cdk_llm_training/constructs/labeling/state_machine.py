"""The labeling workflow's Step Functions state machine, its role, topic and log group:
check input -> pick the task type -> defaults -> write the task template -> labeling job ->
convert to training data -> notify. Created in the workflow construct's scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.assets.labeling_templates import template_text
from cdk_llm_training.config.labeling_workforce import LabelingTaskType, LabelingWorkflowOptions
from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs._workflow import caught_error_message, notify, notify_and_fail
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.labeling.functions import TaskFunctions
from cdk_llm_training.constructs.labeling.input_rules import input_is_valid, input_rules_text
from cdk_llm_training.constructs.labeling.job_state import (
    allow_labeling_jobs,
    labeling_job_state,
)
from cdk_llm_training.constructs.labeling.log_groups import encrypted_log_group
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

TASK_TEXT: dict[LabelingTaskType, tuple[str, str]] = {
    LabelingTaskType.SFT_DEMONSTRATION: (
        "Write the ideal assistant response",
        "Read a prompt and write the response an excellent assistant would give.",
    ),
    LabelingTaskType.PAIRWISE_PREFERENCE: (
        "Pick the better of two responses",
        "Compare two responses to a prompt, pick A, B or tie, and give a short reason.",
    ),
    LabelingTaskType.RESPONSE_RATING: (
        "Rate a model response from 1 to 5",
        "Score a response against the stated criteria, from 1 (unusable) to 5 (excellent).",
    ),
}
"""Default task title and description shown to workers, per task type."""


@dataclass(frozen=True)
class WorkflowParts:
    """What :func:`create_state_machine` builds."""

    state_machine: sfn.StateMachine
    role: iam.Role
    topic: sns.Topic


def create_state_machine(
    scope: Construct,
    opts: LabelingWorkflowOptions,
    *,
    data_lake: TrainingDataLake,
    key: kms.IKey,
    labeling_role: iam.IRole,
    functions: TaskFunctions,
    workteam_arns: Sequence[str],
    removal_policy: RemovalPolicy,
) -> WorkflowParts:
    """``WorkflowRole``, ``WorkflowTopic``, the states, ``WorkflowLogs`` and ``Workflow``
    (Standard, logging ALL with execution data, X-Ray tracing, 30-day timeout). The first
    of ``workteam_arns`` is the default team; an execution may name any of them."""
    role = iam.Role(
        scope,
        "WorkflowRole",
        # Step Functions sends aws:SourceArn / aws:SourceAccount: this account's state
        # machines only, as CDK's own state-machine roles.
        assumed_by=service_principal_from(
            "states.amazonaws.com", this_account_arn("states", "stateMachine:*")
        ),
        description="Labeling workflow: start and watch labeling jobs, write templates.",
    )
    topic = sns.Topic(
        scope,
        "WorkflowTopic",
        display_name="Labeling workflow notifications",
        master_key=key,
        enforce_ssl=True,
    )
    rules = input_rules_text(opts.jobs, opts.manifest_prefix)
    check = sfn.Choice(
        scope,
        "CheckInput",
        comment="Every input field typed and bounded before anything that costs money.",
    )
    bad_input = notify_and_fail(
        scope,
        "NotifyInvalidInput",
        topic=topic,
        subject="Labeling workflow: invalid input, no job started",
        message={
            "result": "INVALID_INPUT",
            "execution": sfn.JsonPath.execution_id,
            # Not the input itself: one near the 256 KiB payload quota would push the
            # message over SNS's limit. The execution ID leads to it.
            "allowed": rules,
        },
        fail_id="InvalidInput",
        error="InvalidInput",
        cause=rules,
    )
    notify_failed = notify_and_fail(
        scope,
        "NotifyFailed",
        topic=topic,
        subject="Labeling workflow failed",
        message=caught_error_message(),
        fail_id="Failed",
        error="LabelingFailed",
        cause="The template write, the labeling job or the conversion failed; see the "
        "notification.",
    )
    pick_task = sfn.Choice(scope, "TaskType")

    allow_labeling_jobs(role, labeling_role=labeling_role, workteam_arns=workteam_arns)
    job_state = labeling_job_state(
        scope, opts, data_lake=data_lake, labeling_role=labeling_role, functions=functions
    )
    job_state.add_catch(notify_failed, errors=["States.ALL"], result_path="$.error")
    convert = tasks.LambdaInvoke(
        scope,
        "ConvertToTrainingData",
        lambda_function=functions.converter,
        payload=sfn.TaskInput.from_object(
            {
                "task_type.$": "$.args.task_type",
                "job_name.$": "$.args.job_name",
                "sft_format.$": "$.args.sft_format",
                "output_manifest_uri.$": "$.labeling_job.output_manifest_uri",
                "label_attribute_name.$": "$.labeling_job.label_attribute_name",
            }
        ),
        result_selector={"result.$": "$.Payload"},
        result_path="$.dataset",
    )
    convert.add_catch(notify_failed, errors=["States.ALL"], result_path="$.error")
    notify_done = notify(
        scope,
        "NotifySucceeded",
        topic=topic,
        subject="Labeling workflow: training data written",
        message={
            "result": "SUCCEEDED",
            "execution": sfn.JsonPath.execution_id,
            "jobName": sfn.JsonPath.string_at("$.args.job_name"),
            "dataset": sfn.JsonPath.object_at("$.dataset.result"),
        },
    )
    done = sfn.Succeed(scope, "Done")
    job_state.next(convert).next(notify_done).next(done)

    artifacts = data_lake.artifacts_bucket
    for task in LabelingTaskType:
        title, description = TASK_TEXT[task]
        template_key = f"{opts.template_prefix}{task.value}.html"
        defaults = sfn.Pass(
            scope,
            f"Defaults-{task.value}",
            result=sfn.Result.from_object(
                {
                    "title": title,
                    "description": description,
                    "workteam_arn": workteam_arns[0],
                    "workers_per_object": opts.jobs.workers_per_object,
                    "task_time_limit_seconds": opts.jobs.task_time_limit_seconds,
                    "task_availability_lifetime_seconds": (
                        opts.jobs.task_availability_lifetime_seconds
                    ),
                    "max_concurrent_tasks": opts.jobs.max_concurrent_tasks,
                    "sft_format": "prompt_completion",
                }
            ),
            result_path="$.defaults",
        )
        merge = sfn.Pass(
            scope,
            f"Merge-{task.value}",
            parameters={"args.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"},
        )
        write = tasks.CallAwsService(
            scope,
            f"WriteTemplate-{task.value}",
            service="s3",
            action="putObject",
            parameters={
                "Bucket": artifacts.bucket_name,
                "Key": template_key,
                "Body": template_text(task.value),
                "ContentType": "text/html; charset=utf-8",
            },
            iam_resources=[artifacts.arn_for_objects(template_key)],
            result_path=sfn.JsonPath.DISCARD,
        )
        write.add_catch(notify_failed, errors=["States.ALL"], result_path="$.error")
        defaults.next(merge).next(write).next(job_state)
        pick_task.when(sfn.Condition.string_equals("$.task_type", task.value), defaults)
    pick_task.otherwise(bad_input)

    check.when(input_is_valid(opts.jobs, opts.manifest_prefix, workteam_arns), pick_task).otherwise(
        bad_input
    )

    log_group = encrypted_log_group(
        scope,
        "WorkflowLogs",
        days=opts.log_retention_days,
        key=key,
        removal_policy=removal_policy,
    )
    machine = sfn.StateMachine(
        scope,
        "Workflow",
        definition_body=sfn.DefinitionBody.from_chainable(check),
        state_machine_type=sfn.StateMachineType.STANDARD,
        role=role,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
        ),
        timeout=Duration.days(30),
        comment="Labeling job over a curated-zone manifest, then conversion to JSONL.",
    )
    # Publishing to the encrypted workflow topic needs the notification key.
    key.grant(role, "kms:Decrypt", "kms:GenerateDataKey*")
    # The template write needs the lake key to encrypt (SSE-KMS default on the bucket).
    role.add_to_policy(
        iam.PolicyStatement(
            sid="EncryptTemplates",
            actions=["kms:GenerateDataKey"],
            resources=[data_lake.key.key_arn],
        )
    )
    acknowledge_wildcards(
        role,
        "Labeling job names are chosen per run (labeling-job/*); the .sync integration's "
        "EventBridge managed rule (StepFunctionsGetEventsForSageMaker*); CDK's Lambda "
        "invoke grant includes the function's versions (:*); X-Ray and log-delivery "
        "actions have no resource type.",
    )
    return WorkflowParts(state_machine=machine, role=role, topic=topic)
