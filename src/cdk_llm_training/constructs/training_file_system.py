"""TrainingFileSystem: FSx for Lustre linked to the data lake by data repository associations."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import Annotations, Aws, Duration, RemovalPolicy, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_llm_training.config.sizing.fsx import LustreDeploymentType
from cdk_llm_training.config.training_data_lake import DataZone
from cdk_llm_training.config.training_file_system import (
    DataRepositoryLink,
    FileSystemOptions,
    MetadataMode,
)
from cdk_llm_training.constructs._compliance import acknowledge_group_to_group_all_traffic
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.constructs.training_network import LUSTRE_PORTS, TrainingNetwork

FSX_S3_SERVICE_LINKED_ROLE_PATH = "aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/"
"""Path of the per-file-system service-linked roles FSx uses to reach linked S3 buckets."""

_EVENTS = ["NEW", "CHANGED", "DELETED"]
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
    :func:`cdk_llm_training.planner.propose_lustre_sizing` (1200 GiB at 125 MB/s per TiB
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
    security group and compute nodes as clients) or ``vpc`` + ``subnet`` (+ ``security_group``
    and ``clients``). Without a security group, one is created with the Lustre rules (TCP 988
    and 1018-1023 to and from itself); EFA-enabled file systems also get all traffic to and
    from themselves and their clients.

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
        repository_buckets: Mapping[DataZone, s3.IBucket] | None = None,
        repository_key: kms.IKey | None = None,
        key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the file system and its data repository associations.

        :param options: plain-data settings. Default ``FileSystemOptions()``.
        :param network: the training network. Supplies ``vpc``, ``subnet`` (its compute
            subnet), ``security_group`` (its Lustre group) and ``clients`` (its compute nodes)
            unless given. Its AZ ID is checked against ``options.availability_zone_id``.
        :param vpc: the VPC. Required without ``network``.
        :param subnet: the subnet of the file system (one AZ). Required without ``network``.
        :param security_group: security group of the file system. Default: the network's
            Lustre group, else a new group with the Lustre rules.
        :param clients: what mounts the file system; they get the Lustre ports (all traffic
            when EFA is enabled). Default: the network's compute nodes, else none.
        :param compute_subnet: subnet of the clients, to check it is in the file system's AZ
            when both AZs are known at synth. Default: not checked.
        :param data_lake: the lake whose zones the data repositories link.
        :param repository_buckets: buckets by zone, instead of (or over) ``data_lake``.
        :param repository_key: KMS key of ``repository_buckets``; its policy gets the FSx
            statement. Default: each bucket's own ``encryption_key`` (the lake key for lake
            buckets; unknown for imported buckets, which is reported as info).
        :param key: KMS key of the file system (PERSISTENT_2). Default: the lake key, else
            a new customer-managed key with rotation (retained like the file system).
        :param removal_policy: Default ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "TrainingFileSystem")
        self.options = opts = options or FileSystemOptions()
        if network is not None:
            vpc = vpc or network.vpc
            subnet = subnet or network.compute_subnet
            security_group = security_group or network.lustre_security_group
            clients = clients or [network]
            compute_subnet = compute_subnet or network.compute_subnet
            self._check_az_ids(network)
        if vpc is None or subnet is None:
            raise ValueError(
                "TrainingFileSystem needs network=, or both vpc= and subnet=; got "
                f"vpc={'set' if vpc else None}, subnet={'set' if subnet else None}"
            )
        if compute_subnet is not None:
            _check_az_names(subnet, compute_subnet)
        persistent = opts.deployment_type is LustreDeploymentType.PERSISTENT_2
        buckets = self._repository_buckets(data_lake, repository_buckets)

        self.security_group: ec2.ISecurityGroup = security_group or self._create_security_group(vpc)
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
            self._allow_all_traffic(self.security_group)

        self.data_repository_associations: list[fsx.CfnDataRepositoryAssociation] = []
        for link in opts.data_repositories:
            self.data_repository_associations.append(self._associate(link, buckets))
        self._grant_fsx_use_of_keys(buckets, repository_buckets or {}, repository_key)

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
            self._allow_all_traffic(client)
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

    def _repository_buckets(
        self,
        data_lake: TrainingDataLake | None,
        explicit: Mapping[DataZone, s3.IBucket] | None,
    ) -> dict[DataZone, s3.IBucket]:
        buckets: dict[DataZone, s3.IBucket] = {}
        if data_lake is not None:
            buckets.update({zone: data_lake.bucket(zone) for zone in DataZone})
        buckets.update(explicit or {})
        missing = sorted(
            {link.zone.value for link in self.options.data_repositories}
            - {zone.value for zone in buckets}
        )
        if missing:
            raise ValueError(
                f"data_repositories link zones {missing} but no bucket is known for them; "
                "allowed: pass data_lake= or repository_buckets= for every linked zone, or "
                "data_repositories=() for no association"
            )
        return buckets

    def _create_security_group(self, vpc: ec2.IVpc) -> ec2.SecurityGroup:
        sg = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="FSx for Lustre: TCP 988 and 1018-1023 to and from itself",
            allow_all_outbound=False,
        )
        for label, port in LUSTRE_PORTS:
            sg.add_ingress_rule(sg, port, f"Lustre {label} from the file system")
            sg.add_egress_rule(sg, port, f"Lustre {label} to the file system")
        return sg

    def _allow_all_traffic(self, peer: ec2.IConnectable) -> None:
        """EFA-enabled file systems need all traffic to and from themselves and clients."""
        sg = self.security_group
        for other in peer.connections.security_groups:
            sg.add_ingress_rule(other, ec2.Port.all_traffic(), "EFA Lustre: all traffic from peer")
            if other.node.path == sg.node.path:
                # An "all traffic" egress rule can only be added as its own resource.
                _self_egress(self, "EfaSelfEgress", sg)
            else:
                _all_egress(self, sg, other)
                other.add_ingress_rule(sg, ec2.Port.all_traffic(), "EFA Lustre: from file system")
                _all_egress(self, other, sg)
                acknowledge_group_to_group_all_traffic(other)
        acknowledge_group_to_group_all_traffic(sg)

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

    def _associate(
        self, link: DataRepositoryLink, buckets: Mapping[DataZone, s3.IBucket]
    ) -> fsx.CfnDataRepositoryAssociation:
        bucket = buckets[link.zone]
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
            self,
            _association_id(link.file_system_path),
            file_system_id=self.file_system_id,
            file_system_path=link.file_system_path,
            data_repository_path=path,
            batch_import_meta_data_on_create=link.import_metadata_on_create,
            imported_file_chunk_size=link.imported_file_chunk_size_mib,
            s3=s3_config,
        )

    def _grant_fsx_use_of_keys(
        self,
        buckets: Mapping[DataZone, s3.IBucket],
        explicit_buckets: Mapping[DataZone, s3.IBucket],
        repository_key: kms.IKey | None,
    ) -> None:
        """Let the FSx S3 service-linked roles use the bucket keys through S3.

        FSx reaches a linked bucket with a service-linked role per file system
        (``AWSServiceRoleForFSxS3Access_fs-...``); for SSE-KMS buckets the key policy must
        allow it. The role name holds the file system ID, which would make the key depend on
        the file system (a cycle when the file system uses the same key), so the statement
        matches these roles by ``aws:PrincipalArn`` pattern, and is scoped to this account and
        to calls through S3 of this Region. It does not name the buckets in an encryption
        context condition: the key policy would then reference buckets that depend on the key
        (a CloudFormation cycle).
        """
        keys: dict[str, kms.IKey] = {}
        unknown_zones: set[str] = set()
        for link in self.options.data_repositories:
            bucket = buckets[link.zone]
            explicit = link.zone in explicit_buckets
            bucket_key = (repository_key if explicit else None) or bucket.encryption_key
            if bucket_key is None:
                unknown_zones.add(link.zone.value)
                continue
            keys.setdefault(bucket_key.node.path, bucket_key)
        for key in keys.values():
            result = key.add_to_resource_policy(
                iam.PolicyStatement(
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
                ),
                allow_no_op=True,
            )
            if not result.statement_added:
                Annotations.of(self).add_warning_v2(
                    "cdk-llm-training:fsx-kms-key-policy",
                    "The KMS key of a linked bucket is not managed by this app: allow the FSx "
                    "service-linked roles (AWSServiceRoleForFSxS3Access_*) to use it through S3.",
                )
            elif isinstance(key, kms.Key):
                for association in self.data_repository_associations:
                    association.node.add_dependency(key)
        if unknown_zones:
            Annotations.of(self).add_info(
                f"The KMS key of the buckets of zones {sorted(unknown_zones)} is unknown: if "
                "they are SSE-KMS encrypted, pass repository_key= or allow the FSx "
                "service-linked roles (AWSServiceRoleForFSxS3Access_*) in its key policy."
            )


def _association_id(file_system_path: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", file_system_path)
    return "DataRepository" + ("".join(w[:1].upper() + w[1:] for w in words) or "Root")


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


def _self_egress(scope: Construct, id: str, sg: ec2.ISecurityGroup) -> None:
    if scope.node.try_find_child(id) is None:
        ec2.CfnSecurityGroupEgress(
            scope,
            id,
            group_id=sg.security_group_id,
            ip_protocol="-1",
            destination_security_group_id=sg.security_group_id,
            description="EFA Lustre: all traffic to itself",
        )


def _all_egress(scope: Construct, source: ec2.ISecurityGroup, target: ec2.ISecurityGroup) -> None:
    index = len([c for c in scope.node.children if c.node.id.startswith("EfaEgress")])
    ec2.CfnSecurityGroupEgress(
        scope,
        f"EfaEgress{index}",
        group_id=source.security_group_id,
        ip_protocol="-1",
        destination_security_group_id=target.security_group_id,
        description="EFA Lustre: all traffic to peer",
    )
