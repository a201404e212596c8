"""LLM-HP6 (SSM messages on the HyperPod execution role) and LLM-HP7 (dependency chart
installed before a HyperPod cluster on a new EKS cluster): a compliant and a non-compliant
raw CloudFormation fixture each."""

from __future__ import annotations

import copy
from typing import Any

from cdk_llm_training.checks import RULES_BY_ID, check_template

SSM = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]


def _findings(rule_id: str, resources: dict[str, Any]) -> list[tuple[str, str]]:
    template = {"Resources": resources}
    return [(f.logical_id, f.message) for f in check_template(template, [RULES_BY_ID[rule_id]])]


def _cluster(**extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::SageMaker::Cluster",
        "Properties": {
            "InstanceGroups": [
                {
                    "InstanceGroupName": "workers",
                    "InstanceType": "ml.p5.48xlarge",
                    "InstanceCount": 1,
                    "ExecutionRole": {"Fn::GetAtt": ["Role", "Arn"]},
                    "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-x/", "OnCreate": "a.sh"},
                }
            ],
            "Orchestrator": {"Eks": {"ClusterArn": {"Fn::GetAtt": ["Eks", "Arn"]}}},
            "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
        },
        **extra,
    }


ROLE: dict[str, Any] = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ]
        }
    },
}


def _policy(actions: list[str]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "p",
            "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
            },
        },
    }


# -- LLM-HP6 --------------------------------------------------------------------------------


def test_hp6_role_with_ssm_messages_or_the_managed_policy_passes() -> None:
    assert _findings("LLM-HP6", {"Cluster": _cluster(), "Role": ROLE, "P": _policy(SSM)}) == []
    assert (
        _findings("LLM-HP6", {"Cluster": _cluster(), "Role": ROLE, "P": _policy(["ssmmessages:*"])})
        == []
    )
    managed = copy.deepcopy(ROLE)
    managed["Properties"]["ManagedPolicyArns"] = [
        "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"
    ]
    assert _findings("LLM-HP6", {"Cluster": _cluster(), "Role": managed}) == []


def test_hp6_role_without_ssm_messages_is_reported() -> None:
    policy = _policy(["ecr:BatchGetImage", "ssmmessages:CreateControlChannel"])
    assert _findings("LLM-HP6", {"Cluster": _cluster(), "Role": ROLE, "P": policy}) == [
        (
            "Cluster",
            "instance group 'workers': execution role Role has neither "
            "AmazonSageMakerClusterInstanceRolePolicy nor ssmmessages:CreateDataChannel, "
            "ssmmessages:OpenControlChannel, ssmmessages:OpenDataChannel; Session Manager "
            "cannot reach its nodes.",
        )
    ]


def test_hp6_ignores_roles_from_outside_the_template() -> None:
    cluster = _cluster()
    cluster["Properties"]["InstanceGroups"][0]["ExecutionRole"] = "arn:aws:iam::1:role/x"
    assert _findings("LLM-HP6", {"Cluster": cluster}) == []


# -- LLM-HP7 --------------------------------------------------------------------------------

EKS = {"Type": "AWS::EKS::Cluster", "Properties": {"RoleArn": "arn:aws:iam::1:role/eks"}}
INSTALL = {
    "Type": "Custom::HyperPodDependencyChart",
    "Properties": {"ServiceToken": "arn:aws:lambda:x", "ClusterName": {"Ref": "Eks"}},
}


def test_hp7_cluster_after_the_chart_install_passes() -> None:
    resources = {"Cluster": _cluster(DependsOn=["Install"]), "Eks": EKS, "Install": INSTALL}
    assert _findings("LLM-HP7", resources) == []


def test_hp7_cluster_without_the_install_is_reported() -> None:
    wait = {"Type": "AWS::CloudFormation::WaitCondition", "Properties": {"Count": 1}}
    resources = {"Cluster": _cluster(DependsOn=["Wait"]), "Eks": EKS, "Wait": wait}
    assert _findings("LLM-HP7", resources) == [
        (
            "Cluster",
            "the HyperPod cluster orchestrated by Eks (created in this template) does not "
            "depend on a resource that installs the HyperPod dependency Helm chart on that EKS "
            "cluster; the chart must be there before the cluster is created.",
        )
    ]


def test_hp7_ignores_an_existing_eks_cluster() -> None:
    cluster = _cluster()
    cluster["Properties"]["Orchestrator"]["Eks"]["ClusterArn"] = "arn:aws:eks:x:1:cluster/c"
    assert _findings("LLM-HP7", {"Cluster": cluster}) == []
