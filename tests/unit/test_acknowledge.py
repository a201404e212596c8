"""How cdk-nag finding ids spell CloudFormation values (``constructs.acknowledgements``)."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_llm_training.constructs.acknowledgements import render_reference

BUCKET_ARN = {"Fn::GetAtt": ["LifecycleBucket1234", "Arn"]}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (BUCKET_ARN, "<LifecycleBucket1234.Arn>"),
        ({"Ref": "AWS::Partition"}, "<AWS::Partition>"),
        (
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::b/*"]]},
            "arn:<AWS::Partition>:s3:::b/*",
        ),
        ({"Fn::Sub": "arn:${AWS::Partition}:logs:*"}, "arn:<AWS::Partition>:logs:*"),
        ({"Fn::ImportValue": "Export"}, "Export"),
        (None, ""),
        (["a"], '["a"]'),
    ],
)
def test_policy_spelling(node: Any, expected: str) -> None:
    assert render_reference(node) == expected


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (BUCKET_ARN, "<LifecycleBucket1234.Arn>"),
        ({"Fn::Join": ["/", [BUCKET_ARN, "hyperpod/*"]]}, "<LifecycleBucket1234.Arn>/hyperpod/*"),
        ("arn:${x}", "arn:${x}"),
    ],
)
def test_literal_spelling_keeps_strings(node: Any, expected: str) -> None:
    assert render_reference(node, template_strings=False) == expected
