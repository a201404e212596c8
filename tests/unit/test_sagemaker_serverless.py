"""SageMakerServerlessCustomization: options against the botocore model, the synthesized
workflow (AWS SDK integration, polling, no .sync rule) and its grants."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest
from aws_cdk.assertions import Match, Template
from cdk_support import new_app, new_stack, template_of
from pydantic import ValidationError

from cdk_llm_training import SageMakerServerlessCustomization, SmallLoRAStack, TrainingDataLake
from cdk_llm_training.config import (
    CustomizationTechnique,
    SageMakerServerlessOptions,
    parse_app_config,
)
from cdk_llm_training.config.sagemaker_serverless_customization import HUB_CONTENT_ARN

BASE = (
    "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/"
    "huggingface-reasoning-qwen3-8b"
)


def _shape(name: str) -> Any:
    return botocore.session.get_session().get_service_model("sagemaker").shape_for(name)


def test_enums_are_the_api_models() -> None:
    assert {t.value for t in CustomizationTechnique} == set(_shape("CustomizationTechnique").enum)
    assert set(_shape("ServerlessJobType").enum) == {"FineTuning", "Evaluation"}
    assert _shape("Peft").enum == ["LORA"]
    assert set(_shape("ServerlessJobConfig").required_members) == {"BaseModelArn", "JobType"}


@pytest.mark.parametrize(
    "arn",
    [BASE, f"{BASE}/1.2.3", "arn:aws:sagemaker:eu-west-1:123456789012:hub-content/my-hub/Model/m"],
)
def test_hub_content_arns_match_the_api_pattern(arn: str) -> None:
    api = re.compile(_shape("ServerlessJobBaseModelArn").metadata["pattern"])
    assert api.match(arn)
    assert HUB_CONTENT_ARN.match(arn)
    SageMakerServerlessOptions(base_model_arn=arn)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"base_model_arn": "meta-llama-3"}, "must be a SageMaker hub-content model ARN"),
        ({"technique": "RLVR"}, "technique RLVR needs evaluator_arn"),
        ({"technique": "RLAIF"}, "technique RLAIF needs evaluator_arn"),
        ({"evaluator_arn": "arn:aws:lambda:us-east-1:123456789012:function:f"}, "RLVR and RLAIF"),
        ({"sequence_length": "8k"}, "sequence_length"),
    ],
)
def test_options_fail_with_one_message(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        SageMakerServerlessOptions(**{"base_model_arn": BASE, **settings})


@pytest.fixture(scope="module")
def template() -> Template:
    stack = new_stack()
    SageMakerServerlessCustomization(
        stack,
        "Serverless",
        data_lake=TrainingDataLake(stack, "Lake"),
        options=SageMakerServerlessOptions(
            base_model_arn=BASE, technique=CustomizationTechnique.DPO, sequence_length="8K"
        ),
    )
    return template_of(stack)  # nag-checked: zero unacknowledged findings


def test_the_job_is_started_with_the_sdk_integration_and_polled(template: Template) -> None:
    machine = next(iter(template.find_resources("AWS::StepFunctions::StateMachine").values()))
    text = json.dumps(machine["Properties"]["DefinitionString"])
    assert "states:::aws-sdk:sagemaker:createTrainingJob" in text
    assert "states:::aws-sdk:sagemaker:describeTrainingJob" in text
    assert "createTrainingJob.sync" not in text
    for member in ('\\"CustomizationTechnique\\":\\"DPO\\"', '\\"SequenceLength\\":\\"8K\\"'):
        assert member in text


def test_no_sync_rule_grant_and_the_model_group_exists(template: Template) -> None:
    template.resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)
    for policy in template.find_resources("AWS::IAM::Policy").values():
        sids = [s.get("Sid") for s in policy["Properties"]["PolicyDocument"]["Statement"]]
        assert "ManageSyncEventsRule" not in sids
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with([Match.object_like({"Sid": "RegisterModels"})])
            }
        },
    )


def test_serverless_runs_by_config_on_the_small_stack() -> None:
    config = parse_app_config(
        {
            "small_lora": {
                "sagemaker_serverless": {
                    "base_model_arn": BASE,
                    "technique": "RLVR",
                    "evaluator_arn": "arn:aws:lambda:us-east-1:123456789012:function:reward",
                }
            }
        }
    )
    stack = SmallLoRAStack(new_app(), "ServerlessSmall", config=config.small_lora)
    template = template_of(stack)
    assert stack.sagemaker_serverless is not None
    template.has_output("ServerlessStateMachineArn", {})
    template.resource_count_is("AWS::SageMaker::ModelPackageGroup", 2)
