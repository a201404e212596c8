"""SageMaker and EC2 quota checks of preflight, offline (botocore Stubber)."""

from __future__ import annotations

import pytest
from preflight_support import StubbedAccount, quota

from cdk_llm_training.config.trainium_parallel_cluster import QueueCapacityType
from cdk_llm_training.tools.preflight.model import Status
from cdk_llm_training.tools.preflight.quotas import (
    QuotaBook,
    check_ec2_quotas,
    check_sagemaker_quotas,
    ec2_quota_name,
)
from cdk_llm_training.tools.preflight.requirements import (
    Ec2InstanceNeed,
    SageMakerQuotaNeed,
    SageMakerUsage,
)

P5_CLUSTER = "ml.p5.48xlarge for cluster usage"


def _hyperpod_need(count: int = 2) -> SageMakerQuotaNeed:
    return SageMakerQuotaNeed(
        "ml.p5.48xlarge", SageMakerUsage.CLUSTER, count, "medium_fine_tune.hyperpod"
    )


def test_quota_names_follow_the_sagemaker_naming() -> None:
    assert SageMakerUsage.CLUSTER.quota_name("ml.p5.48xlarge") == P5_CLUSTER
    assert (
        SageMakerUsage.SPOT_TRAINING.quota_name("ml.g5.2xlarge")
        == "ml.g5.2xlarge for spot training job usage"
    )
    assert (
        SageMakerUsage.TRAINING.quota_name("ml.g5.2xlarge")
        == "ml.g5.2xlarge for training job usage"
    )
    assert (
        SageMakerUsage.PROCESSING.quota_name("ml.m5.large")
        == "ml.m5.large for processing job usage"
    )


def test_sagemaker_quota_at_or_above_the_count_passes() -> None:
    account = StubbedAccount()
    account.respond(
        "service-quotas",
        "list_service_quotas",
        {"Quotas": [quota("sagemaker", "L-AAAA1111", P5_CLUSTER, 2)]},
        ServiceCode="sagemaker",
    )
    [finding] = check_sagemaker_quotas(account.context(), [_hyperpod_need(2)])
    assert finding.status is Status.PASS
    assert finding.subject == P5_CLUSTER
    account.assert_done()


def test_sagemaker_quota_below_the_count_is_a_blocker_with_the_request() -> None:
    account = StubbedAccount()
    account.respond(
        "service-quotas",
        "list_service_quotas",
        {"Quotas": [quota("sagemaker", "L-AAAA1111", P5_CLUSTER, 0)]},
    )
    [finding] = check_sagemaker_quotas(account.context(), [_hyperpod_need(2)])
    assert finding.status is Status.BLOCKER
    assert "quota 0, config runs 2" in finding.detail
    assert f"'{P5_CLUSTER}' (L-AAAA1111) = 2 in us-east-1" in finding.fix
    assert "--quota-code L-AAAA1111 --desired-value 2" in finding.fix
    assert "servicequotas/home/services/sagemaker/quotas/L-AAAA1111" in finding.fix


def test_a_quota_that_deploys_but_cannot_scale_to_the_maximum_is_a_warning() -> None:
    account = StubbedAccount()
    account.respond(
        "service-quotas",
        "list_service_quotas",
        {"Quotas": [quota("sagemaker", "L-AAAA1111", P5_CLUSTER, 0)]},
    )
    need = SageMakerQuotaNeed("ml.p5.48xlarge", SageMakerUsage.CLUSTER, 0, "x", max_count=2)
    [finding] = check_sagemaker_quotas(account.context(), [need])
    assert finding.status is Status.WARNING
    assert "quota 0, config runs 0 and scales up to 2" in finding.detail
    assert "--quota-code L-AAAA1111 --desired-value 2" in finding.fix


def test_counts_of_the_same_quota_add_up_across_stacks() -> None:
    account = StubbedAccount()
    account.respond(
        "service-quotas",
        "list_service_quotas",
        {"Quotas": [quota("sagemaker", "L-AAAA1111", P5_CLUSTER, 16)]},
    )
    needs = [_hyperpod_need(2), _hyperpod_need(16)]
    [finding] = check_sagemaker_quotas(account.context(), needs)
    assert finding.status is Status.BLOCKER
    assert "config runs 18" in finding.detail


def test_a_quota_missing_from_the_applied_list_is_read_from_the_defaults() -> None:
    account = StubbedAccount()
    name = "ml.g5.2xlarge for spot training job usage"
    account.respond("service-quotas", "list_service_quotas", {"Quotas": []})
    account.respond(
        "service-quotas",
        "list_aws_default_service_quotas",
        {"Quotas": [quota("sagemaker", "L-BBBB2222", name, 0)]},
        ServiceCode="sagemaker",
    )
    need = SageMakerQuotaNeed("ml.g5.2xlarge", SageMakerUsage.SPOT_TRAINING, 1, "x")
    [finding] = check_sagemaker_quotas(account.context(), [need])
    assert finding.status is Status.BLOCKER
    assert "L-BBBB2222" in finding.fix
    account.assert_done()


def test_an_unknown_sagemaker_quota_is_a_warning() -> None:
    account = StubbedAccount()
    account.respond("service-quotas", "list_service_quotas", {"Quotas": []})
    account.respond("service-quotas", "list_aws_default_service_quotas", {"Quotas": []})
    [finding] = check_sagemaker_quotas(account.context(), [_hyperpod_need()])
    assert finding.status is Status.WARNING
    assert "no SageMaker quota of this name" in finding.detail


def test_access_denied_is_a_warning_naming_the_permission() -> None:
    account = StubbedAccount()
    account.fail("service-quotas", "list_service_quotas", "AccessDeniedException", "denied")
    [finding] = check_sagemaker_quotas(account.context(), [_hyperpod_need()])
    assert finding.status is Status.WARNING
    assert "AccessDeniedException" in finding.detail
    assert "servicequotas:ListServiceQuotas" in finding.fix


@pytest.mark.parametrize(
    ("instance_type", "capacity", "name"),
    [
        ("trn1.32xlarge", QueueCapacityType.ONDEMAND, "Running On-Demand Trn instances"),
        ("trn2.48xlarge", QueueCapacityType.SPOT, "All Trn Spot Instance Requests"),
        (
            "c7i.4xlarge",
            QueueCapacityType.ONDEMAND,
            "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
        ),
        ("p5.48xlarge", QueueCapacityType.ONDEMAND, "Running On-Demand P instances"),
        ("g5.2xlarge", QueueCapacityType.SPOT, "All G and VT Spot Instance Requests"),
        ("inf2.xlarge", QueueCapacityType.ONDEMAND, "Running On-Demand Inf instances"),
        (
            "u7i-12tb.224xlarge",
            QueueCapacityType.ONDEMAND,
            "Running On-Demand High Memory instances",
        ),
        ("u-6tb1.metal", QueueCapacityType.ONDEMAND, "Running On-Demand High Memory instances"),
        ("mac2.metal", QueueCapacityType.ONDEMAND, None),
    ],
)
def test_ec2_quota_name_by_family(
    instance_type: str, capacity: QueueCapacityType, name: str | None
) -> None:
    assert ec2_quota_name(instance_type, capacity) == name


TRN = "Running On-Demand Trn instances"
STANDARD = "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"


def _cluster_needs(min_count: int = 0, max_count: int = 16) -> list[Ec2InstanceNeed]:
    return [
        Ec2InstanceNeed("c7i.4xlarge", 1, 1, QueueCapacityType.ONDEMAND, "head", "use1-az4"),
        Ec2InstanceNeed(
            "trn1.32xlarge", min_count, max_count, QueueCapacityType.ONDEMAND, "queue", "use1-az4"
        ),
    ]


def _ec2_account(trn_vcpus: float, standard_vcpus: float = 640) -> StubbedAccount:
    account = StubbedAccount()
    account.respond(
        "ec2",
        "describe_instance_types",
        {
            "InstanceTypes": [
                {"InstanceType": "c7i.4xlarge", "VCpuInfo": {"DefaultVCpus": 16}},
                {"InstanceType": "trn1.32xlarge", "VCpuInfo": {"DefaultVCpus": 128}},
            ]
        },
        InstanceTypes=["c7i.4xlarge", "trn1.32xlarge"],
    )
    account.respond(
        "service-quotas",
        "list_service_quotas",
        {
            "Quotas": [
                quota("ec2", "L-1216C47A", STANDARD, standard_vcpus),
                quota("ec2", "L-2C3B7624", TRN, trn_vcpus),
            ]
        },
        ServiceCode="ec2",
    )
    return account


def test_quota_names_match_without_punctuation() -> None:
    account = StubbedAccount()
    account.respond(
        "service-quotas",
        "list_service_quotas",
        {
            "Quotas": [
                quota(
                    "ec2",
                    "L-34B43A08",
                    "All Standard (A C D H I M R T Z) Spot Instance Requests",
                    64,
                )
            ]
        },
    )
    book = QuotaBook(account("service-quotas"), "ec2")
    found = book.find("All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests")
    assert found is not None
    assert found["QuotaCode"] == "L-34B43A08"


def test_ec2_quotas_covering_full_scale_pass() -> None:
    account = _ec2_account(trn_vcpus=2048)
    findings = {f.subject: f for f in check_ec2_quotas(account.context(), _cluster_needs())}
    assert findings[TRN].status is Status.PASS
    assert "0 at cluster creation, 2048 at full scale" in findings[TRN].detail
    assert findings[STANDARD].status is Status.PASS
    account.assert_done()


def test_ec2_quota_below_full_scale_is_a_warning() -> None:
    account = _ec2_account(trn_vcpus=256)
    findings = {f.subject: f for f in check_ec2_quotas(account.context(), _cluster_needs())}
    assert findings[TRN].status is Status.WARNING
    assert "(L-2C3B7624) = 2048" in findings[TRN].fix


def test_ec2_quota_below_the_static_nodes_is_a_blocker() -> None:
    account = _ec2_account(trn_vcpus=0)
    findings = {f.subject: f for f in check_ec2_quotas(account.context(), _cluster_needs(2, 4))}
    assert findings[TRN].status is Status.BLOCKER
    assert "256 at cluster creation, 512 at full scale" in findings[TRN].detail
    assert "--service-code ec2 --quota-code L-2C3B7624 --desired-value 512" in findings[TRN].fix


def test_ec2_quota_below_one_node_is_a_blocker_even_without_static_nodes() -> None:
    account = _ec2_account(trn_vcpus=64)
    findings = {f.subject: f for f in check_ec2_quotas(account.context(), _cluster_needs())}
    assert findings[TRN].status is Status.BLOCKER


def test_head_node_beyond_the_standard_quota_is_a_blocker() -> None:
    account = _ec2_account(trn_vcpus=2048, standard_vcpus=8)
    findings = {f.subject: f for f in check_ec2_quotas(account.context(), _cluster_needs())}
    assert findings[STANDARD].status is Status.BLOCKER


def test_capacity_block_queues_are_not_checked_against_vcpu_quotas() -> None:
    account = StubbedAccount()
    need = Ec2InstanceNeed(
        "trn1.32xlarge", 4, 4, QueueCapacityType.CAPACITY_BLOCK, "queue", "use1-az4"
    )
    [finding] = check_ec2_quotas(account.context(), [need])
    assert finding.status is Status.WARNING
    assert "Capacity Block" in finding.detail


def test_a_multi_node_fine_tune_job_needs_a_quota_for_every_instance() -> None:
    from cdk_llm_training.config import AppConfig, SageMakerFineTuneOptions, SmallLoRAConfig
    from cdk_llm_training.config.vocabulary import Tier
    from cdk_llm_training.tools.preflight.requirements import derive_needs

    options = SageMakerFineTuneOptions(
        instance_type="ml.g5.12xlarge", instance_count=3, use_spot=False
    )
    config = AppConfig(
        stacks=(Tier.SMALL_LORA,), small_lora=SmallLoRAConfig(sagemaker_fine_tune=options)
    )
    needs = derive_needs(config, (Tier.SMALL_LORA,))
    [training] = [n for n in needs.sagemaker_quotas if n.usage is SageMakerUsage.TRAINING]
    assert (training.instance_type, training.count) == ("ml.g5.12xlarge", 3)
