"""ModelEvaluation: the evaluation states inside the Bedrock workflow, roles, gate, options."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    BedrockFineTuneJob,
    BedrockFineTuneOptions,
    EvaluationThresholds,
    ModelEvaluation,
    ModelEvaluationOptions,
    TrainingDataLake,
)
from cdk_llm_training.constructs.model_evaluation import on_demand_model_id


def _definition(template: Template) -> dict[str, Any]:
    machine = next(iter(resources_of_type(template, "AWS::StepFunctions::StateMachine").values()))
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else _token(p) for p in parts)
    return json.loads(text)  # type: ignore[no-any-return]


def _token(value: dict[str, Any]) -> str:
    if "Ref" in value:
        return f"<{value['Ref']}>"
    return "<{}>".format(".".join(value["Fn::GetAtt"]))


def _build(evaluation: ModelEvaluationOptions) -> tuple[Template, BedrockFineTuneJob]:
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake")
    job = BedrockFineTuneJob(
        stack,
        "FineTune",
        data_lake=lake,
        options=BedrockFineTuneOptions(evaluation=evaluation),
    )
    return template_of(stack), job


@pytest.fixture(scope="module")
def hooked() -> tuple[Template, BedrockFineTuneJob]:
    return _build(
        ModelEvaluationOptions(
            algorithmic_metrics=("Builtin.Accuracy",),
            thresholds=EvaluationThresholds(
                min_scores={"Builtin.Correctness": 0.7},
                min_improvement={"Builtin.Helpfulness": 0.0},
            ),
        )
    )


@pytest.fixture(scope="module")
def states(hooked: tuple[Template, BedrockFineTuneJob]) -> dict[str, Any]:
    return _definition(hooked[0])["States"]  # type: ignore[no-any-return]


def _branches(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["StartAt"]: b["States"] for b in states["EvalRunJobs"]["Branches"]}


def test_default_workflow_has_no_evaluation() -> None:
    stack = new_stack()
    job = BedrockFineTuneJob(stack, "FineTune", data_lake=TrainingDataLake(stack, "Lake"))
    template = template_of(stack)
    assert job.evaluation is None
    states = _definition(template)["States"]
    assert states["CreateCustomizationJob"]["Next"] == "NotifySucceeded"
    assert not [name for name in states if name.startswith("Eval")]


def test_job_success_goes_to_provisioned_throughput(states: dict[str, Any]) -> None:
    assert states["CreateCustomizationJob"]["Next"] == "EvalProvisionThroughput"
    assert states["CreateCustomizationJobWithValidationData"]["Next"] == "EvalProvisionThroughput"
    create = states["EvalProvisionThroughput"]
    assert create["Resource"].endswith(":states:::aws-sdk:bedrock:createProvisionedModelThroughput")
    assert create["Parameters"] == {
        "ModelId.$": "$.validation.customModelName",
        "ModelUnits": 1,
        "ProvisionedModelName.$": "States.Format('eval-{}', States.UUID())",
    }
    assert "CommitmentDuration" not in create["Parameters"]  # no commitment
    assert create["ResultSelector"] == {"arn.$": "$.ProvisionedModelArn"}


def test_throughput_is_polled_until_in_service(states: dict[str, Any]) -> None:
    assert states["EvalGetThroughput"]["Resource"].endswith(
        ":states:::aws-sdk:bedrock:getProvisionedModelThroughput"
    )
    ready = states["EvalThroughputReady?"]
    assert ready["Choices"][0] == {
        "Variable": "$.evaluation.throughputStatus.status",
        "StringEquals": "InService",
        "Next": "EvalPreparePrompts",
    }
    assert ready["Choices"][1]["Next"] == "EvalThroughputFailed"
    assert {"Variable": "$.evaluation.polls", "NumericGreaterThanEquals": 288} in ready["Choices"][
        1
    ]["Or"]
    assert ready["Default"] == "EvalCountThroughputPoll"
    assert states["EvalWaitThroughput"]["Seconds"] == 300


def test_one_branch_per_model_and_metric_kind(states: dict[str, Any]) -> None:
    assert sorted(_branches(states)) == [
        "Eval-baseline-builtin-Create",
        "Eval-baseline-judge-Create",
        "Eval-candidate-builtin-Create",
        "Eval-candidate-judge-Create",
    ]


def test_judge_job_parameters(states: dict[str, Any]) -> None:
    branch = _branches(states)["Eval-candidate-judge-Create"]
    create = branch["Eval-candidate-judge-Create"]
    assert create["Resource"].endswith(":states:::aws-sdk:bedrock:createEvaluationJob")
    params = create["Parameters"]
    assert params["JobName.$"] == "States.Format('eval-cj-{}', States.UUID())"
    assert params["ApplicationType"] == "ModelEvaluation"
    automated = params["EvaluationConfig"]["Automated"]
    assert automated["EvaluatorModelConfig"] == {
        "BedrockEvaluatorModels": [{"ModelIdentifier": "anthropic.claude-3-5-sonnet-20240620-v1:0"}]
    }
    assert automated["DatasetMetricConfigs"][0]["MetricNames"] == [
        "Builtin.Correctness",
        "Builtin.Completeness",
        "Builtin.Helpfulness",
        "Builtin.Faithfulness",
    ]
    assert automated["DatasetMetricConfigs"][0]["Dataset"]["DatasetLocation"] == {
        "S3Uri.$": "$.evaluation.prompts.datasetS3Uri"
    }
    assert params["InferenceConfig"] == {
        "Models": [{"BedrockModel": {"ModelIdentifier.$": "$.evaluation.candidateModel"}}]
    }
    assert params["OutputDataConfig"]["S3Uri"].endswith("/evaluation/bedrock-output/")


def test_baseline_is_the_on_demand_base_model(states: dict[str, Any]) -> None:
    branch = _branches(states)["Eval-baseline-judge-Create"]
    params = branch["Eval-baseline-judge-Create"]["Parameters"]
    assert params["InferenceConfig"] == {
        "Models": [{"BedrockModel": {"ModelIdentifier": "amazon.nova-micro-v1:0"}}]
    }
    builtin = _branches(states)["Eval-baseline-builtin-Create"]["Eval-baseline-builtin-Create"]
    assert "EvaluatorModelConfig" not in builtin["Parameters"]["EvaluationConfig"]["Automated"]


def test_evaluation_job_poll_loop(states: dict[str, Any]) -> None:
    branch = _branches(states)["Eval-candidate-judge-Create"]
    assert branch["Eval-candidate-judge-Get"]["Parameters"] == {"JobIdentifier.$": "$.job.jobArn"}
    check = branch["Eval-candidate-judge-Finished?"]
    assert check["Choices"][0] == {
        "Variable": "$.job.state.status",
        "StringEquals": "Completed",
        "Next": "Eval-candidate-judge-Done",
    }
    failed = {c.get("StringEquals") for c in check["Choices"][1]["Or"]}
    assert {"Failed", "Stopped"} <= failed
    assert check["Default"] == "Eval-candidate-judge-Count"
    assert branch["Eval-candidate-judge-Count"]["Next"] == "Eval-candidate-judge-Wait"


def test_report_then_notification_then_gate(states: dict[str, Any]) -> None:
    assert states["EvalRunJobs"]["Next"] == "EvalReport"
    assert states["EvalReport"]["Next"] == "EvalNotifyReport"
    assert states["EvalNotifyReport"]["Next"] == "EvalGate"
    gate = states["EvalGate"]
    assert gate["Choices"] == [
        {
            "Variable": "$.evaluation.report.passed",
            "BooleanEquals": True,
            "Next": "EvalDeleteThroughputAfterPass",
        }
    ]
    # a passed gate deletes what the evaluation bought too (keep_deployment is off)
    assert states["EvalDeleteThroughputAfterPass"]["Next"] == "NotifySucceeded"
    # a failed gate deletes the throughput (the model stays unusable), then fails
    assert gate["Default"] == "EvalDeleteThroughput"
    assert states["EvalDeleteThroughput"]["Next"] == "EvalThresholdNotMet"
    assert states["EvalThresholdNotMet"] == {
        "Type": "Fail",
        "Error": "EvaluationThresholdNotMet",
        "Cause": "The evaluation did not meet the thresholds; see the report.",
    }


def test_errors_clean_up_and_fail(states: dict[str, Any]) -> None:
    for name in ("EvalPreparePrompts", "EvalRunJobs", "EvalReport", "EvalGetThroughput"):
        assert states[name]["Catch"][0]["Next"] == "EvalDeleteThroughputAfterError"
    assert states["EvalDeleteThroughputAfterError"]["Next"] == "EvalNotifyFailed"
    assert states["EvalNotifyFailed"]["Next"] == "EvalFailed"
    assert states["EvalPromptsValid?"]["Choices"][0]["Next"] == "EvalPromptsInvalid"


def test_evaluation_role_trust_has_confused_deputy_conditions(
    hooked: tuple[Template, BedrockFineTuneJob],
) -> None:
    template, job = hooked
    assert job.evaluation is not None
    role_id = cdk.Stack.of(job).get_logical_id(
        job.evaluation.evaluation_role.node.default_child  # type: ignore[arg-type]
    )
    role = resources_of_type(template, "AWS::IAM::Role")[role_id]
    statement = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }
    source_arn = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":evaluation-job/*" in source_arn


def test_evaluation_role_reads_prompts_writes_results(
    hooked: tuple[Template, BedrockFineTuneJob],
) -> None:
    template, _ = hooked
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources_of_type(template, "AWS::IAM::Policy").values()
    ]
    statements = {s.get("Sid"): s for doc in policies for s in doc if s.get("Sid")}
    assert statements["ReadPromptSet"]["Action"] == "s3:GetObject"
    assert "evaluation/bedrock-input/*" in json.dumps(statements["ReadPromptSet"]["Resource"])
    assert statements["WriteResults"]["Action"] == [
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert "evaluation/bedrock-output/*" in json.dumps(statements["WriteResults"]["Resource"])
    assert statements["InvokeEvaluatedAndJudgeModels"]["Action"] == [
        "bedrock:CreateModelInvocationJob",
        "bedrock:InvokeModel",
    ]
    assert statements["PassEvaluationRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}
    }


def test_workflow_role_may_create_and_track_evaluation_jobs(
    hooked: tuple[Template, BedrockFineTuneJob],
) -> None:
    template, _ = hooked
    text = json.dumps(resources_of_type(template, "AWS::IAM::Policy"))
    for action in (
        "bedrock:createEvaluationJob",
        "bedrock:getEvaluationJob",
        "bedrock:createProvisionedModelThroughput",
        "bedrock:getProvisionedModelThroughput",
        "bedrock:deleteProvisionedModelThroughput",
    ):
        assert action in text


def test_report_lambda_gets_thresholds(hooked: tuple[Template, BedrockFineTuneJob]) -> None:
    template, _ = hooked
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "evaluation_report.bedrock_report_handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "REPORT_PREFIX": "evaluation/reports/",
                        "THRESHOLDS": json.dumps(
                            {
                                "min_scores": {"Builtin.Correctness": 0.7},
                                "min_improvement": {"Builtin.Helpfulness": 0.0},
                            },
                            separators=(",", ":"),
                        ),
                    }
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "evaluation_prompts.prepare_handler",
            "Environment": {
                "Variables": Match.object_like({"CATALOG_PREFIX": "evaluation/prompts.jsonl"})
            },
        },
    )


def test_hooked_workflow_is_cfn_lint_clean(hooked: tuple[Template, BedrockFineTuneJob]) -> None:
    assert cfn_lint_findings(hooked[0].to_json()) == []


def test_existing_model_without_provisioning() -> None:
    template, _ = _build(
        ModelEvaluationOptions(provision_throughput=False, compare_with_base_model=False)
    )
    states = _definition(template)["States"]
    assert states["CreateCustomizationJob"]["Next"] == "EvalSetup"
    assert "EvalProvisionThroughput" not in states
    assert list(_branches(states)) == ["Eval-candidate-judge-Create"]
    params = _branches(states)["Eval-candidate-judge-Create"]["Eval-candidate-judge-Create"][
        "Parameters"
    ]
    assert params["InferenceConfig"]["Models"][0]["BedrockModel"] == {
        "ModelIdentifier.$": "$.evaluationModelArn"
    }
    assert states["EvalGate"]["Default"] == "EvalThresholdNotMet"


def test_standalone_chain_with_buckets() -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    topic = sns.Topic(stack, "Topic")
    evaluation = ModelEvaluation(
        stack,
        "Eval",
        base_model_id="meta.llama3-1-8b-instruct-v1:0:128k",
        topic=topic,
        catalog_bucket=lake.curated_bucket,
        output_bucket=lake.artifacts_bucket,
        options=ModelEvaluationOptions(baseline_model_id="us.meta.llama3-1-8b-instruct-v1:0"),
    )
    machine = sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(
            evaluation.chain(on_passed=sfn.Succeed(stack, "Ok"))
        ),
    )
    evaluation.grant_workflow(machine)
    states = _definition(Template.from_stack(stack))["States"]
    baseline = _branches(states)["Eval-baseline-judge-Create"]["Eval-baseline-judge-Create"]
    assert baseline["Parameters"]["InferenceConfig"]["Models"][0]["BedrockModel"] == {
        "ModelIdentifier": "us.meta.llama3-1-8b-instruct-v1:0"
    }


def test_on_demand_model_id() -> None:
    assert on_demand_model_id("amazon.nova-micro-v1:0:128k") == "amazon.nova-micro-v1:0"
    assert on_demand_model_id("amazon.titan-text-lite-v1:0:4k") == "amazon.titan-text-lite-v1:0"
    assert on_demand_model_id("amazon.nova-micro-v1:0") == "amazon.nova-micro-v1:0"


def test_fails_without_buckets() -> None:
    stack = new_stack(nag=False)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "ModelEvaluation needs data_lake=, or both catalog_bucket= and output_bucket=; "
            "got neither."
        ),
    ):
        ModelEvaluation(stack, "Eval", base_model_id="x.y", topic=sns.Topic(stack, "T"))


def test_fails_unknown_judge_metric() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("judge_metrics Builtin.Accuracy not known")
    ):
        ModelEvaluationOptions(judge_metrics=("Builtin.Accuracy",))


def test_fails_unknown_algorithmic_metric() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("algorithmic_metrics Builtin.Helpfulness not known")
    ):
        ModelEvaluationOptions(algorithmic_metrics=("Builtin.Helpfulness",))


def test_fails_no_metrics() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("judge_metrics and algorithmic_metrics are both")
    ):
        ModelEvaluationOptions(judge_metrics=())


def test_fails_threshold_on_uncomputed_metric() -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "thresholds.min_scores names Builtin.Toxicity, which this evaluation does not compute"
        ),
    ):
        ModelEvaluationOptions(
            thresholds=EvaluationThresholds(min_scores={"Builtin.Toxicity": 0.1})
        )


def test_fails_improvement_without_baseline() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("thresholds.min_improvement needs compare_with_base")
    ):
        ModelEvaluationOptions(
            compare_with_base_model=False,
            thresholds=EvaluationThresholds(min_improvement={"Builtin.Correctness": 0.0}),
        )


def test_fails_prefix_with_wildcard() -> None:
    with pytest.raises(ValidationError, match=re.escape("must be a literal S3 key prefix")):
        ModelEvaluationOptions(output_prefix="eval/*")
