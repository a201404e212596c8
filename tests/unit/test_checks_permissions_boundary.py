"""LLM-PB1 on raw CloudFormation fixtures: one compliant, several non-compliant."""

from __future__ import annotations

from typing import Any

from cdk_llm_training.checks import RULES_BY_ID, check_template

BOUNDARY = "arn:aws:iam::123456789012:policy/TeamBoundary"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _role(boundary: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {"AssumeRolePolicyDocument": TRUST}
    if boundary is not None:
        props["PermissionsBoundary"] = boundary
    return {"Type": "AWS::IAM::Role", "Properties": props}


def _cluster(iam: dict[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {"Image": {"Os": "alinux2023"}, "HeadNode": {}, "Scheduling": {}}
    if iam is not None:
        config["Iam"] = iam
    return {
        "Type": "Custom::PclusterCluster",
        "Properties": {"ServiceToken": "arn", "ClusterName": "c", "ClusterConfiguration": config},
    }


def _findings(resources: dict[str, Any]) -> list[str]:
    return [
        f.logical_id for f in check_template({"Resources": resources}, [RULES_BY_ID["LLM-PB1"]])
    ]


def test_every_role_and_the_cluster_bounded_is_compliant() -> None:
    resources = {
        "A": _role(BOUNDARY),
        "B": _role(BOUNDARY),
        "Cluster": _cluster({"PermissionsBoundary": BOUNDARY}),
    }
    assert _findings(resources) == []


def test_no_boundary_anywhere_is_not_this_rules_business() -> None:
    assert _findings({"A": _role(None), "Cluster": _cluster(None)}) == []


def test_a_role_without_the_boundary_is_reported() -> None:
    assert _findings({"A": _role(BOUNDARY), "B": _role(None)}) == ["B"]


def test_a_cluster_without_iam_permissions_boundary_is_reported() -> None:
    resources = {
        "A": _role(BOUNDARY),
        "Cluster": _cluster({"ResourcePrefix": "/team/"}),
        "Other": _cluster(None),
    }
    assert _findings(resources) == ["Cluster", "Other"]
