"""ClusterTrainingRun recipe runs on a MediumFineTuneStack whose cluster has the HyperPod
training operator add-on, executed offline: the controller renders a ``HyperPodPyTorchJob``
(chosen at synth), which runs to success, to failure and to a stop that deletes it. The
Kubernetes API is faked in its shapes (sagemaker.amazonaws.com/v1 HyperPodPyTorchJob with the
condition types the HyperPod CLI reads, v1 ConfigMap, Status, DeleteOptions). The synthesized
stack is asserted too: the controller's kind variable, the RBAC release and LLM-RCP2."""

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
from workflows.aws_world import Cloud, ResolvedTemplate, create_buckets
from workflows.state_coverage import record
from workflows.test_cluster_training_run_recipe_workflows import (
    END,
    IMAGE,
    RUN_INPUT,
    START,
    StoppedError,
    _upload_catalog,
)
from workflows.test_cluster_training_run_workflows import _deliver, _status_event

from cdk_llm_training import MediumFineTuneStack
from cdk_llm_training.assets.runtime import cluster_run
from cdk_llm_training.assets.runtime.cluster_run_manifest import job_name_for
from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.config.tiers import MediumFineTuneConfig

PATH = re.compile(
    r"/(api/v1|apis/sagemaker\.amazonaws\.com/v1|apis/batch/v1)/namespaces/default/"
    r"(configmaps|hyperpodpytorchjobs|jobs|services)(?:/([a-z0-9-]+))?"
)


@dataclass
class FakeHyperPodOperator:
    """The API server for one namespace's HyperPodPyTorchJobs and ConfigMaps."""

    outcome: str = "Completed"
    polls_to_finish: int = 2
    stop_on_poll: int | None = None
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    polls: int = 0

    def request(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any]]:
        self.requests.append((method, path))
        match = PATH.fullmatch(path)
        assert match, path
        _group, kind, name = match.groups()
        key = f"{kind}/{name}"
        if method == "POST":
            assert body is not None
            assert name is None
            assert kind in ("configmaps", "hyperpodpytorchjobs"), path
            key = f"{kind}/{body['metadata']['name']}"
            if key in self.objects:
                return 409, {"kind": "Status", "status": "Failure", "message": "exists"}
            self.objects[key] = body
            return 201, body
        if method == "GET":
            assert kind == "hyperpodpytorchjobs", path
            self.polls += 1
            if self.stop_on_poll == self.polls:
                raise StoppedError
            return 200, self._with_status(self.objects[key])
        if method == "DELETE":
            assert body is not None
            assert body["propagationPolicy"] == "Background"
            if self.objects.pop(key, None) is None:
                return 404, {"kind": "Status", "status": "Failure", "message": "not found"}
            return 200, {"kind": "Status", "status": "Success"}
        raise AssertionError(method)

    def _with_status(self, job: dict[str, Any]) -> dict[str, Any]:
        conditions = [{"type": "Created", "status": "True"}, {"type": "Running", "status": "True"}]
        status: dict[str, Any] = {"startTime": START, "conditions": conditions}
        if self.polls >= self.polls_to_finish:
            conditions[1]["status"] = "False"
            done = self.outcome == "Completed"
            conditions.append(
                {
                    "type": self.outcome,
                    "status": "True",
                    "reason": "JobCompleted" if done else "JobFailed",
                    "message": "" if done else "Job failed: pod run-x-0 exited with code 1",
                }
            )
            if not done:
                status["latestFaultyPodInstanceList"] = {"faultyPodList": ["run-x-0"]}
            status["completionTime"] = END
        return {**job, "status": status}


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    config = MediumFineTuneConfig.model_validate(
        {
            "hyperpod": {
                "instance_groups": [
                    {"name": "system", "instance_type": "ml.m5.2xlarge", "instance_count": 1},
                    {"name": "gpu-workers", "instance_type": "ml.p5.48xlarge", "instance_count": 2},
                ],
                "addons": {"training_operator": True},
            }
        }
    )
    app = cdk.App(context=cdk_context())
    return MediumFineTuneStack(app, "MediumHyperPodJobs", config=config)


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> ResolvedTemplate:
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    return ResolvedTemplate(assembly.get_stack_by_name(stack.stack_name).template)


@pytest.fixture(scope="module")
def raw_template(stack: cdk.Stack) -> dict[str, Any]:
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    document: dict[str, Any] = assembly.get_stack_by_name(stack.stack_name).template
    return document


@pytest.fixture(scope="module")
def machine(stack: MediumFineTuneStack) -> str:
    assert stack.runs is not None
    return stack.get_logical_id(stack.runs.state_machine.node.default_child)  # type: ignore[arg-type]


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
def kube(monkeypatch: pytest.MonkeyPatch) -> FakeHyperPodOperator:
    fake = FakeHyperPodOperator()
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


def test_stack_renders_the_hyperpod_kind_with_its_rbac(raw_template: dict[str, Any]) -> None:
    resources = raw_template["Resources"]
    kinds = {
        props["Properties"]["Environment"]["Variables"].get("RECIPE_JOB_KIND")
        for props in resources.values()
        if props["Type"] == "AWS::Lambda::Function"
        and "RECIPES_BUCKET" in props["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert kinds == {"HyperPodPyTorchJob"}
    (rbac,) = [r for r in resources.values() if r["Type"] == "Custom::TrainingRunRecipeRbac"]
    role = json.loads(rbac["Properties"]["Manifests"])[0]
    assert {"sagemaker.amazonaws.com"} in [set(rule["apiGroups"]) for rule in role["rules"]]
    granted = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"hyperpodpytorchjobs", "hyperpodpytorchjobs/status"} <= granted
    addons = [
        r["Properties"]["AddonName"] for r in resources.values() if r["Type"] == "AWS::EKS::Addon"
    ]
    assert "amazon-sagemaker-hyperpod-training-operator" in addons
    assert check_template(raw_template, [RULES_BY_ID["LLM-RCP2"]]) == []
    without_addon = {
        **raw_template,
        "Resources": {
            k: v
            for k, v in resources.items()
            if v.get("Properties", {}).get("AddonName")
            != "amazon-sagemaker-hyperpod-training-operator"
        },
    }
    (finding,) = check_template(without_addon, [RULES_BY_ID["LLM-RCP2"]])
    assert finding.location.endswith("RECIPE_JOB_KIND")


def test_hyperpod_job_run_succeeds_and_reports(
    cloud: Cloud, kube: FakeHyperPodOperator, machine: str
) -> None:
    run = cloud.start(machine, RUN_INPUT, name="HpSft-Run1")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    job_name = job_name_for("HpSft-Run1")
    assert [m for m, _ in kube.requests[:2]] == ["POST", "POST"]
    job = kube.objects[f"hyperpodpytorchjobs/{job_name}"]
    assert (job["apiVersion"], job["kind"]) == ("sagemaker.amazonaws.com/v1", "HyperPodPyTorchJob")
    (replica_set,) = job["spec"]["replicaSpecs"]
    assert (replica_set["name"], replica_set["replicas"]) == ("2-nodes", 2)
    assert job["spec"]["nprocPerNode"] == "8"
    (container,) = replica_set["template"]["spec"]["containers"]
    assert container["image"] == IMAGE
    assert {"name": "USE_HYPERPODRUN", "value": "true"} in container["env"]
    config = json.loads(
        kube.objects[f"configmaps/training-config-{job_name}"]["data"]["config.yaml"]
    )
    assert config["trainer"] == {"devices": 8, "num_nodes": 2}
    (note,) = cloud.notifications
    assert note["result"] == "SUCCEEDED"
    report = note["report"]
    assert (report["jobId"], report["nodes"], report["nodeHours"]) == (job_name, 2, 4.0)


def test_failed_hyperpod_job_notifies_with_the_reason(
    cloud: Cloud, kube: FakeHyperPodOperator, machine: str
) -> None:
    kube.outcome = "Failed"
    run = cloud.start(machine, RUN_INPUT)
    assert (run.status, run.error) == ("FAILED", "TrainingJobFailed")
    (note,) = cloud.notifications
    assert (note["result"], note["reason"]) == ("JOB_FAILED", "JobFailed")
    assert "exited with code 1" in note["message"]


def test_bad_recipe_fails_in_the_first_state(
    cloud: Cloud, kube: FakeHyperPodOperator, machine: str
) -> None:
    job = {"recipe": {"name": "fine-tuning/llama/llmft_tiny_sft_lorra"}}
    run = cloud.start(machine, {**RUN_INPUT, "job": job})
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    assert kube.requests == []


def test_stopped_hyperpod_job_run_is_cancelled(
    cloud: Cloud, kube: FakeHyperPodOperator, machine: str, template: ResolvedTemplate
) -> None:
    kube.stop_on_poll, kube.polls_to_finish = 1, 99
    with pytest.raises(StoppedError):
        cloud.start(machine, RUN_INPUT, name="stopped-hp")
    run = cloud.executions[-1]
    job_name = job_name_for("stopped-hp")
    assert set(kube.objects) == {
        f"hyperpodpytorchjobs/{job_name}",
        f"configmaps/training-config-{job_name}",
    }
    results = _deliver(template, cloud, _status_event(run, "ABORTED"))
    assert results == [{"jobName": job_name, "deleted": ["hyperpodpytorchjobs", "configmaps"]}]
    assert kube.objects == {}
