"""Training nodes cannot change the curated dataset: import-only link, read-only volume."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from cdk_llm_training import fsx_pod_volume, fsx_volume_manifests
from cdk_llm_training.config import StackName
from cdk_llm_training.config.hyperpod import FsxVolumeOptions

FS_ID, FS_DNS, FS_MOUNT = "fs-0123456789abcdef0", "fs.example", "abcdefgh"


def _associations(template: Template) -> dict[str, dict[str, Any]]:
    return {
        resource["Properties"]["FileSystemPath"]: resource["Properties"]
        for resource in template.find_resources("AWS::FSx::DataRepositoryAssociation").values()
    }


def test_cluster_tiers_import_data_only_and_export_checkpoints(
    tier_templates: dict[StackName, Template],
) -> None:
    for name in (StackName.MEDIUM_FINE_TUNE, StackName.LARGE_PRETRAIN):
        links = _associations(tier_templates[name])
        assert "AutoExportPolicy" not in links["/data"]["S3"], name
        assert links["/data"]["S3"]["AutoImportPolicy"]["Events"] == ["NEW", "CHANGED", "DELETED"]
        assert links["/checkpoints"]["S3"]["AutoExportPolicy"]["Events"] == [
            "NEW",
            "CHANGED",
            "DELETED",
        ]


def test_data_volume_is_a_read_only_mount_of_the_data_directory() -> None:
    manifest = fsx_volume_manifests(file_system_id=FS_ID, dns_name=FS_DNS, mount_name=FS_MOUNT)
    kinds = [(item["kind"], item["metadata"]["name"]) for item in manifest["items"]]
    assert kinds == [
        ("PersistentVolume", "fsx-pv"),
        ("PersistentVolumeClaim", "fsx-claim"),
        ("PersistentVolume", "fsx-pv-data"),
        ("PersistentVolumeClaim", "fsx-claim-data"),
    ]
    data_volume, data_claim = manifest["items"][2:]
    assert data_volume["spec"]["csi"] == {
        "driver": "fsx.csi.aws.com",
        "volumeHandle": f"{FS_ID}:data",
        "readOnly": True,
        "volumeAttributes": {"dnsname": FS_DNS, "mountname": f"{FS_MOUNT}/data"},
    }
    assert data_claim["spec"]["volumeName"] == "fsx-pv-data"
    assert data_volume["spec"]["accessModes"] == ["ReadWriteMany"]


def test_pods_mount_the_data_volume_read_only_over_the_writable_one() -> None:
    assert fsx_pod_volume() == {
        "volumes": [
            {"name": "fsx", "persistentVolumeClaim": {"claimName": "fsx-claim"}},
            {
                "name": "fsx-data",
                "persistentVolumeClaim": {"claimName": "fsx-claim-data", "readOnly": True},
            },
        ],
        "volumeMounts": [
            {"name": "fsx", "mountPath": "/fsx"},
            {"name": "fsx-data", "mountPath": "/fsx/data", "readOnly": True},
        ],
    }


def test_the_stack_manifest_output_has_the_read_only_volume(
    tier_templates: dict[StackName, Template],
) -> None:
    outputs = tier_templates[StackName.MEDIUM_FINE_TUNE].find_outputs("FsxVolumeManifest")
    (output,) = outputs.values()
    text = json.dumps(output["Value"])
    assert "fsx-pv-data" in text
    assert '\\\\"readOnly\\\\":true' in text or "readOnly" in text


def test_no_read_only_volume_when_turned_off() -> None:
    options = FsxVolumeOptions(read_only_data_directory=None)
    manifest = fsx_volume_manifests(
        file_system_id=FS_ID, dns_name=FS_DNS, mount_name=FS_MOUNT, options=options
    )
    assert len(manifest["items"]) == 2
