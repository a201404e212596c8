"""BedrockFineTuneJob: a dataset in the data lake -> a custom Amazon Bedrock model.

CloudFormation has no resource for model customization jobs; the workflow is a Step Functions
Standard state machine that validates the dataset (a Lambda that streams the JSONL files),
runs ``bedrock:createModelCustomizationJob.sync`` and notifies an encrypted SNS topic.
"""

from __future__ import annotations

import json

from aws_cdk import Annotations, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.bedrock_fine_tune_job import BedrockFineTuneOptions, resolve_base_model
from cdk_llm_training.config.catalogs.bedrock_models import (
    BedrockModelCatalog,
    DatasetLimits,
    default_bedrock_catalog,
)
from cdk_llm_training.constructs._workflow import caught_error_message, lake_buckets
from cdk_llm_training.constructs.fine_tune.bedrock_inputs import (
    check_input,
    create_ready_marker_rule,
)
from cdk_llm_training.constructs.fine_tune.bedrock_job import (
    BEDROCK_SERVICE,
    CUSTOM_MODEL_KEY_ACTIONS,
    JOB_RETRY,
    SYNC_INTEGRATION,
    VpcConfig,
    check_vpc_config,
    create_bedrock_role,
    job_parameters,
    workflow_statements,
)
from cdk_llm_training.constructs.fine_tune.bedrock_registry import then_record
from cdk_llm_training.constructs.fine_tune.bedrock_rft import (
    create_rft_functions,
    grader_probe_states,
    rft_customization_config,
)
from cdk_llm_training.constructs.fine_tune.workflow import FineTuneWorkflow
from cdk_llm_training.constructs.model_evaluation import ModelEvaluation
from cdk_llm_training.constructs.runtime_function import RuntimeFunction
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

VALIDATOR_HANDLER = "bedrock_dataset_validator.handler"
UNKNOWN_TEACHER_WARNING = "cdk-llm-training/bedrock-fine-tune-job:unknownTeacher"


class BedrockFineTuneJob(FineTuneWorkflow):
    """A Step Functions Standard workflow that customizes a Bedrock base model.

    States: ``ValidateDataset`` (Lambda; writes a JSON report to the artifacts zone) ->
    ``DatasetValid?`` (invalid: ``NotifyDatasetInvalid`` -> ``DatasetInvalid`` Fail, no job) ->
    ``CreateCustomizationJob`` (``bedrock:createModelCustomizationJob.sync``; with or without
    validation data) -> ``NotifySucceeded`` / ``NotifyJobFailed`` -> Succeed / Fail.

    Defaults: fine-tune Amazon Nova Micro on datasets under ``curated/finetune/``; output
    under ``artifacts/bedrock/customization-output/``; logging (ALL) to a KMS-encrypted log
    group and X-Ray tracing; notifications on a KMS-encrypted, TLS-only SNS topic; a Bedrock
    service role with confused-deputy conditions that reads only the dataset prefix and writes
    only the output prefix; no VPC; the custom model encrypted with an AWS-owned key (pass
    ``custom_model_key`` for a customer-managed one; never the lake key, which would form a
    dependency cycle); key and log groups retained on delete.

    Start an execution with ``{"trainingDataKey": "finetune/run1/train.jsonl",
    "validationDataKeys": ["finetune/run1/validation.jsonl"], "jobNameSuffix": "run1"}``, or
    turn on ``start_on_ready_marker`` and upload ``finetune/run1/_READY``.
    """

    options: BedrockFineTuneOptions

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: BedrockFineTuneOptions | None = None,
        data_lake: TrainingDataLake | None = None,
        dataset_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
        catalog: BedrockModelCatalog | None = None,
        vpc_config: VpcConfig | None = None,
        custom_model_key: kms.IKey | None = None,
        key: kms.IKey | None = None,
        topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the workflow.

        :param options: plain-data settings. Default: ``BedrockFineTuneOptions()``.
        :param data_lake: the lake to read datasets from (curated zone) and write output and
            reports to (artifacts zone). Either this or ``dataset_bucket`` + ``output_bucket``.
        :param dataset_bucket: bucket holding the datasets (instead of ``data_lake``).
        :param output_bucket: bucket for job output and reports (instead of ``data_lake``).
        :param data_key: KMS key of those buckets. Default: the lake key, or none.
        :param catalog: base-model catalog. Default: ``default_bedrock_catalog()``.
        :param vpc_config: subnets and security groups for the job. Default: no VPC.
        :param custom_model_key: customer-managed key for the custom model. Default: none
            (AWS-owned key).
        :param key: key for the SNS topic and log groups (its policy gets the CloudWatch
            Logs statement). Default: a new key with rotation.
        :param topic: topic to notify. Default: a new encrypted topic.
        :param removal_policy: for the created key and log groups. Default:
            RETAIN_ON_UPDATE_OR_DELETE.
        """
        super().__init__(scope, id, removal_policy=removal_policy)
        self.options = options or BedrockFineTuneOptions()
        opts = self.options
        self.catalog = catalog or default_bedrock_catalog()
        # The same rules the small tier's config applies, so `validate` and synth agree.
        self.base_model, self.family, self.hyperparameters = resolve_base_model(opts, self.catalog)
        self.record_format = self.family.record_formats[opts.customization_type]
        self.limits = self.family.limits.get(opts.customization_type, DatasetLimits())
        check_vpc_config(vpc_config)
        if opts.distillation is not None and (
            opts.distillation.teacher_model_id not in self.catalog.distillation_teachers
        ):
            Annotations.of(self).add_warning_v2(
                UNKNOWN_TEACHER_WARNING,
                f"distillation teacher {opts.distillation.teacher_model_id!r} is not in the "
                "catalog's list of teacher models; check that Bedrock pairs it with "
                f"{opts.base_model_id!r}.",
            )

        self.dataset_bucket, self.output_bucket, self.data_key = lake_buckets(
            "BedrockFineTuneJob",
            data_lake=data_lake,
            data_key=data_key,
            inputs=("dataset_bucket", dataset_bucket),
            outputs=("output_bucket", output_bucket),
        )
        self._create_notifications(
            key=key,
            topic=topic,
            workflow_name="Bedrock fine-tune",
            topic_display_name="Bedrock customization job notifications",
        )
        self.bedrock_role = create_bedrock_role(
            self,
            options=opts,
            dataset_bucket=self.dataset_bucket,
            output_bucket=self.output_bucket,
            data_key=self.data_key,
            vpc_config=vpc_config,
            custom_model_key=custom_model_key,
        )
        limits = {k: v for k, v in self.limits.model_dump().items() if v is not None}
        self._create_validator(
            handler=VALIDATOR_HANDLER,
            description="Streams Bedrock customization datasets and checks every record.",
            role_description="Runs the Bedrock dataset validator Lambda.",
            report_bucket=self.output_bucket,
            environment={
                "OUTPUT_PREFIX": opts.output_prefix,
                "RECORD_FORMAT": self.record_format,
                "LIMITS": json.dumps(limits, separators=(",", ":"), sort_keys=True),
                "JOB_NAME_PREFIX": opts.job_name_prefix,
                "READY_MARKER_NAME": opts.ready_marker_name,
            },
        )
        # -- reinforcement fine-tuning: the grader and its probe (options.rft) --
        self.grader: RuntimeFunction | None = None
        self.grader_probe: RuntimeFunction | None = None
        if opts.rft is not None:
            self.grader, self.grader_probe = create_rft_functions(
                self,
                rft=opts.rft,
                job_role=self.bedrock_role,
                dataset_bucket=self.dataset_bucket,
                dataset_prefix=opts.dataset_prefix,
                data_key=self.data_key,
                log_key=self.key,
                log_retention=self._log_retention,
                removal_policy=removal_policy,
            )
        # -- opt-in evaluation hook (options.evaluation) --
        self.evaluation: ModelEvaluation | None = None
        if opts.evaluation is not None:
            self.evaluation = ModelEvaluation(
                self,
                "Evaluation",
                base_model_id=opts.base_model_id,
                topic=self.topic,
                options=opts.evaluation,
                catalog_bucket=self.dataset_bucket,
                output_bucket=self.output_bucket,
                data_key=self.data_key,
                log_key=self.key,
                log_retention=self._log_retention,
                removal_policy=removal_policy,
            )
        self._create_state_machine(
            comment="Validate a dataset, run a Bedrock model customization job, notify.",
            definition=self._definition(vpc_config, custom_model_key),
            service=BEDROCK_SERVICE,
            job_role=self.bedrock_role,
            statements=workflow_statements(opts),
            job_key=custom_model_key,
            job_key_actions=CUSTOM_MODEL_KEY_ACTIONS,
            hook=self.evaluation,
        )
        self.ready_marker_rule: events.Rule | None = None
        if opts.start_on_ready_marker:
            self.ready_marker_rule = create_ready_marker_rule(self, data_lake)
        self._acknowledge_wildcards(
            job_role=self.bedrock_role,
            job_role_reason="Object access is limited to the dataset and output key prefixes "
            "(prefix*), the only way to name the objects of future jobs; with a VPC, ENI "
            "actions are limited by subnet and BedrockManaged tag conditions (the service "
            "needs Describe* on *).",
            workflow_reason="Bedrock names custom models and customization jobs at run time "
            "(custom-model/*, model-customization-job/*); Lambda versions (function:*) and "
            "Step Functions log delivery and X-Ray ('*') are what CDK's task and logging "
            "grants need; kms:GenerateDataKey* is what SNS needs to publish to an encrypted "
            "topic; with evaluation on, evaluation jobs and provisioned models are also named "
            "at run time."
            + (
                " So are the custom model deployments of on-demand evaluation "
                "(custom-model-deployment/*)."
                if self.evaluation is not None and self.evaluation.responses_function is not None
                else ""
            ),
        )

    # -- workflow ------------------------------------------------------------------------

    def _definition(
        self, vpc_config: VpcConfig | None, custom_model_key: kms.IKey | None
    ) -> sfn.IChainable:
        notify_validator_failed = self._notify_failed(
            "NotifyValidatorFailed",
            subject="Bedrock customization: dataset validation could not run",
            message=caught_error_message("VALIDATION_ERROR"),
            fail_id="ValidationError",
            cause="The dataset validator failed; see the notification.",
        )
        notify_job_failed = self._notify_failed(
            "NotifyJobFailed",
            subject="Bedrock customization job failed",
            message=caught_error_message(jobName=sfn.JsonPath.string_at("$.validation.jobName")),
            fail_id="JobFailed",
            cause="The customization job failed; see the notification.",
        )
        notify_succeeded = self._notify_succeeded(
            subject="Bedrock customization job completed",
            message={
                "result": "SUCCEEDED",
                "execution": sfn.JsonPath.execution_id,
                "jobName": sfn.JsonPath.string_at("$.validation.jobName"),
                "job": sfn.JsonPath.object_at("$.job"),
            },
        )
        # -- opt-in hooks: job succeeded -> evaluate -> gate -> record -> NotifySucceeded --
        after_job: sfn.IChainable = then_record(self, notify_succeeded)
        if self.evaluation is not None:
            after_job = self.evaluation.chain(
                on_passed=after_job,
                custom_model_name_path="$.validation.customModelName",
                custom_model_arn_path="$.job.OutputModelArn",
            )

        def job(id: str, *, with_validation: bool) -> sfn.IChainable:
            return self._service_task(
                id,
                comment="Run the Bedrock model customization job and wait for it to end.",
                integration=SYNC_INTEGRATION,
                parameters=job_parameters(
                    self.options,
                    hyperparameters=self.hyperparameters,
                    role=self.bedrock_role,
                    with_validation=with_validation,
                    vpc_config=vpc_config,
                    custom_model_key=custom_model_key,
                    customization_config=(
                        rft_customization_config(self.options.rft, self.grader)
                        if self.options.rft is not None and self.grader is not None
                        else None
                    ),
                ),
                result_path="$.job",
                timeout_hours=self.options.job_timeout_hours,
                retry=JOB_RETRY,
                on_failure=notify_job_failed,
            ).next(after_job)

        first_job = job("CreateCustomizationJob", with_validation=False)
        if self.grader_probe is not None:
            # RFT: the grader must answer a few training records correctly shaped before the
            # paid job starts (RFT takes no validation data, so there is one job state).
            first_job = grader_probe_states(
                self,
                probe=self.grader_probe,
                topic=self.topic,
                on_probe_error=notify_validator_failed,
                job=first_job,
            )
        validate = self._dataset_gate(
            subject_prefix="Bedrock customization",
            on_validator_error=notify_validator_failed,
            job=first_job,
            # None where the family takes no validation data (distillation:
            # max_validation_records 0, so the validator rejects any): it could never run.
            job_with_validation=job(
                "CreateCustomizationJobWithValidationData", with_validation=True
            )
            if self.limits.max_validation_records != 0
            else None,
        )
        return check_input(self, self.evaluation, validate)
