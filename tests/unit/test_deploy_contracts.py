"""Deploy-time contracts of the ready app (issue 16): each test fails on the templates the
stacks produced before the fix. Where aws-cdk-lib has a task construct for an integration we
run, our workflow role must hold at least what CDK's task generates."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.assertions import Template
from cdk_support import new_app, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import SageMakerFineTuneOptions, TrainingDataLake
from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.config import StackName
from cdk_llm_training.constructs.sagemaker_fine_tune_job import SageMakerFineTuneJob

TRAINING_PREFIX = SageMakerFineTuneOptions().job_name_prefix
_PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "111122223333",
    "AWS::URLSuffix": "amazonaws.com",
}


def _text(value: Any) -> str:
    """A policy resource as text, pseudo parameters filled in, other references as ``<ref>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return _PSEUDO.get(value["Ref"], "<ref>")
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_text(p) for p in parts)
    return "<ref>"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants(template: Mapping[str, Any], role_prefix: str) -> list[tuple[str, str]]:
    """(action, resource) pairs of the Allow statements of the policies of roles whose
    logical ID starts with ``role_prefix``."""
    pairs = []
    for policy in template["Resources"].values():
        if policy["Type"] != "AWS::IAM::Policy":
            continue
        roles = [r.get("Ref", "") for r in policy["Properties"].get("Roles", [])]
        if not any(r.startswith(role_prefix) for r in roles):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    pairs.append((action, _text(resource)))
    return pairs


def _covers(ours: list[tuple[str, str]], action: str, resource: str) -> bool:
    for our_action, our_resource in ours:
        if not fnmatchcase(action.lower(), our_action.lower()):
            continue
        if resource == "<ref>" or fnmatchcase(resource, our_resource):
            return True  # a role ARN: any PassRole of ours counts (it names our own role)
    return False


def _missing(ours: list[tuple[str, str]], cdk_grants: list[tuple[str, str]]) -> list[str]:
    return [f"{a} on {r}" for a, r in cdk_grants if not _covers(ours, a, r)]


@pytest.fixture(scope="module")
def cdk_task_grants() -> dict[str, list[tuple[str, str]]]:
    """What aws-cdk-lib's own task constructs grant, synthesized in a scratch stack."""
    stack = cdk.Stack(new_app(nag=False), "Scratch")
    role = iam.Role(stack, "JobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    location = tasks.S3Location.from_json_expression("$.in")
    training = tasks.SageMakerCreateTrainingJob(
        stack,
        "Training",
        training_job_name=TRAINING_PREFIX + "-",
        role=role,
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        algorithm_specification=tasks.AlgorithmSpecification(
            training_image=tasks.DockerImage.from_registry("image"),
            training_input_mode=tasks.InputMode.FILE,
        ),
        input_data_config=[
            tasks.Channel(
                channel_name="train",
                data_source=tasks.DataSource(
                    s3_data_source=tasks.S3DataSource(s3_location=location)
                ),
            )
        ],
        output_data_config=tasks.OutputDataConfig(
            s3_output_location=tasks.S3Location.from_json_expression("$.out")
        ),
    )
    sfn.StateMachine(
        stack, "TrainingMachine", definition_body=sfn.DefinitionBody.from_chainable(training)
    )
    customization = tasks.BedrockCreateModelCustomizationJob(
        stack,
        "Customization",
        base_model=bedrock.FoundationModel.from_foundation_model_id(
            stack, "Base", bedrock.FoundationModelIdentifier("amazon.nova-micro-v1:0:128k")
        ),
        custom_model_name=sfn.JsonPath.string_at("$.model"),
        job_name=sfn.JsonPath.string_at("$.job"),
        output_data=tasks.OutputBucketConfiguration(bucket=s3.Bucket(stack, "Out")),
        training_data=tasks.TrainingBucketConfiguration(bucket=s3.Bucket(stack, "In")),
        validation_data=[tasks.ValidationBucketConfiguration(bucket=s3.Bucket(stack, "Val"))],
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
    )
    sfn.StateMachine(
        stack,
        "CustomizationMachine",
        definition_body=sfn.DefinitionBody.from_chainable(customization),
    )
    template = Template.from_stack(stack).to_json()
    return {
        "training": _grants(template, "TrainingMachineRole"),
        "customization": [
            (a, r)
            for a, r in _grants(template, "CustomizationMachineRole")
            # CDK scopes the base model ARN to the model it was given; ours is the config's.
            if ":foundation-model/" not in r
        ],
    }


@pytest.fixture(scope="module")
def small(tier_templates: dict[StackName, Template]) -> dict[str, Any]:
    template: dict[str, Any] = dict(tier_templates[StackName.SMALL_LORA].to_json())
    return template


def _role_prefix(template: dict[str, Any], machine_prefix: str) -> str:
    (machine,) = [
        r
        for lid, r in template["Resources"].items()
        if lid.startswith(machine_prefix) and r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    role_id: str = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    return role_id


# -- item 4: .sync IAM ---------------------------------------------------------------------


def test_cdk_tasks_were_synthesized(cdk_task_grants: dict[str, list[tuple[str, str]]]) -> None:
    """The comparison below is not vacuous: CDK's training task grants ListTags on '*'."""
    assert ("sagemaker:ListTags", "*") in cdk_task_grants["training"]
    assert any(
        a == "bedrock:CreateModelCustomizationJob" for a, _ in cdk_task_grants["customization"]
    )


def test_lora_workflow_role_covers_cdk_training_task(
    small: dict[str, Any], cdk_task_grants: dict[str, list[tuple[str, str]]]
) -> None:
    ours = _grants(small, _role_prefix(small, "SageMakerFineTuneC8E5"))
    assert _missing(ours, cdk_task_grants["training"]) == []


def test_bedrock_workflow_role_covers_cdk_customization_task(
    small: dict[str, Any], cdk_task_grants: dict[str, list[tuple[str, str]]]
) -> None:
    ours = _grants(small, _role_prefix(small, "BedrockFineTune2EF3"))
    assert _missing(ours, cdk_task_grants["customization"]) == []


@pytest.mark.parametrize("machine", ["LabelingWorkflow", "SageMakerFineTuneC8E5"])
def test_sagemaker_sync_roles_list_tags_on_everything(small: dict[str, Any], machine: str) -> None:
    """The Step Functions guide's policy for SageMaker .sync lists sagemaker:ListTags on *."""
    assert ("sagemaker:ListTags", "*") in _grants(small, _role_prefix(small, machine))


def test_ready_app_passes_the_sync_rule(tier_templates: dict[StackName, Template]) -> None:
    for name, template in tier_templates.items():
        assert check_template(template.to_json(), [RULES_BY_ID["LLM-DEP3"]]) == [], name


# -- item 2: retained resources --------------------------------------------------------------


def test_no_resource_of_the_ready_app_is_plain_retain(
    tier_templates: dict[StackName, Template],
) -> None:
    """Retain also keeps a resource when the first create rolls back: RetainExceptOnCreate."""
    for name, template in tier_templates.items():
        plain = [
            lid
            for lid, r in template.to_json()["Resources"].items()
            if r.get("DeletionPolicy") == "Retain"
        ]
        assert plain == [], name


def test_ready_app_has_no_retained_fixed_names(tier_templates: dict[StackName, Template]) -> None:
    for name, template in tier_templates.items():
        assert check_template(template.to_json(), [RULES_BY_ID["LLM-DEP1"]]) == [], name


# -- item 3: the private workforce singleton ------------------------------------------------


def test_ready_app_creates_no_workforce_resource(small: dict[str, Any]) -> None:
    assert check_template(small, [RULES_BY_ID["LLM-DEP2"]]) == []
    assert "LabelingWorkforce" in small["Outputs"]


# -- item 5: trust and conditions ------------------------------------------------------------


def test_labeling_job_role_trusts_source_account_only(small: dict[str, Any]) -> None:
    (role,) = [
        r
        for lid, r in small["Resources"].items()
        if lid.startswith("LabelingLabelingJobRole") and r["Type"] == "AWS::IAM::Role"
    ]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert "aws:SourceArn" not in json.dumps(statement["Condition"])
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_evaluation_role_locates_the_bucket_without_a_prefix_condition() -> None:
    from cdk_llm_training import (
        BedrockFineTuneOptions,
        ModelEvaluationOptions,
        SmallLoRAConfig,
        SmallLoRAStack,
    )

    config = SmallLoRAConfig(
        bedrock_fine_tune=BedrockFineTuneOptions(evaluation=ModelEvaluationOptions()),
        labeling=None,
        sagemaker_fine_tune=None,
        guardrail=None,
    )
    stack = SmallLoRAStack(new_app(), "EvalStack", config=config)
    template = template_of(stack).to_json()
    located = [
        s
        for p in resources_of_type(Template.from_json(template), "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "s3:GetBucketLocation" in _as_list(s["Action"])
    ]
    assert located
    for statement in located:
        assert "s3:prefix" not in json.dumps(statement.get("Condition", {}))


# -- item 6: model packages --------------------------------------------------------------------


def test_ready_app_registers_no_training_image(tier_templates: dict[StackName, Template]) -> None:
    for name, template in tier_templates.items():
        assert check_template(template.to_json(), [RULES_BY_ID["LLM-DEP5"]]) == [], name


def test_serving_image_is_recorded_and_training_image_refused() -> None:
    serving = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.33.0-lmi15.0.0-cu128"
    stack = cdk.Stack(new_app(nag=False), "Serving")
    lake = TrainingDataLake(stack, "Lake")
    SageMakerFineTuneJob(
        stack,
        "Lora",
        options=SageMakerFineTuneOptions(inference_image_uri=serving),
        data_lake=lake,
    )
    template = Template.from_stack(stack).to_json()
    assert serving in json.dumps(template)
    assert check_template(template, [RULES_BY_ID["LLM-DEP5"]]) == []
    with pytest.raises(ValidationError, match=r"is a training image"):
        SageMakerFineTuneOptions(
            inference_image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/"
            "huggingface-pytorch-training:2.3.0-gpu"
        )


# -- item 8: budgets --------------------------------------------------------------------------


def test_budget_name_includes_the_region_and_output_says_activate_the_tag(
    small: dict[str, Any],
) -> None:
    (budget,) = [r for r in small["Resources"].values() if r["Type"] == "AWS::Budgets::Budget"]
    name = budget["Properties"]["Budget"]["BudgetName"]
    assert {"Ref": "AWS::Region"} in name["Fn::Join"][1]
    outputs = small["Outputs"]
    assert outputs["CostAllocationTagToActivate"]["Value"] == "stack"
    assert re.search(
        r"activate .*cost allocation", outputs["CostAllocationTagToActivate"]["Description"], re.I
    )
    assert "BudgetName" in outputs
