"""SageMakerFineTuneJob: a dataset in the data lake -> a LoRA / QLoRA adapter of an open-weight
model, trained on a SageMaker training job and registered in the SageMaker Model Registry.

CloudFormation has no training-job resource; the workflow is a Step Functions Standard state
machine: validate the dataset (a Lambda that streams the JSONL files) ->
``sagemaker:createTrainingJob.sync`` (managed spot, checkpoints in the artifacts zone) ->
``aws-sdk:sagemaker:createModelPackage`` into an ``AWS::SageMaker::ModelPackageGroup`` (status
PendingManualApproval) -> notify an encrypted SNS topic. With ``options.evaluation`` a task
metrics gate (:class:`TaskMetricsEvaluation`) sits between training and registration. The
training script ships in this package (``cdk_llm_training/assets/training``) and reaches the
job as a source tarball asset.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.catalogs.instances import InstanceCatalog, default_instance_catalog
from cdk_llm_training.config.catalogs.training_images import default_training_image
from cdk_llm_training.config.sagemaker_fine_tune_job import SageMakerFineTuneOptions
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._names import stack_unique_name
from cdk_llm_training.constructs._workflow import caught_error_message, lake_buckets
from cdk_llm_training.constructs.fine_tune.sagemaker_checks import (
    check_instance,
    check_network,
    check_warm_pool,
)
from cdk_llm_training.constructs.fine_tune.sagemaker_evaluation import task_metrics_gate
from cdk_llm_training.constructs.fine_tune.sagemaker_job import (
    REGISTER_INTEGRATION,
    REGISTER_RETRY,
    SAGEMAKER_SERVICE,
    SYNC_INTEGRATION,
    VOLUME_KEY_ACTIONS,
    register_parameters,
    resolve_image,
    selection_kwargs,
    trained_adapter_fields,
    training_job_parameters,
    write_source_tarball,
)
from cdk_llm_training.constructs.fine_tune.sagemaker_roles import (
    create_training_role,
    grant_training_role,
    workflow_statements,
)
from cdk_llm_training.constructs.fine_tune.workflow import FineTuneWorkflow
from cdk_llm_training.constructs.task_metrics_evaluation import TaskMetricsEvaluation
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

VALIDATOR_HANDLER = "open_model_dataset_validator.handler"


@jsii.implements(ec2.IConnectable)
class SageMakerFineTuneJob(FineTuneWorkflow):
    """A Step Functions Standard workflow that trains a LoRA / QLoRA adapter on SageMaker.

    States: ``ValidateDataset`` (Lambda; JSON report in the artifacts zone) -> ``DatasetValid?``
    (invalid: ``NotifyDatasetInvalid`` -> ``DatasetInvalid`` Fail) -> ``TrainAdapter`` or
    ``TrainAdapterWithValidationData`` (``sagemaker:createTrainingJob.sync``) ->
    ``RegisterAdapter`` (CreateModelPackage, PendingManualApproval) -> ``NotifySucceeded`` /
    ``NotifyFailed``. With ``options.evaluation`` the training step goes to
    ``LocatePredictions`` -> ``TaskMetricsJob`` -> ``TaskMetricsReadReport`` ->
    ``TaskMetricsGate``: passed -> ``RegisterAdapter`` (``NotifySucceeded`` carries the report
    summary as ``taskMetrics``); below a threshold -> ``NotifyEvaluationFailed`` (summary and
    failures), a failed metrics job -> ``NotifyEvaluationError``; both end in the
    ``EvaluationFailed`` Fail state and nothing is registered. The execution output holds
    ``validation`` (job name, S3 URIs), ``trainingJob`` (DescribeTrainingJob:
    ``ModelArtifacts.S3ModelArtifacts``, ``FinalMetricDataList``, ...), ``modelPackage``
    (``ModelPackageArn``) and, with evaluation, ``taskMetrics`` (job, report).

    Defaults: LoRA of the model folder under ``base-models/llama-3.1-8b-instruct/`` in the
    artifacts zone on one ml.g5.2xlarge with managed spot (MaxWait 48 h, MaxRuntime 24 h);
    datasets under ``finetune/`` in the curated zone (chat records); checkpoints under
    ``checkpoints/sagemaker/<job>/`` and output under ``sagemaker/output/`` in the artifacts
    zone, encrypted with the lake key; the pinned Hugging Face PyTorch training image of the
    stack's Region; a training role that reads only the dataset, base-model and source
    prefixes and writes only the output and checkpoint prefixes; no VPC; logging (ALL) to a
    KMS-encrypted log group and X-Ray tracing; a KMS-encrypted, TLS-only SNS topic; key, log
    groups and model package group retained on delete.

    Start an execution with ``{"trainingDataKey": "finetune/run1/train.jsonl",
    "validationDataKeys": ["finetune/run1/validation.jsonl"], "jobNameSuffix": "run1"}``.
    """

    options: SageMakerFineTuneOptions

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: SageMakerFineTuneOptions | None = None,
        data_lake: TrainingDataLake | None = None,
        dataset_bucket: s3.IBucket | None = None,
        artifacts_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
        instance_catalog: InstanceCatalog | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        volume_key: kms.IKey | None = None,
        training_role: iam.IRole | None = None,
        key: kms.IKey | None = None,
        topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the workflow.

        :param options: plain-data settings. Default: ``SageMakerFineTuneOptions()``.
        :param data_lake: datasets from its curated zone; base model, output, checkpoints and
            reports in its artifacts zone. Either this or both buckets below.
        :param dataset_bucket: bucket holding the datasets (instead of ``data_lake``).
        :param artifacts_bucket: bucket for base models, output, checkpoints and reports.
        :param data_key: KMS key of those buckets, also used for the job output
            (``OutputDataConfig.KmsKeyId``). Default: the lake key, or none.
        :param instance_catalog: to validate ``instance_type``. Default: the shipped catalog.
        :param vpc: run the training container in this VPC. Default: no VPC.
        :param vpc_subnets: subnets of ``vpc``. Default: private subnets with egress.
        :param security_groups: for the training container. Default: one new group with
            all outbound traffic allowed (only with ``vpc``).
        :param volume_key: KMS key of the ML storage volume (``VolumeKmsKeyId``); rejected
            for instances with local NVMe storage (encrypted by the hardware). Default none.
        :param training_role: the role the training job assumes. Default: a new role scoped
            to the prefixes above.
        :param key: key for the SNS topic and log groups (its policy gets the CloudWatch
            Logs statement). Default: a new key with rotation.
        :param topic: topic to notify. Default: a new encrypted topic.
        :param removal_policy: for the created key, log groups and model package group.
            Default: RETAIN_ON_UPDATE_OR_DELETE.
        """
        super().__init__(scope, id, removal_policy=removal_policy)
        record_construct_type(self, "SageMakerFineTuneJob")
        self.options = options or SageMakerFineTuneOptions()
        opts = self.options
        self.catalog = instance_catalog or default_instance_catalog()
        self.instance = check_instance(self, opts, self.catalog, volume_key=volume_key)
        check_warm_pool(self, opts)
        if vpc is None and (vpc_subnets is not None or security_groups):
            raise ValueError("vpc_subnets and security_groups need vpc=; got no vpc.")

        self.dataset_bucket, self.artifacts_bucket, self.data_key = lake_buckets(
            "SageMakerFineTuneJob",
            data_lake=data_lake,
            data_key=data_key,
            inputs=("dataset_bucket", dataset_bucket),
            outputs=("artifacts_bucket", artifacts_bucket),
        )

        self.vpc = vpc
        self.subnets: list[ec2.ISubnet] = []
        self.security_groups: list[ec2.ISecurityGroup] = []
        if vpc is not None:
            selection = vpc_subnets or ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            )
            self.subnets = list(vpc.select_subnets(**selection_kwargs(selection)).subnets)
            self.security_groups = list(security_groups or []) or [
                ec2.SecurityGroup(
                    self,
                    "SecurityGroup",
                    vpc=vpc,
                    description="SageMaker fine-tune training containers.",
                    allow_all_outbound=True,
                )
            ]
            check_network(self.subnets, self.security_groups)
            if opts.instance_count > 1 and not security_groups:
                # Instances of one job talk to each other (NCCL; EFA where the instance has
                # it): the SageMaker guide asks for all traffic within the security group.
                group = self.security_groups[0]
                group.add_ingress_rule(group, ec2.Port.all_traffic(), "Between the job's nodes")
        self._connections = ec2.Connections(security_groups=self.security_groups)

        self.image = default_training_image()
        self.image_uri, self.image_repository_arn = resolve_image(self, opts, self.image)
        self._create_notifications(
            key=key,
            topic=topic,
            workflow_name="SageMaker fine-tune",
            topic_display_name="SageMaker fine-tune job notifications",
        )
        self.source_asset = s3_assets.Asset(
            self, "TrainingSource", path=str(write_source_tarball())
        )
        self.model_package_group_name = opts.model_package_group_name or stack_unique_name(
            self, max_length=63
        )
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "AdapterGroup",
            model_package_group_name=self.model_package_group_name,
            # The description only changes by replacement: the LoRA-only wording stays.
            model_package_group_description=(
                f"{opts.tuning.value} adapters trained by this SageMaker fine-tune workflow."
                if opts.tuning.adapter
                else "Fully fine-tuned models trained by this SageMaker fine-tune workflow."
            ),
        )
        self.model_package_group.apply_removal_policy(removal_policy)
        self.volume_key = volume_key
        self.task_metrics: TaskMetricsEvaluation | None = None
        task_metrics_options = opts.task_metrics_options()
        if task_metrics_options is not None:
            self.task_metrics = TaskMetricsEvaluation(
                self,
                "TaskMetrics",
                options=task_metrics_options,
                labelled_bucket=self.dataset_bucket,
                output_bucket=self.artifacts_bucket,
                data_key=self.data_key,
            )
        self.training_role: iam.IRole = training_role or create_training_role(self)
        grant_training_role(self, self.training_role)
        self._create_validator(
            handler=VALIDATOR_HANDLER,
            description="Streams open-model fine-tuning datasets and checks every record.",
            role_description="Runs the open-model dataset validator Lambda.",
            report_bucket=self.artifacts_bucket,
            environment={
                "OUTPUT_PREFIX": opts.output_prefix,
                "CHECKPOINT_PREFIX": opts.checkpoint_prefix,
                "RECORD_FORMAT": opts.record_format.value,
                "LIMITS": json.dumps({"max_record_bytes": opts.max_record_bytes}),
                "MAX_VALIDATION_FILES": "1",
                "JOB_NAME_PREFIX": opts.job_name_prefix,
            },
        )
        self._create_state_machine(
            comment="Validate a dataset, train a LoRA adapter on SageMaker, register it, notify.",
            definition=self.build_definition(),
            service=SAGEMAKER_SERVICE,
            job_role=self.training_role,
            statements=workflow_statements(self),
            job_key=volume_key,
            job_key_actions=VOLUME_KEY_ACTIONS,
            hook=self.task_metrics,
        )
        self._acknowledge_wildcards(
            job_role=None if training_role is not None else self.training_role,
            job_role_reason="Object access is limited to the dataset, base-model, source, "
            "output and checkpoint key prefixes (prefix*), the only way to name the objects of "
            "future jobs; ECR GetAuthorizationToken, CloudWatch PutMetricData "
            "(namespace-conditioned) and, with a VPC, SageMaker's ENI actions need '*'; "
            "training log streams are named per job.",
            workflow_reason="Training jobs, processing jobs, model package versions and "
            "evaluation reports are named at run time (training-job/<prefix>-*, "
            "processing-job/*, model-package/<group>/*, <report prefix>*); Lambda versions "
            "(function:*) and Step Functions log delivery and X-Ray ('*') are what CDK's task "
            "and logging grants need; kms:GenerateDataKey* is what SNS needs to publish to an "
            "encrypted topic.",
        )

    # -- public API ----------------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """The training containers' security groups (empty without a VPC)."""
        return self._connections

    @property
    def model_package_group_arn(self) -> str:
        return self.model_package_group.attr_model_package_group_arn

    def training_job_parameters(self, *, with_validation: bool) -> dict[str, Any]:
        """The CreateTrainingJob request (JSONPath: values from ``$.validation``)."""
        return training_job_parameters(self, with_validation=with_validation)

    def build_definition(self) -> sfn.IChainable:
        """The whole state machine definition, built in one place (extend it here)."""
        notify_failed = self._notify_failed(
            "NotifyFailed",
            subject="SageMaker fine-tune failed",
            message=caught_error_message(),
            fail_id="Failed",
            error="FineTuneFailed",
            cause="Validation, training or registration failed; see the notification.",
        )
        succeeded_message: dict[str, Any] = {
            "result": "SUCCEEDED",
            "execution": sfn.JsonPath.execution_id,
            **trained_adapter_fields(),
            "modelPackageArn": sfn.JsonPath.string_at("$.modelPackage.ModelPackageArn"),
            # Optional in DescribeTrainingJob: set by BillableTimeReported? (never read raw).
            "billableSeconds": sfn.JsonPath.string_at("$.billing.seconds"),
        }
        if self.task_metrics is not None:
            succeeded_message["taskMetrics"] = sfn.JsonPath.object_at(
                "$.taskMetrics.result.report.summary"
            )
        notify_succeeded = self._notify_succeeded(
            subject="SageMaker fine-tune: adapter registered", message=succeeded_message
        )
        self.register_state = self._service_task(
            "RegisterAdapter",
            comment="Register the adapter as a new version, pending manual approval.",
            integration=REGISTER_INTEGRATION,
            parameters=register_parameters(self),
            result_selector={"ModelPackageArn.$": "$.ModelPackageArn"},
            result_path="$.modelPackage",
            retry=REGISTER_RETRY,
            on_failure=notify_failed,
        )
        billable = "$.trainingJob.BillableTimeInSeconds"
        self.register_state.next(
            sfn.Choice(
                self,
                "BillableTimeReported?",
                comment="BillableTimeInSeconds is optional in DescribeTrainingJob.",
            )
            .when(
                sfn.Condition.is_present(billable),
                sfn.Pass(
                    self,
                    "BillingReported",
                    parameters={"seconds": sfn.JsonPath.number_at(billable)},
                    result_path="$.billing",
                ).next(notify_succeeded),
            )
            .otherwise(
                sfn.Pass(
                    self,
                    "BillingNotReported",
                    result=sfn.Result.from_object({"seconds": "not reported"}),
                    result_path="$.billing",
                ).next(notify_succeeded)
            )
        )
        after_training: sfn.IChainable = self.register_state
        if self.task_metrics is not None:
            after_training = task_metrics_gate(self, self.task_metrics, self.register_state)
        opts = self.options
        timeout_hours = (opts.max_wait_hours if opts.use_spot else opts.max_runtime_hours) + 1
        self.training_states = [
            self._service_task(
                id,
                comment="Run the SageMaker training job and wait for it to end.",
                integration=SYNC_INTEGRATION,
                parameters=self.training_job_parameters(with_validation=with_validation),
                result_path="$.trainingJob",
                timeout_hours=timeout_hours,
                on_failure=notify_failed,
            )
            for id, with_validation in (
                ("TrainAdapterWithValidationData", True),
                ("TrainAdapter", False),
            )
        ]
        for state in self.training_states:
            state.next(after_training)
        return self._dataset_gate(
            subject_prefix="SageMaker fine-tune",
            on_validator_error=notify_failed,
            job=self.training_states[1],
            job_with_validation=self.training_states[0],
        )
