"""The file system's data repository associations and the key-policy statement FSx needs
to reach SSE-KMS buckets through S3."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aws_cdk import Annotations, Aws
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_llm_training.config.training_data_lake import DataZone
from cdk_llm_training.config.training_file_system import DataRepositoryLink
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

FSX_S3_SERVICE_LINKED_ROLE_PATH = "aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/"
"""Path of the per-file-system service-linked roles FSx uses to reach linked S3 buckets."""

_EVENTS = ["NEW", "CHANGED", "DELETED"]


def repository_buckets(
    links: Sequence[DataRepositoryLink],
    data_lake: TrainingDataLake | None,
    explicit: Mapping[DataZone, s3.IBucket] | None,
) -> dict[DataZone, s3.IBucket]:
    """The bucket of each zone: the lake's, or the explicit ones (never both: the caller
    checked). Fails when a linked zone has no bucket."""
    buckets: dict[DataZone, s3.IBucket] = (
        {zone: data_lake.bucket(zone) for zone in DataZone}
        if data_lake is not None
        else dict(explicit or {})
    )
    missing = sorted({link.zone.value for link in links} - {zone.value for zone in buckets})
    if missing:
        raise ValueError(
            f"data_repositories link zones {missing} but no bucket is known for them; "
            "allowed: pass data_lake= or zone_buckets= for every linked zone, or "
            "data_repositories=() for no association"
        )
    return buckets


def associate(
    scope: Construct, file_system_id: str, link: DataRepositoryLink, bucket: s3.IBucket
) -> fsx.CfnDataRepositoryAssociation:
    """The association of ``link`` to ``bucket``, named after its file-system path."""
    path = f"s3://{bucket.bucket_name}/{link.key_prefix}".rstrip("/")
    if link.key_prefix:
        path += "/"
    s3_config = fsx.CfnDataRepositoryAssociation.S3Property(
        auto_import_policy=(
            fsx.CfnDataRepositoryAssociation.AutoImportPolicyProperty(events=_EVENTS)
            if link.auto_import
            else None
        ),
        auto_export_policy=(
            fsx.CfnDataRepositoryAssociation.AutoExportPolicyProperty(events=_EVENTS)
            if link.auto_export
            else None
        ),
    )
    return fsx.CfnDataRepositoryAssociation(
        scope,
        _association_id(link.file_system_path),
        file_system_id=file_system_id,
        file_system_path=link.file_system_path,
        data_repository_path=path,
        batch_import_meta_data_on_create=link.import_metadata_on_create,
        imported_file_chunk_size=link.imported_file_chunk_size_mib,
        s3=s3_config,
    )


def grant_fsx_use_of_keys(
    scope: Construct,
    links: Sequence[DataRepositoryLink],
    buckets: Mapping[DataZone, s3.IBucket],
    repository_key: kms.IKey | None,
    associations: Sequence[fsx.CfnDataRepositoryAssociation],
) -> None:
    """Let the FSx S3 service-linked roles use the bucket keys through S3.

    FSx reaches a linked bucket with a service-linked role per file system
    (``AWSServiceRoleForFSxS3Access_fs-...``); for SSE-KMS buckets the key policy must
    allow it. The role name holds the file system ID, which would make the key depend on
    the file system (a cycle when the file system uses the same key), so the statement
    matches these roles by ``aws:PrincipalArn`` pattern, and is scoped to this account and
    to calls through S3 of this Region. It does not name the buckets in an encryption
    context condition: the key policy would then reference buckets that depend on the key
    (a CloudFormation cycle). ``repository_key`` (explicit buckets only) wins over each
    bucket's own ``encryption_key``.
    """
    keys: dict[str, kms.IKey] = {}
    unknown_zones: set[str] = set()
    for link in links:
        bucket_key = repository_key or buckets[link.zone].encryption_key
        if bucket_key is None:
            unknown_zones.add(link.zone.value)
            continue
        keys.setdefault(bucket_key.node.path, bucket_key)
    for key in keys.values():
        result = key.add_to_resource_policy(_fsx_key_statement(), allow_no_op=True)
        if not result.statement_added:
            Annotations.of(scope).add_warning_v2(
                "cdk-llm-training/training-file-system:bucketKeyPolicyNotManaged",
                "The KMS key of a linked bucket is not managed by this app: allow the FSx "
                "service-linked roles (AWSServiceRoleForFSxS3Access_*) to use it through S3.",
            )
        elif isinstance(key, kms.Key):
            for association in associations:
                association.node.add_dependency(key)
    if unknown_zones:
        Annotations.of(scope).add_info(
            f"The KMS key of the buckets of zones {sorted(unknown_zones)} is unknown: if "
            "they are SSE-KMS encrypted, pass repository_key= or allow the FSx "
            "service-linked roles (AWSServiceRoleForFSxS3Access_*) in its key policy."
        )


def _fsx_key_statement() -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="AllowFSxLustreDataRepositoriesThroughS3",
        principals=[iam.AnyPrincipal()],
        actions=[
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
        ],
        resources=["*"],
        conditions={
            "ArnLike": {
                "aws:PrincipalArn": (
                    f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/"
                    f"{FSX_S3_SERVICE_LINKED_ROLE_PATH}AWSServiceRoleForFSxS3Access_*"
                )
            },
            "StringEquals": {
                "kms:CallerAccount": Aws.ACCOUNT_ID,
                "kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com",
            },
        },
    )


def _association_id(file_system_path: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", file_system_path)
    return "DataRepository" + ("".join(w[:1].upper() + w[1:] for w in words) or "Root")
