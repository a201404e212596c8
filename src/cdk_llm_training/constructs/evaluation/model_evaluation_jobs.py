"""The evaluation-job branches of :class:`ModelEvaluationSteps`: Bedrock evaluation jobs have
no ``.sync`` integration, so each branch calls ``aws-sdk:bedrock:createEvaluationJob`` and polls
``getEvaluationJob`` in a Wait loop with a poll limit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.catalogs.custom_model_deployment import (
    PRECOMPUTED_SOURCE_IDENTIFIER as SOURCE_IDENTIFIER,
)
from cdk_llm_training.constructs.evaluation._arns import bedrock_arn, model_arns

if TYPE_CHECKING:
    from cdk_llm_training.constructs.evaluation.model_evaluation import ModelEvaluation

FAILED_STATUSES = ("Failed", "Stopped", "Stopping", "Deleting")
"""Evaluation-job statuses that end a branch in its Fail state."""


def evaluation_job_branch(
    scope: Construct,
    evaluation: ModelEvaluation,
    *,
    role: str,
    kind: str,
    model: str,
    metrics: tuple[str, ...],
    precomputed: bool = False,
) -> sfn.IChainable:
    """One branch of ``EvalRunJobs``: create the ``kind`` (``judge`` or ``builtin``) evaluation
    job of the ``role`` (``candidate`` or ``baseline``) model, poll it every
    ``poll_interval_seconds`` up to ``max_polls``, and end in ``Eval-<role>-<kind>-Done`` (its
    description for the report) or ``-Failed``. ``model`` is a model id or a JSON path.

    ``precomputed``: the job evaluates the answers already in the responses dataset
    (``$.evaluation.responses.datasetS3Uri``, written by the on-demand route) under the
    inference source :data:`SOURCE_IDENTIFIER` instead of invoking ``model``."""
    opts = evaluation.options
    tag = f"{role[0]}{kind[0]}"  # cj, cb, bj, bb
    prefix = f"Eval-{role}-{kind}"
    model_field = (
        {"ModelIdentifier.$": model} if model.startswith("$") else {"ModelIdentifier": model}
    )
    automated: dict[str, Any] = {
        "DatasetMetricConfigs": [
            {
                "TaskType": opts.task_type.value,
                "Dataset": {
                    "Name": "prompts",
                    "DatasetLocation": {
                        "S3Uri.$": "$.evaluation.responses.datasetS3Uri"
                        if precomputed
                        else "$.evaluation.prompts.datasetS3Uri"
                    },
                },
                "MetricNames": list(metrics),
            }
        ]
    }
    if kind == "judge":
        automated["EvaluatorModelConfig"] = {
            "BedrockEvaluatorModels": [{"ModelIdentifier": opts.judge_model_id}]
        }
    output_uri = f"s3://{evaluation.output_bucket.bucket_name}/{opts.output_prefix}"
    # The dataset's modelResponses[].modelIdentifier must equal inferenceSourceIdentifier.
    inference_model: dict[str, Any] = (
        {"PrecomputedInferenceSource": {"InferenceSourceIdentifier": SOURCE_IDENTIFIER}}
        if precomputed
        else {"BedrockModel": model_field}
    )
    create = tasks.CallAwsService(
        scope,
        f"{prefix}-Create",
        service="bedrock",
        action="createEvaluationJob",
        parameters={
            "JobName.$": f"States.Format('eval-{tag}-{{}}', States.UUID())",
            "RoleArn": evaluation.evaluation_role.role_arn,
            "ApplicationType": "ModelEvaluation",
            "EvaluationConfig": {"Automated": automated},
            "InferenceConfig": {"Models": [inference_model]},
            "OutputDataConfig": {"S3Uri": output_uri},
        },
        iam_resources=[bedrock_arn("evaluation-job/*"), *model_arns()],
        result_selector={"jobArn.$": "$.JobArn", "polls": 0},
        result_path="$.job",
    )
    create.add_retry(
        errors=["Bedrock.ThrottlingException", "Bedrock.ServiceQuotaExceededException"],
        interval=Duration.seconds(60),
        backoff_rate=2,
        max_attempts=5,
    )
    wait = sfn.Wait(
        scope,
        f"{prefix}-Wait",
        time=sfn.WaitTime.duration(Duration.seconds(opts.poll_interval_seconds)),
    )
    get = tasks.CallAwsService(
        scope,
        f"{prefix}-Get",
        service="bedrock",
        action="getEvaluationJob",
        parameters={"JobIdentifier.$": "$.job.jobArn"},
        iam_resources=[bedrock_arn("evaluation-job/*")],
        result_selector={"status.$": "$.Status", "name.$": "$.JobName"},
        result_path="$.job.state",
    )
    get.add_retry(errors=["Bedrock.ThrottlingException"], interval=Duration.seconds(10))
    count = sfn.Pass(
        scope,
        f"{prefix}-Count",
        parameters={"jobArn.$": "$.job.jobArn", "polls.$": "States.MathAdd($.job.polls, 1)"},
        result_path="$.job",
    )
    model_value = {"model.$": model} if model.startswith("$") else {"model": model}
    done = sfn.Pass(
        scope,
        f"{prefix}-Done",
        parameters={
            "role": role,
            "kind": kind,
            **model_value,
            "jobName.$": "$.job.state.name",
            "jobArn.$": "$.job.jobArn",
            "outputS3Uri": output_uri,
        },
    )
    failed = sfn.Fail(
        scope,
        f"{prefix}-Failed",
        error="EvaluationJobFailed",
        cause=f"The {role} {kind} evaluation job failed, stopped or timed out.",
    )
    check = (
        sfn.Choice(scope, f"{prefix}-Finished?")
        .when(sfn.Condition.string_equals("$.job.state.status", "Completed"), done)
        .when(
            sfn.Condition.or_(
                *[sfn.Condition.string_equals("$.job.state.status", s) for s in FAILED_STATUSES],
                sfn.Condition.number_greater_than_equals("$.job.polls", opts.max_polls),
            ),
            failed,
        )
        .otherwise(count)
    )
    count.next(wait)
    return create.next(wait).next(get).next(check).start_state
