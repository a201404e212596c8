"""LLM-TG1, LLM-TG2 and LLM-TG3 on raw CloudFormation: compliant and non-compliant fixtures
(state machines written as CDK renders them: the definition a ``Fn::Join`` around
references)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template

ACCOUNT = {"Ref": "AWS::AccountId"}
PARTITION_ARN = "arn:${AWS::Partition}:{service}:${AWS::Region}:${AWS::AccountId}:{resource}"


def _arn(service: str, resource: str) -> dict[str, Any]:
    return {"Fn::Sub": PARTITION_ARN.replace("{service}", service).replace("{resource}", resource)}


def _machine(resource: str, parameters: dict[str, Any], role: str = "WorkflowRole") -> Any:
    """A one-state machine; ``"<ROLE>"`` in ``parameters`` becomes the ARN of ``PassedRole``."""
    definition = {
        "StartAt": "Step",
        "States": {
            "Step": {
                "Type": "Task",
                "Resource": f"arn:aws:states:::{resource}",
                "Parameters": parameters,
                "End": True,
            }
        },
    }
    text = json.dumps(definition)
    parts: list[Any] = []
    for index, piece in enumerate(text.split('"<ROLE>"')):
        if index:
            parts += ['"', {"Fn::GetAtt": ["PassedRole", "Arn"]}, '"']
        parts.append(piece)
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "RoleArn": {"Fn::GetAtt": [role, "Arn"]},
            "DefinitionString": {"Fn::Join": ["", parts]},
        },
    }


def _role(service: str, condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {"Statement": [statement]}},
    }


def _findings(rule: str, resources: dict[str, Any]) -> list[tuple[str, str]]:
    template = {"Resources": {"WorkflowRole": _role("states.amazonaws.com", None), **resources}}
    return [(f.logical_id, f.message) for f in check_template(template, [RULES_BY_ID[rule]])]


def _deputy(service: str, resource: str, operator: str = "ArnLike") -> dict[str, Any]:
    return {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        operator: {"aws:SourceArn": _arn(service, resource)},
    }


# -- LLM-TG1: the processing-job role (adapter merge) ------------------------------------------

MERGE = "sagemaker:createProcessingJob.sync"
MERGE_PARAMETERS = {"ProcessingJobName.$": "$.name", "RoleArn": "<ROLE>"}


def test_tg1_merge_role_with_the_confused_deputy_conditions_passes() -> None:
    role = _role("sagemaker.amazonaws.com", _deputy("sagemaker", "processing-job/merge-*"))
    resources = {"Merge": _machine(MERGE, MERGE_PARAMETERS), "PassedRole": role}
    assert _findings("LLM-TG1", resources) == []


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (None, "without an aws:SourceAccount condition"),
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, "without an aws:SourceArn"),
        (_deputy("sagemaker", "training-job/*"), "not limited to :processing-job/* resources"),
    ],
    ids=["no-conditions", "no-source-arn", "wrong-resource-type"],
)
def test_tg1_merge_role_without_them_is_reported(
    condition: dict[str, Any] | None, expected: str
) -> None:
    resources = {
        "Merge": _machine(MERGE, MERGE_PARAMETERS),
        "PassedRole": _role("sagemaker.amazonaws.com", condition),
    }
    findings = _findings("LLM-TG1", resources)
    assert findings[0][0] == "PassedRole"
    assert any(expected in message for _, message in findings)


def test_tg1_role_trusting_another_service_is_reported() -> None:
    role = _role("bedrock.amazonaws.com", _deputy("sagemaker", "processing-job/*"))
    resources = {"Merge": _machine(MERGE, MERGE_PARAMETERS), "PassedRole": role}
    assert _findings("LLM-TG1", resources) == [
        (
            "PassedRole",
            "role passed to sagemaker:createProcessingJob does not trust "
            "sagemaker.amazonaws.com (confused deputy).",
        )
    ]


def test_tg1_a_role_from_outside_the_template_is_not_checked() -> None:
    parameters = {"RoleArn": "arn:aws:iam::123456789012:role/elsewhere"}
    assert _findings("LLM-TG1", {"Merge": _machine(MERGE, parameters)}) == []


# -- LLM-TG2: the Bedrock model-import role ----------------------------------------------------

IMPORT = "aws-sdk:bedrock:createModelImportJob"
IMPORT_PARAMETERS = {"jobName.$": "$.name", "importedModelName.$": "$.name", "roleArn": "<ROLE>"}


@pytest.mark.parametrize("operator", ["ArnEquals", "ArnLike"])
def test_tg2_import_role_with_the_documented_trust_passes(operator: str) -> None:
    role = _role("bedrock.amazonaws.com", _deputy("bedrock", "model-import-job/*", operator))
    resources = {"Import": _machine(IMPORT, IMPORT_PARAMETERS), "PassedRole": role}
    assert _findings("LLM-TG2", resources) == []


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (None, "without an aws:SourceAccount condition"),
        (_deputy("bedrock", "model-customization-job/*"), "not limited to :model-import-job/*"),
    ],
    ids=["no-conditions", "customization-jobs"],
)
def test_tg2_import_role_without_it_is_reported(
    condition: dict[str, Any] | None, expected: str
) -> None:
    resources = {
        "Import": _machine(IMPORT, IMPORT_PARAMETERS),
        "PassedRole": _role("bedrock.amazonaws.com", condition),
    }
    findings = _findings("LLM-TG2", resources)
    assert [logical_id for logical_id, _ in findings][:1] == ["PassedRole"]
    assert any(expected in message for _, message in findings)


# -- LLM-TG3: createModelPackage needs the grant on the group ---------------------------------

RECORD = "aws-sdk:sagemaker:createModelPackage"


def _policy(resources: list[Any], action: str = "sagemaker:CreateModelPackage") -> Any:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyDocument": {
                "Statement": [{"Effect": "Allow", "Action": action, "Resource": resources}]
            },
            "Roles": [{"Ref": "WorkflowRole"}],
        },
    }


def _record(group: Any = "custom-models") -> Any:
    return _machine(RECORD, {"ModelPackageGroupName": group, "ModelApprovalStatus": "Approved"})


GROUP_ARN = _arn("sagemaker", "model-package-group/custom-models")


@pytest.mark.parametrize(
    "grant",
    [
        _policy([GROUP_ARN, _arn("sagemaker", "model-package/custom-models/*")]),
        _policy([_arn("sagemaker", "model-package-group/custom-*")]),
        _policy(["*"], action="sagemaker:*"),
    ],
    ids=["group-and-versions", "group-pattern", "everything"],
)
def test_tg3_a_grant_on_the_group_passes(grant: Any) -> None:
    assert _findings("LLM-TG3", {"Record": _record(), "Grant": grant}) == []


@pytest.mark.parametrize(
    "grant",
    [
        _policy([_arn("sagemaker", "model-package/custom-models/*")]),
        _policy([_arn("sagemaker", "model-package-group/other-models")]),
        _policy([GROUP_ARN], action="sagemaker:DescribeModelPackage"),
    ],
    ids=["versions-only", "another-group", "another-action"],
)
def test_tg3_no_grant_on_the_group_is_reported(grant: Any) -> None:
    assert _findings("LLM-TG3", {"Record": _record(), "Grant": grant}) == [
        (
            "Record",
            "a state records a model in model package group 'custom-models', but role "
            "WorkflowRole does not allow sagemaker:CreateModelPackage on "
            "model-package-group/custom-models.",
        )
    ]


def test_tg3_follows_a_group_of_the_template_referenced_by_arn() -> None:
    group = {
        "Type": "AWS::SageMaker::ModelPackageGroup",
        "Properties": {"ModelPackageGroupName": "custom-models"},
    }
    grant = _policy([{"Fn::GetAtt": ["Group", "ModelPackageGroupArn"]}])
    assert _findings("LLM-TG3", {"Record": _record(), "Grant": grant, "Group": group}) == []
    ungranted = _policy([_arn("sagemaker", "model-package-group/x")])
    assert len(_findings("LLM-TG3", {"Record": _record(), "Grant": ungranted, "Group": group})) == 1


def test_tg3_a_group_chosen_at_run_time_is_not_checked() -> None:
    machine = _machine(RECORD, {"ModelPackageGroupName.$": "$.group"})
    assert _findings("LLM-TG3", {"Record": machine}) == []
