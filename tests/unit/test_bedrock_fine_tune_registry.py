"""BedrockFineTuneJob with ``registry_group_name``: the RecordInRegistry state, its place in
the workflow (after the job; after the gate when evaluated) and its one IAM statement."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template
from cdk_support import new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    BedrockFineTuneJob,
    BedrockFineTuneOptions,
    EvaluationThresholds,
    ModelEvaluationOptions,
    TrainingDataLake,
)

GROUP = "bedrock-custom-models"


def rendered(value: Any) -> str:
    """A CloudFormation string value with every token replaced by ``<TOKEN>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(rendered(part) for part in parts)
    return "<TOKEN>"


def definition(template: Template) -> dict[str, Any]:
    (machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    states: dict[str, Any] = json.loads(rendered(machine["Properties"]["DefinitionString"]))
    return states


def _template(**options: Any) -> Template:
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake")
    BedrockFineTuneJob(
        stack,
        "FineTune",
        data_lake=lake,
        options=BedrockFineTuneOptions(registry_group_name=GROUP, **options),
    )
    return template_of(stack)


@pytest.fixture(scope="module")
def recorded() -> Template:
    return _template()


@pytest.fixture(scope="module")
def gated() -> Template:
    return _template(
        evaluation=ModelEvaluationOptions(
            provision_throughput=False,
            algorithmic_metrics=("Builtin.Accuracy",),
            compare_with_base_model=False,
            thresholds=EvaluationThresholds(min_scores={"Builtin.Accuracy": 0.5}),
        )
    )


def test_record_state_after_the_job_before_success(recorded: Template) -> None:
    states = definition(recorded)["States"]
    assert states["CreateCustomizationJob"]["Next"] == "RecordInRegistry"
    assert states["CreateCustomizationJobWithValidationData"]["Next"] == "RecordInRegistry"
    record = states["RecordInRegistry"]
    assert record["Resource"] == "arn:<TOKEN>:states:::aws-sdk:sagemaker:createModelPackage"
    assert record["Next"] == "NotifySucceeded"
    assert record["Parameters"] == {
        "ModelPackageGroupName": GROUP,
        "ModelPackageDescription.$": "States.Format('Bedrock custom model {}', "
        "$.job.OutputModelName)",
        "ModelApprovalStatus": "PendingManualApproval",
        "CustomerMetadataProperties": {
            "servingTarget": "bedrock",
            "customModelArn.$": "$.job.OutputModelArn",
            "baseModel.$": "$.job.BaseModelArn",
            "customizationType": "FINE_TUNING",
            "jobArn.$": "$.job.JobArn",
        },
    }
    assert record["ResultPath"] == "$.modelPackage"
    assert record["Retry"][0]["ErrorEquals"] == ["SageMaker.ThrottlingException"]
    assert record["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyRegistrationFailed"}
    ]
    assert states["NotifyRegistrationFailed"]["Next"] == "RegistrationFailed"
    assert states["RegistrationFailed"]["Type"] == "Fail"


def test_gated_record_follows_the_passed_gate_with_the_verdict(gated: Template) -> None:
    states = definition(gated)["States"]
    passed = [
        choice["Next"]
        for state in states.values()
        if state["Type"] == "Choice"
        for choice in state.get("Choices", [])
        if choice.get("Variable") == "$.evaluation.report.passed"
    ]
    assert passed == ["RecordInRegistry"]
    assert states["CreateCustomizationJob"]["Next"] != "RecordInRegistry"
    metadata = states["RecordInRegistry"]["Parameters"]["CustomerMetadataProperties"]
    assert metadata["evaluationVerdict"] == "PASSED"
    assert metadata["evaluationReport.$"] == "$.evaluation.report.reportS3Uri"


def test_create_model_package_is_granted_on_the_group_only(recorded: Template) -> None:
    policies = resources_of_type(recorded, "AWS::IAM::Policy")
    grants = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker" in str(statement["Action"])
    ]
    assert len(grants) == 1
    (grant,) = grants
    assert grant["Action"] == "sagemaker:CreateModelPackage"
    assert grant["Effect"] == "Allow"
    assert "Condition" not in grant
    assert sorted(rendered(r) for r in grant["Resource"]) == [
        f"arn:<TOKEN>:sagemaker:<TOKEN>:<TOKEN>:model-package-group/{GROUP}",
        f"arn:<TOKEN>:sagemaker:<TOKEN>:<TOKEN>:model-package/{GROUP}/*",
    ]


def test_default_records_nothing() -> None:
    assert BedrockFineTuneOptions().registry_group_name is None


@pytest.mark.parametrize("name", ["", "-leading", "has space", "x" * 64])
def test_invalid_group_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="registry_group_name"):
        BedrockFineTuneOptions(registry_group_name=name)
