"""SageMakerServerlessCustomization: SageMaker AI serverless model customization (SFT, DPO,
RLVR, RLAIF on a hub model, no cluster, no training script) as a fine-tune workflow.

``CreateTrainingJob`` with ``ServerlessJobConfig`` (JobType FineTuning) and
``ModelPackageConfig`` (the output registered into the construct's model package group).
Whether Step Functions' optimized ``sagemaker:createTrainingJob.sync`` integration passes
``ServerlessJobConfig`` and ``ModelPackageConfig`` through is not documented in the pages
checked (unverified), so the job is started with the AWS SDK integration (which takes every
API member) and polled with ``DescribeTrainingJob`` in a Wait loop, bounded by
``max_polls`` (the job is stopped when they run out).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.sagemaker_serverless_customization import SageMakerServerlessOptions
from cdk_llm_training.constructs._names import stack_unique_name
from cdk_llm_training.constructs._trust import service_principal_from
from cdk_llm_training.constructs._workflow import (
    add_list_statement,
    caught_error_message,
    lake_buckets,
)
from cdk_llm_training.constructs.fine_tune.sagemaker_serverless_eval_jobs import success_fields
from cdk_llm_training.constructs.fine_tune.sagemaker_serverless_evaluation import (
    ServerlessEvaluationSteps,
)
from cdk_llm_training.constructs.fine_tune.workflow import FineTuneWorkflow, JobService, Retry
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

VALIDATOR_HANDLER = "bedrock_dataset_validator.handler"
"""The streaming validator of the Bedrock workflow: generic over record formats."""
SERVICE = JobService(
    principal="sagemaker.amazonaws.com",
    pass_role_sid="PassTrainingRole",
    managed_rule_names=(),
)
SDK_RETRY = Retry(
    errors=("SageMaker.ThrottlingException", "SageMaker.InternalFailure"), interval_seconds=30
)
FAILED_STATUSES = ("Failed", "Stopped")


class SageMakerServerlessCustomization(FineTuneWorkflow):
    """Validate a dataset, run a SageMaker AI serverless customization job, register the
    result in a model package group, notify.

    States: ``ValidateDataset`` -> ``DatasetValid?`` -> ``CreateServerlessJob``
    (``aws-sdk:sagemaker:createTrainingJob``) -> ``WaitForJob`` -> ``DescribeJob`` ->
    ``JobDone?`` (Completed: ``NotifySucceeded``; Failed / Stopped: ``NotifyJobFailed``;
    ``max_polls`` reached: ``StopJob`` -> ``NotifyJobFailed``; otherwise ``CountPoll`` ->
    ``WaitForJob``). Start with ``{"trainingDataKey": "serverless/run1/train.jsonl",
    "jobNameSuffix": "run1"}``. With ``options.evaluation``, Completed continues into the
    evaluation states of :mod:`.sagemaker_serverless_evaluation`, and an input naming
    ``modelPackageArn`` and ``jobNameSuffix`` evaluates that package without training.

    Defaults: LoRA SFT; datasets under ``curated/serverless/``, output under
    ``artifacts/sagemaker/serverless-output/``; a model package group with a stack-unique
    name (retained on delete by ``removal_policy``); a training role trusted by SageMaker for
    this workflow's jobs only.
    """

    options: SageMakerServerlessOptions

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: SageMakerServerlessOptions,
        data_lake: TrainingDataLake | None = None,
        dataset_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
        key: kms.IKey | None = None,
        topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the workflow.

        :param options: the base model, technique and prefixes (required: ``base_model_arn``).
        :param data_lake: datasets from the curated zone, output to the artifacts zone.
            Either this or ``dataset_bucket`` + ``output_bucket``.
        :param data_key: KMS key of those buckets. Default: the lake key, or none.
        :param key: key of the topic and log groups. Default: a new key with rotation.
        :param topic: topic to notify. Default: a new encrypted topic.
        :param removal_policy: for the created key, log groups and model package group.
        """
        super().__init__(scope, id, removal_policy=removal_policy)
        self.options = options
        opts = options
        self.dataset_bucket, self.output_bucket, self.data_key = lake_buckets(
            "SageMakerServerlessCustomization",
            data_lake=data_lake,
            data_key=data_key,
            inputs=("dataset_bucket", dataset_bucket),
            outputs=("output_bucket", output_bucket),
        )
        self._create_notifications(
            key=key,
            topic=topic,
            workflow_name="SageMaker serverless customization",
            topic_display_name="SageMaker serverless customization notifications",
        )
        self.model_package_group_name = opts.model_package_group_name or stack_unique_name(
            self, max_length=63
        )
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelGroup",
            model_package_group_name=self.model_package_group_name,
            model_package_group_description=(
                f"{opts.technique.value} models trained by SageMaker serverless customization."
            ),
        )
        self.model_package_group.apply_removal_policy(removal_policy)
        self.training_role = self._create_training_role()
        self.evaluation: ServerlessEvaluationSteps | None = None
        """The evaluation step (``options.evaluation``), or None."""
        if opts.evaluation is not None:
            self.evaluation = ServerlessEvaluationSteps(self, opts.evaluation)
        self._create_validator(
            handler=VALIDATOR_HANDLER,
            description="Streams serverless customization datasets and checks every record.",
            role_description="Runs the serverless customization dataset validator Lambda.",
            report_bucket=self.output_bucket,
            environment={
                "OUTPUT_PREFIX": opts.output_prefix,
                "RECORD_FORMAT": opts.effective_record_format,
                "LIMITS": json.dumps({"max_validation_records": 0}),
                "JOB_NAME_PREFIX": opts.job_name_prefix,
                "READY_MARKER_NAME": "_READY",
                **(
                    {}
                    if self.evaluation is None
                    else {"JOB_NAME_RESERVE": str(self.evaluation.name_reserve)}
                ),
            },
        )
        self._create_state_machine(
            comment="Validate a dataset, run a SageMaker serverless customization job, notify.",
            definition=self._definition(),
            service=SERVICE,
            job_role=self.training_role,
            statements=self._workflow_statements(),
        )
        if self.evaluation is not None:
            self.evaluation.report_function.grant_invoke(self.state_machine)
        self._acknowledge_wildcards(
            job_role=self.training_role,
            job_role_reason="Object access is limited to the dataset and output key prefixes "
            "(prefix*), the only way to name the objects of future jobs.",
            workflow_reason="Training jobs are named at run time (training-job/<prefix>-*) and "
            "registered as new versions of the group (model-package/<group>/*); Lambda "
            "versions (function:*), log delivery and X-Ray ('*') are what CDK's task and "
            "logging grants need; kms:GenerateDataKey* is what SNS needs for the topic.",
        )

    @property
    def model_package_group_arn(self) -> str:
        return self.model_package_group.attr_model_package_group_arn

    def _job_arns(self) -> str:
        return (
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:training-job/"
            f"{self.options.job_name_prefix.lower()}-*"
        )

    def _create_training_role(self) -> iam.Role:
        opts = self.options
        role = iam.Role(
            self,
            "TrainingRole",
            description="Assumed by SageMaker to run this workflow's serverless jobs.",
            assumed_by=service_principal_from("sagemaker.amazonaws.com", self._job_arns()),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadDatasets",
                actions=["s3:GetObject"],
                resources=[self.dataset_bucket.arn_for_objects(f"{opts.dataset_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOutput",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[self.output_bucket.arn_for_objects(f"{opts.output_prefix}*")],
            )
        )
        add_list_statement(role, self.dataset_bucket, opts.dataset_prefix, "ListDatasets")
        add_list_statement(role, self.output_bucket, opts.output_prefix, "ListOutput")
        if self.data_key is not None:
            self.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        return role

    def _workflow_statements(self) -> list[iam.PolicyStatement]:
        sagemaker_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        group = self.model_package_group_name
        statements = [
            iam.PolicyStatement(
                sid="RunServerlessJobs",
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=[self._job_arns()],
            ),
            # The base model is named by its hub content (unverified which hub actions the
            # caller needs beyond CreateTrainingJob; DescribeHubContent is read-only).
            iam.PolicyStatement(
                sid="ReadBaseModel",
                actions=["sagemaker:DescribeHubContent"],
                resources=[self.options.base_model_arn],
            ),
            iam.PolicyStatement(
                sid="RegisterModels",
                actions=["sagemaker:CreateModelPackage"],
                resources=[
                    f"{sagemaker_arn}:model-package-group/{group}",
                    f"{sagemaker_arn}:model-package/{group}/*",
                ],
            ),
        ]
        if self.evaluation is not None:
            statements += self.evaluation.workflow_statements(
                f"{sagemaker_arn}:model-package/{group}/*"
            )
        return statements

    # -- workflow ------------------------------------------------------------------------

    def _request(self) -> dict[str, Any]:
        opts = self.options
        serverless: dict[str, Any] = {
            "BaseModelArn": opts.base_model_arn,
            "JobType": "FineTuning",
            "CustomizationTechnique": opts.technique.value,
            "AcceptEula": opts.accept_eula,
        }
        if opts.lora:
            serverless["Peft"] = "LORA"
        if opts.evaluator_arn is not None:
            serverless["EvaluatorArn"] = opts.evaluator_arn
        if opts.sequence_length is not None:
            serverless["SequenceLength"] = opts.sequence_length
        return {
            "TrainingJobName.$": "$.validation.jobName",
            "RoleArn": self.training_role.role_arn,
            "ServerlessJobConfig": serverless,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri.$": "$.validation.trainingDataS3Uri",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath.$": "$.validation.outputDataS3Uri"},
            "ModelPackageConfig": {"ModelPackageGroupArn": self.model_package_group_arn},
        }

    def _definition(self) -> sfn.IChainable:
        opts = self.options
        validator_failed = self._notify_failed(
            "NotifyValidatorFailed",
            subject="SageMaker serverless: dataset validation could not run",
            message=caught_error_message("VALIDATION_ERROR"),
            fail_id="ValidationError",
            cause="The dataset validator failed; see the notification.",
        )
        job_failed = self._notify_failed(
            "NotifyJobFailed",
            subject="SageMaker serverless customization job failed",
            message=caught_error_message(jobName=sfn.JsonPath.string_at("$.validation.jobName")),
            fail_id="JobFailed",
            cause="The serverless customization job failed; see the notification.",
        )
        succeeded = self._notify_succeeded(
            subject="SageMaker serverless customization job completed",
            message={
                "result": "SUCCEEDED",
                "execution": sfn.JsonPath.execution_id,
                "jobName": sfn.JsonPath.string_at("$.validation.jobName"),
                **(
                    {"job": sfn.JsonPath.object_at("$.job")}
                    if self.evaluation is None
                    else success_fields()
                ),
            },
        )
        create = self._service_task(
            "CreateServerlessJob",
            comment="Start the serverless customization job (AWS SDK integration).",
            integration="aws-sdk:sagemaker:createTrainingJob",
            parameters=self._request(),
            result_path="$.created",
            retry=SDK_RETRY,
            on_failure=job_failed,
        )
        start_polls = sfn.Pass(self, "StartPolling", parameters={"count": 0}, result_path="$.polls")
        wait = sfn.Wait(
            self,
            "WaitForJob",
            time=sfn.WaitTime.duration(Duration.minutes(opts.poll_interval_minutes)),
        )
        describe = self._service_task(
            "DescribeJob",
            comment="Read the job's status.",
            integration="aws-sdk:sagemaker:describeTrainingJob",
            parameters={"TrainingJobName.$": "$.validation.jobName"},
            result_selector={
                "TrainingJobArn.$": "$.TrainingJobArn",
                "TrainingJobStatus.$": "$.TrainingJobStatus",
                "SecondaryStatus.$": "$.SecondaryStatus",
            },
            result_path="$.job",
            retry=SDK_RETRY,
            on_failure=job_failed,
        )
        stop = self._service_task(
            "StopJob",
            comment="The job ran past max_polls: stop it.",
            integration="aws-sdk:sagemaker:stopTrainingJob",
            parameters={"TrainingJobName.$": "$.validation.jobName"},
            result_path=sfn.JsonPath.DISCARD,
            on_failure=job_failed,
        ).next(
            sfn.Pass(
                self,
                "PollsExhausted",
                parameters={"Error": "PollsExhausted", "Cause": "max_polls reached"},
                result_path="$.error",
            ).next(job_failed)
        )
        count = sfn.Pass(
            self,
            "CountPoll",
            parameters={"count.$": "States.MathAdd($.polls.count, 1)"},
            result_path="$.polls",
        )
        status = "$.job.TrainingJobStatus"
        completed = succeeded if self.evaluation is None else self.evaluation.chain(succeeded)
        done = (
            sfn.Choice(self, "JobDone?")
            .when(sfn.Condition.string_equals(status, "Completed"), completed)
            .when(
                sfn.Condition.or_(
                    *(sfn.Condition.string_equals(status, s) for s in FAILED_STATUSES)
                ),
                sfn.Pass(
                    self,
                    "JobEnded",
                    parameters={
                        "Error": "JobFailed",
                        "Cause.$": "States.JsonToString($.job)",
                    },
                    result_path="$.error",
                ).next(job_failed),
            )
            .when(sfn.Condition.number_greater_than_equals("$.polls.count", opts.max_polls), stop)
            .otherwise(count.next(wait))
        )
        create.next(start_polls).next(wait).next(describe).next(done)
        train = self._dataset_gate(
            subject_prefix="SageMaker serverless customization",
            on_validator_error=validator_failed,
            job=create,
            job_with_validation=None,
        )
        return train if self.evaluation is None else self.evaluation.entry(train)
