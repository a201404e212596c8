"""The lines a tier stack adds for observability, on a medium-tier composition (network,
lake, FSx, HyperPod on EKS): they synthesize cdk-nag, LlmTrainingChecks and cfn-lint clean,
and the cost command prices the result against a hand calculation."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match
from cdk_support import cfn_lint_findings, flow_log_options, new_stack, template_of

from cdk_llm_training import (
    CostControls,
    HyperPodEksCluster,
    ObservabilityOptions,
    TrainingAlarms,
    TrainingDashboard,
    TrainingDataLake,
    TrainingFileSystem,
)
from cdk_llm_training.tools.cost.estimate import estimate_template
from cdk_llm_training.tools.cost.service_prices import default_service_prices


class MediumLike:
    def __init__(self) -> None:
        self.stack = stack = new_stack(stack_id="MediumLike")
        vpc = ec2.Vpc(
            stack,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="compute", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                ),
            ],
            flow_logs=flow_log_options(stack),
        )
        sg = ec2.SecurityGroup(stack, "Efa", vpc=vpc, allow_all_outbound=False)
        sg.add_ingress_rule(sg, ec2.Port.all_traffic(), "EFA from the group")
        sg.add_egress_rule(sg, ec2.Port.all_traffic(), "EFA to the group")
        lake = TrainingDataLake(stack, "DataLake")
        self.file_system = TrainingFileSystem(
            stack, "FileSystem", vpc=vpc, subnet=vpc.private_subnets[0], data_lake=lake
        )
        self.hyperpod = HyperPodEksCluster(
            stack,
            "HyperPod",
            vpc=vpc,
            subnet=vpc.private_subnets[0],
            security_groups=[sg],
            file_system=self.file_system,
        )
        # --- the lines a tier stack adds (docs/constructs/training-dashboard.md) ----------
        obs = ObservabilityOptions()
        self.alarms = TrainingAlarms(
            self.stack,
            "Alarms",
            options=obs.alarms,
            file_systems=[self.file_system],
            hyperpod_clusters=[self.hyperpod],
        )
        self.dashboard = TrainingDashboard(
            self.stack,
            "Dashboard",
            file_systems=[self.file_system],
            hyperpod_clusters=[self.hyperpod],
            alarms=self.alarms,
        )
        self.cost_controls = CostControls(
            self.stack, "CostControls", tier="medium-fine-tune", options=obs, alarms=self.alarms
        )
        # -----------------------------------------------------------------------------------
        self.template = template_of(stack)
        self.json: dict[str, Any] = dict(self.template.to_json())


@pytest.fixture(scope="module")
def medium() -> MediumLike:
    return MediumLike()


def test_synthesizes_lint_clean(medium: MediumLike) -> None:
    assert cfn_lint_findings(medium.json) == []
    medium.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    medium.template.resource_count_is("AWS::CloudWatch::Alarm", 2)
    medium.template.resource_count_is("AWS::Events::Rule", 2)
    medium.template.resource_count_is("AWS::Budgets::Budget", 1)
    hyperpod = next(
        lid for lid, r in medium.json["Resources"].items() if r["Type"] == "AWS::SageMaker::Cluster"
    )
    medium.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {"resources": [{"Fn::GetAtt": [hyperpod, "ClusterArn"]}]}
            )
        },
    )


def test_medium_idle_and_compute_cost_by_hand(medium: MediumLike) -> None:
    estimate = estimate_template(medium.json, stack="MediumLike", services=default_service_prices())
    by_type: dict[str, float] = {}
    for line in estimate.idle:
        by_type[line.resource_type] = round(by_type.get(line.resource_type, 0) + line.usd, 2)
    # Hand calculation (730 h/month):
    #   FSx PERSISTENT_2 1200 GiB x 0.145                      = 174.00
    #   EKS control plane 0.10 x 730                           =  73.00
    #   NAT gateway 0.045 x 730                                =  32.85
    #   its public IPv4 address 0.005 x 730                    =   3.65
    #   KMS keys (lake, EKS secrets, alarm topic) x 1.00       =   3.00
    #   dashboard 3.00; alarms: free capacity (1 metric) 0.10 + throughput (2 metrics) 0.20
    assert by_type["AWS::FSx::FileSystem"] == 174.00
    assert by_type["AWS::EKS::Cluster"] == 73.00
    assert by_type["AWS::EC2::NatGateway"] == 32.85
    assert by_type["AWS::EC2::EIP"] == 3.65
    assert by_type["AWS::CloudWatch::Dashboard"] == 3.00
    assert by_type["AWS::CloudWatch::Alarm"] == 0.30
    assert by_type["AWS::KMS::Key"] == 3.00
    # HyperPod groups bill while they have instances, so they are in the running cost: the
    # default runs 1 x ml.m5.2xlarge (0.461 x 730 = 336.53) and 0 x ml.p5.48xlarge.
    assert by_type["AWS::SageMaker::Cluster"] == 336.53
    # total 174 + 73 + 32.85 + 3.65 + 3.00 + 3.00 + 0.30 + 336.53 = 626.33
    assert estimate.idle_monthly_usd == 626.33
    assert estimate.compute_hourly_usd == 0
