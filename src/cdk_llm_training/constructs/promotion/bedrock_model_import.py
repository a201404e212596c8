"""BedrockModelImport: serve a SageMaker-trained adapter on Amazon Bedrock.

Bedrock Custom Model Import takes full Hugging Face weights. Started with a registered adapter
package, the workflow first runs ``merge_adapter.py`` (shipped in
``cdk_llm_training/assets/merging``) as a SageMaker processing job that folds the adapter into
its base model and writes them under ``<models prefix><model name>/`` of the artifacts bucket;
the merge report's verdict gates the import. It then imports that folder
(``CreateModelImportJob``), waits for the job, and records the imported model in the SageMaker
workflow's Model Registry group (a version with ``servingTarget=bedrock`` and the imported
model's ARN), so that SageMaker and Bedrock models are listed side by side.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs._workflow import (
    add_list_statement,
    caught_error_message,
    notify_and_fail,
)
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.promotion.adapter_merge import MERGE_SYNC, AdapterMerge
from cdk_llm_training.constructs.promotion.workflow import (
    logged_state_machine,
    notifications,
    notify_done,
    sdk_task,
)

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.sagemaker import SageMakerFineTuneJob

POLL_SECONDS = 120
MERGE_JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,25}")
"""CreateProcessingJob's name pattern, short enough for ``<prefix>-<uuid>`` (63 characters)."""


class BedrockModelImport(Construct):
    """Import merged weights into Bedrock and record the model in the registry group.

    Start an execution with ``{"modelName": "support-bot-v3", "modelPackageArn": <a version
    of the job's group>}`` to merge that adapter first: ``DescribeAdapter``
    (DescribeModelPackage: its ``adapterArtifact`` metadata) -> ``MergeAdapter`` (a
    ``.sync`` processing job writing ``<models_prefix>support-bot-v3/``; a failed job ->
    ``NotifyMergeFailed`` -> ``MergeFailed``) -> ``ReadMergeReport`` -> ``Importable?``: an
    architecture Custom Model Import does not take -> ``NotifyNotImportable`` ->
    ``NotImportable``; else the import. Start with ``{"modelName": "support-bot-v3"}`` alone
    to import an already merged ``<models_prefix>support-bot-v3/``. Import: ``StartImport``
    (CreateModelImportJob: job and imported model named ``modelName``) -> ``WaitForImport``
    -> ``GetImport`` -> ``ImportDone?``: InProgress -> wait again; Completed ->
    ``RecordInRegistry`` (CreateModelPackage, ``PendingManualApproval``) -> ``NotifyImported``
    -> ``Imported``; Failed -> ``NotifyImportFailed`` -> ``ImportFailed``. Any other error ->
    ``NotifyFailed`` -> ``Failed``.

    Defaults: models under ``merged-models/`` of the job's artifacts bucket; an import role
    Bedrock may assume only for this account's import jobs, reading only that prefix (and
    decrypting with the data key through S3); a new rotating key and encrypted topic; merge
    jobs named ``adapter-merge-<uuid>`` on one ``ml.m5.4xlarge`` (CPU, 64 GiB memory) with a
    100 GiB volume and a 2-hour limit, in the job's pinned training image.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        job: SageMakerFineTuneJob,
        models_prefix: str = "merged-models/",
        key: kms.IKey | None = None,
        topic: sns.ITopic | None = None,
        log_retention_days: int = 365,
        merge_job_name_prefix: str = "adapter-merge",
        merge_instance_type: str = "ml.m5.4xlarge",
        merge_volume_size_gib: int = 100,
        merge_max_runtime_hours: int = 2,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the import role and the workflow.

        :param job: its artifacts bucket holds the merged weights; its group records them.
        :param models_prefix: where merged models are written (ends in ``/``).
            Default ``merged-models/``.
        :param key: encrypts the topic and log group. Default: a new key with rotation.
        :param topic: topic to notify. Default: a new encrypted topic.
        :param log_retention_days: of the workflow's log group. Default 365.
        :param merge_job_name_prefix: merge jobs are ``<prefix>-<uuid>``; the merge role
            serves only them. Default ``adapter-merge``.
        :param merge_instance_type: of the merge job. Default ``ml.m5.4xlarge``.
        :param merge_volume_size_gib: of the merge job's volume. Default 100.
        :param merge_max_runtime_hours: of the merge job. Default 2.
        :param removal_policy: for the created key and log group.
        """
        super().__init__(scope, id)
        record_construct_type(self, "BedrockModelImport")
        if not models_prefix.endswith("/") or models_prefix.startswith("/"):
            raise ValueError(
                f"models_prefix: {models_prefix!r} must be a key prefix ending in '/' "
                "(no leading '/')."
            )
        if not MERGE_JOB_NAME_PATTERN.fullmatch(merge_job_name_prefix):
            raise ValueError(
                f"merge_job_name_prefix: {merge_job_name_prefix!r} must be 1-26 letters, "
                "digits and hyphens, starting and ending with a letter or digit."
            )
        self.job = job
        self.models_prefix = models_prefix
        self.merge = AdapterMerge(
            self,
            job=job,
            models_prefix=models_prefix,
            job_name_prefix=merge_job_name_prefix,
            instance_type=merge_instance_type,
            volume_size_gib=merge_volume_size_gib,
            max_runtime_hours=merge_max_runtime_hours,
        )
        self.key, self.topic = notifications(
            self, key=key, topic=topic, name="Bedrock model import", removal_policy=removal_policy
        )
        self.import_role = iam.Role(
            self,
            "ImportRole",
            description="Assumed by Bedrock to read merged model weights for import.",
            assumed_by=service_principal_from(
                "bedrock.amazonaws.com", this_account_arn("bedrock", "model-import-job/*")
            ),
        )
        job.artifacts_bucket.grant_read(self.import_role, f"{models_prefix}*")
        add_list_statement(self.import_role, job.artifacts_bucket, models_prefix, "ListModels")
        self.state_machine = logged_state_machine(
            self,
            comment="Import merged weights into Bedrock; record the model in the registry.",
            definition=self._definition(),
            key=self.key,
            retention_days=log_retention_days,
            removal_policy=removal_policy,
            statements=[*self._statements(), *self.merge.workflow_statements()],
        )
        acknowledge_wildcards(
            self.import_role,
            "Bedrock reads every object of the merged model folder, named at run time "
            "(<models prefix>*).",
        )
        acknowledge_wildcards(
            self.merge.role,
            "The merge reads the adapter and base-model folders and writes the merged model "
            "folder, all named at run time (<prefix>*); ECR login and log streams need '*'.",
        )
        acknowledge_wildcards(
            self.state_machine.role,
            "Import jobs, imported models and package versions are named at run time "
            "(model-import-job/*, imported-model/*, model-package/<group>/*, merge jobs "
            "<prefix>-*, merge reports <models prefix>*/merge-report.json); Step Functions "
            "log delivery and X-Ray need '*'; SNS needs kms:GenerateDataKey* for its topic.",
        )

    def _statements(self) -> list[iam.PolicyStatement]:
        bedrock = f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        sagemaker = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        return [
            iam.PolicyStatement(
                sid="ImportModels",
                actions=["bedrock:CreateModelImportJob", "bedrock:GetModelImportJob"],
                resources=[f"{bedrock}:model-import-job/*", f"{bedrock}:imported-model/*"],
            ),
            iam.PolicyStatement(
                sid="PassImportRole",
                actions=["iam:PassRole"],
                resources=[self.import_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="RecordImportedModels",
                actions=["sagemaker:CreateModelPackage"],
                resources=[
                    f"{sagemaker}:model-package/{self.job.model_package_group_name}/*",
                    self.job.model_package_group_arn,
                ],
            ),
        ]

    def _definition(self) -> sfn.IChainable:
        bucket = self.job.artifacts_bucket.bucket_name
        model_uri = f"States.Format('s3://{bucket}/{self.models_prefix}{{}}/', $.modelName)"
        failed = notify_and_fail(
            self,
            "NotifyFailed",
            topic=self.topic,
            subject="Bedrock model import failed",
            message=caught_error_message(modelName=sfn.JsonPath.string_at("$.modelName")),
            fail_id="Failed",
            error="ModelImportFailed",
            cause="Starting, polling or recording the import failed; see the notification.",
        )
        start = sdk_task(
            self,
            "StartImport",
            action="bedrock:createModelImportJob",
            comment="Import the merged weights as a Bedrock custom model.",
            parameters={
                "jobName.$": "$.modelName",
                "importedModelName.$": "$.modelName",
                "roleArn": self.import_role.role_arn,
                "modelDataSource": {"s3DataSource": {"s3Uri.$": model_uri}},
            },
            result_path="$.importJob",
            on_failure=failed,
        )
        wait = sfn.Wait(
            self, "WaitForImport", time=sfn.WaitTime.duration(Duration.seconds(POLL_SECONDS))
        )
        get = sdk_task(
            self,
            "GetImport",
            action="bedrock:getModelImportJob",
            comment="The import job's status (and, once completed, the model's ARN).",
            parameters={"jobIdentifier.$": "$.importJob.jobArn"},
            result_path="$.importJob.state",
            on_failure=failed,
        )
        record = sdk_task(
            self,
            "RecordInRegistry",
            action="sagemaker:createModelPackage",
            comment="List the Bedrock model in the same registry group as the adapters.",
            parameters={
                "ModelPackageGroupName": self.job.model_package_group_name,
                "ModelPackageDescription.$": "States.Format('Bedrock imported model {}', "
                "$.modelName)",
                "ModelApprovalStatus": "PendingManualApproval",
                "CustomerMetadataProperties": {
                    "servingTarget": "bedrock",
                    "importedModelArn.$": "$.importJob.state.importedModelArn",
                    "importJobArn.$": "$.importJob.jobArn",
                    "mergedModel.$": model_uri,
                },
            },
            result_selector={"ModelPackageArn.$": "$.ModelPackageArn"},
            result_path="$.modelPackage",
            on_failure=failed,
        )
        message: dict[str, Any] = {
            "result": "IMPORTED",
            "modelName": sfn.JsonPath.string_at("$.modelName"),
            "importedModelArn": sfn.JsonPath.string_at("$.importJob.state.importedModelArn"),
            "modelPackageArn": sfn.JsonPath.string_at("$.modelPackage.ModelPackageArn"),
        }
        imported = notify_done(
            self,
            "NotifyImported",
            topic=self.topic,
            subject="Model imported into Bedrock",
            message=message,
            end_id="Imported",
        )
        import_failed = notify_and_fail(
            self,
            "NotifyImportFailed",
            topic=self.topic,
            subject="Bedrock model import job failed",
            message={
                "result": "IMPORT_FAILED",
                "modelName": sfn.JsonPath.string_at("$.modelName"),
                "importJobArn": sfn.JsonPath.string_at("$.importJob.jobArn"),
                "failureMessage": sfn.JsonPath.string_at("$.importJob.state.failureMessage"),
            },
            fail_id="ImportFailed",
            error="ImportFailed",
            cause="Bedrock could not import the model; see the notification.",
        )
        (
            start.next(wait)
            .next(get)
            .next(
                sfn.Choice(self, "ImportDone?")
                .when(
                    sfn.Condition.string_equals("$.importJob.state.status", "Completed"),
                    record.next(imported),
                )
                .when(
                    sfn.Condition.string_equals("$.importJob.state.status", "Failed"), import_failed
                )
                .otherwise(wait)
            )
        )
        return (
            sfn.Choice(self, "MergeFirst?")
            .when(
                sfn.Condition.is_present("$.modelPackageArn"),
                self._merge_steps(failed, start),
            )
            .otherwise(start)
        )

    def _merge_steps(self, failed: sfn.IChainable, start: sfn.IChainable) -> sfn.IChainable:
        describe = sdk_task(
            self,
            "DescribeAdapter",
            action="sagemaker:describeModelPackage",
            comment="The registered adapter's artifact (adapterArtifact metadata).",
            parameters={"ModelPackageName.$": "$.modelPackageArn"},
            result_selector={
                "artifact.$": "$.CustomerMetadataProperties.adapterArtifact",
            },
            result_path="$.adapter",
            on_failure=failed,
        )
        merge_failed = notify_and_fail(
            self,
            "NotifyMergeFailed",
            topic=self.topic,
            subject="Adapter merge failed",
            message=caught_error_message(
                "MERGE_FAILED",
                modelName=sfn.JsonPath.string_at("$.modelName"),
                modelPackageArn=sfn.JsonPath.string_at("$.modelPackageArn"),
            ),
            fail_id="MergeFailed",
            error="MergeFailed",
            cause="The merge job failed; nothing was imported. See the notification.",
        )
        merge = sfn.CustomState(
            self,
            "MergeAdapter",
            state_json={
                "Type": "Task",
                "Comment": "Fold the adapter into its base model (merge_adapter.py).",
                "Resource": f"arn:{Aws.PARTITION}:states:::{MERGE_SYNC}",
                "Parameters": self.merge.parameters(),
                "ResultSelector": {"ProcessingJobArn.$": "$.ProcessingJobArn"},
                "ResultPath": "$.mergeJob",
            },
        )
        merge.add_catch(merge_failed, errors=["States.ALL"], result_path="$.error")
        read = sdk_task(
            self,
            "ReadMergeReport",
            action="s3:getObject",
            comment="The merge report: the architecture and whether Bedrock imports it.",
            parameters={
                "Bucket": self.job.artifacts_bucket.bucket_name,
                "Key.$": self.merge.report_key(),
            },
            result_selector={"report.$": "States.StringToJson($.Body)"},
            result_path="$.merge",
            on_failure=failed,
        )
        not_importable = notify_and_fail(
            self,
            "NotifyNotImportable",
            topic=self.topic,
            subject="Merged model not importable into Bedrock",
            message={
                "result": "NOT_IMPORTABLE",
                "modelName": sfn.JsonPath.string_at("$.modelName"),
                "architectures": sfn.JsonPath.json_to_string(
                    sfn.JsonPath.object_at("$.merge.report.architectures")
                ),
            },
            fail_id="NotImportable",
            error="NotImportable",
            cause="Custom Model Import does not take this architecture; see the notification.",
        )
        return (
            describe.next(merge)
            .next(read)
            .next(
                sfn.Choice(self, "Importable?")
                .when(
                    sfn.Condition.boolean_equals("$.merge.report.bedrockImportSupported", True),
                    start,
                )
                .otherwise(not_importable)
            )
        )
