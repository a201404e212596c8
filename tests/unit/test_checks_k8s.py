"""LLM-K8S1 (Kubernetes manifests applied before the function's access entry) and LLM-K8S2
(FSx CSI PersistentVolume without Retain): a compliant and a non-compliant raw CloudFormation
fixture each, and the medium tier passes both."""

from __future__ import annotations

import copy
import json
from typing import Any

from aws_cdk.assertions import Template

from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.config import StackName


def _findings(rule_id: str, resources: dict[str, Any]) -> list[tuple[str, str]]:
    template = {"Resources": resources}
    return [(f.logical_id, f.location) for f in check_template(template, [RULES_BY_ID[rule_id]])]


def _volume(policy: str | None, driver: str = "fsx.csi.aws.com") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "capacity": {"storage": "1200Gi"},
        "accessModes": ["ReadWriteMany"],
        "csi": {"driver": driver, "volumeHandle": "fs-1"},
    }
    if policy is not None:
        spec["persistentVolumeReclaimPolicy"] = policy
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "fsx-pv"},
        "spec": spec,
    }


def _resources(items: list[dict[str, Any]], depends_on: list[str]) -> dict[str, Any]:
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    head, tail = text.split("fs-1")
    return {
        "Eks": {"Type": "AWS::EKS::Cluster", "Properties": {}},
        "Entry": {
            "Type": "AWS::EKS::AccessEntry",
            "Properties": {"ClusterName": {"Ref": "Eks"}, "PrincipalArn": "arn:aws:iam::1:role/x"},
        },
        "OtherEks": {"Type": "AWS::EKS::Cluster", "Properties": {}},
        "OtherEntry": {
            "Type": "AWS::EKS::AccessEntry",
            "Properties": {
                "ClusterName": {"Ref": "OtherEks"},
                "PrincipalArn": "arn:aws:iam::1:role/x",
            },
        },
        "FsxVolume": {
            "Type": "Custom::KubernetesManifests",
            "DependsOn": depends_on,
            "Properties": {
                "ServiceToken": "arn:aws:lambda:us-east-1:1:function:f",
                "ClusterName": {"Ref": "Eks"},
                # The file system ID is a token in real templates.
                "Manifest": {"Fn::Join": ["", [head, {"Ref": "FileSystem"}, tail]]},
            },
        },
    }


def test_k8s1_manifests_wait_for_the_access_entry_of_their_cluster() -> None:
    items = [_volume("Retain")]
    assert _findings("LLM-K8S1", _resources(items, [])) == [("FsxVolume", "DependsOn")]
    assert _findings("LLM-K8S1", _resources(items, ["OtherEntry"])) == [("FsxVolume", "DependsOn")]
    assert not _findings("LLM-K8S1", _resources(items, ["Entry"]))
    outside = _resources(items, [])
    outside["FsxVolume"]["Properties"]["ClusterName"] = "existing-cluster"
    assert not _findings("LLM-K8S1", outside)


def test_k8s2_fsx_volumes_are_retained() -> None:
    for policy in ("Delete", "Recycle", None):
        assert _findings("LLM-K8S2", _resources([_volume(policy)], ["Entry"])) == [
            ("FsxVolume", "Properties/Manifest/items/0")
        ]
    assert not _findings("LLM-K8S2", _resources([_volume("Retain")], ["Entry"]))
    # Other drivers' volumes are not this rule's business.
    assert not _findings("LLM-K8S2", _resources([_volume("Delete", "ebs.csi.aws.com")], ["Entry"]))


def test_medium_tier_passes(tier_templates: dict[StackName, Template]) -> None:
    template = copy.deepcopy(tier_templates[StackName.MEDIUM_FINE_TUNE].to_json())
    types = [r["Type"] for r in template["Resources"].values()]
    assert "Custom::KubernetesManifests" in types
    rules = [RULES_BY_ID["LLM-K8S1"], RULES_BY_ID["LLM-K8S2"]]
    assert check_template(template, rules) == []
