"""SyntheticData: the template (batch role trust and access, polled job states, nag and rule
pack clean, cfn-lint) and SyntheticDataOptions validation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import SyntheticData, SyntheticDataOptions, TrainingDataLake


@pytest.fixture(scope="module")
def built() -> tuple[Stack, SyntheticData, Template]:
    stack = new_stack()  # cdk-nag AwsSolutions + LlmTrainingChecks: errors fail synthesis
    lake = TrainingDataLake(stack, "Lake")
    options = SyntheticDataOptions(teacher_model_id="amazon.nova-pro-v1:0", timeout_hours=72)
    synthetic = SyntheticData(stack, "Synthetic", data_lake=lake, options=options)
    return stack, synthetic, template_of(stack)


def _definition(template: Template) -> dict[str, Any]:
    (machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    definition: dict[str, Any] = json.loads(
        "".join(p if isinstance(p, str) else "REF" for p in parts)
    )
    return definition


def test_polls_the_batch_job(built: tuple[Stack, SyntheticData, Template]) -> None:
    states = _definition(built[2])["States"]
    create = states["CreateBatchJob"]
    assert create["Resource"].endswith(":states:::aws-sdk:bedrock:createModelInvocationJob")
    assert create["Parameters"]["TimeoutDurationInHours"] == 72
    assert create["Parameters"]["ModelId"] == "amazon.nova-pro-v1:0"
    assert states["WaitForJob"]["Seconds"] == 600
    finished = states["JobFinished?"]
    assert finished["Default"] == "CountPoll"
    polls = json.dumps(finished["Choices"][1])
    assert '"NumericGreaterThanEquals": 438' in polls  # (72 + 1) h of 10-minute polls


def test_batch_role_is_bedrock_s_for_this_account(
    built: tuple[Stack, SyntheticData, Template],
) -> None:
    template = built[2]
    (role,) = [
        r
        for logical_id, r in resources_of_type(template, "AWS::IAM::Role").items()
        if logical_id.startswith("SyntheticBatchRole")
    ]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    assert "model-invocation-job/*" in json.dumps(trust["Condition"]["ArnLike"])
    statements = [
        s
        for logical_id, p in resources_of_type(template, "AWS::IAM::Policy").items()
        if logical_id.startswith("SyntheticBatchRole")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    invoke = next(s for s in statements if s.get("Sid") == "InvokeTeacher")
    assert "foundation-model/amazon.nova-pro-v1:0" in json.dumps(invoke["Resource"])


def test_workflow_passes_the_batch_role_to_bedrock_only(
    built: tuple[Stack, SyntheticData, Template],
) -> None:
    statements = [
        s
        for logical_id, p in resources_of_type(built[2], "AWS::IAM::Policy").items()
        if logical_id.startswith("SyntheticRole")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    passing = next(s for s in statements if s.get("Sid") == "PassBatchRole")
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}
    }
    assert not any(s.get("Sid") == "ManageSyncEventsRule" for s in statements)  # polled


def test_cfn_lint_clean(built: tuple[Stack, SyntheticData, Template]) -> None:
    assert cfn_lint_findings(built[2].to_json()) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timeout_hours": 12}, "greater than or equal to 24"),
        ({"timeout_hours": 169}, "less than or equal to 168"),
        ({"teacher_model_id": "cohere.command-r-v1:0"}, "must be a foundation model id"),
        ({"teacher_model_id": "us.anthropic.claude-3-haiku-20240307-v1:0"}, "foundation model"),
        ({"prompt_prefix": "prompts"}, "ending in '/'"),
        ({"record_format": "csv"}, "record_format 'csv' is unknown"),
        ({"temperature": 1.5}, "less than or equal to 1"),
    ],
)
def test_options_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SyntheticDataOptions(**fields)


@pytest.fixture(scope="module")
def preference() -> tuple[SyntheticData, Template]:
    stack = new_stack()  # cdk-nag AwsSolutions + LlmTrainingChecks: errors fail synthesis
    lake = TrainingDataLake(stack, "Lake")
    options = SyntheticDataOptions(output="preference", judge_model_id="amazon.nova-lite-v1:0")
    synthetic = SyntheticData(stack, "Synthetic", data_lake=lake, options=options)
    return synthetic, template_of(stack)


def _functions(template: Template) -> dict[str, Any]:
    return {
        f["Properties"]["Handler"]: f["Properties"]
        for f in resources_of_type(template, "AWS::Lambda::Function").values()
        if "Handler" in f["Properties"]
    }


def test_preference_mode_judges_then_converts(preference: tuple[SyntheticData, Template]) -> None:
    states = _definition(preference[1])["States"]
    assert states["JobFinished?"]["Choices"][0]["Next"] == "PairSamples"
    assert states["JudgeInBatch?"]["Default"] == "ConvertOutputs"
    assert states["JudgeInBatch?"]["Choices"][0]["Next"] == "CreateJudgeJob"
    judge = states["CreateJudgeJob"]["Parameters"]
    assert judge["ModelId"] == "amazon.nova-lite-v1:0"
    assert judge["TimeoutDurationInHours"] == 24
    assert states["JudgeFinished?"]["Choices"][0]["Next"] == "ConvertOutputs"
    assert states["JudgeFinished?"]["Default"] == "CountJudgePoll"
    functions = _functions(preference[1])
    assert "synthetic_preference.convert_handler" in functions
    assert "synthetic_preference.judge_handler" in functions
    validator = functions["bedrock_dataset_validator.handler"]
    assert validator["Environment"]["Variables"]["RECORD_FORMAT"] == "preference"
    prepare = functions["synthetic_data.prepare_handler"]["Environment"]["Variables"]
    assert (prepare["OUTPUT_MODE"], prepare["SECOND_TEMPERATURE"]) == ("preference", "1.0")


def test_preference_mode_may_invoke_the_judge(preference: tuple[SyntheticData, Template]) -> None:
    statements = {
        s.get("Sid"): s
        for logical_id, p in resources_of_type(preference[1], "AWS::IAM::Policy").items()
        if logical_id.startswith(("SyntheticBatchRole", "SyntheticJudge"))
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    }
    teacher_and_judge = json.dumps(statements["InvokeTeacher"]["Resource"])
    assert "anthropic.claude-3-haiku" in teacher_and_judge
    assert "amazon.nova-lite-v1:0" in teacher_and_judge
    judge = json.dumps(statements["InvokeJudge"]["Resource"])
    assert "amazon.nova-lite-v1:0" in judge
    assert "anthropic" not in judge


def test_preference_mode_cfn_lint_clean(preference: tuple[SyntheticData, Template]) -> None:
    assert cfn_lint_findings(preference[1].to_json()) == []


def test_sft_mode_has_no_judging(built: tuple[Stack, SyntheticData, Template]) -> None:
    assert built[1].judge_function is None
    assert "PairSamples" not in _definition(built[2])["States"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"output": "pairs"}, "'sft' or 'preference'"),
        ({"judge_model_id": "cohere.command-r-v1:0"}, "judge_model_id 'cohere"),
        ({"output": "preference", "record_format": "kto"}, "always checked as 'preference'"),
        ({"second_temperature": 1.2}, "less than or equal to 1"),
    ],
)
def test_preference_options_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SyntheticDataOptions(**fields)


def test_judge_defaults_to_the_teacher() -> None:
    options = SyntheticDataOptions(output="preference")
    assert (options.judge, options.dataset_format) == (options.teacher_model_id, "preference")
    assert SyntheticDataOptions().dataset_format == "chat"


LIMIT_ACTIONS = {"servicequotas:ListServiceQuotas", "bedrock:ListModelInvocationJobs"}


def _limit_grants(template: Template) -> dict[str, list[Any]]:
    """Policy logical ID -> its statements that grant a batch-limit action."""
    grants: dict[str, list[Any]] = {}
    for logical_id, policy in resources_of_type(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            if LIMIT_ACTIONS & set(actions):
                grants.setdefault(logical_id, []).append(statement)
    return grants


def test_only_the_steps_that_create_jobs_read_the_limits(
    built: tuple[Stack, SyntheticData, Template], preference: tuple[SyntheticData, Template]
) -> None:
    cases = (
        (built[2], ["SyntheticPrepare"]),
        (preference[1], ["SyntheticJudge", "SyntheticPrepare"]),
    )
    for template, roles in cases:
        grants = _limit_grants(template)
        assert [g[: len(r)] for g, r in zip(sorted(grants), roles, strict=True)] == roles
        for statements in grants.values():
            assert sorted((s["Sid"], s["Action"], s["Resource"]) for s in statements) == [
                ("CountBatchJobs", "bedrock:ListModelInvocationJobs", "*"),
                ("ReadBatchQuotas", "servicequotas:ListServiceQuotas", "*"),
            ]


def test_quota_names_and_fallback_limits_reach_the_lambdas(
    built: tuple[Stack, SyntheticData, Template],
) -> None:
    prepare = _functions(built[2])["synthetic_data.prepare_handler"]["Environment"]["Variables"]
    assert json.loads(prepare["QUOTA_MODEL_NAMES"]) == {"amazon.nova-pro-v1:0": "Nova Pro V1"}
    assert (prepare["MAX_INPUT_FILE_GIB"], prepare["MAX_JOB_GIB"]) == ("1.0", "5.0")
    assert prepare["MAX_IN_FLIGHT_JOBS"] == ""


def test_outputs_are_reconciled_before_validation(
    built: tuple[Stack, SyntheticData, Template],
) -> None:
    states = _definition(built[2])["States"]
    assert states["ConvertOutputs"]["Next"] == "OutputsReconciled?"
    assert states["OutputsReconciled?"]["Default"] == "ValidateDataset"
    assert states["OutputsReconciled?"]["Choices"][0]["Next"] == "NotifyOutputsMismatch"
    payload = states["ConvertOutputs"]["Parameters"]  # the payload (response only)
    assert payload["recordCount.$"] == "$.prepared.recordCount"


def test_quota_model_names_override_the_shipped_ones() -> None:
    options = SyntheticDataOptions(
        output="preference",
        judge_model_id="amazon.nova-lite-v1:0",
        quota_model_names={"amazon.nova-lite-v1:0": "Nova Lite"},
    )
    assert options.quota_names == {
        "amazon.nova-lite-v1:0": "Nova Lite",
        "anthropic.claude-3-haiku-20240307-v1:0": "Claude 3 Haiku",
    }
