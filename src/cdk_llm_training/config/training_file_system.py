"""Options for :class:`cdk_llm_training.TrainingFileSystem` (FSx for Lustre)."""

from __future__ import annotations

import posixpath
import re
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.sizing.fsx import (
    PERSISTENT_2_THROUGHPUT_TIERS,
    LustreDeploymentType,
    capacity_error,
    propose_lustre_sizing,
    throughput_error,
)
from cdk_llm_training.config.training_data_lake import DataZone
from cdk_llm_training.config.types import AvailabilityZoneId, S3Prefix

MAX_DATA_REPOSITORY_ASSOCIATIONS = 8
"""FSx for Lustre links at most 8 data repositories to one file system."""

METADATA_IOPS_SMALL: tuple[int, ...] = (1500, 3000, 6000, 12000)
METADATA_IOPS_STEP = 12000
METADATA_IOPS_MAX = 192000

_MAINTENANCE = re.compile(r"^[1-7]:([01][0-9]|2[0-3]):[0-5][0-9]$")
_FS_PATH = re.compile(r"^/[A-Za-z0-9_.\-/]*$")


class MetadataMode(StrEnum):
    """How metadata IOPS are provisioned (PERSISTENT_2)."""

    AUTOMATIC = "AUTOMATIC"
    """FSx scales metadata IOPS with storage capacity. The default."""
    USER_PROVISIONED = "USER_PROVISIONED"
    """You set ``metadata_iops``."""


def metadata_iops_allowed(iops: int) -> bool:
    """1500, 3000, 6000, 12000, then multiples of 12000 up to 192000."""
    return iops in METADATA_IOPS_SMALL or (
        iops % METADATA_IOPS_STEP == 0 and METADATA_IOPS_STEP <= iops <= METADATA_IOPS_MAX
    )


class DataRepositoryLink(FrozenModel):
    """One data repository association: a data-lake zone (or a prefix of it) linked to a
    directory of the file system. Import only unless ``auto_export`` opts in: with export,
    deleting a file on the file system deletes the S3 object."""

    zone: DataZone
    """The data-lake zone whose bucket is linked."""

    file_system_path: str
    """Directory on the file system, e.g. ``/data``. Must start with ``/``."""

    key_prefix: S3Prefix = ""
    """S3 key prefix inside the zone bucket (``checkpoints/``). Default: the whole bucket."""

    auto_import: bool = True
    """Import new, changed and deleted S3 objects automatically. Default on."""

    auto_export: bool = False
    """Export new, changed and deleted files to S3 automatically (``AutoExportPolicy`` NEW,
    CHANGED, DELETED): a node that deletes files under the link's directory then deletes
    the objects in S3. Default off (import only); the default checkpoints link turns it on."""

    import_metadata_on_create: bool = True
    """Load the metadata of existing objects when the association is created. Default on."""

    imported_file_chunk_size_mib: int = Field(default=1024, ge=1, le=512000)
    """Stripe size of imported files, MiB. Default 1024."""

    @field_validator("file_system_path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not _FS_PATH.match(value) or "//" in value or "/../" in f"{value}/":
            raise ValueError(
                f"file_system_path {value!r} must be an absolute directory such as '/data'; "
                "allowed characters: letters, digits, '_', '.', '-', '/'"
            )
        return value.rstrip("/") or "/"


DEFAULT_DATA_REPOSITORIES: tuple[DataRepositoryLink, ...] = (
    DataRepositoryLink(zone=DataZone.CURATED, file_system_path="/data", auto_export=False),
    DataRepositoryLink(
        zone=DataZone.ARTIFACTS,
        file_system_path="/checkpoints",
        key_prefix="checkpoints/",
        auto_export=True,
    ),
)
"""The curated zone at ``/data``, import only (training nodes cannot change or delete the
vetted dataset in S3), and the artifacts zone's ``checkpoints/`` prefix at ``/checkpoints``
with import and export (the prefix the data lake's checkpoint expiration applies to)."""

DEFAULT_BACKUP_RETENTION_DAYS = 7
"""Automatic daily backups kept by a PERSISTENT_2 file system without data repository
associations, unless ``automatic_backup_retention_days`` says otherwise."""


class FileSystemOptions(FrozenModel):
    """Plain-data options of the FSx for Lustre file system.

    Capacity and tier default to :func:`cdk_llm_training.tools.planner.propose_lustre_sizing` of
    ``dataset_bytes``, ``checkpoint_bytes`` and ``target_checkpoint_write_seconds`` (all
    defaults: the smallest file system, 1200 GiB at 125 MB/s per TiB).
    """

    deployment_type: LustreDeploymentType = LustreDeploymentType.PERSISTENT_2
    """PERSISTENT_2 (default) or SCRATCH_2."""

    availability_zone_id: AvailabilityZoneId | None = None
    """AZ ID the file system must be in (``use1-az4``). Default: not pinned. When set with a
    :class:`TrainingNetwork`, a different compute AZ ID is a synth error."""

    storage_capacity_gib: int | None = Field(default=None, gt=0)
    """Capacity, GiB. Default: proposed from the sizing inputs. Validated per deployment
    type, tier and EFA."""

    throughput_mb_per_s_per_tib: int | None = None
    """PERSISTENT_2 tier: 125, 250, 500 or 1000 MB/s per TiB. Default: proposed from the
    sizing inputs. Must be None for SCRATCH_2."""

    dataset_bytes: int = Field(default=0, ge=0)
    """Sizing input: bytes of training data held on the file system. Default 0."""

    checkpoint_bytes: int = Field(default=0, ge=0)
    """Sizing input: bytes of one checkpoint. Default 0."""

    checkpoints_kept: int = Field(default=2, ge=0, le=1000)
    """Sizing input: checkpoints kept on the file system at once. Default 2."""

    target_checkpoint_write_seconds: float = Field(default=600, gt=0)
    """Sizing input: seconds within which one checkpoint must be written. Default 600."""

    efa_enabled: bool = False
    """EFA and GPUDirect Storage support (PERSISTENT_2 only, set at creation). Default off."""

    metadata_mode: MetadataMode = MetadataMode.AUTOMATIC
    """Metadata IOPS provisioning of PERSISTENT_2. Default AUTOMATIC."""

    metadata_iops: int | None = None
    """Metadata IOPS with USER_PROVISIONED: 1500, 3000, 6000, 12000 or a multiple of 12000 up
    to 192000. Must be None with AUTOMATIC."""

    lz4_compression: bool = True
    """LZ4 data compression. Default on."""

    weekly_maintenance_start_time: str = "7:03:00"
    """Weekly maintenance window start, ``d:HH:MM`` in UTC with 1 = Monday. Default
    ``7:03:00`` (Sunday 03:00)."""

    automatic_backup_retention_days: int | None = Field(default=None, ge=0, le=90)
    """Days automatic daily backups are kept (PERSISTENT_2; 0 turns them off). Changing it
    later updates the file system in place. FSx for Lustre takes no backups of a file system
    linked to an S3 data repository, so a value above 0 needs ``data_repositories=()``.
    Default: 7 without data repositories, else 0 (S3 holds the data and the exported
    checkpoints)."""

    data_repositories: tuple[DataRepositoryLink, ...] = DEFAULT_DATA_REPOSITORIES
    """Data repository associations, at most 8. Default: curated zone at ``/data`` with
    automatic import only, and the artifacts zone's ``checkpoints/`` at ``/checkpoints`` with
    automatic import and export."""

    @model_validator(mode="before")
    @classmethod
    def _propose_missing_size(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("storage_capacity_gib") is not None and (
            data.get("throughput_mb_per_s_per_tib") is not None
            or data.get("deployment_type", "PERSISTENT_2") != "PERSISTENT_2"
        ):
            return data
        given_tier = data.get("throughput_mb_per_s_per_tib")
        tiers = PERSISTENT_2_THROUGHPUT_TIERS if given_tier is None else (given_tier,)
        try:
            deployment = LustreDeploymentType(data.get("deployment_type", "PERSISTENT_2"))
            sizing = propose_lustre_sizing(
                tiers=tuple(int(tier) for tier in tiers),
                dataset_bytes=int(data.get("dataset_bytes", 0)),
                checkpoint_bytes=int(data.get("checkpoint_bytes", 0)),
                checkpoints_kept=int(data.get("checkpoints_kept", 2)),
                target_checkpoint_write_seconds=float(
                    data.get("target_checkpoint_write_seconds", 600)
                ),
                deployment_type=deployment,
                efa_enabled=bool(data.get("efa_enabled", False)),
            )
        except (TypeError, ValueError, KeyError):
            return data  # field validation reports the bad input
        filled = dict(data)
        if filled.get("throughput_mb_per_s_per_tib") is None:
            filled["throughput_mb_per_s_per_tib"] = sizing.throughput_mb_per_s_per_tib
        if filled.get("storage_capacity_gib") is None:
            filled["storage_capacity_gib"] = sizing.storage_capacity_gib
        return filled

    @field_validator("weekly_maintenance_start_time")
    @classmethod
    def _check_maintenance(cls, value: str) -> str:
        if not _MAINTENANCE.match(value):
            raise ValueError(
                f"weekly_maintenance_start_time {value!r} is not d:HH:MM; allowed: day 1-7 "
                "(1 = Monday), hour 00-23, minute 00-59, e.g. '7:03:00'"
            )
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> FileSystemOptions:
        for message in self._errors():
            raise ValueError(message)
        return self

    def _errors(self) -> list[str]:
        deployment = self.deployment_type
        persistent = deployment is LustreDeploymentType.PERSISTENT_2
        errors: list[str] = []
        if self.efa_enabled and not persistent:
            errors.append(
                f"efa_enabled requires deployment_type PERSISTENT_2 (with a metadata "
                f"configuration and Lustre 2.15); got deployment_type {deployment.value}"
            )
        tier_error = throughput_error(deployment, self.throughput_mb_per_s_per_tib)
        if tier_error:
            errors.append(tier_error)
        elif self.storage_capacity_gib is not None:
            size_error = capacity_error(
                self.storage_capacity_gib,
                deployment,
                self.throughput_mb_per_s_per_tib,
                efa_enabled=self.efa_enabled and persistent,
            )
            if size_error:
                errors.append(size_error)
        if self.metadata_mode is MetadataMode.USER_PROVISIONED:
            if not persistent:
                errors.append(
                    "metadata_mode USER_PROVISIONED requires deployment_type PERSISTENT_2; "
                    f"got {deployment.value}"
                )
            elif self.metadata_iops is None or not metadata_iops_allowed(self.metadata_iops):
                errors.append(
                    f"metadata_iops {self.metadata_iops} is not valid with USER_PROVISIONED; "
                    "allowed: 1500, 3000, 6000, 12000 or a multiple of 12000 up to 192000"
                )
        elif self.metadata_iops is not None:
            errors.append(
                f"metadata_iops {self.metadata_iops} requires metadata_mode USER_PROVISIONED; "
                "allowed with AUTOMATIC: leave it unset"
            )
        if self.automatic_backup_retention_days and not persistent:
            errors.append(
                f"automatic_backup_retention_days {self.automatic_backup_retention_days} "
                "requires deployment_type PERSISTENT_2; allowed with SCRATCH_2: 0"
            )
        if self.automatic_backup_retention_days and self.data_repositories:
            errors.append(
                f"automatic_backup_retention_days {self.automatic_backup_retention_days} "
                f"with {len(self.data_repositories)} data_repositories: FSx for Lustre takes "
                "no backups of a file system linked to an S3 data repository; allowed: 0 (or "
                "unset), or data_repositories=() for backups"
            )
        errors.extend(self._repository_errors())
        return errors

    def _repository_errors(self) -> list[str]:
        links = self.data_repositories
        if len(links) > MAX_DATA_REPOSITORY_ASSOCIATIONS:
            return [
                f"data_repositories has {len(links)} associations; allowed: at most "
                f"{MAX_DATA_REPOSITORY_ASSOCIATIONS} per file system"
            ]
        paths = [link.file_system_path for link in links]
        for i, path in enumerate(paths):
            for other in paths[i + 1 :]:
                if path == "/" or other == "/" or _nested(path, other):
                    return [
                        f"data_repositories file_system_path {path!r} and {other!r} overlap; "
                        "allowed: distinct directories, neither inside the other ('/' only "
                        "for a single association)"
                    ]
        targets = [(link.zone, link.key_prefix) for link in links]
        for i, (zone, prefix) in enumerate(targets):
            for other_zone, other_prefix in targets[i + 1 :]:
                if zone == other_zone and (
                    prefix.startswith(other_prefix) or other_prefix.startswith(prefix)
                ):
                    return [
                        f"data_repositories link zone {zone.value!r} prefixes "
                        f"{prefix!r} and {other_prefix!r} that overlap; allowed: one "
                        "association per bucket prefix, neither inside the other"
                    ]
        return []

    @property
    def backup_retention_days(self) -> int:
        """Resolved ``automatic_backup_retention_days``: the given value, else 7 for a
        PERSISTENT_2 file system without data repositories, else 0."""
        if self.automatic_backup_retention_days is not None:
            return self.automatic_backup_retention_days
        persistent = self.deployment_type is LustreDeploymentType.PERSISTENT_2
        if persistent and not self.data_repositories:
            return DEFAULT_BACKUP_RETENTION_DAYS
        return 0

    @property
    def capacity_gib(self) -> int:
        """Storage capacity (always set after validation)."""
        assert self.storage_capacity_gib is not None
        return self.storage_capacity_gib


def _nested(a: str, b: str) -> bool:
    a_dir, b_dir = posixpath.join(a, ""), posixpath.join(b, "")
    return a_dir.startswith(b_dir) or b_dir.startswith(a_dir)
