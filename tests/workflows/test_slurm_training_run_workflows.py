"""ClusterTrainingRun on LargePretrainStack's Trainium ParallelCluster (Slurm), executed
offline: success, a failed Slurm job, a refused input, a missing head node, and a stopped
execution cancelled with scancel through the cancel rule. EC2 and SSM are faked in their
botocore shapes (every request and response checked against the models); the batch script
the controller writes passes ``bash -n``."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_support import cdk_context
from moto import mock_aws
from workflows.asl_interpreter import Execution
from workflows.aws_world import (
    Cloud,
    ResolvedTemplate,
    check_request,
    check_response,
    create_buckets,
)
from workflows.state_coverage import record
from workflows.test_cluster_training_run_workflows import StoppedError, _deliver, _status_event

from cdk_llm_training.assets.runtime import slurm_run
from cdk_llm_training.assets.runtime.cluster_run_manifest import job_name_for
from cdk_llm_training.config.catalogs.prices import PriceChannel, default_price_book
from cdk_llm_training.config.tiers import LargePretrainConfig
from cdk_llm_training.stacks.large_pretrain import LargePretrainStack

HEAD_NODE = "i-0123456789abcdef0"
RUN_INPUT = {
    "job": {"command": ["torchrun", "/fsx/jobs/llama/train.py"], "environment": {"STEPS": "100"}},
    "nodes": 4,
    "dataset": "tokenized/llama/",
    "output_name": "llama-pretrain",
}


class _InvocationDoesNotExistError(Exception):
    pass


@dataclass
class FakeSlurm:
    """The head node behind SSM Run Command. ``final_state``: the sacct state the job reaches
    after ``polls_to_finish`` sacct reads; ``stop_on_poll``: raise :class:`StoppedError` on
    that read; ``head_nodes``: instances DescribeInstances returns."""

    final_state: str = "COMPLETED"
    polls_to_finish: int = 2
    stop_on_poll: int | None = None
    head_nodes: list[str] = field(default_factory=lambda: [HEAD_NODE])
    commands: dict[str, str] = field(default_factory=dict)
    scripts: list[str] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    polls: int = 0
    filters: list[Any] = field(default_factory=list)

    # -- EC2 ------------------------------------------------------------------------------

    def get_paginator(self, name: str) -> Any:
        assert name == "describe_instances"
        fake = self

        class _Pages:
            def paginate(self, **params: Any) -> list[dict[str, Any]]:
                check_request("ec2", "describeInstances", params)
                fake.filters.append(params["Filters"])
                page = {
                    "Reservations": [{"Instances": [{"InstanceId": i} for i in fake.head_nodes]}]
                }
                check_response("ec2", "describeInstances", page)
                return [page]

        return _Pages()

    # -- SSM ------------------------------------------------------------------------------

    exceptions = type("Exceptions", (), {"InvocationDoesNotExist": _InvocationDoesNotExistError})

    def send_command(self, **params: Any) -> dict[str, Any]:
        check_request("ssm", "sendCommand", params)
        assert params["DocumentName"] == "AWS-RunShellScript"
        assert params["InstanceIds"] == [HEAD_NODE]
        (script,) = params["Parameters"]["commands"]
        command_id = f"{len(self.commands):08d}-aaaa-bbbb-cccc-000000000000"
        self.commands[command_id] = script
        response = {"Command": {"CommandId": command_id, "DocumentName": "AWS-RunShellScript"}}
        check_response("ssm", "sendCommand", response)
        return response

    def get_command_invocation(self, **params: Any) -> dict[str, Any]:
        check_request("ssm", "getCommandInvocation", params)
        script = self.commands[params["CommandId"]]
        output = self._run(script)
        response = {
            "CommandId": params["CommandId"],
            "InstanceId": params["InstanceId"],
            "DocumentName": "AWS-RunShellScript",
            "Status": "Success",
            "ResponseCode": 0,
            "StandardOutputContent": output,
            "StandardErrorContent": "",
        }
        check_response("ssm", "getCommandInvocation", response)
        return response

    def _run(self, script: str) -> str:
        if "sbatch --parsable" in script:
            body = re.search(
                r"<<'CDK_LLM_TRAINING_RUN'\n(.*)\nCDK_LLM_TRAINING_RUN\n", script, re.S
            )
            assert body, script
            self.scripts.append(body.group(1) + "\n")
            name = re.search(r"#SBATCH --job-name=(\S+)", body.group(1))
            assert name
            job_id = str(1000 + len(self.jobs))
            self.jobs[job_id] = name.group(1)
            return f"{job_id}\n"
        match = re.fullmatch(r"sacct -j (\d+) -X -n -P -o JobID,State,Start,End,ExitCode", script)
        if match:
            self.polls += 1
            if self.stop_on_poll == self.polls:
                raise StoppedError
            if self.polls < self.polls_to_finish:
                return f"{match.group(1)}|RUNNING|2026-11-30T07:00:00|Unknown|0:0\n"
            end = "2026-11-30T09:00:00"
            code = "0:0" if self.final_state == "COMPLETED" else "1:0"
            return f"{match.group(1)}|{self.final_state}|2026-11-30T07:00:00|{end}|{code}\n"
        match = re.fullmatch(r"scancel --name=(run-[0-9a-f]+)", script)
        if match:
            self.cancelled.append(match.group(1))
            return ""
        raise AssertionError(script)


@pytest.fixture(scope="module")
def stack() -> LargePretrainStack:
    return LargePretrainStack(
        cdk.App(context=cdk_context()), "LargeSlurmRuns", config=LargePretrainConfig()
    )


@pytest.fixture(scope="module")
def template(stack: LargePretrainStack) -> ResolvedTemplate:
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    return ResolvedTemplate(assembly.get_stack_by_name(stack.stack_name).template)


@pytest.fixture(scope="module")
def machine(stack: LargePretrainStack) -> str:
    assert stack.slurm_runs is not None
    child: Any = stack.slurm_runs.state_machine.node.default_child
    return stack.get_logical_id(child)


@pytest.fixture(scope="module")
def aws(template: ResolvedTemplate) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ):
            patch.setenv(name, value)
        with mock_aws():
            yield create_buckets(template)


@pytest.fixture
def slurm(monkeypatch: pytest.MonkeyPatch) -> FakeSlurm:
    fake = FakeSlurm()
    monkeypatch.setattr(slurm_run, "ssm_client", lambda: fake)
    monkeypatch.setattr(slurm_run, "ec2_client", lambda: fake)
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)  # the module's time.sleep
    return fake


@pytest.fixture
def cloud(template: ResolvedTemplate, aws: Any, machine: str) -> Iterator[Cloud]:
    definitions = template.definitions()
    cloud = Cloud(
        template=template, s3=aws, definitions=definitions, functions=template.functions()
    )
    yield cloud
    record(cloud, [machine])  # this module's run workflow joins the suite's coverage
    for bucket in template.of_type("AWS::S3::Bucket"):
        name = template.ref(bucket)
        for item in aws.list_objects_v2(Bucket=name).get("Contents", []):
            aws.delete_object(Bucket=name, Key=item["Key"])


def test_slurm_run_succeeds_and_reports(cloud: Cloud, slurm: FakeSlurm, machine: str) -> None:
    run = cloud.start(machine, RUN_INPUT, name="Pretrain-1")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    job_name = job_name_for("Pretrain-1")
    assert slurm.jobs == {"1000": job_name}
    assert slurm.filters[0] == [
        {"Name": "tag:parallelcluster:cluster-name", "Values": ["trainium-pretrain"]},
        {"Name": "tag:parallelcluster:node-type", "Values": ["HeadNode"]},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]
    (script,) = slurm.scripts
    assert "#SBATCH --nodes=4\n" in script
    assert "#SBATCH --partition=compute\n" in script
    assert "#SBATCH --time=24:00:00\n" in script
    assert "export NPROC_PER_NODE=32\n" in script  # trn1: one process per NeuronCore
    assert "export DATASET_DIR=/fsx/data/tokenized/llama/\n" in script
    assert "export CHECKPOINT_DIR=/fsx/checkpoints/llama-pretrain\n" in script
    assert "export NEURON_COMPILE_CACHE_URL=/fsx/cache/neuron\n" in script
    (note,) = cloud.notifications
    report = note["report"]
    assert report["jobId"] == job_name
    assert report["nodeHours"] == 8.0
    quote = default_price_book().quote("trn1.32xlarge", PriceChannel.EC2)
    assert quote is not None
    assert report["costEstimateUsd"] == round(8.0 * quote.usd_per_hour, 2)
    assert report["checkpoints"]["exported"] is False


def test_batch_script_passes_shellcheck(cloud: Cloud, slurm: FakeSlurm, machine: str) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (make unit installs it)")
    run = cloud.start(machine, RUN_INPUT)
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    for script in slurm.scripts:
        checked = subprocess.run(
            ["shellcheck", "-s", "bash", "-"],
            input=script,
            text=True,
            capture_output=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout


def test_batch_script_passes_bash_n(cloud: Cloud, slurm: FakeSlurm, machine: str) -> None:
    odd = {**RUN_INPUT, "job": {"command": ["python", "-c", "print('a b; $HOME')"]}}
    run = cloud.start(machine, odd)
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    for script in slurm.scripts:
        checked = subprocess.run(
            ["bash", "-n"], input=script, text=True, capture_output=True, check=False
        )
        assert checked.returncode == 0, checked.stderr
    (srun,) = [line for line in slurm.scripts[0].splitlines() if line.startswith("srun ")]
    task = shlex.split(srun)[-1]  # what bash -c runs on each node
    assert task.startswith("export NODE_RANK=$SLURM_NODEID; exec ")
    assert shlex.split(task.split("exec ", 1)[1]) == ["python", "-c", "print('a b; $HOME')"]


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT", "NODE_FAIL", "CANCELLED by 0"])
def test_failed_slurm_job_notifies(
    cloud: Cloud, slurm: FakeSlurm, machine: str, state: str
) -> None:
    slurm.final_state = state
    run = cloud.start(machine, RUN_INPUT)
    assert (run.status, run.error) == ("FAILED", "TrainingJobFailed")
    (note,) = cloud.notifications
    assert note["reason"] == state.split(maxsplit=1)[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"nodes": 17}, "nodes 17 must be an integer from 1 to 16"),
        ({"queue": "gpu"}, "queue 'gpu' is not one of ['compute']"),
        ({"job": {"image": "x:1", "command": ["a"]}}, "job must be an object with command"),
    ],
)
def test_bad_input_is_refused(
    cloud: Cloud, slurm: FakeSlurm, machine: str, change: dict[str, Any], message: str
) -> None:
    run = cloud.start(machine, {**RUN_INPUT, **change})
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    assert slurm.commands == {}
    assert message in json.loads(cloud.notifications[0]["cause"])["errorMessage"]


def test_missing_head_node_notifies(cloud: Cloud, slurm: FakeSlurm, machine: str) -> None:
    slurm.head_nodes = []
    run = cloud.start(machine, RUN_INPUT)
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    assert "expected one running head node" in cloud.notifications[0]["cause"]


def test_stopped_execution_scancels_its_job(
    cloud: Cloud, slurm: FakeSlurm, machine: str, template: ResolvedTemplate
) -> None:
    slurm.stop_on_poll = 1
    with pytest.raises(StoppedError):
        cloud.start(machine, RUN_INPUT, name="stopped-slurm-run")
    run: Execution = cloud.executions[-1]
    (result,) = _deliver(template, cloud, _status_event(run, "ABORTED"))
    job_name = job_name_for("stopped-slurm-run")
    assert result == {"jobName": job_name, "cancelled": True}
    assert slurm.cancelled == [job_name]


# -- run input form 3: the neuron-pretrain job template -----------------------------------

PRETRAIN_PARAMETERS: dict[str, Any] = {
    "model": "llama3-8b",
    "max_steps": 1000,
    "global_batch_size": 512,
    "sequence_length": 8192,
    "checkpoint_every_steps": 250,
}
PRETRAIN_INPUT: dict[str, Any] = {
    "job": {"template": "neuron-pretrain", "parameters": PRETRAIN_PARAMETERS},
    "nodes": 4,
    "dataset": "tokenized/llama3-8k/",
    "output_name": "llama3-8b-pretrain",
}


def _artifacts_bucket(template: ResolvedTemplate) -> str:
    (logical_id,) = [b for b in template.of_type("AWS::S3::Bucket") if "Artifacts" in b]
    return template.ref(logical_id)


def test_neuron_pretrain_run_succeeds_and_reports_its_metrics(
    cloud: Cloud, slurm: FakeSlurm, machine: str, template: ResolvedTemplate, aws: Any
) -> None:
    bucket = _artifacts_bucket(template)
    # What the checkpoint link exported from /fsx/checkpoints/llama3-8b-pretrain/.
    aws.put_object(
        Bucket=bucket,
        Key="checkpoints/llama3-8b-pretrain/step_1000/model/dp_rank_00_tp_rank_00_pp_rank_00.pt",
        Body=b"x" * 2000,
    )
    metrics = {"metrics": {"Final loss": 2.1, "Average throughput": 41.5}, "units": {}}
    aws.put_object(
        Bucket=bucket,
        Key="checkpoints/llama3-8b-pretrain/metrics.json",
        Body=json.dumps(metrics).encode(),
    )
    run = cloud.start(machine, PRETRAIN_INPUT, name="Llama3Pretrain-1")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    (script,) = slurm.scripts
    assert "#SBATCH --nodes=4\n" in script
    assert "export NEURON_RT_NUM_CORES=32\n" in script  # trn1.32xlarge: 32 NeuronCores
    assert "export CHECKPOINT_DIR=/fsx/checkpoints/llama3-8b-pretrain\n" in script
    assert "--cache_dir=/fsx/cache/neuron" in script
    assert "neuron_parallel_compile torchrun --nproc_per_node=32" in script
    # 4 nodes x 32 cores / TP 32 = data-parallel 4; 512 / 1 / 4 = 128 micro-steps.
    assert "--grad_accum_usteps 128" in script
    (note,) = cloud.notifications
    report = note["report"]
    assert report["jobId"] == job_name_for("Llama3Pretrain-1")
    assert report["nodeHours"] == 8.0
    assert report["finalMetrics"] == metrics
    assert report["checkpoints"]["exported"] is True
    assert report["checkpoints"]["objects"] == 2


def test_neuron_pretrain_script_passes_shellcheck(
    cloud: Cloud, slurm: FakeSlurm, machine: str
) -> None:
    raw = {
        **PRETRAIN_INPUT,
        "dataset": "raw/web-text/",
        "job": {
            "template": "neuron-pretrain",
            "parameters": {
                **PRETRAIN_PARAMETERS,
                "dataset_format": "jsonl",
                "tokenizer": "tokenizers/llama3",
            },
        },
    }
    run = cloud.start(machine, raw)
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    (script,) = slurm.scripts
    assert "<<'CDK_LLM_TRAINING_TOKENIZE'" in script
    checked = subprocess.run(
        ["shellcheck", "-s", "bash", "-"], input=script, text=True, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout


def test_failed_neuron_pretrain_job_notifies(cloud: Cloud, slurm: FakeSlurm, machine: str) -> None:
    slurm.final_state = "FAILED"
    run = cloud.start(machine, PRETRAIN_INPUT)
    assert (run.status, run.error) == ("FAILED", "TrainingJobFailed")
    (note,) = cloud.notifications
    assert note["reason"] == "FAILED"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"model": "gpt-5"}, "job.parameters.model 'gpt-5' is not one of"),
        ({"global_batch_size": 510}, "job.parameters.global_batch_size 510 must be a multiple"),
        ({"checkpoint_every_steps": 300}, "job.parameters.checkpoint_every_steps 300 must divide"),
        ({"dataset_format": "jsonl"}, "job.parameters.tokenizer None must be a key prefix"),
        ({"epochs": 3}, "job.parameters has unknown fields ['epochs']"),
    ],
)
def test_bad_neuron_pretrain_parameters_are_refused_before_sbatch(
    cloud: Cloud, slurm: FakeSlurm, machine: str, parameters: dict[str, Any], message: str
) -> None:
    job = {
        "template": "neuron-pretrain",
        "parameters": {**PRETRAIN_PARAMETERS, **parameters},
    }
    run = cloud.start(machine, {**PRETRAIN_INPUT, "job": job})
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    assert slurm.commands == {}
    assert message in json.loads(cloud.notifications[0]["cause"])["errorMessage"]


def test_stopped_neuron_pretrain_execution_scancels_its_job(
    cloud: Cloud, slurm: FakeSlurm, machine: str, template: ResolvedTemplate
) -> None:
    slurm.stop_on_poll = 1
    with pytest.raises(StoppedError):
        cloud.start(machine, PRETRAIN_INPUT, name="stopped-neuron-pretrain")
    run: Execution = cloud.executions[-1]
    assert slurm.jobs == {"1000": job_name_for("stopped-neuron-pretrain")}
    (result,) = _deliver(template, cloud, _status_event(run, "ABORTED"))
    assert result == {"jobName": job_name_for("stopped-neuron-pretrain"), "cancelled": True}
    assert slurm.cancelled == [job_name_for("stopped-neuron-pretrain")]
