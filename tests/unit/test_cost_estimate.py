"""The cost estimate and the ``cost`` command: SmallLoRAStack and synthetic templates of what
the medium and large tiers hold, each against a hand calculation (730 hours a month)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from cdk_llm_training.config import StackName
from cdk_llm_training.tools.cli import main
from cdk_llm_training.tools.cost.estimate import (
    CostEstimateError,
    estimate_template,
    find_template,
    render_text,
)
from cdk_llm_training.tools.cost.service_prices import (
    default_service_prices,
    fsx_persistent_2_cost_per_gib_month,
    parse_service_prices,
)
from cdk_llm_training.tools.planner.fsx_sizing import DEFAULT_COST_PER_GIB_MONTH

PRICES = default_service_prices()


def _estimate(resources: dict[str, Any]) -> Any:
    return estimate_template({"Resources": resources}, stack="Synthetic", services=PRICES)


def _write_assembly(tmp_path: Path, name: str, template: Mapping[str, Any]) -> Path:
    out = tmp_path / "cdk.out"
    out.mkdir()
    (out / f"{name}.template.json").write_text(json.dumps(template))
    manifest = {
        "artifacts": {
            name: {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": f"{name}.template.json", "stackName": name},
            }
        }
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


# -- SmallLoRAStack ----------------------------------------------------------------------


def test_small_lora_idle_cost_matches_the_hand_calculation(
    tier_templates: dict[StackName, Template],
) -> None:
    estimate = estimate_template(
        tier_templates[StackName.SMALL_LORA].to_json(), stack="SmallLoRAStack", services=PRICES
    )
    # Hand calculation (us-east-1 list prices):
    #   2 KMS customer managed keys (the lake key; the notification key
    #     of the topics and log groups)                                  2 x 1.00 = 2.00
    #   1 CloudWatch dashboard                                           1 x 3.00 = 3.00
    #   3 CloudWatch alarms, 1 metric each (labeling, Bedrock and
    #     SageMaker fine-tune workflows failed)                          3 x 0.10 = 0.30
    #   S3, SNS, Step Functions, Lambda, logs, Cognito, Budgets: usage-based, 0 idle
    #   total                                                                      5.30
    assert estimate.idle_monthly_usd == pytest.approx(5.30)
    assert estimate.idle_monthly_usd < 6
    assert sorted((line.resource_type, round(line.usd, 2)) for line in estimate.idle) == [
        ("AWS::CloudWatch::Alarm", 0.10),
        ("AWS::CloudWatch::Alarm", 0.10),
        ("AWS::CloudWatch::Alarm", 0.10),
        ("AWS::CloudWatch::Dashboard", 3.00),
        ("AWS::KMS::Key", 1.00),
        ("AWS::KMS::Key", 1.00),
    ]
    assert estimate.compute == []
    assert estimate.compute_hourly_usd == 0
    assert estimate.unpriced == []
    assert estimate.usage_based["AWS::S3::Bucket"] == 4


def test_cost_command_on_small_lora(
    tier_templates: dict[StackName, Template], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _write_assembly(
        tmp_path, "SmallLoRAStack", tier_templates[StackName.SMALL_LORA].to_json()
    )
    assert main(["cost", "SmallLoRAStack", "--cdk-out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("SmallLoRAStack: estimated cost (us-east-1 list prices, USD)\n")
    assert "Total running" in text
    assert text.splitlines()[2] == (
        "Running cost while deployed: 0.01/hour, 5.30/month (running nodes included)"
    )
    assert text.splitlines()[-1].startswith("Usage-based, 0 when idle:")
    total = next(line for line in text.splitlines() if "Total running" in line)
    assert total.split()[-1] == "5.30/month"
    assert main(["cost", "SmallLoRAStack", "--cdk-out", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["idle_monthly_usd"] == pytest.approx(5.30)
    assert data["compute_hourly_usd"] == 0
    assert {line["resource_type"] for line in data["idle"]} == {
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::KMS::Key",
    }


# -- synthetic templates: what the medium and large tiers hold ----------------------------


def test_fsx_persistent_2_capacity_at_its_tier() -> None:
    estimate = _estimate(
        {
            "Fsx": {
                "Type": "AWS::FSx::FileSystem",
                "Properties": {
                    "FileSystemType": "LUSTRE",
                    "StorageCapacity": 2400,
                    "LustreConfiguration": {
                        "DeploymentType": "PERSISTENT_2",
                        "PerUnitStorageThroughput": 250,
                        "MetadataConfiguration": {"Mode": "AUTOMATIC"},
                    },
                },
            },
            "Scratch": {
                "Type": "AWS::FSx::FileSystem",
                "Properties": {
                    "FileSystemType": "LUSTRE",
                    "StorageCapacity": 1200,
                    "LustreConfiguration": {"DeploymentType": "SCRATCH_2"},
                },
            },
        }
    )
    # 2400 GiB x 0.210 = 504.00; 1200 GiB x 0.140 = 168.00; total 672.00
    assert [round(line.usd, 2) for line in estimate.idle] == [504.00, 168.00]
    assert estimate.idle_monthly_usd == 672.00


def test_nat_gateway_public_ip_and_interface_endpoints() -> None:
    estimate = _estimate(
        {
            "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {}},
            "Eip": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
            "S3Endpoint": {
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {"VpcEndpointType": "Gateway"},
            },
            "EcrEndpoint": {
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {
                    "VpcEndpointType": "Interface",
                    "ServiceName": "com.amazonaws.us-east-1.ecr.api",
                    "SubnetIds": ["subnet-a", "subnet-b"],
                },
            },
        }
    )
    # NAT 0.045 x 730 = 32.85; IPv4 0.005 x 730 = 3.65; endpoint 2 AZ x 0.01 x 730 = 14.60
    assert {line.logical_id: round(line.usd, 2) for line in estimate.idle} == {
        "Nat": 32.85,
        "Eip": 3.65,
        "EcrEndpoint": 14.60,
    }
    assert estimate.idle_monthly_usd == 51.10
    assert estimate.usage_based["AWS::EC2::VPCEndpoint"] == 1
    assert "ecr.api, 2 AZ" in estimate.idle[-1].description


def test_eks_control_plane_and_hyperpod_instance_groups() -> None:
    estimate = _estimate(
        {
            "Eks": {"Type": "AWS::EKS::Cluster", "Properties": {}},
            "HyperPod": {
                "Type": "AWS::SageMaker::Cluster",
                "Properties": {
                    "InstanceGroups": [
                        {
                            "InstanceGroupName": "system",
                            "InstanceType": "ml.m5.2xlarge",
                            "InstanceCount": 1,
                        },
                        {
                            "InstanceGroupName": "gpu",
                            "InstanceType": "ml.p5.48xlarge",
                            "InstanceCount": 2,
                        },
                        {
                            "InstanceGroupName": "spare",
                            "InstanceType": "ml.p5.48xlarge",
                            "InstanceCount": 0,
                        },
                    ]
                },
            },
        }
    )
    # HyperPod nodes bill while they exist, so they are in the running (headline) cost:
    # EKS 0.10 x 730 = 73.00; system 0.461 x 730 = 336.53; gpu 2 x 63.29 x 730 = 92,403.40;
    # the group at 0 instances costs nothing.
    assert [round(line.usd, 2) for line in estimate.idle] == [73.00, 336.53, 92403.40]
    assert estimate.idle_monthly_usd == 92812.93
    # per hour: 0.10 + 0.461 + 126.58 = 127.141
    assert estimate.idle_hourly_usd == pytest.approx(127.141)
    assert estimate.compute == []
    assert estimate.idle[2].description == "HyperPod group gpu: 2 x ml.p5.48xlarge"


def test_parallel_cluster_head_node_is_idle_cost_and_queues_are_compute() -> None:
    estimate = _estimate(
        {
            "Cluster": {
                "Type": "Custom::PclusterCluster",
                "Properties": {
                    "ClusterName": "trn",
                    "ClusterConfiguration": {
                        "HeadNode": {"InstanceType": "c7i.4xlarge"},
                        "Scheduling": {
                            "Scheduler": "slurm",
                            "SlurmQueues": [
                                {
                                    "Name": "train",
                                    "ComputeResources": [
                                        {
                                            "Name": "trn1",
                                            "InstanceType": "trn1.32xlarge",
                                            "MinCount": 1,
                                            "MaxCount": 4,
                                        }
                                    ],
                                }
                            ],
                        },
                    },
                },
            }
        }
    )
    # Idle: head node 0.714 x 730 = 521.22; one static trn1 21.50 x 730 = 15,695.00
    assert [round(line.usd, 2) for line in estimate.idle] == [521.22, 15695.00]
    assert estimate.idle_monthly_usd == 16216.22
    # Compute at MaxCount: 4 x 21.50 = 86.00 per hour (EC2 prices)
    assert estimate.compute_hourly_usd == 86.00


def test_alarm_on_metric_math_counts_each_metric() -> None:
    estimate = _estimate(
        {
            "Saturated": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Metrics": [
                        {"Id": "e", "Expression": "r + w"},
                        {"Id": "r", "MetricStat": {}},
                        {"Id": "w", "MetricStat": {}},
                    ]
                },
            },
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
        }
    )
    # 2 alarm metrics x 0.10 + 1 secret x 0.40 = 0.60
    assert estimate.idle_monthly_usd == 0.60


def test_unresolved_and_unknown_resources_are_reported() -> None:
    estimate = _estimate(
        {
            "HyperPod": {
                "Type": "AWS::SageMaker::Cluster",
                "Properties": {
                    "InstanceGroups": [
                        {"InstanceType": "ml.p5.48xlarge", "InstanceCount": {"Ref": "Count"}}
                    ]
                },
            },
            "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Deploy": {"Type": "Custom::CDKBucketDeployment", "Properties": {}},
        }
    )
    assert estimate.unpriced == [
        "HyperPod (AWS::SageMaker::Cluster): HyperPod group ? has an instance type or count "
        "unknown at synth",
        "Db (AWS::RDS::DBInstance)",
    ]
    assert "Not priced (add them to a --prices file):" in render_text(estimate)


# -- price data and overrides -------------------------------------------------------------


def test_fsx_prices_are_shared_with_the_planner() -> None:
    assert dict(DEFAULT_COST_PER_GIB_MONTH) == fsx_persistent_2_cost_per_gib_month()
    assert DEFAULT_COST_PER_GIB_MONTH[125] == PRICES.item("fsx_lustre_persistent_2_125").usd


def test_every_price_is_dated_and_sourced() -> None:
    for price in PRICES.items.values():
        assert price.as_of
        assert price.source.startswith("https://aws.amazon.com/")
    for instance in PRICES.instances.values():
        assert instance.source.startswith("https://aws.amazon.com/")


def test_price_override_file(
    tier_templates: dict[StackName, Template], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _write_assembly(
        tmp_path, "SmallLoRAStack", tier_templates[StackName.SMALL_LORA].to_json()
    )
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "items": {"cloudwatch_dashboard": {"usd": 0, "source": "https://example.com/free"}},
                "prices": [],
            }
        )
    )
    argv = ["cost", "SmallLoRAStack", "--cdk-out", str(out), "--prices", str(prices), "--json"]
    assert main(argv) == 0
    # The dashboard within the account's free tier: 2 x 1.00 (keys) + 3 x 0.10 (alarms)
    data = json.loads(capsys.readouterr().out)
    assert data["idle_monthly_usd"] == pytest.approx(2.30)
    dashboard = next(line for line in data["idle"] if line["logical_id"].startswith("Dashboard"))
    assert dashboard["source"] == "https://example.com/free"
    assert dashboard["description"].startswith("CloudWatch dashboard")


def test_instance_price_override_reaches_the_compute_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {
        "Resources": {
            "HyperPod": {
                "Type": "AWS::SageMaker::Cluster",
                "Properties": {
                    "InstanceGroups": [
                        {
                            "InstanceGroupName": "gpu",
                            "InstanceType": "ml.p5.48xlarge",
                            "InstanceCount": 4,
                        }
                    ]
                },
            }
        }
    }
    out = _write_assembly(tmp_path, "Big", template)
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "prices": [
                    {
                        "instance_type": "p5.48xlarge",
                        "ec2_usd_per_hour": 30,
                        "sagemaker_usd_per_hour": 40,
                        "as_of": "2026-11-01",
                        "source": "private pricing agreement",
                    }
                ]
            }
        )
    )
    assert main(["cost", "Big", "--cdk-out", str(out), "--prices", str(prices), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # 4 x 40.00 (the overriding SageMaker price) per hour, running while deployed
    assert data["idle_hourly_usd"] == 160.0
    assert data["idle_monthly_usd"] == 160.0 * 730
    assert data["idle"][0]["source"] == "private pricing agreement"


def test_fails_unknown_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _write_assembly(tmp_path, "SmallLoRAStack", {"Resources": {}})
    assert main(["cost", "Nope", "--cdk-out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"error: stack 'Nope' not found in {out} (run `cdk synth` first); "
        "stacks found: SmallLoRAStack\n"
    )
    with pytest.raises(CostEstimateError, match="stacks found: none"):
        find_template("X", tmp_path / "missing")


def test_fails_bad_price_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _write_assembly(tmp_path, "S", {"Resources": {}})
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"items": {"kms_key": {"usd": 1, "unit": "year"}}}))
    assert main(["cost", "S", "--cdk-out", str(out), "--prices", str(prices)]) == 2
    assert "service price 'kms_key': unit 'year' is not valid; allowed: month, hour" in (
        capsys.readouterr().err
    )


def test_fails_price_item_without_provenance() -> None:
    with pytest.raises(ValueError, match=r"service price 'x': missing as_of, source"):
        parse_service_prices({"items": {"x": {"usd": 1, "unit": "month"}}})


def test_cost_process_never_imports_aws_cdk(
    tier_templates: dict[StackName, Template], tmp_path: Path
) -> None:
    out = _write_assembly(
        tmp_path, "SmallLoRAStack", tier_templates[StackName.SMALL_LORA].to_json()
    )
    probe = (
        "import sys;"
        "from cdk_llm_training.tools import cli;"
        "code = cli.main(sys.argv[1:]);"
        "heavy = [m for m in ('aws_cdk', 'jsii', 'constructs') if m in sys.modules];"
        "print('HEAVY', heavy, file=sys.stderr);"
        "sys.exit(code)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, "cost", "SmallLoRAStack", "--cdk-out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "HEAVY []" in run.stderr
    assert "5.30/month" in run.stdout


# -- the medium and large tier stacks, as the ready app builds them ---------------------------


def _itemized(estimate: Any) -> list[tuple[str, float]]:
    return sorted((line.resource_type, round(line.usd, 2)) for line in estimate.idle)


def test_medium_tier_idle_and_compute_match_the_hand_calculation(
    tier_templates: dict[StackName, Template],
) -> None:
    estimate = estimate_template(
        tier_templates[StackName.MEDIUM_FINE_TUNE].to_json(),
        stack="MediumFineTuneStack",
        services=PRICES,
    )
    # FSx PERSISTENT_2 125 MB/s/TiB: 1200 GiB x 0.145          = 174.00
    # EKS control plane: 730 h x 0.10                          =  73.00
    # NAT gateway: 730 h x 0.045 = 32.85; its IPv4: 730 x 0.005 =  36.50
    # dashboard 3.00; 3 KMS keys (lake, EKS secrets, notify+logs)=   6.00
    # alarms: FSx free capacity (1 metric), throughput (2)      =   0.30
    # running system node 1 x ml.m5.2xlarge: 730 h x 0.461      = 336.53
    # gpu-workers at instance_count 0 (the default)            =   0.00
    # total                                                       626.33
    assert estimate.idle_monthly_usd == pytest.approx(626.33)
    assert estimate.idle_hourly_usd == pytest.approx(626.33 / 730, abs=1e-4)
    assert _itemized(estimate) == [
        ("AWS::CloudWatch::Alarm", 0.10),
        ("AWS::CloudWatch::Alarm", 0.20),
        ("AWS::CloudWatch::Dashboard", 3.00),
        ("AWS::EC2::EIP", 3.65),
        ("AWS::EC2::NatGateway", 32.85),
        ("AWS::EKS::Cluster", 73.00),
        ("AWS::FSx::FileSystem", 174.00),
        ("AWS::KMS::Key", 1.00),
        ("AWS::KMS::Key", 1.00),
        ("AWS::KMS::Key", 1.00),
        ("AWS::SageMaker::Cluster", 336.53),
    ]
    # No accelerator starts with the default deploy.
    assert estimate.compute_hourly_usd == 0
    assert not any("p5" in line.description for line in estimate.idle)


def test_large_tier_idle_and_compute_match_the_hand_calculation(
    tier_templates: dict[StackName, Template],
) -> None:
    estimate = estimate_template(
        tier_templates[StackName.LARGE_PRETRAIN].to_json(),
        stack="LargePretrainStack",
        services=PRICES,
    )
    # EFA FSx PERSISTENT_2 1000 MB/s/TiB: 4800 GiB x 0.600      = 2880.00
    # ParallelCluster head node c7i.4xlarge: 730 h x 0.714      =  521.22
    # NAT 32.85 + IPv4 3.65 + dashboard 3.00 + 2 keys 2.00     =   41.50
    # alarms 0.30                                              =    0.30
    # total                                                       3443.02
    assert estimate.idle_monthly_usd == pytest.approx(3443.02)
    # 16 x trn1.32xlarge at MaxCount, EC2 on-demand 21.50 per hour
    assert estimate.compute_hourly_usd == pytest.approx(16 * 21.50)
