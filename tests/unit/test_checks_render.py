"""The rule pack's one renderer of CloudFormation values (checks.render), on the edge cases
where the deploy rules and the key rules used to render differently, and through the rules
that read its output."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.checks.render import UNKNOWN, render
from cdk_llm_training.checks.state_machines import parsed_definition

ROOT_STATEMENT = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": "kms:*",
    "Resource": "*",
}
LOGS_CONTEXT = {
    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111122223333:*"}
}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # Literals. Numbers used to render as "" in the key rules; None as "${?}" in the
        # deploy rules.
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/*"),
        ("", ""),
        (5, "5"),
        (0.5, "0.5"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        # References.
        ({"Ref": "Bucket"}, "${Bucket}"),
        ({"Ref": "AWS::Region"}, "${AWS::Region}"),
        # Fn::GetAtt used to render as "" in the key rules.
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, "${Bucket.Arn}"),
        ({"Fn::GetAtt": "Bucket.Arn"}, "${Bucket.Arn}"),
        # Fn::Join with tokens, nested joins, and a single part standing for the list.
        (
            {"Fn::Join": ["", ["a", {"Ref": "B"}, {"Fn::GetAtt": ["C", "Arn"]}]]},
            "a${B}${C.Arn}",
        ),
        (
            {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
            "logs.${AWS::Region}.amazonaws.com",
        ),
        (
            {"Fn::Join": ["/", [{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}]]}, "x"]]},
            "arn:${AWS::Partition}/x",
        ),
        ({"Fn::Join": [",", {"Ref": "Subnets"}]}, "${Subnets}"),
        ({"Fn::Join": ["-", [1, True, None]]}, "1-true-"),
        # Fn::Sub: its text in both forms (the list form used to render as "" in the key
        # rules); the variables map is not applied.
        ({"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}, "logs.${AWS::Region}.amazonaws.com"),
        ({"Fn::Sub": ["${B}/x", {"B": {"Ref": "Bucket"}}]}, "${B}/x"),
    ],
)
def test_render(value: Any, text: str) -> None:
    assert render(value) == text


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::Select": [0, ["a", "b"]]},
        {"Fn::ImportValue": "Shared-BucketArn"},
        {"Fn::If": ["IsProd", "a", "b"]},
        ["a", "b"],
        {"Fn::Join": ["", [["a", "b"]]]},  # a nested list inside a join
        {"Fn::Join": ["", ["a"], "extra"]},  # malformed: used to raise in the deploy rules
        {"Fn::Join": "a"},
        {"Fn::Sub": [{"Ref": "X"}]},
        {"Fn::GetAtt": ["Bucket"]},
        {"Ref": "Bucket", "Extra": 1},  # not an intrinsic call: two keys
        {"Ref": ["Bucket"]},
        {},
    ],
)
def test_render_unknown(value: Any) -> None:
    assert render(value) == UNKNOWN


def test_unknown_parts_keep_the_known_text() -> None:
    value = {"Fn::Join": ["", ["s3://", {"Fn::ImportValue": "Shared-Bucket"}, "/data/"]]}
    assert render(value) == "s3://${?}/data/"


def test_a_definition_with_tokens_parses_as_json() -> None:
    definition = {
        "Fn::Join": [
            "",
            [
                '{"StartAt":"Run","States":{"Run":{"Type":"Task","Resource":"arn:',
                {"Ref": "AWS::Partition"},
                ':states:::lambda:invoke","Parameters":{"FunctionName":"',
                {"Fn::GetAtt": ["Function", "Arn"]},
                '"},"End":true}}}',
            ],
        ]
    }
    parsed = parsed_definition({"DefinitionString": definition})
    run = parsed["States"]["Run"]
    assert run["Resource"] == "arn:${AWS::Partition}:states:::lambda:invoke"
    assert run["Parameters"]["FunctionName"] == "${Function.Arn}"
    assert parsed_definition({}) is None


def _key_template(service: Any, condition: dict[str, Any]) -> dict[str, Any]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": condition,
    }
    policy = {"Statement": [ROOT_STATEMENT, statement]}
    return {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": policy}}}}


@pytest.mark.parametrize(
    "service",
    [
        "logs.eu-west-1.amazonaws.com",
        {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
        {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"},
        # The list form of Fn::Sub used to render as "" here, so the documented CloudWatch
        # Logs condition was not recognised and the statement was reported.
        {"Fn::Sub": ["logs.${AWS::Region}.amazonaws.com", {}]},
    ],
)
def test_src1_recognises_the_logs_principal_in_every_spelling(service: Any) -> None:
    template = _key_template(service, LOGS_CONTEXT)
    assert check_template(template, [RULES_BY_ID["LLM-SRC1"]]) == []


def test_src1_names_an_attribute_principal_in_its_message() -> None:
    template = _key_template({"Fn::GetAtt": ["Service", "Name"]}, {})
    (finding,) = check_template(template, [RULES_BY_ID["LLM-SRC1"]])
    assert finding.message.startswith("key policy lets ${Service.Name} act without")


def test_dep1_message_renders_a_fixed_joined_name() -> None:
    name = {"Fn::Join": ["-", ["adapters", {"Ref": "AWS::Region"}, 7]]}
    template = {
        "Resources": {
            "Group": {
                "Type": "AWS::Logs::LogGroup",
                "DeletionPolicy": "Retain",
                "Properties": {"LogGroupName": name},
            }
        }
    }
    (finding,) = check_template(template, [RULES_BY_ID["LLM-DEP1"]])
    assert "with the fixed name 'adapters-${AWS::Region}-7'" in finding.message
