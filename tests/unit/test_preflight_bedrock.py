"""Bedrock model-access checks of preflight, offline (botocore Stubber)."""

from __future__ import annotations

import pytest
from preflight_support import StubbedAccount, availability, model_summary

from cdk_llm_training.tools.preflight.bedrock import check_bedrock_models, foundation_model_id
from cdk_llm_training.tools.preflight.model import Status
from cdk_llm_training.tools.preflight.requirements import BedrockModelNeed, ModelRole

BASE = BedrockModelNeed(
    "amazon.nova-micro-v1:0:128k",
    ModelRole.BASE,
    "small_lora.bedrock_fine_tune.base_model_id",
    "FINE_TUNING",
)
JUDGE = BedrockModelNeed(
    "anthropic.claude-3-5-sonnet-20240620-v1:0", ModelRole.JUDGE, "evaluation.judge_model_id"
)


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("amazon.nova-micro-v1:0:128k", "amazon.nova-micro-v1:0"),
        ("us.amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0"),
        (
            "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
        ("meta.llama3-1-8b-instruct-v1:0", "meta.llama3-1-8b-instruct-v1:0"),
        ("arn:aws:bedrock:us-east-1:111122223333:inference-profile/x", None),
    ],
)
def test_foundation_model_id(model_id: str, expected: str | None) -> None:
    assert foundation_model_id(model_id) == expected


def _base_account(**kwargs: str) -> StubbedAccount:
    account = StubbedAccount()
    account.respond(
        "bedrock",
        "get_foundation_model_availability",
        availability("amazon.nova-micro-v1:0", **kwargs),
        modelId="amazon.nova-micro-v1:0",
    )
    return account


def test_accessible_customizable_base_model_passes() -> None:
    account = _base_account()
    account.respond(
        "bedrock",
        "list_foundation_models",
        {"modelSummaries": [model_summary("amazon.nova-micro-v1:0:128k", ["FINE_TUNING"])]},
        byCustomizationType="FINE_TUNING",
    )
    [finding] = check_bedrock_models(account.context(), [BASE])
    assert finding.status is Status.PASS
    assert finding.source == BASE.source
    account.assert_done()


def test_base_model_not_customizable_in_the_region_is_a_blocker() -> None:
    account = _base_account()
    account.respond("bedrock", "list_foundation_models", {"modelSummaries": []})
    [finding] = check_bedrock_models(account.context(), [BASE])
    assert finding.status is Status.BLOCKER
    assert "not customizable with FINE_TUNING" in finding.detail
    assert "--by-customization-type FINE_TUNING" in finding.fix


def test_model_without_entitlement_is_a_blocker_pointing_to_model_access() -> None:
    account = _base_account(entitlement="NOT_AVAILABLE")
    [finding] = check_bedrock_models(account.context(), [BASE])
    assert finding.status is Status.BLOCKER
    assert "no access" in finding.detail
    assert "#/modelaccess" in finding.fix
    account.assert_done()


def test_unauthorized_model_is_a_blocker() -> None:
    account = _base_account(authorization="NOT_AUTHORIZED")
    [finding] = check_bedrock_models(account.context(), [BASE])
    assert finding.status is Status.BLOCKER


def test_model_not_in_the_region_is_a_blocker() -> None:
    account = _base_account(region="NOT_AVAILABLE")
    [finding] = check_bedrock_models(account.context(), [BASE])
    assert finding.status is Status.BLOCKER
    assert "not available in us-east-1" in finding.detail


def test_unknown_model_id_is_a_blocker() -> None:
    account = StubbedAccount()
    account.fail(
        "bedrock", "get_foundation_model_availability", "ResourceNotFoundException", "", status=404
    )
    [finding] = check_bedrock_models(account.context(), [JUDGE])
    assert finding.status is Status.BLOCKER
    assert "no foundation model" in finding.detail


def test_failed_agreement_is_a_blocker_and_pending_one_a_warning() -> None:
    account = StubbedAccount()
    judge_id = JUDGE.model_id
    account.respond(
        "bedrock", "get_foundation_model_availability", availability(judge_id, agreement="ERROR")
    )
    account.respond(
        "bedrock", "get_foundation_model_availability", availability(judge_id, agreement="PENDING")
    )
    [failed] = check_bedrock_models(account.context(), [JUDGE])
    [pending] = check_bedrock_models(account.context(), [JUDGE])
    assert failed.status is Status.BLOCKER
    assert pending.status is Status.WARNING
    assert "agreement PENDING" in pending.detail


def test_judge_with_access_passes_without_a_customization_lookup() -> None:
    account = StubbedAccount()
    account.respond(
        "bedrock",
        "get_foundation_model_availability",
        availability(JUDGE.model_id),
        modelId=JUDGE.model_id,
    )
    [finding] = check_bedrock_models(account.context(), [JUDGE])
    assert finding.status is Status.PASS
    account.assert_done()


def test_an_arn_is_reported_as_not_checked() -> None:
    need = BedrockModelNeed(
        "arn:aws:bedrock:us-east-1:111122223333:inference-profile/abc", ModelRole.JUDGE, "x"
    )
    [finding] = check_bedrock_models(StubbedAccount().context(), [need])
    assert finding.status is Status.WARNING
    assert "not checked" in finding.detail


def test_access_denied_is_a_warning_naming_the_permission() -> None:
    account = StubbedAccount()
    account.fail(
        "bedrock", "get_foundation_model_availability", "AccessDeniedException", "no", status=403
    )
    [finding] = check_bedrock_models(account.context(), [JUDGE])
    assert finding.status is Status.WARNING
    assert "bedrock:GetFoundationModelAvailability" in finding.fix
