"""Bedrock reinforcement fine-tuning: options, catalog, the synthesized grader, probe and
service-role grants, and the option ranges against the botocore service model."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk.assertions import Annotations, Match, Template
from cdk_support import new_app, new_stack, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    BedrockFineTuneJob,
    BedrockFineTuneOptions,
    SmallLoRAStack,
    TrainingDataLake,
)
from cdk_llm_training.config import parse_app_config
from cdk_llm_training.config.bedrock_fine_tune_job import (
    BuiltinGrader,
    GraderOptions,
    RftHyperparameters,
    RftOptions,
    resolve_base_model,
)
from cdk_llm_training.config.catalogs.bedrock_models import (
    CustomizationType,
    default_bedrock_catalog,
)

NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
RFT = CustomizationType.REINFORCEMENT_FINE_TUNING


def rft_options(**grader: Any) -> BedrockFineTuneOptions:
    return BedrockFineTuneOptions(
        base_model_id=NOVA_2_LITE,
        customization_type=RFT,
        rft=RftOptions(grader=GraderOptions(**(grader or {"builtin": "exact_match"}))),
    )


# -- the botocore model ----------------------------------------------------------------------


def _rft_shape(name: str) -> Any:
    model = botocore.session.get_session().get_service_model("bedrock")
    return model.shape_for(name)


@pytest.mark.parametrize(
    ("field", "member"),
    [
        ("epoch_count", "epochCount"),
        ("batch_size", "batchSize"),
        ("learning_rate", "learningRate"),
        ("training_sample_per_prompt", "trainingSamplePerPrompt"),
        ("eval_interval", "evalInterval"),
    ],
)
def test_hyperparameter_ranges_are_the_api_models(field: str, member: str) -> None:
    shape = _rft_shape("RFTHyperParameters").members[member]
    low, high = shape.metadata["min"], shape.metadata["max"]
    RftHyperparameters(**{field: low})
    RftHyperparameters(**{field: high})
    step = 1e-9 if isinstance(low, float) and low < 1 else 1
    for outside in (low - step, high * 2):
        with pytest.raises(ValidationError):
            RftHyperparameters(**{field: outside})


def test_every_api_hyperparameter_has_an_option() -> None:
    members = set(_rft_shape("RFTHyperParameters").members)
    every = RftHyperparameters(
        epoch_count=1,
        batch_size=16,
        learning_rate=1e-5,
        max_prompt_length=1024,
        training_sample_per_prompt=4,
        inference_max_tokens=2048,
        reasoning_effort="medium",
        eval_interval=10,
    )
    assert set(every.api()) == members
    assert set(_rft_shape("ReasoningEffort").enum) == {"low", "medium", "high"}


def test_the_grader_config_is_a_lambda_arn_in_the_api_model() -> None:
    assert set(_rft_shape("RFTConfig").members) == {"graderConfig", "hyperParameters"}
    assert set(_rft_shape("GraderConfig").members) == {"lambdaGrader"}
    assert _rft_shape("LambdaGraderConfig").required_members == ["lambdaArn"]


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "grader needs exactly one of builtin"),
        (
            {"builtin": "exact_match", "python_source_key": "finetune/g.py"},
            "grader needs exactly one of builtin",
        ),
        ({"builtin": "regex"}, "grader.pattern is required for the regex grader"),
        ({"builtin": "exact_match", "pattern": "x"}, "grader.pattern is required"),
        ({"builtin": "regex", "pattern": "("}, "grader.pattern '(' is not a regex"),
        ({"builtin": "json_schema"}, "grader.json_schema is required"),
        ({"python_source_key": "finetune/grade.txt"}, "must be a literal S3 key of a .py file"),
    ],
)
def test_grader_options_fail_with_one_message(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        GraderOptions(**settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {
                "customization_type": "FINE_TUNING",
                "rft": {"grader": {"builtin": "regex", "pattern": "x"}},
            },
            "rft is set but customization_type is FINE_TUNING",
        ),
        (
            {
                "customization_type": "REINFORCEMENT_FINE_TUNING",
                "rft": {"grader": {"builtin": "exact_match"}},
                "hyperparameters": {"epochCount": 2},
            },
            "put them in rft.hyperparameters",
        ),
        (
            {
                "customization_type": "REINFORCEMENT_FINE_TUNING",
                "rft": {"grader": {"python_source_key": "graders/grade.py"}},
            },
            "rft.grader.python_source_key 'graders/grade.py' must be under dataset_prefix",
        ),
    ],
)
def test_rft_options_fail_with_one_message(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        BedrockFineTuneOptions(**settings)


# -- catalog ---------------------------------------------------------------------------------


def test_catalog_records_its_check_date_and_nova_2_lite_rft() -> None:
    catalog = default_bedrock_catalog()
    assert catalog.checked_on == "2026-11-30"
    model, family, hyperparameters = resolve_base_model(rft_options())
    assert (model.model_id, family.family, hyperparameters) == (
        NOVA_2_LITE,
        "amazon-nova-2-lite",
        {},
    )
    assert family.record_formats == {RFT: "rft_prompts"}
    limits = family.limits[RFT]
    assert (limits.min_training_records, limits.max_training_records) == (100, 20000)


def test_only_nova_2_lite_is_cataloged_for_rft() -> None:
    catalog = default_bedrock_catalog()
    rft_models = [
        m.model_id for m in catalog if RFT in catalog.supported_types(m, catalog.family(m.family))
    ]
    assert rft_models == [NOVA_2_LITE]


def test_rft_on_a_model_without_rft_fails() -> None:
    options = BedrockFineTuneOptions(
        customization_type=RFT,
        rft=RftOptions(grader=GraderOptions(builtin=BuiltinGrader.EXACT_MATCH)),
    )
    with pytest.raises(ValueError, match="REINFORCEMENT_FINE_TUNING is not supported by base"):
        resolve_base_model(options)


@pytest.mark.parametrize(
    "model_id",
    [
        "amazon.titan-text-lite-v1:0:4k",
        "amazon.titan-text-express-v1:0:8k",
        "amazon.titan-text-premier-v1:0:32k",
    ],
)
def test_models_no_longer_listed_refuse_new_fine_tuning_jobs(model_id: str) -> None:
    with pytest.raises(ValueError, match=re.escape("no longer accepts new FINE_TUNING jobs")):
        resolve_base_model(BedrockFineTuneOptions(base_model_id=model_id))


def test_titan_text_continued_pre_training_still_resolves() -> None:
    options = BedrockFineTuneOptions(
        base_model_id="amazon.titan-text-express-v1:0:8k",
        customization_type=CustomizationType.CONTINUED_PRE_TRAINING,
    )
    assert resolve_base_model(options)[1].family == "amazon-titan-text"


# -- the construct ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rft_template() -> Template:
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake")
    BedrockFineTuneJob(
        stack,
        "Rft",
        data_lake=lake,
        options=BedrockFineTuneOptions(
            base_model_id=NOVA_2_LITE,
            customization_type=RFT,
            rft=RftOptions(
                grader=GraderOptions(builtin=BuiltinGrader.REGEX, pattern=r"answer: (\d+)")
            ),
        ),
    )
    BedrockFineTuneJob(
        stack,
        "RftPython",
        data_lake=lake,
        options=BedrockFineTuneOptions(
            base_model_id=NOVA_2_LITE,
            customization_type=RFT,
            job_name_prefix="rftpy",
            rft=RftOptions(grader=GraderOptions(python_source_key="finetune/graders/g.py")),
        ),
    )
    template = template_of(stack)
    assert not Annotations.from_stack(stack).find_error("*", Match.any_value())
    return template


def test_the_grader_function_carries_its_settings(rft_template: Template) -> None:
    rft_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "rft_grader.handler",
            "Environment": {
                "Variables": {
                    "GRADER_KIND": "regex",
                    "GRADER_PATTERN": r"answer: (\d+)",
                    "GRADER_CASE_SENSITIVE": "false",
                }
            },
        },
    )
    rft_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "rft_grader.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {"GRADER_KIND": "python", "GRADER_SOURCE_KEY": "finetune/graders/g.py"}
                )
            },
        },
    )


def test_the_bedrock_role_and_the_probe_may_invoke_the_grader(rft_template: Template) -> None:
    grader = next(
        k
        for k in rft_template.find_resources("AWS::Lambda::Function")
        if k.startswith("RftGrader") and "Probe" not in k
    )
    invoke = Match.object_like(
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [grader, "Arn"]},
        }
    )
    policies = rft_template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"PolicyDocument": {"Statement": Match.array_with([invoke])}}},
    )
    roles = sorted(p["Properties"]["Roles"][0]["Ref"] for p in policies.values())
    assert len(roles) == 2
    assert roles[0].startswith("RftBedrockRole")
    assert roles[1].startswith("RftGraderProbeRole")


def test_the_python_grader_reads_only_its_file(rft_template: Template) -> None:
    rft_template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "ReadGraderSource",
                                "Action": "s3:GetObject",
                                "Resource": {
                                    "Fn::Join": [
                                        "",
                                        Match.array_with(["/finetune/graders/g.py"]),
                                    ]
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_the_default_stack_still_has_no_grader() -> None:
    stack = cdk.Stack(cdk.App(), "Plain")
    BedrockFineTuneJob(stack, "FineTune", data_lake=TrainingDataLake(stack, "Lake"))
    handlers = [
        r["Properties"]["Handler"]
        for r in Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    ]
    assert "rft_grader.handler" not in handlers


def test_rft_runs_by_config_on_the_small_stack() -> None:
    """A config file's ``small_lora.bedrock_fine_tune`` turns RFT on, evaluated with the same
    gate; the stack synthesizes with zero unacknowledged nag findings."""
    config = parse_app_config(
        {
            "small_lora": {
                "bedrock_fine_tune": {
                    "base_model_id": NOVA_2_LITE,
                    "customization_type": "REINFORCEMENT_FINE_TUNING",
                    "rft": {
                        "grader": {"builtin": "json_schema", "json_schema": {"type": "object"}},
                        "hyperparameters": {"epoch_count": 3, "batch_size": 128},
                    },
                    "evaluation": {
                        "thresholds": {"min_scores": {"Builtin.Correctness": 0.5}},
                    },
                }
            }
        }
    )
    stack = SmallLoRAStack(new_app(), "RftSmall", config=config.small_lora)
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "rft_grader.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {"GRADER_KIND": "json_schema", "GRADER_JSON_SCHEMA": '{"type": "object"}'}
                )
            },
        },
    )
    definitions = [
        json.dumps(m["Properties"]["DefinitionString"])
        for m in template.find_resources("AWS::StepFunctions::StateMachine").values()
    ]
    rft = next(d for d in definitions if "REINFORCEMENT_FINE_TUNING" in d)
    for state in ("ProbeGrader", "GraderWorks?", "EvalProvisionThroughput"):
        assert state in rft, state


def test_the_synthesized_rft_workflow_passes_its_rule(rft_template: Template) -> None:
    from cdk_llm_training.checks import RULES_BY_ID, check_template

    template = rft_template.to_json()
    assert check_template(template, [RULES_BY_ID["LLM-RFT1"]]) == []
    # and the rule sees the job: without the role's grant it fires
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if s.get("Sid") != "InvokeGrader"]
    assert len(check_template(template, [RULES_BY_ID["LLM-RFT1"]])) == 2
