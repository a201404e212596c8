"""ClusterTrainingRun with ``evaluation`` and ``registry_group_name`` (the variants of
``conftest.cluster_run_stack``), executed offline on the HyperPod path: register only,
evaluate then register, a missed threshold, a failed evaluation job, a failed registration, a
run without a model folder; plus what the template grants for those states."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from workflows.aws_world import Cloud, ResolvedTemplate
from workflows.conftest import CLUSTER_REGISTRY_GROUP
from workflows.test_cluster_training_run_workflows import RUN_INPUT, FakeCluster

from cdk_llm_training.assets.runtime import cluster_run
from cdk_llm_training.assets.runtime.cluster_run_manifest import job_name_for
from cdk_llm_training.checks import RULES_BY_ID, check_template

MODEL_FOLDER = "checkpoints/llama-70b-sft/model/"
BOTH = ["cluster_evaluated_registered", "cluster_registered"]


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    fake = FakeCluster()
    monkeypatch.setattr(cluster_run, "open_cluster", lambda: fake.request)
    return fake


def _bucket(template: ResolvedTemplate, name: str) -> str:
    (logical_id,) = [b for b in template.of_type("AWS::S3::Bucket") if name in b]
    return template.ref(logical_id)


def _export_model(cloud: Cloud, template: ResolvedTemplate, *, model: bool = True) -> str:
    """What the checkpoint link exported: metrics and (with ``model``) the model folder."""
    bucket = _bucket(template, "Artifacts")
    prefix = "checkpoints/llama-70b-sft/"
    cloud.s3.put_object(Bucket=bucket, Key=f"{prefix}metrics.json", Body=b'{"train_loss": 1.2}')
    if model:
        for name in ("config.json", "model.safetensors"):
            cloud.s3.put_object(Bucket=bucket, Key=f"{MODEL_FOLDER}{name}", Body=b"{}")
    return bucket


def _start(cloud: Cloud, machines: dict[str, str], variant: str, name: str) -> Any:
    return cloud.start(machines[variant], RUN_INPUT, name=name)


def test_register_only_records_the_model_with_the_run_report(
    cluster_cloud: Cloud,
    kube: FakeCluster,
    cluster_run_machines: dict[str, str],
    cluster_run_template: ResolvedTemplate,
) -> None:
    bucket = _export_model(cluster_cloud, cluster_run_template)
    run = _start(cluster_cloud, cluster_run_machines, "cluster_registered", "reg-1")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert "sagemaker:createProcessingJob" not in cluster_cloud.ops()
    ((arn, request),) = cluster_cloud.packages.items()
    job = job_name_for("reg-1")
    assert arn.endswith(f":model-package/{CLUSTER_REGISTRY_GROUP}/1")
    assert request["ModelPackageGroupName"] == CLUSTER_REGISTRY_GROUP
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert "ModelMetrics" not in request
    assert "InferenceSpecification" not in request
    assert request["CustomerMetadataProperties"] == {
        "source": "cluster-training-run",
        "runReport": f"s3://{bucket}/runs/reports/{job}/report.json",
        "jobId": job,
        "outputName": "llama-70b-sft",
        "modelArtifact": f"s3://{bucket}/{MODEL_FOLDER}",
        "instanceType": "ml.p5.48xlarge",
        "nodes": "2",
        "nodeHours": "7.0",
        "durationSeconds": "12600.0",
        "evaluationVerdict": "not evaluated",
    }
    (note,) = cluster_cloud.notifications
    assert note["result"] == "SUCCEEDED"
    assert note["modelPackageArn"] == arn
    assert note["model"] == f"s3://{bucket}/{MODEL_FOLDER}"
    assert "taskMetrics" not in note


def test_evaluate_then_register_scores_the_model_folder(
    cluster_cloud: Cloud,
    kube: FakeCluster,
    cluster_run_machines: dict[str, str],
    cluster_run_template: ResolvedTemplate,
) -> None:
    bucket = _export_model(cluster_cloud, cluster_run_template)
    run = _start(cluster_cloud, cluster_run_machines, "cluster_evaluated_registered", "eval-1")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    ((_, job),) = [c for c in cluster_cloud.calls if c[0] == "sagemaker:createProcessingJob"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    assert inputs["predictions"] == f"s3://{bucket}/{MODEL_FOLDER}"
    assert inputs["labelled"].endswith("/evaluation/labelled.jsonl")
    assert inputs["labelled"].startswith(f"s3://{_bucket(cluster_run_template, 'Curated')}/")
    command = job["AppSpecification"]["ContainerEntrypoint"][2]
    assert "--model-dir /opt/ml/processing/input/predictions" in command
    assert "--min-score token_f1=0.6" in command
    assert job["Environment"] == {"MODEL_NAME": "llama-70b-sft"}
    ((_, request),) = cluster_cloud.packages.items()
    report = f"s3://{bucket}/evaluation/task-metrics/eval-1/report.json"
    metadata = request["CustomerMetadataProperties"]
    assert metadata["evaluationVerdict"] == "passed"
    assert metadata["evaluationReport"] == report
    assert metadata["score.token_f1"] == "0.8"
    assert request["ModelMetrics"] == {
        "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report}}
    }
    (note,) = cluster_cloud.notifications
    assert note["result"] == "SUCCEEDED"
    assert note["taskMetrics"]["metrics"] == {"token_f1": 0.8}


def test_missed_threshold_notifies_and_registers_nothing(
    cluster_cloud: Cloud,
    kube: FakeCluster,
    cluster_run_machines: dict[str, str],
    cluster_run_template: ResolvedTemplate,
) -> None:
    _export_model(cluster_cloud, cluster_run_template)
    cluster_cloud.metrics_passed = False
    run = _start(cluster_cloud, cluster_run_machines, "cluster_evaluated_registered", "low-1")
    assert (run.status, run.error) == ("FAILED", "EvaluationFailed")
    assert cluster_cloud.packages == {}
    (note,) = cluster_cloud.notifications
    assert note["result"] == "EVALUATION_FAILED"
    assert note["failures"][0]["metric"] == "token_f1"
    assert note["reportKey"] == "evaluation/task-metrics/low-1/report.json"


@pytest.mark.parametrize("broken", ["sagemaker:createProcessingJob", "s3:getObject"])
def test_evaluation_job_failure_notifies_and_registers_nothing(
    cluster_cloud: Cloud,
    kube: FakeCluster,
    cluster_run_machines: dict[str, str],
    cluster_run_template: ResolvedTemplate,
    broken: str,
) -> None:
    _export_model(cluster_cloud, cluster_run_template)
    if broken == "sagemaker:createProcessingJob":
        cluster_cloud.job_status[broken] = "Failed"
    else:
        cluster_cloud.raise_on[broken] = ("S3.NoSuchKeyException", "gone")
    run = _start(cluster_cloud, cluster_run_machines, "cluster_evaluated_registered", "err-1")
    assert (run.status, run.error) == ("FAILED", "EvaluationFailed")
    assert cluster_cloud.packages == {}
    (note,) = cluster_cloud.notifications
    assert note["result"] == "EVALUATION_ERROR"
    assert note["error"] in ("States.TaskFailed", "S3.NoSuchKeyException")


@pytest.mark.parametrize("variant", BOTH)
def test_registry_failure_notifies(
    cluster_cloud: Cloud,
    kube: FakeCluster,
    cluster_run_machines: dict[str, str],
    cluster_run_template: ResolvedTemplate,
    variant: str,
) -> None:
    bucket = _export_model(cluster_cloud, cluster_run_template)
    cluster_cloud.raise_on["sagemaker:createModelPackage"] = (
        "SageMaker.ResourceNotFoundException",
        "Model package group cluster-models does not exist.",
    )
    run = _start(cluster_cloud, cluster_run_machines, variant, "regfail-1")
    assert (run.status, run.error) == ("FAILED", "RegistrationFailed")
    (note,) = cluster_cloud.notifications
    assert note["result"] == "REGISTRATION_FAILED"
    assert note["error"] == "SageMaker.ResourceNotFoundException"
    assert note["model"] == f"s3://{bucket}/{MODEL_FOLDER}"
    assert note["report"].endswith("/report.json")


@pytest.mark.parametrize("variant", BOTH)
def test_missing_model_folder_fails_with_a_clear_message(
    cluster_cloud: Cloud,
    kube: FakeCluster,
    cluster_run_machines: dict[str, str],
    cluster_run_template: ResolvedTemplate,
    variant: str,
) -> None:
    bucket = _export_model(cluster_cloud, cluster_run_template, model=False)
    run = _start(cluster_cloud, cluster_run_machines, variant, "nomodel-1")
    assert (run.status, run.error) == ("FAILED", "ModelFolderMissing")
    assert "sagemaker:createProcessingJob" not in cluster_cloud.ops()
    assert cluster_cloud.packages == {}
    (note,) = cluster_cloud.notifications
    assert note["result"] == "MODEL_MISSING"
    assert note["expected"] == f"s3://{bucket}/{MODEL_FOLDER}"
    assert "$CHECKPOINT_DIR/model/" in note["message"]
    # The report was written before: the run itself succeeded.
    assert note["report"].endswith(f"/runs/reports/{job_name_for('nomodel-1')}/report.json")


@pytest.mark.parametrize("variant", BOTH)
def test_listing_error_notifies(
    cluster_cloud: Cloud,
    kube: FakeCluster,
    cluster_run_machines: dict[str, str],
    cluster_run_template: ResolvedTemplate,
    variant: str,
) -> None:
    _export_model(cluster_cloud, cluster_run_template)
    cluster_cloud.raise_on["s3:listObjectsV2"] = ("S3.S3Exception", "Access Denied")
    run = _start(cluster_cloud, cluster_run_machines, variant, "list-1")
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    (note,) = cluster_cloud.notifications
    assert note["error"] == "S3.S3Exception"


@pytest.mark.parametrize("variant", BOTH)
def test_failed_job_and_bad_input_still_notify(
    cluster_cloud: Cloud,
    kube: FakeCluster,
    cluster_run_machines: dict[str, str],
    variant: str,
) -> None:
    run = cluster_cloud.start(cluster_run_machines[variant], {**RUN_INPUT, "nodes": 3})
    assert (run.status, run.error) == ("FAILED", "TrainingRunFailed")
    kube.outcome = "Failed"
    run = _start(cluster_cloud, cluster_run_machines, variant, "jobfail-1")
    assert (run.status, run.error) == ("FAILED", "TrainingJobFailed")
    assert [n["result"] for n in cluster_cloud.notifications] == ["FAILED", "JOB_FAILED"]
    assert cluster_cloud.packages == {}


# -- what the template grants ---------------------------------------------------------------


def _role_statements(template: ResolvedTemplate, machine: str) -> list[dict[str, Any]]:
    resources = template.template["Resources"]
    role = resources[machine]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = []
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": role} in resource["Properties"]["Roles"]:
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _with_action(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    def actions(s: dict[str, Any]) -> list[str]:
        return [s["Action"]] if isinstance(s["Action"], str) else s["Action"]

    return [s for s in statements if action in actions(s)]


@pytest.mark.parametrize("variant", BOTH)
def test_the_workflow_role_lists_only_the_checkpoint_prefix_and_registers_only_in_the_group(
    cluster_run_template: ResolvedTemplate, cluster_run_machines: dict[str, str], variant: str
) -> None:
    statements = _role_statements(cluster_run_template, cluster_run_machines[variant])
    (listing,) = _with_action(statements, "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["checkpoints/*"]}}
    assert isinstance(listing["Resource"], dict)  # the artifacts bucket, no wildcard
    (register,) = _with_action(statements, "sagemaker:CreateModelPackage")
    text = json.dumps(register["Resource"])
    assert f"model-package-group/{CLUSTER_REGISTRY_GROUP}" in text
    assert f"model-package/{CLUSTER_REGISTRY_GROUP}/*" in text
    assert _with_action(statements, "sagemaker:CreateModelPackageGroup") == []
    processing = _with_action(statements, "sagemaker:CreateProcessingJob")
    assert len(processing) == (1 if variant == "cluster_evaluated_registered" else 0)


def test_the_evaluation_role_reads_only_the_checkpoint_prefix(
    cluster_run_template: ResolvedTemplate,
) -> None:
    resources = cluster_run_template.template["Resources"]
    (policy,) = [
        r
        for k, r in resources.items()
        if k.startswith("RunsTaskMetricsProcessingRoleDefaultPolicy")
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (read,) = [s for s in statements if s.get("Sid") == "ReadPredictions"]
    assert "checkpoints/*" in json.dumps(read["Resource"])


def test_the_library_rules_pass_on_the_run_workflows(
    cluster_run_template: ResolvedTemplate,
) -> None:
    """Every rule of the pack (LLM-TG3 among them: the grant on the group) holds for the
    run workflows' resources (the tier's other resources are the tier tests' business)."""
    findings = [
        (f.rule_id, f.logical_id, f.message)
        for f in check_template(cluster_run_template.template)
        if f.logical_id.startswith(("Runs", "Registered"))
    ]
    assert findings == []
    machines = [
        k
        for k, r in cluster_run_template.template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith(("Runs", "Registered"))
    ]
    assert len(machines) == 2


def test_llm_tg3_sees_the_registration_of_both_run_workflows(
    cluster_run_template: ResolvedTemplate,
) -> None:
    """Without the grant on the group, LLM-TG3 reports both machines (the rule reads them)."""
    template = copy.deepcopy(dict(cluster_run_template.template))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            document = resource["Properties"]["PolicyDocument"]
            document["Statement"] = [
                s
                for s in document["Statement"]
                if "sagemaker:CreateModelPackage" not in json.dumps(s["Action"])
            ]
    reported = {f.logical_id for f in check_template(template, [RULES_BY_ID["LLM-TG3"]])}
    assert len([m for m in reported if m.startswith(("Runs", "Registered"))]) == 2


def test_llm_list1_sees_the_model_folder_listing_of_both_run_workflows(
    cluster_run_template: ResolvedTemplate,
) -> None:
    """Without the ListModelFolder grant, LLM-LIST1 reports both machines."""
    template = copy.deepcopy(dict(cluster_run_template.template))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            document = resource["Properties"]["PolicyDocument"]
            document["Statement"] = [
                s for s in document["Statement"] if s.get("Sid") != "ListModelFolder"
            ]
    reported = {f.logical_id for f in check_template(template, [RULES_BY_ID["LLM-LIST1"]])}
    assert len([m for m in reported if m.startswith(("Runs", "Registered"))]) == 2
