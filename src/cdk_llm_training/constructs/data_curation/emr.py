"""The ``emr-serverless`` engine of DataCuration: a Spark application on EMR Serverless, its
job runtime role, the code it runs and the states that run it.

The Spark job (``assets/curation/spark_curate.py``) needs only what EMR Serverless ships:
PySpark, and boto3 for Amazon Comprehend when PII detection is on (boto3 in the EMR
Serverless image: unverified). The ``curation`` package reaches the driver and executors as
a zip in ``--py-files``; no virtual environment has to be packed.
"""

from __future__ import annotations

import functools
import json
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emrserverless as emrs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn

from cdk_llm_training.constructs._trust import service_principal_from
from cdk_llm_training.constructs._workflow import add_list_statement
from cdk_llm_training.constructs.data_curation.job import CURATION_SOURCE

if TYPE_CHECKING:
    from cdk_llm_training.constructs.data_curation.construct import DataCuration

EMR_PRINCIPAL = "emr-serverless.amazonaws.com"
EMR_SYNC = "emr-serverless:startJobRun.sync"
EMR_SYNC_RULE = "StepFunctionsGetEventsForEMRServerlessJobRule"
"""The EventBridge rule Step Functions manages for ``emr-serverless:startJobRun.sync`` (the
name public state machine policies use; the Step Functions page's policy section could not
be read: unverified)."""
SPARK_ENTRY = CURATION_SOURCE / "spark_entry.py"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Fixed timestamps: the package zip, hence its asset hash, depends on the code only."""


@functools.lru_cache(maxsize=1)
def spark_package_zip() -> Path:
    """``curation.zip``: the curation package's modules under ``curation/`` (what
    ``--py-files`` puts on the Python path), built reproducibly once per process."""
    target = Path(tempfile.mkdtemp(prefix="curation-spark-")) / "curation.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted(CURATION_SOURCE.glob("*.py")):
            info = zipfile.ZipInfo(f"curation/{source.name}", date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, source.read_bytes(), zipfile.ZIP_DEFLATED)
    return target


def application_arn(curation: DataCuration) -> str:
    return (
        f"arn:{Aws.PARTITION}:emr-serverless:{Aws.REGION}:{Aws.ACCOUNT_ID}:/applications/"
        f"{curation.spark_application.attr_application_id}"
    )


def create_spark_resources(
    curation: DataCuration,
    *,
    vpc: ec2.IVpc | None,
    vpc_subnets: ec2.SubnetSelection | None,
) -> None:
    """``SparkEntry`` and ``SparkPackage`` (code assets), ``SparkLogs`` (the job's driver
    and executor logs, encrypted with the workflow key), ``SparkSecurityGroup`` (with a
    ``vpc``) and ``SparkApplication``."""
    emr = curation.options.emr
    curation.spark_entry = s3_assets.Asset(curation, "SparkEntry", path=str(SPARK_ENTRY))
    curation.spark_package = s3_assets.Asset(
        curation, "SparkPackage", path=str(spark_package_zip())
    )
    curation.spark_logs = logs.LogGroup(
        curation,
        "SparkLogs",
        retention=curation._log_retention,
        encryption_key=curation.key,
        removal_policy=curation._removal_policy,
    )
    network = None
    if vpc is not None:
        group = ec2.SecurityGroup(
            curation,
            "SparkSecurityGroup",
            vpc=vpc,
            description="Curation Spark workers: outbound to S3, Comprehend and the logs.",
            allow_all_outbound=True,
        )
        # Default: the VPC's private subnets (what select_subnets picks without a filter).
        selection = vpc_subnets or ec2.SubnetSelection()
        subnets = vpc.select_subnets(
            availability_zones=selection.availability_zones,
            one_per_az=selection.one_per_az,
            subnet_filters=selection.subnet_filters,
            subnet_group_name=selection.subnet_group_name,
            subnets=selection.subnets,
            subnet_type=selection.subnet_type,
        )
        curation.spark_security_group = group
        network = emrs.CfnApplication.NetworkConfigurationProperty(
            subnet_ids=subnets.subnet_ids, security_group_ids=[group.security_group_id]
        )
    curation.spark_application = emrs.CfnApplication(
        curation,
        "SparkApplication",
        release_label=emr.release_label,
        type="Spark",
        architecture=emr.architecture,
        # No initial capacity: workers start per job and nothing runs while idle.
        auto_start_configuration=emrs.CfnApplication.AutoStartConfigurationProperty(enabled=True),
        auto_stop_configuration=emrs.CfnApplication.AutoStopConfigurationProperty(
            enabled=True, idle_timeout_minutes=emr.idle_timeout_minutes
        ),
        maximum_capacity=emrs.CfnApplication.MaximumAllowedResourcesProperty(
            cpu=emr.maximum_capacity["Cpu"],
            memory=emr.maximum_capacity["Memory"],
            disk=emr.maximum_capacity["Disk"],
        ),
        monitoring_configuration=emrs.CfnApplication.MonitoringConfigurationProperty(
            cloud_watch_logging_configuration=(
                emrs.CfnApplication.CloudWatchLoggingConfigurationProperty(
                    enabled=True, log_group_name=curation.spark_logs.log_group_name
                )
            )
        ),
        network_configuration=network,
    )


def create_spark_job_role(curation: DataCuration) -> iam.Role:
    """``SparkJobRole``, assumed by EMR Serverless for this application's job runs only
    (``aws:SourceArn`` the application, ``aws:SourceAccount`` this account; the condition
    keys EMR Serverless sends when it assumes a job runtime role: unverified)."""
    return iam.Role(
        curation,
        "SparkJobRole",
        description="Assumed by EMR Serverless to run this workflow's curation Spark jobs.",
        assumed_by=service_principal_from(EMR_PRINCIPAL, application_arn(curation)),
    )


def grant_spark_job_role(curation: DataCuration, role: iam.IRole) -> None:
    """Let ``role`` run the Spark job: read and list the raw prefix and the code, write,
    read back, rename and list the curated prefix (Spark stages its output there and moves
    it into ``part-NNNNN.jsonl``), call Comprehend, write its log group, use the data key."""
    opts = curation.options
    curated = curation.curated_bucket.arn_for_objects(f"{opts.curated_prefix}*")
    code = [
        asset.bucket.arn_for_objects(asset.s3_object_key)
        for asset in (curation.spark_entry, curation.spark_package)
    ]
    statements = [
        iam.PolicyStatement(
            sid="ReadRaw",
            actions=["s3:GetObject"],
            resources=[curation.raw_bucket.arn_for_objects(f"{opts.raw_prefix}*")],
        ),
        iam.PolicyStatement(
            sid="WriteCurated",
            actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[curated],
        ),
        iam.PolicyStatement(sid="ReadSparkCode", actions=["s3:GetObject"], resources=code),
        # Real-time DetectPiiEntities names no resource (no endpoint is involved).
        iam.PolicyStatement(
            sid="DetectPii", actions=["comprehend:DetectPiiEntities"], resources=["*"]
        ),
        iam.PolicyStatement(
            sid="WriteSparkLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[
                curation.spark_logs.log_group_arn,
                f"{curation.spark_logs.log_group_arn}:*",
            ],
        ),
        iam.PolicyStatement(
            sid="FindSparkLogs", actions=["logs:DescribeLogGroups"], resources=["*"]
        ),
    ]
    for statement in statements:
        role.add_to_principal_policy(statement)
    add_list_statement(role, curation.raw_bucket, opts.raw_prefix, "ListRaw")
    add_list_statement(role, curation.curated_bucket, opts.curated_prefix, "ListCurated")
    if curation.data_key is not None:
        curation.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")


def spark_workflow_statements(curation: DataCuration) -> list[iam.PolicyStatement]:
    """What the workflow role needs for ``startJobRun.sync`` beside ``iam:PassRole`` and the
    managed rule: start job runs on the application, then read and cancel them (a stopped
    execution cancels its job run)."""
    app = application_arn(curation)
    return [
        iam.PolicyStatement(
            sid="StartSparkJobRuns", actions=["emr-serverless:StartJobRun"], resources=[app]
        ),
        iam.PolicyStatement(
            sid="TrackSparkJobRuns",
            actions=["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"],
            resources=[f"{app}/jobruns/*"],
        ),
    ]


def spark_job_states(
    curation: DataCuration, *, on_failure: sfn.IChainable
) -> tuple[sfn.Pass, sfn.CustomState]:
    """``PrepareSparkJob`` (the run's input and output URIs, job name and settings into
    ``$.sparkJob``) -> ``CurateJob`` (``emr-serverless:startJobRun.sync``)."""
    opts = curation.options
    emr = opts.emr
    prepare = sfn.Pass(
        curation,
        "PrepareSparkJob",
        comment="The job run's name, input and output locations and curation settings.",
        parameters={
            "name.$": f"States.Format('{opts.job_name_prefix}-{{}}', $$.Execution.Name)",
            "inputUri.$": (
                f"States.Format('s3://{curation.raw_bucket.bucket_name}/{{}}', $.rawPrefix)"
            ),
            "outputUri.$": (
                f"States.Format('s3://{curation.curated_bucket.bucket_name}/"
                f"{opts.curated_prefix}{{}}/', $$.Execution.Name)"
            ),
            "config": json.dumps(opts.curation, separators=(",", ":")),
        },
        result_path="$.sparkJob",
    )
    arguments = (
        "States.Array('--input-uri', $.sparkJob.inputUri, '--output-uri', "
        "$.sparkJob.outputUri, '--config', $.sparkJob.config, '--region', "
        f"'{Aws.REGION}', '--pii-partitions', '{emr.pii_partitions}')"
    )
    parameters: dict[str, Any] = {
        "ApplicationId": curation.spark_application.attr_application_id,
        "ExecutionRoleArn": curation.spark_job_role.role_arn,
        "Name.$": "$.sparkJob.name",
        "ClientToken.$": "States.UUID()",
        "ExecutionTimeoutMinutes": emr.execution_timeout_minutes,
        "JobDriver": {
            "SparkSubmit": {
                "EntryPoint": curation.spark_entry.s3_object_url,
                "EntryPointArguments.$": arguments,
                "SparkSubmitParameters": f"--py-files {curation.spark_package.s3_object_url}",
            }
        },
    }
    job = curation._service_task(
        "CurateJob",
        comment="Spark on EMR Serverless: normalise, filter, deduplicate, check PII; write "
        "the dataset and its card.",
        integration=EMR_SYNC,
        parameters=parameters,
        result_path="$.curationJob",
        on_failure=on_failure,
    )
    prepare.next(job)
    return prepare, job
