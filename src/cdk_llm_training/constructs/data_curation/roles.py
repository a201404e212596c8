"""What DataCuration's processing role and workflow role may do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from cdk_llm_training.constructs._trust import service_principal_from
from cdk_llm_training.constructs._workflow import add_list_statement

if TYPE_CHECKING:
    from cdk_llm_training.constructs.data_curation.construct import DataCuration

PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def processing_job_arns(curation: DataCuration) -> str:
    """The workflow's processing jobs: ``processing-job/<job_name_prefix>-*``."""
    return (
        f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:processing-job/"
        f"{curation.options.job_name_prefix.lower()}-*"
    )


def create_processing_role(curation: DataCuration) -> iam.Role:
    """``ProcessingRole``, assumed by SageMaker for this workflow's processing jobs only."""
    return iam.Role(
        curation,
        "ProcessingRole",
        description="Assumed by SageMaker to run this workflow's curation jobs.",
        # Processing jobs send aws:SourceArn / aws:SourceAccount (SageMaker's "Cross-service
        # confused deputy prevention" page): only this workflow's jobs may assume the role.
        assumed_by=service_principal_from("sagemaker.amazonaws.com", processing_job_arns(curation)),
    )


def grant_processing_role(curation: DataCuration, role: iam.IRole) -> None:
    """Let ``role`` run the curation: read the raw prefix and the code asset, write the
    curated prefix, call Comprehend, pull the image, write logs, use the data key."""
    opts = curation.options
    statements = [
        iam.PolicyStatement(
            sid="ReadRaw",
            actions=["s3:GetObject"],
            resources=[curation.raw_bucket.arn_for_objects(f"{opts.raw_prefix}*")],
        ),
        iam.PolicyStatement(
            sid="WriteCurated",
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[curation.curated_bucket.arn_for_objects(f"{opts.curated_prefix}*")],
        ),
        iam.PolicyStatement(
            sid="ReadCurationCode",
            actions=["s3:GetObject"],
            resources=[
                curation.code_asset.bucket.arn_for_objects(curation.code_asset.s3_object_key)
            ],
        ),
        # Real-time DetectPiiEntities names no resource (no endpoint is involved), so '*' is
        # the only resource (unverified against the Service Authorization Reference).
        iam.PolicyStatement(
            sid="DetectPii", actions=["comprehend:DetectPiiEntities"], resources=["*"]
        ),
        iam.PolicyStatement(
            sid="PullImage",
            actions=[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            resources=[f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:*:repository/*"],
        ),
        iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        iam.PolicyStatement(
            sid="WriteJobLogs",
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
    for statement in statements:
        role.add_to_principal_policy(statement)
    add_list_statement(role, curation.raw_bucket, opts.raw_prefix, "ListRaw")
    # Inputs of S3DataType S3Prefix are listed before download, the code object too.
    add_list_statement(
        role, curation.code_asset.bucket, curation.code_asset.s3_object_key, "ListCurationCode"
    )
    if curation.data_key is not None:
        curation.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")


def workflow_statements(curation: DataCuration) -> list[iam.PolicyStatement]:
    """What the workflow role needs beyond the skeleton's grants: run, tag and track the
    processing jobs."""
    return [
        iam.PolicyStatement(
            sid="RunProcessingJobs",
            actions=[
                "sagemaker:CreateProcessingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StopProcessingJob",
                "sagemaker:AddTags",
            ],
            resources=[processing_job_arns(curation)],
        ),
        # The Step Functions developer guide's policy for createProcessingJob.sync lists
        # sagemaker:ListTags on '*'.
        iam.PolicyStatement(sid="ListJobTags", actions=["sagemaker:ListTags"], resources=["*"]),
    ]
