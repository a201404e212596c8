"""The ``RunLabelingJob`` state (``sagemaker:createLabelingJob.sync``) and the workflow-role
statements it needs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.labeling_workforce import LabelingWorkflowOptions
from cdk_llm_training.constructs.labeling.functions import TaskFunctions
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

LABEL_ATTRIBUTE_NAME = "llm-labels"
"""The label attribute of every job the workflow starts (its output-manifest key)."""


def allow_labeling_jobs(
    role: iam.Role, *, labeling_role: iam.IRole, workteam_arns: Sequence[str]
) -> None:
    """Let the workflow ``role`` start labeling jobs for ``workteam_arns`` only, watch and
    stop them (with the ``.sync`` integration's EventBridge rule), and pass ``labeling_role``
    to SageMaker."""
    stack = Stack.of(role)
    job_arn = stack.format_arn(service="sagemaker", resource="labeling-job", resource_name="*")
    role.add_to_policy(
        iam.PolicyStatement(
            sid="CreateLabelingJobsForOwnTeams",
            actions=["sagemaker:CreateLabelingJob"],
            resources=[job_arn],
            # Condition key listed for CreateLabelingJob in the Service Authorization
            # Reference (ARN condition operators).
            conditions={"ArnEquals": {"sagemaker:WorkteamArn": list(workteam_arns)}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="TrackLabelingJobs",
            actions=["sagemaker:DescribeLabelingJob", "sagemaker:StopLabelingJob"],
            resources=[job_arn],
        )
    )
    # The Step Functions developer guide's policies for SageMaker .sync integrations
    # list sagemaker:ListTags on '*' (the integration reads the job's tags).
    role.add_to_policy(
        iam.PolicyStatement(sid="ListJobTags", actions=["sagemaker:ListTags"], resources=["*"])
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PassLabelingRole",
            actions=["iam:PassRole"],
            resources=[labeling_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="SyncIntegrationRule",
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[
                stack.format_arn(
                    service="events",
                    resource="rule",
                    resource_name="StepFunctionsGetEventsForSageMaker*",
                )
            ],
        )
    )


def labeling_job_state(
    scope: Construct,
    opts: LabelingWorkflowOptions,
    *,
    data_lake: TrainingDataLake,
    labeling_role: iam.IRole,
    functions: TaskFunctions,
) -> sfn.CustomState:
    """``RunLabelingJob``: a job over ``$.args`` (manifest, template, team and limits), its
    output in the curated zone encrypted with the lake key; the result at
    ``$.labeling_job``."""
    curated = data_lake.curated_bucket.bucket_name
    artifacts = data_lake.artifacts_bucket.bucket_name
    return sfn.CustomState(
        scope,
        "RunLabelingJob",
        state_json={
            "Type": "Task",
            "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createLabelingJob.sync",
            "Parameters": {
                "LabelingJobName.$": "$.args.job_name",
                "LabelAttributeName": LABEL_ATTRIBUTE_NAME,
                "RoleArn": labeling_role.role_arn,
                "InputConfig": {
                    "DataSource": {
                        "S3DataSource": {
                            "ManifestS3Uri.$": Fn.join(
                                "",
                                ["States.Format('s3://", curated, "/{}', $.args.manifest_key)"],
                            )
                        }
                    }
                },
                "OutputConfig": {
                    "S3OutputPath": Fn.join("", ["s3://", curated, "/", opts.output_prefix]),
                    "KmsKeyId": data_lake.key.key_arn,
                },
                "HumanTaskConfig": {
                    "WorkteamArn.$": "$.args.workteam_arn",
                    "UiConfig": {
                        "UiTemplateS3Uri.$": Fn.join(
                            "",
                            [
                                "States.Format('s3://",
                                artifacts,
                                f"/{opts.template_prefix}{{}}.html', $.args.task_type)",
                            ],
                        )
                    },
                    "PreHumanTaskLambdaArn": functions.pre_annotation.function_arn,
                    "AnnotationConsolidationConfig": {
                        "AnnotationConsolidationLambdaArn": (functions.consolidation.function_arn)
                    },
                    "TaskTitle.$": "$.args.title",
                    "TaskDescription.$": "$.args.description",
                    "TaskKeywords": ["LLM", "text", "labeling"],
                    "NumberOfHumanWorkersPerDataObject.$": "$.args.workers_per_object",
                    "TaskTimeLimitInSeconds.$": "$.args.task_time_limit_seconds",
                    "TaskAvailabilityLifetimeInSeconds.$": (
                        "$.args.task_availability_lifetime_seconds"
                    ),
                    "MaxConcurrentTaskCount.$": "$.args.max_concurrent_tasks",
                },
            },
            "ResultSelector": {
                "status.$": "$.LabelingJobStatus",
                "output_manifest_uri.$": "$.LabelingJobOutput.OutputDatasetS3Uri",
                "label_attribute_name.$": "$.LabelAttributeName",
                "counters.$": "$.LabelCounters",
            },
            "ResultPath": "$.labeling_job",
        },
    )
