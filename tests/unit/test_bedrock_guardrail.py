"""BedrockGuardrail: defaults, options, grants, version, validation failures."""

from __future__ import annotations

import re

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import BedrockGuardrail, GuardrailOptions
from cdk_llm_training.config.bedrock_guardrail import (
    ContentFilter,
    ContentFilterType,
    DeniedTopic,
    FilterStrength,
    PiiAction,
    PiiEntity,
)

EXAMPLE_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def default_build() -> tuple[Template, BedrockGuardrail]:
    stack = new_stack()
    guardrail = BedrockGuardrail(stack, "Guardrail")
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    guardrail.grant_apply(role)
    return template_of(stack), guardrail


@pytest.fixture(scope="module")
def full_template() -> Template:
    stack = new_stack()
    key = kms.Key.from_key_arn(stack, "Key", EXAMPLE_KEY)
    guardrail = BedrockGuardrail(
        stack,
        "Guardrail",
        key=key,
        options=GuardrailOptions(
            name="support-bot",
            content_filters=(
                ContentFilter(type=ContentFilterType.HATE, output_strength=FilterStrength.MEDIUM),
            ),
            pii_entities=(PiiEntity(type="EMAIL", action=PiiAction.BLOCK),),
            denied_topics=(
                DeniedTopic(
                    name="Investment advice",
                    definition="Recommendations about buying or selling financial products.",
                    examples=("Should I buy this stock?",),
                ),
            ),
            blocked_words=("project-zeus",),
            profanity_filter=True,
        ),
    )
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    guardrail.grant_apply(role)
    return template_of(stack)


def test_default_content_filters_include_prompt_attack_on_input_only(
    default_build: tuple[Template, BedrockGuardrail],
) -> None:
    template, _ = default_build
    guardrail = next(iter(resources_of_type(template, "AWS::Bedrock::Guardrail").values()))
    filters = guardrail["Properties"]["ContentPolicyConfig"]["FiltersConfig"]
    assert {f["Type"]: (f["InputStrength"], f["OutputStrength"]) for f in filters} == {
        "SEXUAL": ("HIGH", "HIGH"),
        "VIOLENCE": ("HIGH", "HIGH"),
        "HATE": ("HIGH", "HIGH"),
        "INSULTS": ("HIGH", "HIGH"),
        "MISCONDUCT": ("HIGH", "HIGH"),
        "PROMPT_ATTACK": ("HIGH", "NONE"),
    }


def test_default_pii_anonymizes_contacts_and_blocks_secrets(
    default_build: tuple[Template, BedrockGuardrail],
) -> None:
    template, _ = default_build
    guardrail = next(iter(resources_of_type(template, "AWS::Bedrock::Guardrail").values()))
    pii = guardrail["Properties"]["SensitiveInformationPolicyConfig"]["PiiEntitiesConfig"]
    actions = {p["Type"]: p["Action"] for p in pii}
    assert actions["EMAIL"] == "ANONYMIZE"
    assert actions["AWS_SECRET_KEY"] == "BLOCK"
    assert actions["CREDIT_DEBIT_CARD_NUMBER"] == "BLOCK"
    props = guardrail["Properties"]
    assert "TopicPolicyConfig" not in props
    assert "WordPolicyConfig" not in props
    assert "KmsKeyArn" not in props
    assert props["BlockedInputMessaging"] == "Sorry, this request cannot be processed."
    assert len(props["Name"]) <= 50


def test_default_version_references_guardrail_and_carries_config_hash(
    default_build: tuple[Template, BedrockGuardrail],
) -> None:
    template, guardrail = default_build
    guardrail_id = next(iter(resources_of_type(template, "AWS::Bedrock::Guardrail")))
    template.has_resource_properties(
        "AWS::Bedrock::GuardrailVersion",
        {
            "GuardrailIdentifier": {"Fn::GetAtt": [guardrail_id, "GuardrailId"]},
            "Description": (
                f"Published by cdk-llm-training (configuration {guardrail.config_digest})."
            ),
        },
    )


def test_grant_apply(default_build: tuple[Template, BedrockGuardrail]) -> None:
    template, _ = default_build
    guardrail_id = next(iter(resources_of_type(template, "AWS::Bedrock::Guardrail")))
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "bedrock:ApplyGuardrail",
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": [guardrail_id, "GuardrailArn"]},
                    }
                ]
            }
        },
    )


def test_default_is_cfn_lint_clean(default_build: tuple[Template, BedrockGuardrail]) -> None:
    assert cfn_lint_findings(default_build[0].to_json()) == []


def test_full_options(full_template: Template) -> None:
    full_template.has_resource_properties(
        "AWS::Bedrock::Guardrail",
        {
            "Name": "support-bot",
            "KmsKeyArn": EXAMPLE_KEY,
            "ContentPolicyConfig": {
                "FiltersConfig": [
                    {"Type": "HATE", "InputStrength": "HIGH", "OutputStrength": "MEDIUM"}
                ]
            },
            "SensitiveInformationPolicyConfig": {
                "PiiEntitiesConfig": [{"Type": "EMAIL", "Action": "BLOCK"}]
            },
            "TopicPolicyConfig": {
                "TopicsConfig": [
                    {
                        "Name": "Investment advice",
                        "Type": "DENY",
                        "Examples": ["Should I buy this stock?"],
                        "Definition": Match.any_value(),
                    }
                ]
            },
            "WordPolicyConfig": {
                "WordsConfig": [{"Text": "project-zeus"}],
                "ManagedWordListsConfig": [{"Type": "PROFANITY"}],
            },
        },
    )
    full_template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "kms:Decrypt", "Resource": EXAMPLE_KEY})]
                )
            }
        },
    )
    assert cfn_lint_findings(full_template.to_json()) == []


def test_fails_prompt_attack_output_filter() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("PROMPT_ATTACK output_strength is HIGH; allowed: NONE")
    ):
        ContentFilter(type=ContentFilterType.PROMPT_ATTACK)


def test_fails_duplicate_pii_entity() -> None:
    with pytest.raises(ValidationError, match=re.escape("pii_entities lists EMAIL more than once")):
        GuardrailOptions(pii_entities=(PiiEntity(type="EMAIL"), PiiEntity(type="EMAIL")))


def test_fails_no_policy() -> None:
    with pytest.raises(ValidationError, match=re.escape("a guardrail needs at least one policy")):
        GuardrailOptions(content_filters=(), pii_entities=())
