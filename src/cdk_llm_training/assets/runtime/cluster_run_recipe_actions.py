"""The controller actions of a recipe run (form 2 of the run input) on HyperPod EKS: render at
``validate``, then ``submit``, ``status`` and ``cancel`` of its job, with the answers the
container-job path gives (the report needs nothing more).

Environment (beside the controller's own): ``RECIPES_BUCKET``, ``RECIPES_PREFIX`` (where the
deploy-time catalog of the pinned release is), ``AWS_REGION`` (picks the recipe's container),
``RECIPE_JOB_KIND`` (``PyTorchJob``, the default, or ``HyperPodPyTorchJob`` when the stack
installed the HyperPod training operator add-on: chosen at synth, never guessed at run time).
Standard library plus boto3 only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:
    from cdk_llm_training.assets.runtime.cluster_run_recipe import (
        KIND,
        PLURALS,
        RecipeError,
        load_recipe,
        recipe_config,
        recipe_image,
        recipe_manifests,
        recipe_objects,
        recipe_request,
        recipe_status,
        submit_recipe,
    )
else:  # in Lambda, this folder is the code root
    from cluster_run_recipe import (
        KIND,
        PLURALS,
        RecipeError,
        load_recipe,
        recipe_config,
        recipe_image,
        recipe_manifests,
        recipe_objects,
        recipe_request,
        recipe_status,
        submit_recipe,
    )

__all__ = [
    "KIND",
    "KINDS",
    "RecipeError",
    "cancel",
    "job_kind",
    "recipe_request",
    "render",
    "status",
    "submit",
]

RUN_LABEL = "llm-training-run"
"""The label every object of a run carries (the container-job path uses the same)."""

KINDS = tuple(PLURALS)
"""Every kind a recipe run's job can have; ``run["kind"]`` is one of them."""

Request = Callable[[str, str, dict[str, Any] | None], tuple[int, dict[str, Any]]]


class KubernetesError(RuntimeError):
    """The API server refused a request for a recipe run."""


def job_kind() -> str:
    """The kind this controller renders (``RECIPE_JOB_KIND``; default ``PyTorchJob``)."""
    kind = os.environ.get("RECIPE_JOB_KIND") or KIND
    if kind not in PLURALS:
        raise RuntimeError(f"RECIPE_JOB_KIND {kind!r} is not one of {', '.join(PLURALS)}")
    return kind


def fsx_volumes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts) of the FSx claims at the documented paths, plus shared memory."""
    mount_path = os.environ["MOUNT_PATH"].rstrip("/")
    data_mount_path = os.environ["DATA_MOUNT_PATH"].rstrip("/")
    volumes: list[dict[str, Any]] = [
        {"name": "fsx", "persistentVolumeClaim": {"claimName": os.environ["CLAIM_NAME"]}},
        # NCCL and PyTorch use shared memory; the container default (64 MiB) is too small.
        {"name": "shm", "emptyDir": {"medium": "Memory"}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "fsx", "mountPath": mount_path},
        {"name": "shm", "mountPath": "/dev/shm"},
    ]
    data_claim = os.environ.get("DATA_CLAIM_NAME")
    if data_claim:
        claim = {"claimName": data_claim, "readOnly": True}
        volumes.append({"name": "fsx-data", "persistentVolumeClaim": claim})
        mounts.append({"name": "fsx-data", "mountPath": data_mount_path, "readOnly": True})
    return volumes, mounts


def render(
    recipe: tuple[str, list[str]], run: dict[str, Any], group: dict[str, Any], s3: Any = None
) -> dict[str, Any]:
    """The recipe part of a run specification: kind, recipe facts, ConfigMap and job.

    Raises :class:`RecipeError` naming the field for an unknown recipe, a recipe of another
    launcher path, a bad override or a region without the recipe's container.
    """
    name, overrides = recipe
    index, document = load_recipe(name, s3)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
    image = recipe_image(index, name, region)
    devices = int(group["acceleratorCount"])
    config = recipe_config(
        document,
        overrides,
        nodes=run["nodes"],
        devices=devices,
        results_dir=run["checkpointDir"],
        dataset_dir=run["datasetDir"],
    )
    volumes, mounts = fsx_volumes()
    kind = job_kind()
    config_map, job = recipe_manifests(
        job_name=run["jobName"],
        namespace=run["namespace"],
        recipe_name=name,
        config=config,
        image=image,
        nodes=run["nodes"],
        instance_type=group["instanceType"],
        accelerators_per_node=devices,
        accelerator_resource=group["acceleratorResource"],
        efa_per_node=int(group["efaCount"]),
        deadline_seconds=run["maxRunHours"] * 3600,
        environment={"DATASET_DIR": run["datasetDir"], "CHECKPOINT_DIR": run["checkpointDir"]},
        volumes=volumes,
        mounts=mounts,
        labels={RUN_LABEL: run["jobName"]},
        kind=kind,
    )
    return {
        "kind": kind,
        "recipe": {
            "name": name,
            "overrides": overrides,
            "release": index["release"],
            "commit": index["commit"],
            "image": image,
        },
        "configMap": config_map,
        "job": job,
    }


def submit(run: dict[str, Any], request: Request) -> dict[str, Any]:
    """Create the ConfigMap and the job; 409 (already exists) is success."""
    for plural, code, answer in submit_recipe(run, request):
        if code not in (200, 201, 202, 409):
            raise KubernetesError(f"creating {plural}/{run['jobName']}: HTTP {code} {answer}")
    return {"jobName": run["jobName"], "submitted": True}


def status(run: dict[str, Any], request: Request) -> dict[str, Any]:
    """Read the job; its phase and the report fields."""
    path = recipe_objects(run["namespace"], run["jobName"], run["kind"])[0]
    code, job = request("GET", path, None)
    if code != 200:
        plural = PLURALS[run["kind"]]
        raise KubernetesError(f"reading {plural}/{run['jobName']}: HTTP {code} {job}")
    return recipe_status(job)


def cancel(namespace: str, job_name: str, request: Request) -> list[str]:
    """Delete the job (its pods with it) of the kind this controller renders and the
    ConfigMap of a recipe run, if any; the kinds deleted (none for a container-job run)."""
    deleted = []
    for path in recipe_objects(namespace, job_name, job_kind()):
        code, answer = request(
            "DELETE",
            path,
            {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
        )
        plural = path.split("/")[-2]
        if code in (200, 202):
            deleted.append(plural)
        elif code != 404:
            raise KubernetesError(f"deleting {plural}/{job_name}: HTTP {code} {answer}")
    return deleted
