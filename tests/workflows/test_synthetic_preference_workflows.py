"""SyntheticData in preference mode on every branch: two samples per prompt in one batch
job, a judge batch job (or direct judge calls under the batch minimum), preference records
validated as ``preference``; Bedrock faked in the API's shapes."""

from __future__ import annotations

import io
import json
from typing import Any

import aws_cdk as cdk
import pytest
from workflows.aws_world import Cloud, ResolvedTemplate
from workflows.synthetic_world import BedrockControl, ServiceQuotas
from workflows.workflow_inputs import results

from cdk_llm_training.assets.runtime import synthetic_data as sd
from cdk_llm_training.assets.runtime import synthetic_preference as sp

MACHINE = "synthetic_preference"
PROMPTS = "synthetic/pairs/prompts/set1.jsonl"
TEACHER = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def curated(stack: cdk.Stack, template: ResolvedTemplate) -> str:
    lake: Any = stack.node.find_child("Lake")
    return template.ref(stack.get_logical_id(lake.curated_bucket.node.default_child))


@pytest.fixture(autouse=True)
def batch_control(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Lambdas' Service Quotas and Bedrock clients talk to the world's fakes."""
    monkeypatch.setattr(
        sd, "control_clients", lambda: (ServiceQuotas(cloud), BedrockControl(cloud))
    )


def _put_prompts(cloud: Cloud, bucket: str, count: int) -> None:
    lines = [json.dumps({"prompt": f"Explain topic {i} briefly."}) for i in range(count)]
    cloud.s3.put_object(Bucket=bucket, Key=PROMPTS, Body="\n".join(lines) + "\n")


def _creates(cloud: Cloud) -> list[Any]:
    return [p for op, p in cloud.calls if op == "bedrock:createModelInvocationJob"]


def test_samples_judges_in_batch_and_writes_pairs(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    _put_prompts(cloud, curated, 120)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS}, name="pairs1")
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert results(cloud) == ["SUCCEEDED"]
    samples, judge = _creates(cloud)
    assert (samples["ModelId"], judge["ModelId"]) == (TEACHER, TEACHER)
    assert judge["JobName"].startswith("pairs-judge-")
    assert cloud.ops().count("bedrock:getModelInvocationJob") == 4  # two polls per job
    note = cloud.notifications[0]
    assert note["datasetS3Uri"] == f"s3://{curated}/preference/synthetic/pairs1/train.jsonl"
    assert note["counts"]["records"] == 120
    body = cloud.s3.get_object(Bucket=curated, Key="preference/synthetic/pairs1/train.jsonl")
    records = [json.loads(x) for x in body["Body"].read().decode().splitlines()]
    first = next(r for r in records if r["prompt"] == "Explain topic 0 briefly.")
    answer = "A careful answer to: Explain topic 0 briefly."
    second = f"{answer} Said at a higher temperature."
    # The judge always says A: the chosen answer is the one shown first for that prompt.
    expected = (second, answer) if sp.b_shown_first("p00000001") else (answer, second)
    assert (first["chosen"], first["rejected"]) == expected
    validator = next(p for op, p in cloud.calls if op == "lambda:bedrock_dataset_validator.handler")
    assert validator["trainingDataKey"] == "preference/synthetic/pairs1/train.jsonl"


class _Runtime:
    class exceptions:  # noqa: N801 - the boto3 client attribute name
        class ValidationException(Exception):  # noqa: N818 - the Bedrock error name
            pass

    def __init__(self) -> None:
        self.calls = 0

    def invoke_model(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        output = {"content": [{"type": "text", "text": "VERDICT: B"}], "stop_reason": "end_turn"}
        return {"body": io.BytesIO(json.dumps(output).encode())}


def test_under_the_batch_minimum_the_lambda_judges(
    cloud: Cloud, machine_ids: dict[str, str], curated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = _Runtime()
    monkeypatch.setattr(sp, "_bedrock_runtime", lambda: runtime)
    _put_prompts(cloud, curated, 60)  # 120 sample records, 60 pairs: under 100
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS}, name="pairs2")
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert len(_creates(cloud)) == 1
    assert runtime.calls == 60
    assert cloud.notifications[0]["counts"]["records"] == 60


def test_only_ties_is_an_invalid_dataset(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    cloud.judge_reply = "Both are equally good.\nVERDICT: TIE"
    _put_prompts(cloud, curated, 100)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert results(cloud) == ["DATASET_INVALID"]
    assert cloud.notifications[0]["counts"] == {
        "output_lines": 200,
        "output_parts": 1,
        "records": 0,
        "ties": 100,
    }


@pytest.mark.parametrize("status", ["Failed", "Expired"])
def test_failed_judge_job_notifies(
    cloud: Cloud, machine_ids: dict[str, str], curated: str, status: str
) -> None:
    cloud.judge_job_status = status
    _put_prompts(cloud, curated, 100)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "JudgeJobFailed")
    assert results(cloud) == ["JOB_FAILED"]
    polled = [p["JobIdentifier"] for op, p in cloud.calls if op == "bedrock:getModelInvocationJob"]
    assert len(set(polled)) == 2
    assert cloud.notifications[0]["jobArn"] == polled[-1]  # the judge job's
    assert cloud.notifications[0]["status"] == status
    assert "lambda:synthetic_preference.convert_handler" not in cloud.ops()


def test_failed_sample_job_starts_no_judging(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    cloud.job_status["bedrock:getModelInvocationJob"] = "Stopped"
    _put_prompts(cloud, curated, 100)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "JobFailed")
    assert len(_creates(cloud)) == 1
    assert "lambda:synthetic_preference.judge_handler" not in cloud.ops()


def test_too_few_prompts_for_two_samples_start_no_job(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    _put_prompts(cloud, curated, 49)  # 98 records
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "PromptsInvalid")
    assert _creates(cloud) == []


@pytest.mark.parametrize(
    "broken",
    ["lambda:synthetic_preference.judge_handler", "lambda:synthetic_preference.convert_handler"],
)
def test_judging_step_failure_notifies(
    cloud: Cloud, machine_ids: dict[str, str], curated: str, broken: str
) -> None:
    _put_prompts(cloud, curated, 100)
    cloud.raise_on[broken] = ("ServiceError", "broken on purpose")
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "Failed")
    assert results(cloud) == ["FAILED"]


def test_judge_job_outside_its_quota_is_refused_up_front(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    # 200 sample records pass; the 100 pairs are under the judge's (here the teacher's) quota.
    cloud.batch_quotas = {
        "Minimum number of records per batch inference job for Claude 3 Haiku": 150,
    }
    _put_prompts(cloud, curated, 100)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "Failed")
    assert len(_creates(cloud)) == 1  # the sample job only
    note = cloud.notifications[0]
    assert note["error"] == "BatchLimitError"
    assert "records 100 is below the quota 'Minimum number of records" in note["cause"]


def test_sample_output_that_does_not_reconcile_stops_the_run(
    cloud: Cloud, machine_ids: dict[str, str], curated: str
) -> None:
    cloud.batch_corrupt_line = 0
    _put_prompts(cloud, curated, 100)
    execution = cloud.start(machine_ids[MACHINE], {"promptsKey": PROMPTS})
    assert (execution.status, execution.error) == ("FAILED", "OutputsMismatch")
    note = cloud.notifications[0]
    assert note["problems"][0].endswith("records.jsonl.out line 1: not JSON")
    assert note["reconciliation"]["samples"]["mismatches"] == [
        "manifest successRecordCount 200 != 199 read",
        "1 input records have no output line (the manifest reports 0 unprocessed)",
        "unparsable 1",
    ]
