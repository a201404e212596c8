"""ModelPromotionTarget: in an account that uses the approved models, record each promoted
package of the source account in this account's own Model Registry.

The source account's :class:`ModelPromotion` forwards a ``Model Package Promoted`` event to
this account's default event bus (whose policy admits that account and event source only); a
rule starts a workflow that reads the shared package (cross-account DescribeModelPackage,
allowed by the group policy) and registers a version in this account's group that references
it: the source's metadata (evidence, artifact location) plus ``sourceModelPackageArn``, and
its inference specification when it has one. Deployment is left to the team.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.promotion import (
    PROMOTION_DETAIL_TYPE,
    PROMOTION_EVENT_SOURCE,
    ModelPromotionTargetOptions,
)
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._names import stack_unique_name
from cdk_llm_training.constructs._workflow import caught_error_message, notify_and_fail
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.promotion.workflow import (
    events_role,
    logged_state_machine,
    notifications,
    notify_done,
    sdk_task,
)


class ModelPromotionTarget(Construct):
    """Register the packages a source account promotes into this account's Model Registry.

    Workflow states: ``DescribeSourcePackage`` -> ``StillApproved?`` (no: ``NotifySkipped``
    -> ``Skipped``) -> ``SourceRef`` -> ``HasInferenceSpecification?`` ->
    ``RegisterPromotedPackage`` or ``RegisterPromotedReference`` (CreateModelPackage in
    ``PromotedGroup``; ``ClientToken`` is the MD5 of the source ARN, so a repeated event or a
    re-approval registers nothing new) -> ``NotifyRegistered`` -> ``Registered``. An error
    -> ``NotifyFailed`` -> ``RegistrationFailed``.

    Defaults: versions registered ``PendingManualApproval`` (this account approves its own
    deployments); a new rotating key, an encrypted TLS-only topic, group, key and log group
    retained on delete.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: ModelPromotionTargetOptions,
        key: kms.IKey | None = None,
        topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the bus policy, the group, the rule and the workflow.

        :param options: the source account and group, this account's group and status.
        :param key: encrypts the topic and log group. Default: a new key with rotation.
        :param topic: topic to notify. Default: a new encrypted topic.
        :param removal_policy: for the group, key and log group. Default:
            RETAIN_ON_UPDATE_OR_DELETE.
        """
        super().__init__(scope, id)
        record_construct_type(self, "ModelPromotionTarget")
        self.options = opts = options
        self.key, self.topic = notifications(
            self, key=key, topic=topic, name="Model promotion target", removal_policy=removal_policy
        )
        self.bus_policy = events.CfnEventBusPolicy(
            self,
            "SourceAccountPolicy",
            statement_id=f"PromotionFrom{opts.source_account}",
            event_bus_name="default",
            statement={
                "Sid": f"PromotionFrom{opts.source_account}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{Aws.PARTITION}:iam::{opts.source_account}:root"},
                "Action": "events:PutEvents",
                "Resource": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
                "event-bus/default",
                "Condition": {"StringEquals": {"events:source": PROMOTION_EVENT_SOURCE}},
            },
        )
        self.model_package_group_name = opts.model_package_group_name or stack_unique_name(
            self, max_length=63
        )
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "PromotedGroup",
            model_package_group_name=self.model_package_group_name,
            model_package_group_description=(
                f"Packages promoted from account {opts.source_account}."
            ),
        )
        self.model_package_group.apply_removal_policy(removal_policy)
        self.state_machine = logged_state_machine(
            self,
            comment="Register a package promoted by the source account in this registry.",
            definition=self._definition(),
            key=self.key,
            retention_days=opts.log_retention_days,
            removal_policy=removal_policy,
            statements=self._statements(),
        )
        group_filter = (
            {"modelPackageGroupName": [opts.source_model_package_group_name]}
            if opts.source_model_package_group_name is not None
            else None
        )
        self.rule = events.Rule(
            self,
            "PromotedRule",
            description="Promotion events forwarded by the source account.",
            event_pattern=events.EventPattern(
                source=[PROMOTION_EVENT_SOURCE],
                detail_type=[PROMOTION_DETAIL_TYPE],
                account=[opts.source_account],
                detail=group_filter,
            ),
            targets=[
                targets.SfnStateMachine(
                    self.state_machine,
                    role=events_role(
                        self, "PromotedRuleRole", description="Starts the registration workflow."
                    ),
                )
            ],
        )
        acknowledge_wildcards(
            self.state_machine.role,
            "Package versions are numbered at run time (model-package/<group>/*, in the "
            "source group and in this account's group); Step Functions log delivery and "
            "X-Ray need '*'; kms:GenerateDataKey* is what SNS needs for an encrypted topic.",
        )

    @property
    def model_package_group_arn(self) -> str:
        return self.model_package_group.attr_model_package_group_arn

    @property
    def source_packages_arn(self) -> str:
        """The ARN pattern of the source packages this account may read (one group's
        versions, or every package of the source account)."""
        opts = self.options
        group = opts.source_model_package_group_name
        versions = f"{group.lower()}/*" if group is not None else "*"
        return (
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{opts.source_account}:model-package/"
            f"{versions}"
        )

    def _statements(self) -> list[iam.PolicyStatement]:
        own = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package"
        return [
            iam.PolicyStatement(
                sid="DescribeSourcePackages",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[self.source_packages_arn],
            ),
            iam.PolicyStatement(
                sid="RegisterPromotedPackages",
                actions=["sagemaker:CreateModelPackage"],
                resources=[
                    f"{own}/{self.model_package_group_name}/*",
                    self.model_package_group_arn,
                ],
            ),
        ]

    def _definition(self) -> sfn.IChainable:
        opts = self.options
        failed = notify_and_fail(
            self,
            "NotifyFailed",
            topic=self.topic,
            subject="Promoted model registration failed",
            message=caught_error_message(
                sourceModelPackageArn=sfn.JsonPath.string_at("$.detail.modelPackageArn")
            ),
            fail_id="RegistrationFailed",
            error="RegistrationFailed",
            cause="Reading the shared package or registering it failed; see the notification.",
        )
        describe = sdk_task(
            self,
            "DescribeSourcePackage",
            action="sagemaker:describeModelPackage",
            comment="Read the shared package in the source account.",
            parameters={"ModelPackageName.$": "$.detail.modelPackageArn"},
            result_selector={
                "status.$": "$.ModelApprovalStatus",
                "metadata.$": "$.CustomerMetadataProperties",
                "package.$": "$",
            },
            result_path="$.source",
            on_failure=failed,
        )
        reference = sfn.Pass(
            self,
            "SourceRef",
            parameters={
                "sourceModelPackageArn.$": "$.detail.modelPackageArn",
                "sourceAccount.$": "$.account",
            },
            result_path="$.reference",
        )
        common: dict[str, Any] = {
            "ModelPackageGroupName": self.model_package_group_name,
            "ModelPackageDescription.$": "States.Format('Promoted from {}', "
            "$.detail.modelPackageArn)",
            "ModelApprovalStatus": opts.approval_status,
            "CustomerMetadataProperties.$": "States.JsonMerge($.source.metadata, $.reference, "
            "false)",
            "ClientToken.$": "States.Hash($.detail.modelPackageArn, 'MD5')",
        }
        registered = notify_done(
            self,
            "NotifyRegistered",
            topic=self.topic,
            subject="Promoted model package registered",
            message={
                "result": "REGISTERED",
                "sourceModelPackageArn": sfn.JsonPath.string_at("$.detail.modelPackageArn"),
                "modelPackageArn": sfn.JsonPath.string_at("$.registered.ModelPackageArn"),
                "approvalStatus": opts.approval_status,
            },
            end_id="Registered",
        )
        register_states = [
            sdk_task(
                self,
                id,
                action="sagemaker:createModelPackage",
                comment=comment,
                parameters=parameters,
                result_selector={"ModelPackageArn.$": "$.ModelPackageArn"},
                result_path="$.registered",
                on_failure=failed,
            ).next(registered)
            for id, comment, parameters in (
                (
                    "RegisterPromotedPackage",
                    "A version that serves the source's artifact with its inference spec.",
                    {
                        **common,
                        "InferenceSpecification.$": "$.source.package.InferenceSpecification",
                    },
                ),
                (
                    "RegisterPromotedReference",
                    "A version that records the source package (no inference spec).",
                    common,
                ),
            )
        ]
        skipped = notify_done(
            self,
            "NotifySkipped",
            topic=self.topic,
            subject="Promoted model package no longer approved",
            message={
                "result": "SKIPPED",
                "sourceModelPackageArn": sfn.JsonPath.string_at("$.detail.modelPackageArn"),
                "status": sfn.JsonPath.string_at("$.source.status"),
            },
            end_id="Skipped",
        )
        return describe.next(
            sfn.Choice(self, "StillApproved?")
            .when(
                sfn.Condition.string_equals("$.source.status", "Approved"),
                reference.next(
                    sfn.Choice(self, "HasInferenceSpecification?")
                    .when(
                        sfn.Condition.is_present("$.source.package.InferenceSpecification"),
                        register_states[0],
                    )
                    .otherwise(register_states[1])
                ),
            )
            .otherwise(skipped)
        )
