"""The evaluation step of SageMakerServerlessCustomization: options (one message naming the
field, the value and what is allowed), values against the botocore model, the grants it adds
(asserted), the small stack by config, and the results -> report conversion on the
documented result shapes."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import botocore.session
import pytest
import yaml
from aws_cdk.assertions import Match, Template
from cdk_support import REPO_ROOT, compliance_app, new_stack, template_of
from moto import mock_aws
from pydantic import ValidationError

from cdk_llm_training import SageMakerServerlessCustomization, SmallLoRAStack, TrainingDataLake
from cdk_llm_training.assets.runtime.serverless_evaluation_report import (
    ResultsUnreadableError,
    build_report,
    parse_benchmark_results,
    parse_judge_results,
)
from cdk_llm_training.config import SageMakerServerlessOptions, parse_app_config
from cdk_llm_training.config.model_evaluation import EvaluationThresholds
from cdk_llm_training.config.sagemaker_serverless_customization import (
    BENCHMARKS,
    ServerlessBenchmark,
    ServerlessEvaluationOptions,
    ServerlessJudgeOptions,
)

BASE = (
    "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/"
    "huggingface-reasoning-qwen3-8b"
)
JUDGE = "anthropic.claude-3-haiku-20240307-v1:0"


def _enum(name: str) -> set[str]:
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for(name)
    return set(shape.enum)  # type: ignore[attr-defined]


def test_the_job_and_approval_values_are_the_api_models() -> None:
    assert {"BenchmarkEvaluation", "LLMAJEvaluation"} <= _enum("EvaluationType")
    assert "Evaluation" in _enum("ServerlessJobType")
    assert {"Approved", "Rejected"} <= _enum("ModelApprovalStatus")
    assert set(BENCHMARKS) == set(ServerlessBenchmark)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"benchmarks": ["mmlu", "mmlu"]}, "lists a benchmark twice"),
        ({"benchmarks": ["hellaswag"]}, "benchmarks.0"),
        ({"benchmarks": []}, "benchmarks is empty and judge is None"),
        ({"subtasks": {"gpqa": ["x"]}}, "subtasks names gpqa, which is not in benchmarks (mmlu)"),
        (
            {"benchmarks": ["gpqa"], "subtasks": {"gpqa": ["x"]}},
            "subtasks for gpqa: it has none; benchmarks with subtasks: mmlu, bbh, math",
        ),
        ({"subtasks": {"mmlu": ["a,b"]}}, "without commas"),
        (
            {"thresholds": {"min_scores": {"mmlu/f1": 0.5}}},
            "thresholds.min_scores names mmlu/f1, which this evaluation does not compute; "
            "computed: mmlu/accuracy",
        ),
        ({"thresholds": {"min_improvement": {"mmlu/accuracy": 0}}}, "min_improvement"),
        ({"judge": {"dataset_key": "serverless/p.jsonl", "judge_model_id": "gpt-4"}}, JUDGE),
        (
            {"judge": {"dataset_key": "serverless/p.jsonl", "metrics": ["Builtin.Vibes"]}},
            "Builtin.Vibes not allowed",
        ),
        ({"max_polls": 0}, "max_polls"),
    ],
)
def test_options_fail_with_one_message(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ServerlessEvaluationOptions.model_validate(settings)


def test_the_judge_dataset_must_be_readable_by_the_jobs() -> None:
    with pytest.raises(ValidationError, match=r"dataset_key 'other/p.jsonl' must be under"):
        SageMakerServerlessOptions(
            base_model_arn=BASE,
            evaluation=ServerlessEvaluationOptions(
                judge=ServerlessJudgeOptions(dataset_key="other/p.jsonl")
            ),
        )


@pytest.fixture(scope="module")
def template() -> Template:
    stack = new_stack()
    SageMakerServerlessCustomization(
        stack,
        "Serverless",
        data_lake=TrainingDataLake(stack, "Lake"),
        options=SageMakerServerlessOptions(
            base_model_arn=BASE,
            evaluation=ServerlessEvaluationOptions(
                judge=ServerlessJudgeOptions(dataset_key="serverless/judge.jsonl"),
                thresholds=EvaluationThresholds(min_scores={"mmlu/accuracy": 0.6}),
            ),
        ),
    )
    return template_of(stack)  # nag-checked: zero unacknowledged findings


def _statement(template: Template, sid: str) -> dict[str, Any]:
    found = [
        s
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == sid
    ]
    assert len(found) == 1, (sid, found)
    return dict(found[0])


def test_the_job_role_writes_only_the_evaluation_prefix_and_invokes_only_the_judge(
    template: Template,
) -> None:
    write = _statement(template, "WriteEvaluationOutput")
    assert sorted(write["Action"]) == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    assert "sagemaker/serverless-evaluation/*" in json.dumps(write["Resource"])
    judge = _statement(template, "InvokeJudgeModel")
    assert judge["Action"] == "bedrock:InvokeModel"
    assert f"::foundation-model/{JUDGE}" in json.dumps(judge["Resource"])


def test_the_workflow_may_approve_only_its_own_packages(template: Template) -> None:
    gate = _statement(template, "GateModelApproval")
    assert gate["Action"] == "sagemaker:UpdateModelPackage"
    # The versions of this workflow's own group: the resource RegisterModels names them by.
    assert gate["Resource"] == _statement(template, "RegisterModels")["Resource"][1]
    assert json.dumps(gate["Resource"]).endswith('/*"]]}')


def test_the_report_function_reads_output_and_writes_reports_only(template: Template) -> None:
    read = _statement(template, "ReadEvaluationOutput")
    assert read["Action"] == "s3:GetObject"
    write = _statement(template, "WriteEvaluationReports")
    assert "evaluation/serverless-reports/*" in json.dumps(write["Resource"])
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "serverless_evaluation_report.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {"THRESHOLDS": Match.string_like_regexp("mmlu/accuracy")}
                )
            },
        },
    )


def test_the_definition_starts_evaluation_jobs_and_gates_approval(template: Template) -> None:
    machine = next(iter(template.find_resources("AWS::StepFunctions::StateMachine").values()))
    text = json.dumps(machine["Properties"]["DefinitionString"])
    for fragment in (
        '\\"JobType\\":\\"Evaluation\\"',
        '\\"EvaluationType\\":\\"BenchmarkEvaluation\\"',
        '\\"EvaluationType\\":\\"LLMAJEvaluation\\"',
        "aws-sdk:sagemaker:updateModelPackage",
        '\\"ModelApprovalStatus\\":\\"Rejected\\"',
        '\\"ModelApprovalStatus\\":\\"Approved\\"',
    ):
        assert fragment in text, fragment


def test_serverless_evaluation_runs_by_config_on_the_small_stack() -> None:
    config = parse_app_config(
        {
            "small_lora": {
                "sagemaker_serverless": {
                    "base_model_arn": BASE,
                    "evaluation": {
                        "benchmarks": ["ifeval"],
                        "thresholds": {"min_scores": {"ifeval/accuracy": 0.5}},
                    },
                }
            }
        }
    )
    # Every pack the tiers pass (AwsSolutions, NIST 800-53 R5, HIPAA, the rule pack with
    # warnings failing): zero unacknowledged findings with the evaluation on.
    stack = SmallLoRAStack(compliance_app(), "ServerlessEvalSmall", config=config.small_lora)
    template = template_of(stack)
    assert stack.sagemaker_serverless is not None
    assert stack.sagemaker_serverless.evaluation is not None
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "serverless_evaluation_report.handler"}
    )


# -- results -> report -----------------------------------------------------------------------

DOCUMENTED_BENCHMARK = {
    "results": {
        "custom|gen_qa_gen_qa|0": {
            "rouge1": 0.9152812653966208,
            "rouge1_stderr": 0.003536439199232507,
            "em": 0.6562150055991042,
            "em_stderr": 0.007948251702846893,
        }
    }
}
"""The summary example of the developer guide's "Evaluation Metrics Formats" page (part)."""


def test_a_documented_task_entry_gives_its_metric() -> None:
    value = parse_benchmark_results(DOCUMENTED_BENCHMARK, metric="em", source="s3://b/k")
    assert value == pytest.approx(0.6562150055991042)


def test_the_aggregate_entry_wins_over_tasks() -> None:
    document = {"results": {"mmlu:anatomy": {"accuracy": 0.5}, "all": {"accuracy": 0.62}}}
    assert parse_benchmark_results(document, metric="accuracy", source="x") == 0.62


def test_several_task_entries_are_averaged() -> None:
    document = {"results": {"a": {"accuracy": 0.5}, "b": {"accuracy": 0.7}, "c": {"x": 1}}}
    assert parse_benchmark_results(document, metric="accuracy", source="x") == 0.6


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected a JSON object with a non-empty 'results' object"),
        ({"results": {}}, "non-empty 'results'"),
        ({"results": {"t": {"accuracy": "high"}}}, "no numeric 'accuracy' in any task"),
        ({"results": {"t": {"accuracy": True}}}, "(tasks: t)"),
    ],
)
def test_unreadable_benchmark_results_name_the_file_and_the_shape(
    document: Any, message: str
) -> None:
    with pytest.raises(ResultsUnreadableError, match=re.escape(message)) as caught:
        parse_benchmark_results(document, metric="accuracy", source="s3://b/results_1.json")
    assert "s3://b/results_1.json" in str(caught.value)


def test_judge_scores_are_named_like_bedrock_metrics() -> None:
    document = {
        "results": {
            "Correctness": {"score": 0.8, "std_deviation": 0.1, "total_evaluations": 20},
            "Builtin.Helpfulness": {"score": 0.7},
        }
    }
    scores = parse_judge_results(
        document, metrics=["Builtin.Correctness", "Builtin.Helpfulness"], source="x"
    )
    assert scores == {"Builtin.Correctness": 0.8, "Builtin.Helpfulness": 0.7}


def test_a_missing_judge_metric_is_unreadable() -> None:
    with pytest.raises(ResultsUnreadableError, match=r"no numeric score for Builtin.Correctness"):
        parse_judge_results(
            {"results": {"Helpfulness": {"score": 1}}}, metrics=["Builtin.Correctness"], source="x"
        )


@mock_aws
def test_the_report_applies_the_same_thresholds() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="out")
    key = "eval/job-eval1/output/output/None/eval_results/results_2026.json"
    s3.put_object(Bucket="out", Key=key, Body=json.dumps({"results": {"all": {"accuracy": 0.4}}}))
    report = build_report(
        s3,
        jobs=[
            {"kind": "benchmark", "jobName": "job-eval1", "benchmark": "mmlu", "metric": "accuracy"}
        ],
        output_s3_uri="s3://out/eval/",
        model="arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1",
        thresholds={"min_scores": {"mmlu/accuracy": 0.6}},
    )
    assert report["report_version"] == "1"
    assert report["passed"] is False
    assert report["failures"] == ["mmlu/accuracy = 0.4 is below the minimum 0.6"]
    assert report["output_files"] == [f"s3://out/{key}"]


def test_the_documented_app_config_parses() -> None:
    page = REPO_ROOT / "docs" / "constructs" / "sagemaker-serverless-customization.md"
    match = re.search(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
    assert match is not None
    config = parse_app_config(yaml.safe_load(match.group(1)))
    serverless = config.small_lora.sagemaker_serverless
    assert serverless is not None
    assert serverless.evaluation is not None
    assert serverless.evaluation.metric_names == ("mmlu/accuracy",)
