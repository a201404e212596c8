"""TrainingDataLake: defaults, every option, grants and validation failures."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import DataLakeOptions, DataZone, TrainingDataLake

ZONE_LOGICAL_PREFIXES = ("LakeRaw", "LakeCurated", "LakeArtifacts")
EXAMPLE_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def _lake_template(**kwargs: Any) -> Template:
    stack = new_stack()
    TrainingDataLake(stack, "Lake", **kwargs)
    return template_of(stack)


def _zone_buckets(template: Template) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in resources_of_type(template, "AWS::S3::Bucket").items()
        if logical_id.startswith(ZONE_LOGICAL_PREFIXES)
    }


@pytest.fixture(scope="module")
def default_template() -> Template:
    """`TrainingDataLake(self, "Lake")` with no arguments, in a cdk-nag-checked app: building
    it at all proves the README's promise that the default passes AwsSolutions."""
    return _lake_template()


# -- defaults ------------------------------------------------------------------------------


def test_default_creates_three_zones_and_an_access_log_bucket(default_template: Template) -> None:
    default_template.resource_count_is("AWS::S3::Bucket", 4)
    default_template.resource_count_is("AWS::KMS::Key", 1)
    assert len(_zone_buckets(default_template)) == 3


def test_default_key_rotates_and_is_retained(default_template: Template) -> None:
    default_template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": {"EnableKeyRotation": True},
            "DeletionPolicy": "RetainExceptOnCreate",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_default_zone_buckets_are_kms_encrypted_with_bucket_keys(
    default_template: Template,
) -> None:
    key_id = next(iter(resources_of_type(default_template, "AWS::KMS::Key")))
    for bucket in _zone_buckets(default_template).values():
        encryption = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption == [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                    "SSEAlgorithm": "aws:kms",
                },
            }
        ]


def test_default_zone_buckets_are_private_versioned_retained_and_logged(
    default_template: Template,
) -> None:
    for logical_id, bucket in _zone_buckets(default_template).items():
        props = bucket["Properties"]
        assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"
        assert bucket["UpdateReplacePolicy"] == "Retain"
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        zone = logical_id.removeprefix("Lake").rstrip("0123456789ABCDEF").lower()
        assert props["LoggingConfiguration"]["LogFilePrefix"] == f"{zone}/"


def test_default_access_log_bucket_is_sse_s3_with_expiry(default_template: Template) -> None:
    default_template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "LifecycleConfiguration": {
                        "Rules": [
                            Match.object_like({"ExpirationInDays": 365, "Id": "ExpireAccessLogs"})
                        ]
                    },
                }
            ),
            "DeletionPolicy": "RetainExceptOnCreate",
        },
    )


def test_default_bucket_policies_deny_plain_http_and_old_tls(default_template: Template) -> None:
    policies = resources_of_type(default_template, "AWS::S3::BucketPolicy")
    assert len(policies) == 4
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        conditions = [s["Condition"] for s in statements if s["Effect"] == "Deny"]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_default_lifecycle_aborts_uploads_and_expires_old_versions(
    default_template: Template,
) -> None:
    for bucket in _zone_buckets(default_template).values():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert rules == [
            {
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                "Id": "AbortIncompleteUploadsAndExpireOldVersions",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                "Status": "Enabled",
            }
        ]


def test_default_sends_events_to_eventbridge_without_a_custom_resource(
    default_template: Template,
) -> None:
    for bucket in _zone_buckets(default_template).values():
        assert bucket["Properties"]["NotificationConfiguration"] == {
            "EventBridgeConfiguration": {"EventBridgeEnabled": True}
        }
    default_template.resource_count_is("AWS::Lambda::Function", 0)
    default_template.resource_count_is("Custom::S3BucketNotifications", 0)


def test_default_template_is_cfn_lint_clean(default_template: Template) -> None:
    assert cfn_lint_findings(default_template.to_json()) == []


# -- options -------------------------------------------------------------------------------


def test_raw_zone_intelligent_tiering_option() -> None:
    template = _lake_template(options=DataLakeOptions(raw_intelligent_tiering_after_days=30))
    raw = next(b for lid, b in _zone_buckets(template).items() if lid.startswith("LakeRaw"))
    assert {
        "Id": "RawToIntelligentTiering",
        "Status": "Enabled",
        "Transitions": [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30}],
    } in raw["Properties"]["LifecycleConfiguration"]["Rules"]
    others = [b for lid, b in _zone_buckets(template).items() if not lid.startswith("LakeRaw")]
    for bucket in others:
        assert len(bucket["Properties"]["LifecycleConfiguration"]["Rules"]) == 1


def test_checkpoint_expiration_and_custom_retention_options() -> None:
    options = DataLakeOptions(
        checkpoint_expiration_days=14,
        noncurrent_version_expiration_days=30,
        abort_incomplete_multipart_upload_days=2,
        access_log_retention_days=90,
        event_bridge_enabled=False,
    )
    template = _lake_template(options=options)
    buckets = _zone_buckets(template)
    artifacts = next(b for lid, b in buckets.items() if lid.startswith("LakeArtifacts"))
    rules = artifacts["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {
        "ExpirationInDays": 14,
        "Id": "ExpireCheckpoints",
        "Prefix": "checkpoints/",
        "Status": "Enabled",
    } in rules
    assert rules[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    for bucket in buckets.values():
        assert "NotificationConfiguration" not in bucket["Properties"]
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {"LifecycleConfiguration": {"Rules": [Match.object_like({"ExpirationInDays": 90})]}},
    )


def test_bring_your_own_key() -> None:
    stack = new_stack()
    key = kms.Key.from_key_arn(
        stack, "Existing", "arn:aws:kms:us-east-1:111122223333:key/" + EXAMPLE_KEY_ID
    )
    lake = TrainingDataLake(stack, "Lake", key=key)
    template = template_of(stack)
    template.resource_count_is("AWS::KMS::Key", 0)
    assert lake.key is key
    for bucket in _zone_buckets(template).values():
        default = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert default["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key.key_arn


def test_bring_your_own_buckets_for_every_zone_creates_no_bucket() -> None:
    stack = new_stack()
    existing = {
        zone: s3.Bucket.from_bucket_name(stack, f"Existing{zone.value}", f"corp-{zone.value}")
        for zone in DataZone
    }
    lake = TrainingDataLake(stack, "Lake", zone_buckets=existing)
    template = template_of(stack)
    template.resource_count_is("AWS::S3::Bucket", 0)
    assert lake.access_logs_bucket is None
    assert lake.curated_bucket is existing[DataZone.CURATED]
    assert lake.bucket(DataZone.RAW) is existing[DataZone.RAW]


def test_bring_your_own_bucket_for_one_zone_and_your_own_log_bucket() -> None:
    stack = new_stack()
    raw = s3.Bucket.from_bucket_name(stack, "ExistingRaw", "corp-raw")
    logs = s3.Bucket.from_bucket_name(stack, "ExistingLogs", "corp-access-logs")
    lake = TrainingDataLake(
        stack, "Lake", zone_buckets={DataZone.RAW: raw}, access_logs_bucket=logs
    )
    template = template_of(stack)
    template.resource_count_is("AWS::S3::Bucket", 2)
    assert lake.raw_bucket is raw
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LoggingConfiguration": {
                "DestinationBucketName": "corp-access-logs",
                "LogFilePrefix": "curated/",
            }
        },
    )


def test_removal_policy_destroy_option() -> None:
    template = _lake_template(removal_policy=RemovalPolicy.DESTROY)
    for resource in {
        **resources_of_type(template, "AWS::S3::Bucket"),
        **resources_of_type(template, "AWS::KMS::Key"),
    }.values():
        assert resource["DeletionPolicy"] == "Delete"


# -- grants --------------------------------------------------------------------------------


def _role_policy_statements(template: Template) -> list[dict[str, Any]]:
    policies = resources_of_type(template, "AWS::IAM::Policy")
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_grant_read_scopes_objects_to_the_prefix_and_allows_decrypt() -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    role = iam.Role(stack, "Trainer", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    grant = lake.grant_read(role, zone=DataZone.CURATED, key_prefix="finetune/")
    assert isinstance(grant, iam.Grant)
    assert grant.success
    statements = _role_policy_statements(template_of(stack))
    s3_statement = next(s for s in statements if "s3:GetObject*" in s["Action"])
    assert "s3:PutObject" not in s3_statement["Action"]
    resources = s3_statement["Resource"]
    curated_id = next(
        lid
        for lid in resources_of_type(template_of(stack), "AWS::S3::Bucket")
        if lid.startswith("LakeCurated")
    )
    assert {"Fn::GetAtt": [curated_id, "Arn"]} in resources
    assert {"Fn::Join": ["", [{"Fn::GetAtt": [curated_id, "Arn"]}, "/finetune/*"]]} in resources
    kms_statement = next(s for s in statements if "kms:Decrypt" in s["Action"])
    assert "kms:Encrypt" not in kms_statement["Action"]


def test_grant_write_and_read_write() -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    writer = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    lake.grant_write(writer, zone=DataZone.ARTIFACTS, key_prefix="reports/")
    lake.grant_read_write(writer, zone=DataZone.RAW)
    statements = _role_policy_statements(template_of(stack))
    actions = [
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert "s3:PutObject" in actions
    assert "s3:DeleteObject*" in actions
    assert "kms:Encrypt" in actions


# -- validation ----------------------------------------------------------------------------


def test_fails_key_prefix_with_wildcard() -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    role = iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(
        ValueError,
        match=r"^key_prefix 'data/\*' must be a literal S3 key "
        r"prefix; wildcards \('\*', '\?'\) are not allowed\.$",
    ):
        lake.grant_read(role, zone=DataZone.RAW, key_prefix="data/*")


def test_fails_key_prefix_with_leading_slash() -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    role = iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(
        ValueError,
        match=r"^key_prefix '/data/' must not start with '/'; S3 keys have no leading slash\.$",
    ):
        lake.grant_read(role, zone=DataZone.RAW, key_prefix="/data/")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("abort_incomplete_multipart_upload_days", 0, "Input should be greater than or equal to 1"),
        ("noncurrent_version_expiration_days", 0, "Input should be greater than or equal to 1"),
        ("raw_intelligent_tiering_after_days", -1, "Input should be greater than or equal to 0"),
        ("checkpoint_expiration_days", 0, "Input should be greater than or equal to 1"),
        ("access_log_retention_days", 4000, "Input should be less than or equal to 3650"),
    ],
)
def test_fails_option_out_of_range(field: str, value: int, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        DataLakeOptions.model_validate({field: value})
    (item,) = error.value.errors()
    assert item["loc"] == (field,)
    assert item["msg"] == message


def test_fails_unknown_option() -> None:
    with pytest.raises(ValidationError) as error:
        DataLakeOptions.model_validate({"versioning": False})
    (item,) = error.value.errors()
    assert (item["loc"], item["msg"]) == (("versioning",), "Extra inputs are not permitted")


def test_works_in_an_app_without_feature_flags() -> None:
    """A user's app may lack cdk.json's flags; the lake must not depend on them (without
    serverAccessLogsUseBucketPolicy, the L2 logging prop would switch the log bucket to ACLs)."""
    import aws_cdk as cdk

    stack = cdk.Stack(cdk.App(), "Bare")
    TrainingDataLake(stack, "Lake")
    policies = resources_of_type(Template.from_stack(stack), "AWS::S3::BucketPolicy")
    logging_statements = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert sorted(s["Sid"] for s in logging_statements) == [
        "S3ServerAccessLogsArtifacts",
        "S3ServerAccessLogsCurated",
        "S3ServerAccessLogsRaw",
    ]
    assert all("aws:SourceArn" in s["Condition"]["ArnLike"] for s in logging_statements)
