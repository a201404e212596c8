"""The multi-account guide's app: synthesized with explicit accounts, each side checked."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from cdk_support import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "guides" / "promote-across-accounts.md"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    (code,) = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), re.MULTILINE | re.DOTALL)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path_factory.mktemp("example"))
        exec(compile(code, str(GUIDE), "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace


def test_each_stack_lives_in_its_account(synthesized: dict[str, Any]) -> None:
    dev: cdk.Stack = synthesized["dev"]
    prod: cdk.Stack = synthesized["prod"]
    assert (dev.account, prod.account) == ("111111111111", "222222222222")
    assert dev.region == prod.region == "eu-west-1"


def test_dev_promotes_to_prod(synthesized: dict[str, Any]) -> None:
    dev = Template.from_stack(synthesized["dev"])
    dev.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {
                    "ModelPackageGroupName": [Match.any_value()],
                    "ModelApprovalStatus": ["Approved", "Rejected"],
                },
            }
        },
    )
    (forward,) = [
        r
        for r in dev.find_resources("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["source"] == ["cdk-llm-training.promotion"]
    ]
    assert ":222222222222:event-bus/default" in json.dumps(forward["Properties"]["Targets"])
    statements = [
        statement
        for policy in dev.find_resources("AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "222222222222:root" in json.dumps(statement.get("Principal"))
    ]
    (read,) = statements
    assert read["Action"] == "s3:GetObject"
    assert read["Condition"] == {
        "StringEquals": {"s3:ExistingObjectTag/cdk-llm-training-promoted": "true"}
    }


def test_prod_admits_dev_and_registers(synthesized: dict[str, Any]) -> None:
    prod = Template.from_stack(synthesized["prod"])
    prod.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": Match.object_like({"account": ["111111111111"]})},
    )
    prod.resource_count_is("AWS::Events::EventBusPolicy", 1)
    prod.resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)
