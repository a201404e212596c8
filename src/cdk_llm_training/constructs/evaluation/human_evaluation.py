"""HumanEvaluation: sample model outputs, have the labeling workforce rate them with the
rating template, aggregate the scores (mean, agreement) into the evaluation report."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.human_evaluation import HumanEvaluationOptions
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._workflow import RETENTION as _RETENTION
from cdk_llm_training.constructs._workflow import notify
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.labeling.workflow import LabelingWorkflow
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.runtime_function import RuntimeFunction

SAMPLE_HANDLER = "evaluation_prompts.sample_handler"
AGGREGATE_HANDLER = "evaluation_report.human_report_handler"


class HumanEvaluation(Construct):
    """A Step Functions Standard workflow around a :class:`LabelingWorkflow`.

    States: ``SampleOutputs`` (Lambda: validate the model-outputs JSONL with the streaming
    validator, reservoir-sample ``sample_size`` lines, write a rating manifest under the
    labeling manifest prefix) -> ``RateOutputs`` (``states:startExecution.sync:2`` of the
    labeling workflow with ``task_type: rating``: the rating template, the work team, the
    converter) -> ``AggregateRatings`` (Lambda: mean, median, per-criterion and per-tag
    means, Krippendorff's alpha, written as ``<report_prefix><job>/report.json`` in the
    artifacts zone) -> ``NotifyHumanReport`` (when a topic is given) -> ``HumanGate``.

    Start it with ``{"outputsKey": "evaluation/outputs/run1.jsonl", "model": "my-model"}``.
    Logging ALL to a log group (encrypted with ``log_key`` when given) and X-Ray tracing.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        labeling: LabelingWorkflow,
        options: HumanEvaluationOptions | None = None,
        topic: sns.ITopic | None = None,
        log_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """:param labeling: the labeling workflow that runs the rating job (its lake holds
            the outputs, manifests and reports; its first work team rates).
        :param options: Default ``HumanEvaluationOptions()``.
        :param topic: topic for the report notification. Default: none.
        :param log_key: KMS key for the log groups (its policy gets the CloudWatch Logs
            statement). Default: none.
        :param removal_policy: for the log groups. Default RETAIN_ON_UPDATE_OR_DELETE.
        """
        super().__init__(scope, id)
        record_construct_type(self, "HumanEvaluation")
        self.options = opts = options or HumanEvaluationOptions()
        self.labeling = labeling
        lake = labeling.data_lake
        labeling_opts = labeling.options
        retention = _RETENTION[opts.log_retention_days]
        self.manifest_prefix = f"{labeling_opts.manifest_prefix}{opts.manifest_subprefix}"
        if log_key is not None:
            allow_cloudwatch_logs(log_key)

        def log_group(name: str) -> logs.LogGroup:
            return logs.LogGroup(
                self,
                name,
                retention=retention,
                encryption_key=log_key,
                removal_policy=removal_policy,
            )

        def function(
            name: str, handler: str, env: dict[str, str], statements: list[iam.PolicyStatement]
        ) -> RuntimeFunction:
            fn = RuntimeFunction(
                self,
                name,
                handler=handler,
                description=None,
                invoked_by="the human-evaluation workflow's lambda:invoke task",
                log_retention=retention,
                log_key=log_key,
                removal_policy=removal_policy,
                statements=statements,
                data_key=lake.key,
                environment=env,
            )
            acknowledge_wildcards(
                fn.execution_role,
                "Object access is limited to the evaluation and labeling prefixes (prefix*).",
            )
            return fn

        curated, artifacts = lake.curated_bucket, lake.artifacts_bucket
        self.sample_function = function(
            "SampleFunction",
            SAMPLE_HANDLER,
            {
                "BUCKET": curated.bucket_name,
                "OUTPUTS_PREFIX": opts.outputs_prefix,
                "MANIFEST_PREFIX": self.manifest_prefix,
            },
            [
                iam.PolicyStatement(
                    sid="ReadModelOutputs",
                    actions=["s3:GetObject"],
                    resources=[curated.arn_for_objects(f"{opts.outputs_prefix}*")],
                ),
                iam.PolicyStatement(
                    sid="WriteManifests",
                    actions=["s3:PutObject"],
                    resources=[curated.arn_for_objects(f"{self.manifest_prefix}*")],
                ),
            ],
        )
        self.aggregate_function = function(
            "AggregateFunction",
            AGGREGATE_HANDLER,
            {"REPORT_BUCKET": artifacts.bucket_name, "REPORT_PREFIX": opts.report_prefix},
            [
                iam.PolicyStatement(
                    sid="ReadLabelingOutput",
                    actions=["s3:GetObject"],
                    resources=[curated.arn_for_objects(f"{labeling_opts.output_prefix}*")],
                ),
                iam.PolicyStatement(
                    sid="WriteReports",
                    actions=["s3:PutObject"],
                    resources=[artifacts.arn_for_objects(f"{opts.report_prefix}*")],
                ),
            ],
        )
        self.state_machine = self._create_state_machine(topic, log_group("WorkflowLogs"))
        assert isinstance(self.state_machine.role, iam.Role)
        acknowledge_wildcards(
            self.state_machine.role,
            "CDK's task grants: Lambda versions (function:*), the child workflow's executions "
            "and the .sync EventBridge managed rule; X-Ray and log delivery have no resource "
            "type.",
        )

    def _create_state_machine(
        self, topic: sns.ITopic | None, log_group: logs.LogGroup
    ) -> sfn.StateMachine:
        opts = self.options
        sample = tasks.LambdaInvoke(
            self,
            "SampleOutputs",
            lambda_function=self.sample_function,
            payload=sfn.TaskInput.from_object(
                {
                    "outputsKey": sfn.JsonPath.string_at("$.outputsKey"),
                    "runId": sfn.JsonPath.execution_name,
                    "sampleSize": opts.sample_size,
                }
            ),
            payload_response_only=True,
            result_path="$.sample",
            retry_on_service_exceptions=True,
        )
        invalid = self._failure(
            topic,
            "OutputsInvalid",
            result="OUTPUTS_INVALID",
            cause="The model outputs are invalid; see the notification.",
            details={"errors": sfn.JsonPath.object_at("$.sample.errors")},
        )
        failed = self._failure(
            topic,
            "Failed",
            result="FAILED",
            cause="Sampling, the rating job or the aggregation failed; see the notification.",
            details={
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
        )
        bad_input = self._failure(
            topic,
            "InvalidInput",
            result="INVALID_INPUT",
            cause=(
                f"Input needs outputsKey (a string under '{opts.outputs_prefix}') and model "
                "(a non-empty string)."
            ),
            # Not the input itself (it could push the message over SNS's 256 KiB limit).
            details={},
        )
        sample.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        rate = tasks.StepFunctionsStartExecution(
            self,
            "RateOutputs",
            state_machine=self.labeling.state_machine,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            input=sfn.TaskInput.from_object(
                {
                    "task_type": "rating",
                    "job_name": sfn.JsonPath.format("rating-{}", sfn.JsonPath.uuid()),
                    "manifest_key": sfn.JsonPath.string_at("$.sample.manifestKey"),
                }
            ),
            result_selector={"labelingJob.$": "$.Output.labeling_job", "input.$": "$.Input"},
            result_path="$.rating",
        )
        rate.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        aggregate = tasks.LambdaInvoke(
            self,
            "AggregateRatings",
            lambda_function=self.aggregate_function,
            payload=sfn.TaskInput.from_object(
                {
                    "job_name": sfn.JsonPath.string_at("$.rating.input.job_name"),
                    "output_manifest_uri": sfn.JsonPath.string_at(
                        "$.rating.labelingJob.output_manifest_uri"
                    ),
                    "label_attribute_name": sfn.JsonPath.string_at(
                        "$.rating.labelingJob.label_attribute_name"
                    ),
                    "model": sfn.JsonPath.string_at("$.model"),
                    "min_scores": dict(opts.min_scores),
                }
            ),
            payload_response_only=True,
            result_path="$.report",
            retry_on_service_exceptions=True,
        )
        aggregate.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        gate = (
            sfn.Choice(self, "HumanGate", comment="Thresholds met?")
            .when(
                sfn.Condition.boolean_equals("$.report.passed", True), sfn.Succeed(self, "Passed")
            )
            .otherwise(
                sfn.Fail(
                    self,
                    "HumanThresholdNotMet",
                    error="HumanThresholdNotMet",
                    cause="Human ratings did not meet the thresholds; see the report.",
                )
            )
        )
        after: sfn.IChainable = gate
        if topic is not None:
            after = notify(
                self,
                "NotifyHumanReport",
                topic=topic,
                subject="Human evaluation report",
                message={
                    "result": "RATED",
                    "execution": sfn.JsonPath.execution_id,
                    "report": sfn.JsonPath.object_at("$.report"),
                },
            ).next(gate)
        rate.next(aggregate).next(after)
        sample.next(
            sfn.Choice(self, "OutputsValid?")
            .when(sfn.Condition.boolean_equals("$.sample.valid", True), rate)
            .otherwise(invalid)
        )
        # The whole input is checked first: `model` is read only by the last task, after
        # the paid labeling job.
        definition = (
            sfn.Choice(self, "CheckInput", comment="outputsKey and model before any cost.")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.outputsKey"),
                    sfn.Condition.is_string("$.outputsKey"),
                    sfn.Condition.string_matches("$.outputsKey", f"{opts.outputs_prefix}*"),
                    sfn.Condition.is_present("$.model"),
                    sfn.Condition.is_string("$.model"),
                    sfn.Condition.not_(sfn.Condition.string_equals("$.model", "")),
                ),
                sample,
            )
            .otherwise(bad_input)
        )
        return sfn.StateMachine(
            self,
            "Resource",
            comment="Sample model outputs, rate them with the labeling workforce, report.",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            timeout=Duration.days(30),
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )

    def _failure(
        self,
        topic: sns.ITopic | None,
        error: str,
        *,
        result: str,
        cause: str,
        details: dict[str, object],
    ) -> sfn.IChainable:
        """``Notify<error>`` (when a topic is given), then the ``<error>`` Fail state."""
        fail = sfn.Fail(self, error, error=error, cause=cause)
        if topic is None:
            return fail
        return notify(
            self,
            f"Notify{error}",
            topic=topic,
            subject=f"Human evaluation failed: {error}",
            message={
                "result": result,
                "execution": sfn.JsonPath.execution_id,
                "reason": cause,
                **details,
            },
        ).next(fail)

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start the human-evaluation workflow (``states:StartExecution``)."""
        return self.state_machine.grant_start_execution(grantee)
