"""ClusterTrainingRun on MediumFineTuneStack, executed offline: success, a failed Kubernetes
Job, a refused input, an API server error, and a stopped execution whose run the cancel rule
deletes. The Kubernetes API is faked in its shapes (batch/v1 Job, v1 Service, Status,
DeleteOptions); the controller's real handler runs in-process with S3 on moto."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_support import cdk_context
from moto import mock_aws
from workflows.asl_interpreter import Execution, UnsupportedFeatureError
from workflows.aws_world import Cloud, ResolvedTemplate, create_buckets
from workflows.state_coverage import record

from cdk_llm_training import MediumFineTuneStack
from cdk_llm_training.assets.runtime import cluster_run
from cdk_llm_training.assets.runtime.cluster_run_manifest import job_name_for
from cdk_llm_training.config.catalogs.prices import PriceChannel, default_price_book
from cdk_llm_training.config.tiers import MediumFineTuneConfig

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:2026-11"
RUN_INPUT = {
    "job": {
        "image": IMAGE,
        "command": ["torchrun", "--nnodes=2", "train.py"],
        "environment": {"EPOCHS": "1"},
    },
    "nodes": 2,
    "dataset": "datasets/sft/v1/",
    "output_name": "llama-70b-sft",
}


class StoppedError(BaseException):
    """Raised by the fake cluster to stop an execution where StopExecution would (a
    BaseException: the in-process Lambda wrapper turns Exceptions into task failures)."""


@dataclass
class FakeCluster:
    """The Kubernetes API server of the HyperPod cluster, for one namespace's Jobs and
    Services. ``outcome``: the Job condition reached after ``polls_to_finish`` reads
    (``Complete`` or ``Failed``); ``stop_on_poll``: raise :class:`StoppedError` on that read;
    ``fail_status``: HTTP status of every POST (an admission refusal)."""

    outcome: str = "Complete"
    polls_to_finish: int = 2
    stop_on_poll: int | None = None
    fail_status: int | None = None
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    polls: int = 0

    def request(  # noqa: PLR0911 - one answer per API outcome
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any]]:
        self.requests.append((method, path))
        match = re.fullmatch(
            r"/(api/v1|apis/batch/v1|apis/kubeflow.org/v1)/namespaces/([a-z0-9-]+)/"
            r"(jobs|services|pytorchjobs|configmaps)(?:/([a-z0-9-]+))?",
            path,
        )
        assert match, path
        group, namespace, kind, name = match.groups()
        assert group == {"services": "api/v1", "configmaps": "api/v1", "jobs": "apis/batch/v1"}.get(
            kind, "apis/kubeflow.org/v1"
        ), path
        if method == "POST":
            assert body is not None
            assert name is None
            if self.fail_status is not None:
                return self.fail_status, _status(self.fail_status, "admission webhook denied")
            assert body["metadata"]["namespace"] == namespace
            key = f"{kind}/{body['metadata']['name']}"
            if key in self.objects:
                return 409, _status(409, f"{key} already exists")
            self.objects[key] = body
            return 201, body
        key = f"{kind}/{name}"
        if method == "GET":
            if key not in self.objects:
                return 404, _status(404, f"{key} not found")
            self.polls += 1
            if self.stop_on_poll == self.polls:
                raise StoppedError
            return 200, self._job_with_status(self.objects[key])
        if method == "DELETE":
            assert body == {
                "kind": "DeleteOptions",
                "apiVersion": "v1",
                "propagationPolicy": "Background",
            }
            if self.objects.pop(key, None) is None:
                return 404, _status(404, f"{key} not found")
            return 200, _status(200, "deleted")
        raise AssertionError(method)

    def _job_with_status(self, job: dict[str, Any]) -> dict[str, Any]:
        nodes = job["spec"]["completions"]
        status: dict[str, Any] = {"startTime": "2026-11-30T07:00:00Z", "active": nodes}
        if self.polls >= self.polls_to_finish:
            done = self.outcome == "Complete"
            status = {
                "startTime": "2026-11-30T07:00:00Z",
                "succeeded" if done else "failed": nodes if done else 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet" if done else "FailureTarget", "status": "True"},
                    {
                        "type": self.outcome,
                        "status": "True",
                        **({} if done else {"reason": "BackoffLimitExceeded"}),
                        **({} if done else {"message": "Job has reached the backoff limit"}),
                    },
                ],
            }
            if done:
                status["completionTime"] = "2026-11-30T10:30:00Z"
        return {**job, "status": status}


def _status(code: int, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    config = MediumFineTuneConfig.model_validate(
        {
            "hyperpod": {
                "instance_groups": [
                    {"name": "system", "instance_type": "ml.m5.2xlarge", "instance_count": 1},
                    {
                        "name": "gpu-workers",
                        "instance_type": "ml.p5.48xlarge",
                        "instance_count": 2,
                        "max_instance_count": 2,
                    },
                ]
            }
        }
    )
    app = cdk.App(context=cdk_context())
    return MediumFineTuneStack(app, "MediumRuns", config=config)


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> ResolvedTemplate:
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    return ResolvedTemplate(assembly.get_stack_by_name(stack.stack_name).template)


@pytest.fixture(scope="module")
def machine(stack: MediumFineTuneStack) -> str:
    assert stack.runs is not None
    return stack.get_logical_id(stack.runs.state_machine.node.default_child)  # type: ignore[arg-type]


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
def kube(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    fake = FakeCluster()
    monkeypatch.setattr(cluster_run, "open_cluster", lambda: fake.request)
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


def _artifacts_bucket(template: ResolvedTemplate) -> str:
    (logical_id,) = [b for b in template.of_type("AWS::S3::Bucket") if "Artifacts" in b]
    return template.ref(logical_id)


def test_run_succeeds_reports_and_notifies(
    cloud: Cloud, kube: FakeCluster, machine: str, template: ResolvedTemplate, aws: Any
) -> None:
    bucket = _artifacts_bucket(template)
    # What the checkpoint link exported from /fsx/checkpoints/llama-70b-sft/.
    aws.put_object(
        Bucket=bucket, Key="checkpoints/llama-70b-sft/final/model.safetensors", Body=b"x" * 1000
    )
    aws.put_object(
        Bucket=bucket,
        Key="checkpoints/llama-70b-sft/metrics.json",
        Body=json.dumps({"train_loss": 1.23, "eval_loss": 1.41}).encode(),
    )
    run = cloud.start(machine, RUN_INPUT, name="Llama70bSft-Run1")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    job_name = job_name_for("Llama70bSft-Run1")
    job = kube.objects[f"jobs/{job_name}"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGE
    assert container["resources"]["limits"] == {
        "nvidia.com/gpu": "8",
        "vpc.amazonaws.com/efa": "32",
    }
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DATASET_DIR"] == "/fsx/data/datasets/sft/v1/"
    assert env["CHECKPOINT_DIR"] == "/fsx/checkpoints/llama-70b-sft"
    assert env["MASTER_ADDR"] == f"{job_name}-0.{job_name}"
    assert job["spec"]["activeDeadlineSeconds"] == 24 * 3600
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 2
    claims = {
        v["name"]: v.get("persistentVolumeClaim")
        for v in job["spec"]["template"]["spec"]["volumes"]
    }
    assert claims["fsx"] == {"claimName": "fsx-claim"}
    assert claims["fsx-data"] == {"claimName": "fsx-claim-data", "readOnly": True}
    assert run.waited_seconds == 2 * 300
    (note,) = cloud.notifications
    assert note["result"] == "SUCCEEDED"
    report = note["report"]
    assert report["jobId"] == job_name
    assert report["nodes"] == 2
    assert report["durationSeconds"] == 3.5 * 3600
    assert report["nodeHours"] == 7.0
    quote = default_price_book().quote("p5.48xlarge", PriceChannel.SAGEMAKER)
    assert quote is not None
    assert report["costEstimateUsd"] == round(7.0 * quote.usd_per_hour, 2)
    assert report["priceSource"].startswith(quote.source)
    assert report["checkpoints"] == {
        "s3Uri": f"s3://{bucket}/checkpoints/llama-70b-sft/",
        "objects": 2,
        "bytes": 1000 + len(json.dumps({"train_loss": 1.23, "eval_loss": 1.41})),
        "exported": True,
    }
    assert report["finalMetrics"] == {"train_loss": 1.23, "eval_loss": 1.41}
    stored = json.loads(
        aws.get_object(Bucket=bucket, Key=f"runs/reports/{job_name}/report.json")["Body"].read()
    )
    assert stored["nodeHours"] == 7.0


def test_failed_job_notifies_with_the_reason(cloud: Cloud, kube: FakeCluster, machine: str) -> None:
    kube.outcome = "Failed"
    run = cloud.start(machine, RUN_INPUT)
    assert (run.status, run.error) == ("FAILED", "TrainingJobFailed")
    (note,) = cloud.notifications
    assert note["result"] == "JOB_FAILED"
    assert note["reason"] == "BackoffLimitExceeded"
    assert "WriteRunReport" not in run.visited


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"nodes": 3}, "nodes 3 must be an integer from 1 to 2"),
        ({"instance_group": "system"}, "instance_group 'system' is not one of ['gpu-workers']"),
        ({"output_name": "Bad_Name"}, "output_name 'Bad_Name'"),
        ({"dataset": "../secrets/"}, "dataset '../secrets/'"),
        ({"max_run_hours": 400}, "max_run_hours 400 must be an integer from 1 to 336"),
        ({"job": {"image": "trainer", "command": ["python"]}}, "job.image 'trainer'"),
        ({"job": {"recipe": "llama/sft", "overrides": {}}}, "job.recipe"),
        (
            {"job": {"image": IMAGE, "command": ["x"], "environment": {"NODE_RANK": "0"}}},
            "job.environment",
        ),
        ({"extra": 1}, "unknown input fields ['extra']"),
    ],
)
def test_bad_input_is_refused_before_submission(
    cloud: Cloud, kube: FakeCluster, machine: str, change: dict[str, Any], message: str
) -> None:
    run = cloud.start(machine, {**RUN_INPUT, **change})
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    assert kube.requests == []
    (note,) = cloud.notifications
    assert note["error"] == "RunInputError"
    assert message in json.loads(note["cause"])["errorMessage"]


def test_refused_submission_notifies(cloud: Cloud, kube: FakeCluster, machine: str) -> None:
    kube.fail_status = 403
    run = cloud.start(machine, RUN_INPUT)
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    (note,) = cloud.notifications
    assert note["error"] == "KubernetesError"
    assert "HTTP 403" in note["cause"]


def _matches(pattern: Any, event: Any) -> bool:
    """EventBridge matching for the pattern forms the cancel rule uses (value lists, nested
    objects)."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(
            key in event and _matches(value, event[key]) for key, value in pattern.items()
        )
    return event in pattern


def _deliver(template: ResolvedTemplate, cloud: Cloud, event: dict[str, Any]) -> list[Any]:
    """Run every target of every rule that matches ``event`` (input transformers applied)."""
    results = []
    for rule in template.of_type("AWS::Events::Rule").values():
        try:
            props = template.resolve(rule["Properties"])
        except UnsupportedFeatureError:
            continue  # the tier's alarm rules name resources the fakes do not model
        if "EventPattern" not in props or not _matches(props["EventPattern"], event):
            continue
        for target in props["Targets"]:
            transformer = target["InputTransformer"]
            text = transformer["InputTemplate"]
            for name, path in transformer["InputPathsMap"].items():
                value: Any = event
                for step in path.removeprefix("$.").split("."):
                    value = value[step]
                # Inside quotes the value is pasted as text; alone, as its JSON value.
                text = text.replace(f'"<{name}>"', json.dumps(str(value)))
                text = text.replace(f"<{name}>", json.dumps(value))
            results.append(cloud._lambda(target["Arn"], json.loads(text), "events:target"))
    return results


def _status_event(run: Execution, status: str) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": run.arn,
            "stateMachineArn": run.state_machine_arn,
            "name": run.name,
            "status": status,
        },
    }


def test_stopped_execution_cancels_its_job(
    cloud: Cloud, kube: FakeCluster, machine: str, template: ResolvedTemplate
) -> None:
    kube.stop_on_poll = 1
    kube.polls_to_finish = 99
    with pytest.raises(StoppedError):
        cloud.start(machine, RUN_INPUT, name="stopped-run")
    run = cloud.executions[-1]
    job_name = job_name_for("stopped-run")
    assert set(kube.objects) == {f"jobs/{job_name}", f"services/{job_name}"}
    (result,) = _deliver(template, cloud, _status_event(run, "ABORTED"))
    assert result == {"jobName": job_name, "deleted": ["jobs", "services"]}
    assert kube.objects == {}
    # A second delivery (EventBridge retries) finds nothing and succeeds.
    (again,) = _deliver(template, cloud, _status_event(run, "TIMED_OUT"))
    assert again["deleted"] == []


def test_succeeded_and_failed_executions_cancel_nothing(
    cloud: Cloud, kube: FakeCluster, machine: str, template: ResolvedTemplate
) -> None:
    run = cloud.start(machine, RUN_INPUT)
    assert run.status == "SUCCEEDED"
    assert _deliver(template, cloud, _status_event(run, "SUCCEEDED")) == []
    assert _deliver(template, cloud, _status_event(run, "FAILED")) == []
    other = {**_status_event(run, "ABORTED")}
    other["detail"] = {
        **other["detail"],
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Other",
    }
    assert _deliver(template, cloud, other) == []


def test_status_read_errors_notify(cloud: Cloud, kube: FakeCluster, machine: str) -> None:
    original = kube.request

    def lose_the_job(method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        if method == "GET":
            return 404, _status(404, "not found")
        return original(method, path, body)

    kube.request = lose_the_job  # type: ignore[method-assign]
    run = cloud.start(machine, RUN_INPUT)
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    assert cloud.notifications[0]["error"] == "KubernetesError"


def test_every_controller_task_catches_into_a_notification(cloud: Cloud, machine: str) -> None:
    """Every Lambda task of the workflow has a catch-all: a failing controller notifies."""
    definition = cloud.definitions[machine]
    for name, state in definition["States"].items():
        if state["Type"] == "Task" and state["Resource"].startswith("arn:aws:lambda"):
            assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"], name
            assert state["Catch"][0]["Next"] == "NotifyFailed", name


TEMPLATE_INPUT = {
    "job": {
        "template": "fsdp-pretrain",
        "parameters": {
            "model": "models/llama-3-8b/",
            "max_steps": 2000,
            "global_batch_size": 64,
            "sequence_length": 4096,
        },
    },
    "nodes": 2,
    "dataset": "datasets/web-text/v1/",
    "output_name": "llama-cpt",
}


def _template_container(kube: FakeCluster, execution_name: str) -> dict[str, Any]:
    job = kube.objects[f"jobs/{job_name_for(execution_name)}"]
    container: dict[str, Any] = job["spec"]["template"]["spec"]["containers"][0]
    return container


def test_template_run_renders_fsdp_pretraining_and_reports_its_metrics(
    cloud: Cloud, kube: FakeCluster, machine: str, template: ResolvedTemplate, aws: Any
) -> None:
    bucket = _artifacts_bucket(template)
    summary = {"steps": 2000, "final_train_loss": 2.01, "world_size": 16}
    # What the checkpoint link exported: node 0 copies the training summary to metrics.json.
    aws.put_object(
        Bucket=bucket, Key="checkpoints/llama-cpt/metrics.json", Body=json.dumps(summary).encode()
    )
    run = cloud.start(machine, TEMPLATE_INPUT, name="llama-cpt-1")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    container = _template_container(kube, "llama-cpt-1")
    (environment,) = [
        env for handler, env in template.functions().values() if handler == "cluster_run.handler"
    ]
    assert container["image"] == environment["TEMPLATE_IMAGE"]
    assert container["image"].endswith(
        "/huggingface-pytorch-training:2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04"
    )
    env = {e["name"]: e.get("value") for e in container["env"]}
    script_dir = environment["TRAINING_SCRIPT_DIR"]
    assert script_dir.startswith("/fsx/data/library/training-script/")
    assert env["TRAINING_SCRIPT_DIR"] == script_dir
    assert env["SM_CHANNEL_MODEL"] == "/fsx/data/models/llama-3-8b"
    assert env["CHECKPOINT_DIR"] == "/fsx/checkpoints/llama-cpt"
    command = container["command"][2]
    # 64 sequences = 2 nodes x 8 GPUs x 1 per device x 4 accumulation steps.
    assert "--gradient_accumulation_steps=4" in command
    assert f"{script_dir}/train_lora.py --method=cpt --tuning=full --fsdp=true" in command
    (note,) = cloud.notifications
    assert note["report"]["finalMetrics"] == summary


def test_template_run_job_failure_notifies(cloud: Cloud, kube: FakeCluster, machine: str) -> None:
    kube.outcome = "Failed"
    run = cloud.start(machine, TEMPLATE_INPUT, name="llama-cpt-2")
    assert (run.status, run.error) == ("FAILED", "TrainingJobFailed")
    assert "torchrun" in _template_container(kube, "llama-cpt-2")["command"][2]
    (note,) = cloud.notifications
    assert note["result"] == "JOB_FAILED"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"global_batch_size": 24}, "job.parameters.global_batch_size 24 must be a multiple"),
        ({"max_steps": 0}, "job.parameters.max_steps 0"),
        ({"epochs": 1}, "job.parameters ['epochs'] are not parameters of fsdp-pretrain"),
    ],
)
def test_bad_template_parameters_are_refused_before_submission(
    cloud: Cloud, kube: FakeCluster, machine: str, parameters: dict[str, Any], message: str
) -> None:
    job = TEMPLATE_INPUT["job"]
    assert isinstance(job, dict)
    bad = {**TEMPLATE_INPUT, "job": {**job, "parameters": {**job["parameters"], **parameters}}}
    run = cloud.start(machine, bad)
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    assert kube.requests == []
    (note,) = cloud.notifications
    assert message in json.loads(note["cause"])["errorMessage"]
