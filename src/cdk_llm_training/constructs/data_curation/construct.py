"""DataCuration: the raw -> curated workflow (Step Functions Standard)."""

from __future__ import annotations

import json

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emrserverless as emrs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.data_curation import DEFAULT_CURATION_IMAGE, DataCurationOptions
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._workflow import caught_error_message
from cdk_llm_training.constructs.data_curation.emr import (
    EMR_PRINCIPAL,
    EMR_SYNC_RULE,
    create_spark_job_role,
    create_spark_resources,
    grant_spark_job_role,
    spark_job_states,
    spark_workflow_statements,
)
from cdk_llm_training.constructs.data_curation.job import (
    CURATION_SOURCE,
    PROCESSING_SYNC,
    SYNC_RULE,
    processing_job_parameters,
)
from cdk_llm_training.constructs.data_curation.roles import (
    create_processing_role,
    grant_processing_role,
    workflow_statements,
)
from cdk_llm_training.constructs.fine_tune.workflow import FineTuneWorkflow, JobService, catch_all
from cdk_llm_training.constructs.runtime_function import RUNTIME_CODE_EXCLUDE
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

VALIDATOR_HANDLER = "bedrock_dataset_validator.handler"
DLC_ACCOUNT = "763104351884"
"""AWS Deep Learning Containers registry account (most commercial Regions)."""
SAGEMAKER_PROCESSING = JobService(
    principal="sagemaker.amazonaws.com",
    pass_role_sid="PassProcessingRole",
    managed_rule_names=(SYNC_RULE,),
)
EMR_SERVERLESS = JobService(
    principal=EMR_PRINCIPAL,
    pass_role_sid="PassSparkJobRole",
    managed_rule_names=(EMR_SYNC_RULE,),
)


class DataCuration(FineTuneWorkflow):
    """A Step Functions Standard workflow that curates raw text into a training dataset.

    States: ``InputValid?`` (``rawPrefix`` a string under ``raw_prefix``; otherwise
    ``NotifyInputInvalid`` -> ``InputInvalid``) -> ``CheckRawInput`` (ListObjectsV2, one key)
    -> ``RawInputFound?`` (none: ``NotifyInputMissing`` -> ``InputMissing``) -> ``CurateJob``
    (``sagemaker:createProcessingJob.sync``: normalise, filter, deduplicate exactly and by
    MinHash LSH, redact or drop PII with Amazon Comprehend, write ``part-00000.jsonl`` and
    ``dataset_card.json``) -> ``ValidateDataset`` (the dataset validator on the output, in
    ``record_format``) -> ``DatasetValid?`` (invalid: ``NotifyDatasetInvalid`` ->
    ``DatasetInvalid``) -> ``NotifySucceeded`` -> ``Done``. Every task's failure is caught
    into ``$.error`` -> ``NotifyFailed`` -> ``Failed``.

    Output: ``s3://<curated>/<curated_prefix><execution name>/`` (under the fine-tune
    workflows' ``finetune/`` dataset prefix by default, so ``trainingDataKey`` of a fine-tune
    execution can name ``part-00000.jsonl`` there). Start an execution with
    ``{"rawPrefix": "corpora/manuals/"}``.

    Defaults: one ml.m5.xlarge, 100 GB volume, 24 h limit; the PyTorch CPU Deep Learning
    Container of the stack's Region (pip installs datasketch at start, so the job needs
    internet access); a processing role that reads only the raw prefix and the code asset,
    writes only the curated prefix and may call ``comprehend:DetectPiiEntities``; KMS-
    encrypted topic and log groups; X-Ray tracing.
    """

    options: DataCurationOptions
    spark_application: emrs.CfnApplication
    """``engine: emr-serverless`` only: the EMR Serverless application (``SparkApplication``)."""
    spark_job_role: iam.IRole
    """``engine: emr-serverless`` only: the job runtime role (given, or ``SparkJobRole``)."""
    spark_entry: s3_assets.Asset
    spark_package: s3_assets.Asset
    spark_logs: logs.LogGroup
    spark_security_group: ec2.SecurityGroup

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: DataCurationOptions | None = None,
        data_lake: TrainingDataLake | None = None,
        raw_bucket: s3.IBucket | None = None,
        curated_bucket: s3.IBucket | None = None,
        artifacts_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
        processing_role: iam.IRole | None = None,
        spark_job_role: iam.IRole | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        key: kms.IKey | None = None,
        topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the workflow.

        :param options: Default ``DataCurationOptions()``.
        :param data_lake: raw input, curated output, validation reports in its zones. Either
            this or all three buckets below (and ``data_key`` when they are encrypted).
        :param processing_role: the role the processing job assumes (it needs the access
            described above). Default: a new role. ``engine: processing`` only.
        :param spark_job_role: the EMR Serverless job runtime role (same access, plus reading
            back and renaming its own output). Default: a new role. ``emr-serverless`` only.
        :param vpc: ``emr-serverless`` only: run the Spark workers in this VPC (data stays
            on private subnets; S3 through its gateway endpoint, Comprehend and CloudWatch
            Logs need a route: NAT or interface endpoints). Default: no VPC.
        :param vpc_subnets: the subnets of ``vpc``. Default: its private subnets.
        :param key: encrypts the topic and log groups. Default: a new rotating key.
        :param topic: where the workflow notifies. Default: a new encrypted topic.
        :param removal_policy: for the created key and log groups.
        """
        super().__init__(scope, id, removal_policy=removal_policy)
        record_construct_type(self, "DataCuration")
        self.options = opts = options or DataCurationOptions()
        buckets = (raw_bucket, curated_bucket, artifacts_bucket)
        if data_lake is not None:
            if any(b is not None for b in buckets) or data_key is not None:
                raise ValueError(
                    "DataCuration takes data_lake= or raw_bucket=, curated_bucket=, "
                    "artifacts_bucket= (and data_key=), not both: the lake supplies them."
                )
            self.raw_bucket = data_lake.raw_bucket
            self.curated_bucket = data_lake.curated_bucket
            self.artifacts_bucket = data_lake.artifacts_bucket
            self.data_key: kms.IKey | None = data_lake.key
        elif raw_bucket is not None and curated_bucket is not None and artifacts_bucket:
            self.raw_bucket, self.curated_bucket = raw_bucket, curated_bucket
            self.artifacts_bucket, self.data_key = artifacts_bucket, data_key
        else:
            raise ValueError(
                "DataCuration needs data_lake=, or raw_bucket=, curated_bucket= and "
                "artifacts_bucket=; got neither."
            )
        self.dataset_bucket = self.curated_bucket
        self.image_uri = opts.image_uri or (
            f"{DLC_ACCOUNT}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{DEFAULT_CURATION_IMAGE}"
        )
        self._create_notifications(
            key=key,
            topic=topic,
            workflow_name="data curation",
            topic_display_name="Data curation notifications",
        )
        emr = opts.engine == "emr-serverless"
        if emr:
            create_spark_resources(self, vpc=vpc, vpc_subnets=vpc_subnets)
            self._created_role = None if spark_job_role else create_spark_job_role(self)
            self.spark_job_role = spark_job_role or self._created_role  # type: ignore[assignment]
            grant_spark_job_role(self, self.spark_job_role)
            job_role = self.spark_job_role
        else:
            if vpc is not None or spark_job_role is not None:
                raise ValueError(
                    "DataCuration: vpc= and spark_job_role= apply to engine 'emr-serverless'; "
                    f"engine is {opts.engine!r}"
                )
            self.code_asset = s3_assets.Asset(
                self, "CurationCode", path=str(CURATION_SOURCE), exclude=list(RUNTIME_CODE_EXCLUDE)
            )
            self._created_role = (
                None if processing_role is not None else create_processing_role(self)
            )
            self.processing_role: iam.IRole = processing_role or self._created_role  # type: ignore[assignment]
            grant_processing_role(self, self.processing_role)
            job_role = self.processing_role
        self._create_validator(
            handler=VALIDATOR_HANDLER,
            description="Streams the curated dataset and checks every record.",
            role_description="Runs the dataset validator on curated output.",
            report_bucket=self.artifacts_bucket,
            environment={
                "RECORD_FORMAT": opts.record_format,
                "LIMITS": json.dumps({}),
                "JOB_NAME_PREFIX": opts.job_name_prefix,
            },
        )
        self._create_state_machine(
            comment="Curate raw text into a training dataset, validate it, notify.",
            definition=self.build_definition(),
            service=EMR_SERVERLESS if emr else SAGEMAKER_PROCESSING,
            job_role=job_role,
            statements=spark_workflow_statements(self) if emr else workflow_statements(self),
        )
        if emr:
            self._acknowledge_wildcards(
                job_role=self._created_role,
                job_role_reason=(
                    "Raw and curated objects are named per run (prefix*); the job's log "
                    "streams are named by EMR Serverless; comprehend:DetectPiiEntities and "
                    "logs:DescribeLogGroups have no resource type."
                ),
                workflow_reason=(
                    "Job runs get their IDs when started (<application>/jobruns/*), the only "
                    "way to name them in the policy."
                ),
            )
            return
        self._acknowledge_wildcards(
            job_role=self._created_role,
            job_role_reason=(
                "Raw and curated objects are named per run (prefix*); SageMaker names the "
                "job's log streams; the image may live in any registry account; "
                "ecr:GetAuthorizationToken and comprehend:DetectPiiEntities have no "
                "resource type."
            ),
            workflow_reason=(
                "Processing jobs are named per execution (<prefix>-*); sagemaker:ListTags is "
                "listed on '*' by the .sync integration's documented policy."
            ),
        )

    def build_definition(self) -> sfn.IChainable:
        """The states (see the class docstring)."""
        opts = self.options
        subject = "Data curation"
        failed = self._notify_failed(
            "NotifyFailed",
            subject=f"{subject}: failed",
            message=caught_error_message(rawPrefix=sfn.JsonPath.string_at("$.rawPrefix")),
            fail_id="Failed",
            cause="A curation step failed; see the notification and the execution history.",
        )
        invalid_input = self._notify_failed(
            "NotifyInputInvalid",
            subject=f"{subject}: input invalid, no job started",
            message={
                "result": "INPUT_INVALID",
                "execution": sfn.JsonPath.execution_id,
                "expected": f"rawPrefix: a string starting with {opts.raw_prefix!r}",
            },
            fail_id="InputInvalid",
            cause=f"The input needs rawPrefix, an S3 prefix under {opts.raw_prefix!r}.",
        )
        missing = self._notify_failed(
            "NotifyInputMissing",
            subject=f"{subject}: no raw data, no job started",
            message={
                "result": "INPUT_MISSING",
                "execution": sfn.JsonPath.execution_id,
                "rawPrefix": sfn.JsonPath.string_at("$.rawPrefix"),
            },
            fail_id="InputMissing",
            cause="No object under rawPrefix in the raw zone.",
        )
        check = tasks.CallAwsService(
            self,
            "CheckRawInput",
            comment="Is there anything under rawPrefix?",
            service="s3",
            action="listObjectsV2",
            parameters={
                "Bucket": self.raw_bucket.bucket_name,
                "Prefix": sfn.JsonPath.string_at("$.rawPrefix"),
                "MaxKeys": 1,
            },
            iam_action="s3:ListBucket",
            iam_resources=[self.raw_bucket.bucket_arn],
            result_selector={"keyCount": sfn.JsonPath.number_at("$.KeyCount")},
            result_path="$.rawInput",
        )
        catch_all(check, failed)
        job: sfn.IChainable
        if opts.engine == "emr-serverless":
            job, last = spark_job_states(self, on_failure=failed)
            job_field = {"jobRun": sfn.JsonPath.string_at("$.sparkJob.name")}
        else:
            job = last = self._service_task(
                "CurateJob",
                comment=(
                    "Normalise, filter, deduplicate, check PII; write the dataset and its card."
                ),
                integration=PROCESSING_SYNC,
                parameters=processing_job_parameters(self),
                result_selector={
                    "name.$": "$.ProcessingJobName",
                    "status.$": "$.ProcessingJobStatus",
                },
                result_path="$.curationJob",
                on_failure=failed,
            )
            job_field = {"processingJob": sfn.JsonPath.string_at("$.curationJob.name")}
        validate = tasks.LambdaInvoke(
            self,
            "ValidateDataset",
            comment="Stream the curated dataset, check every record, write the report.",
            lambda_function=self.validator,
            payload=sfn.TaskInput.from_object(
                {
                    "trainingDataKey": sfn.JsonPath.format(
                        f"{opts.curated_prefix}{{}}/part-00000.jsonl",
                        sfn.JsonPath.execution_name,
                    )
                }
            ),
            payload_response_only=True,
            result_path="$.validation",
            retry_on_service_exceptions=True,
        )
        catch_all(validate, failed)
        invalid = self._notify_failed(
            "NotifyDatasetInvalid",
            subject=f"{subject}: curated dataset invalid",
            message={
                "result": "DATASET_INVALID",
                "execution": sfn.JsonPath.execution_id,
                "reportS3Uri": sfn.JsonPath.string_at("$.validation.reportS3Uri"),
                "errorCount": sfn.JsonPath.number_at("$.validation.errorCount"),
                "firstErrors": sfn.JsonPath.object_at("$.validation.errors"),
            },
            fail_id="DatasetInvalid",
            cause="The curated dataset failed validation; see the report.",
        )
        output_root = f"s3://{self.curated_bucket.bucket_name}/"
        succeeded = self._notify_succeeded(
            subject=f"{subject}: dataset ready",
            message={
                "result": "SUCCEEDED",
                "execution": sfn.JsonPath.execution_id,
                "rawPrefix": sfn.JsonPath.string_at("$.rawPrefix"),
                "datasetS3Uri": sfn.JsonPath.string_at("$.validation.trainingDataS3Uri"),
                "cardS3Uri": sfn.JsonPath.format(
                    f"{output_root}{opts.curated_prefix}{{}}/dataset_card.json",
                    sfn.JsonPath.execution_name,
                ),
                "records": sfn.JsonPath.object_at("$.validation.records"),
                **job_field,
            },
        )
        validate.next(
            sfn.Choice(self, "DatasetValid?")
            .when(sfn.Condition.boolean_equals("$.validation.valid", False), invalid)
            .otherwise(succeeded)
        )
        last.next(validate)
        check.next(
            sfn.Choice(self, "RawInputFound?")
            .when(sfn.Condition.number_greater_than("$.rawInput.keyCount", 0), job)
            .otherwise(missing)
        )
        return (
            sfn.Choice(self, "InputValid?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.rawPrefix"),
                    sfn.Condition.is_string("$.rawPrefix"),
                    sfn.Condition.string_matches("$.rawPrefix", f"{opts.raw_prefix}*"),
                ),
                check,
            )
            .otherwise(invalid_input)
        )
