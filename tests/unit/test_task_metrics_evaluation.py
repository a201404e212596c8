"""TaskMetricsEvaluation: the SageMaker processing states to chain after a training step."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import TaskMetricsEvaluation, TaskMetricsOptions, TrainingDataLake


def _token(value: dict[str, Any]) -> str:
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}>".format(".".join(value["Fn::GetAtt"]))
    return "<expr>"


def _states(template: Template) -> dict[str, Any]:
    machine = next(iter(resources_of_type(template, "AWS::StepFunctions::StateMachine").values()))
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else _token(p) for p in parts)
    return json.loads(text)["States"]  # type: ignore[no-any-return]


def _build(options: TaskMetricsOptions, *, generate: bool = False) -> Template:
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake")
    evaluation = TaskMetricsEvaluation(stack, "TaskMetrics", data_lake=lake, options=options)
    approve = sfn.Pass(stack, "ApproveModelPackage")
    machine = sfn.StateMachine(
        stack,
        "Workflow",
        definition_body=sfn.DefinitionBody.from_chainable(
            sfn.Pass(stack, "Train").next(
                evaluation.chain(
                    predictions_s3_uri_path="$.training.predictionsS3Uri",
                    model_name_path="$.training.jobName",
                    on_passed=approve,
                )
            )
        ),
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=logs.LogGroup(stack, "Logs"), level=sfn.LogLevel.ALL),
    )
    evaluation.grant_workflow(machine)
    from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards

    acknowledge_wildcards(machine.role, "test workflow")
    return template_of(stack)


@pytest.fixture(scope="module")
def template() -> Template:
    return _build(TaskMetricsOptions(min_scores={"rouge_l": 0.3, "exact_match": 0.5}))


def test_processing_job_runs_the_shipped_script(template: Template) -> None:
    states = _states(template)
    job = states["TaskMetricsJob"]
    assert job["Resource"].endswith(":states:::sagemaker:createProcessingJob.sync")
    params = job["Parameters"]
    assert params["ProcessingJobName.$"] == "States.Format('metrics-{}', States.UUID())"
    entry = params["AppSpecification"]["ContainerEntrypoint"]
    assert entry[:2] == ["/bin/sh", "-c"]
    assert entry[2] == (
        "python3 /opt/ml/processing/input/code/*.py --labelled /opt/ml/processing/input/labelled"
        " --report /opt/ml/processing/output/report.json --predictions "
        "/opt/ml/processing/input/predictions --min-score exact_match=0.5 --min-score rouge_l=0.3"
    )
    assert "763104351884.dkr.ecr." in params["AppSpecification"]["ImageUri"]
    inputs = {i["InputName"]: i["S3Input"] for i in params["ProcessingInputs"]}
    assert inputs["predictions"]["S3Uri.$"] == "$.training.predictionsS3Uri"
    assert inputs["labelled"]["S3Uri"].endswith("/evaluation/labelled.jsonl")
    assert inputs["code"]["S3Uri"] == "<expr>"  # the script asset's S3 URL (Fn::Sub)
    machine = next(iter(resources_of_type(template, "AWS::StepFunctions::StateMachine").values()))
    subs = [
        p["Fn::Sub"]
        for p in machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        if isinstance(p, dict) and "Fn::Sub" in p
    ]
    assert any(str(s).endswith(".py") and "assets" in str(s) for s in subs)
    assert params["Environment"] == {"MODEL_NAME.$": "$.training.jobName"}
    assert params["ProcessingResources"]["ClusterConfig"] == {
        "InstanceCount": 1,
        "InstanceType": "ml.m5.large",
        "VolumeSizeInGB": 30,
    }
    output = params["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    assert output["S3Uri.$"].endswith("/evaluation/task-metrics/{}', $$.Execution.Name)")
    assert "KmsKeyId" in params["ProcessingOutputConfig"]


def test_report_is_read_and_gated(template: Template) -> None:
    states = _states(template)
    assert states["TaskMetricsJob"]["Next"] == "TaskMetricsReadReport"
    read = states["TaskMetricsReadReport"]
    assert read["Resource"].endswith(":states:::aws-sdk:s3:getObject")
    assert read["ResultSelector"] == {"report.$": "States.StringToJson($.Body)"}
    gate = states["TaskMetricsGate"]
    assert gate["Choices"] == [
        {
            "Variable": "$.taskMetrics.result.report.passed",
            "BooleanEquals": True,
            "Next": "ApproveModelPackage",
        }
    ]
    assert gate["Default"] == "TaskMetricsFailed"
    assert states["TaskMetricsJob"]["Catch"][0]["Next"] == "TaskMetricsFailed"


def test_processing_role_trust_and_access(template: Template) -> None:
    roles = resources_of_type(template, "AWS::IAM::Role")
    trust = [
        r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        for r in roles.values()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "sagemaker.amazonaws.com"}
    ]
    assert len(trust) == 1
    assert set(trust[0]["Condition"]) == {"StringEquals", "ArnLike"}
    assert ":processing-job/*" in json.dumps(trust[0]["Condition"]["ArnLike"])
    text = json.dumps(resources_of_type(template, "AWS::IAM::Policy"))
    for sid in ("ReadLabelledSet", "ReadPredictions", "WriteReports", "PassProcessingRole",
                "RunProcessingJobs", "ManageProcessingSyncRule"):  # fmt: skip
        assert sid in text


def test_is_cfn_lint_clean(template: Template) -> None:
    assert cfn_lint_findings(template.to_json()) == []


def test_generate_mode_passes_model_dir() -> None:
    states = _states(_build(TaskMetricsOptions(generate_predictions=True, image_uri="img:1")))
    params = states["TaskMetricsJob"]["Parameters"]
    assert (
        "--model-dir /opt/ml/processing/input/predictions"
        in (params["AppSpecification"]["ContainerEntrypoint"][2])
    )
    assert params["AppSpecification"]["ImageUri"] == "img:1"


def test_fails_unknown_metric() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("min_scores names bleu; allowed: exact_match")
    ):
        TaskMetricsOptions(min_scores={"bleu": 0.2})


def test_fails_without_buckets() -> None:
    with pytest.raises(
        ValueError, match=re.escape("TaskMetricsEvaluation needs data_lake=, or both")
    ):
        TaskMetricsEvaluation(new_stack(nag=False), "T")
