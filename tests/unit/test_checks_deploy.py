"""The deploy-time rules (LLM-DEP1..5): a compliant and a non-compliant raw CloudFormation
fixture each, so they are proven on templates not made with this library."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.checks.model import Severity
from cdk_llm_training.checks.render import render
from cdk_llm_training.checks.rules_deploy import is_fixed

STACK_UUID_PREFIX = {
    "Fn::Select": [
        0,
        {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]},
    ]
}


def _findings(rule_id: str, resources: dict[str, Any]) -> list[tuple[str, str]]:
    template = {"Resources": resources}
    return [(f.logical_id, f.message) for f in check_template(template, [RULES_BY_ID[rule_id]])]


def test_rules_are_registered_with_severity_and_source() -> None:
    for rule_id in ("LLM-DEP1", "LLM-DEP2", "LLM-DEP3", "LLM-DEP4", "LLM-DEP5"):
        rule = RULES_BY_ID[rule_id]
        assert "Source:" in rule.why, rule_id
    assert RULES_BY_ID["LLM-DEP2"].severity is Severity.WARNING
    assert RULES_BY_ID["LLM-DEP4"].severity is Severity.WARNING
    assert RULES_BY_ID["LLM-DEP1"].severity is Severity.ERROR


# -- LLM-DEP1 retained resources with fixed names -----------------------------------------------


def _group(name: Any, policy: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "Type": "AWS::SageMaker::ModelPackageGroup",
        "Properties": {"ModelPackageGroupName": name},
    }
    if policy:
        resource["DeletionPolicy"] = policy
    return resource


@pytest.mark.parametrize("policy", ["Retain", "RetainExceptOnCreate"])
def test_dep1_flags_a_retained_literal_name(policy: str) -> None:
    (finding,) = _findings("LLM-DEP1", {"Group": _group("adapters", policy)})
    assert finding[0] == "Group"
    assert "'adapters'" in finding[1]
    assert ("failed first create" in finding[1]) is (policy == "Retain")


def test_dep1_flags_a_name_fixed_per_stack_name() -> None:
    name = {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, {"Ref": "AWS::Region"}, "x"]]}
    assert _findings("LLM-DEP1", {"Group": _group(name, "Retain")})


def test_dep1_nested_budget_name_and_domain() -> None:
    budget = {
        "Type": "AWS::Budgets::Budget",
        "DeletionPolicy": "Retain",
        "Properties": {"Budget": {"BudgetName": "monthly", "BudgetType": "COST"}},
    }
    domain = {
        "Type": "AWS::Cognito::UserPoolDomain",
        "DeletionPolicy": "RetainExceptOnCreate",
        "Properties": {"Domain": "labeling-portal", "UserPoolId": {"Ref": "Pool"}},
    }
    assert [f[0] for f in _findings("LLM-DEP1", {"B": budget, "D": domain})] == ["B", "D"]


@pytest.mark.parametrize(
    "name",
    [
        None,
        {"Fn::Join": ["-", ["adapters", STACK_UUID_PREFIX]]},
        {"Fn::GetAtt": ["Other", "Name"]},
        {"Fn::Sub": "adapters-${AWS::StackId}"},
    ],
)
def test_dep1_passes_generated_or_stack_unique_names(name: Any) -> None:
    group = _group(name, "RetainExceptOnCreate")
    if name is None:
        del group["Properties"]["ModelPackageGroupName"]
    assert _findings("LLM-DEP1", {"Group": group}) == []


def test_dep1_passes_a_deleted_resource_with_a_literal_name() -> None:
    assert _findings("LLM-DEP1", {"Group": _group("adapters", None)}) == []
    assert _findings("LLM-DEP1", {"Group": _group("adapters", "Delete")}) == []


def test_is_fixed_and_render() -> None:
    assert is_fixed({"Fn::Sub": "${AWS::StackName}-x"})
    assert not is_fixed({"Fn::Sub": "${Bucket}-x"})
    assert is_fixed({"Fn::Sub": ["${A}-x", {"A": "lit"}]})
    assert not is_fixed({"Ref": "AWS::StackId"})
    assert render({"Fn::Join": ["", ["a", {"Ref": "B"}, {"Fn::GetAtt": ["C", "Arn"]}]]}) == (
        "a${B}${C.Arn}"
    )


# -- LLM-DEP2 workforce created in the stack ------------------------------------------------


def test_dep2_warns_on_a_workforce_resource() -> None:
    workforce = {"Type": "AWS::SageMaker::Workforce", "Properties": {"WorkforceName": "default"}}
    (finding,) = _findings("LLM-DEP2", {"Workforce": workforce})
    assert "one per account and Region" in finding[1]


def test_dep2_passes_reuse_or_create_and_workteams() -> None:
    custom = {"Type": "Custom::PrivateWorkforce", "Properties": {"ServiceToken": "arn"}}
    team = {"Type": "AWS::SageMaker::Workteam", "Properties": {"WorkforceName": "default"}}
    assert _findings("LLM-DEP2", {"Workforce": custom, "Team": team}) == []


# -- LLM-DEP3 .sync permissions ---------------------------------------------------------------

_TRAINING_SYNC_STATEMENTS: list[dict[str, Any]] = [
    {
        "Effect": "Allow",
        "Action": [
            "sagemaker:CreateTrainingJob",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:StopTrainingJob",
        ],
        "Resource": "arn:aws:sagemaker:us-east-1:111122223333:training-job/lora-*",
    },
    {"Effect": "Allow", "Action": "sagemaker:ListTags", "Resource": "*"},
    {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": {"Fn::GetAtt": ["TrainingRole", "Arn"]},
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    },
    {
        "Effect": "Allow",
        "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
        "Resource": "arn:aws:events:us-east-1:111122223333:rule/"
        "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    },
]


def _workflow(integration: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    definition = {
        "StartAt": "Job",
        "States": {
            "Job": {
                "Type": "Task",
                "Resource": "arn:",
                "Parameters": {"TrainingJobName.$": "$.name"},
                "End": True,
            }
        },
    }
    text = json.dumps(definition)
    before, after = text.split('"arn:"', 1)
    return {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {"Statement": []}},
        },
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyDocument": {"Statement": statements},
                "Roles": [{"Ref": "Role"}],
            },
        },
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "DefinitionString": {
                    "Fn::Join": [
                        "",
                        [
                            before + '"arn:',
                            {"Ref": "AWS::Partition"},
                            f':states:::{integration}"' + after,
                        ],
                    ]
                },
            },
        },
    }


def test_dep3_passes_the_documented_training_policy() -> None:
    resources = _workflow("sagemaker:createTrainingJob.sync", _TRAINING_SYNC_STATEMENTS)
    assert _findings("LLM-DEP3", resources) == []


def test_dep3_flags_list_tags_missing_or_scoped_to_the_job() -> None:
    """Today's labeling and training workflows: Create/Describe/Stop but no ListTags on *."""
    without = [s for s in _TRAINING_SYNC_STATEMENTS if s["Action"] != "sagemaker:ListTags"]
    (finding,) = _findings("LLM-DEP3", _workflow("sagemaker:createTrainingJob.sync", without))
    assert finding[0] == "Machine"
    assert "sagemaker:ListTags on *" in finding[1]
    scoped = copy.deepcopy(without)
    scoped[0]["Action"].append("sagemaker:ListTags")
    (finding,) = _findings("LLM-DEP3", _workflow("sagemaker:createTrainingJob.sync", scoped))
    assert "sagemaker:ListTags on *" in finding[1]


def test_dep3_flags_missing_events_rule_actions() -> None:
    statements = _TRAINING_SYNC_STATEMENTS[:3]
    (finding,) = _findings("LLM-DEP3", _workflow("sagemaker:createTrainingJob.sync", statements))
    assert "events:PutTargets, events:PutRule, events:DescribeRule" in finding[1]


def test_dep3_bedrock_and_nested_executions() -> None:
    bedrock = [
        {
            "Effect": "Allow",
            "Action": ["bedrock:CreateModelCustomizationJob", "iam:PassRole"],
            "Resource": "*",
        }
    ]
    (finding,) = _findings(
        "LLM-DEP3", _workflow("bedrock:createModelCustomizationJob.sync", bedrock)
    )
    assert "bedrock:GetModelCustomizationJob" in finding[1]
    full = [{"Effect": "Allow", "Action": ["states:*", "events:*"], "Resource": "*"}]
    assert _findings("LLM-DEP3", _workflow("states:startExecution.sync:2", full)) == []


def test_dep3_ignores_request_response_tasks() -> None:
    assert _findings("LLM-DEP3", _workflow("sagemaker:createTrainingJob", [])) == []


# -- LLM-DEP4 wait conditions ---------------------------------------------------------------

_HANDLE = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
_WAIT = {
    "Type": "AWS::CloudFormation::WaitCondition",
    "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": "7200", "Count": 1},
}


def test_dep4_flags_a_wait_condition_nothing_signals() -> None:
    (finding,) = _findings("LLM-DEP4", {"Handle": _HANDLE, "Wait": _WAIT})
    assert finding[0] == "Wait"
    assert "7200 s" in finding[1]


def test_dep4_passes_when_a_resource_gets_the_handle() -> None:
    instance = {
        "Type": "AWS::EC2::Instance",
        "Properties": {
            "UserData": {"Fn::Base64": {"Fn::Sub": "cfn-signal '${Handle}'"}},
        },
    }
    custom = {"Type": "Custom::Installer", "Properties": {"SignalUrl": {"Ref": "Handle"}}}
    assert _findings("LLM-DEP4", {"Handle": _HANDLE, "Wait": _WAIT, "I": instance}) == []
    assert _findings("LLM-DEP4", {"Handle": _HANDLE, "Wait": _WAIT, "C": custom}) == []


# -- LLM-DEP5 model packages with training images ----------------------------------------------

TRAINING_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:"
    "2.3.0-transformers4.48.0-gpu-py311-cu121-ubuntu22.04"
)
SERVING_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
    "2.4.0-tgi3.0.1-gpu-py311-cu124-ubuntu22.04"
)


def _package(image: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::SageMaker::ModelPackage",
        "Properties": {
            "ModelPackageGroupName": "adapters",
            "InferenceSpecification": {
                "Containers": [{"Image": image, "ModelDataUrl": "s3://b/m.tar.gz"}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        },
    }


def test_dep5_flags_a_model_package_with_a_training_image() -> None:
    (finding,) = _findings("LLM-DEP5", {"Package": _package(TRAINING_IMAGE)})
    assert "huggingface-pytorch-training" in finding[1]
    joined = {
        "Fn::Join": [
            "",
            [
                {"Ref": "AWS::AccountId"},
                ".dkr.ecr.",
                {"Ref": "AWS::Region"},
                ".amazonaws.com/pytorch-training:2.5",
            ],
        ]
    }
    assert _findings("LLM-DEP5", {"Package": _package(joined)})


def test_dep5_passes_a_serving_image_or_no_inference_specification() -> None:
    assert _findings("LLM-DEP5", {"Package": _package(SERVING_IMAGE)}) == []
    bare = _package(SERVING_IMAGE)
    del bare["Properties"]["InferenceSpecification"]
    assert _findings("LLM-DEP5", {"Package": bare}) == []


def _registering_workflow(parameters: dict[str, Any]) -> dict[str, Any]:
    definition = {
        "StartAt": "Register",
        "States": {
            "Register": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
                "Parameters": parameters,
                "End": True,
            }
        },
    }
    return {
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"DefinitionString": json.dumps(definition)},
        }
    }


def test_dep5_reads_registrations_in_state_machines() -> None:
    spec = {"Containers": [{"Image": TRAINING_IMAGE, "ModelDataUrl.$": "$.artifact"}]}
    flagged = _registering_workflow({"InferenceSpecification": spec})
    (finding,) = _findings("LLM-DEP5", flagged)
    assert finding[0] == "Machine"
    assert _findings("LLM-DEP5", _registering_workflow({"ModelPackageGroupName": "g"})) == []
