"""The role Ground Truth labeling jobs run with (``LabelingJobRole`` in the workflow's scope)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_llm_training.config.labeling_workforce import LabelingWorkflowOptions
from cdk_llm_training.config.training_data_lake import DataZone
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.labeling.functions import TaskFunctions
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake


def create_labeling_job_role(
    scope: Construct,
    opts: LabelingWorkflowOptions,
    *,
    data_lake: TrainingDataLake,
    functions: TaskFunctions,
) -> iam.Role:
    """A role SageMaker of this account assumes: read the manifest and template prefixes,
    read and write the output prefix, use the lake key, invoke the pre-annotation and
    consolidation functions, write Ground Truth's logs and metrics."""
    role = iam.Role(
        scope,
        "LabelingJobRole",
        assumed_by=iam.ServicePrincipal(
            "sagemaker.amazonaws.com",
            # aws:SourceAccount only: SageMaker's confused-deputy page does not list
            # Ground Truth labeling jobs among the features that send aws:SourceArn, and
            # a condition on a key the request lacks would make the role unassumable.
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        ),
        description="Ground Truth labeling jobs: read manifests and templates, write "
        "output, use the lake key, invoke the task Lambdas.",
    )
    data_lake.grant_read(role, zone=DataZone.CURATED, key_prefix=opts.manifest_prefix)
    data_lake.grant_read(role, zone=DataZone.ARTIFACTS, key_prefix=opts.template_prefix)
    data_lake.grant_read_write(role, zone=DataZone.CURATED, key_prefix=opts.output_prefix)
    functions.pre_annotation.grant_invoke(role)
    functions.consolidation.grant_invoke(role)
    role.add_to_policy(
        iam.PolicyStatement(
            sid="LabelingJobLogs",
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            resources=[
                Stack.of(scope).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name="/aws/sagemaker/LabelingJobs:*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="LabelingJobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "AWS/SageMaker"}},
        )
    )
    acknowledge_wildcards(
        role,
        "Object-level S3 grants scoped to the manifest, template and output prefixes; "
        "Ground Truth's own log group /aws/sagemaker/LabelingJobs (log streams are per "
        "job); cloudwatch:PutMetricData has no resource type and is limited to the "
        "AWS/SageMaker namespace; lake key actions from CDK's bucket grants.",
    )
    return role
