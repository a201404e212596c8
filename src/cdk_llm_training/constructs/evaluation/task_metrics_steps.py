"""TaskMetricsSteps: the states of :class:`TaskMetricsEvaluation` as a Step Functions
fragment: the processing job, reading its report, the threshold gate."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_cdk import Aws
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

if TYPE_CHECKING:
    from cdk_llm_training.constructs.evaluation.task_metrics_evaluation import (
        TaskMetricsEvaluation,
    )

PROCESSING_SYNC = "sagemaker:createProcessingJob.sync"
_CODE_DIR = "/opt/ml/processing/input/code"
_LABELLED_DIR = "/opt/ml/processing/input/labelled"
_PREDICTIONS_DIR = "/opt/ml/processing/input/predictions"
_OUTPUT_DIR = "/opt/ml/processing/output"


class TaskMetricsSteps(sfn.StateMachineFragment):
    """The task-metrics states of ``evaluation``: embed them in a workflow like one state.

    ``TaskMetricsJob`` (``sagemaker:createProcessingJob.sync``, one CPU instance) ->
    ``TaskMetricsReadReport`` (``aws-sdk:s3:getObject`` + ``States.StringToJson``) ->
    ``TaskMetricsGate`` (Choice on the report's ``passed``). The report lands at
    ``<report_prefix><execution name>/report.json``; ``$.taskMetrics.result.report`` holds it.
    State names are the construct ids (no prefix), so a workflow holds one such fragment.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        evaluation: TaskMetricsEvaluation,
        predictions_s3_uri_path: str,
        on_passed: sfn.IChainable | None = None,
        on_failed: sfn.IChainable | None = None,
        model_name_path: str | None = None,
    ) -> None:
        """:param evaluation: the role, script, buckets and options the states use.
        :param predictions_s3_uri_path: JSON path of an S3 URI (file or prefix, under
            ``predictions_prefix``) with the predictions JSONL (``{"id", "prediction"}``), or
            the model artifacts when ``generate_predictions`` is on.
        :param on_passed: where to go when the thresholds are met; its end states are the
            fragment's. Default: a ``TaskMetricsPassed`` Pass state, to chain with ``.next()``.
        :param on_failed: where to go when the job fails or a threshold misses (e.g. leave the
            model package unapproved and notify). Default: a ``TaskMetricsFailed`` Fail state.
        :param model_name_path: JSON path of the model name recorded in the report.
        """
        super().__init__(scope, id)
        passed: sfn.IChainable = on_passed or sfn.Pass(self, "TaskMetricsPassed")
        self._end_states: list[sfn.INextable] = list(passed.end_states)
        self._start_state = self._build(
            evaluation,
            predictions_s3_uri_path=predictions_s3_uri_path,
            on_passed=passed,
            on_failed=on_failed,
            model_name_path=model_name_path,
        )

    @property
    def start_state(self) -> sfn.State:
        """The first state, ``TaskMetricsJob``."""
        return self._start_state

    @property
    def end_states(self) -> list[sfn.INextable]:
        """The end states of ``on_passed`` (or ``TaskMetricsPassed``)."""
        return self._end_states

    def _build(
        self,
        evaluation: TaskMetricsEvaluation,
        *,
        predictions_s3_uri_path: str,
        on_passed: sfn.IChainable,
        on_failed: sfn.IChainable | None,
        model_name_path: str | None,
    ) -> sfn.State:
        opts = evaluation.options
        failed: sfn.IChainable = on_failed or sfn.Fail(
            self,
            "TaskMetricsFailed",
            error="TaskMetricsFailed",
            cause="The task-metrics job failed or a threshold was not met; see the report.",
        )
        data_type = "S3Prefix"
        environment: dict[str, Any] = {}
        if model_name_path is not None:
            environment["MODEL_NAME.$"] = model_name_path
        report_root = f"s3://{evaluation.output_bucket.bucket_name}/{opts.report_prefix}"
        parameters: dict[str, Any] = {
            "ProcessingJobName.$": "States.Format('metrics-{}', States.UUID())",
            "RoleArn": evaluation.role.role_arn,
            "AppSpecification": {
                "ImageUri": evaluation.image_uri,
                "ContainerEntrypoint": _entrypoint(
                    opts.min_scores, generate=opts.generate_predictions
                ),
            },
            "ProcessingInputs": [
                _input("code", evaluation.script.s3_object_url, _CODE_DIR, data_type),
                _input(
                    "labelled",
                    f"s3://{evaluation.labelled_bucket.bucket_name}/{opts.labelled_set_key}",
                    _LABELLED_DIR,
                    data_type,
                ),
                {
                    "InputName": "predictions",
                    "S3Input": {
                        "S3Uri.$": predictions_s3_uri_path,
                        "LocalPath": _PREDICTIONS_DIR,
                        "S3DataType": data_type,
                        "S3InputMode": "File",
                    },
                },
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "report",
                        "S3Output": {
                            "S3Uri.$": f"States.Format('{report_root}{{}}', $$.Execution.Name)",
                            "LocalPath": _OUTPUT_DIR,
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": opts.instance_type,
                    "VolumeSizeInGB": opts.volume_size_gb,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": opts.max_runtime_seconds},
        }
        if evaluation.data_key is not None:
            parameters["ProcessingOutputConfig"]["KmsKeyId"] = evaluation.data_key.key_arn
        if environment:
            parameters["Environment"] = environment
        job = sfn.CustomState(
            self,
            "TaskMetricsJob",
            state_json={
                "Type": "Task",
                "Comment": "Score the adapter on the labelled set (metrics script, CPU).",
                "Resource": f"arn:{Aws.PARTITION}:states:::{PROCESSING_SYNC}",
                "Parameters": parameters,
                "ResultSelector": {
                    "name.$": "$.ProcessingJobName",
                    "status.$": "$.ProcessingJobStatus",
                },
                "ResultPath": "$.taskMetrics.job",
            },
        )
        job.add_catch(failed, errors=["States.ALL"], result_path="$.taskMetricsError")
        read = tasks.CallAwsService(
            self,
            "TaskMetricsReadReport",
            service="s3",
            action="getObject",
            parameters={
                "Bucket": evaluation.output_bucket.bucket_name,
                "Key.$": f"States.Format('{opts.report_prefix}{{}}/report.json', "
                "$$.Execution.Name)",
            },
            iam_resources=[evaluation.output_bucket.arn_for_objects(f"{opts.report_prefix}*")],
            result_selector={"report.$": "States.StringToJson($.Body)"},
            result_path="$.taskMetrics.result",
        )
        read.add_catch(failed, errors=["States.ALL"], result_path="$.taskMetricsError")
        gate = (
            sfn.Choice(self, "TaskMetricsGate", comment="Thresholds met?")
            .when(
                sfn.Condition.boolean_equals("$.taskMetrics.result.report.passed", True),
                on_passed,
            )
            .otherwise(failed)
        )
        job.next(read).next(gate)
        return job


def _entrypoint(min_scores: Mapping[str, float], *, generate: bool) -> list[str]:
    """The processing container's command: the shipped script with the thresholds."""
    args = ["--labelled", _LABELLED_DIR, "--report", f"{_OUTPUT_DIR}/report.json"]
    args += ["--model-dir" if generate else "--predictions", _PREDICTIONS_DIR]
    for name, value in sorted(min_scores.items()):
        args += ["--min-score", f"{name}={value}"]
    command = f"python3 {_CODE_DIR}/*.py " + " ".join(shlex.quote(a) for a in args)
    return ["/bin/sh", "-c", command]


def _input(name: str, uri: str, local_path: str, data_type: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": data_type,
            "S3InputMode": "File",
        },
    }
