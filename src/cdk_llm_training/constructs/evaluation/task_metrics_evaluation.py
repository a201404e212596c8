"""TaskMetricsEvaluation: the resources of a SageMaker processing job that scores a fine-tuned
adapter on a labelled set (exact match, token F1, ROUGE-L) with the package's metrics script;
its states (job, report, threshold gate) are the :class:`TaskMetricsSteps` fragment.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.assets import asset_path
from cdk_llm_training.config.task_metrics_evaluation import (
    DEFAULT_METRICS_IMAGE,
    TaskMetricsOptions,
)
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._workflow import lake_buckets
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.evaluation._grants import combine, grant_statement
from cdk_llm_training.constructs.evaluation.task_metrics_steps import TaskMetricsSteps
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

DLC_ACCOUNT = "763104351884"
"""AWS Deep Learning Containers registry account (most commercial Regions)."""


class TaskMetricsEvaluation(Construct):
    """The processing role and the metrics script asset; the states are
    :class:`TaskMetricsSteps` (see :meth:`chain`).

    Creates: a SageMaker processing role trusted by ``sagemaker.amazonaws.com`` for this
    account's ``processing-job/*`` only (``aws:SourceAccount`` + ``aws:SourceArn``) that reads
    the labelled set, the predictions prefix and the script asset, writes only the report
    prefix, and pulls the processing image; the script
    (``cdk_llm_training/assets/evaluation/metrics.py``) as an S3 asset.

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
        self.script = s3_assets.Asset(
            self, "Script", path=str(asset_path("evaluation", "metrics.py"))
        )
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

    # -- states and grants --------------------------------------------------------------------

    def chain(
        self,
        *,
        predictions_s3_uri_path: str,
        on_passed: sfn.IChainable | None = None,
        on_failed: sfn.IChainable | None = None,
        model_name_path: str | None = None,
    ) -> TaskMetricsSteps:
        """The task-metrics states as the fragment ``<this construct>/Steps`` (call once).

        Same arguments as :class:`TaskMetricsSteps`.
        """
        return TaskMetricsSteps(
            self,
            "Steps",
            evaluation=self,
            predictions_s3_uri_path=predictions_s3_uri_path,
            on_passed=on_passed,
            on_failed=on_failed,
            model_name_path=model_name_path,
        )

    def grant_workflow(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` (the workflow's state machine) what the states need: run and track
        processing jobs (the ``.sync`` integration's EventBridge rule included), pass the
        processing role, read (decrypt) the report."""
        arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:processing-job/*"
        run = grant_statement(
            grantee,
            "RunProcessingJobs",
            [
                "sagemaker:CreateProcessingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StopProcessingJob",
                "sagemaker:AddTags",
            ],
            [arn],
        )
        # The .sync integration's documented policy lists sagemaker:ListTags on '*'.
        list_tags = grant_statement(grantee, "ListJobTags", ["sagemaker:ListTags"], ["*"])
        sync_rule = grant_statement(
            grantee,
            "ManageProcessingSyncRule",
            ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            [
                f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/"
                "StepFunctionsGetEventsForSageMakerProcessingJobsRule"
            ],
        )
        pass_role = grant_statement(
            grantee,
            "PassProcessingRole",
            ["iam:PassRole"],
            [self.role.role_arn],
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
        decrypt = self.data_key.grant(grantee, "kms:Decrypt") if self.data_key is not None else None
        return combine(run, list_tags, sync_rule, pass_role, decrypt)
