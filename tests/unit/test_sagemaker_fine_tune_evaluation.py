"""SageMakerFineTuneJob with ``options.evaluation``: the task-metrics gate between training
and registration (states, IAM, options, a tier stack turned on from a config file)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_support import cfn_lint_findings, new_app, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    SageMakerFineTuneJob,
    SageMakerFineTuneOptions,
    TaskMetricsOptions,
    TrainingDataLake,
)
from cdk_llm_training.config import parse_app_config
from cdk_llm_training.stacks.small_lora import SmallLoRAStack

TOKEN = "<TOKEN>"
EVALUATION_STATES = {
    "LocatePredictions",
    "TaskMetricsJob",
    "TaskMetricsReadReport",
    "TaskMetricsGate",
    "EvaluationReportRead?",
    "NotifyEvaluationFailed",
    "NotifyEvaluationError",
    "EvaluationFailed",
}


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    return TOKEN


def _states(template: Template) -> dict[str, Any]:
    (machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    states: dict[str, Any] = json.loads(_render(machine["Properties"]["DefinitionString"]))[
        "States"
    ]
    return states


def _statements(template: Template, prefix: str) -> dict[str, dict[str, Any]]:
    (policy,) = [
        p
        for logical_id, p in resources_of_type(template, "AWS::IAM::Policy").items()
        if logical_id.startswith(prefix)
    ]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "Sid" in s}


def _targets(state: dict[str, Any]) -> list[str]:
    """Every state ``state`` can go to."""
    out = [state[k] for k in ("Next", "Default") if k in state]
    out += [c["Next"] for c in state.get("Choices", [])]
    out += [c["Next"] for c in state.get("Catch", [])]
    return out


def _build(options: SageMakerFineTuneOptions) -> tuple[Template, SageMakerFineTuneJob]:
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake")
    job = SageMakerFineTuneJob(stack, "Lora", data_lake=lake, options=options)
    return template_of(stack), job


@pytest.fixture(scope="module")
def evaluated() -> tuple[Template, SageMakerFineTuneJob]:
    return _build(
        SageMakerFineTuneOptions(
            evaluation=TaskMetricsOptions(min_scores={"token_f1": 0.6, "rouge_l": 0.5})
        )
    )


@pytest.fixture(scope="module")
def template(evaluated: tuple[Template, SageMakerFineTuneJob]) -> Template:
    return evaluated[0]


# -- states -------------------------------------------------------------------------------


def test_evaluation_states_only_when_opted_in() -> None:
    template, job = _build(SageMakerFineTuneOptions())
    states = _states(template)
    assert not EVALUATION_STATES & set(states)
    assert states["TrainAdapter"]["Next"] == "RegisterAdapter"
    assert job.task_metrics is None
    assert not [k for k in resources_of_type(template, "AWS::IAM::Role") if "TaskMetrics" in k]
    channels = [c["ChannelName"] for c in states["TrainAdapter"]["Parameters"]["InputDataConfig"]]
    assert channels == ["train", "model"]
    assert "taskMetrics.$" not in json.dumps(states["NotifySucceeded"])


def test_training_goes_to_the_evaluation_not_to_registration(template: Template) -> None:
    states = _states(template)
    assert set(states) >= EVALUATION_STATES
    for name in ("TrainAdapter", "TrainAdapterWithValidationData"):
        assert states[name]["Next"] == "LocatePredictions"
    assert states["LocatePredictions"]["Next"] == "TaskMetricsJob"
    assert states["TaskMetricsJob"]["Next"] == "TaskMetricsReadReport"
    assert states["TaskMetricsReadReport"]["Next"] == "TaskMetricsGate"


def test_only_a_passed_gate_reaches_the_model_package(template: Template) -> None:
    states = _states(template)
    sources = [name for name, state in states.items() if "RegisterAdapter" in _targets(state)]
    assert sources == ["TaskMetricsGate"]
    gate = states["TaskMetricsGate"]
    assert gate["Choices"] == [
        {
            "Variable": "$.taskMetrics.result.report.passed",
            "BooleanEquals": True,
            "Next": "RegisterAdapter",
        }
    ]
    assert gate["Default"] == "EvaluationReportRead?"


def test_a_failed_gate_or_job_notifies_and_ends_in_fail(template: Template) -> None:
    states = _states(template)
    for name in ("TaskMetricsJob", "TaskMetricsReadReport"):
        assert [(c["ErrorEquals"], c["Next"]) for c in states[name]["Catch"]] == [
            (["States.ALL"], "EvaluationReportRead?")
        ]
    why = states["EvaluationReportRead?"]
    assert why["Choices"] == [
        {
            "Variable": "$.taskMetrics.result.report",
            "IsPresent": True,
            "Next": "NotifyEvaluationFailed",
        }
    ]
    assert why["Default"] == "NotifyEvaluationError"
    for name in ("NotifyEvaluationFailed", "NotifyEvaluationError"):
        assert states[name]["Next"] == "EvaluationFailed"
    assert states["EvaluationFailed"]["Type"] == "Fail"
    assert states["EvaluationFailed"]["Error"] == "EvaluationFailed"


def _message(state: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = state["Parameters"]["Message"]
    return message


def test_notifications_carry_the_report_summary(template: Template) -> None:
    states = _states(template)
    assert _message(states["NotifySucceeded"])["taskMetrics.$"] == (
        "$.taskMetrics.result.report.summary"
    )
    failed = _message(states["NotifyEvaluationFailed"])
    assert failed["result"] == "EVALUATION_FAILED"
    assert failed["taskMetrics.$"] == "$.taskMetrics.result.report.summary"
    assert failed["failures.$"] == "$.taskMetrics.result.report.failures"
    assert failed["reportKey.$"] == (
        "States.Format('evaluation/task-metrics/{}/report.json', $$.Execution.Name)"
    )
    error = _message(states["NotifyEvaluationError"])
    assert error["error.$"] == "$.taskMetricsError.Error"


def test_the_training_script_predictions_are_scored(template: Template) -> None:
    states = _states(template)
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]
        for c in states["TrainAdapter"]["Parameters"]["InputDataConfig"]
    }
    assert _render(channels["evaluation"]["S3Uri"]) == f"s3://{TOKEN}/evaluation/labelled.jsonl"
    assert states["LocatePredictions"]["Parameters"] == {
        "predictionsS3Uri.$": "States.Format('{}{}/output/output.tar.gz', "
        "$.validation.outputS3Path, $.validation.trainingJobName)"
    }
    assert states["LocatePredictions"]["ResultPath"] == "$.evaluationInput"
    job = states["TaskMetricsJob"]["Parameters"]
    (predictions,) = [i for i in job["ProcessingInputs"] if i["InputName"] == "predictions"]
    assert predictions["S3Input"]["S3Uri.$"] == "$.evaluationInput.predictionsS3Uri"
    assert job["Environment"] == {"MODEL_NAME.$": "$.validation.trainingJobName"}
    command = job["AppSpecification"]["ContainerEntrypoint"][2]
    assert "--predictions /opt/ml/processing/input/predictions" in command
    assert "--min-score rouge_l=0.5 --min-score token_f1=0.6" in command


# -- IAM ----------------------------------------------------------------------------------


def test_state_machine_passes_only_the_training_and_processing_roles(template: Template) -> None:
    statements = _statements(template, "LoraRoleDefaultPolicy")
    passing = {
        sid: s["Resource"]["Fn::GetAtt"][0]
        for sid, s in statements.items()
        if "iam:PassRole" in json.dumps(s["Action"])
    }
    assert sorted(passing) == ["PassProcessingRole", "PassTrainingRole"]
    assert passing["PassTrainingRole"].startswith("LoraTrainingRole")
    assert passing["PassProcessingRole"].startswith("LoraTaskMetricsProcessingRole")
    for sid in passing:
        assert statements[sid]["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }
    assert _render(statements["RunProcessingJobs"]["Resource"]).endswith(":processing-job/*")


def test_roles_read_only_what_the_evaluation_needs(template: Template) -> None:
    training = _statements(template, "LoraTrainingRoleDefaultPolicy")
    assert _render(training["ReadLabelledSet"]["Resource"]) == (
        f"{TOKEN}/evaluation/labelled.jsonl"
    )
    assert training["ListLabelledSet"]["Condition"] == {
        "StringLike": {"s3:prefix": ["evaluation/labelled.jsonl*"]}
    }
    processing = _statements(template, "LoraTaskMetricsProcessingRoleDefaultPolicy")
    assert _render(processing["ReadPredictions"]["Resource"]) == f"{TOKEN}/sagemaker/output/*"
    assert _render(processing["WriteReports"]["Resource"]) == (f"{TOKEN}/evaluation/task-metrics/*")


def test_is_cfn_lint_clean(template: Template) -> None:
    assert cfn_lint_findings(template.to_json()) == []


# -- options ------------------------------------------------------------------------------


def _option_error(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        SageMakerFineTuneOptions(**fields)
    (error,) = caught.value.errors()
    return str(error["msg"])


def test_predictions_prefix_defaults_to_the_output_prefix() -> None:
    options = SageMakerFineTuneOptions(output_prefix="jobs/out/", evaluation=TaskMetricsOptions())
    derived = options.task_metrics_options()
    assert derived is not None
    assert derived.predictions_prefix == "jobs/out/"
    assert SageMakerFineTuneOptions().task_metrics_options() is None


def test_explicit_predictions_prefix_above_the_output_prefix_is_kept() -> None:
    options = SageMakerFineTuneOptions(
        evaluation=TaskMetricsOptions(predictions_prefix="sagemaker/")
    )
    derived = options.task_metrics_options()
    assert derived is not None
    assert derived.predictions_prefix == "sagemaker/"


def test_fails_predictions_prefix_outside_the_output_prefix() -> None:
    assert _option_error(evaluation={"predictions_prefix": "adapters/"}) == (
        "Value error, evaluation.predictions_prefix 'adapters/' must contain output_prefix "
        "'sagemaker/output/' (the predictions are job output); allowed: 'sagemaker/output/' "
        "or a prefix of it, or leave it unset"
    )


def test_fails_generate_predictions() -> None:
    assert _option_error(evaluation={"generate_predictions": True}) == (
        "Value error, evaluation.generate_predictions must be false: the training script "
        "writes the predictions for the labelled set (output.tar.gz of the job); got true"
    )


# -- a tier stack from a config file --------------------------------------------------------


def test_small_lora_stack_turns_it_on_from_config() -> None:
    config = parse_app_config(
        {
            "small_lora": {
                "sagemaker_fine_tune": {
                    "evaluation": {"min_scores": {"token_f1": 0.6}},
                }
            }
        }
    )
    options = config.small_lora.sagemaker_fine_tune
    assert options is not None
    assert options.evaluation is not None
    assert options.evaluation.min_scores == {"token_f1": 0.6}
    stack = SmallLoRAStack(new_app(), "SmallLoRA", config=config.small_lora)
    assert isinstance(stack, cdk.Stack)
    template = template_of(stack)  # nag + LlmTrainingChecks as validation plugins
    assert cfn_lint_findings(template.to_json()) == []
    states = _states_named(template, "SageMakerFineTune")
    assert states["TaskMetricsGate"]["Choices"][0]["Next"] == "RegisterAdapter"


def _states_named(template: Template, prefix: str) -> dict[str, Any]:
    (machine,) = [
        m
        for k, m in resources_of_type(template, "AWS::StepFunctions::StateMachine").items()
        if k.startswith(prefix)
    ]
    states: dict[str, Any] = json.loads(_render(machine["Properties"]["DefinitionString"]))[
        "States"
    ]
    return states
