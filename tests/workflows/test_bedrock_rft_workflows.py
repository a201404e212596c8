"""BedrockFineTuneJob's reinforcement fine-tuning workflows (built-in grader, the user's
Python grader) on every branch: success, invalid data, a grader that fails its probe (no paid
job), a job that fails, a probe that crashes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from workflows.asl_interpreter import StatesError
from workflows.aws_world import Cloud, check_request
from workflows.workflow_inputs import function_env, put_dataset, results

from cdk_llm_training.assets.runtime import rft_grader

JOB = "bedrock:createModelCustomizationJob"
GRADER = "lambda:rft_grader.handler"
GOOD_GRADER = b"def grade(sample):\n    return 1.0 if sample['messages'][-1]['content'] else 0.0\n"
WRONG_SHAPE_GRADER = b"def lambda_grader(samples):\n    return {'score': 1}\n"


class FakeLambda:
    """``lambda.invoke`` (RequestResponse) against the template's functions, run in-process:
    a handler that raises answers with ``FunctionError``, as Lambda does."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def invoke(self, **params: Any) -> dict[str, Any]:
        check_request("lambda", "invoke", params)
        name = params["FunctionName"]
        arn = next(a for a in self.cloud.functions if a.endswith(f":function:{name}"))
        try:
            result = self.cloud._lambda(arn, json.loads(params["Payload"]), "lambda:invoke")
        except StatesError as error:
            body = json.dumps({"errorType": error.error, "errorMessage": error.cause})
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _body(body)}
        return {"StatusCode": 200, "Payload": _body(json.dumps(result))}


def _body(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


@pytest.fixture
def rft_cloud(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    real_client = boto3.client
    fake = FakeLambda(cloud)
    monkeypatch.setattr(
        boto3,
        "client",
        lambda service, *a, **k: fake if service == "lambda" else real_client(service, *a, **k),
    )
    rft_grader._loaded.clear()  # the python grader's module is cached per environment
    yield cloud
    rft_grader._loaded.clear()


def _put_grader(cloud: Cloud, logical_id: str, source: bytes) -> None:
    env = function_env(cloud, logical_id, "ValidateDataset")
    cloud.s3.put_object(
        Bucket=env["DATASET_BUCKET"], Key=f"{env['DATASET_PREFIX']}graders/grade.py", Body=source
    )


@pytest.mark.parametrize("variant", ["rft", "rft_python"])
def test_rft_probes_the_grader_then_runs_the_job(
    rft_cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    if variant == "rft_python":
        _put_grader(rft_cloud, logical_id, GOOD_GRADER)
    execution = rft_cloud.start(logical_id, put_dataset(rft_cloud, logical_id))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    ops = rft_cloud.ops()
    assert ops.index(GRADER) < ops.index(JOB)  # the grader answered before the paid job
    job = next(p for op, p in rft_cloud.calls if op == JOB)
    assert job["CustomizationType"] == "REINFORCEMENT_FINE_TUNING"
    rft = job["CustomizationConfig"]["RftConfig"]
    assert rft["GraderConfig"]["LambdaGrader"]["LambdaArn"].endswith(
        ":function:" + function_env(rft_cloud, logical_id, "ProbeGrader")["GRADER_FUNCTION"]
    )
    assert rft["HyperParameters"] == {
        "EpochCount": 2,
        "BatchSize": 64,
        "LearningRate": 1e-05,
        "ReasoningEffort": "low",
    }
    assert "HyperParameters" not in job  # RFT hyperparameters live in rftConfig only
    assert results(rft_cloud) == ["SUCCEEDED"]
    probe = execution.output["graderProbe"]
    assert probe["works"] is True
    assert probe["scores"] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("variant", ["rft", "rft_evaluated"])
def test_a_grader_that_raises_stops_before_the_paid_job(
    rft_cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    rft_cloud.raise_on[GRADER] = ("KeyError", "'messages'")
    execution = rft_cloud.start(logical_id, put_dataset(rft_cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "GraderFailed")
    assert JOB not in rft_cloud.ops()
    assert results(rft_cloud) == ["GRADER_FAILED"]
    assert "raised an error" in rft_cloud.notifications[0]["problems"][0]


def test_a_grader_answering_in_the_wrong_shape_stops_before_the_paid_job(
    rft_cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids["rft_python"]
    _put_grader(rft_cloud, logical_id, WRONG_SHAPE_GRADER)
    execution = rft_cloud.start(logical_id, put_dataset(rft_cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "GraderFailed")
    assert JOB not in rft_cloud.ops()
    assert rft_cloud.notifications[0]["problems"] == [
        "the grader returned dict, not a list of records"
    ]


def test_a_missing_grader_file_stops_before_the_paid_job(
    rft_cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids["rft_python"]
    execution = rft_cloud.start(logical_id, put_dataset(rft_cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "GraderFailed")
    assert JOB not in rft_cloud.ops()


@pytest.mark.parametrize("variant", ["rft", "rft_python", "rft_evaluated"])
def test_rft_job_failure_notifies(
    rft_cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    if variant == "rft_python":
        _put_grader(rft_cloud, logical_id, GOOD_GRADER)
    rft_cloud.job_status[JOB] = "Failed"
    execution = rft_cloud.start(logical_id, put_dataset(rft_cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert results(rft_cloud) == ["FAILED"]


@pytest.mark.parametrize("variant", ["rft", "rft_python", "rft_evaluated"])
def test_invalid_rft_dataset_starts_neither_probe_nor_job(
    rft_cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    execution = rft_cloud.start(logical_id, put_dataset(rft_cloud, logical_id, valid=False))
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert GRADER not in rft_cloud.ops()
    assert JOB not in rft_cloud.ops()


def test_rft_takes_no_validation_data(rft_cloud: Cloud, machine_ids: dict[str, str]) -> None:
    logical_id = machine_ids["rft"]
    payload = put_dataset(rft_cloud, logical_id, validation=True)
    execution = rft_cloud.start(logical_id, payload)
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")


@pytest.mark.parametrize("variant", ["rft", "rft_python", "rft_evaluated"])
def test_a_probe_crash_notifies_a_validation_error(
    rft_cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    rft_cloud.raise_on["lambda:rft_grader_probe.handler"] = ("Lambda.Unknown", "timed out")
    execution = rft_cloud.start(logical_id, put_dataset(rft_cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "ValidationError")
    assert JOB not in rft_cloud.ops()


def _put_prompts(cloud: Cloud, logical_id: str) -> None:
    env = function_env(cloud, logical_id, "EvalPreparePrompts")
    record = {"prompt": "What is 2 + 3?", "reference": "5"}
    body = "\n".join(json.dumps(record) for _ in range(10)) + "\n"
    cloud.s3.put_object(Bucket=env["CATALOG_BUCKET"], Key="evaluation/prompts.jsonl", Body=body)


@pytest.mark.parametrize("scores", ["pass", "low"])
def test_rft_model_goes_through_the_same_evaluation_gate(
    rft_cloud: Cloud, machine_ids: dict[str, str], scores: str
) -> None:
    logical_id = machine_ids["rft_evaluated"]
    _put_prompts(rft_cloud, logical_id)
    if scores == "low":
        rft_cloud.eval_score = 0.0
    execution = rft_cloud.start(logical_id, put_dataset(rft_cloud, logical_id))
    ops = rft_cloud.ops()
    assert ops.index(GRADER) < ops.index(JOB)
    # Nova 2 Lite has no on-demand custom model deployment: provisioned throughput, deleted
    assert "bedrock:createProvisionedModelThroughput" in ops
    assert "bedrock:deleteProvisionedModelThroughput" in ops
    assert ops.index(JOB) < ops.index("bedrock:createEvaluationJob")
    if scores == "pass":
        assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
        assert results(rft_cloud)[-1] == "SUCCEEDED"
    else:
        assert execution.status == "FAILED"
        assert rft_cloud.notifications
        assert results(rft_cloud)[-1] != "SUCCEEDED"


@pytest.mark.parametrize(
    "broken",
    ["throughput-failed", "prompts-invalid", "baseline-judge-job", "candidate-judge-job"],
)
def test_rft_evaluation_failures_delete_the_throughput_and_notify(
    rft_cloud: Cloud, machine_ids: dict[str, str], broken: str
) -> None:
    logical_id = machine_ids["rft_evaluated"]
    if broken == "prompts-invalid":
        env = function_env(rft_cloud, logical_id, "EvalPreparePrompts")
        rft_cloud.s3.put_object(
            Bucket=env["CATALOG_BUCKET"], Key="evaluation/prompts.jsonl", Body=b'{"q": 1}\n'
        )
    else:
        _put_prompts(rft_cloud, logical_id)
    if broken == "throughput-failed":
        rft_cloud.job_status["bedrock:getProvisionedModelThroughput"] = "Failed"
    elif broken == "baseline-judge-job":
        rft_cloud.failing_jobs = ("eval-bj-",)
    elif broken == "candidate-judge-job":
        rft_cloud.failing_jobs = ("eval-cj-",)
    execution = rft_cloud.start(logical_id, put_dataset(rft_cloud, logical_id))
    assert execution.status == "FAILED"
    assert rft_cloud.notifications
    assert results(rft_cloud)[-1] != "SUCCEEDED"
    ops = rft_cloud.ops()
    if "bedrock:createProvisionedModelThroughput" in ops:
        assert "bedrock:deleteProvisionedModelThroughput" in ops
