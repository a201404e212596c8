"""LLM-LIST1 on raw CloudFormation: a state listing a bucket needs s3:ListBucket on it,
with any s3:prefix condition covering the listed prefix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.checks.rules_model_listing import listed_prefix

LISTING = {
    "Bucket": "<BUCKET>",
    "Prefix.$": "States.Format('checkpoints/{}/model/', $.run.outputName)",
    "MaxKeys": 1,
}


def _machine(parameters: dict[str, Any]) -> Any:
    """A one-state machine; ``"<BUCKET>"`` becomes a Ref to ``Artifacts``."""
    definition = {
        "StartAt": "LocateModel",
        "States": {
            "LocateModel": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
                "Parameters": parameters,
                "End": True,
            }
        },
    }
    before, _, after = json.dumps(definition).partition('"<BUCKET>"')
    parts: list[Any] = [before]
    if after:
        parts += ['"', {"Ref": "Artifacts"}, '"', after]
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "RoleArn": {"Fn::GetAtt": ["WorkflowRole", "Arn"]},
            "DefinitionString": {"Fn::Join": ["", parts]},
        },
    }


def _grant(resource: Any, condition: dict[str, Any] | None = None) -> Any:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "p",
            "Roles": [{"Ref": "WorkflowRole"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        },
    }


def _findings(*grants: Any, parameters: dict[str, Any] | None = None) -> list[str]:
    resources: dict[str, Any] = {
        "WorkflowRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Artifacts": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Machine": _machine(parameters or LISTING),
        **{f"Grant{i}": g for i, g in enumerate(grants)},
    }
    template = {"Resources": resources}
    return [f.message for f in check_template(template, [RULES_BY_ID["LLM-LIST1"]])]


BUCKET_ARN = {"Fn::GetAtt": ["Artifacts", "Arn"]}


@pytest.mark.parametrize(
    "grant",
    [
        _grant(BUCKET_ARN, {"StringLike": {"s3:prefix": ["checkpoints/*"]}}),
        _grant([BUCKET_ARN], {"StringLike": {"s3:prefix": "*"}}),
        _grant(BUCKET_ARN),
        _grant("*"),
    ],
)
def test_list1_a_grant_covering_the_prefix_passes(grant: Any) -> None:
    assert _findings(grant) == []


@pytest.mark.parametrize(
    "grants",
    [
        (),
        (_grant(BUCKET_ARN, {"StringLike": {"s3:prefix": ["adapters/*"]}}),),
        (_grant({"Fn::GetAtt": ["Other", "Arn"]}),),
        (_grant({"Fn::Join": ["", [BUCKET_ARN, "/*"]]}),),  # object ARNs: no listing
    ],
)
def test_list1_no_grant_covering_the_prefix_is_reported(grants: tuple[Any, ...]) -> None:
    (message,) = _findings(*grants)
    assert "lists bucket Artifacts under 'checkpoints/'" in message
    assert "role WorkflowRole has no s3:ListBucket" in message


def test_list1_a_listing_of_the_whole_bucket_needs_an_unconditioned_grant() -> None:
    narrow = _grant(BUCKET_ARN, {"StringLike": {"s3:prefix": ["checkpoints/*"]}})
    (message,) = _findings(narrow, parameters={"Bucket": "<BUCKET>"})
    assert "(the whole bucket)" in message
    assert _findings(_grant(BUCKET_ARN), parameters={"Bucket": "<BUCKET>"}) == []


def test_list1_an_imported_bucket_is_not_checked() -> None:
    assert _findings(parameters={**LISTING, "Bucket": "someone-elses-bucket"}) == []


def test_listed_prefix_reads_the_fixed_head() -> None:
    assert listed_prefix({"Prefix": "a/b/"}) == "a/b/"
    assert listed_prefix(LISTING) == "checkpoints/"
    assert listed_prefix({"Prefix.$": "$.prefix"}) == ""
    assert listed_prefix({}) == ""
