"""``cdk-llm-training preflight`` end to end (offline) and what it derives from a config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from preflight_support import REGION, StubbedAccount, availability, identity, model_summary, quota

from cdk_llm_training.config.tiers import AppConfig, StackName, parse_app_config
from cdk_llm_training.tools.cli import build_parser
from cdk_llm_training.tools.preflight import command
from cdk_llm_training.tools.preflight.requirements import SageMakerUsage, derive_needs


class _Session:
    def __init__(self, account: StubbedAccount, region: str | None = REGION) -> None:
        self.account = account
        self.region_name = region

    def client(self, service: str, region_name: str | None = None) -> Any:
        return self.account(service, region_name)


def _run(argv: list[str], account: StubbedAccount, region: str | None = REGION) -> int:
    args = build_parser().parse_args(["preflight", *argv])
    return command.run(args, session_factory=lambda profile, r: _Session(account, region))


def _small_account(*, spot_quota: float = 1, workforces: int = 0) -> StubbedAccount:
    """A us-east-1 account answering every call preflight makes for SmallLoRAStack."""
    account = StubbedAccount()
    account.respond("sts", "get_caller_identity", identity())
    account.respond(
        "ssm",
        "get_parameter",
        {"Parameter": {"Name": "/cdk-bootstrap/hnb659fds/version", "Value": "27"}},
    )
    spot = "ml.g5.2xlarge for spot training job usage"
    account.respond(
        "service-quotas",
        "list_service_quotas",
        {"Quotas": [quota("sagemaker", "L-CCCC3333", spot, spot_quota)]},
    )
    account.respond(
        "bedrock", "get_foundation_model_availability", availability("amazon.nova-micro-v1:0")
    )
    account.respond(
        "bedrock",
        "list_foundation_models",
        {"modelSummaries": [model_summary("amazon.nova-micro-v1:0:128k", ["FINE_TUNING"])]},
    )
    account.respond(
        "sagemaker",
        "list_workforces",
        {
            "Workforces": [
                {
                    "WorkforceName": "default",
                    "WorkforceArn": f"arn:aws:sagemaker:{REGION}:111122223333:workforce/default",
                }
            ][:workforces]
        },
    )
    account.respond(
        "ce",
        "list_cost_allocation_tags",
        {"CostAllocationTags": [{"TagKey": "stack", "Type": "UserDefined", "Status": "Active"}]},
        region="us-east-1",
    )
    return account


def test_a_ready_account_passes_every_check_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = _small_account()
    code = _run(["--stack", "SmallLoRAStack", "--json", "--cdk-out", str(tmp_path)], account)
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["ok"] is True
    assert report["account"] == "111122223333"
    assert report["summary"] == {"pass": 5, "warning": 0, "blocker": 0}
    assert [f["check"] for f in report["findings"]] == [
        "cdk-bootstrap",
        "sagemaker-quota",
        "bedrock-access",
        "workforce",
        "cost-allocation-tag",
    ]
    account.assert_done()


def test_a_blocker_exits_1_and_prints_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = _small_account(spot_quota=0, workforces=1)
    code = _run(["--stack", "SmallLoRAStack", "--cdk-out", str(tmp_path)], account)
    out = capsys.readouterr().out
    assert code == 1
    assert "BLOCKER  sagemaker-quota" in out
    assert "fix: request sagemaker quota 'ml.g5.2xlarge for spot training job usage'" in out
    assert "BLOCKER  workforce" in out
    assert "3 passed, 0 warnings, 2 blockers" in out


def test_no_credentials_is_an_error_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    args = build_parser().parse_args(["preflight", "--region", "us-east-1"])
    assert command.run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no AWS credentials found")
    assert "Traceback" not in err


def test_rejected_credentials_are_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    account = StubbedAccount()
    account.fail(
        "sts", "get_caller_identity", "InvalidClientTokenId", "The token is invalid", status=403
    )
    assert _run([], account) == 2
    assert "error: the AWS credentials were rejected (InvalidClientTokenId" in (
        capsys.readouterr().err
    )


def test_no_region_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([], StubbedAccount(), region=None) == 2
    assert capsys.readouterr().err.startswith("error: no AWS Region")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-c", "config"], "must look like config=PATH"),
        (["-c", "config=/does/not/exist.yaml"], "cannot read configuration file"),
        (["--stack", "TinyStack"], "is not a tier stack"),
    ],
)
def test_user_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(argv, StubbedAccount()) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err


def test_the_config_file_is_read_like_cdk_synth_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "app.yaml"
    config.write_text(
        "stacks: [SmallLoRAStack]\n"
        "small_lora:\n"
        "  sagemaker_fine_tune: null\n"
        "  bedrock_fine_tune: null\n"
        "  labeling: null\n"
        "  observability: {budget: {enabled: false}}\n",
        encoding="utf-8",
    )
    account = StubbedAccount()
    account.respond("sts", "get_caller_identity", identity())
    account.respond("ssm", "get_parameter", {"Parameter": {"Name": "/x", "Value": "27"}})
    code = _run(["-c", f"config={config}", "--json", "--cdk-out", str(tmp_path)], account)
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["stacks"] == ["SmallLoRAStack"]
    assert [f["check"] for f in report["findings"]] == ["cdk-bootstrap"]
    account.assert_done()


# -- what the config asks for ------------------------------------------------------------


def test_small_tier_needs_spot_training_quota_model_access_workforce_and_tag() -> None:
    needs = derive_needs(AppConfig(), (StackName.SMALL_LORA,))
    [quota_need] = needs.sagemaker_quotas
    assert (quota_need.instance_type, quota_need.usage, quota_need.count) == (
        "ml.g5.2xlarge",
        SageMakerUsage.SPOT_TRAINING,
        1,
    )
    assert [m.model_id for m in needs.bedrock_models] == ["amazon.nova-micro-v1:0:128k"]
    assert [(w.mode, w.name) for w in needs.workforces] == [("cognito", "default")]
    assert [t.stack for t in needs.cost_tags] == ["SmallLoRAStack"]
    assert not needs.availability_zones
    assert not needs.ec2_instances


def test_on_demand_training_evaluation_distillation_and_judge_models() -> None:
    config = parse_app_config(
        {
            "small_lora": {
                "sagemaker_fine_tune": {"use_spot": False, "evaluation": {}},
                "bedrock_fine_tune": {
                    "base_model_id": "amazon.nova-micro-v1:0:128k",
                    "customization_type": "DISTILLATION",
                    "distillation": {"teacher_model_id": "amazon.nova-premier-v1:0"},
                    "evaluation": {"baseline_model_id": "us.amazon.nova-micro-v1:0"},
                },
            }
        }
    )
    needs = derive_needs(config, (StackName.SMALL_LORA,))
    assert [(n.instance_type, n.usage) for n in needs.sagemaker_quotas] == [
        ("ml.g5.2xlarge", SageMakerUsage.TRAINING),
        ("ml.m5.large", SageMakerUsage.PROCESSING),
    ]
    assert [(m.role.value, m.model_id) for m in needs.bedrock_models] == [
        ("base model", "amazon.nova-micro-v1:0:128k"),
        ("teacher model", "amazon.nova-premier-v1:0"),
        ("judge model", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("baseline model", "us.amazon.nova-micro-v1:0"),
    ]
    assert needs.bedrock_models[0].customization_type == "DISTILLATION"


def test_medium_tier_needs_cluster_quotas_and_both_az_ids() -> None:
    needs = derive_needs(AppConfig(), (StackName.MEDIUM_FINE_TUNE,))
    # gpu-workers deploy at 0 instances and scale up to 2: the quota must allow 2.
    assert [(n.instance_type, n.usage, n.count, n.max_count) for n in needs.sagemaker_quotas] == [
        ("ml.m5.2xlarge", SageMakerUsage.CLUSTER, 1, 1),
        ("ml.p5.48xlarge", SageMakerUsage.CLUSTER, 0, 2),
    ]
    assert [z.zone_id for z in needs.availability_zones] == ["use1-az4", "use1-az6"]


def test_large_trainium_tier_needs_ec2_instances_in_the_compute_az() -> None:
    needs = derive_needs(AppConfig(), (StackName.LARGE_PRETRAIN,))
    assert not needs.sagemaker_quotas
    assert [(n.instance_type, n.min_count, n.max_count) for n in needs.ec2_instances] == [
        ("c7i.4xlarge", 1, 1),
        ("trn1.32xlarge", 0, 16),
    ]
    assert {n.availability_zone_id for n in needs.ec2_instances} == {"use1-az4"}
    assert [z.zone_id for z in needs.availability_zones] == ["use1-az4"]


def test_large_tier_with_both_engines_needs_cluster_and_ec2_quotas() -> None:
    config = parse_app_config({"large_pretrain": {"engine": "both"}})
    needs = derive_needs(config, (StackName.LARGE_PRETRAIN,))
    assert ("ml.p5.48xlarge", 0, 16) in [
        (n.instance_type, n.count, n.max_count) for n in needs.sagemaker_quotas
    ]
    assert needs.ec2_instances
    assert [z.zone_id for z in needs.availability_zones] == ["use1-az4", "use1-az6"]


def test_large_trainium_tier_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every call of the default LargePretrainStack, in order: bootstrap, AZ IDs, offerings,
    EC2 vCPU quotas (no SageMaker quota, model, workforce: the tier has none)."""
    account = StubbedAccount()
    account.respond("sts", "get_caller_identity", identity())
    account.respond(
        "ssm",
        "get_parameter",
        {"Parameter": {"Name": "/cdk-bootstrap/hnb659fds/version", "Value": "6"}},
    )
    account.respond(
        "ec2",
        "describe_availability_zones",
        {
            "AvailabilityZones": [
                {"ZoneId": "use1-az4", "ZoneName": "us-east-1a", "State": "available"}
            ]
        },
    )
    account.respond(
        "ec2",
        "describe_instance_type_offerings",
        {
            "InstanceTypeOfferings": [
                {"InstanceType": t, "LocationType": "availability-zone-id", "Location": "use1-az4"}
                for t in ("c7i.4xlarge", "trn1.32xlarge")
            ]
        },
        LocationType="availability-zone-id",
        Filters=[{"Name": "instance-type", "Values": ["c7i.4xlarge", "trn1.32xlarge"]}],
    )
    account.respond(
        "ec2",
        "describe_instance_types",
        {
            "InstanceTypes": [
                {"InstanceType": "c7i.4xlarge", "VCpuInfo": {"DefaultVCpus": 16}},
                {"InstanceType": "trn1.32xlarge", "VCpuInfo": {"DefaultVCpus": 128}},
            ]
        },
    )
    account.respond(
        "service-quotas",
        "list_service_quotas",
        {
            "Quotas": [
                quota(
                    "ec2",
                    "L-1216C47A",
                    "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
                    64,
                ),
                quota("ec2", "L-2C3B7624", "Running On-Demand Trn instances", 0),
            ]
        },
        ServiceCode="ec2",
    )
    account.respond(
        "ce",
        "list_cost_allocation_tags",
        {"CostAllocationTags": [{"TagKey": "stack", "Type": "UserDefined", "Status": "Inactive"}]},
        region="us-east-1",
    )
    code = _run(["--stack", "LargePretrainStack", "--json", "--cdk-out", str(tmp_path)], account)
    report = json.loads(capsys.readouterr().out)
    rows = [(f["check"], f["status"]) for f in report["findings"]]
    assert rows == [
        ("cdk-bootstrap", "pass"),
        ("availability-zone", "pass"),
        ("instance-offering", "pass"),
        ("instance-offering", "pass"),
        ("ec2-quota", "pass"),
        # 0 vCPUs: the cluster would deploy, but no Trainium node could ever start.
        ("ec2-quota", "blocker"),
        ("cost-allocation-tag", "warning"),
    ]
    assert code == 1
    account.assert_done()


def test_preflight_never_imports_aws_cdk() -> None:
    """The command stays fast and runs where only boto3 is installed."""
    import subprocess
    import sys

    from cdk_support import REPO_ROOT

    code = (
        "import sys, cdk_llm_training.tools.cli, cdk_llm_training.tools.preflight.runner; "
        "print(any(m.startswith(('aws_cdk', 'jsii')) for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": "src"},
        cwd=str(REPO_ROOT),
    )
    assert result.stdout.strip() == "False"
