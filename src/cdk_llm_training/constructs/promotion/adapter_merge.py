"""The merge step of :class:`BedrockModelImport`: a SageMaker processing job (``.sync``) that
runs ``merge_adapter.py`` with the pinned training image, reading a registered adapter and its
base model and writing the merged weights to ``<models prefix><model name>/``; its role and
the workflow's grants."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from cdk_llm_training.assets import merging
from cdk_llm_training.constructs._trust import service_principal_from
from cdk_llm_training.constructs._workflow import add_list_statement

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.sagemaker import SageMakerFineTuneJob

MERGE_SYNC = "sagemaker:createProcessingJob.sync"
MERGE_SYNC_RULE = "StepFunctionsGetEventsForSageMakerProcessingJobsRule"
"""The EventBridge rule Step Functions manages for ``createProcessingJob.sync``."""
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
CODE_DIR = "/opt/ml/processing/input/code"
ADAPTER_DIR = "/opt/ml/processing/input/adapter"
BASE_DIR = "/opt/ml/processing/input/base"
OUTPUT_DIR = "/opt/ml/processing/output/merged"
SRC_DIR = "/opt/ml/processing/src"


def container_command() -> list[str]:
    """``/bin/sh -c <script> merge``: unpack the code asset (a zip of the merging folder),
    install its pinned requirements, run ``merge_adapter.py`` with the container arguments."""
    steps = [
        f"set -e; d={SRC_DIR}",
        "mkdir -p $d",
        f"python3 -m zipfile -e {CODE_DIR}/*.zip $d",
        "pip install -q -r $d/requirements.txt",
        f'exec python3 $d/{merging.ENTRY_POINT} "$@"',
    ]
    return ["/bin/sh", "-c", "; ".join(steps), "merge"]


class AdapterMerge:
    """Builds the merge job's pieces in ``scope`` (the importer): ``MergeCode`` (the merging
    folder as a zip asset) and ``MergeRole`` (assumed by SageMaker for the merge jobs only).

    :param job_name_prefix: merge jobs are named ``<prefix>-<uuid>``.
    :param instance_type: of the processing job (the merge runs on CPU).
    :param volume_size_gib: of its storage volume (base, adapter and merged weights).
    :param max_runtime_hours: the job's stopping condition.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        job: SageMakerFineTuneJob,
        models_prefix: str,
        job_name_prefix: str,
        instance_type: str,
        volume_size_gib: int,
        max_runtime_hours: int,
    ) -> None:
        self.job = job
        self.models_prefix = models_prefix
        self.job_name_prefix = job_name_prefix
        self.instance_type = instance_type
        self.volume_size_gib = volume_size_gib
        self.max_runtime_hours = max_runtime_hours
        self.code = s3_assets.Asset(
            scope,
            "MergeCode",
            path=str(merging.SOURCE_DIR),
            exclude=["__pycache__", "*.pyc", "__init__.py"],
        )
        self.role = iam.Role(
            scope,
            "MergeRole",
            description="Assumed by SageMaker to merge adapters into their base models.",
            # Processing jobs send aws:SourceArn / aws:SourceAccount (SageMaker's
            # "Cross-service confused deputy prevention" page): only the merge jobs.
            assumed_by=service_principal_from("sagemaker.amazonaws.com", self.job_arns),
        )
        self._grant_role()

    @property
    def job_arns(self) -> str:
        """``processing-job/<job_name_prefix>-*`` of this account and Region."""
        return (
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:processing-job/"
            f"{self.job_name_prefix}-*"
        )

    def _grant_role(self) -> None:
        job, opts, role = self.job, self.job.options, self.role
        bucket = job.artifacts_bucket
        statements = [
            iam.PolicyStatement(
                sid="ReadAdapters",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{opts.output_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="WriteMergedModels",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects(f"{self.models_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="ReadMergeCode",
                actions=["s3:GetObject"],
                resources=[self.code.bucket.arn_for_objects(self.code.s3_object_key)],
            ),
            iam.PolicyStatement(
                sid="PullTrainingImage",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                resources=[job.image_repository_arn],
            ),
            iam.PolicyStatement(
                sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]
            ),
            iam.PolicyStatement(
                sid="WriteMergeLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:"
                    f"{PROCESSING_LOG_GROUP}:*"
                ],
            ),
        ]
        if opts.base_model_prefix is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadBaseModel",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"{opts.base_model_prefix}*")],
                )
            )
        for statement in statements:
            role.add_to_principal_policy(statement)
        # Inputs of S3DataType S3Prefix are listed before download, the code object too.
        add_list_statement(role, bucket, opts.output_prefix, "ListAdapters")
        add_list_statement(role, self.code.bucket, self.code.s3_object_key, "ListMergeCode")
        if opts.base_model_prefix is not None:
            add_list_statement(role, bucket, opts.base_model_prefix, "ListBaseModel")
        if job.data_key is not None:
            job.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")

    def parameters(self) -> dict[str, Any]:
        """The CreateProcessingJob request (JSONPath: ``$.modelName``, the adapter artifact
        in ``$.adapter.artifact``)."""
        job, opts = self.job, self.job.options
        bucket = job.artifacts_bucket.bucket_name
        output_uri = f"States.Format('s3://{bucket}/{self.models_prefix}{{}}/', $.modelName)"
        inputs = [
            _s3_input("code", CODE_DIR, {"S3Uri": self.code.s3_object_url}),
            _s3_input("adapter", ADAPTER_DIR, {"S3Uri.$": "$.adapter.artifact"}),
        ]
        if opts.base_model_prefix is not None:
            inputs.append(
                _s3_input(
                    "base",
                    BASE_DIR,
                    {"S3Uri": job.artifacts_bucket.s3_url_for_object(opts.base_model_prefix)},
                )
            )
            base = BASE_DIR
        else:
            # The options require exactly one of the two: a Hub id is downloaded by the job.
            base = str(opts.base_model_id)
        output: dict[str, Any] = {
            "Outputs": [
                {
                    "OutputName": "merged",
                    "S3Output": {
                        "S3Uri.$": output_uri,
                        "LocalPath": OUTPUT_DIR,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        }
        if job.data_key is not None:
            output["KmsKeyId"] = job.data_key.key_arn
        return {
            "ProcessingJobName.$": f"States.Format('{self.job_name_prefix}-{{}}', States.UUID())",
            "RoleArn": self.role.role_arn,
            "AppSpecification": {
                "ImageUri": job.image_uri,
                "ContainerEntrypoint": container_command(),
                "ContainerArguments": [
                    *("--base", base, "--adapter", ADAPTER_DIR, "--output", OUTPUT_DIR),
                ],
            },
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": output,
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": self.instance_type,
                    "VolumeSizeInGB": self.volume_size_gib,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_hours * 3600},
        }

    def report_key(self) -> str:
        """JSONPath intrinsic: the merge report's key in the artifacts bucket."""
        return f"States.Format('{self.models_prefix}{{}}/{merging.REPORT_NAME}', $.modelName)"

    def workflow_statements(self) -> list[iam.PolicyStatement]:
        """What the workflow role needs for the merge, as aws-cdk-lib grants for a SageMaker
        ``.sync`` job: run, stop, tag and track the jobs, manage the Step Functions rule,
        pass the role to SageMaker; plus read the adapter's package and the merge report."""
        job = self.job
        sagemaker_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        statements = [
            iam.PolicyStatement(
                sid="RunMergeJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                resources=[self.job_arns],
            ),
            # The Step Functions developer guide's policy for createProcessingJob.sync lists
            # sagemaker:ListTags on '*'.
            iam.PolicyStatement(
                sid="ListMergeJobTags", actions=["sagemaker:ListTags"], resources=["*"]
            ),
            iam.PolicyStatement(
                sid="TrackMergeJobs",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/"
                    f"{MERGE_SYNC_RULE}"
                ],
            ),
            iam.PolicyStatement(
                sid="PassMergeRole",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="DescribeAdapters",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[f"{sagemaker_arn}:model-package/{job.model_package_group_name}/*"],
            ),
            iam.PolicyStatement(
                sid="ReadMergeReports",
                actions=["s3:GetObject"],
                resources=[
                    job.artifacts_bucket.arn_for_objects(
                        f"{self.models_prefix}*/{merging.REPORT_NAME}"
                    )
                ],
            ),
        ]
        if job.data_key is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="DecryptMergeReports",
                    actions=["kms:Decrypt"],
                    resources=[job.data_key.key_arn],
                )
            )
        return statements


def _s3_input(name: str, local_path: str, uri: dict[str, str]) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            **uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }
