"""The static FSx for Lustre volume pods of a HyperPodEksCluster mount."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from cdk_llm_training.config.hyperpod import FsxVolumeOptions
from cdk_llm_training.constructs.hyperpod.manifests import fsx_volume_manifests
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
) -> str:
    """The PersistentVolume and claim manifests of ``file_system`` (its capacity when known)
    as a CloudFormation JSON string.

    With a CSI driver role (a new EKS cluster), also lets the driver describe the file system.
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
    return manifest_json
