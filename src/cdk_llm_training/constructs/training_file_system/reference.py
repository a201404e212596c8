"""How other constructs take a file system: :class:`LustreFileSystemLike` and the facts they
read from it (capacity, subnet), so each fact has one route from the file system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aws_cdk import Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_fsx as fsx


@runtime_checkable
class LustreFileSystemLike(Protocol):
    """An FSx for Lustre file system that Lustre clients mount.

    :class:`TrainingFileSystem` and ``fsx.LustreFileSystem`` are; for a file system created
    outside the app, pass :class:`LustreFileSystemAttributes`.
    """

    @property
    def file_system_id(self) -> str:
        """The file system ID (``fs-...``)."""
        ...

    @property
    def dns_name(self) -> str:
        """The DNS name clients mount."""
        ...

    @property
    def mount_name(self) -> str:
        """The Lustre mount name."""
        ...


@dataclass(frozen=True)
class LustreFileSystemAttributes:
    """An FSx for Lustre file system this app does not create, by its attributes."""

    file_system_id: str
    dns_name: str
    mount_name: str
    storage_capacity_gib: int | None = None
    """Capacity, when known. Default None: consumers use their own default."""
    subnet: ec2.ISubnet | None = None
    """The file system's subnet, to check clients share its AZ. Default None: not checked."""


def storage_capacity_of(file_system: LustreFileSystemLike) -> int | None:
    """The capacity in GiB when it is known at synth: a :class:`TrainingFileSystem`'s
    options, the attributes given, or an ``fsx.LustreFileSystem``'s literal capacity."""
    if isinstance(file_system, fsx.LustreFileSystem):
        cfn = file_system.node.default_child
        capacity = cfn.storage_capacity if isinstance(cfn, fsx.CfnFileSystem) else None
        if capacity is None or Token.is_unresolved(capacity):
            return None
        return int(capacity)
    capacity = getattr(file_system, "storage_capacity_gib", None)
    return capacity if isinstance(capacity, int) else None


def subnet_of(file_system: LustreFileSystemLike) -> ec2.ISubnet | None:
    """The file system's subnet when the object knows it (:class:`TrainingFileSystem`,
    :class:`LustreFileSystemAttributes` with ``subnet``), else None."""
    subnet: ec2.ISubnet | None = getattr(file_system, "subnet", None)
    return subnet
