"""ClusterTrainingRun on the Slurm path (LargePretrainStack, ``conftest.slurm_run_stack``)
with ``evaluation`` and ``registry_group_name``: the states after the report are the HyperPod
path's (``test_cluster_run_registry_workflows`` runs every branch); here a Slurm run goes
through them to a registered model, and a run without a model folder stops before them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from workflows.aws_world import Cloud, ResolvedTemplate, create_buckets
from workflows.conftest import CLUSTER_REGISTRY_GROUP
from workflows.test_slurm_training_run_workflows import RUN_INPUT, FakeSlurm

from cdk_llm_training.assets.runtime import slurm_run
from cdk_llm_training.stacks.large_pretrain import LargePretrainStack

MODEL_FOLDER = "checkpoints/llama-pretrain/model/"


@pytest.fixture(scope="module")
def machine(slurm_run_stack: LargePretrainStack) -> str:
    assert slurm_run_stack.slurm_runs is not None
    child: Any = slurm_run_stack.slurm_runs.state_machine.node.default_child
    return slurm_run_stack.get_logical_id(child)


@pytest.fixture(scope="module")
def aws(slurm_run_template: ResolvedTemplate) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ):
            patch.setenv(name, value)
        with mock_aws():
            yield create_buckets(slurm_run_template)


@pytest.fixture
def slurm(monkeypatch: pytest.MonkeyPatch) -> FakeSlurm:
    fake = FakeSlurm()
    monkeypatch.setattr(slurm_run, "ssm_client", lambda: fake)
    monkeypatch.setattr(slurm_run, "ec2_client", lambda: fake)
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    return fake


@pytest.fixture
def cloud(slurm_run_template: ResolvedTemplate, aws: Any) -> Iterator[Cloud]:
    template = slurm_run_template
    yield Cloud(
        template=template,
        s3=aws,
        definitions=template.definitions(),
        functions=template.functions(),
    )
    for bucket in template.of_type("AWS::S3::Bucket"):
        name = template.ref(bucket)
        for item in aws.list_objects_v2(Bucket=name).get("Contents", []):
            aws.delete_object(Bucket=name, Key=item["Key"])


def _artifacts(template: ResolvedTemplate) -> str:
    (logical_id,) = [b for b in template.of_type("AWS::S3::Bucket") if "Artifacts" in b]
    return template.ref(logical_id)


def test_slurm_run_is_evaluated_and_registered(
    cloud: Cloud, slurm: FakeSlurm, machine: str, slurm_run_template: ResolvedTemplate
) -> None:
    bucket = _artifacts(slurm_run_template)
    cloud.s3.put_object(Bucket=bucket, Key=f"{MODEL_FOLDER}config.json", Body=b"{}")
    run = cloud.start(machine, RUN_INPUT, name="pretrain-reg-1")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    ((_, job),) = [c for c in cloud.calls if c[0] == "sagemaker:createProcessingJob"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    assert inputs["predictions"] == f"s3://{bucket}/{MODEL_FOLDER}"
    ((arn, request),) = cloud.packages.items()
    assert request["ModelPackageGroupName"] == CLUSTER_REGISTRY_GROUP
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    metadata = request["CustomerMetadataProperties"]
    assert metadata["instanceType"] == "trn1.32xlarge"
    assert metadata["nodes"] == "4"
    assert metadata["evaluationVerdict"] == "passed"
    (note,) = cloud.notifications
    assert (note["result"], note["modelPackageArn"]) == ("SUCCEEDED", arn)


def test_slurm_run_without_a_model_folder_is_not_registered(
    cloud: Cloud, slurm: FakeSlurm, machine: str
) -> None:
    run = cloud.start(machine, RUN_INPUT, name="pretrain-reg-2")
    assert (run.status, run.error) == ("FAILED", "ModelFolderMissing")
    assert cloud.packages == {}
    assert "sagemaker:createProcessingJob" not in cloud.ops()
    (note,) = cloud.notifications
    assert note["result"] == "MODEL_MISSING"
