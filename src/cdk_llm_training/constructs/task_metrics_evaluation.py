"""TaskMetricsEvaluation: a SageMaker processing job that scores a fine-tuned adapter on a
labelled set (exact match, token F1, ROUGE-L) with the package's metrics script, a JSON
report in the artifacts zone and a threshold gate, as states to chain after a training step.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.task_metrics_evaluation import (
    DEFAULT_METRICS_IMAGE,
    TaskMetricsOptions,
)
from cdk_llm_training.constructs._acknowledge import acknowledge_wildcards
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._workflow import lake_buckets
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.evaluation import metrics

PROCESSING_SYNC = "sagemaker:createProcessingJob.sync"
DLC_ACCOUNT = "763104351884"
"""AWS Deep Learning Containers registry account (most commercial Regions)."""
_CODE_DIR = "/opt/ml/processing/input/code"
_LABELLED_DIR = "/opt/ml/processing/input/labelled"
_PREDICTIONS_DIR = "/opt/ml/processing/input/predictions"
_OUTPUT_DIR = "/opt/ml/processing/output"


class TaskMetricsEvaluation(Construct):
    """The processing role, the metrics script asset and the states (see :meth:`chain`).

    Creates: a SageMaker processing role trusted by ``sagemaker.amazonaws.com`` for this
    account's ``processing-job/*`` only (``aws:SourceAccount`` + ``aws:SourceArn``) that reads
    the labelled set, the predictions prefix and the script asset, writes only the report
    prefix, and pulls the processing image; the script
    (``cdk_llm_training/evaluation/metrics.py``) as an S3 asset.

    States: ``TaskMetricsJob`` (``sagemaker:createProcessingJob.sync``, one CPU instance) ->
    ``TaskMetricsReadReport`` (``aws-sdk:s3:getObject`` + ``States.StringToJson``) ->
    ``TaskMetricsGate`` (Choice on the report's ``passed``). The report lands at
    ``<report_prefix><execution name>/report.json``; ``$.taskMetrics.result.report`` holds it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: TaskMetricsOptions | None = None,
        data_lake: TrainingDataLake | None = None,
        labelled_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
        role: iam.IRole | None = None,
    ) -> None:
        """Create the role and the script asset.

        :param options: Default ``TaskMetricsOptions()``.
        :param data_lake: labelled set in the curated zone; predictions and reports in the
            artifacts zone. Either this or ``labelled_bucket`` + ``output_bucket``.
        :param data_key: KMS key of those buckets (also encrypts the report). Default: the
            lake key, or none.
        :param role: bring your own processing role (it needs the same access). Default: new.
        """
        super().__init__(scope, id)
        record_construct_type(self, "TaskMetricsEvaluation")
        self.options = opts = options or TaskMetricsOptions()
        self.labelled_bucket, self.output_bucket, self.data_key = lake_buckets(
            "TaskMetricsEvaluation",
            data_lake=data_lake,
            data_key=data_key,
            inputs=("labelled_bucket", labelled_bucket),
            outputs=("output_bucket", output_bucket),
        )
        self.image_uri = opts.image_uri or (
            f"{DLC_ACCOUNT}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{DEFAULT_METRICS_IMAGE}"
        )
        self.script = s3_assets.Asset(self, "Script", path=str(Path(metrics.__file__)))
        self.role: iam.IRole = role or self._create_role()

    def _create_role(self) -> iam.Role:
        opts = self.options
        stack_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        role = iam.Role(
            self,
            "ProcessingRole",
            description="Runs the task-metrics processing job.",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": f"{stack_arn}:processing-job/*"},
                },
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadLabelledSet",
                actions=["s3:GetObject"],
                resources=[self.labelled_bucket.arn_for_objects(opts.labelled_set_key)],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadPredictions",
                actions=["s3:GetObject"],
                resources=[self.output_bucket.arn_for_objects(f"{opts.predictions_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListInputs",
                actions=["s3:ListBucket"],
                resources=[self.labelled_bucket.bucket_arn, self.output_bucket.bucket_arn],
                conditions={
                    "StringLike": {
                        "s3:prefix": [opts.labelled_set_key, f"{opts.predictions_prefix}*"]
                    }
                },
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteReports",
                actions=["s3:PutObject"],
                resources=[self.output_bucket.arn_for_objects(f"{opts.report_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:"
                    "/aws/sagemaker/ProcessingJobs*"
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PullImage",
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:*:repository/*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadScript",
                actions=["s3:GetObject"],
                resources=[self.script.bucket.arn_for_objects(self.script.s3_object_key)],
            )
        )
        if self.data_key is not None:
            self.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        acknowledge_wildcards(
            role,
            "Predictions and reports are named per run (prefix*); SageMaker names the job's "
            "log streams; the image may live in any registry account (AWS Deep Learning "
            "Containers or yours); ecr:GetAuthorizationToken has no resource type.",
        )
        return role

    # -- states ------------------------------------------------------------------------------

    def _entrypoint(self, *, generate: bool) -> list[str]:
        args = ["--labelled", _LABELLED_DIR, "--report", f"{_OUTPUT_DIR}/report.json"]
        args += ["--model-dir" if generate else "--predictions", _PREDICTIONS_DIR]
        for name, value in sorted(self.options.min_scores.items()):
            args += ["--min-score", f"{name}={value}"]
        command = f"python3 {_CODE_DIR}/*.py " + " ".join(shlex.quote(a) for a in args)
        return ["/bin/sh", "-c", command]

    def chain(
        self,
        *,
        predictions_s3_uri_path: str,
        on_passed: sfn.IChainable,
        on_failed: sfn.IChainable | None = None,
        model_name_path: str | None = None,
    ) -> sfn.IChainable:
        """The task-metrics states.

        :param predictions_s3_uri_path: JSON path of an S3 URI (file or prefix, under
            ``predictions_prefix``) with the predictions JSONL (``{"id", "prediction"}``), or
            the model artifacts when ``generate_predictions`` is on.
        :param on_passed: where to go when the thresholds are met.
        :param on_failed: where to go when the job fails or a threshold misses (e.g. leave the
            model package unapproved and notify). Default: a ``TaskMetricsFailed`` Fail state.
        :param model_name_path: JSON path of the model name recorded in the report.
        """
        opts = self.options
        failed = on_failed or sfn.Fail(
            self,
            "TaskMetricsFailed",
            error="TaskMetricsFailed",
            cause="The task-metrics job failed or a threshold was not met; see the report.",
        )
        data_type = "S3Prefix"
        environment: dict[str, Any] = {}
        if model_name_path is not None:
            environment["MODEL_NAME.$"] = model_name_path
        report_root = f"s3://{self.output_bucket.bucket_name}/{opts.report_prefix}"
        parameters: dict[str, Any] = {
            "ProcessingJobName.$": "States.Format('metrics-{}', States.UUID())",
            "RoleArn": self.role.role_arn,
            "AppSpecification": {
                "ImageUri": self.image_uri,
                "ContainerEntrypoint": self._entrypoint(generate=opts.generate_predictions),
            },
            "ProcessingInputs": [
                _input("code", self.script.s3_object_url, _CODE_DIR, data_type),
                _input(
                    "labelled",
                    f"s3://{self.labelled_bucket.bucket_name}/{opts.labelled_set_key}",
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
        if self.data_key is not None:
            parameters["ProcessingOutputConfig"]["KmsKeyId"] = self.data_key.key_arn
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
                "Bucket": self.output_bucket.bucket_name,
                "Key.$": f"States.Format('{opts.report_prefix}{{}}/report.json', "
                "$$.Execution.Name)",
            },
            iam_resources=[self.output_bucket.arn_for_objects(f"{opts.report_prefix}*")],
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
        return job.next(read).next(gate).start_state

    def grant_workflow(self, state_machine: sfn.StateMachine) -> None:
        """Grant ``state_machine`` what the states need: run and track processing jobs (the
        ``.sync`` integration's EventBridge rule included), pass the processing role, read
        (decrypt) the report."""
        arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:processing-job/*"
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="RunProcessingJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                resources=[arn],
            )
        )
        # The .sync integration's documented policy lists sagemaker:ListTags on '*'.
        state_machine.add_to_role_policy(
            iam.PolicyStatement(sid="ListJobTags", actions=["sagemaker:ListTags"], resources=["*"])
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="ManageProcessingSyncRule",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/"
                    "StepFunctionsGetEventsForSageMakerProcessingJobsRule"
                ],
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassProcessingRole",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        if self.data_key is not None:
            self.data_key.grant(state_machine, "kms:Decrypt")


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
