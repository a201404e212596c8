"""Form 2 of a ClusterTrainingRun input on HyperPod EKS: a recipe of the pinned
aws/sagemaker-hyperpod-recipes release, rendered the way its launcher renders it for a
Kubernetes cluster, and driven as a Kubeflow ``PyTorchJob``.

What the launcher (release v2.0.9, ``launcher/nemo/k8s_templates/training/training.yaml`` and
``launcher/nemo/stages.py``) renders, and what this module renders the same way:

- a ConfigMap ``training-config-<job>`` whose ``config.yaml`` is the resolved recipe, mounted
  at ``/config``; the train script gets ``--config-path=/config --config-name=config.yaml``;
- the job, one worker pod per node (``pytorchReplicaSpecs.Worker``), container ``pytorch``
  running ``/opt/bin/scripts/train-script-gpu.sh`` of the recipe's container image (for
  Trainium ``train-script-trn.sh``) with the launcher's environment (``NODES``,
  ``NTASKS_PER_NODE``, ``JOB_NAME``, ``SCRIPT_PATH``, ``SCRIPT_ARGS``, ``GIT_*``, the NCCL and
  EFA variables of a multi-node run), requesting every accelerator and EFA device of the node.

The launcher renders the HyperPod training operator's ``HyperPodPyTorchJob`` when
``use_hyperpod_pytorch_job`` is on, Kubeflow's ``PyTorchJob`` otherwise. The kind is chosen at
synth (``RECIPE_JOB_KIND`` on the controller): ``HyperPodPyTorchJob``
(:mod:`cluster_run_hyperpod_job`) when the cluster has the training operator add-on,
``PyTorchJob`` otherwise (the HyperPod dependency chart's ``training-operators`` sub-chart,
Kubeflow training operator v1.7.0, provides it with no add-on). Differences from the launcher:
FSx claims at the construct's documented paths instead of its ``persistent_volume_claims``; no
``privileged`` security context and no host ``/dev/shm`` (a memory ``emptyDir`` instead);
``runPolicy`` bounds the run (``activeDeadlineSeconds``; for PyTorchJob ``backoffLimit: 0``)
and keeps the pods for their logs.

The pinned release reaches this function as JSON written at deploy time by the stack's recipe
catalog (``<RECIPES_PREFIX>index.json`` and ``<RECIPES_PREFIX>recipes/<name>.json`` in
``RECIPES_BUCKET``). Standard library plus boto3 only.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING or __package__:
    from cdk_llm_training.assets.runtime import cluster_run_hyperpod_job as hyperpod_kind
    from cdk_llm_training.assets.runtime.recipe_overrides import OverrideError, apply_overrides
else:  # in Lambda, this folder is the code root
    import cluster_run_hyperpod_job as hyperpod_kind
    from recipe_overrides import OverrideError, apply_overrides

KIND = "PyTorchJob"
API_GROUP = "kubeflow.org"
API_VERSION = f"{API_GROUP}/v1"
PLURAL = "pytorchjobs"
API_VERSIONS = {KIND: API_VERSION, hyperpod_kind.KIND: hyperpod_kind.API_VERSION}
PLURALS = {KIND: PLURAL, hyperpod_kind.KIND: hyperpod_kind.PLURAL}
"""The job kinds a recipe run can render: API version and resource name of each."""
CONFIG_MOUNT_PATH = "/config"
CONFIG_FILE = "config.yaml"
SCRIPT_ARGS = f"--config-path={CONFIG_MOUNT_PATH} --config-name={CONFIG_FILE}"
TRAIN_SCRIPTS = {
    "nvidia.com/gpu": "/opt/bin/scripts/train-script-gpu.sh",
    "aws.amazon.com/neuron": "/opt/bin/scripts/train-script-trn.sh",
}
ADAPTER_REPOSITORY = "https://github.com/aws/sagemaker-hyperpod-training-adapter-for-nemo.git"
"""The launcher's default git repository of GPU recipes (``SM_ADAPTER_REPO``)."""
MODEL_CODE_PATHS = {
    "deepseek": "examples/deepseek/deepseek_pretrain.py",
    "llama": "examples/llama/llama_pretrain.py",
    "mistral": "examples/mistral/mistral_pretrain.py",
    "mixtral": "examples/mixtral/mixtral_pretrain.py",
}
"""The launcher's script per recipe folder (``SM_ADAPTER_MODEL_TYPE_TO_CODE_PATH``)."""
CUSTOM_MODEL_CODE_PATH = "examples/custom_model/custom_pretrain.py"
SUPPORTED_MODEL_TYPES = ("llm_finetuning_aws", "hf")
"""``run.model_type`` values the launcher runs with the training template (not Ray, Nova or
the checkpointless operator)."""
MULTI_NODE_ENV = {
    "NCCL_SOCKET_IFNAME": "^lo,docker0,veth_def_agent",
    "NCCL_IGNORE_DISABLED_P2P": "1",
    "TORCH_NCCL_ASYNC_ERROR_HANDLING": "1",
    "TORCH_DIST_INIT_BARRIER": "1",
    "CUDA_DEVICE_MAX_CONNECTIONS": "1",
}
"""The launcher's ``set_multinode_envs`` (plus ``FI_PROVIDER=efa`` on EFA instances)."""
_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_MAX_INTERPOLATION_DEPTH = 32


class RecipeError(ValueError):
    """The recipe input cannot start a run; the message names the field and the value."""


def recipe_request(job: dict[str, Any]) -> tuple[str, list[str]]:
    """``(name, overrides)`` of a ``job`` of form 2 (shape only; the catalog is read later)."""
    if set(job) != {"recipe"}:
        raise RecipeError(
            f"job: a recipe job has only job.recipe; got also {sorted(set(job) - {'recipe'})}"
        )
    recipe = job["recipe"]
    if not isinstance(recipe, dict) or set(recipe) - {"name", "overrides"}:
        raise RecipeError(
            f"job.recipe must be an object with name and optional overrides; got {recipe!r}"
        )
    name, overrides = recipe.get("name"), recipe.get("overrides", [])
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise RecipeError(
            f"job.recipe.name {name!r} must be a recipe path without .yaml, e.g. "
            "'fine-tuning/llama/llmft_llama3_1_8b_instruct_seq4k_gpu_sft_lora'"
        )
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise RecipeError(f"job.recipe.overrides must be a list of strings; got {overrides!r}")
    return name.removesuffix(".yaml"), list(overrides)


def load_recipe(name: str, s3: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(catalog index, recipe)`` of ``name`` from the deploy-time catalog."""
    client = s3 or boto3.client("s3")
    bucket, prefix = os.environ["RECIPES_BUCKET"], os.environ["RECIPES_PREFIX"]
    index = json.loads(client.get_object(Bucket=bucket, Key=f"{prefix}index.json")["Body"].read())
    recipes: dict[str, Any] = index["recipes"]
    if name not in recipes:
        close = difflib.get_close_matches(name, list(recipes), n=3, cutoff=0.6)
        hint = f"; did you mean {close}?" if close else ""
        raise RecipeError(
            f"job.recipe.name {name!r} is not a recipe of {index['repository']} "
            f"{index['release']} (commit {index['commit']}){hint}"
        )
    body = client.get_object(Bucket=bucket, Key=f"{prefix}recipes/{name}.json")["Body"].read()
    return index, json.loads(body)


def resolve_interpolations(config: dict[str, Any], launcher: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``${.key}`` (same section), ``${a.b}`` / ``${recipes.a.b}`` (recipe
    root) and launcher-level ``${key}`` references replaced, as OmegaConf resolves them when
    the launcher saves the recipe. Resolvers (``${oc.select:...}``) are refused."""

    active: list[str] = []

    def lookup(path: str, section: dict[str, Any], where: str) -> Any:
        if len(active) > _MAX_INTERPOLATION_DEPTH:
            raise RecipeError(f"recipe key {where!r}: interpolations loop through {active}")
        if ":" in path:
            raise RecipeError(f"recipe key {where!r}: the resolver ${{{path}}} is not supported")
        if path.startswith("."):
            node: Any = section
            parts = path[1:].split(".")
        else:
            parts = path.split(".")
            if parts[0] == "recipes":
                node, parts = config, parts[1:]
            elif parts[0] in launcher:
                node = launcher
            else:
                node = config
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                raise RecipeError(f"recipe key {where!r}: ${{{path}}} does not resolve")
            node = node[part]
        active.append(path)
        try:
            return resolve(node, section, where)
        finally:
            active.pop()

    def resolve(value: Any, section: dict[str, Any], where: str) -> Any:
        if isinstance(value, dict):
            return {k: resolve(v, value, f"{where}.{k}".lstrip(".")) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, section, f"{where}.{i}") for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = _INTERPOLATION.fullmatch(value)
        if whole:
            return lookup(whole.group(1), section, where)
        return _INTERPOLATION.sub(lambda m: str(lookup(m.group(1), section, where)), value)

    resolved: dict[str, Any] = resolve(config, config, "")
    return resolved


def _fill_run_paths(config: dict[str, Any], *, dataset_dir: str, results_dir: str) -> None:
    """Point an llmft recipe's empty dataset and output paths at the run's folders.

    The recipes' own launcher scripts set ``training_config.datasets.train_data.file_path``
    (the training dataset's location) and ``training_config.training_args.training_dir`` on
    the command line; the recipes ship them as ``''``. A key the recipe does not have, or
    has set, is left alone, and an override still wins.
    """
    training = config.get("training_config")
    if not isinstance(training, dict):
        return
    train_data = (training.get("datasets") or {}).get("train_data")
    if isinstance(train_data, dict) and train_data.get("file_path") == "":
        train_data["file_path"] = dataset_dir
    args = training.get("training_args")
    if isinstance(args, dict) and args.get("training_dir") == "":
        args["training_dir"] = results_dir


def recipe_config(
    recipe: dict[str, Any],
    overrides: list[str],
    *,
    nodes: int,
    devices: int,
    results_dir: str,
    dataset_dir: str | None = None,
) -> dict[str, Any]:
    """The resolved recipe a run trains with: ``trainer.num_nodes`` and ``trainer.devices``
    from the instance group, the run's dataset and output folders where the recipe leaves
    them empty (with ``dataset_dir``), then the overrides, then interpolations."""
    model_type = (recipe.get("run") or {}).get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise RecipeError(
            f"job.recipe.name: run.model_type {model_type!r} is launched on another kind of "
            f"job (Ray, Nova, checkpointless); supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    config = json.loads(json.dumps(recipe))
    trainer = config.setdefault("trainer", {})
    trainer["num_nodes"], trainer["devices"] = nodes, devices
    if dataset_dir is not None:
        _fill_run_paths(config, dataset_dir=dataset_dir, results_dir=results_dir)
    try:
        apply_overrides(config, overrides)
    except OverrideError as error:
        raise RecipeError(f"job.recipe.overrides: {error}") from None
    return resolve_interpolations(config, {"base_results_dir": results_dir})


def recipe_manifests(
    *,
    job_name: str,
    namespace: str,
    recipe_name: str,
    config: dict[str, Any],
    image: str,
    nodes: int,
    instance_type: str,
    accelerators_per_node: int,
    accelerator_resource: str,
    efa_per_node: int,
    deadline_seconds: int,
    environment: dict[str, str],
    volumes: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
    labels: dict[str, str],
    kind: str = KIND,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ConfigMap, job of ``kind``) of a recipe run; see the module docstring."""
    config_map_name = f"training-config-{job_name}"
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": config_map_name, "namespace": namespace, "labels": labels},
        # JSON is YAML: Hydra in the container reads this file as the recipe.
        "data": {CONFIG_FILE: json.dumps(config, indent=1, sort_keys=True)},
    }
    folder = recipe_name.split("/")[1] if recipe_name.count("/") >= 2 else ""
    env = {
        "GIT_REPO_URL": ADAPTER_REPOSITORY,
        "GIT_BRANCH": "",
        "GIT_COMMIT": "",
        "GIT_UPDATE_ADAPTER": "",
        "NODES": str(nodes),
        "NTASKS_PER_NODE": str(accelerators_per_node),
        "JOB_NAME": job_name,
        "SCRIPT_PATH": MODEL_CODE_PATHS.get(folder, CUSTOM_MODEL_CODE_PATH),
        "SCRIPT_ARGS": SCRIPT_ARGS,
        "PRE_SCRIPT_COMMANDS": "",
        "POST_SCRIPT_COMMANDS": "",
        "NCCL_DEBUG": "WARN",
        **(MULTI_NODE_ENV if nodes > 1 else {}),
        **({"FI_PROVIDER": "efa"} if nodes > 1 and efa_per_node else {}),
        **environment,
    }
    resources: dict[str, str] = {accelerator_resource: str(accelerators_per_node)}
    if efa_per_node:
        resources["vpc.amazonaws.com/efa"] = str(efa_per_node)
    pod = {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"node.kubernetes.io/instance-type": instance_type},
            "containers": [
                {
                    # The training operator finds the training container by this name.
                    "name": "pytorch",
                    "image": image,
                    "command": ["/bin/bash", "-c", TRAIN_SCRIPTS[accelerator_resource]],
                    "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
                    "resources": {"requests": resources, "limits": resources},
                    "volumeMounts": [
                        *mounts,
                        {"name": "training-config", "mountPath": CONFIG_MOUNT_PATH},
                    ],
                }
            ],
            "volumes": [
                *volumes,
                {"name": "training-config", "configMap": {"name": config_map_name}},
            ],
        },
    }
    if kind == hyperpod_kind.KIND:
        return config_map, hyperpod_kind.hyperpod_job(
            job_name=job_name,
            namespace=namespace,
            labels=labels,
            nodes=nodes,
            accelerators_per_node=accelerators_per_node,
            deadline_seconds=deadline_seconds,
            pod=pod,
        )
    job = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": job_name, "namespace": namespace, "labels": labels},
        "spec": {
            "nprocPerNode": str(accelerators_per_node),
            "runPolicy": {
                "cleanPodPolicy": "None",
                "backoffLimit": 0,
                "activeDeadlineSeconds": deadline_seconds,
            },
            "pytorchReplicaSpecs": {
                "Worker": {"replicas": nodes, "restartPolicy": "Never", "template": pod}
            },
        },
    }
    return config_map, job


def recipe_image(index: dict[str, Any], name: str, region: str) -> str:
    """The container image the launcher uses for ``name`` in ``region``."""
    images: dict[str, str] = index["recipes"][name].get("images", {})
    if region not in images:
        raise RecipeError(
            f"job.recipe.name {name!r}: release {index['release']} publishes no container "
            f"for it in {region} (regions: {sorted(images) or 'none'})"
        )
    return images[region]


# -- Kubernetes calls for the job kinds ----------------------------------------------------


def _path(namespace: str, plural: str, name: str = "") -> str:
    if plural == "configmaps":
        group = "/api/v1"
    else:
        (kind,) = [k for k, p in PLURALS.items() if p == plural]
        group = f"/apis/{API_VERSIONS[kind]}"
    return f"{group}/namespaces/{namespace}/{plural}" + (f"/{name}" if name else "")


def submit_recipe(run: dict[str, Any], request: Any) -> list[tuple[str, int, Any]]:
    """Create the ConfigMap, then the job; returns (plural, status, answer) of each."""
    namespace, plural = run["namespace"], PLURALS[run["kind"]]
    return [
        (name, *request("POST", _path(namespace, name), body))
        for name, body in (("configmaps", run["configMap"]), (plural, run["job"]))
    ]


def recipe_status(job: dict[str, Any]) -> dict[str, Any]:
    """The phase and report fields of a recipe run's job (either kind)."""
    if job.get("kind") == hyperpod_kind.KIND:
        return hyperpod_kind.hyperpod_status(job)
    job_status = job.get("status", {})
    phase, reason, message = "RUNNING", "", ""
    for condition in job_status.get("conditions", []):
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Succeeded":
            phase = "SUCCEEDED"
        elif condition.get("type") == "Failed":
            phase = "FAILED"
            reason = condition.get("reason", "")
            message = condition.get("message", "")
    workers = job_status.get("replicaStatuses", {}).get("Worker", {})
    return {
        "phase": phase,
        "reason": reason,
        "message": message,
        "startTime": job_status.get("startTime", ""),
        "completionTime": job_status.get("completionTime", ""),
        "succeededPods": workers.get("succeeded", 0),
        "failedPods": workers.get("failed", 0),
    }


def recipe_objects(namespace: str, job_name: str, kind: str = KIND) -> list[str]:
    """API paths of a recipe run's objects, job first (what cancel deletes)."""
    return [
        _path(namespace, PLURALS[kind], job_name),
        _path(namespace, "configmaps", f"training-config-{job_name}"),
    ]
