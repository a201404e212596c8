"""Every Kubernetes object the HyperPod EKS path renders validates, strictly (unknown fields
fail), against the OpenAPI schemas of every Kubernetes version the cluster config accepts: the
run's headless Service and Indexed Job (form 1 and the ``fsdp-pretrain`` template), over a
table of run inputs and instance groups, and the FSx PersistentVolumes and claims the stack
applies."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from cdk_llm_training.assets.runtime import cluster_run
from cdk_llm_training.config.catalogs.instances import default_instance_catalog
from cdk_llm_training.config.hyperpod import (
    SUPPORTED_KUBERNETES_VERSIONS,
    FsxVolumeOptions,
    HyperPodClusterOptions,
)
from cdk_llm_training.constructs.cluster_training_run.controller import (
    instance_groups_environment,
)
from cdk_llm_training.constructs.hyperpod.manifests import fsx_volume_manifests

KUBERNETES_VERSION = f"{HyperPodClusterOptions().eks.kubernetes_version}.0"
"""The EKS version HyperPod clusters are created with by default."""
KUBERNETES_VERSIONS = tuple(f"{version}.0" for version in SUPPORTED_KUBERNETES_VERSIONS)
"""Every version ``hyperpod.eks.kubernetes_version`` accepts (the default among them)."""
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
GROUP_TYPES = (
    "ml.p5.48xlarge",
    "ml.p5en.48xlarge",
    "ml.p4d.24xlarge",
    "ml.g5.48xlarge",
    "ml.g6e.2xlarge",
    "ml.trn1.32xlarge",
    "ml.trn2.48xlarge",
)
"""Instance groups of every accelerator family, with and without EFA."""


def _groups() -> dict[str, dict[str, Any]]:
    catalog = default_instance_catalog()
    groups = []
    for instance_type in GROUP_TYPES:
        spec = catalog.get(instance_type.removeprefix("ml."))
        options = SimpleNamespace(
            name=instance_type.removeprefix("ml.").replace(".", "-"),
            instance_type=instance_type,
            instance_count=0,
            max_instance_count=16,
        )
        groups.append(SimpleNamespace(accelerated=True, spec=spec, options=options))
    return instance_groups_environment(SimpleNamespace(instance_groups=groups))  # type: ignore[arg-type]


GROUPS = _groups()


def _environment(monkeypatch: pytest.MonkeyPatch, *, data_claim: bool) -> None:
    for name, value in {
        "INSTANCE_GROUPS": json.dumps(GROUPS),
        "NAMESPACE": "training",
        "CLAIM_NAME": "fsx-claim",
        "DATA_CLAIM_NAME": "fsx-claim-data" if data_claim else "",
        "MOUNT_PATH": "/fsx",
        "DATA_MOUNT_PATH": "/fsx/data",
        "MAX_RUN_HOURS": "336",
        "DEFAULT_RUN_HOURS": "24",
        "TRAINING_SCRIPT_DIR": "/fsx/data/library/training-script/0123456789abcdef",
        "TEMPLATE_IMAGE": "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        "huggingface-pytorch-training:2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04",
    }.items():
        monkeypatch.setenv(name, value)


def _validate(document: dict[str, Any], versions: tuple[str, ...] = (KUBERNETES_VERSION,)) -> None:
    """Raise on any schema violation (strict: a field the API does not know fails)."""
    for version in versions:
        kubernetes_validate.validate(document, version, strict=True)
    name = document["metadata"]["name"]
    assert DNS_LABEL.match(name), name


FORM_1 = {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1", "command": ["x"]}
TEMPLATE: dict[str, Any] = {
    "template": "fsdp-pretrain",
    "parameters": {
        "model": "models/base/",
        "max_steps": 100,
        "global_batch_size": 256,
        "sequence_length": 4096,
    },
}
CASES = [
    pytest.param(group, nodes, job, data_claim, id=f"{group}-{nodes}n-{kind}-{data_claim}")
    for group in GROUPS
    for nodes in (1, 16)
    for kind, job in (
        ("image", FORM_1),
        ("image-env", {**FORM_1, "environment": {"NCCL_DEBUG": "INFO", "FI_PROVIDER": "efa"}}),
        ("template", TEMPLATE),
    )
    for data_claim in (True, False)
]


@pytest.mark.parametrize(("group", "nodes", "job", "data_claim"), CASES)
def test_run_objects_validate(
    monkeypatch: pytest.MonkeyPatch, group: str, nodes: int, job: Any, data_claim: bool
) -> None:
    _environment(monkeypatch, data_claim=data_claim)
    if "template" in job:
        per_step = nodes * GROUPS[group]["acceleratorCount"]
        job = {**job, "parameters": {**job["parameters"], "global_batch_size": per_step * 2}}
    run = cluster_run.validate(
        {
            "job": job,
            "nodes": nodes,
            "instance_group": group,
            "dataset": "datasets/web/v1/",
            "output_name": "pretrain-1",
        },
        "Execution-Name_With.Odd-Characters-0123456789-0123456789-0123456789",
    )
    _validate(run["service"])
    _validate(run["job"])
    pod = run["job"]["spec"]["template"]["spec"]
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == (["fsx-claim", "fsx-claim-data"] if data_claim else ["fsx-claim"])
    # A pod's hostname <job>-<index> must stay a DNS label for the rendezvous address.
    assert DNS_LABEL.match(f"{run['jobName']}-{nodes - 1}")


@pytest.mark.parametrize(
    "options",
    [
        FsxVolumeOptions(),
        FsxVolumeOptions(read_only_data_directory=None),
        FsxVolumeOptions(namespace="training", storage_capacity_gib=4800),
        FsxVolumeOptions(read_only_data_directory="data/curated"),
    ],
    ids=["default", "no-data-claim", "namespace", "nested-data"],
)
def test_fsx_volume_objects_validate(options: FsxVolumeOptions) -> None:
    manifest = fsx_volume_manifests(
        file_system_id="fs-0123456789abcdef0",
        dns_name="fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com",
        mount_name="abcdefgh",
        storage_capacity_gib=2400,
        options=options,
    )
    kinds = [item["kind"] for item in manifest["items"]]
    expected = ["PersistentVolume", "PersistentVolumeClaim"]
    assert kinds == expected * (1 if options.read_only_data_directory is None else 2)
    for item in manifest["items"]:
        _validate(item)
        if item["kind"] == "PersistentVolume":
            assert item["spec"]["persistentVolumeReclaimPolicy"] == "Retain"


def test_every_supported_version_accepts_each_kind_of_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One object of each kind, against every Kubernetes version the config accepts."""
    assert KUBERNETES_VERSION in KUBERNETES_VERSIONS
    _environment(monkeypatch, data_claim=True)
    group = "p5-48xlarge"
    for job in (
        FORM_1,
        {**TEMPLATE, "parameters": {**TEMPLATE["parameters"], "global_batch_size": 16}},
    ):
        run = cluster_run.validate(
            {"job": job, "nodes": 2, "instance_group": group, "dataset": "d/", "output_name": "x"},
            "execution",
        )
        _validate(run["service"], KUBERNETES_VERSIONS)
        _validate(run["job"], KUBERNETES_VERSIONS)
    manifest = fsx_volume_manifests(file_system_id="fs-1", dns_name="d", mount_name="m")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "training"}}
    for item in (namespace, *manifest["items"]):
        _validate(item, KUBERNETES_VERSIONS)


def test_strict_validation_fails_on_an_unknown_field() -> None:
    """The check can fail: a misspelt field of a rendered Job is refused."""
    manifest = fsx_volume_manifests(file_system_id="fs-1", dns_name="d", mount_name="m")
    claim = manifest["items"][1]
    bad = {**claim, "spec": {**claim["spec"], "volumeNmae": "fsx-pv"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    ("instance_type", "processes"),
    [("ml.trn1.32xlarge", "32"), ("ml.trn2.48xlarge", "64"), ("ml.p5.48xlarge", "8")],
)
def test_nproc_per_node_is_one_process_per_neuroncore_or_gpu(
    monkeypatch: pytest.MonkeyPatch, instance_type: str, processes: str
) -> None:
    _environment(monkeypatch, data_claim=False)
    group = instance_type.removeprefix("ml.").replace(".", "-")
    run = cluster_run.validate(
        {
            "job": FORM_1,
            "nodes": 2,
            "instance_group": group,
            "dataset": "datasets/d/",
            "output_name": "nproc",
        },
        "Nproc-1",
    )
    (container,) = run["job"]["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["NPROC_PER_NODE"] == processes
