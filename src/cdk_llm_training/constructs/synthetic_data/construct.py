"""SyntheticData: SFT training data from a teacher model with Bedrock batch inference."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.synthetic_data import SyntheticDataOptions
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._workflow import caught_error_message
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.fine_tune.workflow import FineTuneWorkflow, JobService, catch_all
from cdk_llm_training.constructs.runtime_function import RuntimeFunction
from cdk_llm_training.constructs.synthetic_data.judging import (
    batch_job_poll,
    batch_output_config,
    judging_steps,
    reconciled_choice,
)
from cdk_llm_training.constructs.synthetic_data.roles import (
    batch_job_arns,
    convert_statements,
    create_batch_role,
    judge_statements,
    prepare_statements,
    teacher_arn,
)
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

VALIDATOR_HANDLER = "bedrock_dataset_validator.handler"
BEDROCK_BATCH = JobService(
    principal="bedrock.amazonaws.com", pass_role_sid="PassBatchRole", managed_rule_names=()
)


class SyntheticData(FineTuneWorkflow):
    """A Step Functions Standard workflow that turns a prompt set into SFT records answered
    by a teacher model.

    States: ``PreparePrompts`` (Lambda: build the batch input, check the record count
    against ``min_records``/``max_records``, estimate the cost) -> ``PromptsValid?``
    (no: ``NotifyPromptsInvalid`` -> ``PromptsInvalid``, no job) -> ``CreateBatchJob``
    (``aws-sdk:bedrock:createModelInvocationJob``) -> ``WaitForJob`` -> ``GetBatchJob`` ->
    ``JobFinished?`` (Completed or PartiallyCompleted -> ``ConvertOutputs``; Failed, Stopped,
    Expired or too many polls -> ``NotifyJobFailed`` -> ``JobFailed``; otherwise
    ``CountPoll`` -> wait again) -> ``ConvertOutputs`` (Lambda: chat records and a card) ->
    ``ValidateDataset`` -> ``DatasetValid?`` -> ``NotifySucceeded`` (with the cost
    estimate). Every task error -> ``NotifyFailed`` -> ``Failed``.

    Start an execution with ``{"promptsKey": "synthetic/prompts/set1.jsonl"}``; the result is
    ``finetune/synthetic/<execution name>/train.jsonl`` with ``dataset_card.json``.
    """

    options: SyntheticDataOptions

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        data_lake: TrainingDataLake,
        options: SyntheticDataOptions | None = None,
        key: kms.IKey | None = None,
        topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """:param data_lake: prompts and results in its curated zone, batch input and output
            in its artifacts zone, its key for both and the job output.
        :param options: Default ``SyntheticDataOptions()``.
        :param key: encrypts the topic and log groups. Default: a new rotating key.
        :param topic: where the workflow notifies. Default: a new encrypted topic.
        """
        super().__init__(scope, id, removal_policy=removal_policy)
        record_construct_type(self, "SyntheticData")
        self.options = opts = options or SyntheticDataOptions()
        self.curated_bucket = self.dataset_bucket = data_lake.curated_bucket
        self.artifacts_bucket = data_lake.artifacts_bucket
        self.data_key: kms.IKey | None = data_lake.key
        self._create_notifications(
            key=key,
            topic=topic,
            workflow_name="synthetic data",
            topic_display_name="Synthetic data notifications",
        )
        self.batch_role = create_batch_role(self)
        environment = {
            "PROMPT_BUCKET": self.curated_bucket.bucket_name,
            "PROMPT_PREFIX": opts.prompt_prefix,
            "WORK_BUCKET": self.artifacts_bucket.bucket_name,
            "WORK_PREFIX": opts.work_prefix,
            "DATASET_PREFIX": opts.dataset_prefix,
            "TEACHER_MODEL_ID": opts.teacher_model_id,
            "MAX_TOKENS": str(opts.max_tokens),
            "TEMPERATURE": str(opts.temperature),
            "MIN_RECORDS": str(opts.min_records),
            "MAX_RECORDS": str(opts.max_records),
            "INPUT_PRICE_PER_MILLION_TOKENS": _price(opts.input_price_per_million_tokens),
            "OUTPUT_PRICE_PER_MILLION_TOKENS": _price(opts.output_price_per_million_tokens),
            "QUOTA_MODEL_NAMES": json.dumps(opts.quota_names, sort_keys=True),
            "MAX_INPUT_FILE_GIB": str(opts.max_input_file_gib),
            "MAX_JOB_GIB": str(opts.max_job_gib),
            "MAX_IN_FLIGHT_JOBS": _price(opts.max_in_flight_jobs),
        }
        preference = opts.output == "preference"
        if preference:
            environment |= {
                "OUTPUT_MODE": "preference",
                "SECOND_TEMPERATURE": str(opts.second_temperature),
                "JUDGE_MODEL_ID": opts.judge,
            }
        self.prepare_function = self._runtime_function(
            "Prepare", "synthetic_data.prepare_handler", prepare_statements(self), environment
        )
        converter = "synthetic_preference" if preference else "synthetic_data"
        self.convert_function = self._runtime_function(
            "Convert", f"{converter}.convert_handler", convert_statements(self), environment
        )
        self.judge_function: RuntimeFunction | None = None
        """Pairs the samples and judges them directly under the batch minimum (preference
        mode only)."""
        if preference:
            self.judge_function = self._runtime_function(
                "Judge", "synthetic_preference.judge_handler", judge_statements(self), environment
            )
        self._create_validator(
            handler=VALIDATOR_HANDLER,
            description="Streams the synthetic dataset and checks every record.",
            role_description="Runs the dataset validator on synthetic data.",
            report_bucket=self.artifacts_bucket,
            environment={
                "RECORD_FORMAT": opts.dataset_format,
                "LIMITS": "{}",
                "JOB_NAME_PREFIX": opts.job_name_prefix,
            },
        )
        self._create_state_machine(
            comment="Answer a prompt set with a teacher model (Bedrock batch), convert, validate.",
            definition=self.build_definition(),
            service=BEDROCK_BATCH,
            job_role=self.batch_role,
            statements=(),
        )
        self._acknowledge_wildcards(
            job_role=self.batch_role,
            job_role_reason="Batch input and output are named per run under the work prefix.",
            workflow_reason=(
                "Batch jobs get their ARN at creation: model-invocation-job/* of this account."
            ),
        )
        functions = (self.prepare_function, self.convert_function, self.judge_function)
        for function in filter(None, functions):
            acknowledge_wildcards(
                function.execution_role,
                "Objects are named per run under the prompt, work and dataset prefixes.",
            )

    def _runtime_function(
        self, id: str, handler: str, statements: list[iam.PolicyStatement], env: dict[str, str]
    ) -> RuntimeFunction:
        return RuntimeFunction(
            self,
            id,
            handler=handler,
            description=f"Synthetic data: {id.lower()} step.",
            invoked_by="the workflow's lambda:invoke task",
            log_retention=self._log_retention,
            log_key=self.key,
            removal_policy=self._removal_policy,
            statements=statements,
            data_key=self.data_key,
            environment=env,
        )

    def lambda_step(
        self, id: str, function: RuntimeFunction, payload: dict[str, Any], result: str
    ) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            id,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            result_path=result,
            retry_on_service_exceptions=True,
        )

    def build_definition(self) -> sfn.IChainable:
        """The states (see the class docstring)."""
        opts = self.options
        subject = "Synthetic data"
        failed = self._notify_failed(
            "NotifyFailed",
            subject=f"{subject}: failed",
            message=caught_error_message(promptsKey=sfn.JsonPath.string_at("$.promptsKey")),
            fail_id="Failed",
            cause="A synthetic-data step failed; see the notification.",
        )
        run = sfn.JsonPath.execution_name
        prepare = self.lambda_step(
            "PreparePrompts",
            self.prepare_function,
            {"promptsKey": sfn.JsonPath.string_at("$.promptsKey"), "run": run},
            "$.prepared",
        )
        catch_all(prepare, failed)
        invalid = self._notify_failed(
            "NotifyPromptsInvalid",
            subject=f"{subject}: prompt set refused, no job started",
            message={
                "result": "PROMPTS_INVALID",
                "execution": sfn.JsonPath.execution_id,
                "recordCount": sfn.JsonPath.number_at("$.prepared.recordCount"),
                "problems": sfn.JsonPath.object_at("$.prepared.problems"),
            },
            fail_id="PromptsInvalid",
            cause="The prompt set cannot become a batch job; see the notification.",
        )
        create = tasks.CallAwsService(
            self,
            "CreateBatchJob",
            service="bedrock",
            action="createModelInvocationJob",
            parameters={
                "JobName.$": f"States.Format('{opts.job_name_prefix}-{{}}', States.UUID())",
                "RoleArn": self.batch_role.role_arn,
                "ModelId": opts.teacher_model_id,
                "InputDataConfig": {
                    "S3InputDataConfig": {
                        "S3Uri.$": "$.prepared.inputS3Uri",
                        "S3InputFormat": "JSONL",
                    }
                },
                "OutputDataConfig": batch_output_config(self, "$.prepared.outputS3Uri"),
                "TimeoutDurationInHours": opts.timeout_hours,
            },
            iam_resources=[batch_job_arns(), teacher_arn(self)],
            iam_action="bedrock:CreateModelInvocationJob",
            result_selector={"jobArn.$": "$.JobArn", "polls": 0},
            result_path="$.job",
        )
        create.add_retry(
            errors=["Bedrock.ThrottlingException", "Bedrock.ServiceQuotaExceededException"],
            interval=Duration.seconds(60),
            backoff_rate=2,
            max_attempts=5,
        )
        catch_all(create, failed)
        job_failed = self.notify_job_failed("", "$.job")
        convert = self.lambda_step(
            "ConvertOutputs",
            self.convert_function,
            {
                "run": run,
                "promptsKey": sfn.JsonPath.string_at("$.promptsKey"),
                "jobArn": sfn.JsonPath.string_at("$.job.jobArn"),
                "recordCount": sfn.JsonPath.number_at("$.prepared.recordCount"),
                "costEstimate": sfn.JsonPath.object_at("$.prepared.costEstimate"),
                "limits": sfn.JsonPath.object_at("$.prepared.limits"),
                **(
                    {"judging": sfn.JsonPath.object_at("$.judging")}
                    if self.judge_function is not None
                    else {}
                ),
            },
            "$.converted",
        )
        catch_all(convert, failed)
        validate = self.lambda_step(
            "ValidateDataset",
            self.validator,
            {"trainingDataKey": sfn.JsonPath.string_at("$.converted.trainingDataKey")},
            "$.validation",
        )
        catch_all(validate, failed)
        dataset_invalid = self._notify_failed(
            "NotifyDatasetInvalid",
            subject=f"{subject}: dataset invalid",
            message={
                "result": "DATASET_INVALID",
                "execution": sfn.JsonPath.execution_id,
                "counts": sfn.JsonPath.object_at("$.converted.counts"),
                "reportS3Uri": sfn.JsonPath.string_at("$.validation.reportS3Uri"),
            },
            fail_id="DatasetInvalid",
            cause="The converted dataset failed validation (or no answer was usable).",
        )
        succeeded = self._notify_succeeded(
            subject=f"{subject}: dataset ready",
            message={
                "result": "SUCCEEDED",
                "execution": sfn.JsonPath.execution_id,
                "datasetS3Uri": sfn.JsonPath.string_at("$.validation.trainingDataS3Uri"),
                "counts": sfn.JsonPath.object_at("$.converted.counts"),
                "costEstimate": sfn.JsonPath.object_at("$.prepared.costEstimate"),
                "costActual": sfn.JsonPath.object_at("$.converted.costActual"),
                "jobArn": sfn.JsonPath.string_at("$.job.jobArn"),
            },
        )
        create.next(
            batch_job_poll(
                self,
                path="$.job",
                names=("WaitForJob", "GetBatchJob", "CountPoll", "JobFinished?"),
                done=convert
                if self.judge_function is None
                else judging_steps(self, convert=convert, failed=failed),
                job_failed=job_failed,
                failed=failed,
            )
        )
        convert.next(reconciled_choice(self, validate))
        validate.next(
            sfn.Choice(self, "DatasetValid?")
            .when(sfn.Condition.boolean_equals("$.validation.valid", False), dataset_invalid)
            .otherwise(succeeded)
        )
        prepare.next(
            sfn.Choice(self, "PromptsValid?")
            .when(sfn.Condition.boolean_equals("$.prepared.valid", False), invalid)
            .otherwise(create)
        )
        return prepare

    def notify_job_failed(self, kind: str, path: str) -> sfn.IChainable:
        """``Notify<kind>JobFailed`` -> ``<kind>JobFailed`` for the batch job at ``path``."""
        return self._notify_failed(
            f"Notify{kind}JobFailed",
            subject=f"Synthetic data: {(kind.lower() + ' ') if kind else ''}batch job failed",
            message={
                "result": "JOB_FAILED",
                "execution": sfn.JsonPath.execution_id,
                "jobArn": sfn.JsonPath.string_at(f"{path}.jobArn"),
                "status": sfn.JsonPath.string_at(f"{path}.state.status"),
            },
            fail_id=f"{kind}JobFailed",
            cause="The batch inference job failed, stopped, expired or outlived the polls.",
        )


def _price(value: float | None) -> str:
    """The environment value of an optional number (empty: none)."""
    return "" if value is None else str(value)
