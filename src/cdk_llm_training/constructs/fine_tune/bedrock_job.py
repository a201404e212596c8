"""The Bedrock model customization job of :class:`BedrockFineTuneJob`: its request, the
service role Bedrock assumes to run it, and what the workflow role needs to start it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Aws, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.bedrock_fine_tune_job import BedrockFineTuneOptions
from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs._workflow import add_list_statement
from cdk_llm_training.constructs.fine_tune.workflow import (
    JOB_NETWORK_DESCRIBE_ACTIONS,
    JobService,
    Retry,
)

SYNC_INTEGRATION = "bedrock:createModelCustomizationJob.sync"
MANAGED_RULE_NAMES = (
    "StepFunctionsGetEventsForBedrockCustomizationJobsRule",
    "StepFunctionsGetEventsForBedrockModelCustomizationJobsRule",
)
"""The EventBridge rule Step Functions manages for the ``.sync`` integration. The AWS
documentation available offline does not spell the name out; both spellings used by the
Step Functions naming scheme are allowed (exact names, no wildcard)."""
JOB_RETRY_ERRORS = (
    "Bedrock.ThrottlingException",
    "Bedrock.InternalServerException",
    "Bedrock.ServiceUnavailableException",
)
JOB_RETRY = Retry(errors=JOB_RETRY_ERRORS, interval_seconds=30)
BEDROCK_SERVICE = JobService(
    principal="bedrock.amazonaws.com",
    pass_role_sid="PassBedrockServiceRole",
    managed_rule_names=MANAGED_RULE_NAMES,
)

CUSTOM_MODEL_KEY_ACTIONS = (
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:GenerateDataKey",
    "kms:Decrypt",
)
"""What the workflow role needs on ``custom_model_key`` to create a job encrypting with it."""

VpcConfig = tasks.IBedrockCreateModelCustomizationJobVpcConfig


@jsii.implements(tasks.IBedrockCreateModelCustomizationJobVpcConfig)
class BedrockJobVpcConfig:
    """Subnets (1-16) and security groups (1-5) the customization job runs in."""

    def __init__(
        self,
        *,
        subnets: Sequence[ec2.ISubnet],
        security_groups: Sequence[ec2.ISecurityGroup],
    ) -> None:
        self._subnets = list(subnets)
        self._security_groups = list(security_groups)

    @property
    def subnets(self) -> list[ec2.ISubnet]:
        return self._subnets

    @property
    def security_groups(self) -> list[ec2.ISecurityGroup]:
        return self._security_groups


def check_vpc_config(vpc_config: VpcConfig | None) -> None:
    """1 to 16 subnets and 1 to 5 security groups, as CreateModelCustomizationJob allows."""
    if vpc_config is None:
        return
    subnets, groups = len(vpc_config.subnets), len(vpc_config.security_groups)
    if not 1 <= subnets <= 16:
        raise ValueError(f"vpc_config.subnets has {subnets} subnets; allowed: 1 to 16.")
    if not 1 <= groups <= 5:
        raise ValueError(
            f"vpc_config.security_groups has {groups} security groups; allowed: 1 to 5."
        )


def customization_job_arns() -> str:
    """Every model customization job of this account and Region."""
    return this_account_arn("bedrock", "model-customization-job/*")


def model_arn(model_id: str) -> str:
    """The foundation model ``model_id`` of the stack's Region, or ``model_id`` if an ARN."""
    if model_id.startswith("arn:"):
        return model_id
    return f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model_id}"


def create_bedrock_role(
    scope: Construct,
    *,
    options: BedrockFineTuneOptions,
    dataset_bucket: s3.IBucket,
    output_bucket: s3.IBucket,
    data_key: kms.IKey | None,
    vpc_config: VpcConfig | None,
    custom_model_key: kms.IKey | None,
) -> iam.Role:
    """``BedrockRole``: assumed by Bedrock for this account's customization jobs only; reads
    the dataset prefix, writes the output prefix, uses the data key and the custom-model key,
    invokes the distillation teacher, and manages the job's network interfaces in the VPC."""
    role = iam.Role(
        scope,
        "BedrockRole",
        description="Assumed by Amazon Bedrock to run this workflow's customization jobs.",
        assumed_by=service_principal_from("bedrock.amazonaws.com", customization_job_arns()),
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadDatasets",
            actions=["s3:GetObject"],
            resources=[dataset_bucket.arn_for_objects(f"{options.dataset_prefix}*")],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteOutput",
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[output_bucket.arn_for_objects(f"{options.output_prefix}*")],
        )
    )
    add_list_statement(role, dataset_bucket, options.dataset_prefix, "ListDatasets")
    add_list_statement(role, output_bucket, options.output_prefix, "ListOutput")
    if data_key is not None:
        data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
    if custom_model_key is not None:
        custom_model_key.grant(
            role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"
        )
    if options.distillation is not None:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeTeacherModel",
                actions=["bedrock:InvokeModel"],
                resources=[model_arn(options.distillation.teacher_model_id)],
            )
        )
    if vpc_config is not None:
        for statement in _vpc_statements(Stack.of(scope), vpc_config):
            role.add_to_policy(statement)
    return role


def _vpc_statements(stack: Stack, vpc_config: VpcConfig) -> list[iam.PolicyStatement]:
    subnet_arns = [
        stack.format_arn(service="ec2", resource="subnet", resource_name=s.subnet_id)
        for s in vpc_config.subnets
    ]
    group_arns = [
        stack.format_arn(
            service="ec2", resource="security-group", resource_name=g.security_group_id
        )
        for g in vpc_config.security_groups
    ]
    eni_arns = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
    return [
        iam.PolicyStatement(
            sid="DescribeNetwork",
            actions=list(JOB_NETWORK_DESCRIBE_ACTIONS),
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="CreateJobNetworkInterfaces",
            actions=["ec2:CreateNetworkInterface"],
            resources=[eni_arns],
            conditions={
                "StringEquals": {"aws:RequestTag/BedrockManaged": "true"},
                "ArnLike": {
                    "aws:RequestTag/BedrockModelCustomizationJobArn": customization_job_arns()
                },
            },
        ),
        iam.PolicyStatement(
            sid="UseJobSubnetsAndSecurityGroups",
            actions=["ec2:CreateNetworkInterface"],
            resources=[*subnet_arns, *group_arns],
        ),
        iam.PolicyStatement(
            sid="ManageJobNetworkInterfaces",
            actions=[
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources=["*"],
            conditions={
                "ArnEquals": {"ec2:Subnet": subnet_arns},
                "StringEquals": {"ec2:ResourceTag/BedrockManaged": "true"},
            },
        ),
        iam.PolicyStatement(
            sid="TagJobNetworkInterfaces",
            actions=["ec2:CreateTags"],
            resources=[eni_arns],
            conditions={
                "StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["BedrockManaged", "BedrockModelCustomizationJobArn"]
                },
            },
        ),
    ]


def job_parameters(
    options: BedrockFineTuneOptions,
    *,
    hyperparameters: dict[str, str],
    role: iam.IRole,
    with_validation: bool,
    vpc_config: VpcConfig | None,
    custom_model_key: kms.IKey | None,
    customization_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The CreateModelCustomizationJob request (JSONPath: names and S3 URIs from
    ``$.validation``, what the validator wrote)."""
    parameters: dict[str, Any] = {
        "BaseModelIdentifier": options.base_model_id,
        "CustomizationType": options.customization_type.value,
        "RoleArn": role.role_arn,
        "JobName.$": "$.validation.jobName",
        "CustomModelName.$": "$.validation.customModelName",
        "TrainingDataConfig": {"S3Uri.$": "$.validation.trainingDataS3Uri"},
        "OutputDataConfig": {"S3Uri.$": "$.validation.outputDataS3Uri"},
    }
    if with_validation:
        parameters["ValidationDataConfig"] = {"Validators.$": "$.validation.validators"}
    if hyperparameters:
        parameters["HyperParameters"] = dict(hyperparameters)
    if custom_model_key is not None:
        parameters["CustomModelKmsKeyId"] = custom_model_key.key_arn
    if vpc_config is not None:
        parameters["VpcConfig"] = {
            "SubnetIds": [s.subnet_id for s in vpc_config.subnets],
            "SecurityGroupIds": [g.security_group_id for g in vpc_config.security_groups],
        }
    if options.distillation is not None:
        teacher: dict[str, Any] = {"TeacherModelIdentifier": options.distillation.teacher_model_id}
        if options.distillation.max_response_length_for_inference is not None:
            teacher["MaxResponseLengthForInference"] = (
                options.distillation.max_response_length_for_inference
            )
        parameters["CustomizationConfig"] = {"DistillationConfig": {"TeacherModelConfig": teacher}}
    if customization_config is not None:
        parameters["CustomizationConfig"] = customization_config
    return parameters


def workflow_statements(options: BedrockFineTuneOptions) -> list[iam.PolicyStatement]:
    """What the workflow role needs beyond the skeleton's grants: create, track and stop
    this workflow's customization jobs."""
    return [
        iam.PolicyStatement(
            sid="CreateCustomizationJobs",
            # TagResource: what CDK's BedrockCreateModelCustomizationJob grants beside
            # Create (job and custom-model tags are applied with the create call).
            actions=["bedrock:CreateModelCustomizationJob", "bedrock:TagResource"],
            resources=[
                model_arn(options.base_model_id),
                this_account_arn("bedrock", "custom-model/*"),
                customization_job_arns(),
            ],
        ),
        iam.PolicyStatement(
            sid="TrackCustomizationJobs",
            actions=["bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"],
            resources=[customization_job_arns()],
        ),
    ]
