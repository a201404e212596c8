"""HumanEvaluation: sample -> rating job through a LabelingWorkflow -> report."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    HumanEvaluation,
    HumanEvaluationOptions,
    LabelingOptions,
    LabelingWorkflow,
    LabelingWorkforce,
    TrainingDataLake,
)
from cdk_llm_training.config import WorkforceMode, WorkforceOptions
from cdk_llm_training.constructs.acknowledgements import acknowledge

COGNITO = LabelingOptions(workforce=WorkforceOptions(mode=WorkforceMode.COGNITO))


def _token(value: dict[str, Any]) -> str:
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}>".format(".".join(value["Fn::GetAtt"]))
    return "<expr>"


@pytest.fixture(scope="module")
def build() -> tuple[Template, HumanEvaluation]:
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake")
    workforce = LabelingWorkforce(stack, "Labeling", options=COGNITO)
    acknowledge(workforce, "LLM-GT1", "test: no office CIDRs")
    labeling = LabelingWorkflow(
        stack,
        "LabelingWorkflow",
        data_lake=lake,
        work_teams=workforce.team_refs,
        options=COGNITO.workflow_options(),
        notification_key=workforce.notification_key,
    )
    human = HumanEvaluation(
        stack,
        "Human",
        labeling=labeling,
        topic=sns.Topic(stack, "Topic", enforce_ssl=True),
        options=HumanEvaluationOptions(sample_size=50, min_scores={"mean_score": 3.5}),
    )
    return template_of(stack), human


def _states(template: Template, human: HumanEvaluation) -> dict[str, Any]:
    logical_id = human.state_machine.stack.get_logical_id(
        human.state_machine.node.default_child  # type: ignore[arg-type]
    )
    machine = resources_of_type(template, "AWS::StepFunctions::StateMachine")[logical_id]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else _token(p) for p in parts))["States"]  # type: ignore[no-any-return]


def test_states_chain_sample_rate_aggregate_gate(build: tuple[Template, HumanEvaluation]) -> None:
    states = _states(*build)
    assert states["SampleOutputs"]["Parameters"] == {
        "outputsKey.$": "$.outputsKey",
        "runId.$": "$$.Execution.Name",
        "sampleSize": 50,
    }
    assert states["OutputsValid?"]["Choices"][0]["Next"] == "RateOutputs"
    rate = states["RateOutputs"]
    assert rate["Resource"].endswith(":states:::states:startExecution.sync:2")
    assert rate["Parameters"]["Input"]["task_type"] == "rating"
    assert rate["Parameters"]["Input"]["job_name.$"] == "States.Format('rating-{}', States.UUID())"
    assert rate["Parameters"]["Input"]["manifest_key.$"] == "$.sample.manifestKey"
    assert rate["Next"] == "AggregateRatings"
    payload = states["AggregateRatings"]["Parameters"]
    assert payload["min_scores"] == {"mean_score": 3.5}
    assert payload["output_manifest_uri.$"] == "$.rating.labelingJob.output_manifest_uri"
    assert states["AggregateRatings"]["Next"] == "NotifyHumanReport"
    assert states["HumanGate"]["Default"] == "HumanThresholdNotMet"


def test_manifests_land_under_the_labeling_manifest_prefix(
    build: tuple[Template, HumanEvaluation],
) -> None:
    template, human = build
    assert human.manifest_prefix == "labeling/input/evaluation/"
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "evaluation_prompts.sample_handler",
            "Environment": {
                "Variables": Match.object_like({"MANIFEST_PREFIX": "labeling/input/evaluation/"})
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "evaluation_report.human_report_handler",
            "Environment": {
                "Variables": Match.object_like({"REPORT_PREFIX": "evaluation/human-reports/"})
            },
        },
    )


def test_is_cfn_lint_clean(build: tuple[Template, HumanEvaluation]) -> None:
    assert cfn_lint_findings(build[0].to_json()) == []


def test_fails_unknown_human_metric() -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "min_scores names kappa; allowed: mean_score, median_score, item_mean_score, "
            "agreement_alpha"
        ),
    ):
        HumanEvaluationOptions(min_scores={"kappa": 0.5})


def test_fails_bad_retention() -> None:
    with pytest.raises(ValidationError, match=re.escape("2 is not a CloudWatch Logs retention")):
        HumanEvaluationOptions(log_retention_days=2)
