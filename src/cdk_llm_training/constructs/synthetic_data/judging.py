"""The judging states of SyntheticData in preference mode (built in its scope, so their
paths and IDs sit next to the sampling states)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from cdk_llm_training.constructs.fine_tune.workflow import catch_all
from cdk_llm_training.constructs.synthetic_data.roles import batch_job_arns, model_arn

if TYPE_CHECKING:
    from cdk_llm_training.constructs.synthetic_data.construct import SyntheticData

FAILED_STATUSES = ("Failed", "Stopped", "Expired")
DONE_STATUSES = ("Completed", "PartiallyCompleted")


def batch_output_config(synthetic: SyntheticData, uri_path: str) -> dict[str, object]:
    key = synthetic.data_key
    return {
        "S3OutputDataConfig": {
            "S3Uri.$": uri_path,
            **({"S3EncryptionKeyId": key.key_arn} if key is not None else {}),
        }
    }


def judging_steps(
    synthetic: SyntheticData, *, convert: sfn.IChainable, failed: sfn.IChainable
) -> sfn.IChainable:
    """``PairSamples`` (Lambda: pair the two samples, write the judge input, or judge
    directly under the batch minimum) -> ``JudgeInBatch?`` (no: ``convert``) ->
    ``CreateJudgeJob`` -> ``WaitForJudgeJob`` -> ``GetJudgeJob`` -> ``JudgeFinished?``
    (done: ``convert``; failed or too many polls: ``NotifyJudgeJobFailed`` ->
    ``JudgeJobFailed``; otherwise ``CountJudgePoll`` -> wait again)."""
    opts = synthetic.options
    assert synthetic.judge_function is not None
    pair = synthetic.lambda_step(
        "PairSamples",
        synthetic.judge_function,
        {
            "run": sfn.JsonPath.execution_name,
            "recordCount": sfn.JsonPath.number_at("$.prepared.recordCount"),
        },
        "$.judging",
    )
    catch_all(pair, failed)
    create = tasks.CallAwsService(
        synthetic,
        "CreateJudgeJob",
        service="bedrock",
        action="createModelInvocationJob",
        parameters={
            "JobName.$": f"States.Format('{opts.job_name_prefix}-judge-{{}}', States.UUID())",
            "RoleArn": synthetic.batch_role.role_arn,
            "ModelId": opts.judge,
            "InputDataConfig": {
                "S3InputDataConfig": {"S3Uri.$": "$.judging.inputS3Uri", "S3InputFormat": "JSONL"}
            },
            "OutputDataConfig": batch_output_config(synthetic, "$.judging.outputS3Uri"),
            "TimeoutDurationInHours": opts.timeout_hours,
        },
        iam_resources=[batch_job_arns(), model_arn(opts.judge)],
        iam_action="bedrock:CreateModelInvocationJob",
        result_selector={"jobArn.$": "$.JobArn", "polls": 0},
        result_path="$.judgeJob",
    )
    create.add_retry(
        errors=["Bedrock.ThrottlingException", "Bedrock.ServiceQuotaExceededException"],
        interval=Duration.seconds(60),
        backoff_rate=2,
        max_attempts=5,
    )
    catch_all(create, failed)
    job_failed = synthetic.notify_job_failed("Judge", "$.judgeJob")
    create.next(
        batch_job_poll(
            synthetic,
            path="$.judgeJob",
            names=("WaitForJudgeJob", "GetJudgeJob", "CountJudgePoll", "JudgeFinished?"),
            done=convert,
            job_failed=job_failed,
            failed=failed,
        )
    )
    return pair.next(
        sfn.Choice(synthetic, "JudgeInBatch?")
        .when(sfn.Condition.boolean_equals("$.judging.batch", True), create)
        .otherwise(convert)
    )


def batch_job_poll(
    synthetic: SyntheticData,
    *,
    path: str,
    names: tuple[str, str, str, str],
    done: sfn.IChainable,
    job_failed: sfn.IChainable,
    failed: sfn.IChainable,
) -> sfn.State:
    """The wait loop of the batch job at ``path`` (``{jobArn, polls}``), named ``names`` =
    (wait, get, count, choice): wait ``poll_minutes`` -> read its status -> done: ``done``;
    failed, stopped, expired or ``max_polls`` reached: ``job_failed``; otherwise count the
    poll and wait again. Returns the wait state (the create step's next)."""
    opts = synthetic.options
    wait_id, get_id, count_id, choice_id = names
    wait = sfn.Wait(
        synthetic, wait_id, time=sfn.WaitTime.duration(Duration.minutes(opts.poll_minutes))
    )
    get = tasks.CallAwsService(
        synthetic,
        get_id,
        service="bedrock",
        action="getModelInvocationJob",
        parameters={"JobIdentifier.$": f"{path}.jobArn"},
        iam_resources=[batch_job_arns()],
        iam_action="bedrock:GetModelInvocationJob",
        result_selector={"status.$": "$.Status"},
        result_path=f"{path}.state",
    )
    get.add_retry(errors=["Bedrock.ThrottlingException"], interval=Duration.seconds(10))
    catch_all(get, failed)
    count = sfn.Pass(
        synthetic,
        count_id,
        parameters={
            "jobArn.$": f"{path}.jobArn",
            "polls.$": f"States.MathAdd({path}.polls, 1)",
        },
        result_path=path,
    )
    status = f"{path}.state.status"
    finished = (
        sfn.Choice(synthetic, choice_id)
        .when(
            sfn.Condition.or_(*[sfn.Condition.string_equals(status, s) for s in DONE_STATUSES]),
            done,
        )
        .when(
            sfn.Condition.or_(
                *[sfn.Condition.string_equals(status, s) for s in FAILED_STATUSES],
                sfn.Condition.number_greater_than_equals(f"{path}.polls", opts.max_polls),
            ),
            job_failed,
        )
        .otherwise(count)
    )
    count.next(wait)
    wait.next(get).next(finished)
    return wait


def reconciled_choice(synthetic: SyntheticData, validate: sfn.IChainable) -> sfn.Choice:
    """``OutputsReconciled?``: the converter's record counts disagree (input records against
    output lines, record errors and ``manifest.json.out``) -> ``NotifyOutputsMismatch`` ->
    ``OutputsMismatch``; otherwise ``validate``."""
    mismatch = synthetic._notify_failed(
        "NotifyOutputsMismatch",
        subject="Synthetic data: batch output does not reconcile",
        message={
            "result": "OUTPUTS_MISMATCH",
            "execution": sfn.JsonPath.execution_id,
            "counts": sfn.JsonPath.object_at("$.converted.counts"),
            "reconciliation": sfn.JsonPath.object_at("$.converted.reconciliation"),
            "problems": sfn.JsonPath.object_at("$.converted.problems"),
            "problemCount": sfn.JsonPath.number_at("$.converted.problemCount"),
        },
        fail_id="OutputsMismatch",
        cause="The batch job's output records do not add up to its input; see the notification.",
    )
    return (
        sfn.Choice(synthetic, "OutputsReconciled?")
        .when(sfn.Condition.boolean_equals("$.converted.reconciled", False), mismatch)
        .otherwise(validate)
    )
