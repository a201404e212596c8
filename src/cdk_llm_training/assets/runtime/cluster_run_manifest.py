"""The Kubernetes objects of one multi-node training run on HyperPod EKS (pure functions).

A run is an Indexed ``batch/v1`` Job (one pod per node, ``completions == parallelism ==
nodes``, ``completionMode: Indexed``) and a headless Service of the same name. Kubernetes
gives each pod of an Indexed Job the hostname ``<job>-<index>`` and, with ``subdomain`` set to
the headless Service, the DNS name ``<job>-<index>.<service>``; pod 0 is the rendezvous host
(``MASTER_ADDR``), and ``JOB_COMPLETION_INDEX`` (set by Kubernetes) is the node rank. Any pod
failure fails the Job (``backoffLimit: 0``: a torchrun world cannot lose a member), and
``activeDeadlineSeconds`` bounds the run even if nobody stops it.

Standard library only: this module ships in the Lambda asset.
"""

from __future__ import annotations

import hashlib
from typing import Any

RENDEZVOUS_PORT = 29500
"""torchrun's default rendezvous port (``--master-port``)."""
RUN_LABEL = "llm-training-run"
"""Label on every object of a run: the run's job name (the cancel path selects by it)."""
JOB_NAME_PREFIX = "run-"
NEURON_CORES_PER_NODE = {"trn1.32xlarge": 32, "trn1n.32xlarge": 32, "trn2.48xlarge": 64}
"""NeuronCores per Trainium node (trn2: logical NeuronCores at LNC 2): Neuron runs one training
process per NeuronCore, while the instance catalog and the Neuron device plugin count chips
(16 per trn1 node), so ``NPROC_PER_NODE`` comes from here on Trainium."""


def processes_per_node(instance_type: str, accelerators: int) -> int:
    """``NPROC_PER_NODE`` of ``instance_type`` (``ml.`` prefix or not): one process per
    NeuronCore on Trainium, one per accelerator otherwise."""
    return NEURON_CORES_PER_NODE.get(instance_type.removeprefix("ml."), accelerators)


def job_name_for(execution_name: str) -> str:
    """The Kubernetes name of the run started by the execution ``execution_name``.

    Execution names may hold upper case and characters Kubernetes names refuse, so the name is
    a digest: the workflow and the cancel path derive the same name from the execution alone.
    """
    digest = hashlib.sha256(execution_name.encode("utf-8")).hexdigest()[:20]
    return f"{JOB_NAME_PREFIX}{digest}"


def run_manifests(
    *,
    job_name: str,
    namespace: str,
    image: str,
    command: list[str],
    nodes: int,
    instance_type: str,
    accelerators_per_node: int,
    accelerator_resource: str,
    efa_per_node: int,
    deadline_seconds: int,
    environment: dict[str, str],
    claim_name: str,
    data_claim_name: str | None,
    mount_path: str,
    data_mount_path: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Service, Job) of the run; see the module docstring for the shape.

    The pods run on nodes of ``instance_type`` (the label HyperPod nodes carry,
    ``node.kubernetes.io/instance-type``), request every accelerator and EFA device of the
    node, and mount the FSx claims: ``claim_name`` at ``mount_path`` and, when given, the
    read-only ``data_claim_name`` at ``data_mount_path``.
    """
    labels = {RUN_LABEL: job_name}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": job_name, "namespace": namespace, "labels": labels},
        "spec": {
            "clusterIP": "None",
            "selector": {"job-name": job_name},
            "ports": [{"name": "rendezvous", "port": RENDEZVOUS_PORT}],
            # Pods must resolve each other before they are ready (torchrun starts first).
            "publishNotReadyAddresses": True,
        },
    }
    resources: dict[str, str] = {accelerator_resource: str(accelerators_per_node)}
    if efa_per_node:
        resources["vpc.amazonaws.com/efa"] = str(efa_per_node)
    env = [
        {"name": "MASTER_ADDR", "value": f"{job_name}-0.{job_name}"},
        {"name": "MASTER_PORT", "value": str(RENDEZVOUS_PORT)},
        {"name": "NNODES", "value": str(nodes)},
        {
            "name": "NPROC_PER_NODE",
            "value": str(processes_per_node(instance_type, accelerators_per_node)),
        },
        {
            "name": "NODE_RANK",
            "valueFrom": {
                "fieldRef": {
                    "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                }
            },
        },
        *({"name": k, "value": v} for k, v in sorted(environment.items())),
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "fsx", "persistentVolumeClaim": {"claimName": claim_name}},
        # NCCL and PyTorch use shared memory; the container default (64 MiB) is too small.
        {"name": "shm", "emptyDir": {"medium": "Memory"}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "fsx", "mountPath": mount_path},
        {"name": "shm", "mountPath": "/dev/shm"},
    ]
    if data_claim_name is not None:
        volumes.append(
            {
                "name": "fsx-data",
                "persistentVolumeClaim": {"claimName": data_claim_name, "readOnly": True},
            }
        )
        mounts.append({"name": "fsx-data", "mountPath": data_mount_path, "readOnly": True})
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name, "namespace": namespace, "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": nodes,
            "parallelism": nodes,
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "subdomain": job_name,
                    "restartPolicy": "Never",
                    "nodeSelector": {"node.kubernetes.io/instance-type": instance_type},
                    "containers": [
                        {
                            "name": "trainer",
                            "image": image,
                            "command": command,
                            "env": env,
                            "resources": {"requests": resources, "limits": resources},
                            "volumeMounts": mounts,
                        }
                    ],
                    "volumes": volumes,
                },
            },
        },
    }
    return service, job
