"""The task-metrics gate of :class:`SageMakerFineTuneJob` (``options.evaluation``): between
training and registration, score the predictions the training script wrote."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import aws_stepfunctions as sfn

from cdk_llm_training.constructs._workflow import notify
from cdk_llm_training.constructs.fine_tune.sagemaker_job import (
    PREDICTIONS_ARCHIVE,
    trained_adapter_fields,
)
from cdk_llm_training.constructs.task_metrics_evaluation import TaskMetricsEvaluation

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.sagemaker import SageMakerFineTuneJob


def task_metrics_gate(
    job: SageMakerFineTuneJob, task_metrics: TaskMetricsEvaluation, on_passed: sfn.IChainable
) -> sfn.IChainable:
    """Locate the predictions the training script wrote, score them, gate on the report:
    passed -> ``on_passed``; otherwise notify and end in ``EvaluationFailed``. The states are
    children of ``job``."""
    report_key = f"{task_metrics.options.report_prefix}{{}}/report.json"
    evaluation_failed = sfn.Fail(
        job,
        "EvaluationFailed",
        error="EvaluationFailed",
        cause="The adapter was trained but not registered: the task-metrics job failed or a "
        "threshold was not met; see the notification and the report.",
    )
    below_threshold = notify(
        job,
        "NotifyEvaluationFailed",
        topic=job.topic,
        subject="SageMaker fine-tune: adapter below the evaluation thresholds",
        message={
            "result": "EVALUATION_FAILED",
            "execution": sfn.JsonPath.execution_id,
            **trained_adapter_fields(),
            "taskMetrics": sfn.JsonPath.object_at("$.taskMetrics.result.report.summary"),
            "failures": sfn.JsonPath.list_at("$.taskMetrics.result.report.failures"),
            "reportKey": sfn.JsonPath.format(report_key, sfn.JsonPath.execution_name),
        },
    ).next(evaluation_failed)
    job_failed = notify(
        job,
        "NotifyEvaluationError",
        topic=job.topic,
        subject="SageMaker fine-tune: evaluation failed to run",
        message={
            "result": "EVALUATION_ERROR",
            "execution": sfn.JsonPath.execution_id,
            "trainingJobName": sfn.JsonPath.string_at("$.validation.trainingJobName"),
            "error": sfn.JsonPath.string_at("$.taskMetricsError.Error"),
            "cause": sfn.JsonPath.string_at("$.taskMetricsError.Cause"),
        },
    ).next(evaluation_failed)
    on_failed = (
        sfn.Choice(job, "EvaluationReportRead?")
        .when(sfn.Condition.is_present("$.taskMetrics.result.report"), below_threshold)
        .otherwise(job_failed)
    )
    locate = sfn.Pass(
        job,
        "LocatePredictions",
        comment="The training script's predictions: the job's output.tar.gz.",
        parameters={
            "predictionsS3Uri": sfn.JsonPath.format(
                f"{{}}{{}}/{PREDICTIONS_ARCHIVE}",
                sfn.JsonPath.string_at("$.validation.outputS3Path"),
                sfn.JsonPath.string_at("$.validation.trainingJobName"),
            )
        },
        result_path="$.evaluationInput",
    )
    return locate.next(
        task_metrics.chain(
            predictions_s3_uri_path="$.evaluationInput.predictionsS3Uri",
            model_name_path="$.validation.trainingJobName",
            on_passed=on_passed,
            on_failed=on_failed,
        )
    )
