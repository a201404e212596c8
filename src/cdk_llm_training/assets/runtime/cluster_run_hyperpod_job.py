"""The HyperPod training operator's ``HyperPodPyTorchJob`` (``sagemaker.amazonaws.com/v1``)
of a recipe run, rendered as the recipes launcher renders that kind, and read back.

Rendering follows aws/sagemaker-hyperpod-recipes v2.0.9
``launcher/nemo/k8s_templates/training/training.yaml`` with ``useHyperPodPytorchJob`` on:
``spec.nprocPerNode`` (a string), ``spec.runPolicy`` and ``spec.replicaSpecs``: a LIST of one
replica set named ``<nodes>-nodes`` with ``replicas`` and the pod ``template``; the container
gets ``USE_HYPERPODRUN=true`` besides the launcher's other variables. Field names and types
are those of the HyperPod CLI's published model of the CRD (aws/sagemaker-hyperpod-cli,
``src/sagemaker/hyperpod/training/config/hyperpod_pytorch_job_unified_config.py``:
``_HyperPodPytorchJob``, ``ReplicaSpec``, ``RunPolicy``, ``HyperPodPytorchJobStatus``).
Beyond the launcher: the pod keeps the PyTorchJob path's ``restartPolicy: Never`` (the
launcher leaves it unset; a failed container then fails its pod instead of restarting in
place) and ``runPolicy`` adds ``activeDeadlineSeconds`` and ``ttlSecondsAfterFinished``;
``jobMaxRetryCount`` is left to the operator's default (unverified which that is).

Status: the CLI's model documents the condition types as "Complete or Failed"; its
integration tests wait for ``Running``/``PodsRunning`` and ``Completed``. ``Completed`` and
``Complete`` count as success, ``Failed`` as failure, anything else as running (unverified
against a live operator: no AWS documentation page lists the condition types).
Standard library only.
"""

from __future__ import annotations

from typing import Any

KIND = "HyperPodPyTorchJob"
API_GROUP = "sagemaker.amazonaws.com"
API_VERSION = f"{API_GROUP}/v1"
PLURAL = "hyperpodpytorchjobs"
SUCCESS_CONDITIONS = ("Completed", "Complete")
FAILURE_CONDITIONS = ("Failed",)
FINISHED_TTL_SECONDS = 24 * 3600
"""``runPolicy.ttlSecondsAfterFinished``: the CLI's model defaults it to 0 (clean up the job
as soon as it finishes), which would delete the job before the workflow's next status poll
reads how it ended; a day keeps it for that read and for ``kubectl describe``."""


def hyperpod_job(
    *,
    job_name: str,
    namespace: str,
    labels: dict[str, str],
    nodes: int,
    accelerators_per_node: int,
    deadline_seconds: int,
    pod: dict[str, Any],
) -> dict[str, Any]:
    """The ``HyperPodPyTorchJob`` of ``nodes`` worker pods of ``pod`` (its container gains
    ``USE_HYPERPODRUN``, which the recipe containers' train script reads)."""
    spec = pod["spec"]
    container = {
        **spec["containers"][0],
        "env": [*spec["containers"][0]["env"], {"name": "USE_HYPERPODRUN", "value": "true"}],
    }
    template = {**pod, "spec": {**spec, "containers": [container, *spec["containers"][1:]]}}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": job_name, "namespace": namespace, "labels": labels},
        "spec": {
            "nprocPerNode": str(accelerators_per_node),
            "runPolicy": {
                # Keep the pods for their logs, as the PyTorchJob path does.
                "cleanPodPolicy": "None",
                "activeDeadlineSeconds": deadline_seconds,
                "ttlSecondsAfterFinished": FINISHED_TTL_SECONDS,
            },
            "replicaSpecs": [{"name": f"{nodes}-nodes", "replicas": nodes, "template": template}],
        },
    }


def hyperpod_status(job: dict[str, Any]) -> dict[str, Any]:
    """The phase and report fields of a ``HyperPodPyTorchJob`` (``HyperPodPytorchJobStatus``:
    conditions, startTime, completionTime; it has no per-replica counts: succeeded pods are
    the replica set's pods once the job completed, failed pods the operator's latest faulty
    pod list)."""
    job_status = job.get("status", {})
    phase, reason, message = "RUNNING", "", ""
    for condition in job_status.get("conditions", []):
        if condition.get("status") != "True":
            continue
        if condition.get("type") in SUCCESS_CONDITIONS:
            phase = "SUCCEEDED"
        elif condition.get("type") in FAILURE_CONDITIONS:
            phase = "FAILED"
            reason = condition.get("reason", "")
            message = condition.get("message", "")
    faulty = job_status.get("latestFaultyPodInstanceList") or {}
    replicas = sum(r.get("replicas", 0) for r in job.get("spec", {}).get("replicaSpecs", []))
    return {
        "phase": phase,
        "reason": reason,
        "message": message,
        "startTime": job_status.get("startTime", ""),
        "completionTime": job_status.get("completionTime", ""),
        "succeededPods": replicas if phase == "SUCCEEDED" else 0,
        "failedPods": len(faulty.get("faultyPodList") or []),
    }
