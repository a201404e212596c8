"""ModelEvaluation: Bedrock model evaluation states (LLM-as-a-judge + built-in metrics),
a JSON report and a threshold gate, to chain after a Bedrock fine-tune.

Bedrock evaluation jobs have no CloudFormation resource and no Step Functions ``.sync``
integration: the states call ``aws-sdk:bedrock:createEvaluationJob`` and poll
``getEvaluationJob`` in a Wait loop with a poll limit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training import runtime
from cdk_llm_training.config.model_evaluation import ModelEvaluationOptions
from cdk_llm_training.constructs._acknowledge import acknowledge_wildcards
from cdk_llm_training.constructs._compliance import (
    NO_VPC_REASON,
    acknowledge_synchronous_function,
)
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._workflow import lake_buckets, notify
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

PREPARE_HANDLER = "evaluation_prompts.prepare_handler"
REPORT_HANDLER = "evaluation_report.bedrock_report_handler"
_CONTEXT_SUFFIX = re.compile(r":\d+k$")
_FAILED_STATUSES = ("Failed", "Stopped", "Stopping", "Deleting")


def on_demand_model_id(base_model_id: str) -> str:
    """The invocable id of a customizable base model: ``amazon.nova-micro-v1:0:128k`` ->
    ``amazon.nova-micro-v1:0`` (the context-length suffix names the customization variant)."""
    return _CONTEXT_SUFFIX.sub("", base_model_id)


class ModelEvaluation(Construct):
    """Evaluation resources and the states that use them (chain them with :meth:`chain`).

    Creates: a Bedrock evaluation service role (trusts ``bedrock.amazonaws.com`` only for
    ``evaluation-job/*`` of this account: ``aws:SourceAccount`` + ``aws:SourceArn``) that
    reads only the prepared prompt set, writes only the output prefix and invokes only the
    foundation models, provisioned models and inference profiles of this account/Region; a
    prepare Lambda (validates the prompt catalog with the streaming validator and writes it
    in Bedrock's dataset format); a report Lambda (reads the evaluation output, compares with
    the base model, applies the thresholds, writes ``<report_prefix><execution>/report.json``
    to the artifacts zone).

    States (see :meth:`chain`): optional no-commitment provisioned throughput for the new
    custom model (polled until InService) -> prepare prompts -> a Parallel of evaluation jobs
    (candidate and base model; judge metrics and, when set, algorithmic metrics; each polled
    every ``poll_interval_seconds`` up to ``max_polls``) -> report -> notify with the report
    summary -> gate. A failed gate or a failed job deletes the provisioned throughput (the
    model stays unusable) and ends in a Fail state.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        base_model_id: str,
        topic: sns.ITopic,
        options: ModelEvaluationOptions | None = None,
        data_lake: TrainingDataLake | None = None,
        catalog_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
        log_key: kms.IKey | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the role and Lambdas.

        :param base_model_id: the base model the candidate is compared with (its on-demand id
            is derived with :func:`on_demand_model_id` unless ``options.baseline_model_id``).
        :param topic: topic for the evaluation notifications.
        :param options: Default ``ModelEvaluationOptions()``.
        :param data_lake: catalog in the curated zone, output and reports in the artifacts
            zone. Either this or ``catalog_bucket`` + ``output_bucket``.
        :param data_key: KMS key of those buckets. Default: the lake key, or none.
        :param log_key: KMS key for the Lambda log groups (its policy gets the CloudWatch Logs
            statement). Default: none (AWS-managed).
        :param removal_policy: for the log groups. Default RETAIN_ON_UPDATE_OR_DELETE.
        """
        super().__init__(scope, id)
        record_construct_type(self, "ModelEvaluation")
        self.options = opts = options or ModelEvaluationOptions()
        self.topic = topic
        self.base_model_id = base_model_id
        self.baseline_model_id = opts.baseline_model_id or on_demand_model_id(base_model_id)
        self.catalog_bucket, self.output_bucket, self.data_key = lake_buckets(
            "ModelEvaluation",
            data_lake=data_lake,
            data_key=data_key,
            inputs=("catalog_bucket", catalog_bucket),
            outputs=("output_bucket", output_bucket),
        )
        self._log_key = log_key
        if log_key is not None:
            allow_cloudwatch_logs(log_key)
        self._log_retention = log_retention
        self._removal_policy = removal_policy
        self.evaluation_role = self._create_evaluation_role()
        self.prepare_function = self._function(
            "PrepareFunction",
            PREPARE_HANDLER,
            "Validates the evaluation prompt catalog and writes Bedrock's dataset format.",
            environment={
                "CATALOG_BUCKET": self.catalog_bucket.bucket_name,
                "CATALOG_PREFIX": opts.prompt_catalog_key,
                "OUTPUT_BUCKET": self.output_bucket.bucket_name,
                "INPUT_PREFIX": opts.input_prefix,
            },
            statements=[
                iam.PolicyStatement(
                    sid="ReadCatalog",
                    actions=["s3:GetObject"],
                    resources=[self.catalog_bucket.arn_for_objects(opts.prompt_catalog_key)],
                ),
                iam.PolicyStatement(
                    sid="WritePreparedPrompts",
                    actions=["s3:PutObject"],
                    resources=[self.output_bucket.arn_for_objects(f"{opts.input_prefix}*")],
                ),
            ],
        )
        self.report_function = self._function(
            "ReportFunction",
            REPORT_HANDLER,
            "Turns Bedrock evaluation output into the JSON evaluation report and gate.",
            environment={
                "REPORT_BUCKET": self.output_bucket.bucket_name,
                "REPORT_PREFIX": opts.report_prefix,
                "THRESHOLDS": opts.thresholds.model_dump_json(),
            },
            statements=[
                iam.PolicyStatement(
                    sid="ReadEvaluationOutput",
                    actions=["s3:GetObject"],
                    resources=[self.output_bucket.arn_for_objects(f"{opts.output_prefix}*")],
                ),
                iam.PolicyStatement(
                    sid="ListEvaluationOutput",
                    actions=["s3:ListBucket"],
                    resources=[self.output_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{opts.output_prefix}*"]}},
                ),
                iam.PolicyStatement(
                    sid="WriteReports",
                    actions=["s3:PutObject"],
                    resources=[self.output_bucket.arn_for_objects(f"{opts.report_prefix}*")],
                ),
            ],
        )

    # -- ARNs --------------------------------------------------------------------------------

    @staticmethod
    def _bedrock_arn(resource: str, *, account: bool = True) -> str:
        account_part = Aws.ACCOUNT_ID if account else ""
        return f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{account_part}:{resource}"

    def _model_arns(self) -> list[str]:
        return [
            self._bedrock_arn("foundation-model/*", account=False),
            self._bedrock_arn("provisioned-model/*"),
            self._bedrock_arn("inference-profile/*"),
        ]

    # -- resources ---------------------------------------------------------------------------

    def _create_evaluation_role(self) -> iam.Role:
        opts = self.options
        role = iam.Role(
            self,
            "EvaluationRole",
            description="Assumed by Amazon Bedrock to run this workflow's evaluation jobs.",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": self._bedrock_arn("evaluation-job/*")},
                },
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadPromptSet",
                actions=["s3:GetObject"],
                resources=[self.output_bucket.arn_for_objects(f"{opts.input_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteResults",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[self.output_bucket.arn_for_objects(f"{opts.output_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListPromptsAndResults",
                actions=["s3:ListBucket"],
                resources=[self.output_bucket.bucket_arn],
                conditions={
                    "StringLike": {"s3:prefix": [f"{opts.input_prefix}*", f"{opts.output_prefix}*"]}
                },
            )
        )
        # GetBucketLocation requests carry no s3:prefix key, so a prefix condition would
        # deny them: the bucket ARN alone scopes this statement.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LocateBucket",
                actions=["s3:GetBucketLocation"],
                resources=[self.output_bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeEvaluatedAndJudgeModels",
                actions=["bedrock:InvokeModel", "bedrock:CreateModelInvocationJob"],
                resources=self._model_arns(),
            )
        )
        if self.data_key is not None:
            self.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        acknowledge_wildcards(
            role,
            "Bedrock evaluation reads the prepared prompt prefix and writes under the output "
            "prefix (prefix*); models are named per run (provisioned-model/*) and the judge and "
            "base models are foundation models or inference profiles of this Region.",
        )
        return role

    def _function(
        self,
        id: str,
        handler: str,
        description: str,
        *,
        environment: dict[str, str],
        statements: list[iam.PolicyStatement],
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{id}Logs",
            retention=self._log_retention,
            encryption_key=self._log_key,
            removal_policy=self._removal_policy,
        )
        role = iam.Role(
            self,
            f"{id}Role",
            description=description,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        for statement in statements:
            role.add_to_policy(statement)
        if self.data_key is not None:
            self.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        function = lambda_.Function(
            self,
            id,
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=lambda_.Code.from_asset(
                str(Path(runtime.__file__).parent), exclude=["__pycache__", "*.pyc"]
            ),
            memory_size=1024,
            timeout=Duration.minutes(15),
            role=role,
            log_group=log_group,
            environment=environment,
        )
        acknowledge_wildcards(
            role,
            "Object access is limited to the evaluation prefixes (prefix*), the only way to "
            "name the objects of future runs.",
        )
        acknowledge_synchronous_function(
            function,
            invoked_by="the evaluation workflow's lambda:invoke task",
            outside_vpc_reason=NO_VPC_REASON,
        )
        return function

    # -- states ------------------------------------------------------------------------------

    def chain(
        self,
        *,
        on_passed: sfn.IChainable,
        custom_model_name_path: str | None = None,
        candidate_model_path: str = "$.evaluationModelArn",
    ) -> sfn.IChainable:
        """The evaluation states, ending in ``on_passed`` or in the ``EvalFailed`` /
        ``EvalThresholdNotMet`` Fail states.

        :param on_passed: where to go when the gate passes.
        :param custom_model_name_path: JSON path of the new custom model's name. With
            ``options.provision_throughput`` the states buy provisioned throughput for it.
        :param candidate_model_path: JSON path of the model ARN to evaluate when no
            throughput is provisioned (an existing provisioned model or inference profile).
            Default ``$.evaluationModelArn`` (from the execution input).
        """
        opts = self.options
        provision = opts.provision_throughput and custom_model_name_path is not None
        candidate = "$.evaluation.candidateModel" if provision else candidate_model_path

        delete_throughput: tasks.CallAwsService | None = None
        if provision:
            delete_throughput = tasks.CallAwsService(
                self,
                "EvalDeleteThroughput",
                comment="Keep the model unusable: delete the evaluation throughput.",
                service="bedrock",
                action="deleteProvisionedModelThroughput",
                parameters={"ProvisionedModelId.$": "$.evaluation.candidateModel"},
                iam_resources=[self._bedrock_arn("provisioned-model/*")],
                result_path=sfn.JsonPath.DISCARD,
            )

        failed = self._notify(
            "EvalNotifyFailed",
            "Model evaluation failed",
            {
                "result": "EVALUATION_FAILED",
                "execution": sfn.JsonPath.execution_id,
                "error": sfn.JsonPath.string_at("$.evaluationError.Error"),
                "cause": sfn.JsonPath.string_at("$.evaluationError.Cause"),
            },
        ).next(
            sfn.Fail(self, "EvalFailed", error="EvaluationFailed", cause="See the notification.")
        )
        on_error: sfn.IChainable = failed
        if delete_throughput is not None:
            cleanup = tasks.CallAwsService(
                self,
                "EvalDeleteThroughputAfterError",
                service="bedrock",
                action="deleteProvisionedModelThroughput",
                parameters={"ProvisionedModelId.$": "$.evaluation.candidateModel"},
                iam_resources=[self._bedrock_arn("provisioned-model/*")],
                result_path=sfn.JsonPath.DISCARD,
            )
            cleanup.add_catch(failed, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
            cleanup.next(failed)
            on_error = cleanup

        prepare = tasks.LambdaInvoke(
            self,
            "EvalPreparePrompts",
            comment="Validate the prompt catalog; write it in Bedrock's dataset format.",
            lambda_function=self.prepare_function,
            payload=sfn.TaskInput.from_object(
                {
                    "catalogKey": opts.prompt_catalog_key,
                    "runId": sfn.JsonPath.string_at("$.evaluation.runId"),
                }
            ),
            payload_response_only=True,
            result_path="$.evaluation.prompts",
            retry_on_service_exceptions=True,
        )
        prepare.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")
        prompts_invalid = sfn.Pass(
            self,
            "EvalPromptsInvalid",
            parameters={
                "Error": "EvaluationPromptsInvalid",
                "Cause.$": "States.JsonToString($.evaluation.prompts.errors)",
            },
            result_path="$.evaluationError",
        ).next(on_error)

        jobs = sfn.Parallel(
            self,
            "EvalRunJobs",
            comment="One evaluation job per model and metric kind, each polled to the end.",
            result_path="$.evaluation.jobs",
        )
        kinds = [("judge", opts.judge_metrics), ("builtin", opts.algorithmic_metrics)]
        roles = [("candidate", candidate)]
        if opts.compare_with_base_model:
            roles.append(("baseline", self.baseline_model_id))
        for role, model in roles:
            for kind, metrics in kinds:
                if metrics:
                    jobs.branch(self._job_branch(role, kind, model, metrics))
        jobs.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")

        report = tasks.LambdaInvoke(
            self,
            "EvalReport",
            comment="Read the evaluation output; write the JSON report; apply thresholds.",
            lambda_function=self.report_function,
            payload=sfn.TaskInput.from_object(
                {
                    "runId": sfn.JsonPath.string_at("$.evaluation.runId"),
                    "dataset": sfn.JsonPath.string_at("$.evaluation.prompts.datasetS3Uri"),
                    "jobs": sfn.JsonPath.list_at("$.evaluation.jobs"),
                }
            ),
            payload_response_only=True,
            result_path="$.evaluation.report",
            retry_on_service_exceptions=True,
        )
        report.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")
        notify_report = self._notify(
            "EvalNotifyReport",
            "Model evaluation report",
            {
                "result": "EVALUATED",
                "execution": sfn.JsonPath.execution_id,
                "passed": sfn.JsonPath.object_at("$.evaluation.report.passed"),
                "failures": sfn.JsonPath.object_at("$.evaluation.report.failures"),
                "reportS3Uri": sfn.JsonPath.string_at("$.evaluation.report.reportS3Uri"),
                "summary": sfn.JsonPath.object_at("$.evaluation.report.summary"),
                "delta": sfn.JsonPath.object_at("$.evaluation.report.delta"),
            },
        )
        threshold_fail = sfn.Fail(
            self,
            "EvalThresholdNotMet",
            error="EvaluationThresholdNotMet",
            cause="The evaluation did not meet the thresholds; see the report.",
        )
        not_met: sfn.IChainable = threshold_fail
        if delete_throughput is not None:
            delete_throughput.add_catch(
                threshold_fail, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD
            )
            not_met = delete_throughput.next(threshold_fail)
        gate = (
            sfn.Choice(self, "EvalGate", comment="Thresholds met?")
            .when(sfn.Condition.boolean_equals("$.evaluation.report.passed", True), on_passed)
            .otherwise(not_met)
        )
        prompts_ok = (
            sfn.Choice(self, "EvalPromptsValid?")
            .when(
                sfn.Condition.boolean_equals("$.evaluation.prompts.valid", False), prompts_invalid
            )
            .otherwise(jobs)
        )
        jobs.next(report).next(notify_report).next(gate)

        prepare.next(prompts_ok)
        if not provision:
            setup = sfn.Pass(
                self,
                "EvalSetup",
                parameters={"runId.$": "$$.Execution.Name"},
                result_path="$.evaluation",
            )
            return setup.next(prepare)
        assert custom_model_name_path is not None
        create = tasks.CallAwsService(
            self,
            "EvalProvisionThroughput",
            comment="No-commitment provisioned throughput so the custom model can be invoked.",
            service="bedrock",
            action="createProvisionedModelThroughput",
            parameters={
                "ModelId.$": custom_model_name_path,
                "ModelUnits": opts.model_units,
                "ProvisionedModelName.$": "States.Format('eval-{}', States.UUID())",
            },
            iam_resources=[
                self._bedrock_arn("custom-model/*"),
                self._bedrock_arn("provisioned-model/*"),
            ],
            result_selector={"arn.$": "$.ProvisionedModelArn"},
            result_path="$.evaluation.throughput",
        )
        create.add_catch(failed, errors=["States.ALL"], result_path="$.evaluationError")
        remember = sfn.Pass(
            self,
            "EvalRememberModel",
            parameters={
                "runId.$": "$$.Execution.Name",
                "polls": 0,
                "candidateModel.$": "$.evaluation.throughput.arn",
            },
            result_path="$.evaluation",
        )
        wait = sfn.Wait(
            self,
            "EvalWaitThroughput",
            time=sfn.WaitTime.duration(Duration.seconds(opts.poll_interval_seconds)),
        )
        get = tasks.CallAwsService(
            self,
            "EvalGetThroughput",
            service="bedrock",
            action="getProvisionedModelThroughput",
            parameters={"ProvisionedModelId.$": "$.evaluation.candidateModel"},
            iam_resources=[self._bedrock_arn("provisioned-model/*")],
            result_selector={"status.$": "$.Status"},
            result_path="$.evaluation.throughputStatus",
        )
        get.add_retry(errors=["Bedrock.ThrottlingException"], interval=Duration.seconds(10))
        get.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")
        count = sfn.Pass(
            self,
            "EvalCountThroughputPoll",
            parameters={"polls.$": "States.MathAdd($.evaluation.polls, 1)"},
            result_path="$.evaluation.counter",
        )
        keep_count = sfn.Pass(
            self,
            "EvalKeepThroughputPollCount",
            input_path="$.evaluation.counter.polls",
            result_path="$.evaluation.polls",
        )
        throughput_failed = sfn.Pass(
            self,
            "EvalThroughputFailed",
            parameters={
                "Error": "ProvisionedThroughputFailed",
                "Cause": "The provisioned throughput did not reach InService.",
            },
            result_path="$.evaluationError",
        ).next(on_error)
        ready = (
            sfn.Choice(self, "EvalThroughputReady?")
            .when(
                sfn.Condition.string_equals("$.evaluation.throughputStatus.status", "InService"),
                prepare,
            )
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals("$.evaluation.throughputStatus.status", "Failed"),
                    sfn.Condition.number_greater_than_equals("$.evaluation.polls", opts.max_polls),
                ),
                throughput_failed,
            )
            .otherwise(count)
        )
        count.next(keep_count).next(wait)
        return create.next(remember).next(wait).next(get).next(ready).start_state

    def _job_branch(
        self, role: str, kind: str, model: str, metrics: tuple[str, ...]
    ) -> sfn.IChainable:
        opts = self.options
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
                        "DatasetLocation": {"S3Uri.$": "$.evaluation.prompts.datasetS3Uri"},
                    },
                    "MetricNames": list(metrics),
                }
            ]
        }
        if kind == "judge":
            automated["EvaluatorModelConfig"] = {
                "BedrockEvaluatorModels": [{"ModelIdentifier": opts.judge_model_id}]
            }
        output_uri = f"s3://{self.output_bucket.bucket_name}/{opts.output_prefix}"
        create = tasks.CallAwsService(
            self,
            f"{prefix}-Create",
            service="bedrock",
            action="createEvaluationJob",
            parameters={
                "JobName.$": f"States.Format('eval-{tag}-{{}}', States.UUID())",
                "RoleArn": self.evaluation_role.role_arn,
                "ApplicationType": "ModelEvaluation",
                "EvaluationConfig": {"Automated": automated},
                "InferenceConfig": {"Models": [{"BedrockModel": model_field}]},
                "OutputDataConfig": {"S3Uri": output_uri},
            },
            iam_resources=[self._bedrock_arn("evaluation-job/*"), *self._model_arns()],
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
            self,
            f"{prefix}-Wait",
            time=sfn.WaitTime.duration(Duration.seconds(opts.poll_interval_seconds)),
        )
        get = tasks.CallAwsService(
            self,
            f"{prefix}-Get",
            service="bedrock",
            action="getEvaluationJob",
            parameters={"JobIdentifier.$": "$.job.jobArn"},
            iam_resources=[self._bedrock_arn("evaluation-job/*")],
            result_selector={"status.$": "$.Status", "name.$": "$.JobName"},
            result_path="$.job.state",
        )
        get.add_retry(errors=["Bedrock.ThrottlingException"], interval=Duration.seconds(10))
        count = sfn.Pass(
            self,
            f"{prefix}-Count",
            parameters={"jobArn.$": "$.job.jobArn", "polls.$": "States.MathAdd($.job.polls, 1)"},
            result_path="$.job",
        )
        model_value = {"model.$": model} if model.startswith("$") else {"model": model}
        done = sfn.Pass(
            self,
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
            self,
            f"{prefix}-Failed",
            error="EvaluationJobFailed",
            cause=f"The {role} {kind} evaluation job failed, stopped or timed out.",
        )
        check = (
            sfn.Choice(self, f"{prefix}-Finished?")
            .when(sfn.Condition.string_equals("$.job.state.status", "Completed"), done)
            .when(
                sfn.Condition.or_(
                    *[
                        sfn.Condition.string_equals("$.job.state.status", s)
                        for s in _FAILED_STATUSES
                    ],
                    sfn.Condition.number_greater_than_equals("$.job.polls", opts.max_polls),
                ),
                failed,
            )
            .otherwise(count)
        )
        count.next(wait)
        return create.next(wait).next(get).next(check).start_state

    def _notify(self, id: str, subject: str, message: dict[str, Any]) -> tasks.SnsPublish:
        return notify(self, id, topic=self.topic, subject=subject, message=message)

    # -- grants ------------------------------------------------------------------------------

    def grant_workflow(self, state_machine: sfn.StateMachine) -> None:
        """What the workflow role needs beyond CDK's task grants: pass the evaluation role."""
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassEvaluationRole",
                actions=["iam:PassRole"],
                resources=[self.evaluation_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            )
        )
