"""LabelingWorkflow for each task type (over the workforce's team and over a team brought by
ARN) and HumanEvaluation with its nested labeling execution, on every branch from the
synthesized definitions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from workflows.aws_world import Cloud
from workflows.workflow_inputs import (
    BYO_TEAM,
    TASK_TYPES,
    function_env,
    labeling_input,
    results,
)


@pytest.mark.parametrize("minimal", [False, True], ids=["full", "required-fields-only"])
@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_each_task_type_labels_converts_and_notifies(
    cloud: Cloud, machine_ids: dict[str, str], task_type: str, minimal: bool
) -> None:
    cloud.optional_fields = not minimal
    execution = cloud.start(machine_ids["labeling"], labeling_input(cloud, task_type))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    job = next(p for op, p in cloud.calls if op == "sagemaker:createLabelingJob")
    assert job["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"].endswith(f"{task_type}.html")
    assert results(cloud) == ["SUCCEEDED"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"workteam_arn": "arn:aws:sagemaker:us-east-1:999999999999:workteam/public-crowd/default"},
        {"workers_per_object": 9},
        {"workers_per_object": "3"},
        {"task_time_limit_seconds": 10},
        {"task_availability_lifetime_seconds": 10_000_000},
        {"max_concurrent_tasks": 5000},
        {"sft_format": "prompt-completion"},
        {"title": 7},
        {"job_name": ["x"]},
        {"task_type": "ranking"},
        {"manifest_key": "elsewhere/x.manifest"},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items())[:60],
)
def test_hostile_input_is_refused_before_any_job(
    cloud: Cloud, machine_ids: dict[str, str], overrides: dict[str, Any]
) -> None:
    payload = {**labeling_input(cloud, "sft"), **overrides}
    execution = cloud.start(machine_ids["labeling"], payload)
    assert (execution.status, execution.error) == ("FAILED", "InvalidInput")
    assert "sagemaker:createLabelingJob" not in cloud.ops()
    assert "s3:putObject" not in cloud.ops()
    assert results(cloud) == ["INVALID_INPUT"]


def test_allowed_overrides_reach_the_job(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    payload = labeling_input(
        cloud, "preference", workers_per_object=2, max_concurrent_tasks=10, title="Pick one"
    )
    execution = cloud.start(machine_ids["labeling"], payload)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    job = next(p for op, p in cloud.calls if op == "sagemaker:createLabelingJob")
    config = job["HumanTaskConfig"]
    assert (config["NumberOfHumanWorkersPerDataObject"], config["MaxConcurrentTaskCount"]) == (
        2,
        10,
    )
    assert config["TaskTitle"] == "Pick one"


@pytest.mark.parametrize(
    "broken",
    ["s3:putObject", "sagemaker:createLabelingJob", "lambda:labeling_postprocess.convert_handler"],
)
def test_each_step_failure_notifies(cloud: Cloud, machine_ids: dict[str, str], broken: str) -> None:
    if broken == "sagemaker:createLabelingJob":
        cloud.job_status[broken] = "Failed"
    else:
        cloud.raise_on[broken] = ("S3.InternalError", "broken on purpose")
    execution = cloud.start(machine_ids["labeling"], labeling_input(cloud, "sft"))
    assert (execution.status, execution.error) == ("FAILED", "LabelingFailed")
    assert results(cloud) == ["FAILED"]


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_a_team_brought_by_arn_labels_and_converts(
    cloud: Cloud, machine_ids: dict[str, str], task_type: str
) -> None:
    payload = labeling_input(cloud, task_type, manifest_prefix="byo/input/")
    execution = cloud.start(machine_ids["labeling_byo_team"], payload)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    job = next(p for op, p in cloud.calls if op == "sagemaker:createLabelingJob")
    assert job["HumanTaskConfig"]["WorkteamArn"] == BYO_TEAM
    assert job["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"].endswith(
        f"/byo/templates/{task_type}.html"
    )
    assert "/byo/output/" in job["OutputConfig"]["S3OutputPath"] + "/"
    assert results(cloud) == ["SUCCEEDED"]


def test_a_byo_team_workflow_refuses_other_teams_and_prefixes(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    workforce_team = labeling_input(cloud, "sft", manifest_prefix="byo/input/")
    workforce_team["workteam_arn"] = (
        "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/llm-labelers"
    )
    elsewhere = labeling_input(cloud, "sft")  # the other workflow's manifest prefix
    for payload in (workforce_team, elsewhere):
        execution = cloud.start(machine_ids["labeling_byo_team"], payload)
        assert (execution.status, execution.error) == ("FAILED", "InvalidInput")
    assert "sagemaker:createLabelingJob" not in cloud.ops()
    assert results(cloud) == ["INVALID_INPUT", "INVALID_INPUT"]


def test_a_byo_team_job_failure_notifies(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    cloud.job_status["sagemaker:createLabelingJob"] = "Failed"
    payload = labeling_input(cloud, "rating", manifest_prefix="byo/input/")
    execution = cloud.start(machine_ids["labeling_byo_team"], payload)
    assert (execution.status, execution.error) == ("FAILED", "LabelingFailed")
    assert results(cloud) == ["FAILED"]


# -- HumanEvaluation ------------------------------------------------------------------------------


def human_input(cloud: Cloud, machine_ids: dict[str, str], **overrides: Any) -> dict[str, Any]:
    env = function_env(cloud, machine_ids["human_evaluation"], "SampleOutputs")
    line = {"prompt": "Say hi.", "reference": "Hi", "response": "Hi!"}
    key = f"{env['OUTPUTS_PREFIX']}run1.jsonl"
    cloud.s3.put_object(Bucket=env["BUCKET"], Key=key, Body=json.dumps(line) + "\n")
    return {"outputsKey": key, "model": "my-model", **overrides}


@pytest.mark.parametrize("minimal", [False, True], ids=["full", "required-fields-only"])
def test_human_evaluation_rates_through_the_labeling_workflow(
    cloud: Cloud, machine_ids: dict[str, str], minimal: bool
) -> None:
    cloud.optional_fields = not minimal
    execution = cloud.start(machine_ids["human_evaluation"], human_input(cloud, machine_ids))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    child = cloud.executions[1]
    assert child.definition == cloud.definitions[machine_ids["labeling"]]
    assert child.status == "SUCCEEDED"
    assert results(cloud) == ["SUCCEEDED", "RATED"]


def test_human_evaluation_below_threshold_fails_after_the_report(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    cloud.answers["rating"] = [{"score": "1", "comment": "bad"}, {"score": "2", "comment": "bad"}]
    execution = cloud.start(machine_ids["human_evaluation"], human_input(cloud, machine_ids))
    assert (execution.status, execution.error) == ("FAILED", "HumanThresholdNotMet")
    assert results(cloud)[-1] == "RATED"


@pytest.mark.parametrize(
    "overrides",
    [{"model": None}, {"model": ""}, {"model": 3}, {"outputsKey": "elsewhere/x.jsonl"}],
    ids=["model-null", "model-empty", "model-number", "outputs-elsewhere"],
)
def test_human_evaluation_checks_its_input_first(
    cloud: Cloud, machine_ids: dict[str, str], overrides: dict[str, Any]
) -> None:
    payload = {
        k: v for k, v in human_input(cloud, machine_ids, **overrides).items() if v is not None
    }
    execution = cloud.start(machine_ids["human_evaluation"], payload)
    assert (execution.status, execution.error) == ("FAILED", "InvalidInput")
    assert cloud.ops() == ["sns:publish"]
    assert results(cloud) == ["INVALID_INPUT"]


@pytest.mark.parametrize(
    "broken",
    [
        "outputs-invalid",
        "lambda:evaluation_prompts.sample_handler",
        "sagemaker:createLabelingJob",
        "lambda:evaluation_report.human_report_handler",
    ],
)
def test_human_evaluation_failures_notify(
    cloud: Cloud, machine_ids: dict[str, str], broken: str
) -> None:
    payload = human_input(cloud, machine_ids)
    if broken == "outputs-invalid":
        env = function_env(cloud, machine_ids["human_evaluation"], "SampleOutputs")
        cloud.s3.put_object(Bucket=env["BUCKET"], Key=payload["outputsKey"], Body="not json\n")
    elif broken == "sagemaker:createLabelingJob":
        cloud.job_status[broken] = "Failed"
    else:
        cloud.raise_on[broken] = ("Lambda.Unknown", "broken on purpose")
    execution = cloud.start(machine_ids["human_evaluation"], payload)
    assert execution.status == "FAILED"
    assert execution.error in ("OutputsInvalid", "Failed")
    assert results(cloud)[-1] in ("OUTPUTS_INVALID", "FAILED")
