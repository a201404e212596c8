"""BedrockFineTuneJob: a dataset in the data lake -> a custom Amazon Bedrock model.

CloudFormation has no resource for model customization jobs; the workflow is a Step Functions
Standard state machine that validates the dataset (a Lambda that streams the JSONL files),
runs ``bedrock:createModelCustomizationJob.sync`` and notifies an encrypted SNS topic.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Annotations, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.bedrock_fine_tune_job import BedrockFineTuneOptions, resolve_base_model
from cdk_llm_training.config.catalogs.bedrock_models import (
    BedrockModelCatalog,
    DatasetLimits,
    default_bedrock_catalog,
)
from cdk_llm_training.constructs._acknowledge import acknowledge_wildcards
from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs._workflow import (
    RETENTION,
    add_list_statement,
    caught_error_message,
    create_dataset_validator,
    create_workflow_key,
    dataset_validation_states,
    lake_buckets,
    notify,
    notify_and_fail,
)
from cdk_llm_training.constructs.model_evaluation import ModelEvaluation
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

SYNC_INTEGRATION = "bedrock:createModelCustomizationJob.sync"
MANAGED_RULE_NAMES = (
    "StepFunctionsGetEventsForBedrockCustomizationJobsRule",
    "StepFunctionsGetEventsForBedrockModelCustomizationJobsRule",
)
"""The EventBridge rule Step Functions manages for the ``.sync`` integration. The AWS
documentation available offline does not spell the name out; both spellings used by the
Step Functions naming scheme are allowed (exact names, no wildcard)."""
VALIDATOR_HANDLER = "bedrock_dataset_validator.handler"
JOB_RETRY_ERRORS = (
    "Bedrock.ThrottlingException",
    "Bedrock.InternalServerException",
    "Bedrock.ServiceUnavailableException",
)


@jsii.implements(tasks.IBedrockCreateModelCustomizationJobVpcConfig)
class BedrockJobVpcConfig:
    """Subnets (1-16) and security groups (1-5) the customization job runs in."""

    def __init__(
        self,
        *,
        subnets: Sequence[ec2.ISubnet],
        security_groups: Sequence[ec2.ISecurityGroup],
    ) -> None:
        self._subnets = list(subnets)
        self._security_groups = list(security_groups)

    @property
    def subnets(self) -> list[ec2.ISubnet]:
        return self._subnets

    @property
    def security_groups(self) -> list[ec2.ISecurityGroup]:
        return self._security_groups


class BedrockFineTuneJob(Construct):
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
        vpc_config: tasks.IBedrockCreateModelCustomizationJobVpcConfig | None = None,
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
        super().__init__(scope, id)
        self.options = options or BedrockFineTuneOptions()
        opts = self.options
        self.catalog = catalog or default_bedrock_catalog()
        # The same rules the small tier's config applies, so `validate` and synth agree.
        self.base_model, self.family, self.hyperparameters = resolve_base_model(opts, self.catalog)
        self.record_format = self.family.record_formats[opts.customization_type]
        self.limits = self.family.limits.get(opts.customization_type, DatasetLimits())
        self._check_vpc_config(vpc_config)
        if opts.distillation is not None and (
            opts.distillation.teacher_model_id not in self.catalog.distillation_teachers
        ):
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:UnknownTeacher",
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

        self.key: kms.IKey = key or self._create_key(removal_policy)
        # A key passed in encrypts log groups too: CloudWatch Logs needs it in the key policy.
        allow_cloudwatch_logs(self.key)
        self.topic: sns.ITopic = topic or sns.Topic(
            self,
            "Topic",
            display_name="Bedrock customization job notifications",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.bedrock_role = self._create_bedrock_role(vpc_config, custom_model_key)
        self.validator = self._create_validator(removal_policy)
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
                log_retention=RETENTION[opts.log_retention_days],
                removal_policy=removal_policy,
            )
        self.state_machine = self._create_state_machine(
            vpc_config, custom_model_key, removal_policy
        )
        self.ready_marker_rule: events.Rule | None = None
        if opts.start_on_ready_marker:
            self.ready_marker_rule = self._create_ready_marker_rule(data_lake)
        acknowledge_wildcards(
            self.bedrock_role,
            "Object access is limited to the dataset and output key prefixes (prefix*), the "
            "only way to name the objects of future jobs; with a VPC, ENI actions are limited "
            "by subnet and BedrockManaged tag conditions (the service needs Describe* on *).",
        )
        acknowledge_wildcards(
            self.validator.role,
            "Object access is limited to the dataset and report key prefixes (prefix*), the "
            "only way to name the datasets and reports of future executions.",
        )
        acknowledge_wildcards(
            self.state_machine.role,
            "Bedrock names custom models and customization jobs at run time (custom-model/*, "
            "model-customization-job/*); Lambda versions (function:*) and Step Functions log "
            "delivery and X-Ray ('*') are what CDK's task and logging grants need; "
            "kms:GenerateDataKey* is what SNS needs to publish to an encrypted topic; with "
            "evaluation on, evaluation jobs and provisioned models are also named at run time.",
        )

    # -- public helpers ------------------------------------------------------------------

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions of the workflow."""
        return self.state_machine.grant_start_execution(grantee)

    # -- validation ----------------------------------------------------------------------

    @staticmethod
    def _check_vpc_config(
        vpc_config: tasks.IBedrockCreateModelCustomizationJobVpcConfig | None,
    ) -> None:
        if vpc_config is None:
            return
        subnets, groups = len(vpc_config.subnets), len(vpc_config.security_groups)
        if not 1 <= subnets <= 16:
            raise ValueError(f"vpc_config.subnets has {subnets} subnets; allowed: 1 to 16.")
        if not 1 <= groups <= 5:
            raise ValueError(
                f"vpc_config.security_groups has {groups} security groups; allowed: 1 to 5."
            )

    # -- resources -----------------------------------------------------------------------

    def _create_key(self, removal_policy: RemovalPolicy) -> kms.Key:
        return create_workflow_key(
            self,
            "Key",
            description="Encrypts the Bedrock fine-tune workflow's topic and log groups.",
            removal_policy=removal_policy,
        )

    def _log_group(self, id: str, removal_policy: RemovalPolicy) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            id,
            retention=RETENTION[self.options.log_retention_days],
            encryption_key=self.key,
            removal_policy=removal_policy,
        )

    def _customization_job_arns(self) -> str:
        return (
            f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-customization-job/*"
        )

    def _create_bedrock_role(
        self,
        vpc_config: tasks.IBedrockCreateModelCustomizationJobVpcConfig | None,
        custom_model_key: kms.IKey | None,
    ) -> iam.Role:
        opts = self.options
        role = iam.Role(
            self,
            "BedrockRole",
            description="Assumed by Amazon Bedrock to run this workflow's customization jobs.",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": self._customization_job_arns()},
                },
            ),
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
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[self.output_bucket.arn_for_objects(f"{opts.output_prefix}*")],
            )
        )
        add_list_statement(role, self.dataset_bucket, opts.dataset_prefix, "ListDatasets")
        add_list_statement(role, self.output_bucket, opts.output_prefix, "ListOutput")
        if self.data_key is not None:
            self.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        if custom_model_key is not None:
            custom_model_key.grant(
                role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"
            )
        if opts.distillation is not None:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="InvokeTeacherModel",
                    actions=["bedrock:InvokeModel"],
                    resources=[self._model_arn(opts.distillation.teacher_model_id)],
                )
            )
        if vpc_config is not None:
            for statement in self._vpc_statements(vpc_config):
                role.add_to_policy(statement)
        return role

    @staticmethod
    def _model_arn(model_id: str) -> str:
        if model_id.startswith("arn:"):
            return model_id
        return f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model_id}"

    def _vpc_statements(
        self, vpc_config: tasks.IBedrockCreateModelCustomizationJobVpcConfig
    ) -> list[iam.PolicyStatement]:
        stack = Stack.of(self)
        subnet_arns = [
            stack.format_arn(service="ec2", resource="subnet", resource_name=s.subnet_id)
            for s in vpc_config.subnets
        ]
        group_arns = [
            stack.format_arn(
                service="ec2", resource="security-group", resource_name=g.security_group_id
            )
            for g in vpc_config.security_groups
        ]
        eni_arns = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        return [
            iam.PolicyStatement(
                sid="DescribeNetwork",
                actions=[
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="CreateJobNetworkInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                resources=[eni_arns],
                conditions={
                    "StringEquals": {"aws:RequestTag/BedrockManaged": "true"},
                    "ArnLike": {
                        "aws:RequestTag/BedrockModelCustomizationJobArn": (
                            self._customization_job_arns()
                        )
                    },
                },
            ),
            iam.PolicyStatement(
                sid="UseJobSubnetsAndSecurityGroups",
                actions=["ec2:CreateNetworkInterface"],
                resources=[*subnet_arns, *group_arns],
            ),
            iam.PolicyStatement(
                sid="ManageJobNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=["*"],
                conditions={
                    "ArnEquals": {"ec2:Subnet": subnet_arns},
                    "StringEquals": {"ec2:ResourceTag/BedrockManaged": "true"},
                },
            ),
            iam.PolicyStatement(
                sid="TagJobNetworkInterfaces",
                actions=["ec2:CreateTags"],
                resources=[eni_arns],
                conditions={
                    "StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["BedrockManaged", "BedrockModelCustomizationJobArn"]
                    },
                },
            ),
        ]

    def _create_validator(self, removal_policy: RemovalPolicy) -> lambda_.Function:
        opts = self.options
        limits = {
            key: value for key, value in self.limits.model_dump().items() if value is not None
        }
        return create_dataset_validator(
            self,
            role_description="Runs the Bedrock dataset validator Lambda.",
            description="Streams Bedrock customization datasets and checks every record.",
            handler=VALIDATOR_HANDLER,
            log_group=self._log_group("ValidatorLogs", removal_policy),
            dataset_bucket=self.dataset_bucket,
            dataset_prefix=opts.dataset_prefix,
            report_bucket=self.output_bucket,
            report_prefix=opts.report_prefix,
            data_key=self.data_key,
            memory_mib=opts.validator_memory_mib,
            timeout_minutes=opts.validator_timeout_minutes,
            environment={
                "OUTPUT_PREFIX": opts.output_prefix,
                "RECORD_FORMAT": self.record_format,
                "LIMITS": json.dumps(limits, separators=(",", ":"), sort_keys=True),
                "JOB_NAME_PREFIX": opts.job_name_prefix,
                "READY_MARKER_NAME": opts.ready_marker_name,
            },
        )

    def _job_parameters(
        self,
        *,
        with_validation: bool,
        vpc_config: tasks.IBedrockCreateModelCustomizationJobVpcConfig | None,
        custom_model_key: kms.IKey | None,
    ) -> dict[str, Any]:
        opts = self.options
        parameters: dict[str, Any] = {
            "BaseModelIdentifier": opts.base_model_id,
            "CustomizationType": opts.customization_type.value,
            "RoleArn": self.bedrock_role.role_arn,
            "JobName.$": "$.validation.jobName",
            "CustomModelName.$": "$.validation.customModelName",
            "TrainingDataConfig": {"S3Uri.$": "$.validation.trainingDataS3Uri"},
            "OutputDataConfig": {"S3Uri.$": "$.validation.outputDataS3Uri"},
        }
        if with_validation:
            parameters["ValidationDataConfig"] = {"Validators.$": "$.validation.validators"}
        if self.hyperparameters:
            parameters["HyperParameters"] = dict(self.hyperparameters)
        if custom_model_key is not None:
            parameters["CustomModelKmsKeyId"] = custom_model_key.key_arn
        if vpc_config is not None:
            parameters["VpcConfig"] = {
                "SubnetIds": [s.subnet_id for s in vpc_config.subnets],
                "SecurityGroupIds": [g.security_group_id for g in vpc_config.security_groups],
            }
        if opts.distillation is not None:
            teacher: dict[str, Any] = {"TeacherModelIdentifier": opts.distillation.teacher_model_id}
            if opts.distillation.max_response_length_for_inference is not None:
                teacher["MaxResponseLengthForInference"] = (
                    opts.distillation.max_response_length_for_inference
                )
            parameters["CustomizationConfig"] = {
                "DistillationConfig": {"TeacherModelConfig": teacher}
            }
        return parameters

    def _job_state(
        self,
        id: str,
        *,
        with_validation: bool,
        vpc_config: tasks.IBedrockCreateModelCustomizationJobVpcConfig | None,
        custom_model_key: kms.IKey | None,
        on_failure: sfn.IChainable,
    ) -> sfn.CustomState:
        state = sfn.CustomState(
            self,
            id,
            state_json={
                "Type": "Task",
                "Comment": "Run the Bedrock model customization job and wait for it to end.",
                "Resource": f"arn:{Aws.PARTITION}:states:::{SYNC_INTEGRATION}",
                "Parameters": self._job_parameters(
                    with_validation=with_validation,
                    vpc_config=vpc_config,
                    custom_model_key=custom_model_key,
                ),
                "ResultPath": "$.job",
                "TimeoutSeconds": self.options.job_timeout_hours * 3600,
            },
        )
        state.add_retry(
            errors=list(JOB_RETRY_ERRORS),
            interval=Duration.seconds(30),
            backoff_rate=2,
            max_attempts=3,
        )
        state.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")
        return state

    def _create_state_machine(
        self,
        vpc_config: tasks.IBedrockCreateModelCustomizationJobVpcConfig | None,
        custom_model_key: kms.IKey | None,
        removal_policy: RemovalPolicy,
    ) -> sfn.StateMachine:
        validate, notify_invalid = dataset_validation_states(
            self,
            validator=self.validator,
            topic=self.topic,
            subject="Bedrock customization: dataset invalid, no job started",
        )
        notify_validator_failed = notify_and_fail(
            self,
            "NotifyValidatorFailed",
            topic=self.topic,
            subject="Bedrock customization: dataset validation could not run",
            message=caught_error_message("VALIDATION_ERROR"),
            fail_id="ValidationError",
            error="ValidationError",
            cause="The dataset validator failed; see the notification.",
        )
        validate.add_catch(notify_validator_failed, errors=["States.ALL"], result_path="$.error")

        notify_job_failed = notify_and_fail(
            self,
            "NotifyJobFailed",
            topic=self.topic,
            subject="Bedrock customization job failed",
            message=caught_error_message(jobName=sfn.JsonPath.string_at("$.validation.jobName")),
            fail_id="JobFailed",
            error="JobFailed",
            cause="The customization job failed; see the notification.",
        )

        notify_succeeded = notify(
            self,
            "NotifySucceeded",
            topic=self.topic,
            subject="Bedrock customization job completed",
            message={
                "result": "SUCCEEDED",
                "execution": sfn.JsonPath.execution_id,
                "jobName": sfn.JsonPath.string_at("$.validation.jobName"),
                "job": sfn.JsonPath.object_at("$.job"),
            },
        ).next(sfn.Succeed(self, "Done"))
        # -- opt-in evaluation hook: job succeeded -> evaluate -> gate -> NotifySucceeded --
        after_job: sfn.IChainable = notify_succeeded
        if self.evaluation is not None:
            after_job = self.evaluation.chain(
                on_passed=notify_succeeded,
                custom_model_name_path="$.validation.customModelName",
            )

        job_args: dict[str, Any] = {
            "vpc_config": vpc_config,
            "custom_model_key": custom_model_key,
            "on_failure": notify_job_failed,
        }
        job = self._job_state("CreateCustomizationJob", with_validation=False, **job_args).next(
            after_job
        )
        dataset_valid = sfn.Choice(self, "DatasetValid?").when(
            sfn.Condition.boolean_equals("$.validation.valid", False), notify_invalid
        )
        # No with-validation branch where the family takes no validation data (distillation:
        # max_validation_records 0, so the validator rejects any): it could never run.
        if self.limits.max_validation_records != 0:
            job_with_validation = self._job_state(
                "CreateCustomizationJobWithValidationData", with_validation=True, **job_args
            ).next(after_job)
            dataset_valid.when(
                sfn.Condition.boolean_equals("$.validation.hasValidationData", True),
                job_with_validation,
            )
        validate.next(dataset_valid.otherwise(job))
        state_machine = sfn.StateMachine(
            self,
            "Resource",
            comment="Validate a dataset, run a Bedrock model customization job, notify.",
            definition_body=sfn.DefinitionBody.from_chainable(self._check_input(validate)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self._log_group("WorkflowLogs", removal_policy),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        self._grant_workflow(state_machine, custom_model_key)
        if self.evaluation is not None:
            self.evaluation.grant_workflow(state_machine)
        return state_machine

    def _check_input(self, validate: tasks.LambdaInvoke) -> sfn.IChainable:
        """The first state. The validator checks the dataset fields of the input; with an
        evaluation of a given model (``provision_throughput=False``), ``evaluationModelArn``
        is checked here, before the paid customization job, not after it."""
        evaluation = self.evaluation
        if evaluation is None or evaluation.options.provision_throughput:
            return validate
        path = "$.evaluationModelArn"
        invalid = notify_and_fail(
            self,
            "NotifyInvalidInput",
            topic=self.topic,
            subject="Bedrock customization: invalid input, no job started",
            message={
                "result": "INVALID_INPUT",
                "execution": sfn.JsonPath.execution_id,
                # Not the input itself: one near the 256 KiB payload quota would push the
                # message over SNS's limit. The execution ID leads to it.
                "reason": "evaluationModelArn is missing, empty or not a string.",
            },
            fail_id="InvalidInput",
            error="InvalidInput",
            cause="The input needs evaluationModelArn (the ARN or id of the model to evaluate).",
        )
        return (
            sfn.Choice(self, "CheckInput", comment="evaluationModelArn before any cost.")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present(path),
                    sfn.Condition.is_string(path),
                    # An ARN or a model / inference-profile id: both are valid evaluation
                    # model identifiers (the API pattern); an empty string is not.
                    sfn.Condition.not_(sfn.Condition.string_equals(path, "")),
                ),
                validate,
            )
            .otherwise(invalid)
        )

    def _grant_workflow(
        self, state_machine: sfn.StateMachine, custom_model_key: kms.IKey | None
    ) -> None:
        opts = self.options
        bedrock_arn = f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="CreateCustomizationJobs",
                # TagResource: what CDK's BedrockCreateModelCustomizationJob grants beside
                # Create (job and custom-model tags are applied with the create call).
                actions=["bedrock:CreateModelCustomizationJob", "bedrock:TagResource"],
                resources=[
                    self._model_arn(opts.base_model_id),
                    f"{bedrock_arn}:custom-model/*",
                    self._customization_job_arns(),
                ],
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="TrackCustomizationJobs",
                actions=[
                    "bedrock:GetModelCustomizationJob",
                    "bedrock:StopModelCustomizationJob",
                ],
                resources=[self._customization_job_arns()],
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassBedrockServiceRole",
                actions=["iam:PassRole"],
                resources=[self.bedrock_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="ManageSyncEventsRule",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{name}"
                    for name in MANAGED_RULE_NAMES
                ],
            )
        )
        self.key.grant(state_machine, "kms:Decrypt", "kms:GenerateDataKey*")
        if custom_model_key is not None:
            custom_model_key.grant(
                state_machine,
                "kms:DescribeKey",
                "kms:CreateGrant",
                "kms:GenerateDataKey",
                "kms:Decrypt",
            )

    def _create_ready_marker_rule(self, data_lake: TrainingDataLake | None) -> events.Rule:
        opts = self.options
        if data_lake is not None and not data_lake.options.event_bridge_enabled:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:ReadyMarkerNeedsEvents",
                "start_on_ready_marker is on but the data lake does not send S3 events to "
                "EventBridge (DataLakeOptions.event_bridge_enabled=False): the rule never fires.",
            )
        pattern = f"{opts.dataset_prefix}*/{opts.ready_marker_name}"
        rule = events.Rule(
            self,
            "ReadyMarkerRule",
            description=f"Start the Bedrock fine-tune workflow when {pattern} lands.",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.dataset_bucket.bucket_name]},
                    "object": {"key": events.Match.wildcard(pattern)},
                },
            ),
        )
        # CDK's default target role trusts events.amazonaws.com unconditioned; EventBridge sends
        # the rule's ARN as aws:SourceArn ("Cross-service confused deputy prevention in Amazon
        # EventBridge"). rule/* of this account and Region: naming the rule itself would
        # make the role and the rule depend on each other.
        role = iam.Role(
            self,
            "ReadyMarkerRole",
            description="Assumed by EventBridge to start the fine-tune workflow.",
            assumed_by=service_principal_from(
                "events.amazonaws.com", this_account_arn("events", "rule/*")
            ),
        )
        rule.add_target(
            targets.SfnStateMachine(
                self.state_machine,
                role=role,
                input=events.RuleTargetInput.from_object(
                    {
                        "readyMarker": {
                            "bucket": events.EventField.from_path("$.detail.bucket.name"),
                            "key": events.EventField.from_path("$.detail.object.key"),
                        }
                    }
                ),
            )
        )
        return rule
