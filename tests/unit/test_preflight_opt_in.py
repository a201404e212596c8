"""Preflight checks of the opt-in workflows (EMR Serverless curation, Bedrock batch inference
for synthetic data, the evaluation's custom model inference route), offline (botocore
Stubber: every stubbed Service Quotas response is validated against the service model)."""

from __future__ import annotations

from typing import Any

from preflight_support import ACCOUNT, REGION, StubbedAccount, identity, quota

from cdk_llm_training.config.catalogs.custom_model_deployment import EvaluationInference
from cdk_llm_training.config.tiers import AppConfig, parse_app_config
from cdk_llm_training.config.vocabulary import Tier
from cdk_llm_training.tools.preflight._aws import Context
from cdk_llm_training.tools.preflight.bedrock_quotas import (
    BATCH_CHECK,
    EVALUATION_CHECK,
    NO_COMMITMENT_UNITS,
    check_bedrock_batch,
    check_evaluation_inference,
    resolved_route,
)
from cdk_llm_training.tools.preflight.emr_serverless import (
    CHECK as EMR_CHECK,
)
from cdk_llm_training.tools.preflight.emr_serverless import (
    VCPU_QUOTA_NAME,
    check_emr_serverless,
)
from cdk_llm_training.tools.preflight.model import Status
from cdk_llm_training.tools.preflight.requirements import (
    BedrockBatchNeed,
    CustomModelInferenceNeed,
    EmrServerlessNeed,
    SageMakerUsage,
    derive_needs,
)
from cdk_llm_training.tools.preflight.runner import run_preflight

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"


def _quotas(account: StubbedAccount, service: str, *quotas: dict[str, Any]) -> None:
    account.respond(
        "service-quotas", "list_service_quotas", {"Quotas": list(quotas)}, ServiceCode=service
    )


def _batch_quotas(account: StubbedAccount, *quotas: dict[str, Any]) -> None:
    account.respond(
        "service-quotas",
        "list_service_quotas",
        {"Quotas": list(quotas)},
        ServiceCode="bedrock",
        MaxResults=100,
    )


# --- requirements ----------------------------------------------------------------------


def test_a_config_that_enables_nothing_adds_no_new_needs() -> None:
    needs = derive_needs(AppConfig(), tuple(Tier))
    assert needs.emr_serverless == []
    assert needs.bedrock_batch == []
    assert needs.custom_model_inference == []
    context = StubbedAccount().context()
    assert check_emr_serverless(context, needs.emr_serverless) == []
    assert check_bedrock_batch(context, needs.bedrock_batch) == []
    assert check_evaluation_inference(context, needs.custom_model_inference) == []


def test_enabled_workflows_add_their_needs_with_field_names() -> None:
    config = parse_app_config(
        {
            "stacks": ["SmallLoRAStack", "MediumFineTuneStack"],
            "small_lora": {
                "bedrock_fine_tune": {"evaluation": {"evaluation_inference": "provisioned"}},
                "data_pipeline": {
                    "curation": {"engine": "emr-serverless", "emr": {"maximum_vcpu": 48}},
                    "synthetic": {"output": "preference", "judge_model_id": "amazon.nova-pro-v1:0"},
                },
            },
            "medium_fine_tune": {"data_pipeline": {"curation": True}},
        }
    )
    needs = derive_needs(config, config.stacks)
    assert needs.emr_serverless == [
        EmrServerlessNeed(48, "small_lora.data_pipeline.curation.emr.maximum_vcpu")
    ]
    assert [(n.model_id, n.quota_model_name, n.source) for n in needs.bedrock_batch] == [
        (HAIKU, "Claude 3 Haiku", "small_lora.data_pipeline.synthetic.teacher_model_id"),
        (
            "amazon.nova-pro-v1:0",
            "Nova Pro V1",
            "small_lora.data_pipeline.synthetic.judge_model_id",
        ),
    ]
    assert needs.custom_model_inference == [
        CustomModelInferenceNeed(
            NOVA_MICRO,
            EvaluationInference.PROVISIONED,
            1,
            "small_lora.bedrock_fine_tune.evaluation.evaluation_inference",
        )
    ]
    processing = [q for q in needs.sagemaker_quotas if q.usage is SageMakerUsage.PROCESSING]
    assert [(q.instance_type, q.source) for q in processing] == [
        ("ml.m5.xlarge", "medium_fine_tune.data_pipeline.curation.instance_type")
    ]


def test_sft_synthetic_data_runs_no_judge_batch_job() -> None:
    config = parse_app_config({"small_lora": {"data_pipeline": {"synthetic": True}}})
    needs = derive_needs(config, (Tier.SMALL_LORA,))
    assert [n.model_id for n in needs.bedrock_batch] == [HAIKU]


# --- EMR Serverless --------------------------------------------------------------------

_EMR = [EmrServerlessNeed(64, "small_lora.data_pipeline.curation.emr.maximum_vcpu")]


def _emr_quota(value: float) -> dict[str, Any]:
    return quota("emr-serverless", "L-D05C8A75", VCPU_QUOTA_NAME, value)


def test_emr_quota_at_the_maximum_capacity_passes() -> None:
    account = StubbedAccount()
    _quotas(account, "emr-serverless", _emr_quota(64))
    [finding] = check_emr_serverless(account.context(), _EMR)
    assert finding.status is Status.PASS
    assert finding.source == _EMR[0].source
    account.assert_done()


def test_emr_quota_below_the_maximum_capacity_warns() -> None:
    account = StubbedAccount()
    _quotas(account, "emr-serverless", _emr_quota(16))
    [finding] = check_emr_serverless(account.context(), _EMR)
    assert finding.status is Status.WARNING
    assert "quota 16 vCPUs, maximum capacity 64 vCPUs" in finding.detail
    assert "--quota-code L-D05C8A75 --desired-value 64" in finding.fix


def test_emr_quota_below_one_job_blocks() -> None:
    account = StubbedAccount()
    _quotas(account, "emr-serverless", _emr_quota(4))
    [finding] = check_emr_serverless(account.context(), _EMR)
    assert finding.status is Status.BLOCKER


def test_emr_quota_missing_falls_back_to_defaults_then_warns() -> None:
    account = StubbedAccount()
    _quotas(account, "emr-serverless")
    account.respond(
        "service-quotas",
        "list_aws_default_service_quotas",
        {"Quotas": []},
        ServiceCode="emr-serverless",
    )
    [finding] = check_emr_serverless(account.context(), _EMR)
    assert finding.status is Status.WARNING
    assert "quota not found" in finding.detail
    account.assert_done()


def test_emr_quota_access_denied_is_a_warning_naming_the_permission() -> None:
    account = StubbedAccount()
    account.fail("service-quotas", "list_service_quotas", "AccessDeniedException")
    [finding] = check_emr_serverless(account.context(), _EMR)
    assert finding.status is Status.WARNING
    assert "servicequotas:ListServiceQuotas" in finding.fix


# --- Bedrock batch ---------------------------------------------------------------------

_TEACHER = BedrockBatchNeed(HAIKU, "Claude 3 Haiku", 500, "small_lora.data_pipeline.synthetic")


def test_batch_limits_found_by_name_pass() -> None:
    account = StubbedAccount()
    _batch_quotas(
        account,
        quota(
            "bedrock",
            "L-1111AAAA",
            "Minimum number of records per batch inference job for Claude 3 Haiku",
            100,
        ),
        quota(
            "bedrock", "L-2222BBBB", "Records per batch inference job for Claude 3 Haiku", 50_000
        ),
    )
    [finding] = check_bedrock_batch(account.context(), [_TEACHER, _TEACHER])
    assert finding.status is Status.PASS
    assert finding.detail == "max_records 50000, min_records 100"
    account.assert_done()


def test_batch_minimum_over_max_records_blocks() -> None:
    account = StubbedAccount()
    _batch_quotas(
        account,
        quota(
            "bedrock",
            "L-1111AAAA",
            "Minimum number of records per batch inference job for Claude 3 Haiku",
            1000,
        ),
    )
    [finding] = check_bedrock_batch(account.context(), [_TEACHER])
    assert finding.status is Status.BLOCKER
    assert "max_records 500" in finding.detail
    assert finding.fix == "raise synthetic.max_records to at least 1000"


def test_batch_quota_names_not_found_warn() -> None:
    account = StubbedAccount()
    _batch_quotas(account)
    [finding] = check_bedrock_batch(account.context(), [_TEACHER])
    assert finding.status is Status.WARNING
    assert "falls back to the configured limits" in finding.detail


def test_batch_model_without_a_quota_name_warns() -> None:
    account = StubbedAccount()
    _batch_quotas(account)
    need = BedrockBatchNeed("meta.llama3-2-1b-instruct-v1:0", None, 500, "x.synthetic")
    [finding] = check_bedrock_batch(account.context(), [need])
    assert finding.status is Status.WARNING
    assert "quota_model_names" in finding.fix


# --- evaluation inference --------------------------------------------------------------


def _evaluation(model: str, route: EvaluationInference, units: int = 1) -> CustomModelInferenceNeed:
    return CustomModelInferenceNeed(model, route, units, "small_lora.bedrock_fine_tune.evaluation")


def test_auto_route_resolves_by_model_and_region() -> None:
    auto = EvaluationInference.AUTO
    assert (
        resolved_route(_evaluation(NOVA_MICRO, auto), "us-east-1") is EvaluationInference.ON_DEMAND
    )
    assert resolved_route(_evaluation(NOVA_MICRO, auto), "eu-west-1") is (
        EvaluationInference.PROVISIONED
    )
    assert resolved_route(_evaluation(LLAMA, auto), "us-east-1") is EvaluationInference.PROVISIONED


def test_provisioned_route_with_model_units_passes() -> None:
    account = StubbedAccount()
    _quotas(account, "bedrock", quota("bedrock", "L-BE77399C", NO_COMMITMENT_UNITS, 2))
    [finding] = check_evaluation_inference(
        account.context(), [_evaluation(LLAMA, EvaluationInference.AUTO, 2)]
    )
    assert finding.status is Status.PASS
    assert "(provisioned)" in finding.subject
    account.assert_done()


def test_provisioned_route_without_model_units_blocks() -> None:
    account = StubbedAccount()
    _quotas(account, "bedrock", quota("bedrock", "L-BE77399C", NO_COMMITMENT_UNITS, 0))
    [finding] = check_evaluation_inference(
        account.context(), [_evaluation(NOVA_MICRO, EvaluationInference.PROVISIONED)]
    )
    assert finding.status is Status.BLOCKER
    assert "--quota-code L-BE77399C --desired-value 1" in finding.fix


def test_on_demand_route_in_an_unsupported_region_blocks_without_a_call() -> None:
    account = StubbedAccount()
    context = Context(clients=account, account=ACCOUNT, region="eu-west-1")
    [finding] = check_evaluation_inference(
        context, [_evaluation(NOVA_MICRO, EvaluationInference.ON_DEMAND)]
    )
    assert finding.status is Status.BLOCKER
    assert "us-east-1, us-west-2" in finding.detail
    assert finding.source == "small_lora.bedrock_fine_tune.evaluation"


def test_auto_route_with_algorithmic_metrics_takes_provisioned_throughput() -> None:
    need = CustomModelInferenceNeed(
        NOVA_MICRO, EvaluationInference.AUTO, 1, "x.evaluation", algorithmic_metrics=True
    )
    assert resolved_route(need, "us-east-1") is EvaluationInference.PROVISIONED


def test_on_demand_route_with_an_empty_deployment_quota_blocks() -> None:
    account = StubbedAccount()
    _quotas(
        account,
        "bedrock",
        quota("bedrock", "L-CCCC3333", "Custom model deployments per account", 0),
    )
    [finding] = check_evaluation_inference(
        account.context(), [_evaluation(NOVA_MICRO, EvaluationInference.AUTO)]
    )
    assert finding.status is Status.BLOCKER
    assert "(on-demand)" in finding.subject


def test_on_demand_route_without_a_deployment_quota_warns() -> None:
    account = StubbedAccount()
    _quotas(account, "bedrock", quota("bedrock", "L-BE77399C", NO_COMMITMENT_UNITS, 0))
    [finding] = check_evaluation_inference(
        account.context(), [_evaluation(NOVA_MICRO, EvaluationInference.ON_DEMAND)]
    )
    assert finding.status is Status.WARNING
    assert "unverified" in finding.detail


# --- the whole run ---------------------------------------------------------------------


def test_the_run_reports_the_new_checks_in_order() -> None:
    """Only STS is stubbed: every other call fails as unstubbed, which the checks turn into
    'not checked' warnings, so the run completes and shows where each family lands."""
    config = parse_app_config(
        {
            "stacks": ["SmallLoRAStack"],
            "small_lora": {
                "bedrock_fine_tune": {"evaluation": {"evaluation_inference": "provisioned"}},
                "data_pipeline": {"curation": {"engine": "emr-serverless"}, "synthetic": True},
            },
        }
    )
    account = StubbedAccount()
    account.respond("sts", "get_caller_identity", identity())
    report = run_preflight(config, config.stacks, clients=account, region=REGION)
    checks = [f.check for f in report.findings]
    for family in (EMR_CHECK, EVALUATION_CHECK, BATCH_CHECK):
        assert family in checks
    assert (
        checks.index("sagemaker-quota") < checks.index(EMR_CHECK) < checks.index("bedrock-access")
    )
    assert checks.index("bedrock-access") < checks.index(EVALUATION_CHECK)
    assert checks.index(EVALUATION_CHECK) < checks.index(BATCH_CHECK)
