"""LLM-NET rules: one compliant and one non-compliant raw-L1 fixture each."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.checks.rules_network import endpoint_service


def _findings(rule_id: str, resources: dict[str, Any]) -> list[tuple[str, str]]:
    template = {"Resources": resources}
    return [(f.logical_id, f.message) for f in check_template(template, [RULES_BY_ID[rule_id]])]


def _service(name: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, f".{name}"]]}


def _endpoint(name: str, kind: str = "Interface", policy: Any = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "VpcId": {"Ref": "Vpc"},
        "ServiceName": _service(name),
        "VpcEndpointType": kind,
    }
    if policy is not None:
        props["PolicyDocument"] = policy
    return {"Type": "AWS::EC2::VPCEndpoint", "Properties": props}


_ACCOUNT_BUCKETS: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}}},
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*",
        },
    ],
}
_VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}


def test_endpoint_service_names() -> None:
    assert endpoint_service(_service("ecr.api")) == "ecr.api"
    assert endpoint_service("com.amazonaws.us-east-1.s3") == "s3"
    assert endpoint_service({"Fn::Sub": "com.amazonaws.${AWS::Region}.dynamodb"}) == "dynamodb"
    assert endpoint_service({"Ref": "Name"}) is None


# -- LLM-NET1 -------------------------------------------------------------------------------


def test_net1_s3_gateway_with_account_and_named_buckets_passes() -> None:
    assert _findings("LLM-NET1", {"S3": _endpoint("s3", "Gateway", _ACCOUNT_BUCKETS)}) == []


def test_net1_s3_gateway_without_policy_fails() -> None:
    assert _findings("LLM-NET1", {"S3": _endpoint("s3", "Gateway")}) == [
        (
            "S3",
            "S3 gateway endpoint without a policy: it reaches every bucket of the Region, any "
            "account's, the usual exfiltration path.",
        )
    ]


def test_net1_s3_gateway_allowing_every_bucket_fails() -> None:
    policy = copy.deepcopy(_ACCOUNT_BUCKETS)
    del policy["Statement"][0]["Condition"]
    assert [f[0] for f in _findings("LLM-NET1", {"S3": _endpoint("s3", "Gateway", policy)})] == [
        "S3"
    ]


def test_net1_ignores_interface_endpoints() -> None:
    assert _findings("LLM-NET1", {"Ec2": _endpoint("ec2")}) == []


# -- LLM-NET2 -------------------------------------------------------------------------------


def _pcluster(*, dns: bool = True, neuron_args: list[str] | None = None) -> dict[str, Any]:
    slurm: dict[str, Any] = {"QueueUpdateStrategy": "DRAIN"}
    if dns:
        slurm["Dns"] = {"DisableManagedDns": True, "UseEc2Hostnames": True}
    queue: dict[str, Any] = {"Name": "compute", "ComputeResources": []}
    if neuron_args is not None:
        queue["CustomActions"] = {
            "OnNodeConfigured": {"Script": "s3://bucket/install_neuron.sh", "Args": neuron_args}
        }
    return {
        "Type": "Custom::PclusterCluster",
        "Properties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:pcluster",
            "ClusterConfiguration": {
                "Scheduling": {
                    "Scheduler": "slurm",
                    "SlurmSettings": slurm,
                    "SlurmQueues": [queue],
                }
            },
        },
    }


def _closed_pcluster(**cluster: Any) -> dict[str, Any]:
    return {
        "Vpc": _VPC,
        "Cfn": _endpoint("cloudformation"),
        "Ddb": _endpoint("dynamodb", "Gateway"),
        "Cluster": _pcluster(**cluster),
    }


def test_net2_closed_parallelcluster_with_endpoints_and_ec2_hostnames_passes() -> None:
    assert _findings("LLM-NET2", _closed_pcluster()) == []
    mirrored = ["--release", "2.31.0", "--mirror", "https://mirror.internal/neuron"]
    assert _findings("LLM-NET2", _closed_pcluster(neuron_args=mirrored)) == []


def test_net2_closed_parallelcluster_without_dynamodb_endpoint_fails() -> None:
    resources = _closed_pcluster()
    del resources["Ddb"]
    assert _findings("LLM-NET2", resources) == [
        (
            "Cluster",
            "ParallelCluster in a VPC without internet needs a dynamodb Gateway endpoint; the "
            "cluster's nodes cannot reach the service otherwise.",
        )
    ]


def test_net2_closed_parallelcluster_with_managed_dns_fails() -> None:
    assert [m for _, m in _findings("LLM-NET2", _closed_pcluster(dns=False))] == [
        "ParallelCluster in a VPC without internet needs Scheduling/SlurmSettings/Dns "
        "DisableManagedDns: true and UseEc2Hostnames: true (no Route 53)."
    ]


def test_net2_closed_parallelcluster_downloading_neuron_fails() -> None:
    findings = _findings("LLM-NET2", _closed_pcluster(neuron_args=["--release", "2.31.0"]))
    assert [m.split(" installs")[0] for _, m in findings] == ["queue 'compute'"]


def test_net2_does_not_apply_with_a_nat_gateway() -> None:
    resources = _closed_pcluster(dns=False)
    resources["Nat"] = {"Type": "AWS::EC2::NatGateway", "Properties": {}}
    assert _findings("LLM-NET2", resources) == []


# -- LLM-NET3 -------------------------------------------------------------------------------


_HYPERPOD = {
    "Type": "AWS::SageMaker::Cluster",
    "Properties": {
        "Orchestrator": {"Eks": {"ClusterArn": {"Fn::GetAtt": ["Eks", "Arn"]}}},
        "InstanceGroups": [],
    },
}


def test_net3_closed_hyperpod_with_sagemaker_api_endpoint_passes() -> None:
    resources = {"Vpc": _VPC, "Sm": _endpoint("sagemaker.api"), "HyperPod": _HYPERPOD}
    assert _findings("LLM-NET3", resources) == []


def test_net3_closed_hyperpod_without_sagemaker_api_endpoint_fails() -> None:
    resources = {"Vpc": _VPC, "Ecr": _endpoint("ecr.api"), "HyperPod": _HYPERPOD}
    assert _findings("LLM-NET3", resources) == [
        (
            "HyperPod",
            "HyperPod in a VPC without internet needs a sagemaker.api interface endpoint: the "
            "training operator on the private nodes calls the SageMaker API.",
        )
    ]


@pytest.mark.parametrize("gateway", ["AWS::EC2::NatGateway", "AWS::EC2::InternetGateway"])
def test_net3_does_not_apply_with_internet(gateway: str) -> None:
    resources = {"Vpc": _VPC, "Gw": {"Type": gateway, "Properties": {}}, "HyperPod": _HYPERPOD}
    assert _findings("LLM-NET3", resources) == []
