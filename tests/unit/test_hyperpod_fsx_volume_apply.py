"""Synth assertions: the cluster tiers apply the FSx PersistentVolumes and claims at deploy
time (``Custom::KubernetesManifests`` served by the chart-install function, after the FSx CSI
add-on and the access entry), and the HyperPod run controller gets the staged training
script and the template image of the ``fsdp-pretrain`` job template."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import kubernetes_validate  # type: ignore[import-untyped]
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Template
from cdk_support import flow_log_options, new_stack, template_of

from cdk_llm_training import (
    DependencyChartOptions,
    FsxVolumeOptions,
    HyperPodClusterOptions,
    HyperPodEksCluster,
    LargePretrainStack,
    LustreFileSystemAttributes,
)
from cdk_llm_training.assets.runtime.kubernetes_apply import RESOURCE_TYPE
from cdk_llm_training.config import StackName
from cdk_llm_training.config.hyperpod import DependencyInstall
from cdk_llm_training.constructs.cluster_training_run.templates import (
    SCRIPT_PREFIX,
    script_digest,
)
from cdk_llm_training.constructs.hyperpod.chart_install import CHART_INSTALL_RESOURCE_TYPE

KUBERNETES_VERSION = f"{HyperPodClusterOptions().eks.kubernetes_version}.0"


def _one(template: Template, type_: str) -> tuple[str, Any]:
    (item,) = template.find_resources(type_).items()
    return item


def _rendered_manifest(resource: dict[str, Any]) -> dict[str, Any]:
    """The Manifest property with every token replaced by a placeholder string."""
    value = resource["Properties"]["Manifest"]
    if isinstance(value, str):
        return dict(json.loads(value))
    parts = value["Fn::Join"][1]
    return dict(json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts)))


def _check_applied_volume(template: Template) -> dict[str, Any]:
    logical_id, resource = _one(template, RESOURCE_TYPE)
    chart_id, _ = _one(template, CHART_INSTALL_RESOURCE_TYPE)
    chart = template.to_json()["Resources"][chart_id]
    # Served by the chart-install function (same VPC placement, same admin access entry).
    assert resource["Properties"]["ServiceToken"] == chart["Properties"]["ServiceToken"]
    addons = template.find_resources("AWS::EKS::Addon")
    (fsx_csi,) = [
        k for k, v in addons.items() if v["Properties"]["AddonName"] == "aws-fsx-csi-driver"
    ]
    entries = template.find_resources("AWS::EKS::AccessEntry")
    (entry,) = [k for k in entries if k.startswith("HyperPodDependencyChartAccessEntry")]
    assert {fsx_csi, entry} <= set(resource["DependsOn"])
    assert resource["DeletionPolicy"] == "Delete"
    assert logical_id.startswith("HyperPodFsxVolume")
    manifest = _rendered_manifest(resource)
    for item in manifest["items"]:
        kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
        if item["kind"] == "PersistentVolume":
            assert item["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    return manifest


def test_medium_tier_applies_the_fsx_volume_at_deploy_time(
    tier_templates: dict[StackName, Template],
) -> None:
    template = tier_templates[StackName.MEDIUM_FINE_TUNE]
    manifest = _check_applied_volume(template)
    assert [i["kind"] for i in manifest["items"]] == [
        "PersistentVolume",
        "PersistentVolumeClaim",
    ] * 2
    output = template.find_outputs("FsxVolumeManifest")["FsxVolumeManifest"]
    assert "applied by the stack at deploy time" in output["Description"]


def test_large_nvidia_tier_applies_the_fsx_volume_and_stages_the_script(
    large_nvidia_stack: LargePretrainStack,
) -> None:
    template = template_of(large_nvidia_stack)
    _check_applied_volume(template)
    (controller,) = [
        r
        for r in template.find_resources("AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == "cluster_run.handler"
    ]
    env = controller["Properties"]["Environment"]["Variables"]
    assert env["TRAINING_SCRIPT_DIR"] == f"/fsx/data/{SCRIPT_PREFIX}{script_digest()}"
    image = json.dumps(env["TEMPLATE_IMAGE"])
    assert "huggingface-pytorch-training:2.9.0-transformers5.3.0-gpu-py312-cu130" in image
    deployments = [
        r
        for r in template.find_resources("Custom::CDKBucketDeployment").values()
        if r["Properties"].get("DestinationBucketKeyPrefix") == f"{SCRIPT_PREFIX}{script_digest()}/"
    ]
    (deployment,) = deployments
    assert deployment["Properties"]["Prune"] is False
    assert deployment["Properties"]["RetainOnDelete"] is True
    assert "Curated" in json.dumps(deployment["Properties"]["DestinationBucketName"])


def _cluster(options: HyperPodClusterOptions) -> cdk.Stack:
    stack = new_stack(nag=False)
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(
                name="compute", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
            ),
        ],
        flow_logs=flow_log_options(stack),
    )
    sg = ec2.SecurityGroup(stack, "Efa", vpc=vpc, allow_all_outbound=False)
    HyperPodEksCluster(
        stack,
        "HyperPod",
        vpc=vpc,
        subnet=vpc.private_subnets[0],
        security_groups=[sg],
        options=options,
        file_system=LustreFileSystemAttributes(
            file_system_id="fs-0123456789abcdef0",
            dns_name="fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com",
            mount_name="abcdefgh",
        ),
    )
    return stack


def test_a_namespace_of_its_own_is_applied_first_and_preinstalled_charts_apply_nothing() -> None:
    stack = _cluster(HyperPodClusterOptions(fsx_volume=FsxVolumeOptions(namespace="training")))
    manifest = _check_applied_volume(template_of(stack))
    assert manifest["items"][0] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "training"},
    }
    assert {i["metadata"].get("namespace") for i in manifest["items"][1:]} == {None, "training"}

    preinstalled = _cluster(
        HyperPodClusterOptions(
            dependency_chart=DependencyChartOptions(install=DependencyInstall.PREINSTALLED)
        )
    )
    assert template_of(preinstalled).find_resources(RESOURCE_TYPE) == {}
