"""Options for :class:`cdk_llm_training.TrainiumParallelCluster` and the ParallelCluster config.

This module is pure data: it imports pydantic only (never aws_cdk), so the offline schema check
can import it inside a virtual environment that holds the ``aws-parallelcluster`` package
(which pins CDK v1). :func:`to_cluster_configuration` turns the options plus the ids of the
network and storage resources into the ``ClusterConfiguration`` object of the
``Custom::PclusterCluster`` resource. The ids are plain strings: CloudFormation tokens at synth
time, concrete sample ids in the offline check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.types import LogRetentionDays

PARALLELCLUSTER_VERSION = "3.16.1"
"""The pinned AWS ParallelCluster version: provider template and offline schema check."""

TRAINIUM_INSTANCE_TYPES: tuple[str, ...] = ("trn1.32xlarge", "trn1n.32xlarge", "trn2.48xlarge")
"""Instance types allowed in a Trainium queue (all of them support EFA)."""

MAX_QUEUES = 50
"""ParallelCluster limit: Slurm queues per cluster."""

MAX_COMPUTE_RESOURCES = 50
"""ParallelCluster limit: compute resources per cluster (and per queue)."""

CLUSTER_NAME_MAX_LENGTH = 60
"""ParallelCluster limit on the cluster name."""

NAME_MAX_LENGTH = 25
"""ParallelCluster limit on queue and compute resource names."""

"""CloudWatch Logs retention values ParallelCluster accepts (0 = never expire is not offered)."""

NEURON_OS = "ubuntu2404"
"""The OS the packaged Neuron install script supports: Ubuntu 24.04 with its Python 3.12, the
OS and Python the Neuron setup guide names for PyTorch 2.9 (torch-neuronx); Amazon Linux 2023
has no PyTorch 2.9 for Neuron."""


class NeuronPretrainFramework(FrozenModel):
    """The pre-training framework of one Neuron release, pinned: what the ``neuron-pretrain``
    job template of ClusterTrainingRun runs and the install script puts into the Neuron
    virtual environment of every compute node."""

    name: str
    """What the framework is, in words."""
    neuron_pip_packages: tuple[tuple[str, str], ...]
    """(distribution, version) from the Neuron pip repository, without dependencies."""
    public_pip_packages: tuple[tuple[str, str], ...]
    """(distribution, version) from PyPI, with their dependencies."""
    examples_repository: str
    """Git repository of the training scripts (not a pip package: the job fetches them to
    FSx at :attr:`examples_commit`)."""
    examples_commit: str
    """Full commit id of the training scripts."""
    examples_dir: str
    """Folder of the Llama examples inside the repository."""


class NeuronRelease(FrozenModel):
    """One Neuron SDK release, pinned: the system packages and pip wheels the install script
    installs, all from that release's artifact list."""

    version: str
    """Neuron SDK release, e.g. ``2.31.0``."""
    framework: str
    """The training framework path of this release."""
    system_packages: tuple[tuple[str, str], ...]
    """(package, version) from the Neuron apt repository."""
    neuron_pip_packages: tuple[tuple[str, str], ...]
    """(distribution, version) installed only from the Neuron pip repository, without their
    dependencies."""
    public_pip_packages: tuple[tuple[str, str], ...]
    """(distribution, version) installed only from PyPI, with their dependencies (which also
    complete the Neuron packages' dependencies)."""
    pretrain: NeuronPretrainFramework | None = None
    """The pre-training framework of the release (installed when
    ``install_pretrain_framework`` is on). Default none."""


NEURON_RELEASES: dict[str, NeuronRelease] = {
    "2.31.0": NeuronRelease(
        version="2.31.0",
        framework="torch-neuronx 2.9 (PyTorch/XLA): the last Neuron release that ships it; "
        "the Neuron 2.32 setup guide tells torch-neuronx training users to pin 2.31.0",
        system_packages=(
            ("aws-neuronx-dkms", "2.29.0.0"),
            ("aws-neuronx-collectives", "2.33.10.0"),
            ("aws-neuronx-runtime-lib", "2.33.10.0"),
            ("aws-neuronx-tools", "2.31.13.0"),
        ),
        neuron_pip_packages=(
            ("neuronx-cc", "2.26.6360.0"),
            ("torch-neuronx", "2.9.0.2.15.32035"),
            ("libneuronxla", "2.2.17544.0"),
        ),
        public_pip_packages=(("torch", "2.9.0"),),
        pretrain=NeuronPretrainFramework(
            # Neuron 2.31 is the last release of the PyTorch/XLA training path (NxD Core and
            # NxD Training: "Archived Neuron Component Release Notes", Neuron 2.33 docs), the
            # only Neuron training path for trn1/trn1n; TorchNeuron and TorchTitan Neuron
            # (Neuron 2.33, beta) support Trn2/Trn3 only ("What is TorchTitan Neuron?").
            name="NxD Core (neuronx-distributed) Llama pre-training example: tensor parallel "
            "+ ZeRO-1 (tp_zero1_llama_hf_pretrain), torchrun, PyTorch/XLA",
            # neuronx_distributed 0.19.28492: Neuron 2.31.0 "Release Content" page.
            neuron_pip_packages=(("neuronx-distributed", "0.19.28492"),),
            # The example's requirements.txt at examples_commit: transformers==4.48.0,
            # datasets<=3.6.0, tensorboard (unpinned there; its logger imports it).
            public_pip_packages=(
                ("transformers", "4.48.0"),
                ("datasets", "3.6.0"),
                ("tensorboard", "2.19.0"),
            ),
            examples_repository="https://github.com/aws-neuron/neuronx-distributed.git",
            # "Release 2.29" on main, the newest commit of the repository this library could
            # read; whether its examples run unchanged on neuronx-distributed 0.19.28492
            # (Neuron 2.31) is unverified.
            examples_commit="fbac349b61a3adbb123c2983835af692840ff62f",
            examples_dir="examples/training/llama",
        ),
    ),
}
"""Pinned Neuron releases (versions from the Neuron release artifact lists)."""

DEFAULT_NEURON_RELEASE = "2.31.0"
"""The release the install script pins by default, for trn1, trn1n and trn2 alike.

Framework paths per family, from the Neuron release notes: trn1 and trn1n train with
torch-neuronx (PyTorch/XLA), last shipped in Neuron 2.31 (PyTorch 2.9); TorchNeuron, the
native PyTorch backend of Neuron 2.33 (PyTorch 2.13/2.14, beta), supports Trn2 and Trn3 only.
Neuron 2.31's torch-neuronx supports trn1, trn1n and trn2, so one release serves every
queue; for TorchNeuron on trn2 build a custom AMI."""

NEURON_OWNED_PREFIXES: tuple[str, ...] = (
    "neuron",
    "libneuron",
    "torch-neuron",
    "torch_neuron",
    "aws-neuron",
    "aws_neuron",
    "jax-neuron",
    "jax_neuron",
    "nki",
    "nrtpy",
    "libnrt",
)
"""Distribution names that must come from the Neuron repository, never from PyPI: the install
script aborts when the PyPI step would install one (dependency confusion)."""

_CLUSTER_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
_RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_CAPACITY_RESERVATION_ID = re.compile(r"^cr-[0-9a-f]{8}([0-9a-f]{9})?$")
_AMI_ID = re.compile(r"^ami-[0-9a-z]{8}([0-9a-z]{9})?$")
_CIDR = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:\d+)?(/[\w.~/-]*)?$")
_PINNED_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!-]*$")


class ParallelClusterOs(StrEnum):
    """Operating systems supported by ParallelCluster 3.16 (``Image.Os``)."""

    ALINUX2023 = "alinux2023"
    UBUNTU2204 = "ubuntu2204"
    UBUNTU2404 = "ubuntu2404"
    RHEL8 = "rhel8"
    RHEL9 = "rhel9"
    ROCKY8 = "rocky8"
    ROCKY9 = "rocky9"


class QueueCapacityType(StrEnum):
    """How a queue's instances are bought (``SlurmQueues[].CapacityType``)."""

    ONDEMAND = "ONDEMAND"
    """On-Demand, optionally inside an On-Demand Capacity Reservation."""
    SPOT = "SPOT"
    """Spot instances (interruptible)."""
    CAPACITY_BLOCK = "CAPACITY_BLOCK"
    """EC2 Capacity Blocks for ML: static nodes, reservation id required, no placement group."""


def check_cluster_name(name: str) -> str:
    """Raise ``ValueError`` unless ``name`` is a valid ParallelCluster cluster name."""
    if not _CLUSTER_NAME.match(name) or len(name) > CLUSTER_NAME_MAX_LENGTH:
        raise ValueError(
            f"cluster_name {name!r} is invalid: it must start with a letter, contain only "
            f"letters, digits and hyphens, and be at most {CLUSTER_NAME_MAX_LENGTH} characters "
            f"long (got {len(name)})."
        )
    return name


def _check_resource_name(kind: str, name: str) -> str:
    if not _RESOURCE_NAME.match(name) or len(name) > NAME_MAX_LENGTH or name == "default":
        raise ValueError(
            f"{kind} name {name!r} is invalid: it must start with a lowercase letter, contain "
            f"only lowercase letters, digits and hyphens, be at most {NAME_MAX_LENGTH} "
            "characters long and not be 'default'."
        )
    return name


class TrainiumComputeResource(FrozenModel):
    """One compute resource of a Trainium queue: an instance type and its node counts."""

    name: str = "trn1"
    """Compute resource name (lowercase letters, digits, hyphens; <= 25). Default ``trn1``."""

    instance_type: str = "trn1.32xlarge"
    """One of ``trn1.32xlarge``, ``trn1n.32xlarge``, ``trn2.48xlarge``. Default
    ``trn1.32xlarge``."""

    min_count: int = Field(default=0, ge=0)
    """Static nodes kept running. Default 0 (every node is dynamic)."""

    max_count: int = Field(default=16, ge=1)
    """Maximum nodes. Default 16."""

    capacity_reservation_id: str | None = None
    """On-Demand Capacity Reservation or Capacity Block id (``cr-...``). Default none."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_resource_name("compute resource", value)

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if value not in TRAINIUM_INSTANCE_TYPES:
            raise ValueError(
                f"instance_type {value!r} is not a Trainium instance type; a Trainium queue "
                f"accepts {', '.join(TRAINIUM_INSTANCE_TYPES)}."
            )
        return value

    @field_validator("capacity_reservation_id")
    @classmethod
    def _reservation(cls, value: str | None) -> str | None:
        if value is not None and not _CAPACITY_RESERVATION_ID.match(value):
            raise ValueError(
                f"capacity_reservation_id {value!r} is not a capacity reservation id "
                "(expected 'cr-' followed by 17 hexadecimal digits)."
            )
        return value

    @model_validator(mode="after")
    def _counts(self) -> TrainiumComputeResource:
        if self.min_count > self.max_count:
            raise ValueError(
                f"compute resource {self.name!r}: min_count ({self.min_count}) must not exceed "
                f"max_count ({self.max_count})."
            )
        return self


class TrainiumQueue(FrozenModel):
    """A Slurm queue of Trainium instances."""

    name: str = "compute"
    """Queue (partition) name (lowercase letters, digits, hyphens; <= 25). Default
    ``compute``."""

    compute_resources: tuple[TrainiumComputeResource, ...] = Field(
        default=(TrainiumComputeResource(),), min_length=1
    )
    """The queue's compute resources. Default one of 16 x trn1.32xlarge (dynamic)."""

    capacity_type: QueueCapacityType = QueueCapacityType.ONDEMAND
    """``ONDEMAND`` (default), ``SPOT`` or ``CAPACITY_BLOCK``."""

    efa_enabled: bool = True
    """Enable EFA on every compute resource. Default on. An EFA queue must use exactly one
    subnet (EFA traffic does not cross Availability Zones)."""

    placement_group_enabled: bool | None = None
    """Cluster placement group for the queue. Default: on, except for Capacity Blocks
    (which are already co-located and must not use one)."""

    job_exclusive_allocation: bool = True
    """Give each job whole nodes (``JobExclusiveAllocation``). Default on."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_resource_name("queue", value)

    @model_validator(mode="after")
    def _rules(self) -> TrainiumQueue:
        names = [cr.name for cr in self.compute_resources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"queue {self.name!r}: compute resource names must be unique; repeated: "
                f"{', '.join(duplicates)}."
            )
        if len(self.compute_resources) > MAX_COMPUTE_RESOURCES:
            raise ValueError(
                f"queue {self.name!r} has {len(self.compute_resources)} compute resources; "
                f"ParallelCluster allows at most {MAX_COMPUTE_RESOURCES}."
            )
        if self.capacity_type is QueueCapacityType.CAPACITY_BLOCK:
            if self.placement_group_enabled:
                raise ValueError(
                    f"queue {self.name!r}: placement_group_enabled must be false (or unset) "
                    "with capacity_type CAPACITY_BLOCK; Capacity Blocks do not use placement "
                    "groups."
                )
            for cr in self.compute_resources:
                if cr.capacity_reservation_id is None:
                    raise ValueError(
                        f"queue {self.name!r}: compute resource {cr.name!r} needs a "
                        "capacity_reservation_id (the Capacity Block id) with capacity_type "
                        "CAPACITY_BLOCK."
                    )
                if cr.min_count != cr.max_count or cr.min_count == 0:
                    raise ValueError(
                        f"queue {self.name!r}: compute resource {cr.name!r} has min_count "
                        f"{cr.min_count} and max_count {cr.max_count}; with capacity_type "
                        "CAPACITY_BLOCK both must be equal and greater than 0 (static nodes)."
                    )
        return self

    @property
    def uses_placement_group(self) -> bool:
        """Whether the queue gets a cluster placement group (resolved default)."""
        if self.placement_group_enabled is None:
            return self.capacity_type is not QueueCapacityType.CAPACITY_BLOCK
        return self.placement_group_enabled


class HeadNodeOptions(FrozenModel):
    """The Slurm head node."""

    instance_type: str = "c7i.4xlarge"
    """Head node instance type. Default ``c7i.4xlarge`` (16 vCPU, 32 GiB)."""

    root_volume_size_gib: int = Field(default=200, ge=40, le=16384)
    """Encrypted gp3 root volume size. Default 200 GiB."""

    key_name: str | None = None
    """EC2 key pair for SSH. Default none: connect with Session Manager."""

    ssh_allowed_cidr: str | None = None
    """CIDR allowed to reach SSH on the head node. Default: the VPC's CIDR (never
    ``0.0.0.0/0``)."""

    imds_secured: bool = True
    """Restrict IMDS on the head node to root and the cluster admin user
    (``HeadNode.Imds.Secured``). Default on."""

    @field_validator("ssh_allowed_cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is not None and not _CIDR.match(value):
            raise ValueError(
                f"ssh_allowed_cidr {value!r} is not an IPv4 CIDR block (e.g. 10.0.0.0/16)."
            )
        return value


class TrainiumClusterOptions(FrozenModel):
    """Plain-data options of the Trainium ParallelCluster. Every field has a default."""

    cluster_name: str = "trainium-pretrain"
    """ParallelCluster cluster name: starts with a letter, letters/digits/hyphens, <= 60
    characters, must differ from the stack name, immutable. Default ``trainium-pretrain``."""

    os: ParallelClusterOs = ParallelClusterOs.UBUNTU2404
    """Operating system (``Image.Os``). Default ``ubuntu2404``: the OS the Neuron setup guide
    names for torch-neuronx 2.9 (Python 3.12). ``install_neuron`` requires it."""

    custom_ami_id: str | None = None
    """AMI with the Neuron SDK pre-installed (``Image.CustomAmi``, built for ``os`` with
    ``pcluster build-image``): the production path and the closed-network path. Default
    none: the ParallelCluster AMI plus the Neuron OnNodeConfigured action."""

    install_neuron: bool = True
    """Run the packaged Neuron SDK install script as the compute nodes'
    ``OnNodeConfigured`` action. Default on; turn off with a Neuron custom AMI."""

    neuron_release: str = DEFAULT_NEURON_RELEASE
    """Neuron SDK release the install script pins (:data:`NEURON_RELEASES`). Default
    ``2.31.0``: torch-neuronx 2.9, for trn1, trn1n and trn2."""

    install_pretrain_framework: bool = True
    """Also install the release's pre-training framework (:attr:`NeuronRelease.pretrain`:
    neuronx-distributed and the example's Python packages, pinned) into the Neuron virtual
    environment, which the ``neuron-pretrain`` job template of ClusterTrainingRun needs.
    Default on."""

    neuron_python_packages: tuple[str, ...] = ()
    """Extra pip requirements for the Neuron virtual environment, each pinned with ``==``
    (e.g. ``neuronx-distributed==0.19.28492``). Neuron-named ones come from the Neuron
    repository, the others from PyPI. Default none."""

    neuron_mirror_url: str | None = None
    """Base URL of an in-VPC mirror of the repositories the install script reads: Neuron apt
    at ``<url>/apt`` (with ``GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB``), Neuron pip at
    ``<url>/pip``, PyPI at ``<url>/pypi/simple``. Default none: the public repositories (needs
    internet)."""

    closed_network: bool = False
    """The nodes have no internet access: sets ``Scheduling/SlurmSettings/Dns``
    ``DisableManagedDns`` and ``UseEc2Hostnames`` (ParallelCluster "no internet access"
    guide) and requires a Neuron custom AMI or ``neuron_mirror_url``. Default off; the large
    tier sets it from ``network.closed_network``."""

    head_node: HeadNodeOptions = HeadNodeOptions()
    """Head node settings. Default :class:`HeadNodeOptions`."""

    queues: tuple[TrainiumQueue, ...] = Field(default=(TrainiumQueue(),), min_length=1)
    """Slurm queues. Default one ``compute`` queue of 16 x trn1.32xlarge with EFA."""

    scaledown_idletime_minutes: int = Field(default=10, ge=1, le=43200)
    """Minutes an idle dynamic node lives before it is terminated. Default 10."""

    fsx_mount_dir: str = Field(default="/fsx", pattern=r"^/[A-Za-z0-9_./-]*$")
    """Where the FSx for Lustre file system is mounted on every node. Default ``/fsx``."""

    log_retention_days: LogRetentionDays = 30
    """CloudWatch Logs retention of the cluster logs. Default 30."""

    detailed_monitoring: bool = False
    """EC2 detailed (1-minute) monitoring on compute nodes. Default off."""

    deletion_policy: Literal["Delete", "Retain"] = "Delete"
    """What the ParallelCluster provider does with the cluster when the resource is removed.
    Default ``Delete`` (the data lives on FSx and S3, which are retained)."""

    @field_validator("cluster_name")
    @classmethod
    def _cluster_name(cls, value: str) -> str:
        return check_cluster_name(value)

    @field_validator("custom_ami_id")
    @classmethod
    def _ami(cls, value: str | None) -> str | None:
        if value is not None and not _AMI_ID.match(value):
            raise ValueError(f"custom_ami_id {value!r} is not an AMI id (ami-...).")
        return value

    @field_validator("neuron_release")
    @classmethod
    def _release(cls, value: str) -> str:
        if value not in NEURON_RELEASES:
            raise ValueError(
                f"neuron_release {value!r} is not pinned by this library; allowed: "
                f"{', '.join(NEURON_RELEASES)} (or a custom AMI with install_neuron false)"
            )
        return value

    @field_validator("neuron_python_packages")
    @classmethod
    def _pinned(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [item for item in value if not _PINNED_REQUIREMENT.match(item)]
        if bad:
            raise ValueError(
                f"neuron_python_packages {bad!r} are not pinned; allowed: 'name==version' "
                "(an exact version: an unpinned name can resolve to another index's package)"
            )
        return value

    @field_validator("neuron_mirror_url")
    @classmethod
    def _mirror(cls, value: str | None) -> str | None:
        if value is not None and not _HTTPS_URL.match(value):
            raise ValueError(
                f"neuron_mirror_url {value!r} is not an https URL; allowed: "
                "'https://host[:port]/path'"
            )
        return value.rstrip("/") if value is not None else None

    @model_validator(mode="after")
    def _limits(self) -> TrainiumClusterOptions:
        if len(self.queues) > MAX_QUEUES:
            raise ValueError(
                f"queues has {len(self.queues)} queues; ParallelCluster allows at most "
                f"{MAX_QUEUES}."
            )
        total = sum(len(q.compute_resources) for q in self.queues)
        if total > MAX_COMPUTE_RESOURCES:
            raise ValueError(
                f"queues have {total} compute resources in total; ParallelCluster allows at "
                f"most {MAX_COMPUTE_RESOURCES} per cluster."
            )
        names = [q.name for q in self.queues]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"queue names must be unique; repeated: {', '.join(duplicates)}.")
        if self.install_neuron and self.os.value != NEURON_OS:
            raise ValueError(
                f"install_neuron needs os {NEURON_OS!r} (the OS and Python 3.12 the Neuron "
                f"setup guide names for torch-neuronx 2.9); got {self.os.value!r}. Use "
                f"os {NEURON_OS!r}, or a Neuron custom AMI (custom_ami_id) with install_neuron "
                "false"
            )
        if self.closed_network and self.install_neuron and self.neuron_mirror_url is None:
            raise ValueError(
                "install_neuron downloads the Neuron SDK from the internet (Neuron apt and pip "
                "repositories, PyPI), which closed_network nodes cannot reach. Build a Neuron "
                "AMI with pcluster build-image and set custom_ami_id with install_neuron false, "
                "or set neuron_mirror_url to an in-VPC mirror of those repositories"
            )
        return self

    @property
    def neuron(self) -> NeuronRelease:
        """The pinned Neuron release the install script uses."""
        return NEURON_RELEASES[self.neuron_release]

    def neuron_script_args(self) -> list[str]:
        """Arguments of the Neuron install script: every pin of the release, the extra
        requirements split by index, and the mirror."""
        release = self.neuron
        args = ["--release", release.version]
        for name, version in release.system_packages:
            args += ["--apt", f"{name}={version}"]
        for name, version in release.neuron_pip_packages:
            args += ["--neuron-pip", f"{name}=={version}"]
        for name, version in release.public_pip_packages:
            args += ["--pypi", f"{name}=={version}"]
        if self.install_pretrain_framework and release.pretrain is not None:
            for name, version in release.pretrain.neuron_pip_packages:
                args += ["--neuron-pip", f"{name}=={version}"]
            for name, version in release.pretrain.public_pip_packages:
                args += ["--pypi", f"{name}=={version}"]
        for requirement in self.neuron_python_packages:
            name = requirement.split("==", 1)[0].lower()
            flag = "--neuron-pip" if name.startswith(NEURON_OWNED_PREFIXES) else "--pypi"
            args += [flag, requirement]
        if self.neuron_mirror_url is not None:
            args += ["--mirror", self.neuron_mirror_url]
        return args

    @property
    def max_nodes(self) -> int:
        """Total maximum compute nodes over every queue."""
        return sum(cr.max_count for q in self.queues for cr in q.compute_resources)


class EfaSubnetError(ValueError):
    """An EFA queue was given more than one subnet."""


def to_cluster_configuration(
    options: TrainiumClusterOptions,
    *,
    region: str,
    head_node_subnet_id: str,
    compute_subnet_id: str,
    security_group_ids: Sequence[str],
    file_system_id: str,
    ssh_allowed_cidr: str,
    queue_subnet_ids: Mapping[str, Sequence[str]] | None = None,
    neuron_script_url: str | None = None,
    extra_node_scripts: Sequence[str] = (),
    s3_read_access: Sequence[tuple[str, str | None]] = (),
    node_policy_arns: Sequence[str] = (),
    partition: str = "aws",
) -> dict[str, Any]:
    """The ParallelCluster ``ClusterConfiguration`` for ``options``.

    :param region: ``Region`` of the cluster (``AWS::Region`` at synth time).
    :param head_node_subnet_id: subnet of the head node.
    :param compute_subnet_id: the single-AZ compute subnet of every queue.
    :param security_group_ids: extra security groups (the EFA group) of every node.
    :param file_system_id: existing FSx for Lustre file system, mounted at
        ``options.fsx_mount_dir``.
    :param ssh_allowed_cidr: used when ``options.head_node.ssh_allowed_cidr`` is unset.
    :param queue_subnet_ids: per-queue subnet override (queue name -> subnet ids); an EFA queue
        accepts exactly one subnet.
    :param neuron_script_url: ``s3://`` URL of the Neuron install script; required when
        ``options.install_neuron`` is on.
    :param extra_node_scripts: ``s3://`` URLs of further ``OnNodeConfigured`` scripts, run in
        order after the Neuron script (without arguments).
    :param s3_read_access: ``(bucket name, key pattern or None)`` pairs every node may read.
    :param node_policy_arns: extra managed policies of every node (head and compute).
    :param partition: AWS partition of the managed policy ARNs (``AWS::Partition`` at synth).
    """
    policies = [
        {"Policy": arn}
        for arn in (
            f"arn:{partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
            *node_policy_arns,
        )
    ]
    overrides = dict(queue_subnet_ids or {})
    unknown = sorted(set(overrides) - {q.name for q in options.queues})
    if unknown:
        raise ValueError(
            f"queue_subnets names unknown queues: {', '.join(unknown)}; queues are "
            f"{', '.join(q.name for q in options.queues)}."
        )
    if options.install_neuron and neuron_script_url is None:
        raise ValueError("install_neuron is on but no neuron_script_url was given.")
    actions: list[dict[str, Any]] = []
    if options.install_neuron and neuron_script_url is not None:
        actions.append({"Script": neuron_script_url, "Args": options.neuron_script_args()})
    actions.extend({"Script": url} for url in extra_node_scripts)
    head = options.head_node
    head_node: dict[str, Any] = {
        "InstanceType": head.instance_type,
        "Networking": {
            "SubnetId": head_node_subnet_id,
            "AdditionalSecurityGroups": list(security_group_ids),
        },
        "Ssh": {"AllowedIps": head.ssh_allowed_cidr or ssh_allowed_cidr},
        "LocalStorage": {
            "RootVolume": {
                "Size": head.root_volume_size_gib,
                "Encrypted": True,
                "VolumeType": "gp3",
            }
        },
        "Iam": {"AdditionalIamPolicies": list(policies)},
        "Imds": {"Secured": head.imds_secured},
    }
    if head.key_name is not None:
        head_node["Ssh"]["KeyName"] = head.key_name

    s3_access = [
        {"BucketName": bucket, **({"KeyName": key} if key is not None else {})}
        for bucket, key in s3_read_access
    ]
    queues = [
        _queue(
            queue,
            subnet_ids=list(overrides.get(queue.name, [compute_subnet_id])),
            security_group_ids=security_group_ids,
            actions=actions,
            s3_access=s3_access,
            policies=policies,
        )
        for queue in options.queues
    ]
    image: dict[str, Any] = {"Os": options.os.value}
    if options.custom_ami_id is not None:
        image["CustomAmi"] = options.custom_ami_id
    return {
        "Region": region,
        "Imds": {"ImdsSupport": "v2.0"},
        "Image": image,
        "HeadNode": head_node,
        "Scheduling": {
            "Scheduler": "slurm",
            "SlurmSettings": _slurm_settings(options),
            "SlurmQueues": queues,
        },
        "SharedStorage": [
            {
                "Name": "fsx",
                "StorageType": "FsxLustre",
                "MountDir": options.fsx_mount_dir,
                "FsxLustreSettings": {"FileSystemId": file_system_id},
            }
        ],
        "Monitoring": {
            "DetailedMonitoring": options.detailed_monitoring,
            "Logs": {
                "CloudWatch": {
                    "Enabled": True,
                    "RetentionInDays": options.log_retention_days,
                    "DeletionPolicy": "Retain",
                }
            },
        },
    }


def _slurm_settings(options: TrainiumClusterOptions) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "QueueUpdateStrategy": "DRAIN",
        "ScaledownIdletime": options.scaledown_idletime_minutes,
    }
    if options.closed_network:
        # No Route 53 without internet: nodes resolve each other by EC2 host names.
        settings["Dns"] = {"DisableManagedDns": True, "UseEc2Hostnames": True}
    return settings


def _queue(
    queue: TrainiumQueue,
    *,
    subnet_ids: list[str],
    security_group_ids: Sequence[str],
    actions: list[dict[str, Any]],
    s3_access: list[dict[str, str]],
    policies: list[dict[str, str]],
) -> dict[str, Any]:
    if queue.efa_enabled and len(subnet_ids) != 1:
        raise EfaSubnetError(
            f"queue {queue.name!r} has EFA enabled and {len(subnet_ids)} subnets; an EFA queue "
            "must use exactly one subnet (EFA traffic does not cross Availability Zones)."
        )
    compute_resources: list[dict[str, Any]] = []
    for cr in queue.compute_resources:
        resource: dict[str, Any] = {
            "Name": cr.name,
            "InstanceType": cr.instance_type,
            "MinCount": cr.min_count,
            "MaxCount": cr.max_count,
            "Efa": {"Enabled": queue.efa_enabled},
        }
        if cr.capacity_reservation_id is not None:
            resource["CapacityReservationTarget"] = {
                "CapacityReservationId": cr.capacity_reservation_id
            }
        compute_resources.append(resource)
    networking: dict[str, Any] = {
        "SubnetIds": subnet_ids,
        "AdditionalSecurityGroups": list(security_group_ids),
        "PlacementGroup": {"Enabled": queue.uses_placement_group},
    }
    result: dict[str, Any] = {
        "Name": queue.name,
        "CapacityType": queue.capacity_type.value,
        "JobExclusiveAllocation": queue.job_exclusive_allocation,
        "Networking": networking,
        "ComputeResources": compute_resources,
        "Iam": {"AdditionalIamPolicies": list(policies)},
    }
    if s3_access:
        result["Iam"]["S3Access"] = s3_access
    if len(actions) == 1:
        result["CustomActions"] = {"OnNodeConfigured": actions[0]}
    elif actions:
        result["CustomActions"] = {"OnNodeConfigured": {"Sequence": actions}}
    return result
