"""TrainingFileSystem: FSx for Lustre linked to the data lake by data repository associations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import Duration, RemovalPolicy, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_llm_training.config.sizing.fsx import LustreDeploymentType
from cdk_llm_training.config.training_data_lake import DataZone
from cdk_llm_training.config.training_file_system import FileSystemOptions, MetadataMode
from cdk_llm_training.constructs._bring_your_own import none_with
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.constructs.training_file_system.repositories import (
    associate,
    grant_fsx_use_of_keys,
    repository_buckets,
)
from cdk_llm_training.constructs.training_file_system.security import (
    allow_all_traffic,
    create_security_group,
)
from cdk_llm_training.constructs.training_network import LUSTRE_PORTS, TrainingNetwork

_WEEKDAYS = [
    fsx.Weekday.MONDAY,
    fsx.Weekday.TUESDAY,
    fsx.Weekday.WEDNESDAY,
    fsx.Weekday.THURSDAY,
    fsx.Weekday.FRIDAY,
    fsx.Weekday.SATURDAY,
    fsx.Weekday.SUNDAY,
]


@jsii.implements(ec2.IConnectable)
class TrainingFileSystem(Construct):
    """FSx for Lustre for training: PERSISTENT_2, Lustre 2.15, LZ4, metadata configuration,
    linked to the data lake (data imported only, checkpoints imported and exported).

    Defaults (see :class:`FileSystemOptions`): PERSISTENT_2, capacity and tier proposed by
    :func:`cdk_llm_training.tools.planner.propose_lustre_sizing` (1200 GiB at 125 MB/s per TiB
    with no sizing inputs), metadata AUTOMATIC, LZ4, weekly maintenance Sunday 03:00 UTC,
    encrypted with the data lake's KMS key (or ``key``),
    ``RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE``. Data
    repository associations: the curated zone at ``/data``, importing NEW, CHANGED and DELETED
    objects but exporting nothing (a node that deletes ``/fsx/data`` cannot delete the vetted
    dataset in S3; opt in per link with ``auto_export``), and the artifacts zone's
    ``checkpoints/`` at ``/checkpoints``, importing and exporting, so checkpoints written there
    land in S3. Automatic backups: 7 days without data repositories, else off (FSx takes no
    backups of a linked file system). The lake key's policy lets the FSx service-linked roles of
    this account use it through S3 for these buckets only.

    Network: pass ``network`` (a :class:`TrainingNetwork`: its VPC, compute subnet, Lustre
    security group and compute nodes as clients) or ``vpc`` + ``subnet`` (+ ``security_group``,
    ``clients`` and ``compute_subnet``), not both. Buckets: ``data_lake`` or ``zone_buckets``
    (+ ``data_key``), not both. Without a security group, one is created with the Lustre
    rules (TCP 988 and 1018-1023 to and from itself); EFA-enabled file systems also get all
    traffic to and from themselves and their clients.

    Example::

        fs = TrainingFileSystem(self, "Fsx", network=network, data_lake=lake)
        fs.mount_command  # sudo mount -t lustre -o relatime,flock <dns>@tcp:/<mount> /fsx
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: FileSystemOptions | None = None,
        network: TrainingNetwork | None = None,
        vpc: ec2.IVpc | None = None,
        subnet: ec2.ISubnet | None = None,
        security_group: ec2.ISecurityGroup | None = None,
        clients: Sequence[ec2.IConnectable] = (),
        compute_subnet: ec2.ISubnet | None = None,
        data_lake: TrainingDataLake | None = None,
        zone_buckets: Mapping[DataZone, s3.IBucket] | None = None,
        data_key: kms.IKey | None = None,
        key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the file system and its data repository associations.

        :param options: plain-data settings. Default ``FileSystemOptions()``.
        :param network: the training network: supplies the VPC, the subnet (its compute
            subnet), the security group (its Lustre group), the clients (its compute nodes)
            and the compute subnet. Its AZ ID is checked against
            ``options.availability_zone_id``. Not with ``vpc``, ``subnet``,
            ``security_group``, ``clients`` or ``compute_subnet``.
        :param vpc: the VPC. Required without ``network``.
        :param subnet: the subnet of the file system (one AZ). Required without ``network``.
        :param security_group: security group of the file system. Default: a new group with
            the Lustre rules.
        :param clients: what mounts the file system; they get the Lustre ports (all traffic
            when EFA is enabled). Default: none (add more later with :meth:`allow_client`).
        :param compute_subnet: subnet of the clients, to check it is in the file system's AZ
            when both AZs are known at synth. Default: not checked.
        :param data_lake: the lake whose zones the data repositories link. Not with
            ``zone_buckets`` or ``data_key``.
        :param zone_buckets: your own buckets by zone, instead of ``data_lake``.
        :param data_key: KMS key of ``zone_buckets``; its policy gets the FSx statement.
            Default: each bucket's own ``encryption_key`` (unknown for imported buckets,
            which is reported as info; the lake key for ``data_lake``).
        :param key: KMS key of the file system (PERSISTENT_2). Default: the lake key, else
            a new customer-managed key with rotation (retained like the file system).
        :param removal_policy: Default ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "TrainingFileSystem")
        self.options = opts = options or FileSystemOptions()
        none_with(
            "TrainingFileSystem",
            ("network", network),
            {
                "vpc": vpc,
                "subnet": subnet,
                "security_group": security_group,
                "clients": clients,
                "compute_subnet": compute_subnet,
            },
            because="the network supplies them",
        )
        none_with(
            "TrainingFileSystem",
            ("data_lake", data_lake),
            {"zone_buckets": zone_buckets, "data_key": data_key},
            because="the lake supplies its zone buckets and key",
        )
        if network is not None:
            vpc = network.vpc
            subnet = network.compute_subnet
            security_group = network.lustre_security_group
            clients = [network]
            compute_subnet = network.compute_subnet
            self._check_az_ids(network)
        if vpc is None or subnet is None:
            raise ValueError(
                "TrainingFileSystem needs network=, or both vpc= and subnet=; got "
                f"vpc={'set' if vpc else None}, subnet={'set' if subnet else None}"
            )
        if compute_subnet is not None:
            _check_az_names(subnet, compute_subnet)
        persistent = opts.deployment_type is LustreDeploymentType.PERSISTENT_2
        buckets = repository_buckets(opts.data_repositories, data_lake, zone_buckets)
        self.subnet: ec2.ISubnet = subnet
        """The subnet (one AZ) of the file system."""
        self.security_group: ec2.ISecurityGroup = security_group or create_security_group(self, vpc)
        self.key: kms.IKey | None = None
        if persistent:
            # Never the AWS-managed aws/fsx key: it cannot be audited or revoked (LLM-FSX1).
            self.key = (
                key
                or (data_lake.key if data_lake else None)
                or kms.Key(
                    self,
                    "Key",
                    description="Encrypts the FSx for Lustre training file system.",
                    enable_key_rotation=True,
                    removal_policy=removal_policy,
                )
            )

        self.resource = fsx.LustreFileSystem(
            self,
            "Resource",
            vpc=vpc,
            vpc_subnet=subnet,
            storage_capacity_gib=opts.capacity_gib,
            file_system_type_version=fsx.FileSystemTypeVersion.V_2_15,
            kms_key=self.key,
            security_group=self.security_group,
            removal_policy=removal_policy,
            lustre_configuration=self._lustre_configuration(),
        )
        self._add_overrides()
        self._connections = self.resource.connections
        for client in clients:
            self.allow_client(client)
        if opts.efa_enabled:
            allow_all_traffic(self, self.security_group, self.security_group)

        self.data_repository_associations: list[fsx.CfnDataRepositoryAssociation] = [
            associate(self, self.file_system_id, link, buckets[link.zone])
            for link in opts.data_repositories
        ]
        grant_fsx_use_of_keys(
            self, opts.data_repositories, buckets, data_key, self.data_repository_associations
        )

    # -- public API ----------------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """Connections of the file system (default port: TCP 988-1023)."""
        return self._connections

    @property
    def file_system_id(self) -> str:
        """The file system ID (``fs-...``)."""
        return self.resource.file_system_id

    @property
    def dns_name(self) -> str:
        """The DNS name clients mount."""
        return self.resource.dns_name

    @property
    def mount_name(self) -> str:
        """The Lustre mount name."""
        return self.resource.mount_name

    @property
    def storage_capacity_gib(self) -> int:
        """The storage capacity in GiB (``options.capacity_gib``)."""
        return self.options.capacity_gib

    @property
    def mount_command(self) -> str:
        """Shell command that mounts the file system at ``/fsx`` on a Lustre client."""
        return self.mount_command_for("/fsx")

    def mount_command_for(self, mount_point: str) -> str:
        """Shell command that mounts the file system at ``mount_point``."""
        return (
            f"sudo mount -t lustre -o relatime,flock {self.dns_name}@tcp:/{self.mount_name} "
            f"{mount_point}"
        )

    def allow_client(self, client: ec2.IConnectable) -> None:
        """Let ``client`` mount the file system: the Lustre ports both ways, and all traffic
        both ways when EFA is enabled."""
        if self.options.efa_enabled:
            allow_all_traffic(self, self.security_group, client)
            return
        for label, port in LUSTRE_PORTS:
            self.connections.allow_from(client, port, f"Lustre {label} from clients")
            self.connections.allow_to(client, port, f"Lustre {label} to clients")

    # -- construction helpers ------------------------------------------------------------

    def _check_az_ids(self, network: TrainingNetwork) -> None:
        wanted = self.options.availability_zone_id
        actual = network.options.availability_zone_id
        if wanted is not None and wanted != actual:
            raise ValueError(
                f"availability_zone_id {wanted!r} of the file system differs from the "
                f"network's compute subnet AZ ID {actual!r}; allowed: {actual!r} (EFA and "
                "Lustre clients must share one AZ)"
            )

    def _lustre_configuration(self) -> fsx.LustreConfiguration:
        opts = self.options
        persistent = opts.deployment_type is LustreDeploymentType.PERSISTENT_2
        day, hour, minute = (int(part) for part in opts.weekly_maintenance_start_time.split(":"))
        return fsx.LustreConfiguration(
            deployment_type=fsx.LustreDeploymentType[opts.deployment_type.value],
            per_unit_storage_throughput=opts.throughput_mb_per_s_per_tib,
            data_compression_type=(
                fsx.LustreDataCompressionType.LZ4 if opts.lz4_compression else None
            ),
            weekly_maintenance_start_time=fsx.LustreMaintenanceTime(
                day=_WEEKDAYS[day - 1], hour=hour, minute=minute
            ),
            automatic_backup_retention=(
                Duration.days(opts.backup_retention_days) if persistent else None
            ),
        )

    def _add_overrides(self) -> None:
        """What the L2 cannot express: metadata configuration and EFA.

        Root squash is not settable here: CloudFormation's ``AWS::FSx::FileSystem`` has no
        ``RootSquashConfiguration`` (the FSx API has), and synth rejects the override.
        """
        opts = self.options
        cfn = self.resource.node.default_child
        assert isinstance(cfn, fsx.CfnFileSystem)
        if opts.deployment_type is LustreDeploymentType.PERSISTENT_2:
            metadata: dict[str, object] = {"Mode": opts.metadata_mode.value}
            if opts.metadata_mode is MetadataMode.USER_PROVISIONED:
                metadata["Iops"] = opts.metadata_iops
            cfn.add_property_override("LustreConfiguration.MetadataConfiguration", metadata)
        if opts.efa_enabled:
            cfn.add_property_override("LustreConfiguration.EfaEnabled", True)


def _check_az_names(subnet: ec2.ISubnet, compute_subnet: ec2.ISubnet) -> None:
    az = _literal_az(subnet)
    compute_az = _literal_az(compute_subnet)
    if az is not None and compute_az is not None and az != compute_az:
        raise ValueError(
            f"subnet is in availability zone {az!r} but compute_subnet is in {compute_az!r}; "
            f"allowed: {compute_az!r} (the file system must be in the compute AZ)"
        )


def _literal_az(subnet: ec2.ISubnet) -> str | None:
    try:
        az = subnet.availability_zone
    except Exception:  # imported subnets without an AZ raise at access
        return None
    return None if az is None or Token.is_unresolved(az) else str(az)
