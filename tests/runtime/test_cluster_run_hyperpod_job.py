"""Recipe runs rendered as the HyperPod training operator's ``HyperPodPyTorchJob``: the job
against a schema of the CRD written below, its pod template, ConfigMap and RBAC against the
Kubernetes API schemas (kubernetes-validate), what the launcher renders for that kind, the
status conditions, and the controller's choice of kind by ``RECIPE_JOB_KIND``."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from cdk_llm_training.assets.runtime import cluster_run_hyperpod_job as hyperpod
from cdk_llm_training.assets.runtime import cluster_run_recipe as recipe
from cdk_llm_training.assets.runtime import cluster_run_recipe_actions as actions
from cdk_llm_training.constructs.cluster_training_run.recipes import recipe_rbac_manifests

KUBERNETES = "1.32"
NAME = "fine-tuning/llama/llmft_tiny_sft_lora"
JOB_NAME = "run-0123456789abcdef0123"
RECIPE = """\
run:
  name: tiny-sft
  model_type: llm_finetuning_aws
  results_dir: ${base_results_dir}/${.name}
trainer:
  devices: 8
  num_nodes: 1
training_config:
  training_args:
    max_epochs: 5
"""

_INT32 = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
# HyperPodPyTorchJob (group sagemaker.amazonaws.com, version v1), from the fields the HyperPod
# CLI publishes for the CRD (aws/sagemaker-hyperpod-cli, src/sagemaker/hyperpod/training/
# config/hyperpod_pytorch_job_unified_config.py, models generated from the CRD with
# extra="forbid"): spec has nprocPerNode (string: auto, cpu, gpu or an int), replicaSpecs (a
# LIST of {name (required), replicas, maxReplicas, spares, template}), runPolicy
# ({activeDeadlineSeconds, cleanPodPolicy, faultDeadlineSeconds, jobMaxRetryCount,
# logMonitoringConfiguration, restartPolicy, startupDeadlineSeconds, suspend,
# ttlSecondsAfterFinished, workloadMode}) and elasticPolicy. cleanPodPolicy's values are those
# the recipes launcher v2.0.9 accepts (launcher/config_validator/value_validator.py). Unknown
# fields are refused, as the API server would prune them.
HYPERPOD_JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "sagemaker.amazonaws.com/v1"},
        "kind": {"const": "HyperPodPyTorchJob"},
        "metadata": {
            "type": "object",
            "required": ["name", "namespace"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "nprocPerNode": {"type": "string", "pattern": "^(auto|cpu|gpu|[0-9]+)$"},
                "elasticPolicy": {"type": "object"},
                "runPolicy": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "activeDeadlineSeconds": {"type": "integer", "minimum": 1},
                        "cleanPodPolicy": {"enum": ["All", "Running", "None"]},
                        "faultDeadlineSeconds": {"type": "integer"},
                        "jobMaxRetryCount": {"type": "integer"},
                        "logMonitoringConfiguration": {"type": "array"},
                        "restartPolicy": {"type": "object"},
                        "startupDeadlineSeconds": {"type": "integer"},
                        "suspend": {"type": "boolean"},
                        "ttlSecondsAfterFinished": {"type": "integer", "minimum": -1},
                        "workloadMode": {"type": "string"},
                    },
                },
                "replicaSpecs": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "replicas": _INT32,
                            "maxReplicas": _INT32,
                            "spares": _INT32,
                            "template": {"type": "object"},
                        },
                    },
                },
            },
        },
    },
}


def _manifests(nodes: int = 2, kind: str = hyperpod.KIND) -> tuple[dict[str, Any], dict[str, Any]]:
    config = recipe.recipe_config(
        yaml.safe_load(RECIPE), [], nodes=nodes, devices=8, results_dir="/fsx/checkpoints/t"
    )
    return recipe.recipe_manifests(
        job_name=JOB_NAME,
        namespace="default",
        recipe_name=NAME,
        config=config,
        image="111122223333.dkr.ecr.us-east-1.amazonaws.com/r:llmft-1",
        nodes=nodes,
        instance_type="ml.p5.48xlarge",
        accelerators_per_node=8,
        accelerator_resource="nvidia.com/gpu",
        efa_per_node=32,
        deadline_seconds=3600,
        environment={"DATASET_DIR": "/fsx/data/d/", "CHECKPOINT_DIR": "/fsx/checkpoints/t"},
        volumes=[{"name": "fsx", "persistentVolumeClaim": {"claimName": "fsx-claim"}}],
        mounts=[{"name": "fsx", "mountPath": "/fsx"}],
        labels={"llm-training-run": JOB_NAME},
        kind=kind,
    )


def test_hyperpod_job_validates_against_the_crd_and_kubernetes_schemas() -> None:
    config_map, job = _manifests()
    jsonschema.validate(job, HYPERPOD_JOB_SCHEMA)
    kubernetes_validate.validate(config_map, KUBERNETES, strict=True)
    (replica_set,) = job["spec"]["replicaSpecs"]
    pod_template = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": "worker", "namespace": "default"},
        "template": replica_set["template"],
    }
    kubernetes_validate.validate(pod_template, KUBERNETES, strict=True)
    for item in recipe_rbac_manifests("default", hyperpod_job=True):
        kubernetes_validate.validate(item, KUBERNETES, strict=True)


def test_schema_catches_the_pytorchjob_shape_and_pruned_fields() -> None:
    _, pytorchjob = _manifests(kind=recipe.KIND)
    as_hyperpod = {**pytorchjob, "apiVersion": hyperpod.API_VERSION, "kind": hyperpod.KIND}
    with pytest.raises(jsonschema.ValidationError, match="pytorchReplicaSpecs"):
        jsonschema.validate(as_hyperpod, HYPERPOD_JOB_SCHEMA)
    _, job = _manifests()
    job["spec"]["runPolicy"]["backoffLimit"] = 0  # a Kubeflow field this CRD does not have
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(job, HYPERPOD_JOB_SCHEMA)
    _, job = _manifests()
    job["spec"]["replicaSpecs"] = {"Worker": job["spec"]["replicaSpecs"][0]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(job, HYPERPOD_JOB_SCHEMA)


def test_job_is_what_the_launcher_renders_for_the_hyperpod_kind() -> None:
    config_map, job = _manifests(nodes=2)
    _, pytorchjob = _manifests(nodes=2, kind=recipe.KIND)
    assert job["apiVersion"] == "sagemaker.amazonaws.com/v1"
    assert job["metadata"] == pytorchjob["metadata"]
    assert job["spec"]["nprocPerNode"] == "8"
    (replica_set,) = job["spec"]["replicaSpecs"]
    assert (replica_set["name"], replica_set["replicas"]) == ("2-nodes", 2)
    assert job["spec"]["runPolicy"] == {
        "cleanPodPolicy": "None",
        "activeDeadlineSeconds": 3600,
        "ttlSecondsAfterFinished": hyperpod.FINISHED_TTL_SECONDS,
    }
    pod = replica_set["template"]["spec"]
    kubeflow_pod = pytorchjob["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]
    (container,) = pod["containers"]
    (kubeflow_container,) = kubeflow_pod["containers"]
    # The same pod as the PyTorchJob path, plus the launcher's USE_HYPERPODRUN.
    assert container["env"][-1] == {"name": "USE_HYPERPODRUN", "value": "true"}
    assert container["env"][:-1] == kubeflow_container["env"]
    assert {k: v for k, v in container.items() if k != "env"} == {
        k: v for k, v in kubeflow_container.items() if k != "env"
    }
    assert pod["volumes"] == kubeflow_pod["volumes"]
    assert config_map["metadata"]["name"] == f"training-config-{JOB_NAME}"
    assert json.loads(config_map["data"]["config.yaml"])["trainer"]["num_nodes"] == 2


def _status(*conditions: tuple[str, str], **extra: Any) -> dict[str, Any]:
    _, job = _manifests()
    status = {"conditions": [{"type": t, "status": s} for t, s in conditions], **extra}
    return {**job, "status": status}


def test_status_maps_hyperpod_conditions() -> None:
    created = recipe.recipe_status(_status(("Created", "True")))
    assert created["phase"] == "RUNNING"
    running = recipe.recipe_status(_status(("Created", "True"), ("Running", "True")))
    assert running["phase"] == "RUNNING"
    done = recipe.recipe_status(
        _status(
            ("Created", "True"),
            ("Running", "False"),
            ("Completed", "True"),
            startTime="t0",
            completionTime="t1",
        )
    )
    assert (done["phase"], done["succeededPods"], done["failedPods"]) == ("SUCCEEDED", 2, 0)
    assert (done["startTime"], done["completionTime"]) == ("t0", "t1")
    failed_job = _status(("Created", "True"), ("Failed", "True"))
    failed_job["status"]["conditions"][-1].update(reason="JobFailed", message="rank 3 exited")
    failed_job["status"]["latestFaultyPodInstanceList"] = {"faultyPodList": ["p-1"]}
    failed = recipe.recipe_status(failed_job)
    assert (failed["phase"], failed["reason"], failed["message"]) == (
        "FAILED",
        "JobFailed",
        "rank 3 exited",
    )
    assert (failed["succeededPods"], failed["failedPods"]) == (0, 1)
    # A condition that is not True does not count.
    assert recipe.recipe_status(_status(("Failed", "False")))["phase"] == "RUNNING"


def test_rbac_grants_the_hyperpod_kind_only_with_the_add_on() -> None:
    def resources(hyperpod_job: bool) -> list[str]:
        role = recipe_rbac_manifests("default", hyperpod_job=hyperpod_job)[0]
        return [r for rule in role["rules"] for r in rule["resources"]]

    assert resources(False) == ["pytorchjobs", "pytorchjobs/status"]
    assert resources(True) == [
        "pytorchjobs",
        "pytorchjobs/status",
        "hyperpodpytorchjobs",
        "hyperpodpytorchjobs/status",
    ]
    role = recipe_rbac_manifests("default", hyperpod_job=True)[0]
    assert role["rules"][2]["apiGroups"] == ["sagemaker.amazonaws.com"]


def test_controller_kind_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECIPE_JOB_KIND", raising=False)
    assert actions.job_kind() == "PyTorchJob"
    monkeypatch.setenv("RECIPE_JOB_KIND", "HyperPodPyTorchJob")
    assert actions.job_kind() == "HyperPodPyTorchJob"
    monkeypatch.setenv("RECIPE_JOB_KIND", "TFJob")
    with pytest.raises(RuntimeError, match="RECIPE_JOB_KIND 'TFJob'"):
        actions.job_kind()


def test_cancel_deletes_the_configured_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECIPE_JOB_KIND", "HyperPodPyTorchJob")
    calls: list[tuple[str, str]] = []

    def request(method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        calls.append((method, path))
        return 200, {}

    deleted = actions.cancel("default", JOB_NAME, request)
    assert deleted == ["hyperpodpytorchjobs", "configmaps"]
    assert calls[0] == (
        "DELETE",
        f"/apis/sagemaker.amazonaws.com/v1/namespaces/default/hyperpodpytorchjobs/{JOB_NAME}",
    )


def test_status_reads_the_run_kind_path() -> None:
    _, job = _manifests()
    run = {"namespace": "default", "jobName": JOB_NAME, "kind": hyperpod.KIND}
    paths: list[str] = []

    def request(method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        paths.append(path)
        return (404, {"kind": "Status"}) if len(paths) > 1 else (200, copy.deepcopy(job))

    assert actions.status(run, request)["phase"] == "RUNNING"
    with pytest.raises(actions.KubernetesError, match="reading hyperpodpytorchjobs/"):
        actions.status(run, request)
    assert paths[0].startswith("/apis/sagemaker.amazonaws.com/v1/namespaces/default/")
