"""The deploy-time apply of the FSx for Lustre PersistentVolumes and claims (and their
namespace) to a HyperPod EKS cluster the stack creates: no ``kubectl apply`` step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CustomResource, Stack
from aws_cdk import aws_eks as eks
from constructs import IDependable

from cdk_llm_training.assets.runtime.kubernetes_apply import RESOURCE_TYPE
from cdk_llm_training.config.hyperpod import FsxVolumeOptions
from cdk_llm_training.constructs.hyperpod.chart_install import HyperPodDependencyChart

BUILT_IN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""Namespaces every cluster has: never applied (nor owned) by the stack."""


def manifest_with_namespace(manifest: dict[str, Any], options: FsxVolumeOptions) -> dict[str, Any]:
    """``manifest`` (a ``List``) with the claims' namespace first when it is not built in."""
    if options.namespace in BUILT_IN_NAMESPACES:
        return manifest
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": options.namespace}}
    return {**manifest, "items": [namespace, *manifest["items"]]}


def apply_fsx_volume(
    chart: HyperPodDependencyChart,
    *,
    cluster: eks.CfnCluster,
    manifest: dict[str, Any],
    options: FsxVolumeOptions,
    depends_on: Sequence[IDependable],
) -> CustomResource:
    """``FsxVolume`` (a ``Custom::KubernetesManifests`` beside the chart install, served by its
    function and access entry) that applies ``manifest`` with its namespace; created after
    ``depends_on`` (the FSx CSI driver add-on) and the access entry."""
    scope = chart.node.scope
    assert scope is not None
    resource = CustomResource(
        scope,  # type: ignore[arg-type]
        "FsxVolume",
        service_token=chart.function.function_arn,
        resource_type=RESOURCE_TYPE,
        properties={
            "ClusterName": cluster.ref,
            "ClusterEndpoint": cluster.attr_endpoint,
            "ClusterCertificateAuthority": cluster.attr_certificate_authority_data,
            "Manifest": Stack.of(chart).to_json_string(manifest_with_namespace(manifest, options)),
        },
    )
    resource.node.add_dependency(chart.access_entry)
    for dependency in depends_on:
        resource.node.add_dependency(dependency)
    return resource
