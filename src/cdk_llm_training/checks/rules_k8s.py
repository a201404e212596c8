"""Deploy-time contracts of the Kubernetes objects a stack applies to its EKS cluster
(``Custom::KubernetesManifests``: the FSx for Lustre PersistentVolumes and claims)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id

MANIFESTS_TYPE = "Custom::KubernetesManifests"
FSX_CSI_DRIVER = "fsx.csi.aws.com"


def _manifest_items(props: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The items of the Manifest property (tokens read as placeholder text), or None when
    it cannot be read."""
    value = props.get("Manifest")
    if isinstance(value, Mapping) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        value = separator.join(p if isinstance(p, str) else "TOKEN" for p in parts)
    if not isinstance(value, str):
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    items = document.get("items") if isinstance(document, Mapping) else None
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else None


def _check_access_entry(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for resource_id, props in view.of_type(MANIFESTS_TYPE):
        cluster_id = referenced_id(props.get("ClusterName"))
        if view.type_of(cluster_id) != "AWS::EKS::Cluster":
            continue  # a cluster from outside the template: its access is managed there
        depends_on = [str(d) for d in as_list(view.resources[resource_id].get("DependsOn"))]
        if not any(
            view.type_of(dep) == "AWS::EKS::AccessEntry"
            and referenced_id(view.properties(dep).get("ClusterName")) == cluster_id
            for dep in depends_on
        ):
            findings.append(
                (
                    resource_id,
                    f"applies Kubernetes objects to {cluster_id} without depending on an "
                    "AWS::EKS::AccessEntry of that cluster; the API server refuses the "
                    "function until its access entry exists.",
                    "DependsOn",
                )
            )
    return findings


def _check_reclaim_policy(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for resource_id, props in view.of_type(MANIFESTS_TYPE):
        for index, item in enumerate(_manifest_items(props) or []):
            spec = item.get("spec")
            if item.get("kind") != "PersistentVolume" or not isinstance(spec, Mapping):
                continue
            csi = spec.get("csi")
            if not isinstance(csi, Mapping) or csi.get("driver") != FSX_CSI_DRIVER:
                continue
            policy = spec.get("persistentVolumeReclaimPolicy")
            if policy != "Retain":
                name = item.get("metadata", {}).get("name")
                findings.append(
                    (
                        resource_id,
                        f"PersistentVolume {name!r} of the FSx CSI driver has reclaim policy "
                        f"{policy!r}; with Delete, releasing its claim asks the driver to "
                        "delete the file system.",
                        f"Properties/Manifest/items/{index}",
                    )
                )
    return findings


K8S_RULES: tuple[Rule, ...] = (
    Rule(
        "LLM-K8S1",
        "Kubernetes manifests applied before the applying function's EKS access entry exists "
        "(Amazon EKS User Guide, 'Grant IAM users access to Kubernetes with EKS access "
        "entries').",
        Severity.ERROR,
        "With API authentication, an IAM principal reaches the Kubernetes API only through an "
        "access entry; a custom resource that may run before that entry is created fails the "
        "deployment with Unauthorized.",
        "Make the custom resource depend on the AWS::EKS::AccessEntry of its function's role "
        "(HyperPodEksCluster's FsxVolume depends on the chart install's access entry).",
        _check_access_entry,
    ),
    Rule(
        "LLM-K8S2",
        "Static FSx for Lustre PersistentVolume without reclaim policy Retain (Kubernetes "
        "documentation, 'Persistent Volumes': Reclaiming).",
        Severity.ERROR,
        "A Delete reclaim policy removes the volume's storage asset in the external "
        "infrastructure when its claim is released: for the FSx CSI driver, the file system "
        "holding the training data and checkpoints.",
        "Set persistentVolumeReclaimPolicy: Retain on every FSx CSI PersistentVolume the stack "
        "applies (fsx_volume_manifests does).",
        _check_reclaim_policy,
    ),
)
