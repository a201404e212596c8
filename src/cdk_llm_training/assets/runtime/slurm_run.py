"""The controller of ClusterTrainingRun on a ParallelCluster (Slurm): one Lambda, one action
per event, the same protocol as :mod:`cluster_run` (the HyperPod EKS controller).

Slurm is driven through SSM Run Command on the head node (document ``AWS-RunShellScript``):
the head node is the running instance tagged ``parallelcluster:cluster-name`` = the cluster
and ``parallelcluster:node-type`` = ``HeadNode``. Actions:

- ``validate``: check the run input, pick the queue and compute resource, render the batch
  script (:func:`batch_script` for a command job; :mod:`slurm_run_templates` for a
  ``{"template", "parameters"}`` job such as ``neuron-pretrain``).
- ``submit``: write the script under ``<FSX_MOUNT_DIR>/runs/<job>/`` and ``sbatch --parsable``
  it; the result carries the Slurm job ID.
- ``status``: ``sacct`` of the job: RUNNING, SUCCEEDED (``COMPLETED``) or FAILED (any other
  final state).
- ``cancel``: ``scancel --name=<job>`` for a stopped or timed-out execution.
- ``report``: :func:`cluster_run_report.report`.

Environment: ``CLUSTER_NAME``, ``QUEUES`` (JSON: queue -> compute resource -> instanceType,
maxCount, acceleratorCount, usdPerHour, priceSource), ``FSX_MOUNT_DIR``,
``DATA_MOUNT_PATH``, ``CHECKPOINT_MOUNT_PATH``, ``NEURON_VENV``, ``NEURON_PRETRAIN`` (JSON:
the pinned pre-training framework of the cluster's Neuron release), ``ARTIFACTS_BUCKET``,
``CHECKPOINT_PREFIX``, ``REPORT_PREFIX``, ``MAX_RUN_HOURS``, ``DEFAULT_RUN_HOURS``.
Standard library plus boto3 only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import time
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING or __package__:  # imported from the installed package (tests, tools)
    from cdk_llm_training.assets.runtime.cluster_run import RunInputError
    from cdk_llm_training.assets.runtime.cluster_run_manifest import (
        RENDEZVOUS_PORT,
        job_name_for,
        processes_per_node,
    )
    from cdk_llm_training.assets.runtime.cluster_run_report import report
    from cdk_llm_training.assets.runtime.slurm_run_templates import render as render_template
else:  # in Lambda, this folder is the code root
    from cluster_run import RunInputError
    from cluster_run_manifest import RENDEZVOUS_PORT, job_name_for, processes_per_node
    from cluster_run_report import report
    from slurm_run_templates import render as render_template

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

DOCUMENT = "AWS-RunShellScript"
CLUSTER_TAG = "parallelcluster:cluster-name"
NODE_TYPE_TAG = "parallelcluster:node-type"
RUNNING_STATES = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "REQUEUED",
    "RESIZING",
    "SUSPENDED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "SIGNALING",
    "STAGE_OUT",
}
"""sacct states of a job that has not ended (Slurm sacct manual, JOB STATE CODES)."""
_OUTPUT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMMAND_POLL_SECONDS = 2
_COMMAND_POLLS = 40


class SlurmError(RuntimeError):
    """The head node could not be found or a Slurm command failed."""


# -- SSM Run Command on the head node ------------------------------------------------------


def ssm_client() -> Any:
    return boto3.client("ssm")


def ec2_client() -> Any:
    return boto3.client("ec2")


def head_node() -> str:
    """The instance ID of the cluster's running head node."""
    pages = (
        ec2_client()
        .get_paginator("describe_instances")
        .paginate(
            Filters=[
                {"Name": f"tag:{CLUSTER_TAG}", "Values": [os.environ["CLUSTER_NAME"]]},
                {"Name": f"tag:{NODE_TYPE_TAG}", "Values": ["HeadNode"]},
                {"Name": "instance-state-name", "Values": ["running"]},
            ]
        )
    )
    ids = [
        instance["InstanceId"]
        for page in pages
        for reservation in page.get("Reservations", [])
        for instance in reservation.get("Instances", [])
    ]
    if len(ids) != 1:
        raise SlurmError(
            f"expected one running head node of cluster {os.environ['CLUSTER_NAME']!r}; found {ids}"
        )
    return str(ids[0])


def run_on_head_node(script: str, comment: str) -> str:
    """Run ``script`` (bash) on the head node as root and return its standard output."""
    ssm = ssm_client()
    instance = head_node()
    command = ssm.send_command(
        InstanceIds=[instance],
        DocumentName=DOCUMENT,
        Comment=comment[:100],
        Parameters={"commands": [script]},
        TimeoutSeconds=60,
    )["Command"]["CommandId"]
    for _ in range(_COMMAND_POLLS):
        time.sleep(_COMMAND_POLL_SECONDS)
        try:
            result = ssm.get_command_invocation(CommandId=command, InstanceId=instance)
        except ssm.exceptions.InvocationDoesNotExist:
            continue  # not registered yet right after SendCommand
        if result["Status"] in ("Pending", "InProgress", "Delayed"):
            continue
        if result["Status"] != "Success":
            raise SlurmError(
                f"{comment}: {result['Status']} (exit {result.get('ResponseCode')}): "
                f"{result.get('StandardErrorContent', '')[:500]}"
            )
        return str(result.get("StandardOutputContent", ""))
    raise SlurmError(f"{comment}: no result after {_COMMAND_POLLS * _COMMAND_POLL_SECONDS} s")


# -- actions -------------------------------------------------------------------------------


def batch_script(run: dict[str, Any], command: list[str], environment: dict[str, str]) -> str:
    """The sbatch script of ``run``: one task per node, torchrun's variables exported, the
    Neuron compile cache on FSx."""
    # one process per NeuronCore on Trainium (32 on trn1), not per chip (16)
    nproc = processes_per_node(run["instanceType"], run["acceleratorsPerNode"])
    task = "export NODE_RANK=$SLURM_NODEID; exec " + shlex.join(command)
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={run['jobName']}",
        f"#SBATCH --partition={run['namespace']}",
        f"#SBATCH --nodes={run['nodes']}",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --exclusive",
        f"#SBATCH --time={run['maxRunHours']}:00:00",
        f"#SBATCH --output={run['runDir']}/%x-%j.out",
        "set -euo pipefail",
        f"if [ -f {run['neuronVenv']}/bin/activate ]; then",
        "  # shellcheck source=/dev/null  # the Neuron venv exists only on the cluster's nodes",
        f"  source {run['neuronVenv']}/bin/activate",
        "fi",
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        "export MASTER_ADDR",
        f"export MASTER_PORT={RENDEZVOUS_PORT}",
        'export NNODES="$SLURM_JOB_NUM_NODES"',
        f"export NPROC_PER_NODE={nproc}",
        f"export DATASET_DIR={shlex.quote(run['datasetDir'])}",
        f"export CHECKPOINT_DIR={shlex.quote(run['checkpointDir'])}",
        f"export NEURON_COMPILE_CACHE_URL={shlex.quote(run['compileCacheDir'])}",
        "export FI_PROVIDER=efa",
        *(f"export {k}={shlex.quote(v)}" for k, v in sorted(environment.items())),
        f'mkdir -p "$CHECKPOINT_DIR" {shlex.quote(run["compileCacheDir"])}',
        # NODE_RANK per task: srun sets SLURM_NODEID in each task's environment, so the
        # single-quoted task must expand it on the node, not here.
        "# shellcheck disable=SC2016  # $SLURM_NODEID expands in each task, not in this script",
        f"srun --kill-on-bad-exit=1 bash -c {shlex.quote(task)}",
    ]
    return "\n".join(lines) + "\n"


def _command_job(job: Any) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a form-1 job (no image on Slurm)."""
    if not isinstance(job, dict) or set(job) - {"command", "environment"}:
        raise RunInputError(
            "job must be an object with command (and environment) on Slurm, or with template "
            f"and parameters; got {job!r}"
        )
    command = job.get("command")
    if not (isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
        raise RunInputError(f"job.command must be a non-empty list of strings; got {command!r}")
    environment = job.get("environment", {})
    if not isinstance(environment, dict) or not all(
        isinstance(k, str) and _ENV_NAME.match(k) and isinstance(v, str)
        for k, v in environment.items()
    ):
        raise RunInputError(
            f"job.environment must map variable names to strings; got {environment!r}"
        )
    return list(command), dict(environment)


def validate(run_input: Any, execution_name: str) -> dict[str, Any]:
    """The run specification of a valid input (the same input as on HyperPod, with
    ``queue`` instead of ``instance_group`` and no image: nodes run the cluster's software)."""
    if not isinstance(run_input, dict):
        raise RunInputError(f"the execution input must be a JSON object; got {run_input!r}")
    unknown = set(run_input) - {"job", "nodes", "queue", "dataset", "output_name", "max_run_hours"}
    if unknown:
        raise RunInputError(f"unknown input fields {sorted(unknown)}")
    job = run_input.get("job")
    template_job = isinstance(job, dict) and "template" in job  # form 3: a library template
    command, environment = ([], {}) if template_job else _command_job(job)
    queues: dict[str, dict[str, Any]] = json.loads(os.environ["QUEUES"])
    queue_name = run_input.get("queue", next(iter(queues)))
    if queue_name not in queues:
        raise RunInputError(f"queue {queue_name!r} is not one of {sorted(queues)}")
    resource_name, resource = next(iter(queues[queue_name].items()))
    nodes = run_input.get("nodes")
    if (
        not isinstance(nodes, int)
        or isinstance(nodes, bool)
        or not 1 <= nodes <= resource["maxCount"]
    ):
        raise RunInputError(
            f"nodes {nodes!r} must be an integer from 1 to {resource['maxCount']} (max_count of "
            f"queue {queue_name!r})"
        )
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
    fsx = os.environ["FSX_MOUNT_DIR"].rstrip("/")
    run: dict[str, Any] = {
        "jobName": job_name,
        "namespace": queue_name,
        "nodes": nodes,
        "instanceGroup": resource_name,
        "instanceType": resource["instanceType"],
        "acceleratorsPerNode": resource["acceleratorCount"],
        "usdPerHour": resource.get("usdPerHour"),
        "priceSource": resource.get("priceSource"),
        "outputName": output_name,
        "datasetDir": f"{os.environ['DATA_MOUNT_PATH'].rstrip('/')}/{dataset}",
        "checkpointDir": f"{os.environ['CHECKPOINT_MOUNT_PATH'].rstrip('/')}/{output_name}",
        "compileCacheDir": f"{fsx}/cache/neuron",
        "runDir": f"{fsx}/runs/{job_name}",
        "neuronVenv": os.environ["NEURON_VENV"],
        "maxRunHours": hours,
        "masterPort": RENDEZVOUS_PORT,
    }
    if template_job:
        run["script"] = render_template(run, job)
    else:
        run["script"] = batch_script(run, list(command), environment)
    return run


def submit(run: dict[str, Any]) -> dict[str, Any]:
    """Write the script on the shared file system and submit it."""
    path = f"{run['runDir']}/run.sbatch"
    script = "\n".join(
        [
            "set -euo pipefail",
            f"mkdir -p {shlex.quote(run['runDir'])}",
            f"cat > {shlex.quote(path)} <<'CDK_LLM_TRAINING_RUN'",
            run["script"].rstrip("\n"),
            "CDK_LLM_TRAINING_RUN",
            f"sbatch --parsable {shlex.quote(path)}",
        ]
    )
    output = run_on_head_node(script, f"sbatch {run['jobName']}").strip()
    job_id = output.splitlines()[-1].split(";")[0] if output else ""
    if not job_id.isdigit():
        raise SlurmError(f"sbatch {run['jobName']}: no job ID in {output!r}")
    return {"jobName": run["jobName"], "slurmJobId": job_id}


def status(run: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
    """The job's phase from ``sacct`` (allocation line only)."""
    job_id = submitted["slurmJobId"]
    output = run_on_head_node(
        f"sacct -j {int(job_id)} -X -n -P -o JobID,State,Start,End,ExitCode",
        f"sacct {run['jobName']}",
    )
    lines = [line for line in output.splitlines() if line.startswith(f"{job_id}|")]
    if not lines:  # accounting not written yet right after sbatch
        return {
            "phase": "RUNNING",
            "state": "UNKNOWN",
            "reason": "",
            "message": "",
            "startTime": "",
            "completionTime": "",
        }
    _, state, start, end, exit_code = lines[0].split("|")
    state = state.split()[0]  # "CANCELLED by 0" -> "CANCELLED"
    phase = (
        "RUNNING"
        if state in RUNNING_STATES
        else ("SUCCEEDED" if state == "COMPLETED" else "FAILED")
    )
    return {
        "phase": phase,
        "state": state,
        "reason": state if phase == "FAILED" else "",
        "message": f"exit code {exit_code}" if phase == "FAILED" else "",
        "startTime": f"{start}Z" if start and start[0].isdigit() else "",
        "completionTime": f"{end}Z" if end and end[0].isdigit() else "",
    }


def cancel(execution_name: str) -> dict[str, Any]:
    """``scancel`` the run of ``execution_name`` (by job name: nothing has to be stored)."""
    job_name = job_name_for(execution_name)
    run_on_head_node(f"scancel --name={job_name}", f"scancel {job_name}")
    return {"jobName": job_name, "cancelled": True}


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Dispatch on ``event["action"]``."""
    action = event.get("action")
    LOGGER.info("action %s", action)
    if action == "validate":
        return validate(event.get("input"), event["executionName"])
    if action == "submit":
        return submit(event["run"])
    if action == "status":
        return status(event["run"], event["submitted"])
    if action == "cancel":
        return cancel(event["executionName"])
    if action == "report":
        return report(event["run"], event["status"])
    raise ValueError(f"action {action!r} is not one of validate, submit, status, cancel, report")
