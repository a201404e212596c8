"""Closed-network medium and large tiers: endpoints per engine, endpoint policies, rules clean.

The two closed-network stacks are session fixtures (tests/conftest.py), shared with the
compliance-pack test."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from cdk_support import NEURON_AMI, cfn_lint_findings

from cdk_llm_training.checks import check_template
from cdk_llm_training.checks.rules_network import endpoint_service
from cdk_llm_training.config import StackName
from cdk_llm_training.config.tiers import LargePretrainConfig, MediumFineTuneConfig


def _endpoints(template: Template) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {
        (
            endpoint_service(resource["Properties"]["ServiceName"]),
            resource["Properties"]["VpcEndpointType"],
        ): resource["Properties"]
        for resource in template.find_resources("AWS::EC2::VPCEndpoint").values()
    }


def test_medium_closed_has_the_sagemaker_api_endpoint(medium_closed: Template) -> None:
    endpoints = _endpoints(medium_closed)
    assert ("sagemaker.api", "Interface") in endpoints
    assert ("cloudformation", "Interface") not in endpoints
    assert ("dynamodb", "Gateway") not in endpoints
    medium_closed.resource_count_is("AWS::EC2::NatGateway", 0)


def test_large_closed_has_the_endpoints_of_both_engines(large_closed: Template) -> None:
    endpoints = _endpoints(large_closed)
    for key in [
        ("sagemaker.api", "Interface"),
        ("cloudformation", "Interface"),
        ("ec2", "Interface"),
        ("logs", "Interface"),
        ("s3", "Gateway"),
        ("dynamodb", "Gateway"),
    ]:
        assert key in endpoints, key
    (cluster,) = large_closed.find_resources("Custom::PclusterCluster").values()
    slurm = cluster["Properties"]["ClusterConfiguration"]["Scheduling"]["SlurmSettings"]
    assert slurm["Dns"] == {"DisableManagedDns": True, "UseEc2Hostnames": True}


def test_endpoint_policies(large_closed: Template) -> None:
    endpoints = _endpoints(large_closed)
    s3 = endpoints[("s3", "Gateway")]["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in s3] == [
        "ThisAccountsBuckets",
        "AwsOwnedBucketsTheNodesRead",
        "CloudFormationWaitConditionSignals",
        "CloudFormationCustomResourceResponses",
    ]
    assert s3[0]["Condition"] == {
        "StringEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}}
    }
    named = str(s3[1]["Resource"])
    for bucket in ("-starport-layer-bucket/*", "-aws-parallelcluster/*", "-de612dc2/*"):
        assert bucket in named
    for key in [("ecr.api", "Interface"), ("cloudformation", "Interface"), ("dynamodb", "Gateway")]:
        (statement,) = endpoints[key]["PolicyDocument"]["Statement"]
        assert statement["Condition"] == {
            "StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
        }
    # STS serves unsigned web-identity federation calls: no account condition there.
    assert "PolicyDocument" not in endpoints[("sts", "Interface")]


@pytest.mark.parametrize("which", ["medium", "large"])
def test_closed_tiers_pass_the_rule_pack_and_cfn_lint(
    which: str, medium_closed: Template, large_closed: Template
) -> None:
    template = (medium_closed if which == "medium" else large_closed).to_json()
    # The one acknowledged finding: HyperPod does not send source keys to its execution role's
    # trust (acknowledged on that role, where the synthesis above honoured it).
    findings = [
        f
        for f in check_template(template)
        if not (f.rule_id == "LLM-SRC1" and f.logical_id.startswith("HyperPodExecutionRole"))
    ]
    assert findings == []
    assert cfn_lint_findings(template) == []


def test_open_tiers_also_limit_the_s3_gateway(tier_templates: dict[StackName, Template]) -> None:
    for name in (StackName.MEDIUM_FINE_TUNE, StackName.LARGE_PRETRAIN):
        (s3,) = [
            props
            for (service, kind), props in _endpoints(tier_templates[name]).items()
            if service == "s3"
        ]
        assert s3["PolicyDocument"]["Statement"][0]["Sid"] == "ThisAccountsBuckets"


def test_closed_large_tier_without_a_neuron_ami_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="Build a Neuron AMI with pcluster build-image"):
        LargePretrainConfig.model_validate({"network": {"closed_network": True}})


def test_closed_tier_with_an_endpoint_list_missing_an_engine_endpoint_is_an_error() -> None:
    with pytest.raises(ValueError, match="lacks 'cloudformation', which ParallelCluster needs"):
        LargePretrainConfig.model_validate(
            {
                "network": {"closed_network": True, "interface_endpoints": ["ec2", "logs"]},
                "trainium": NEURON_AMI,
            }
        )


def test_closed_cluster_tiers_need_the_chart_in_s3_and_helm_in_a_layer() -> None:
    """validate rejects what the HyperPod construct would refuse at synth."""
    with pytest.raises(ValueError, match=r"dependency_chart\.chart_s3_uri is unset"):
        MediumFineTuneConfig.model_validate({"network": {"closed_network": True}})
    with pytest.raises(ValueError, match=r"dependency_chart\.kubectl_layer_arn is unset"):
        MediumFineTuneConfig.model_validate(
            {
                "network": {"closed_network": True},
                "hyperpod": {
                    "dependency_chart": {"chart_s3_uri": "s3://my-artifacts-bucket/charts/hp.tgz"}
                },
            }
        )
    with pytest.raises(ValueError, match=r"dependency_chart\.chart_s3_uri is unset"):
        LargePretrainConfig.model_validate(
            {"engine": "nvidia", "network": {"closed_network": True}}
        )
