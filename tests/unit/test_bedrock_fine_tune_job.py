"""BedrockFineTuneJob: the workflow definition, every IAM statement, options and failures."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    BedrockFineTuneJob,
    BedrockFineTuneOptions,
    BedrockJobVpcConfig,
    CustomizationType,
    DataLakeOptions,
    DistillationOptions,
    TrainingDataLake,
)
from cdk_llm_training.constructs.bedrock_fine_tune_job import (
    READY_MARKER_NEEDS_EVENTS_WARNING,
    UNKNOWN_TEACHER_WARNING,
)

SYNC = ":states:::bedrock:createModelCustomizationJob.sync"
EXAMPLE_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOKEN = "<TOKEN>"


def _build(**kwargs: Any) -> tuple[cdk.Stack, BedrockFineTuneJob]:
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake", options=kwargs.pop("lake_options", None))
    job = BedrockFineTuneJob(stack, "FineTune", data_lake=lake, **kwargs)
    return stack, job


@pytest.fixture(scope="module")
def default_build() -> tuple[Template, BedrockFineTuneJob]:
    stack, job = _build()
    return template_of(stack), job


@pytest.fixture(scope="module")
def default_template(default_build: tuple[Template, BedrockFineTuneJob]) -> Template:
    return default_build[0]


@pytest.fixture(scope="module")
def full_build() -> tuple[Template, BedrockFineTuneJob, cdk.Stack]:
    """Every option at once: distillation, hyperparameters, VPC, custom-model key, marker."""
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a"],
        private_subnet_ids=["subnet-0123456789abcdef0"],
    )
    group = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    model_key = kms.Key.from_key_arn(stack, "ModelKey", EXAMPLE_KEY)
    options = BedrockFineTuneOptions(
        base_model_id="meta.llama3-1-8b-instruct-v1:0:128k",
        customization_type=CustomizationType.DISTILLATION,
        distillation=DistillationOptions(
            teacher_model_id="meta.llama3-1-70b-instruct-v1:0",
            max_response_length_for_inference=1000,
        ),
        hyperparameters={"epochCount": 2, "learningRate": "0.0002"},
        job_name_prefix="distill",
        start_on_ready_marker=True,
        log_retention_days=30,
        job_timeout_hours=24,
    )
    job = BedrockFineTuneJob(
        stack,
        "FineTune",
        data_lake=lake,
        options=options,
        vpc_config=BedrockJobVpcConfig(subnets=vpc.private_subnets, security_groups=[group]),
        custom_model_key=model_key,
    )
    return template_of(stack), job, stack


@pytest.fixture(scope="module")
def full_template(full_build: tuple[Template, BedrockFineTuneJob, cdk.Stack]) -> Template:
    return full_build[0]


def _render(value: Any) -> str:
    """A CloudFormation string value with every token replaced by a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    return TOKEN


def definition(template: Template) -> dict[str, Any]:
    (machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    rendered: dict[str, Any] = json.loads(_render(machine["Properties"]["DefinitionString"]))
    return rendered


def _reachable(states: dict[str, Any], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        todo.extend(n for n in [state.get("Next"), state.get("Default")] if n)
        todo.extend(c["Next"] for c in state.get("Choices", []))
        todo.extend(c["Next"] for c in state.get("Catch", []))
    return seen


def _statements(template: Template, policy_prefix: str) -> list[dict[str, Any]]:
    policies = resources_of_type(template, "AWS::IAM::Policy")
    (policy,) = [p for lid, p in policies.items() if lid.startswith(policy_prefix)]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements if "Sid" in s}


def _logical_id(template: Template, type_name: str, prefix: str) -> str:
    (logical_id,) = [
        lid for lid in resources_of_type(template, type_name) if lid.startswith(prefix)
    ]
    return logical_id


def _arn(resource: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":bedrock:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":{resource}",
            ],
        ]
    }


def _objects(bucket_id: str, prefix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}*"]]}


# -- the workflow --------------------------------------------------------------------------


def test_default_creates_one_standard_state_machine_with_logging_and_tracing(
    default_template: Template,
) -> None:
    default_template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    log_group = _logical_id(default_template, "AWS::Logs::LogGroup", "FineTuneWorkflowLogs")
    default_template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": [
                    {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group, "Arn"]}}}
                ],
            },
        },
    )


def test_definition_order_validate_choice_job_notify(default_template: Template) -> None:
    states = definition(default_template)["States"]
    assert definition(default_template)["StartAt"] == "ValidateDataset"
    assert states["ValidateDataset"]["Next"] == "DatasetValid?"
    assert states["ValidateDataset"]["ResultPath"] == "$.validation"
    assert states["DatasetValid?"] == {
        "Type": "Choice",
        "Choices": [
            {
                "Variable": "$.validation.valid",
                "BooleanEquals": False,
                "Next": "NotifyDatasetInvalid",
            },
            {
                "Variable": "$.validation.hasValidationData",
                "BooleanEquals": True,
                "Next": "CreateCustomizationJobWithValidationData",
            },
        ],
        "Default": "CreateCustomizationJob",
    }
    for job in ("CreateCustomizationJob", "CreateCustomizationJobWithValidationData"):
        assert states[job]["Next"] == "NotifySucceeded"
    assert states["NotifySucceeded"]["Next"] == "Done"
    assert states["Done"] == {"Type": "Succeed"}


def test_invalid_dataset_fails_before_any_job_state(default_template: Template) -> None:
    states = definition(default_template)["States"]
    invalid_path = _reachable(states, "NotifyDatasetInvalid")
    assert invalid_path == {"NotifyDatasetInvalid", "DatasetInvalid"}
    assert states["DatasetInvalid"] == {
        "Type": "Fail",
        "Error": "DatasetInvalid",
        "Cause": "The dataset failed validation; see the report in the artifacts zone.",
    }
    job_states = {n for n, s in states.items() if str(s.get("Resource", "")).endswith(SYNC)}
    assert job_states == {"CreateCustomizationJob", "CreateCustomizationJobWithValidationData"}
    assert not job_states & invalid_path
    assert states["NotifyDatasetInvalid"]["Parameters"]["Message"] == {
        "result": "DATASET_INVALID",
        "execution.$": "$$.Execution.Id",
        "jobName.$": "$.validation.jobName",
        "reportS3Uri.$": "$.validation.reportS3Uri",
        "errorCount.$": "$.validation.errorCount",
        "firstErrors.$": "$.validation.errors",
    }


def test_job_state_uses_the_sync_integration_with_the_dataset_from_validation(
    default_template: Template,
) -> None:
    states = definition(default_template)["States"]
    job = states["CreateCustomizationJobWithValidationData"]
    assert job["Resource"] == f"arn:{TOKEN}{SYNC}"
    assert job["Parameters"] == {
        "BaseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "CustomizationType": "FINE_TUNING",
        "RoleArn": TOKEN,
        "JobName.$": "$.validation.jobName",
        "CustomModelName.$": "$.validation.customModelName",
        "TrainingDataConfig": {"S3Uri.$": "$.validation.trainingDataS3Uri"},
        "OutputDataConfig": {"S3Uri.$": "$.validation.outputDataS3Uri"},
        "ValidationDataConfig": {"Validators.$": "$.validation.validators"},
    }
    without = states["CreateCustomizationJob"]["Parameters"]
    assert "ValidationDataConfig" not in without
    assert job["ResultPath"] == "$.job"
    assert job["TimeoutSeconds"] == 7 * 24 * 3600


def test_job_retries_throttling_and_catches_everything(default_template: Template) -> None:
    states = definition(default_template)["States"]
    for name in ("CreateCustomizationJob", "CreateCustomizationJobWithValidationData"):
        assert states[name]["Retry"] == [
            {
                "ErrorEquals": [
                    "Bedrock.ThrottlingException",
                    "Bedrock.InternalServerException",
                    "Bedrock.ServiceUnavailableException",
                ],
                "IntervalSeconds": 30,
                "MaxAttempts": 3,
                "BackoffRate": 2,
            }
        ]
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyJobFailed"}
        ]
    assert states["NotifyJobFailed"]["Next"] == "JobFailed"
    assert states["JobFailed"]["Type"] == "Fail"
    assert states["NotifyJobFailed"]["Parameters"]["Message"] == {
        "result": "FAILED",
        "execution.$": "$$.Execution.Id",
        "jobName.$": "$.validation.jobName",
        "error.$": "$.error.Error",
        "cause.$": "$.error.Cause",
    }


def test_validator_retries_lambda_errors_and_failures_notify(default_template: Template) -> None:
    states = definition(default_template)["States"]
    validate = states["ValidateDataset"]
    assert validate["Resource"] == TOKEN  # the function ARN (payload-only invocation)
    assert validate["Retry"][0]["ErrorEquals"] == [
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    ]
    assert validate["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyValidatorFailed"}
    ]
    assert _reachable(states, "NotifyValidatorFailed") == {
        "NotifyValidatorFailed",
        "ValidationError",
    }


def test_success_notification_carries_the_job_description(default_template: Template) -> None:
    notify = definition(default_template)["States"]["NotifySucceeded"]
    assert notify["Resource"] == f"arn:{TOKEN}:states:::sns:publish"
    assert notify["ResultPath"] is None
    assert notify["Parameters"]["Message"] == {
        "result": "SUCCEEDED",
        "execution.$": "$$.Execution.Id",
        "jobName.$": "$.validation.jobName",
        "job.$": "$.job",
    }


# -- IAM -----------------------------------------------------------------------------------


def test_bedrock_role_trust_has_confused_deputy_conditions(default_template: Template) -> None:
    role_id = _logical_id(default_template, "AWS::IAM::Role", "FineTuneBedrockRole")
    role = resources_of_type(default_template, "AWS::IAM::Role")[role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Condition": {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "ArnLike": {"aws:SourceArn": _arn("model-customization-job/*")},
            },
        }
    ]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_bedrock_role_reads_datasets_writes_output_uses_lake_key(
    default_template: Template,
) -> None:
    curated = _logical_id(default_template, "AWS::S3::Bucket", "LakeCurated")
    artifacts = _logical_id(default_template, "AWS::S3::Bucket", "LakeArtifacts")
    lake_key = _logical_id(default_template, "AWS::KMS::Key", "LakeKey")
    assert _statements(default_template, "FineTuneBedrockRoleDefaultPolicy") == [
        {
            "Sid": "ReadDatasets",
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": _objects(curated, "finetune/"),
        },
        {
            "Sid": "WriteOutput",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Effect": "Allow",
            "Resource": _objects(artifacts, "bedrock/customization-output/"),
        },
        {
            "Sid": "ListDatasets",
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": ["finetune/*"]}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [curated, "Arn"]},
        },
        {
            "Sid": "ListOutput",
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": ["bedrock/customization-output/*"]}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [artifacts, "Arn"]},
        },
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [lake_key, "Arn"]},
        },
    ]


def test_state_machine_role_statements(default_template: Template) -> None:
    statements = _statements(default_template, "FineTuneRoleDefaultPolicy")
    validator = _logical_id(default_template, "AWS::Lambda::Function", "FineTuneValidator")
    topic = _logical_id(default_template, "AWS::SNS::Topic", "FineTuneTopic")
    key = _logical_id(default_template, "AWS::KMS::Key", "FineTuneKey")
    bedrock_role = _logical_id(default_template, "AWS::IAM::Role", "FineTuneBedrockRole")
    assert len(statements) == 8
    unnamed = [s for s in statements if "Sid" not in s]
    assert unnamed[0] == {
        "Action": "lambda:InvokeFunction",
        "Effect": "Allow",
        "Resource": [
            {"Fn::GetAtt": [validator, "Arn"]},
            {"Fn::Join": ["", [{"Fn::GetAtt": [validator, "Arn"]}, ":*"]]},
        ],
    }
    assert unnamed[1] == {"Action": "sns:Publish", "Effect": "Allow", "Resource": {"Ref": topic}}
    assert unnamed[2]["Resource"] == "*"
    assert set(unnamed[2]["Action"]) == {
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:GetLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:UpdateLogDelivery",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }
    assert unnamed[3] == {
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [key, "Arn"]},
    }
    named = _by_sid(statements)
    create = named["CreateCustomizationJobs"]
    assert create["Action"] == ["bedrock:CreateModelCustomizationJob", "bedrock:TagResource"]
    assert sorted(_render(r) for r in create["Resource"]) == [
        f"arn:{TOKEN}:bedrock:{TOKEN}::foundation-model/amazon.nova-micro-v1:0:128k",
        f"arn:{TOKEN}:bedrock:{TOKEN}:{TOKEN}:custom-model/*",
        f"arn:{TOKEN}:bedrock:{TOKEN}:{TOKEN}:model-customization-job/*",
    ]
    assert named["TrackCustomizationJobs"]["Action"] == [
        "bedrock:GetModelCustomizationJob",
        "bedrock:StopModelCustomizationJob",
    ]
    assert named["TrackCustomizationJobs"]["Resource"] == _arn("model-customization-job/*")
    assert named["PassBedrockServiceRole"] == {
        "Sid": "PassBedrockServiceRole",
        "Action": "iam:PassRole",
        "Condition": {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [bedrock_role, "Arn"]},
    }
    rule = named["ManageSyncEventsRule"]
    assert rule["Action"] == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
    names = [_render(r).rsplit(":rule/", 1)[1] for r in rule["Resource"]]
    assert names == [
        "StepFunctionsGetEventsForBedrockCustomizationJobsRule",
        "StepFunctionsGetEventsForBedrockModelCustomizationJobsRule",
    ]


def test_validator_role_statements(default_template: Template) -> None:
    curated = _logical_id(default_template, "AWS::S3::Bucket", "LakeCurated")
    artifacts = _logical_id(default_template, "AWS::S3::Bucket", "LakeArtifacts")
    lake_key = _logical_id(default_template, "AWS::KMS::Key", "LakeKey")
    logs = _logical_id(default_template, "AWS::Logs::LogGroup", "FineTuneValidatorLogs")
    assert _statements(default_template, "FineTuneValidatorRoleDefaultPolicy") == [
        {
            "Sid": "WriteOwnLogs",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [logs, "Arn"]},
        },
        {
            "Sid": "ReadDatasets",
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": _objects(curated, "finetune/"),
        },
        {
            "Sid": "ListDatasets",
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": ["finetune/*"]}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [curated, "Arn"]},
        },
        {
            "Sid": "WriteReports",
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": _objects(artifacts, "bedrock/validation-reports/"),
        },
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [lake_key, "Arn"]},
        },
    ]


def test_only_the_validator_role_trusts_lambda_and_no_managed_policies(
    default_template: Template,
) -> None:
    roles = resources_of_type(default_template, "AWS::IAM::Role")
    assert len(roles) == 3
    for role in roles.values():
        assert "ManagedPolicyArns" not in role["Properties"]


# -- the validator, topic and key -------------------------------------------------------------


def test_validator_function(default_template: Template) -> None:
    logs = _logical_id(default_template, "AWS::Logs::LogGroup", "FineTuneValidatorLogs")
    curated = _logical_id(default_template, "AWS::S3::Bucket", "LakeCurated")
    artifacts = _logical_id(default_template, "AWS::S3::Bucket", "LakeArtifacts")
    default_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "bedrock_dataset_validator.handler",
            "MemorySize": 1024,
            "Timeout": 900,
            "LoggingConfig": {"LogGroup": {"Ref": logs}},
            "Environment": {
                "Variables": {
                    "DATASET_BUCKET": {"Ref": curated},
                    "DATASET_PREFIX": "finetune/",
                    "REPORT_BUCKET": {"Ref": artifacts},
                    "REPORT_PREFIX": "bedrock/validation-reports/",
                    "OUTPUT_PREFIX": "bedrock/customization-output/",
                    "RECORD_FORMAT": "bedrock_conversation_2024",
                    "LIMITS": '{"max_record_bytes":262144,"max_training_records":20000,'
                    '"max_validation_records":1000,"min_training_records":8}',
                    "JOB_NAME_PREFIX": "finetune",
                    "READY_MARKER_NAME": "_READY",
                }
            },
        },
    )


def test_validator_code_is_the_runtime_folder_and_imports_no_cdk(
    default_build: tuple[Template, BedrockFineTuneJob],
) -> None:
    from pathlib import Path

    from cdk_llm_training.assets import runtime

    folder = Path(runtime.__file__).parent
    for module in folder.glob("*.py"):
        text = module.read_text()
        assert not re.search(r"^\s*(import|from) (aws_cdk|pydantic|constructs)", text, re.M)
    assert (folder / "bedrock_dataset_validator.py").exists()


def test_log_groups_are_encrypted_with_retention(default_template: Template) -> None:
    key = _logical_id(default_template, "AWS::KMS::Key", "FineTuneKey")
    groups = resources_of_type(default_template, "AWS::Logs::LogGroup")
    assert len(groups) == 2
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
        assert group["Properties"]["RetentionInDays"] == 365
        assert group["DeletionPolicy"] == "RetainExceptOnCreate"


def test_topic_is_encrypted_and_tls_only(default_template: Template) -> None:
    key = _logical_id(default_template, "AWS::KMS::Key", "FineTuneKey")
    default_template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}}
    )
    default_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                    )
                ]
            }
        },
    )


def test_workflow_key_rotates_and_lets_cloudwatch_logs_use_it(default_template: Template) -> None:
    key_id = _logical_id(default_template, "AWS::KMS::Key", "FineTuneKey")
    key = resources_of_type(default_template, "AWS::KMS::Key")[key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"
    logs_statement = next(
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowCloudWatchLogsOfThisAccount"
    )
    assert _render(logs_statement["Principal"]["Service"]) == f"logs.{TOKEN}.amazonaws.com"
    assert "kms:GenerateDataKey" in logs_statement["Action"]
    condition = logs_statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert _render(condition).endswith(":log-group:*")


def test_no_custom_model_key_by_default_and_no_ready_marker_rule(
    default_template: Template,
) -> None:
    for state in definition(default_template)["States"].values():
        assert "CustomModelKmsKeyId" not in state.get("Parameters", {})
    default_template.resource_count_is("AWS::Events::Rule", 0)


def test_default_template_is_cfn_lint_clean(default_template: Template) -> None:
    assert cfn_lint_findings(default_template.to_json()) == []


def test_exposes_resources(default_build: tuple[Template, BedrockFineTuneJob]) -> None:
    _, job = default_build
    assert job.record_format == "bedrock_conversation_2024"
    assert job.family.family == "amazon-nova-understanding"
    assert job.hyperparameters == {}
    assert job.ready_marker_rule is None


# -- options -------------------------------------------------------------------------------


def test_distillation_sends_the_teacher_config(full_template: Template) -> None:
    job = definition(full_template)["States"]["CreateCustomizationJob"]
    params = job["Parameters"]
    assert params["CustomizationType"] == "DISTILLATION"
    assert params["BaseModelIdentifier"] == "meta.llama3-1-8b-instruct-v1:0:128k"
    assert params["CustomizationConfig"] == {
        "DistillationConfig": {
            "TeacherModelConfig": {
                "TeacherModelIdentifier": "meta.llama3-1-70b-instruct-v1:0",
                "MaxResponseLengthForInference": 1000,
            }
        }
    }
    assert params["HyperParameters"] == {"epochCount": "2", "learningRate": "0.0002"}
    assert job["TimeoutSeconds"] == 24 * 3600


def test_distillation_role_may_invoke_only_the_teacher(full_template: Template) -> None:
    teacher = _by_sid(_statements(full_template, "FineTuneBedrockRoleDefaultPolicy"))[
        "InvokeTeacherModel"
    ]
    assert teacher["Action"] == "bedrock:InvokeModel"
    assert _render(teacher["Resource"]) == (
        f"arn:{TOKEN}:bedrock:{TOKEN}::foundation-model/meta.llama3-1-70b-instruct-v1:0"
    )


def test_distillation_validator_uses_the_prompt_format(full_template: Template) -> None:
    full_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "RECORD_FORMAT": "bedrock_conversation_2024_prompts",
                        "JOB_NAME_PREFIX": "distill",
                        "LIMITS": '{"max_record_bytes":1048576,"max_training_records":15000,'
                        '"max_validation_records":0,"min_training_records":1}',
                    }
                )
            }
        },
    )


def test_vpc_config_is_sent_and_the_role_may_manage_job_enis(full_template: Template) -> None:
    params = definition(full_template)["States"]["CreateCustomizationJob"]["Parameters"]
    assert params["VpcConfig"] == {
        "SubnetIds": ["subnet-0123456789abcdef0"],
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
    }
    named = _by_sid(_statements(full_template, "FineTuneBedrockRoleDefaultPolicy"))
    assert named["DescribeNetwork"]["Resource"] == "*"
    assert named["CreateJobNetworkInterfaces"]["Condition"]["StringEquals"] == {
        "aws:RequestTag/BedrockManaged": "true"
    }
    assert sorted(_render(r) for r in named["UseJobSubnetsAndSecurityGroups"]["Resource"]) == [
        f"arn:{TOKEN}:ec2:{TOKEN}:{TOKEN}:security-group/sg-0123456789abcdef0",
        f"arn:{TOKEN}:ec2:{TOKEN}:{TOKEN}:subnet/subnet-0123456789abcdef0",
    ]
    manage = named["ManageJobNetworkInterfaces"]
    assert manage["Condition"]["StringEquals"] == {"ec2:ResourceTag/BedrockManaged": "true"}
    assert named["TagJobNetworkInterfaces"]["Condition"]["ForAllValues:StringEquals"] == {
        "aws:TagKeys": ["BedrockManaged", "BedrockModelCustomizationJobArn"]
    }


def test_custom_model_key_is_sent_and_granted(full_template: Template) -> None:
    params = definition(full_template)["States"]["CreateCustomizationJob"]["Parameters"]
    assert params["CustomModelKmsKeyId"] == EXAMPLE_KEY
    for prefix in ("FineTuneBedrockRoleDefaultPolicy", "FineTuneRoleDefaultPolicy"):
        statements = _statements(full_template, prefix)
        assert any(
            s.get("Resource") == EXAMPLE_KEY and "kms:CreateGrant" in s["Action"]
            for s in statements
        )


def test_ready_marker_rule_starts_the_workflow(full_template: Template) -> None:
    curated = _logical_id(full_template, "AWS::S3::Bucket", "LakeCurated")
    machine = _logical_id(full_template, "AWS::StepFunctions::StateMachine", "FineTune")
    (rule,) = resources_of_type(full_template, "AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": curated}]},
            "object": {"key": [{"wildcard": "finetune/*/_READY"}]},
        },
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": machine}
    template = re.sub(r"(?<!\")<([a-z-]+)>", r'"<\1>"', target["InputTransformer"]["InputTemplate"])
    assert json.loads(template) == {
        "readyMarker": {"bucket": "<detail-bucket-name>", "key": "<detail-object-key>"}
    }


def test_log_retention_option(full_template: Template) -> None:
    for group in resources_of_type(full_template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 30


def test_full_options_template_is_cfn_lint_clean(full_template: Template) -> None:
    assert cfn_lint_findings(full_template.to_json()) == []


def test_unknown_teacher_is_a_warning() -> None:
    stack, _ = _build(
        options=BedrockFineTuneOptions(
            base_model_id="amazon.nova-lite-v1:0:300k",
            customization_type=CustomizationType.DISTILLATION,
            distillation=DistillationOptions(teacher_model_id="example.new-teacher-v1:0"),
        ),
        lake_options=DataLakeOptions(event_bridge_enabled=False),
    )
    Annotations.from_stack(stack).has_warning(
        "/TestStack/FineTune",
        Match.string_like_regexp(
            r"^distillation teacher 'example.new-teacher-v1:0' is not in .* "
            r"\[ack: cdk-llm-training/bedrock-fine-tune-job:unknownTeacher\]$"
        ),
    )


def test_ready_marker_without_lake_events_is_a_warning() -> None:
    stack, _ = _build(
        options=BedrockFineTuneOptions(start_on_ready_marker=True),
        lake_options=DataLakeOptions(event_bridge_enabled=False),
    )
    Annotations.from_stack(stack).has_warning(
        "/TestStack/FineTune",
        Match.string_like_regexp(
            r"^start_on_ready_marker is on but the data lake does not send .* "
            r"\[ack: cdk-llm-training/bedrock-fine-tune-job:readyMarkerNeedsEvents\]$"
        ),
    )


def test_warnings_have_one_id_each_and_can_be_acknowledged_by_it() -> None:
    ids = (UNKNOWN_TEACHER_WARNING, READY_MARKER_NEEDS_EVENTS_WARNING)
    assert all(
        re.fullmatch(r"cdk-llm-training/bedrock-fine-tune-job:[a-z]+([A-Z][a-z]+)*", i) for i in ids
    )
    stack, _ = _build(
        options=BedrockFineTuneOptions(
            base_model_id="amazon.nova-lite-v1:0:300k",
            customization_type=CustomizationType.DISTILLATION,
            distillation=DistillationOptions(teacher_model_id="example.new-teacher-v1:0"),
            start_on_ready_marker=True,
        ),
        lake_options=DataLakeOptions(event_bridge_enabled=False),
    )
    cdk.Annotations.of(stack).acknowledge_warning(ids[0], "Test: a new teacher.")
    warnings = Annotations.from_stack(stack).find_warning("/TestStack/FineTune", Match.any_value())
    assert [str(w.entry.data).rsplit(" [ack: ", 1)[1] for w in warnings] == [f"{ids[1]}]"]


def test_bring_your_own_buckets_topic_and_key() -> None:
    stack = new_stack(nag=False)
    datasets = s3.Bucket.from_bucket_name(stack, "Datasets", "corp-datasets")
    outputs = s3.Bucket.from_bucket_name(stack, "Outputs", "corp-outputs")
    topic = sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:us-east-1:111122223333:ml")
    key = kms.Key.from_key_arn(stack, "Key", EXAMPLE_KEY)
    job = BedrockFineTuneJob(
        stack, "Job", dataset_bucket=datasets, output_bucket=outputs, topic=topic, key=key
    )
    template = template_of(stack)
    template.resource_count_is("AWS::KMS::Key", 0)
    template.resource_count_is("AWS::SNS::Topic", 0)
    assert job.topic is topic
    assert job.data_key is None
    statements = _statements(template, "JobBedrockRoleDefaultPolicy")
    assert not any("kms:Decrypt" in s["Action"] for s in statements)
    assert _render(_by_sid(statements)["ReadDatasets"]["Resource"]).endswith(
        ":s3:::corp-datasets/finetune/*"
    )


def test_registered_model_id_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    from cdk_llm_training.config.catalogs.bedrock_models import load_bedrock_catalog

    catalog = load_bedrock_catalog()
    catalog.register("meta.llama3-1-8b-instruct-v2:0:128k", "meta-llama-3.1")
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    job = BedrockFineTuneJob(
        stack,
        "Job",
        data_lake=lake,
        catalog=catalog,
        options=BedrockFineTuneOptions(base_model_id="meta.llama3-1-8b-instruct-v2:0:128k"),
    )
    assert job.record_format == "prompt_completion"


def test_base_model_family_option_accepts_an_unlisted_id() -> None:
    stack = new_stack(nag=False)
    job = BedrockFineTuneJob(
        stack,
        "Job",
        data_lake=TrainingDataLake(stack, "Lake"),
        options=BedrockFineTuneOptions(
            base_model_id="amazon.nova-micro-v2:0:128k",
            base_model_family="amazon-nova-understanding",
            hyperparameters={"epochCount": "3"},
        ),
    )
    assert job.hyperparameters == {"epochCount": "3"}


# -- validation failures -------------------------------------------------------------------


@pytest.fixture
def lake_stack() -> tuple[cdk.Stack, TrainingDataLake]:
    stack = new_stack(nag=False)
    return stack, TrainingDataLake(stack, "Lake")


def _fails(lake_stack: tuple[cdk.Stack, TrainingDataLake], message: str, **kwargs: Any) -> None:
    stack, lake = lake_stack
    with pytest.raises(ValueError, match=re.escape(message)):
        BedrockFineTuneJob(stack, "Job", data_lake=lake, **kwargs)


def test_fails_unknown_base_model(lake_stack: tuple[cdk.Stack, TrainingDataLake]) -> None:
    _fails(
        lake_stack,
        "base_model_id 'acme.model-v1' is not in the Bedrock model catalog; known: "
        "amazon.nova-2-lite-v1:0:256k, amazon.nova-lite-v1:0:300k,",
        options=BedrockFineTuneOptions(base_model_id="acme.model-v1"),
    )


def test_fails_unknown_base_model_family(lake_stack: tuple[cdk.Stack, TrainingDataLake]) -> None:
    _fails(
        lake_stack,
        "model family 'acme' is not in the catalog; known families: amazon-nova-2-lite, "
        "amazon-nova-understanding,",
        options=BedrockFineTuneOptions(base_model_id="acme.model-v1", base_model_family="acme"),
    )


def test_fails_customization_type_the_model_lacks(
    lake_stack: tuple[cdk.Stack, TrainingDataLake],
) -> None:
    _fails(
        lake_stack,
        "customization_type CONTINUED_PRE_TRAINING is not supported by base model "
        "'amazon.nova-micro-v1:0:128k' (family amazon-nova-understanding); supported: "
        "FINE_TUNING, DISTILLATION.",
        options=BedrockFineTuneOptions(customization_type=CustomizationType.CONTINUED_PRE_TRAINING),
    )


def test_fails_distillation_on_a_fine_tune_only_model(
    lake_stack: tuple[cdk.Stack, TrainingDataLake],
) -> None:
    _fails(
        lake_stack,
        "customization_type DISTILLATION is not supported by base model "
        "'meta.llama3-1-70b-instruct-v1:0:128k' (family meta-llama-3.1); supported: "
        "FINE_TUNING.",
        options=BedrockFineTuneOptions(
            base_model_id="meta.llama3-1-70b-instruct-v1:0:128k",
            customization_type=CustomizationType.DISTILLATION,
            distillation=DistillationOptions(teacher_model_id="meta.llama3-1-405b-instruct-v1:0"),
        ),
    )


def test_fails_hyperparameter_out_of_range(
    lake_stack: tuple[cdk.Stack, TrainingDataLake],
) -> None:
    _fails(
        lake_stack,
        "hyperparameter 'epochCount' = 12 is outside the range 1 to 10 for base model "
        "'meta.llama3-1-8b-instruct-v1:0:128k' (family meta-llama-3.1).",
        options=BedrockFineTuneOptions(
            base_model_id="meta.llama3-1-8b-instruct-v1:0:128k",
            hyperparameters={"epochCount": 12},
        ),
    )


def test_fails_unknown_hyperparameter(lake_stack: tuple[cdk.Stack, TrainingDataLake]) -> None:
    _fails(
        lake_stack,
        "hyperparameter 'batchSize' is not accepted for base model "
        "'amazon.nova-micro-v1:0:128k' (family amazon-nova-understanding); accepted: "
        "epochCount, learningRate, learningRateWarmupSteps.",
        options=BedrockFineTuneOptions(hyperparameters={"batchSize": 8}),
    )


def test_fails_non_integer_hyperparameter(lake_stack: tuple[cdk.Stack, TrainingDataLake]) -> None:
    _fails(
        lake_stack,
        "hyperparameter 'epochCount' = '2.5' must be an integer in the range 1 to 5 for base "
        "model 'amazon.nova-micro-v1:0:128k' (family amazon-nova-understanding).",
        options=BedrockFineTuneOptions(hyperparameters={"epochCount": "2.5"}),
    )


def test_fails_without_lake_or_buckets() -> None:
    stack = new_stack(nag=False)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "BedrockFineTuneJob needs data_lake=, or both dataset_bucket= and output_bucket=; "
            "got neither."
        ),
    ):
        BedrockFineTuneJob(stack, "Job")


def test_fails_too_many_security_groups(lake_stack: tuple[cdk.Stack, TrainingDataLake]) -> None:
    stack, _ = lake_stack
    groups = [
        ec2.SecurityGroup.from_security_group_id(stack, f"Sg{i}", f"sg-0000000000000000{i}")
        for i in range(6)
    ]
    subnet = ec2.Subnet.from_subnet_id(stack, "Subnet", "subnet-0123456789abcdef0")
    _fails(
        lake_stack,
        "vpc_config.security_groups has 6 security groups; allowed: 1 to 5.",
        vpc_config=BedrockJobVpcConfig(subnets=[subnet], security_groups=groups),
    )


def test_fails_no_subnets(lake_stack: tuple[cdk.Stack, TrainingDataLake]) -> None:
    stack, _ = lake_stack
    group = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    _fails(
        lake_stack,
        "vpc_config.subnets has 0 subnets; allowed: 1 to 16.",
        vpc_config=BedrockJobVpcConfig(subnets=[], security_groups=[group]),
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"customization_type": "REINFORCEMENT_FINE_TUNING"},
            "customization_type REINFORCEMENT_FINE_TUNING needs rft=RftOptions(grader=...)",
        ),
        (
            {"customization_type": "DISTILLATION"},
            "customization_type DISTILLATION needs distillation="
            "DistillationOptions(teacher_model_id=...)",
        ),
        (
            {"distillation": {"teacher_model_id": "amazon.nova-pro-v1:0"}},
            "distillation is set but customization_type is FINE_TUNING; teacher settings apply "
            "only to DISTILLATION",
        ),
        (
            {"dataset_prefix": "finetune/*"},
            "dataset_prefix 'finetune/*' must be a literal S3 key prefix; '*' and '?' are not "
            "allowed",
        ),
        (
            {"output_prefix": "/out/"},
            "output_prefix '/out/' must not start with '/'; S3 keys have no leading slash",
        ),
        (
            {"job_name_prefix": "fine_tune"},
            "'fine_tune' must be letters, digits and single hyphens, starting and ending with "
            "a letter or digit",
        ),
        (
            {"log_retention_days": 10},
            "log_retention_days 10 is not a CloudWatch Logs retention period; allowed: 1, 3,",
        ),
        (
            {"distillation": {"teacher_model_id": "x", "max_response_length_for_inference": 0}},
            "Input should be greater than or equal to 1",
        ),
    ],
)
def test_fails_bad_options(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        BedrockFineTuneOptions.model_validate(settings)


def test_grant_start_execution(lake_stack: tuple[cdk.Stack, TrainingDataLake]) -> None:
    from aws_cdk import aws_iam as iam

    stack, lake = lake_stack
    job = BedrockFineTuneJob(stack, "Job", data_lake=lake)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    grant = job.grant_start_execution(caller)
    assert isinstance(grant, iam.Grant)
    assert grant.success
