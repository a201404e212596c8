"""ModelPromotion (source account) and ModelPromotionTarget (target account): approve,
reject, re-approve, a status that moved on, and each step failing, from a package the LoRA
workflow really registered."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from workflows.aws_world import Cloud
from workflows.workflow_inputs import (
    TARGETS,
    package_state_change,
    promoted_event,
    put_dataset,
    results,
)

TAG = "cdk-llm-training-promoted"


def _registered_package(cloud: Cloud, machine_ids: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Train and register an adapter with the LoRA workflow; put its artifact in S3."""
    logical_id = machine_ids["lora"]
    execution = cloud.start(logical_id, put_dataset(cloud, logical_id))
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    ((arn, package),) = cloud.packages.items()
    bucket, _, key = package["CustomerMetadataProperties"]["adapterArtifact"][5:].partition("/")
    cloud.s3.put_object(Bucket=bucket, Key=key, Body=b"adapter")
    cloud.calls.clear()
    cloud.notifications.clear()
    return arn, package


def _tags(cloud: Cloud, package: dict[str, Any]) -> dict[str, str]:
    bucket, _, key = package["CustomerMetadataProperties"]["adapterArtifact"][5:].partition("/")
    tagging = cloud.s3.get_object_tagging(Bucket=bucket, Key=key)
    return {t["Key"]: t["Value"] for t in tagging["TagSet"]}


def _promote(cloud: Cloud, machine_ids: dict[str, str], arn: str, status: str) -> Any:
    group = cloud.packages[arn]["ModelPackageGroupName"]
    return cloud.start(machine_ids["promotion"], package_state_change(arn, group, status))


def test_approval_shares_opens_forwards_and_notifies(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    cloud.optional_fields = False  # only what the API guarantees
    arn, package = _registered_package(cloud, machine_ids)
    package["ModelApprovalStatus"] = "Approved"
    execution = _promote(cloud, machine_ids, arn, "Approved")
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert cloud.ops() == [
        "sagemaker:describeModelPackage",
        "sagemaker:putModelPackageGroupPolicy",
        "s3:putObjectTagging",
        "events:putEvents",
        "sns:publish",
    ]
    policy = json.loads(cloud.calls[1][1]["ResourcePolicy"])
    principals = policy["Statement"][0]["Principal"]["AWS"]
    assert principals == [f"arn:aws:iam::{a}:root" for a in TARGETS]
    assert _tags(cloud, package) == {TAG: "true"}
    (entry,) = cloud.calls[3][1]["Entries"]
    assert (entry["Source"], entry["DetailType"]) == (
        "cdk-llm-training.promotion",
        "Model Package Promoted",
    )
    assert entry["Detail"]["modelPackageArn"] == arn
    assert entry["Detail"]["artifact"] == package["CustomerMetadataProperties"]["adapterArtifact"]
    assert results(cloud) == ["PROMOTED"]
    assert cloud.notifications[0]["targetAccounts"] == list(TARGETS)


def test_target_registers_the_promoted_package_once(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    arn, package = _registered_package(cloud, machine_ids)
    package["ModelApprovalStatus"] = "Approved"
    assert _promote(cloud, machine_ids, arn, "Approved").status == "SUCCEEDED"
    detail = cloud.calls[3][1]["Entries"][0]["Detail"]
    event = promoted_event(detail)
    first = cloud.start(machine_ids["promotion_target"], event)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    copies = [p for op, p in cloud.calls if op == "sagemaker:createModelPackage"]
    (request,) = copies
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["ClientToken"] == hashlib.md5(arn.encode()).hexdigest()
    metadata = request["CustomerMetadataProperties"]
    assert metadata["sourceModelPackageArn"] == arn
    assert metadata["sourceAccount"] == "111111111111"
    # The evidence travels with the copy.
    source_metadata = package["CustomerMetadataProperties"]
    assert {k: metadata[k] for k in source_metadata} == source_metadata
    assert "InferenceSpecification" not in request
    assert results(cloud)[-1] == "REGISTERED"
    registered = cloud.notifications[-1]["modelPackageArn"]
    # The same event again (EventBridge may deliver twice, or a re-approval): same version.
    again = cloud.start(machine_ids["promotion_target"], copy.deepcopy(event))
    assert again.status == "SUCCEEDED"
    assert cloud.notifications[-1]["modelPackageArn"] == registered
    assert len(cloud.packages) == 2


def test_target_copies_the_inference_specification_when_there_is_one(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    arn, package = _registered_package(cloud, machine_ids)
    package["ModelApprovalStatus"] = "Approved"
    package["InferenceSpecification"] = {
        "Containers": [
            {
                "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/serving:1",
                "ModelDataUrl": package["CustomerMetadataProperties"]["adapterArtifact"],
            }
        ],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
    event = promoted_event({"modelPackageArn": arn, "modelPackageGroupName": "dev-adapters"})
    execution = cloud.start(machine_ids["promotion_target"], event)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    request = next(p for op, p in cloud.calls if op == "sagemaker:createModelPackage")
    assert request["InferenceSpecification"] == package["InferenceSpecification"]


def test_target_skips_a_package_no_longer_approved(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    arn, package = _registered_package(cloud, machine_ids)
    package["ModelApprovalStatus"] = "Rejected"
    event = promoted_event({"modelPackageArn": arn, "modelPackageGroupName": "dev-adapters"})
    execution = cloud.start(machine_ids["promotion_target"], event)
    assert execution.status == "SUCCEEDED"
    assert "sagemaker:createModelPackage" not in cloud.ops()
    assert results(cloud) == ["SKIPPED"]


def test_target_registration_failure_notifies(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    arn, package = _registered_package(cloud, machine_ids)
    package["ModelApprovalStatus"] = "Approved"
    cloud.raise_on["sagemaker:createModelPackage"] = ("SageMaker.ValidationException", "no")
    event = promoted_event({"modelPackageArn": arn, "modelPackageGroupName": "dev-adapters"})
    execution = cloud.start(machine_ids["promotion_target"], event)
    assert (execution.status, execution.error) == ("FAILED", "RegistrationFailed")
    assert results(cloud) == ["FAILED"]


def test_rejection_after_approval_withdraws_the_artifact_and_reapproval_restores_it(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    arn, package = _registered_package(cloud, machine_ids)
    package["ModelApprovalStatus"] = "Approved"
    assert _promote(cloud, machine_ids, arn, "Approved").status == "SUCCEEDED"
    assert _tags(cloud, package) == {TAG: "true"}
    package["ModelApprovalStatus"] = "Rejected"
    rejected = _promote(cloud, machine_ids, arn, "Rejected")
    assert rejected.status == "SUCCEEDED"
    assert _tags(cloud, package) == {}
    assert results(cloud) == ["PROMOTED", "REJECTED"]
    assert cloud.ops().count("events:putEvents") == 1  # nothing forwarded on rejection
    package["ModelApprovalStatus"] = "Approved"
    assert _promote(cloud, machine_ids, arn, "Approved").status == "SUCCEEDED"
    assert _tags(cloud, package) == {TAG: "true"}
    assert results(cloud) == ["PROMOTED", "REJECTED", "PROMOTED"]


def test_an_event_older_than_the_status_changes_nothing(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    arn, package = _registered_package(cloud, machine_ids)
    package["ModelApprovalStatus"] = "PendingManualApproval"
    execution = _promote(cloud, machine_ids, arn, "Approved")
    assert execution.status == "SUCCEEDED"
    assert cloud.ops() == ["sagemaker:describeModelPackage"]
    assert results(cloud) == []


@pytest.mark.parametrize(
    "broken",
    [
        "sagemaker:describeModelPackage",
        "sagemaker:putModelPackageGroupPolicy",
        "s3:putObjectTagging",
        "events:putEvents",
    ],
)
def test_each_promotion_step_failure_notifies(
    cloud: Cloud, machine_ids: dict[str, str], broken: str
) -> None:
    arn, package = _registered_package(cloud, machine_ids)
    package["ModelApprovalStatus"] = "Approved"
    cloud.raise_on[broken] = ("SageMaker.ValidationException", "broken on purpose")
    execution = _promote(cloud, machine_ids, arn, "Approved")
    assert (execution.status, execution.error) == ("FAILED", "PromotionFailed")
    assert results(cloud) == ["FAILED"]


def test_rejection_failure_notifies(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    arn, package = _registered_package(cloud, machine_ids)
    package["ModelApprovalStatus"] = "Rejected"
    cloud.raise_on["s3:deleteObjectTagging"] = ("S3.S3Exception", "broken on purpose")
    execution = _promote(cloud, machine_ids, arn, "Rejected")
    assert (execution.status, execution.error) == ("FAILED", "PromotionFailed")
    assert results(cloud) == ["FAILED"]
