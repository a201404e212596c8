"""The SageMaker requests of :class:`SageMakerFineTuneJob`: the training source tarball, the
training image, CreateTrainingJob and CreateModelPackage."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import Aws, CfnMapping, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.assets import training
from cdk_llm_training.config.catalogs.training_images import TrainingImage
from cdk_llm_training.config.sagemaker_fine_tune_job import (
    METRIC_DEFINITIONS,
    SageMakerFineTuneOptions,
)
from cdk_llm_training.constructs.fine_tune.sagemaker_evidence import model_metrics, package_evidence
from cdk_llm_training.constructs.fine_tune.workflow import JobService, Retry

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.sagemaker import SageMakerFineTuneJob

SYNC_INTEGRATION = "sagemaker:createTrainingJob.sync"
REGISTER_INTEGRATION = "aws-sdk:sagemaker:createModelPackage"
MANAGED_RULE_NAME = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
"""The EventBridge rule Step Functions manages for ``createTrainingJob.sync``."""
SAGEMAKER_SERVICE = JobService(
    principal="sagemaker.amazonaws.com",
    pass_role_sid="PassTrainingRole",
    managed_rule_names=(MANAGED_RULE_NAME,),
)
REGISTER_RETRY = Retry(
    errors=("SageMaker.SageMakerException", "SageMaker.ThrottlingException"),
    interval_seconds=10,
)
VOLUME_KEY_ACTIONS = ("kms:CreateGrant", "kms:DescribeKey")
"""What the workflow role needs on ``volume_key`` to create a job whose volume it encrypts."""
SOURCE_TARBALL = "sourcedir.tar.gz"
PREDICTIONS_ARCHIVE = "output/output.tar.gz"
"""Where SageMaker puts ``/opt/ml/output/data`` (the predictions) under ``<output path><job>/``."""


def trained_adapter_fields() -> dict[str, Any]:
    """The notification fields naming the trained adapter: training job and artifact."""
    return {
        "trainingJobName": sfn.JsonPath.string_at("$.validation.trainingJobName"),
        "modelArtifacts": sfn.JsonPath.string_at("$.trainingJob.ModelArtifacts.S3ModelArtifacts"),
    }


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


def write_source_tarball() -> Path:
    """:func:`build_source_tarball` in a temporary folder named by its hash (the asset)."""
    data = build_source_tarball()
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"cdk-llm-training-source-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SOURCE_TARBALL
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


def resolve_image(
    scope: Construct, options: SageMakerFineTuneOptions, image: TrainingImage
) -> tuple[str, str]:
    """(image URI, ECR repository ARN) of the training image: ``options.image_uri``, or
    ``image`` in the stack's Region (a ``TrainingImageRegistry`` mapping when the Region is
    unknown at synth)."""
    if options.image_uri is not None:
        registry, _, path = options.image_uri.partition("/")
        account, _, _, region = registry.split(".")[:4]
        repository = path.split("@")[0].rsplit(":", 1)[0]
        partition = "aws-cn" if region.startswith("cn-") else Aws.PARTITION
        return options.image_uri, f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"
    region = Stack.of(scope).region
    if not Token.is_unresolved(region):
        try:
            uri = image.uri(region)
        except KeyError as error:
            raise ValueError(error.args[0]) from None
        account = image.account(region)
    else:
        mapping = CfnMapping(
            scope,
            "TrainingImageRegistry",
            mapping={r: {"account": a} for r, a in sorted(image.registries.items())},
        )
        account = mapping.find_in_map(Aws.REGION, "account")
        uri = f"{account}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{image.repository}:{image.tag}"
        region = Aws.REGION
    return uri, f"arn:{Aws.PARTITION}:ecr:{region}:{account}:repository/{image.repository}"


def training_job_parameters(job: SageMakerFineTuneJob, *, with_validation: bool) -> dict[str, Any]:
    """The CreateTrainingJob request of ``job`` (JSONPath: values from ``$.validation``)."""
    opts = job.options
    channels: list[dict[str, Any]] = [
        _channel("train", {"S3Uri.$": "$.validation.trainingS3Uri"}),
    ]
    if with_validation:
        channels.append(_channel("validation", {"S3Uri.$": "$.validation.validationS3Uri"}))
    if opts.evaluation is not None:
        key = opts.evaluation.labelled_set_key
        channels.append(
            _channel("evaluation", {"S3Uri": job.dataset_bucket.s3_url_for_object(key)})
        )
    if opts.reward_file is not None:
        # The object lands as /opt/ml/input/data/reward/<file name>, which the script's
        # reward_file hyperparameter names.
        channels.append(
            _channel("reward", {"S3Uri": job.dataset_bucket.s3_url_for_object(opts.reward_file)})
        )
    if opts.base_model_prefix is not None:
        channels.append(
            _channel(
                "model",
                {"S3Uri": job.artifacts_bucket.s3_url_for_object(opts.base_model_prefix)},
            )
        )
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": opts.max_runtime_hours * 3600}
    if opts.use_spot:
        stopping["MaxWaitTimeInSeconds"] = opts.max_wait_hours * 3600
    resources: dict[str, Any] = {
        "InstanceType": opts.instance_type,
        "InstanceCount": opts.instance_count,
        "VolumeSizeInGB": opts.volume_size_gib,
    }
    if opts.keep_alive_minutes:
        resources["KeepAlivePeriodInSeconds"] = opts.keep_alive_minutes * 60
    if job.volume_key is not None:
        resources["VolumeKmsKeyId"] = job.volume_key.key_arn
    output: dict[str, Any] = {"S3OutputPath.$": "$.validation.outputS3Path"}
    if job.data_key is not None:
        output["KmsKeyId"] = job.data_key.key_arn
    hyperparameters = {
        **opts.script_hyperparameters(),
        "sagemaker_program": training.ENTRY_POINT,
        "sagemaker_submit_directory": job.source_asset.s3_object_url,
        "sagemaker_region": Aws.REGION,
    }
    parameters: dict[str, Any] = {
        "TrainingJobName.$": "$.validation.trainingJobName",
        "RoleArn": job.training_role.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": job.image_uri,
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
    }
    if opts.base_model_prefix:
        parameters["Environment"] = {"HF_HUB_OFFLINE": "1"}
    if opts.retry_attempts is not None:
        parameters["RetryStrategy"] = {"MaximumRetryAttempts": opts.retry_attempts}
    if job.vpc is not None:
        parameters["VpcConfig"] = {
            "Subnets": [s.subnet_id for s in job.subnets],
            "SecurityGroupIds": [g.security_group_id for g in job.security_groups],
        }
    return parameters


def register_parameters(job: SageMakerFineTuneJob) -> dict[str, Any]:
    """The CreateModelPackage request: a new version of the adapter group, pending manual
    approval, with the evidence of :mod:`.sagemaker_evidence` (metadata, model metrics)."""
    opts = job.options
    parameters: dict[str, Any] = {
        "ModelPackageGroupName": job.model_package_group_name,
        "ModelPackageDescription.$": (
            "States.Format('Adapter trained by {}', $.validation.trainingJobName)"
        ),
        "ModelApprovalStatus": "PendingManualApproval",
        "CustomerMetadataProperties": package_evidence(job),
    }
    metrics = model_metrics(job)
    if metrics is not None:
        parameters["ModelMetrics"] = metrics
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
    return parameters


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


def selection_kwargs(selection: ec2.SubnetSelection) -> dict[str, Any]:
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
