"""Kubernetes manifests that offer an FSx for Lustre file system to HyperPod pods.

A static PersistentVolume for the FSx CSI driver (``fsx.csi.aws.com``) plus a claim bound to
it. Values may be CDK tokens (the file system's attributes); render the result with
``Stack.to_json_string`` to get a CloudFormation string, or with ``json.dumps`` when every
value is concrete.
"""

from __future__ import annotations

from typing import Any

from cdk_llm_training.config.hyperpod import FsxVolumeOptions

FSX_CSI_DRIVER = "fsx.csi.aws.com"
FSX_CSI_CONTROLLER_SERVICE_ACCOUNT = "fsx-csi-controller-sa"


def fsx_volume_manifests(
    *,
    file_system_id: str,
    dns_name: str,
    mount_name: str,
    options: FsxVolumeOptions | None = None,
) -> dict[str, Any]:
    """A Kubernetes ``List`` with the PersistentVolume and PersistentVolumeClaim.

    ``kubectl apply -f`` accepts the JSON form of this object. Pods mount the claim at
    ``options.mount_path`` (``/fsx``) and find ``data/`` and ``checkpoints/`` under it.
    """
    opts = options or FsxVolumeOptions()
    capacity = f"{opts.storage_capacity_gib}Gi"
    volume: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": opts.persistent_volume_name},
        "spec": {
            "capacity": {"storage": capacity},
            "volumeMode": "Filesystem",
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "mountOptions": ["flock"],
            "csi": {
                "driver": FSX_CSI_DRIVER,
                "volumeHandle": file_system_id,
                "volumeAttributes": {"dnsname": dns_name, "mountname": mount_name},
            },
        },
    }
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": opts.claim_name, "namespace": opts.namespace},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": "",
            "resources": {"requests": {"storage": capacity}},
            "volumeName": opts.persistent_volume_name,
        },
    }
    return {"apiVersion": "v1", "kind": "List", "items": [volume, claim]}


def fsx_pod_volume(options: FsxVolumeOptions | None = None) -> dict[str, Any]:
    """The ``volumes`` and ``volumeMounts`` entries a training pod uses to see ``/fsx``."""
    opts = options or FsxVolumeOptions()
    return {
        "volumes": [{"name": "fsx", "persistentVolumeClaim": {"claimName": opts.claim_name}}],
        "volumeMounts": [{"name": "fsx", "mountPath": opts.mount_path}],
    }
