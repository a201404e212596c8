"""ClusterTrainingRun recipe runs on MediumFineTuneStack, executed offline: a recipe of the
deploy-time catalog (generated here in the release's layout, converted by the build's own
converter, written to the artifacts zone on moto) runs to success, to a failed PyTorchJob, to
a stop that cancels it, and is refused in the first state for an unknown recipe or a bad
override. The Kubernetes API is faked in its shapes (kubeflow.org/v1 PyTorchJob with its
JobStatus conditions, v1 ConfigMap, Status, DeleteOptions)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from cdk_support import cdk_context
from moto import mock_aws
from workflows.aws_world import Cloud, ResolvedTemplate, create_buckets
from workflows.state_coverage import record
from workflows.test_cluster_training_run_workflows import _deliver, _status_event

from cdk_llm_training import MediumFineTuneStack
from cdk_llm_training.assets.recipes.convert_recipes import convert
from cdk_llm_training.assets.runtime import cluster_run
from cdk_llm_training.assets.runtime.cluster_run_manifest import job_name_for
from cdk_llm_training.config.tiers import MediumFineTuneConfig

NAME = "fine-tuning/llama/llmft_tiny_sft_lora"
IMAGE = "111122223333.dkr.ecr.us-east-1.amazonaws.com/recipes:llmft-1"
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
RUN_INPUT = {
    "job": {"recipe": {"name": NAME, "overrides": ["training_config.training_args.max_epochs=1"]}},
    "nodes": 2,
    "dataset": "datasets/sft/v1/",
    "output_name": "tiny-sft",
}
START, END = "2026-11-30T07:00:00Z", "2026-11-30T09:00:00Z"


class StoppedError(BaseException):
    """Raised where StopExecution would stop the execution (not an Exception: the in-process
    Lambda wrapper would turn it into a task failure)."""


@dataclass
class FakeKubeflow:
    """The API server for one namespace's PyTorchJobs and ConfigMaps."""

    outcome: str = "Succeeded"
    polls_to_finish: int = 2
    stop_on_poll: int | None = None
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    polls: int = 0

    def request(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any]]:
        self.requests.append((method, path))
        match = re.fullmatch(
            r"/(api/v1|apis/batch/v1|apis/kubeflow.org/v1)/namespaces/default/"
            r"(configmaps|pytorchjobs|jobs|services)(?:/([a-z0-9-]+))?",
            path,
        )
        assert match, path
        group, kind, name = match.groups()
        key = f"{kind}/{name}"
        if method == "POST":
            assert body is not None
            assert name is None
            assert (group, kind) in (("api/v1", "configmaps"), ("apis/kubeflow.org/v1", kind))
            key = f"{kind}/{body['metadata']['name']}"
            if key in self.objects:
                return 409, _status(409, "exists")
            self.objects[key] = body
            return 201, body
        if method == "GET":
            assert kind == "pytorchjobs", path
            self.polls += 1
            if self.stop_on_poll == self.polls:
                raise StoppedError
            return 200, self._with_status(self.objects[key])
        if method == "DELETE":
            assert body is not None
            assert body["propagationPolicy"] == "Background"
            if self.objects.pop(key, None) is None:
                return 404, _status(404, f"{key} not found")
            return 200, _status(200, "deleted")
        raise AssertionError(method)

    def _with_status(self, job: dict[str, Any]) -> dict[str, Any]:
        replicas = job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"]
        conditions = [{"type": "Created", "status": "True"}, {"type": "Running", "status": "True"}]
        status: dict[str, Any] = {"startTime": START, "conditions": conditions}
        if self.polls >= self.polls_to_finish:
            done = self.outcome == "Succeeded"
            conditions[1]["status"] = "False"
            conditions.append(
                {
                    "type": self.outcome,
                    "status": "True",
                    "reason": "PyTorchJobSucceeded" if done else "PyTorchJobFailed",
                    "message": ""
                    if done
                    else "PyTorchJob run-x is failed because 1 Worker replica(s) failed.",
                }
            )
            status["replicaStatuses"] = {"Worker": {"succeeded" if done else "failed": replicas}}
            status["completionTime"] = END
        return {**job, "status": status}


def _status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message}


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    config = MediumFineTuneConfig.model_validate(
        {
            "hyperpod": {
                "instance_groups": [
                    {"name": "system", "instance_type": "ml.m5.2xlarge", "instance_count": 1},
                    {"name": "gpu-workers", "instance_type": "ml.p5.48xlarge", "instance_count": 2},
                ]
            }
        }
    )
    return MediumFineTuneStack(cdk.App(context=cdk_context()), "MediumRecipes", config=config)


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> ResolvedTemplate:
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    return ResolvedTemplate(assembly.get_stack_by_name(stack.stack_name).template)


@pytest.fixture(scope="module")
def machine(stack: MediumFineTuneStack) -> str:
    assert stack.runs is not None
    return stack.get_logical_id(stack.runs.state_machine.node.default_child)  # type: ignore[arg-type]


def _upload_catalog(s3: Any, bucket: str, prefix: str, workdir: Path) -> None:
    """What the deploy-time build writes, from a recipe tree generated here."""
    release = workdir / "release"
    folder = release / "recipes_collection" / "recipes" / "fine-tuning" / "llama"
    folder.mkdir(parents=True)
    (folder / "llmft_tiny_sft_lora.yaml").write_text(RECIPE)
    params = release / "launcher" / "recipe_templatization" / "llmft"
    params.mkdir(parents=True)
    regional = {"llmft": {"k8s": {"container_image": {"prod": {"us-east-1": IMAGE}}}}}
    (params / "llmft_regional_parameters.json").write_text(json.dumps(regional))
    meta = {
        "repository": "aws/sagemaker-hyperpod-recipes",
        "release": "v2.0.9",
        "commit": "2" * 40,
        "archiveSha256": "0" * 64,
    }
    out = workdir / "catalog"
    convert(release, out, meta, yaml.safe_load)
    for path in out.rglob("*.json"):
        s3.put_object(
            Bucket=bucket, Key=prefix + path.relative_to(out).as_posix(), Body=path.read_bytes()
        )


@pytest.fixture(scope="module")
def aws(template: ResolvedTemplate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ):
            patch.setenv(name, value)
        with mock_aws():
            s3 = create_buckets(template)
            (bucket,) = [b for b in template.of_type("AWS::S3::Bucket") if "Artifacts" in b]
            prefix = "recipes/hyperpod/v2.0.9/"
            _upload_catalog(s3, template.ref(bucket), prefix, tmp_path_factory.mktemp("recipes"))
            yield s3


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> FakeKubeflow:
    fake = FakeKubeflow()
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


def test_recipe_run_renders_submits_and_reports(
    cloud: Cloud, kube: FakeKubeflow, machine: str
) -> None:
    run = cloud.start(machine, RUN_INPUT, name="TinySft-Run1")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    job_name = job_name_for("TinySft-Run1")
    assert [m for m, _ in kube.requests[:2]] == ["POST", "POST"]
    config_map = kube.objects[f"configmaps/training-config-{job_name}"]
    config = json.loads(config_map["data"]["config.yaml"])
    assert config["trainer"] == {"devices": 8, "num_nodes": 2}
    assert config["training_config"]["training_args"]["max_epochs"] == 1
    assert config["run"]["results_dir"] == "/fsx/checkpoints/tiny-sft/tiny-sft"
    job = kube.objects[f"pytorchjobs/{job_name}"]
    pod = job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]
    assert pod["containers"][0]["image"] == IMAGE
    claims = {v["name"]: v.get("persistentVolumeClaim") for v in pod["volumes"]}
    assert claims["fsx"] == {"claimName": "fsx-claim"}
    assert claims["fsx-data"] == {"claimName": "fsx-claim-data", "readOnly": True}
    (note,) = cloud.notifications
    assert note["result"] == "SUCCEEDED"
    report = note["report"]
    assert (report["jobId"], report["nodes"], report["nodeHours"]) == (job_name, 2, 4.0)
    assert report["durationSeconds"] == 2 * 3600


def test_failed_pytorchjob_notifies_with_the_reason(
    cloud: Cloud, kube: FakeKubeflow, machine: str
) -> None:
    kube.outcome = "Failed"
    run = cloud.start(machine, RUN_INPUT)
    assert (run.status, run.error) == ("FAILED", "TrainingJobFailed")
    (note,) = cloud.notifications
    assert (note["result"], note["reason"]) == ("JOB_FAILED", "PyTorchJobFailed")
    assert "1 Worker replica(s) failed" in note["message"]


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (
            {"recipe": {"name": "fine-tuning/llama/llmft_tiny_sft_lorra"}},
            "is not a recipe of aws/sagemaker-hyperpod-recipes v2.0.9 (commit 2222222222222222"
            "222222222222222222222222); did you mean ['fine-tuning/llama/llmft_tiny_sft_lora']",
        ),
        (
            {"recipe": {"name": NAME, "overrides": ["trainer.max_steps=10"]}},
            "job.recipe.overrides: override 'trainer.max_steps=10': the recipe has no key "
            "'trainer.max_steps'; use '+trainer.max_steps=...' to add it",
        ),
    ],
)
def test_bad_recipe_or_override_fails_in_the_first_state(
    cloud: Cloud, kube: FakeKubeflow, machine: str, job: dict[str, Any], message: str
) -> None:
    run = cloud.start(machine, {**RUN_INPUT, "job": job})
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    assert run.visited[0] == "ValidateRun"
    assert "SubmitJob" not in run.visited
    assert kube.requests == []
    (note,) = cloud.notifications
    assert note["error"] == "RunInputError"
    assert message in json.loads(note["cause"])["errorMessage"]


def test_stopped_recipe_run_is_cancelled(
    cloud: Cloud, kube: FakeKubeflow, machine: str, template: ResolvedTemplate
) -> None:
    kube.stop_on_poll, kube.polls_to_finish = 1, 99
    with pytest.raises(StoppedError):
        cloud.start(machine, RUN_INPUT, name="stopped-recipe")
    run = cloud.executions[-1]
    job_name = job_name_for("stopped-recipe")
    assert set(kube.objects) == {
        f"pytorchjobs/{job_name}",
        f"configmaps/training-config-{job_name}",
    }
    results = _deliver(template, cloud, _status_event(run, "ABORTED"))
    assert results == [
        {"jobName": job_name, "deleted": ["pytorchjobs", "configmaps"]},
    ]
    assert kube.objects == {}
