"""ModelPromotion: in the account that trains, approval of a SageMaker model package opens it
to the target accounts.

An EventBridge rule on ``SageMaker Model Package State Change`` (``ModelApprovalStatus``
Approved or Rejected) of the adapter group starts a Step Functions workflow. The group is
shared with the target accounts (PutModelPackageGroupPolicy), the approved artifact is
tagged so that the bucket policy lets the target accounts read it, a ``Model Package
Promoted`` event is forwarded to each target account's default event bus (where
:class:`ModelPromotionTarget` registers it), and the topic is notified.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aws_cdk import Annotations, Aws, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.promotion import (
    PROMOTED_TAG_KEY,
    PROMOTION_DETAIL_TYPE,
    PROMOTION_EVENT_SOURCE,
    ModelPromotionOptions,
)
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._workflow import caught_error_message, notify_and_fail
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.promotion.grants import (
    artifact_read_statement,
    group_policy_string,
    key_decrypt_statement,
)
from cdk_llm_training.constructs.promotion.workflow import (
    events_role,
    logged_state_machine,
    notifications,
    notify_done,
    sdk_task,
)

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.sagemaker import SageMakerFineTuneJob

STATE_CHANGE_DETAIL_TYPE = "SageMaker Model Package State Change"
"""The event SageMaker sends on a model package change (SageMaker developer guide, "Events
that Amazon SageMaker AI sends to Amazon EventBridge": model package state change)."""
ARTIFACT_NAME = "output/model.tar.gz"
"""Where SageMaker writes the model under ``<S3OutputPath><training job>/``."""
UNSHARED_BUCKET_WARNING = "cdk-llm-training/model-promotion:bucketPolicyNotAdded"
UNSHARED_KEY_WARNING = "cdk-llm-training/model-promotion:keyPolicyNotAdded"


class ModelPromotion(Construct):
    """Share approved model packages of a :class:`SageMakerFineTuneJob` with other accounts.

    Workflow states: ``DescribePackage`` (its current approval status and the training job
    and artifact recorded in its metadata) -> ``Decision?``: Approved -> ``ShareGroup``
    (PutModelPackageGroupPolicy: the target accounts may describe and list the group's
    packages) -> ``OpenArtifact`` (tags the artifact ``cdk-llm-training-promoted=true``) ->
    ``PublishPromoted`` (the ``Model Package Promoted`` event, forwarded to the targets) ->
    ``NotifyPromoted`` -> ``Promoted``; Rejected -> ``WithdrawArtifact`` (removes the tag:
    no new reads; copies and models already made in a target account stay) ->
    ``NotifyRejected`` -> ``Rejected``; any other status (changed again since the event) ->
    ``Superseded``. An error -> ``NotifyFailed`` -> ``PromotionFailed``. Re-approval runs the
    same idempotent steps again.

    Deploy-time grants: the artifacts bucket policy lets the target accounts' principals
    ``s3:GetObject`` under the job's output prefix only on objects with the promotion tag;
    the job's data key (when the lake has one) lets them ``kms:Decrypt`` through S3 only.
    Defaults: a new rotating key and an encrypted TLS-only topic; log group and key retained.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        job: SageMakerFineTuneJob,
        options: ModelPromotionOptions,
        key: kms.IKey | None = None,
        topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the rules, the workflow and the grants.

        :param job: the workflow whose model package group is promoted.
        :param options: target accounts and log retention.
        :param key: encrypts the topic and log group. Default: a new key with rotation.
        :param topic: topic to notify. Default: a new encrypted topic.
        :param removal_policy: for the created key and log group. Default:
            RETAIN_ON_UPDATE_OR_DELETE.
        """
        super().__init__(scope, id)
        record_construct_type(self, "ModelPromotion")
        self.options = options
        self.job = job
        self.target_accounts = list(options.target_accounts)
        self.output_prefix = job.options.output_prefix
        self.key, self.topic = notifications(
            self, key=key, topic=topic, name="Model promotion", removal_policy=removal_policy
        )
        self._grant_artifacts()
        self.state_machine = logged_state_machine(
            self,
            comment="Share an approved model package with the target accounts; withdraw a "
            "rejected one's artifact.",
            definition=self._definition(),
            key=self.key,
            retention_days=options.log_retention_days,
            removal_policy=removal_policy,
            statements=self._statements(),
        )
        self.approval_rule = events.Rule(
            self,
            "ApprovalRule",
            description="Approval or rejection of a package in the adapter group.",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[STATE_CHANGE_DETAIL_TYPE],
                detail={
                    "ModelPackageGroupName": [job.model_package_group_name],
                    "ModelApprovalStatus": ["Approved", "Rejected"],
                },
            ),
            targets=[
                targets.SfnStateMachine(
                    self.state_machine,
                    role=events_role(
                        self, "ApprovalRuleRole", description="Starts the promotion workflow."
                    ),
                )
            ],
        )
        forward_role = events_role(
            self, "ForwardRuleRole", description="Forwards promotion events to target accounts."
        )
        self.forward_rule = events.Rule(
            self,
            "ForwardRule",
            description="Forwards promotion events to the target accounts' default buses.",
            event_pattern=events.EventPattern(
                source=[PROMOTION_EVENT_SOURCE],
                detail_type=[PROMOTION_DETAIL_TYPE],
                detail={"modelPackageGroupName": [job.model_package_group_name]},
            ),
            targets=[
                targets.EventBus(
                    events.EventBus.from_event_bus_arn(
                        self,
                        f"Bus{account}",
                        f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{account}:event-bus/default",
                    ),
                    role=forward_role,
                )
                for account in self.target_accounts
            ],
        )
        acknowledge_wildcards(
            self.state_machine.role,
            "Model package versions and artifacts are named at run time "
            "(model-package/<group>/*, <output prefix>*); Step Functions log delivery and "
            "X-Ray need '*'; kms:GenerateDataKey* is what SNS needs for an encrypted topic.",
        )

    # -- grants --------------------------------------------------------------------------

    def _grant_artifacts(self) -> None:
        sid = "Promotion" + re.sub(r"[^A-Za-z0-9]", "", self.node.id)
        bucket = self.job.artifacts_bucket
        added = bucket.add_to_resource_policy(
            artifact_read_statement(
                bucket, self.output_prefix, self.target_accounts, f"{sid}ReadApprovedArtifacts"
            )
        )
        if not added.statement_added:
            Annotations.of(self).add_warning_v2(
                UNSHARED_BUCKET_WARNING,
                "The artifacts bucket is imported: add the promotion read statement "
                "(ModelPromotion.artifact_statement) to its bucket policy yourself.",
            )
        self.artifact_statement = artifact_read_statement(
            bucket, self.output_prefix, self.target_accounts, f"{sid}ReadApprovedArtifacts"
        )
        self.key_statement: iam.PolicyStatement | None = None
        data_key = self.job.data_key
        if data_key is not None:
            self.key_statement = key_decrypt_statement(
                self.target_accounts, f"{sid}DecryptApprovedArtifacts"
            )
            if not data_key.add_to_resource_policy(self.key_statement).statement_added:
                Annotations.of(self).add_warning_v2(
                    UNSHARED_KEY_WARNING,
                    "The data key is imported: add the promotion decrypt statement "
                    "(ModelPromotion.key_statement) to its key policy yourself.",
                )

    def _statements(self) -> list[iam.PolicyStatement]:
        job = self.job
        sagemaker_arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        group = job.model_package_group_name
        return [
            iam.PolicyStatement(
                sid="DescribePackages",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[f"{sagemaker_arn}:model-package/{group}/*"],
            ),
            iam.PolicyStatement(
                sid="ShareGroup",
                actions=["sagemaker:PutModelPackageGroupPolicy"],
                resources=[job.model_package_group_arn],
            ),
            iam.PolicyStatement(
                sid="TagArtifacts",
                actions=["s3:PutObjectTagging", "s3:DeleteObjectTagging"],
                resources=[job.artifacts_bucket.arn_for_objects(f"{self.output_prefix}*")],
            ),
        ]

    # -- states --------------------------------------------------------------------------

    def _definition(self) -> sfn.IChainable:
        job = self.job
        failed = notify_and_fail(
            self,
            "NotifyFailed",
            topic=self.topic,
            subject="Model promotion failed",
            message=caught_error_message(
                modelPackageArn=sfn.JsonPath.string_at("$.detail.ModelPackageArn")
            ),
            fail_id="PromotionFailed",
            error="PromotionFailed",
            cause="Sharing or withdrawing the model package failed; see the notification.",
        )
        # Raw ASL (custom states): the key is a States.Format of the training job name.
        artifact_key = (
            f"States.Format('{self.output_prefix}{{}}/{ARTIFACT_NAME}', $.package.trainingJobName)"
        )
        package_fields: dict[str, Any] = {
            "modelPackageArn": sfn.JsonPath.string_at("$.package.arn"),
            "modelPackageGroupName": job.model_package_group_name,
            "artifact": sfn.JsonPath.string_at("$.package.artifact"),
        }
        describe = sdk_task(
            self,
            "DescribePackage",
            action="sagemaker:describeModelPackage",
            comment="The package's current status (the event may be older than it).",
            parameters={"ModelPackageName.$": "$.detail.ModelPackageArn"},
            result_selector={
                "arn.$": "$.ModelPackageArn",
                "status.$": "$.ModelApprovalStatus",
                "trainingJobName.$": "$.CustomerMetadataProperties.trainingJobName",
                "artifact.$": "$.CustomerMetadataProperties.adapterArtifact",
            },
            result_path="$.package",
            on_failure=failed,
        )
        share = sdk_task(
            self,
            "ShareGroup",
            action="sagemaker:putModelPackageGroupPolicy",
            comment="Let the target accounts describe and list the group's packages.",
            parameters={
                "ModelPackageGroupName": job.model_package_group_name,
                "ResourcePolicy": group_policy_string(
                    self,
                    group_arn=job.model_package_group_arn,
                    group_name=job.model_package_group_name,
                    accounts=self.target_accounts,
                ),
            },
            on_failure=failed,
        )
        open_artifact = sdk_task(
            self,
            "OpenArtifact",
            action="s3:putObjectTagging",
            comment="The tag the bucket policy's target-account read requires.",
            parameters={
                "Bucket": job.artifacts_bucket.bucket_name,
                "Key.$": artifact_key,
                "Tagging": {"TagSet": [{"Key": PROMOTED_TAG_KEY, "Value": "true"}]},
            },
            on_failure=failed,
        )
        publish = tasks.EventBridgePutEvents(
            self,
            "PublishPromoted",
            entries=[
                tasks.EventBridgePutEventsEntry(
                    source=PROMOTION_EVENT_SOURCE,
                    detail_type=PROMOTION_DETAIL_TYPE,
                    detail=sfn.TaskInput.from_object(
                        {**package_fields, "sourceAccount": Aws.ACCOUNT_ID}
                    ),
                )
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        publish.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        promoted = notify_done(
            self,
            "NotifyPromoted",
            topic=self.topic,
            subject="Model package promoted",
            message={
                "result": "PROMOTED",
                **package_fields,
                "targetAccounts": self.target_accounts,
            },
            end_id="Promoted",
        )
        withdraw = sdk_task(
            self,
            "WithdrawArtifact",
            action="s3:deleteObjectTagging",
            comment="Rejected: no new reads of the artifact by the target accounts.",
            parameters={"Bucket": job.artifacts_bucket.bucket_name, "Key.$": artifact_key},
            on_failure=failed,
        )
        rejected = notify_done(
            self,
            "NotifyRejected",
            topic=self.topic,
            subject="Model package rejected",
            message={"result": "REJECTED", **package_fields},
            end_id="Rejected",
        )
        return describe.next(
            sfn.Choice(self, "Decision?")
            .when(
                sfn.Condition.string_equals("$.package.status", "Approved"),
                share.next(open_artifact).next(publish).next(promoted),
            )
            .when(
                sfn.Condition.string_equals("$.package.status", "Rejected"),
                withdraw.next(rejected),
            )
            .otherwise(sfn.Succeed(self, "Superseded", comment="Status changed since."))
        )
