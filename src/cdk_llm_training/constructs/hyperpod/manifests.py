"""Kubernetes manifests that offer an FSx for Lustre file system to HyperPod pods.

A static PersistentVolume for the FSx CSI driver (``fsx.csi.aws.com``) plus a claim bound to
it, and a second, read-only pair for the data directory (the driver mounts
``<dns>@tcp:/<mountname>``, so a ``mountname`` of ``<mount name>/data`` mounts that
subdirectory, and ``csi.readOnly`` makes it an ``ro`` mount). Values may be CDK tokens (the
file system's attributes); render the result with ``Stack.to_json_string`` to get a
CloudFormation string, or with ``json.dumps`` when every value is concrete.
"""

from __future__ import annotations

from typing import Any

from cdk_llm_training.config.hyperpod import FsxVolumeOptions

FSX_CSI_DRIVER = "fsx.csi.aws.com"
FSX_CSI_CONTROLLER_SERVICE_ACCOUNT = "fsx-csi-controller-sa"
DEFAULT_VOLUME_CAPACITY_GIB = 1200
"""Capacity a volume states when neither the options nor the file system give one (the
smallest FSx for Lustre PERSISTENT_2 file system)."""


def fsx_volume_manifests(
    *,
    file_system_id: str,
    dns_name: str,
    mount_name: str,
    storage_capacity_gib: int | None = None,
    options: FsxVolumeOptions | None = None,
) -> dict[str, Any]:
    """A Kubernetes ``List`` with the PersistentVolume and PersistentVolumeClaim.

    ``kubectl apply -f`` accepts the JSON form of this object. Pods mount the claim at
    ``options.mount_path`` (``/fsx``) and find ``data/`` and ``checkpoints/`` under it. The
    stated capacity (informational for a static volume) is ``options.storage_capacity_gib``,
    else ``storage_capacity_gib`` (the file system's), else
    :data:`DEFAULT_VOLUME_CAPACITY_GIB`.
    """
    opts = options or FsxVolumeOptions()
    gib = opts.storage_capacity_gib or storage_capacity_gib or DEFAULT_VOLUME_CAPACITY_GIB
    capacity = f"{gib}Gi"
    items = _volume_and_claim(
        volume_name=opts.persistent_volume_name,
        claim_name=opts.claim_name,
        namespace=opts.namespace,
        capacity=capacity,
        volume_handle=file_system_id,
        dns_name=dns_name,
        mount_name=mount_name,
    )
    if opts.read_only_data_directory is not None:
        # ReadWriteMany is the only multi-node access mode the FSx CSI driver accepts;
        # ``csi.readOnly`` makes the data directory's mount ``ro``.
        items += _volume_and_claim(
            volume_name=f"{opts.persistent_volume_name}-data",
            claim_name=f"{opts.claim_name}-data",
            namespace=opts.namespace,
            capacity=capacity,
            volume_handle=f"{file_system_id}:{opts.read_only_data_directory}",
            dns_name=dns_name,
            mount_name=f"{mount_name}/{opts.read_only_data_directory}",
            read_only=True,
        )
    return {"apiVersion": "v1", "kind": "List", "items": items}


def _volume_and_claim(
    *,
    volume_name: str,
    claim_name: str,
    namespace: str,
    capacity: str,
    volume_handle: str,
    dns_name: str,
    mount_name: str,
    read_only: bool = False,
) -> list[dict[str, Any]]:
    """A static FSx CSI PersistentVolume and the claim bound to it."""
    csi: dict[str, Any] = {"driver": FSX_CSI_DRIVER, "volumeHandle": volume_handle}
    if read_only:
        csi["readOnly"] = True
    csi["volumeAttributes"] = {"dnsname": dns_name, "mountname": mount_name}
    volume: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": volume_name},
        "spec": {
            "capacity": {"storage": capacity},
            "volumeMode": "Filesystem",
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "mountOptions": ["flock"],
            "csi": csi,
        },
    }
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": claim_name, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": "",
            "resources": {"requests": {"storage": capacity}},
            "volumeName": volume_name,
        },
    }
    return [volume, claim]


def fsx_pod_volume(options: FsxVolumeOptions | None = None) -> dict[str, Any]:
    """The ``volumes`` and ``volumeMounts`` entries a training pod uses to see ``/fsx``."""
    opts = options or FsxVolumeOptions()
    volumes: list[dict[str, Any]] = [
        {"name": "fsx", "persistentVolumeClaim": {"claimName": opts.claim_name}}
    ]
    mounts: list[dict[str, Any]] = [{"name": "fsx", "mountPath": opts.mount_path}]
    if opts.read_only_data_directory is not None:
        # Mounted over <mount_path>/data: the writable volume's copy of it is hidden.
        volumes.append(
            {
                "name": "fsx-data",
                "persistentVolumeClaim": {"claimName": f"{opts.claim_name}-data", "readOnly": True},
            }
        )
        mounts.append(
            {
                "name": "fsx-data",
                "mountPath": f"{opts.mount_path.rstrip('/')}/{opts.read_only_data_directory}",
                "readOnly": True,
            }
        )
    return {"volumes": volumes, "volumeMounts": mounts}
