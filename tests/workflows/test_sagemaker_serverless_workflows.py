"""SageMakerServerlessCustomization's workflows (SFT, RLVR) on every branch: the job started
through the AWS SDK integration and polled to Completed, Failed or Stopped; polls running
out (the job is stopped); invalid data; a validator crash. With ``options.evaluation``: the
serverless evaluation jobs, the report and the approval gate (pass, fail, a failed or
endless evaluation job, unreadable results, no registered package, a failed approval)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from workflows.aws_world import Cloud
from workflows.serverless_eval_world import EVALUATION_OP
from workflows.workflow_inputs import function_env, put_dataset, results

CREATE = "sagemaker:createTrainingJob"
DESCRIBE = "sagemaker:describeTrainingJob"
STOP = "sagemaker:stopTrainingJob"
VARIANTS = ("serverless_sft", "serverless_rlvr")
ALL_VARIANTS = (*VARIANTS, "serverless_evaluated")


@pytest.mark.parametrize("minimal", [False, True], ids=["full", "required-fields-only"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_job_is_polled_to_completion_and_registered(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, minimal: bool
) -> None:
    cloud.optional_fields = not minimal
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert cloud.ops().count(DESCRIBE) == 2  # InProgress, then Completed
    request = next(p for op, p in cloud.calls if op == CREATE)
    serverless = request["ServerlessJobConfig"]
    assert serverless["JobType"] == "FineTuning"
    assert serverless["Peft"] == "LORA"
    technique = "SFT" if variant == "serverless_sft" else "RLVR"
    assert serverless["CustomizationTechnique"] == technique
    assert ("EvaluatorArn" in serverless) is (technique == "RLVR")
    assert request["ModelPackageConfig"]["ModelPackageGroupArn"].startswith("arn:aws:sagemaker:")
    assert results(cloud) == ["SUCCEEDED"]
    assert execution.visited.count("WaitForJob") == 2


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_a_failed_job_notifies(
    cloud: Cloud, machine_ids: dict[str, str], variant: str, status: str
) -> None:
    logical_id = machine_ids[variant]
    cloud.job_status[CREATE] = status
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert results(cloud) == ["FAILED"]
    assert cloud.notifications[0]["error"] == "JobFailed"
    assert status in cloud.notifications[0]["cause"]


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_polls_running_out_stop_the_job(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    cloud.job_status[CREATE] = "InProgress"
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert cloud.ops().count(DESCRIBE) == 4  # max_polls=3: polls 0..3, then stop
    assert STOP in cloud.ops()
    assert cloud.notifications[0]["error"] == "PollsExhausted"


def test_a_rejected_request_notifies(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    logical_id = machine_ids["serverless_rlvr"]
    cloud.raise_on[CREATE] = ("SageMaker.ResourceLimitExceededException", "quota")
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert DESCRIBE not in cloud.ops()


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_invalid_data_starts_no_job(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id, valid=False))
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert CREATE not in cloud.ops()


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_a_validator_crash_notifies(
    cloud: Cloud, machine_ids: dict[str, str], variant: str
) -> None:
    logical_id = machine_ids[variant]
    cloud.raise_on["lambda:bedrock_dataset_validator.handler"] = ("Lambda.Unknown", "timed out")
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "ValidationError")
    assert results(cloud) == ["VALIDATION_ERROR"]


# -- evaluation (options.evaluation): serverless evaluation jobs, report, approval gate -----

EVALUATED = "serverless_evaluated"
UPDATE_PACKAGE = "sagemaker:updateModelPackage"
EVALUATION_JOBS = ("eval1", "eval2", "judgeinf", "judge")
"""The evaluated variant's jobs in order: mmlu, ifeval, judge inference, judging."""


def _evaluated_input(cloud: Cloud, logical_id: str) -> dict[str, object]:
    payload = put_dataset(cloud, logical_id)
    bucket = function_env(cloud, logical_id, "ValidateDataset")["DATASET_BUCKET"]
    cloud.s3.put_object(
        Bucket=bucket,
        Key="serverlesseval/judge/prompts.jsonl",
        Body=b'{"prompt": "Say hi.", "reference": "Hi!"}\n',
    )
    return payload


def _evaluation_requests(cloud: Cloud) -> list[dict[str, Any]]:
    return [
        p
        for op, p in cloud.calls
        if op == CREATE and p["ServerlessJobConfig"]["JobType"] == "Evaluation"
    ]


def _report(cloud: Cloud, machine_ids: dict[str, str]) -> dict[str, Any]:
    env = function_env(cloud, machine_ids[EVALUATED], "ReadEvaluation")
    bucket, prefix = env["REPORT_BUCKET"], env["REPORT_PREFIX"]
    keys = cloud.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    assert len(keys) == 1, keys
    return dict(json.loads(cloud.s3.get_object(Bucket=bucket, Key=keys[0]["Key"])["Body"].read()))


def test_evaluation_passes_the_gate_and_approves_the_package(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids[EVALUATED]
    execution = cloud.start(logical_id, _evaluated_input(cloud, logical_id))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    requests = _evaluation_requests(cloud)
    names = [r["TrainingJobName"] for r in requests]
    assert names == [f"serverlesseval-run1-{s}" for s in EVALUATION_JOBS]
    package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/"
    for request in requests:
        assert request["ModelPackageConfig"]["SourceModelPackageArn"].startswith(package)
        assert request["OutputDataConfig"]["CompressionType"] == "NONE"
    mmlu, ifeval, inference, judge = requests
    assert mmlu["ServerlessJobConfig"]["EvaluationType"] == "BenchmarkEvaluation"
    assert mmlu["HyperParameters"] == {
        "task": "mmlu",
        "strategy": "zs_cot",
        "evaluation_metric": "accuracy",
        "subtask": "anatomy,astronomy",
    }
    assert ifeval["HyperParameters"]["strategy"] == "zs"
    assert inference["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].endswith(
        "serverlesseval/judge/prompts.jsonl"
    )
    assert judge["ServerlessJobConfig"]["EvaluationType"] == "LLMAJEvaluation"
    assert judge["HyperParameters"]["inference_data_s3_path"].endswith(
        "serverlesseval-run1-judgeinf/output/output/inference/eval_results/inference_output.jsonl"
    )
    assert json.loads(judge["HyperParameters"]["llmaj_metrics"]) == ["Correctness", "Helpfulness"]
    assert judge["HyperParameters"]["temperature"] == "0"
    assert inference["HyperParameters"] == {"name": "inference", "task": "inference_only"}
    approval = next(p for op, p in cloud.calls if op == UPDATE_PACKAGE)
    assert approval["ModelApprovalStatus"] == "Approved"
    report = _report(cloud, machine_ids)
    assert report["kind"] == "serverless_evaluation"
    assert report["passed"] is True
    assert report["summary"]["metrics"] == {
        "Builtin.Correctness": 0.82,
        "Builtin.Helpfulness": 0.77,
        "ifeval/accuracy": 0.71,
        "mmlu/accuracy": 0.71,
    }
    assert results(cloud) == ["SUCCEEDED"]
    assert cloud.notifications[0]["metrics"]["mmlu/accuracy"] == 0.71
    assert cloud.notifications[0]["report"].endswith("/report.json")


def test_a_score_below_the_threshold_rejects_the_package(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids[EVALUATED]
    cloud.serverless_eval_score = 0.4
    execution = cloud.start(logical_id, _evaluated_input(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "EvaluationFailed")
    approval = next(p for op, p in cloud.calls if op == UPDATE_PACKAGE)
    assert approval["ModelApprovalStatus"] == "Rejected"
    assert results(cloud) == ["EVALUATION_FAILED"]
    failures = cloud.notifications[0]["failures"]
    assert any("mmlu/accuracy = 0.4 is below the minimum 0.6" in f for f in failures), failures
    assert _report(cloud, machine_ids)["passed"] is False


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
@pytest.mark.parametrize("position", list(enumerate(EVALUATION_JOBS, start=1)), ids=EVALUATION_JOBS)
def test_a_failed_evaluation_job_notifies_and_leaves_the_package_pending(
    cloud: Cloud, machine_ids: dict[str, str], status: str, position: tuple[int, str]
) -> None:
    logical_id = machine_ids[EVALUATED]
    index, suffix = position
    cloud.job_status[f"{EVALUATION_OP}:{suffix}"] = status
    execution = cloud.start(logical_id, _evaluated_input(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "EvaluationError")
    assert UPDATE_PACKAGE not in cloud.ops()
    assert len(_evaluation_requests(cloud)) == index  # the chain stops at the failed job
    assert f"Eval{index}Ended" in execution.visited
    assert results(cloud) == ["EVALUATION_ERROR"]
    assert cloud.notifications[0]["error"] == "EvaluationJobFailed"
    assert status in cloud.notifications[0]["cause"]


@pytest.mark.parametrize("suffix", EVALUATION_JOBS)
def test_evaluation_polls_running_out_stop_the_job(
    cloud: Cloud, machine_ids: dict[str, str], suffix: str
) -> None:
    logical_id = machine_ids[EVALUATED]
    cloud.job_status[f"{EVALUATION_OP}:{suffix}"] = "InProgress"
    execution = cloud.start(logical_id, _evaluated_input(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "EvaluationError")
    assert STOP in cloud.ops()
    assert cloud.notifications[0]["error"] == "PollsExhausted"


@pytest.mark.parametrize("shape", ["missing", "malformed"])
def test_unreadable_results_notify(cloud: Cloud, machine_ids: dict[str, str], shape: str) -> None:
    logical_id = machine_ids[EVALUATED]
    cloud.serverless_eval_results = shape
    execution = cloud.start(logical_id, _evaluated_input(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "EvaluationError")
    assert UPDATE_PACKAGE not in cloud.ops()
    assert results(cloud) == ["EVALUATION_ERROR"]
    assert cloud.notifications[0]["error"] == "ResultsUnreadableError"
    expected = "no evaluation result file" if shape == "missing" else "is not JSON"
    assert expected in cloud.notifications[0]["cause"]


def test_a_job_without_a_registered_package_is_not_evaluated(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids[EVALUATED]
    cloud.optional_fields = False  # DescribeTrainingJob returns no OutputModelPackageArn
    execution = cloud.start(logical_id, _evaluated_input(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "EvaluationError")
    assert _evaluation_requests(cloud) == []
    assert cloud.notifications[0]["error"] == "NoModelPackage"


def test_a_rejected_approval_update_notifies(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    logical_id = machine_ids[EVALUATED]
    cloud.raise_on[UPDATE_PACKAGE] = ("SageMaker.ConflictException", "concurrent update")
    execution = cloud.start(logical_id, _evaluated_input(cloud, logical_id))
    assert (execution.status, execution.error) == ("FAILED", "ApprovalError")
    assert results(cloud) == ["APPROVAL_ERROR"]


def test_a_given_package_is_evaluated_without_training(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids[EVALUATED]
    given = "arn:aws:sagemaker:us-east-1:123456789012:model-package/serverless-group/3"
    payload = {"modelPackageArn": given, "jobNameSuffix": "recheck"}
    _evaluated_input(cloud, logical_id)  # the judge's prompts
    execution = cloud.start(logical_id, payload)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert "ValidateDataset" not in execution.visited
    requests = [p for op, p in cloud.calls if op == CREATE]
    assert all(r["ServerlessJobConfig"]["JobType"] == "Evaluation" for r in requests)
    assert requests[0]["TrainingJobName"] == "serverlesseval-recheck-eval1"
    assert {r["ModelPackageConfig"]["SourceModelPackageArn"] for r in requests} == {given}
    assert cloud.packages[given]["ModelApprovalStatus"] == "Approved"


def test_a_given_package_below_the_thresholds_is_rejected(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids[EVALUATED]
    given = "arn:aws:sagemaker:us-east-1:123456789012:model-package/serverless-group/4"
    _evaluated_input(cloud, logical_id)
    cloud.serverless_eval_score = 0.1
    execution = cloud.start(logical_id, {"modelPackageArn": given, "jobNameSuffix": "r2"})
    assert (execution.status, execution.error) == ("FAILED", "EvaluationFailed")
    assert cloud.packages[given]["ModelApprovalStatus"] == "Rejected"


def test_a_job_name_with_no_room_for_the_evaluation_jobs_starts_nothing(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids[EVALUATED]
    payload = _evaluated_input(cloud, logical_id)
    payload["jobNameSuffix"] = "x" * 45  # 'serverlesseval-' + 45 = 60 > 63 - len('-judgeinf')
    execution = cloud.start(logical_id, payload)
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert CREATE not in cloud.ops()
    assert "9 are kept for the names of the jobs that follow" in json.dumps(cloud.notifications)
