"""SageMakerFineTuneJob: a dataset in the data lake -> a LoRA / QLoRA adapter of an open-weight
model, trained on a SageMaker training job and registered in the SageMaker Model Registry.

CloudFormation has no training-job resource; the workflow is a Step Functions Standard state
machine: validate the dataset (a Lambda that streams the JSONL files) ->
``sagemaker:createTrainingJob.sync`` (managed spot, checkpoints in the artifacts zone) ->
``aws-sdk:sagemaker:createModelPackage`` into an ``AWS::SageMaker::ModelPackageGroup`` (status
PendingManualApproval) -> notify an encrypted SNS topic. With ``options.evaluation`` a task
metrics gate (:class:`TaskMetricsEvaluation`) sits between training and registration. The
training script ships in this package (``cdk_llm_training/training``) and reaches the job as a
source tarball asset.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Annotations, Aws, CfnMapping, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training import training
from cdk_llm_training.config.catalogs.instances import (
    InstanceCatalog,
    InstanceSpec,
    default_instance_catalog,
)
from cdk_llm_training.config.catalogs.training_images import TrainingImage, default_training_image
from cdk_llm_training.config.sagemaker_fine_tune_job import (
    METRIC_DEFINITIONS,
    NVME_INSTANCE_FAMILIES,
    SageMakerFineTuneOptions,
    check_training_instance,
)
from cdk_llm_training.constructs._acknowledge import acknowledge_wildcards
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._names import stack_unique_name
from cdk_llm_training.constructs._trust import service_principal_from
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
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.task_metrics_evaluation import TaskMetricsEvaluation
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

SYNC_INTEGRATION = "sagemaker:createTrainingJob.sync"
REGISTER_INTEGRATION = "aws-sdk:sagemaker:createModelPackage"
MANAGED_RULE_NAME = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
"""The EventBridge rule Step Functions manages for ``createTrainingJob.sync``."""
VALIDATOR_HANDLER = "open_model_dataset_validator.handler"
SOURCE_TARBALL = "sourcedir.tar.gz"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TRAINING_METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
WARM_POOL_GUIDE_MINUTES = 60
"""The SageMaker developer guide's maximum KeepAlivePeriodInSeconds (3600 s)."""
PREDICTIONS_ARCHIVE = "output/output.tar.gz"
"""Where SageMaker puts ``/opt/ml/output/data`` (the predictions) under ``<output path><job>/``."""
JOB_RETRY_ERRORS = ("SageMaker.AmazonSageMakerException", "ThrottlingException")


def build_source_tarball(folder: Path | None = None) -> bytes:
    """The training script and its requirements as a gzip tarball, byte-for-byte the same on
    every synth (sorted entries, zero timestamps and owners): the asset hash only changes
    when the script does."""
    folder = folder or training.SOURCE_DIR
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in training.SOURCE_FILES:
            data = (folder / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def _write_source_tarball() -> Path:
    data = build_source_tarball()
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"cdk-llm-training-source-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SOURCE_TARBALL
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


@jsii.implements(ec2.IConnectable)
class SageMakerFineTuneJob(Construct):
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
        super().__init__(scope, id)
        record_construct_type(self, "SageMakerFineTuneJob")
        self.options = options or SageMakerFineTuneOptions()
        opts = self.options
        self.catalog = instance_catalog or default_instance_catalog()
        self.instance = self._check_instance()
        if volume_key is not None and self.instance.instance_type.split(".")[0] in (
            NVME_INSTANCE_FAMILIES
        ):
            raise ValueError(
                f"volume_key cannot be used with instance_type {opts.instance_type}: it has "
                "local NVMe storage, which SageMaker encrypts in hardware and for which it "
                "rejects VolumeKmsKeyId. Leave volume_key unset, or pick an EBS-only instance."
            )
        self._check_warm_pool()
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
            self.subnets = list(vpc.select_subnets(**_selection_kwargs(selection)).subnets)
            self.security_groups = list(security_groups or []) or [
                ec2.SecurityGroup(
                    self,
                    "SecurityGroup",
                    vpc=vpc,
                    description="SageMaker fine-tune training containers.",
                    allow_all_outbound=True,
                )
            ]
            self._check_vpc()
        self._connections = ec2.Connections(security_groups=self.security_groups)

        self.image = default_training_image()
        self.image_uri, self.image_repository_arn = self._resolve_image()
        self.key: kms.IKey = key or create_workflow_key(
            self,
            "Key",
            description="Encrypts the SageMaker fine-tune workflow's topic and log groups.",
            removal_policy=removal_policy,
        )
        # A key passed in encrypts log groups too: CloudWatch Logs needs it in the key policy.
        allow_cloudwatch_logs(self.key)
        self.topic: sns.ITopic = topic or sns.Topic(
            self,
            "Topic",
            display_name="SageMaker fine-tune job notifications",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.source_asset = s3_assets.Asset(
            self, "TrainingSource", path=str(_write_source_tarball())
        )
        self.model_package_group_name = opts.model_package_group_name or stack_unique_name(
            self, max_length=63
        )
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "AdapterGroup",
            model_package_group_name=self.model_package_group_name,
            model_package_group_description=(
                f"{opts.method.value} adapters trained by this SageMaker fine-tune workflow."
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
        self.training_role: iam.IRole = training_role or self._create_training_role()
        self._grant_training_role(self.training_role)
        self.validator = self._create_validator(removal_policy)
        self.state_machine = self._create_state_machine(removal_policy)

        reason = (
            "Object access is limited to the dataset, base-model, source, output and checkpoint "
            "key prefixes (prefix*), the only way to name the objects of future jobs; ECR "
            "GetAuthorizationToken, CloudWatch PutMetricData (namespace-conditioned) and, with "
            "a VPC, SageMaker's ENI actions need '*'; training log streams are named per job."
        )
        if training_role is None:
            acknowledge_wildcards(self.training_role, reason)
        acknowledge_wildcards(
            self.validator.role,
            "Object access is limited to the dataset and report key prefixes (prefix*), the "
            "only way to name the datasets and reports of future executions.",
        )
        acknowledge_wildcards(
            self.state_machine.role,
            "Training jobs, processing jobs, model package versions and evaluation reports are "
            "named at run time (training-job/<prefix>-*, processing-job/*, "
            "model-package/<group>/*, <report prefix>*); Lambda versions (function:*) "
            "and Step Functions log delivery and X-Ray ('*') are what CDK's task and logging "
            "grants need; kms:GenerateDataKey* is what SNS needs to publish to an encrypted "
            "topic.",
        )

    # -- public API ----------------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """The training containers' security groups (empty without a VPC)."""
        return self._connections

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions of the workflow."""
        return self.state_machine.grant_start_execution(grantee)

    @property
    def model_package_group_arn(self) -> str:
        return self.model_package_group.attr_model_package_group_arn

    # -- validation ----------------------------------------------------------------------

    def _check_instance(self) -> InstanceSpec:
        # The same rules the small tier's config applies, so `validate` and synth agree.
        spec = check_training_instance(self.options, self.catalog)
        if spec.accelerator_count > 1:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:OneGpuUsed",
                f"{self.options.instance_type} has {spec.accelerator_count} GPUs but "
                f"train_lora.py trains on one: {spec.accelerator_count - 1} stay idle. A "
                "single-GPU instance with the same GPU costs less.",
            )
        return spec

    def _check_warm_pool(self) -> None:
        opts = self.options
        if opts.keep_alive_minutes > WARM_POOL_GUIDE_MINUTES:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:WarmPoolPeriod",
                f"keep_alive_minutes={opts.keep_alive_minutes}: the CreateTrainingJob API "
                f"accepts up to 360 minutes, but the SageMaker guide states a maximum of "
                f"{WARM_POOL_GUIDE_MINUTES}; expect a rejected job unless your account's limit "
                "was raised.",
            )
        if opts.keep_alive_minutes and opts.use_spot:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:WarmPoolWithSpot",
                "keep_alive_minutes asks for a warm pool on a managed spot job: spot capacity "
                "can be reclaimed at any time, so the pool may not survive until the next job. "
                "Use use_spot=False for fast iteration on a kept instance.",
            )

    def _check_vpc(self) -> None:
        subnets, groups = len(self.subnets), len(self.security_groups)
        if not 1 <= subnets <= 16:
            raise ValueError(f"vpc_subnets selects {subnets} subnets; allowed: 1 to 16.")
        if not 1 <= groups <= 5:
            raise ValueError(f"security_groups has {groups} security groups; allowed: 1 to 5.")

    def _resolve_image(self) -> tuple[str, str]:
        """(image URI, ECR repository ARN) of the training image."""
        opts = self.options
        if opts.image_uri is not None:
            registry, _, path = opts.image_uri.partition("/")
            account, _, _, region = registry.split(".")[:4]
            repository = path.split("@")[0].rsplit(":", 1)[0]
            partition = "aws-cn" if region.startswith("cn-") else Aws.PARTITION
            return opts.image_uri, f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"
        image: TrainingImage = self.image
        region = Stack.of(self).region
        if not Token.is_unresolved(region):
            try:
                uri = image.uri(region)
            except KeyError as error:
                raise ValueError(error.args[0]) from None
            account = image.account(region)
        else:
            mapping = CfnMapping(
                self,
                "TrainingImageRegistry",
                mapping={r: {"account": a} for r, a in sorted(image.registries.items())},
            )
            account = mapping.find_in_map(Aws.REGION, "account")
            uri = f"{account}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{image.repository}:{image.tag}"
            region = Aws.REGION
        return uri, f"arn:{Aws.PARTITION}:ecr:{region}:{account}:repository/{image.repository}"

    # -- roles ---------------------------------------------------------------------------

    def _training_job_arns(self) -> str:
        return (
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:training-job/"
            f"{self.options.job_name_prefix.lower()}-*"
        )

    def _create_training_role(self) -> iam.Role:
        return iam.Role(
            self,
            "TrainingRole",
            description="Assumed by SageMaker to run this workflow's training jobs.",
            # Training jobs send aws:SourceArn / aws:SourceAccount (SageMaker's "Cross-service
            # confused deputy prevention" page): only this workflow's jobs may assume the role.
            assumed_by=service_principal_from("sagemaker.amazonaws.com", self._training_job_arns()),
        )

    def _grant_training_role(self, role: iam.IRole) -> None:
        opts = self.options
        statements = [
            iam.PolicyStatement(
                sid="ReadDatasets",
                actions=["s3:GetObject"],
                resources=[self.dataset_bucket.arn_for_objects(f"{opts.dataset_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="WriteOutputAndCheckpoints",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[
                    self.artifacts_bucket.arn_for_objects(f"{opts.output_prefix}*"),
                    self.artifacts_bucket.arn_for_objects(f"{opts.checkpoint_prefix}*"),
                ],
            ),
            iam.PolicyStatement(
                sid="PullTrainingImage",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                resources=[self.image_repository_arn],
            ),
            iam.PolicyStatement(
                sid="EcrLogin",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="WriteTrainingLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:"
                    f"{TRAINING_LOG_GROUP}:*"
                ],
            ),
            iam.PolicyStatement(
                sid="PutTrainingMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={
                    "StringLike": {"cloudwatch:namespace": f"{TRAINING_METRICS_NAMESPACE}*"}
                },
            ),
        ]
        if opts.base_model_prefix is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadBaseModel",
                    actions=["s3:GetObject"],
                    resources=[self.artifacts_bucket.arn_for_objects(f"{opts.base_model_prefix}*")],
                )
            )
        for statement in statements:
            role.add_to_principal_policy(statement)
        add_list_statement(role, self.dataset_bucket, opts.dataset_prefix, "ListDatasets")
        add_list_statement(role, self.artifacts_bucket, opts.checkpoint_prefix, "ListCheckpoints")
        if opts.base_model_prefix is not None:
            add_list_statement(role, self.artifacts_bucket, opts.base_model_prefix, "ListBaseModel")
        if opts.evaluation is not None:
            labelled = opts.evaluation.labelled_set_key
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ReadLabelledSet",
                    actions=["s3:GetObject"],
                    resources=[self.dataset_bucket.arn_for_objects(labelled)],
                )
            )
            add_list_statement(role, self.dataset_bucket, labelled, "ListLabelledSet")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadTrainingSource",
                actions=["s3:GetObject"],
                resources=[
                    self.source_asset.bucket.arn_for_objects(self.source_asset.s3_object_key)
                ],
            )
        )
        if self.data_key is not None:
            self.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        if self.volume_key is not None:
            self.volume_key.grant(
                role, "kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"
            )
        if self.vpc is not None:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="TrainingJobNetworkInterfaces",
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:CreateNetworkInterfacePermission",
                        "ec2:DeleteNetworkInterface",
                        "ec2:DeleteNetworkInterfacePermission",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeVpcs",
                        "ec2:DescribeDhcpOptions",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeSecurityGroups",
                    ],
                    resources=["*"],
                )
            )

    # -- validator -----------------------------------------------------------------------

    def _log_group(self, id: str, removal_policy: RemovalPolicy) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            id,
            retention=RETENTION[self.options.log_retention_days],
            encryption_key=self.key,
            removal_policy=removal_policy,
        )

    def _create_validator(self, removal_policy: RemovalPolicy) -> lambda_.Function:
        opts = self.options
        return create_dataset_validator(
            self,
            role_description="Runs the open-model dataset validator Lambda.",
            description="Streams open-model fine-tuning datasets and checks every record.",
            handler=VALIDATOR_HANDLER,
            log_group=self._log_group("ValidatorLogs", removal_policy),
            dataset_bucket=self.dataset_bucket,
            dataset_prefix=opts.dataset_prefix,
            report_bucket=self.artifacts_bucket,
            report_prefix=opts.report_prefix,
            data_key=self.data_key,
            memory_mib=opts.validator_memory_mib,
            timeout_minutes=opts.validator_timeout_minutes,
            environment={
                "OUTPUT_PREFIX": opts.output_prefix,
                "CHECKPOINT_PREFIX": opts.checkpoint_prefix,
                "RECORD_FORMAT": opts.record_format.value,
                "LIMITS": json.dumps({"max_record_bytes": opts.max_record_bytes}),
                "MAX_VALIDATION_FILES": "1",
                "JOB_NAME_PREFIX": opts.job_name_prefix,
            },
        )

    # -- workflow ------------------------------------------------------------------------

    def training_job_parameters(self, *, with_validation: bool) -> dict[str, Any]:
        """The CreateTrainingJob request (JSONPath: values from ``$.validation``)."""
        opts = self.options
        channels: list[dict[str, Any]] = [
            _channel("train", {"S3Uri.$": "$.validation.trainingS3Uri"}),
        ]
        if with_validation:
            channels.append(_channel("validation", {"S3Uri.$": "$.validation.validationS3Uri"}))
        if opts.evaluation is not None:
            key = opts.evaluation.labelled_set_key
            channels.append(
                _channel("evaluation", {"S3Uri": self.dataset_bucket.s3_url_for_object(key)})
            )
        if opts.base_model_prefix is not None:
            channels.append(
                _channel(
                    "model",
                    {"S3Uri": self.artifacts_bucket.s3_url_for_object(opts.base_model_prefix)},
                )
            )
        stopping: dict[str, Any] = {"MaxRuntimeInSeconds": opts.max_runtime_hours * 3600}
        if opts.use_spot:
            stopping["MaxWaitTimeInSeconds"] = opts.max_wait_hours * 3600
        resources: dict[str, Any] = {
            "InstanceType": opts.instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": opts.volume_size_gib,
        }
        if opts.keep_alive_minutes:
            resources["KeepAlivePeriodInSeconds"] = opts.keep_alive_minutes * 60
        if self.volume_key is not None:
            resources["VolumeKmsKeyId"] = self.volume_key.key_arn
        output: dict[str, Any] = {"S3OutputPath.$": "$.validation.outputS3Path"}
        if self.data_key is not None:
            output["KmsKeyId"] = self.data_key.key_arn
        hyperparameters = {
            **self.options.script_hyperparameters(),
            "sagemaker_program": training.ENTRY_POINT,
            "sagemaker_submit_directory": self.source_asset.s3_object_url,
            "sagemaker_region": Aws.REGION,
        }
        parameters: dict[str, Any] = {
            "TrainingJobName.$": "$.validation.trainingJobName",
            "RoleArn": self.training_role.role_arn,
            "AlgorithmSpecification": {
                "TrainingImage": self.image_uri,
                "TrainingInputMode": "File",
                "MetricDefinitions": [dict(d) for d in METRIC_DEFINITIONS],
            },
            "HyperParameters": hyperparameters,
            "InputDataConfig": channels,
            "OutputDataConfig": output,
            "ResourceConfig": resources,
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": opts.use_spot,
            "CheckpointConfig": {
                "S3Uri.$": "$.validation.checkpointS3Uri",
                "LocalPath": "/opt/ml/checkpoints",
            },
            "EnableNetworkIsolation": opts.enable_network_isolation,
            "Environment": {"HF_HUB_OFFLINE": "1"} if opts.base_model_prefix else {},
        }
        if not parameters["Environment"]:
            del parameters["Environment"]
        if opts.retry_attempts is not None:
            parameters["RetryStrategy"] = {"MaximumRetryAttempts": opts.retry_attempts}
        if self.vpc is not None:
            parameters["VpcConfig"] = {
                "Subnets": [s.subnet_id for s in self.subnets],
                "SecurityGroupIds": [g.security_group_id for g in self.security_groups],
            }
        return parameters

    def _training_state(
        self, id: str, *, with_validation: bool, on_failure: sfn.IChainable
    ) -> sfn.CustomState:
        opts = self.options
        timeout_hours = (opts.max_wait_hours if opts.use_spot else opts.max_runtime_hours) + 1
        state = sfn.CustomState(
            self,
            id,
            state_json={
                "Type": "Task",
                "Comment": "Run the SageMaker training job and wait for it to end.",
                "Resource": f"arn:{Aws.PARTITION}:states:::{SYNC_INTEGRATION}",
                "Parameters": self.training_job_parameters(with_validation=with_validation),
                "ResultPath": "$.trainingJob",
                "TimeoutSeconds": timeout_hours * 3600,
            },
        )
        state.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")
        return state

    def _register_state(self, on_failure: sfn.IChainable) -> sfn.CustomState:
        opts = self.options
        metadata: dict[str, Any] = {
            "method": opts.method.value,
            "recordFormat": opts.record_format.value,
            "baseModel": opts.base_model_id
            or self.artifacts_bucket.s3_url_for_object(opts.base_model_prefix),
            "trainingJobName.$": "$.validation.trainingJobName",
            "adapterArtifact.$": "$.trainingJob.ModelArtifacts.S3ModelArtifacts",
        }
        parameters: dict[str, Any] = {
            "ModelPackageGroupName": self.model_package_group_name,
            "ModelPackageDescription.$": (
                "States.Format('Adapter trained by {}', $.validation.trainingJobName)"
            ),
            "ModelApprovalStatus": "PendingManualApproval",
            "CustomerMetadataProperties": metadata,
        }
        # The artifact is an adapter only, and the training image cannot serve it: without a
        # serving image of the user's choice the version is registered with no inference
        # specification (optional in CreateModelPackage for a versioned package), so nobody
        # deploys an endpoint that cannot start.
        if opts.inference_image_uri is not None:
            parameters["InferenceSpecification"] = {
                "Containers": [
                    {
                        "Image": opts.inference_image_uri,
                        "ModelDataUrl.$": "$.trainingJob.ModelArtifacts.S3ModelArtifacts",
                    }
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            }
        state = sfn.CustomState(
            self,
            "RegisterAdapter",
            state_json={
                "Type": "Task",
                "Comment": "Register the adapter as a new version, pending manual approval.",
                "Resource": f"arn:{Aws.PARTITION}:states:::{REGISTER_INTEGRATION}",
                "Parameters": parameters,
                "ResultSelector": {"ModelPackageArn.$": "$.ModelPackageArn"},
                "ResultPath": "$.modelPackage",
            },
        )
        state.add_retry(
            errors=["SageMaker.SageMakerException", "SageMaker.ThrottlingException"],
            interval=Duration.seconds(10),
            backoff_rate=2,
            max_attempts=3,
        )
        state.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")
        return state

    def build_definition(self) -> sfn.IChainable:
        """The whole state machine definition, built in one place (extend it here)."""
        validate, notify_invalid = dataset_validation_states(
            self,
            validator=self.validator,
            topic=self.topic,
            subject="SageMaker fine-tune: dataset invalid, no job started",
        )
        notify_failed = notify_and_fail(
            self,
            "NotifyFailed",
            topic=self.topic,
            subject="SageMaker fine-tune failed",
            message=caught_error_message(),
            fail_id="Failed",
            error="FineTuneFailed",
            cause="Validation, training or registration failed; see the notification.",
        )
        validate.add_catch(notify_failed, errors=["States.ALL"], result_path="$.error")
        succeeded_message: dict[str, Any] = {
            "result": "SUCCEEDED",
            "execution": sfn.JsonPath.execution_id,
            "trainingJobName": sfn.JsonPath.string_at("$.validation.trainingJobName"),
            "modelArtifacts": sfn.JsonPath.string_at(
                "$.trainingJob.ModelArtifacts.S3ModelArtifacts"
            ),
            "modelPackageArn": sfn.JsonPath.string_at("$.modelPackage.ModelPackageArn"),
            # Optional in DescribeTrainingJob: set by BillableTimeReported? (never read raw).
            "billableSeconds": sfn.JsonPath.string_at("$.billing.seconds"),
        }
        if self.task_metrics is not None:
            succeeded_message["taskMetrics"] = sfn.JsonPath.object_at(
                "$.taskMetrics.result.report.summary"
            )
        notify_succeeded = notify(
            self,
            "NotifySucceeded",
            topic=self.topic,
            subject="SageMaker fine-tune: adapter registered",
            message=succeeded_message,
        ).next(sfn.Succeed(self, "Done"))
        self.register_state = self._register_state(notify_failed)
        billable = "$.trainingJob.BillableTimeInSeconds"
        billing = (
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
        self.register_state.next(billing)
        after_training: sfn.IChainable = self.register_state
        if self.task_metrics is not None:
            after_training = self._evaluation_states(self.task_metrics, self.register_state)
        self.training_states = [
            self._training_state(
                "TrainAdapterWithValidationData", with_validation=True, on_failure=notify_failed
            ),
            self._training_state("TrainAdapter", with_validation=False, on_failure=notify_failed),
        ]
        for state in self.training_states:
            state.next(after_training)
        choice = (
            sfn.Choice(self, "DatasetValid?")
            .when(sfn.Condition.boolean_equals("$.validation.valid", False), notify_invalid)
            .when(
                sfn.Condition.boolean_equals("$.validation.hasValidationData", True),
                self.training_states[0],
            )
            .otherwise(self.training_states[1])
        )
        return validate.next(choice)

    def _evaluation_states(
        self, task_metrics: TaskMetricsEvaluation, on_passed: sfn.IChainable
    ) -> sfn.IChainable:
        """Locate the predictions the training script wrote, score them, gate on the report:
        passed -> ``on_passed``; otherwise notify and end in ``EvaluationFailed``."""
        report_key = f"{task_metrics.options.report_prefix}{{}}/report.json"
        evaluation_failed = sfn.Fail(
            self,
            "EvaluationFailed",
            error="EvaluationFailed",
            cause="The adapter was trained but not registered: the task-metrics job failed or a "
            "threshold was not met; see the notification and the report.",
        )
        below_threshold = notify(
            self,
            "NotifyEvaluationFailed",
            topic=self.topic,
            subject="SageMaker fine-tune: adapter below the evaluation thresholds",
            message={
                "result": "EVALUATION_FAILED",
                "execution": sfn.JsonPath.execution_id,
                "trainingJobName": sfn.JsonPath.string_at("$.validation.trainingJobName"),
                "modelArtifacts": sfn.JsonPath.string_at(
                    "$.trainingJob.ModelArtifacts.S3ModelArtifacts"
                ),
                "taskMetrics": sfn.JsonPath.object_at("$.taskMetrics.result.report.summary"),
                "failures": sfn.JsonPath.list_at("$.taskMetrics.result.report.failures"),
                "reportKey": sfn.JsonPath.format(report_key, sfn.JsonPath.execution_name),
            },
        ).next(evaluation_failed)
        job_failed = notify(
            self,
            "NotifyEvaluationError",
            topic=self.topic,
            subject="SageMaker fine-tune: evaluation failed to run",
            message={
                "result": "EVALUATION_ERROR",
                "execution": sfn.JsonPath.execution_id,
                "trainingJobName": sfn.JsonPath.string_at("$.validation.trainingJobName"),
                "error": sfn.JsonPath.string_at("$.taskMetricsError.Error"),
                "cause": sfn.JsonPath.string_at("$.taskMetricsError.Cause"),
            },
        ).next(evaluation_failed)
        on_failed = (
            sfn.Choice(self, "EvaluationReportRead?")
            .when(sfn.Condition.is_present("$.taskMetrics.result.report"), below_threshold)
            .otherwise(job_failed)
        )
        locate = sfn.Pass(
            self,
            "LocatePredictions",
            comment="The training script's predictions: the job's output.tar.gz.",
            parameters={
                "predictionsS3Uri": sfn.JsonPath.format(
                    f"{{}}{{}}/{PREDICTIONS_ARCHIVE}",
                    sfn.JsonPath.string_at("$.validation.outputS3Path"),
                    sfn.JsonPath.string_at("$.validation.trainingJobName"),
                )
            },
            result_path="$.evaluationInput",
        )
        return locate.next(
            task_metrics.chain(
                predictions_s3_uri_path="$.evaluationInput.predictionsS3Uri",
                model_name_path="$.validation.trainingJobName",
                on_passed=on_passed,
                on_failed=on_failed,
            )
        )

    def _create_state_machine(self, removal_policy: RemovalPolicy) -> sfn.StateMachine:
        state_machine = sfn.StateMachine(
            self,
            "Resource",
            comment="Validate a dataset, train a LoRA adapter on SageMaker, register it, notify.",
            definition_body=sfn.DefinitionBody.from_chainable(self.build_definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self._log_group("WorkflowLogs", removal_policy),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        self._grant_workflow(state_machine)
        if self.task_metrics is not None:
            self.task_metrics.grant_workflow(state_machine)
        return state_machine

    def _grant_workflow(self, state_machine: sfn.StateMachine) -> None:
        sagemaker_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        group = self.model_package_group_name
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="RunTrainingJobs",
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                ],
                resources=[self._training_job_arns()],
            )
        )
        # The Step Functions developer guide's policy for createTrainingJob.sync lists
        # sagemaker:ListTags on '*'; CDK's SageMakerCreateTrainingJob also grants AddTags.
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="TagTrainingJobs",
                actions=["sagemaker:AddTags"],
                resources=[self._training_job_arns()],
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(sid="ListJobTags", actions=["sagemaker:ListTags"], resources=["*"])
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="RegisterAdapters",
                actions=["sagemaker:CreateModelPackage"],
                resources=[
                    f"{sagemaker_arn}:model-package-group/{group}",
                    f"{sagemaker_arn}:model-package/{group}/*",
                ],
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassTrainingRole",
                actions=["iam:PassRole"],
                resources=[self.training_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="ManageSyncEventsRule",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/"
                    f"{MANAGED_RULE_NAME}"
                ],
            )
        )
        self.key.grant(state_machine, "kms:Decrypt", "kms:GenerateDataKey*")
        if self.volume_key is not None:
            self.volume_key.grant(state_machine, "kms:CreateGrant", "kms:DescribeKey")


def _channel(name: str, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3DataDistributionType": "FullyReplicated",
                **source,
            }
        },
        "InputMode": "File",
    }


def _selection_kwargs(selection: ec2.SubnetSelection) -> dict[str, Any]:
    """``IVpc.select_subnets`` takes the selection's fields as keyword arguments."""
    fields = (
        "availability_zones",
        "one_per_az",
        "subnet_filters",
        "subnet_group_name",
        "subnets",
        "subnet_type",
    )
    return {f: getattr(selection, f) for f in fields if getattr(selection, f) is not None}
