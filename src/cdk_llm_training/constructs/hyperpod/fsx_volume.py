"""The static FSx for Lustre volume pods of a HyperPodEksCluster mount."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CustomResource, Stack
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from constructs import IDependable

from cdk_llm_training.config.hyperpod import FsxVolumeOptions
from cdk_llm_training.constructs.hyperpod.chart_install import HyperPodDependencyChart
from cdk_llm_training.constructs.hyperpod.manifests import fsx_volume_manifests
from cdk_llm_training.constructs.hyperpod.volume_apply import apply_fsx_volume
from cdk_llm_training.constructs.training_file_system.reference import (
    LustreFileSystemLike,
    storage_capacity_of,
)


def fsx_volume_manifest(
    stack: Stack,
    *,
    file_system: LustreFileSystemLike,
    options: FsxVolumeOptions,
    fsx_csi_role: iam.Role | None,
    chart: HyperPodDependencyChart | None = None,
    cluster: eks.CfnCluster | None = None,
    apply_after: Sequence[IDependable] = (),
) -> tuple[str, CustomResource | None]:
    """The PersistentVolume and claim manifests of ``file_system`` (its capacity when known)
    as a CloudFormation JSON string, and the resource that applies them at deploy time.

    With a CSI driver role (a new EKS cluster), also lets the driver describe the file system.
    With the in-stack chart install (``chart``) on a new EKS cluster (``cluster``), the
    manifests are applied by ``FsxVolume`` after ``apply_after``; else nothing applies them
    (None) and the manifest is the user's to apply.
    """
    file_system_id = file_system.file_system_id
    manifest = fsx_volume_manifests(
        file_system_id=file_system_id,
        dns_name=file_system.dns_name,
        mount_name=file_system.mount_name,
        storage_capacity_gib=storage_capacity_of(file_system),
        options=options,
    )
    manifest_json = stack.to_json_string(manifest)
    if fsx_csi_role is not None:
        fsx_csi_role.add_to_policy(
            iam.PolicyStatement(
                actions=["fsx:DescribeFileSystems"],
                resources=[
                    stack.format_arn(
                        service="fsx", resource="file-system", resource_name=file_system_id
                    )
                ],
            )
        )
    applied = None
    if chart is not None and cluster is not None:
        applied = apply_fsx_volume(
            chart, cluster=cluster, manifest=manifest, options=options, depends_on=apply_after
        )
    return manifest_json, applied
