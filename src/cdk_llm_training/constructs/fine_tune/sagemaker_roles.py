"""What :class:`SageMakerFineTuneJob`'s roles may do: the training role SageMaker assumes
for the workflow's jobs, and the workflow role's statements for training and registration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from cdk_llm_training.constructs._trust import service_principal_from
from cdk_llm_training.constructs._workflow import add_list_statement
from cdk_llm_training.constructs.fine_tune.workflow import JOB_NETWORK_DESCRIBE_ACTIONS

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.sagemaker import SageMakerFineTuneJob

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TRAINING_METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"


def training_job_arns(job: SageMakerFineTuneJob) -> str:
    """The workflow's training jobs: ``training-job/<job_name_prefix>-*``."""
    return (
        f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:training-job/"
        f"{job.options.job_name_prefix.lower()}-*"
    )


def create_training_role(job: SageMakerFineTuneJob) -> iam.Role:
    """``TrainingRole``, assumed by SageMaker for this workflow's training jobs only."""
    return iam.Role(
        job,
        "TrainingRole",
        description="Assumed by SageMaker to run this workflow's training jobs.",
        # Training jobs send aws:SourceArn / aws:SourceAccount (SageMaker's "Cross-service
        # confused deputy prevention" page): only this workflow's jobs may assume the role.
        assumed_by=service_principal_from("sagemaker.amazonaws.com", training_job_arns(job)),
    )


def grant_training_role(job: SageMakerFineTuneJob, role: iam.IRole) -> None:
    """Let ``role`` (created or given) run ``job``'s training: read the dataset, base-model,
    labelled-set, reward-file and source prefixes, write output and checkpoints, pull the
    image, write logs and metrics, use the data and volume keys and, in a VPC, the job's ENIs."""
    opts = job.options
    statements = [
        iam.PolicyStatement(
            sid="ReadDatasets",
            actions=["s3:GetObject"],
            resources=[job.dataset_bucket.arn_for_objects(f"{opts.dataset_prefix}*")],
        ),
        iam.PolicyStatement(
            sid="WriteOutputAndCheckpoints",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[
                job.artifacts_bucket.arn_for_objects(f"{opts.output_prefix}*"),
                job.artifacts_bucket.arn_for_objects(f"{opts.checkpoint_prefix}*"),
            ],
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
        iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
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
            conditions={"StringLike": {"cloudwatch:namespace": f"{TRAINING_METRICS_NAMESPACE}*"}},
        ),
    ]
    if opts.base_model_prefix is not None:
        statements.append(
            iam.PolicyStatement(
                sid="ReadBaseModel",
                actions=["s3:GetObject"],
                resources=[job.artifacts_bucket.arn_for_objects(f"{opts.base_model_prefix}*")],
            )
        )
    for statement in statements:
        role.add_to_principal_policy(statement)
    add_list_statement(role, job.dataset_bucket, opts.dataset_prefix, "ListDatasets")
    add_list_statement(role, job.artifacts_bucket, opts.checkpoint_prefix, "ListCheckpoints")
    if opts.base_model_prefix is not None:
        add_list_statement(role, job.artifacts_bucket, opts.base_model_prefix, "ListBaseModel")
    if opts.evaluation is not None:
        labelled = opts.evaluation.labelled_set_key
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadLabelledSet",
                actions=["s3:GetObject"],
                resources=[job.dataset_bucket.arn_for_objects(labelled)],
            )
        )
        add_list_statement(role, job.dataset_bucket, labelled, "ListLabelledSet")
    if opts.reward_file is not None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadRewardFile",
                actions=["s3:GetObject"],
                resources=[job.dataset_bucket.arn_for_objects(opts.reward_file)],
            )
        )
        add_list_statement(role, job.dataset_bucket, opts.reward_file, "ListRewardFile")
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadTrainingSource",
            actions=["s3:GetObject"],
            resources=[job.source_asset.bucket.arn_for_objects(job.source_asset.s3_object_key)],
        )
    )
    if job.data_key is not None:
        job.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
    if job.volume_key is not None:
        job.volume_key.grant(
            role, "kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"
        )
    if job.vpc is not None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="TrainingJobNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    *JOB_NETWORK_DESCRIBE_ACTIONS,
                ],
                resources=["*"],
            )
        )


def workflow_statements(job: SageMakerFineTuneJob) -> list[iam.PolicyStatement]:
    """What the workflow role needs beyond the skeleton's grants: run, tag and track the
    training jobs and register adapters in the group."""
    sagemaker_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    group = job.model_package_group_name
    return [
        iam.PolicyStatement(
            sid="RunTrainingJobs",
            actions=[
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
            ],
            resources=[training_job_arns(job)],
        ),
        # The Step Functions developer guide's policy for createTrainingJob.sync lists
        # sagemaker:ListTags on '*'; CDK's SageMakerCreateTrainingJob also grants AddTags.
        iam.PolicyStatement(
            sid="TagTrainingJobs",
            actions=["sagemaker:AddTags"],
            resources=[training_job_arns(job)],
        ),
        iam.PolicyStatement(sid="ListJobTags", actions=["sagemaker:ListTags"], resources=["*"]),
        iam.PolicyStatement(
            sid="RegisterAdapters",
            actions=["sagemaker:CreateModelPackage"],
            resources=[
                f"{sagemaker_arn}:model-package-group/{group}",
                f"{sagemaker_arn}:model-package/{group}/*",
            ],
        ),
    ]
