"""The controller of ClusterTrainingRun on HyperPod EKS: one Lambda, one action per event.

Runs inside the training VPC (the EKS endpoint is private by default, which Step Functions'
own EKS integrations cannot reach) under a role whose EKS access entry is limited to the
training namespace. Actions (``event["action"]``):

- ``validate``: check the run input, pick the instance group, render a job template into an
  image and a command when the input names one (:mod:`cluster_run_templates`), render the
  Service and Job (:mod:`cluster_run_manifest`), or for a recipe (``job.recipe``) the
  ConfigMap and PyTorchJob (:mod:`cluster_run_recipe_actions`); a bad input raises
  :class:`RunInputError`.
- ``submit``: create the Service and the Job (an object that already exists is kept, so a
  retried submit converges).
- ``status``: read the Job; ``phase`` is RUNNING, SUCCEEDED or FAILED (a ``Complete`` or
  ``Failed`` condition whose status is ``"True"``).
- ``cancel``: delete the Job (its pods with it) and the Service of an execution that was
  stopped, timed out or failed (an EventBridge rule sends the execution's name).
- ``report``: duration, node-hours and cost estimate of a finished run, the export of its
  checkpoints to the artifacts zone (listed), final metrics from ``metrics.json`` when the
  training wrote one; the report is written to the artifacts zone.

Environment: ``CLUSTER_NAME``, ``CLUSTER_ENDPOINT``, ``CLUSTER_CA`` (base64 PEM),
``NAMESPACE``, ``INSTANCE_GROUPS`` (JSON: name -> instanceType, count, acceleratorCount,
acceleratorResource, efaCount, usdPerHour, priceSource), ``CLAIM_NAME``, ``DATA_CLAIM_NAME``
(empty: none), ``MOUNT_PATH``, ``DATA_MOUNT_PATH``, ``DATASET_BUCKET``, ``ARTIFACTS_BUCKET``,
``CHECKPOINT_PREFIX``, ``REPORT_PREFIX``, ``MAX_RUN_HOURS``, ``DEFAULT_RUN_HOURS``; for recipe
runs ``RECIPES_BUCKET``, ``RECIPES_PREFIX`` and ``RECIPE_JOB_KIND``; for job templates
(:mod:`cluster_run_templates`) ``TRAINING_SCRIPT_DIR`` (where pods see the staged training
script) and ``TEMPLATE_IMAGE``.
Submit, status and cancel of a recipe run act on its job (PyTorchJob or HyperPodPyTorchJob)
and ConfigMap instead (``run["kind"]``); cancel tries both paths.
Standard library plus boto3 only.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import ssl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # imported from the installed package (tests, tools)
    from cdk_llm_training.assets.runtime import cluster_run_recipe_actions as recipe_actions
    from cdk_llm_training.assets.runtime.cluster_run_manifest import job_name_for, run_manifests
    from cdk_llm_training.assets.runtime.cluster_run_report import report
    from cdk_llm_training.assets.runtime.cluster_run_templates import (
        TemplateError,
        render_template_job,
    )
    from cdk_llm_training.assets.runtime.hyperpod_dependency_chart import eks_token
else:  # in Lambda, this folder is the code root
    import cluster_run_recipe_actions as recipe_actions
    from cluster_run_manifest import job_name_for, run_manifests
    from cluster_run_report import report
    from cluster_run_templates import TemplateError, render_template_job
    from hyperpod_dependency_chart import eks_token

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

_IMAGE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})$"
)
_OUTPUT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_ENV = {"MASTER_ADDR", "MASTER_PORT", "NNODES", "NPROC_PER_NODE", "NODE_RANK"}
_HTTP_TIMEOUT_S = 30

Request = Callable[[str, str, dict[str, Any] | None], tuple[int, dict[str, Any]]]
"""(method, path, body) -> (HTTP status, JSON body) against the cluster's API server."""


class RunInputError(ValueError):
    """The execution input cannot start a run; the message names the field and the value."""


class KubernetesError(RuntimeError):
    """The API server refused a request the controller needs."""


# -- Kubernetes API ------------------------------------------------------------------------


def open_cluster() -> Request:
    """A request function authenticated as this function's role (an EKS token)."""
    endpoint = os.environ["CLUSTER_ENDPOINT"]
    ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)  # noqa: SIM115
    with ca_file:
        ca_file.write(base64.b64decode(os.environ["CLUSTER_CA"]))
    context = ssl.create_default_context(cafile=ca_file.name)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    token = eks_token(os.environ["CLUSTER_NAME"], region)

    def request(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        http = urllib.request.Request(
            f"{endpoint}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(http, context=context, timeout=_HTTP_TIMEOUT_S) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            text = error.read() or b"{}"
            try:
                return error.code, json.loads(text)
            except json.JSONDecodeError:
                return error.code, {"message": text.decode(errors="replace")[:500]}

    return request


def _namespaced(namespace: str, kind: str, name: str = "") -> str:
    group = "/api/v1" if kind == "services" else "/apis/batch/v1"
    suffix = f"/{name}" if name else ""
    return f"{group}/namespaces/{namespace}/{kind}{suffix}"


# -- actions -------------------------------------------------------------------------------


def _groups() -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = json.loads(os.environ["INSTANCE_GROUPS"])
    return groups


def _recipe_request(job: dict[str, Any]) -> tuple[str, list[str]]:
    """Form 2 (a recipe): its name and overrides, shape checked (the catalog is read later)."""
    try:
        return recipe_actions.recipe_request(job)
    except recipe_actions.RecipeError as error:
        raise RunInputError(str(error)) from None


def _container_job(job: dict[str, Any]) -> tuple[str, list[str], dict[str, str]]:
    """Form 1 (an image and a command): image, command and environment, checked."""
    image, command = job.get("image"), job.get("command")
    if not isinstance(image, str) or not _IMAGE.match(image):
        raise RunInputError(
            f"job.image {image!r} must be a container image reference with a tag or digest "
            "(registry/repository:tag or @sha256:<digest>)"
        )
    if not (isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
        raise RunInputError(f"job.command must be a non-empty list of strings; got {command!r}")
    environment = job.get("environment", {})
    if not isinstance(environment, dict) or not all(
        isinstance(k, str) and _ENV_NAME.match(k) and k not in _RESERVED_ENV and isinstance(v, str)
        for k, v in environment.items()
    ):
        raise RunInputError(
            f"job.environment must map variable names to strings (not {sorted(_RESERVED_ENV)}); "
            f"got {environment!r}"
        )
    return image, list(command), environment


_JOB_FORMS = ("image", "recipe", "template")


def validate(run_input: Any, execution_name: str) -> dict[str, Any]:
    """The run specification of a valid input (see the construct docs for the input)."""
    if not isinstance(run_input, dict):
        raise RunInputError(f"the execution input must be a JSON object; got {run_input!r}")
    unknown = set(run_input) - {
        "job",
        "nodes",
        "instance_group",
        "dataset",
        "output_name",
        "max_run_hours",
    }
    if unknown:
        raise RunInputError(f"unknown input fields {sorted(unknown)}")
    groups = _groups()
    group_name = run_input.get("instance_group", next(iter(groups)))
    if group_name not in groups:
        raise RunInputError(f"instance_group {group_name!r} is not one of {sorted(groups)}")
    group = groups[group_name]
    nodes = run_input.get("nodes")
    if not isinstance(nodes, int) or isinstance(nodes, bool) or not 1 <= nodes <= group["count"]:
        raise RunInputError(
            f"nodes {nodes!r} must be an integer from 1 to {group['count']} (the "
            f"max_instance_count of group {group_name!r})"
        )
    job = run_input.get("job")
    if not isinstance(job, dict):
        raise RunInputError(
            "job must be an object with image and command, a recipe, or a template and "
            f"parameters; got {job!r}"
        )
    forms = [form for form in _JOB_FORMS if form in job]
    if len(forms) > 1:
        raise RunInputError(
            f"job has {' and '.join(forms)}: give exactly one of image and command, recipe, or "
            "template and parameters"
        )
    if "template" in job:  # run-input form 3: a library-shipped job template
        try:
            job = render_template_job(
                job,
                nodes=nodes,
                accelerators_per_node=int(group["acceleratorCount"]),
                script_dir=os.environ.get("TRAINING_SCRIPT_DIR", ""),
                image=os.environ.get("TEMPLATE_IMAGE", ""),
                data_mount_path=os.environ["DATA_MOUNT_PATH"],
            )
        except TemplateError as error:
            raise RunInputError(str(error)) from None
    recipe = _recipe_request(job) if "recipe" in job else None
    image, command, environment = _container_job(job) if recipe is None else ("", [], {})
    dataset = run_input.get("dataset")
    if not isinstance(dataset, str) or not dataset or dataset.startswith("/") or ".." in dataset:
        raise RunInputError(
            f"dataset {dataset!r} must be a key prefix of the curated zone (no leading '/', "
            "no '..')"
        )
    output_name = run_input.get("output_name")
    if not isinstance(output_name, str) or not _OUTPUT_NAME.match(output_name):
        raise RunInputError(
            f"output_name {output_name!r} must be lower-case letters, digits and hyphens, at "
            "most 63 characters"
        )
    max_hours = int(os.environ["MAX_RUN_HOURS"])
    hours = run_input.get("max_run_hours", int(os.environ["DEFAULT_RUN_HOURS"]))
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= max_hours:
        raise RunInputError(f"max_run_hours {hours!r} must be an integer from 1 to {max_hours}")

    job_name = job_name_for(execution_name)
    mount_path = os.environ["MOUNT_PATH"].rstrip("/")
    data_mount_path = os.environ["DATA_MOUNT_PATH"].rstrip("/")
    checkpoint_dir = f"{mount_path}/checkpoints/{output_name}"
    dataset_dir = f"{data_mount_path}/{dataset}"
    run = {
        "jobName": job_name,
        "namespace": os.environ["NAMESPACE"],
        "nodes": nodes,
        "instanceGroup": group_name,
        "instanceType": group["instanceType"],
        "usdPerHour": group.get("usdPerHour"),
        "priceSource": group.get("priceSource"),
        "outputName": output_name,
        "datasetDir": dataset_dir,
        "checkpointDir": checkpoint_dir,
        "maxRunHours": hours,
    }
    if recipe is not None:
        try:
            return {**run, **recipe_actions.render(recipe, run, group)}
        except recipe_actions.RecipeError as error:
            raise RunInputError(str(error)) from None
    service, manifest = run_manifests(
        job_name=job_name,
        namespace=os.environ["NAMESPACE"],
        image=image,
        command=list(command),
        nodes=nodes,
        instance_type=group["instanceType"],
        accelerators_per_node=int(group["acceleratorCount"]),
        accelerator_resource=group["acceleratorResource"],
        efa_per_node=int(group["efaCount"]),
        deadline_seconds=hours * 3600,
        environment={**environment, "DATASET_DIR": dataset_dir, "CHECKPOINT_DIR": checkpoint_dir},
        claim_name=os.environ["CLAIM_NAME"],
        data_claim_name=os.environ.get("DATA_CLAIM_NAME") or None,
        mount_path=mount_path,
        data_mount_path=data_mount_path,
    )
    return {**run, "service": service, "job": manifest}


def submit(run: dict[str, Any], request: Request) -> dict[str, Any]:
    """Create the run's Service and Job; 409 (already exists) is success."""
    if run.get("kind") in recipe_actions.KINDS:
        return recipe_actions.submit(run, request)
    namespace = run["namespace"]
    for kind, body in (("services", run["service"]), ("jobs", run["job"])):
        status, answer = request("POST", _namespaced(namespace, kind), body)
        if status not in (200, 201, 202, 409):
            raise KubernetesError(f"creating {kind}/{run['jobName']}: HTTP {status} {answer}")
    return {"jobName": run["jobName"], "submitted": True}


def status(run: dict[str, Any], request: Request) -> dict[str, Any]:
    """The Job's phase and the fields the report uses."""
    if run.get("kind") in recipe_actions.KINDS:
        return recipe_actions.status(run, request)
    code, job = request("GET", _namespaced(run["namespace"], "jobs", run["jobName"]), None)
    if code != 200:
        raise KubernetesError(f"reading jobs/{run['jobName']}: HTTP {code} {job}")
    job_status = job.get("status", {})
    phase, reason, message = "RUNNING", "", ""
    for condition in job_status.get("conditions", []):
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            phase = "SUCCEEDED"
        elif condition.get("type") == "Failed":
            phase = "FAILED"
            reason = condition.get("reason", "")
            message = condition.get("message", "")
    return {
        "phase": phase,
        "reason": reason,
        "message": message,
        "startTime": job_status.get("startTime", ""),
        "completionTime": job_status.get("completionTime", ""),
        "succeededPods": job_status.get("succeeded", 0),
        "failedPods": job_status.get("failed", 0),
    }


def cancel(execution_name: str, request: Request) -> dict[str, Any]:
    """Delete the Job (pods in the background) and Service of ``execution_name``'s run."""
    namespace = os.environ["NAMESPACE"]
    job_name = job_name_for(execution_name)
    deleted = []
    for kind in ("jobs", "services"):
        code, answer = request(
            "DELETE",
            _namespaced(namespace, kind, job_name),
            {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
        )
        if code in (200, 202):
            deleted.append(kind)
        elif code != 404:
            raise KubernetesError(f"deleting {kind}/{job_name}: HTTP {code} {answer}")
    deleted += recipe_actions.cancel(namespace, job_name, request)
    return {"jobName": job_name, "deleted": deleted}


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Dispatch on ``event["action"]``."""
    action = event.get("action")
    LOGGER.info("action %s", action)
    if action == "validate":
        return validate(event.get("input"), event["executionName"])
    if action == "submit":
        return submit(event["run"], open_cluster())
    if action == "status":
        return status(event["run"], open_cluster())
    if action == "cancel":
        return cancel(event["executionName"], open_cluster())
    if action == "report":
        return report(event["run"], event["status"])
    raise ValueError(f"action {action!r} is not one of validate, submit, status, cancel, report")
