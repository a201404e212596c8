"""Workforce, AZ ID, instance offering, CDK bootstrap and cost-allocation tag checks of
preflight, offline (botocore Stubber)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from preflight_support import REGION, StubbedAccount

from cdk_llm_training.config.trainium_parallel_cluster import QueueCapacityType
from cdk_llm_training.tools.preflight.bootstrap import check_bootstrap, required_bootstrap
from cdk_llm_training.tools.preflight.cost_tags import check_cost_tags
from cdk_llm_training.tools.preflight.model import Status
from cdk_llm_training.tools.preflight.network import (
    check_availability_zones,
    check_instance_offerings,
)
from cdk_llm_training.tools.preflight.requirements import (
    AvailabilityZoneNeed,
    CostTagNeed,
    Ec2InstanceNeed,
    WorkforceNeed,
)
from cdk_llm_training.tools.preflight.workforce import check_workforces

SOURCE = "small_lora.labeling.workforce"


def _workforce(name: str, status: str = "Active", cognito: bool = True) -> dict[str, Any]:
    workforce: dict[str, Any] = {
        "WorkforceName": name,
        "WorkforceArn": f"arn:aws:sagemaker:{REGION}:111122223333:workforce/{name}",
        "Status": status,
    }
    if cognito:
        workforce["CognitoConfig"] = {"UserPool": "us-east-1_AbCdEf123", "ClientId": "client123"}
    return workforce


def _workforce_account(*workforces: dict[str, Any]) -> StubbedAccount:
    account = StubbedAccount()
    account.respond("sagemaker", "list_workforces", {"Workforces": list(workforces)})
    return account


def test_importing_an_existing_workforce_passes() -> None:
    account = _workforce_account(_workforce("default"))
    [finding] = check_workforces(account.context(), [WorkforceNeed("import", "default", SOURCE)])
    assert finding.status is Status.PASS
    account.assert_done()


def test_importing_a_missing_workforce_is_a_blocker_naming_the_existing_one() -> None:
    account = _workforce_account(_workforce("labelers"))
    [finding] = check_workforces(account.context(), [WorkforceNeed("import", "default", SOURCE)])
    assert finding.status is Status.BLOCKER
    assert finding.fix == f"set {SOURCE}.name: labelers (the workforce this account has)"


def test_importing_when_the_account_has_none_is_a_blocker() -> None:
    account = _workforce_account()
    [finding] = check_workforces(account.context(), [WorkforceNeed("import", "default", SOURCE)])
    assert finding.status is Status.BLOCKER
    assert f"{SOURCE}.mode: cognito" in finding.fix


def test_creating_when_the_account_has_none_passes() -> None:
    account = _workforce_account()
    [finding] = check_workforces(account.context(), [WorkforceNeed("cognito", "default", SOURCE)])
    assert finding.status is Status.PASS
    assert "the stack creates it" in finding.detail


def test_creating_a_second_workforce_is_a_blocker_with_the_import_settings() -> None:
    account = _workforce_account(_workforce("default"))
    [finding] = check_workforces(account.context(), [WorkforceNeed("oidc", "default", SOURCE)])
    assert finding.status is Status.BLOCKER
    assert "one per account and Region" in finding.detail
    assert f"set {SOURCE}.mode: import and {SOURCE}.name: default" in finding.fix
    assert "cognito_user_pool_id: us-east-1_AbCdEf123" in finding.fix


def test_a_workforce_that_is_not_active_is_a_warning() -> None:
    account = _workforce_account(_workforce("default", status="Failed", cognito=False))
    [finding] = check_workforces(account.context(), [WorkforceNeed("import", "default", SOURCE)])
    assert finding.status is Status.WARNING


def _zones_account() -> StubbedAccount:
    account = StubbedAccount()
    account.respond(
        "ec2",
        "describe_availability_zones",
        {
            "AvailabilityZones": [
                {"ZoneId": "use1-az4", "ZoneName": "us-east-1a", "State": "available"},
                {"ZoneId": "use1-az6", "ZoneName": "us-east-1b", "State": "available"},
            ]
        },
    )
    return account


def test_az_ids_of_the_region_pass() -> None:
    account = _zones_account()
    needs = [AvailabilityZoneNeed("use1-az4", "a"), AvailabilityZoneNeed("use1-az6", "b")]
    findings = check_availability_zones(account.context(), needs)
    assert [f.status for f in findings] == [Status.PASS, Status.PASS]
    assert findings[0].detail == "us-east-1a in us-east-1"
    account.assert_done()


def test_an_az_id_of_another_region_is_a_blocker_listing_the_region_ids() -> None:
    account = _zones_account()
    need = AvailabilityZoneNeed("usw2-az1", "medium_fine_tune.network.availability_zone_id")
    [finding] = check_availability_zones(account.context(), [need])
    assert finding.status is Status.BLOCKER
    assert finding.fix == f"set {need.source} to one of use1-az4, use1-az6"


def _offering_account(*zones: str) -> StubbedAccount:
    account = StubbedAccount()
    account.respond(
        "ec2",
        "describe_instance_type_offerings",
        {
            "InstanceTypeOfferings": [
                {
                    "InstanceType": "trn1.32xlarge",
                    "LocationType": "availability-zone-id",
                    "Location": zone,
                }
                for zone in zones
            ]
        },
        LocationType="availability-zone-id",
        Filters=[{"Name": "instance-type", "Values": ["trn1.32xlarge"]}],
    )
    return account


TRN_NEED = Ec2InstanceNeed("trn1.32xlarge", 0, 16, QueueCapacityType.ONDEMAND, "q", "use1-az4")


def test_an_instance_type_offered_in_the_compute_az_passes() -> None:
    account = _offering_account("use1-az4", "use1-az6")
    [finding] = check_instance_offerings(account.context(), [TRN_NEED])
    assert finding.status is Status.PASS
    account.assert_done()


def test_an_instance_type_not_offered_in_the_compute_az_is_a_blocker() -> None:
    account = _offering_account("use1-az6")
    [finding] = check_instance_offerings(account.context(), [TRN_NEED])
    assert finding.status is Status.BLOCKER
    assert "offered in: use1-az6" in finding.detail


def _bootstrap_account(value: str | None) -> StubbedAccount:
    account = StubbedAccount()
    if value is None:
        account.fail("ssm", "get_parameter", "ParameterNotFound")
    else:
        account.respond(
            "ssm",
            "get_parameter",
            {"Parameter": {"Name": "/cdk-bootstrap/hnb659fds/version", "Value": value}},
            Name="/cdk-bootstrap/hnb659fds/version",
        )
    return account


def test_a_recent_bootstrap_passes() -> None:
    account = _bootstrap_account("30")
    [finding] = check_bootstrap(account.context(), ("SmallLoRAStack",))
    assert finding.status is Status.PASS
    account.assert_done()


def test_no_bootstrap_is_a_blocker_with_the_command() -> None:
    account = _bootstrap_account(None)
    [finding] = check_bootstrap(account.context(), ("SmallLoRAStack",))
    assert finding.status is Status.BLOCKER
    assert "cdk bootstrap aws://111122223333/us-east-1" in finding.fix


def test_an_old_bootstrap_is_a_blocker() -> None:
    account = _bootstrap_account("5")
    [finding] = check_bootstrap(account.context(), ("SmallLoRAStack",))
    assert finding.status is Status.BLOCKER
    assert "version 5 is too old" in finding.detail


def test_the_required_version_comes_from_the_cloud_assembly(tmp_path: Path) -> None:
    manifest = {
        "artifacts": {
            "SmallLoRAStack": {
                "properties": {
                    "requiresBootstrapStackVersion": 21,
                    "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/custom/version",
                }
            }
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    version, parameter, _ = required_bootstrap(tmp_path, ("SmallLoRAStack",))
    assert (version, parameter) == (21, "/cdk-bootstrap/custom/version")
    account = StubbedAccount()
    account.respond(
        "ssm",
        "get_parameter",
        {"Parameter": {"Name": parameter, "Value": "20"}},
        Name=parameter,
    )
    [finding] = check_bootstrap(account.context(cdk_out=tmp_path), ("SmallLoRAStack",))
    assert finding.status is Status.BLOCKER


def test_without_a_cloud_assembly_the_default_synthesizer_version_applies(tmp_path: Path) -> None:
    assert required_bootstrap(tmp_path, ("SmallLoRAStack",))[:2] == (
        6,
        "/cdk-bootstrap/hnb659fds/version",
    )


COST_NEEDS = [
    CostTagNeed("stack", "SmallLoRAStack", "small_lora.observability.budget"),
    CostTagNeed("stack", "MediumFineTuneStack", "medium_fine_tune.observability.budget"),
]


def _tags_account(*tags: dict[str, str]) -> StubbedAccount:
    account = StubbedAccount()
    account.respond(
        "ce",
        "list_cost_allocation_tags",
        {"CostAllocationTags": list(tags)},
        TagKeys=["stack"],
        Type="UserDefined",
        region="us-east-1",
    )
    return account


def test_an_active_cost_allocation_tag_passes_once_for_every_budget() -> None:
    account = _tags_account({"TagKey": "stack", "Type": "UserDefined", "Status": "Active"})
    [finding] = check_cost_tags(account.context(), COST_NEEDS)
    assert finding.status is Status.PASS
    assert "SmallLoRAStack, MediumFineTuneStack" in finding.subject
    account.assert_done()


def test_an_inactive_cost_allocation_tag_is_a_warning_with_the_activation() -> None:
    account = _tags_account({"TagKey": "stack", "Type": "UserDefined", "Status": "Inactive"})
    [finding] = check_cost_tags(account.context(), COST_NEEDS)
    assert finding.status is Status.WARNING
    assert "TagKey=stack,Status=Active" in finding.fix


def test_an_unseen_cost_allocation_tag_is_a_warning() -> None:
    account = _tags_account()
    [finding] = check_cost_tags(account.context(), COST_NEEDS)
    assert finding.status is Status.WARNING
    assert "not seen in billing data" in finding.detail


def test_cost_explorer_access_denied_is_a_warning() -> None:
    account = StubbedAccount()
    account.fail("ce", "list_cost_allocation_tags", "AccessDeniedException", region="us-east-1")
    [finding] = check_cost_tags(account.context(), COST_NEEDS)
    assert finding.status is Status.WARNING
    assert "ce:ListCostAllocationTags" in finding.fix
