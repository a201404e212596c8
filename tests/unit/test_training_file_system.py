"""TrainingFileSystem: defaults with the network and the lake, every option, validation."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    DataRepositoryLink,
    DataZone,
    FileSystemOptions,
    LustreDeploymentType,
    MetadataMode,
    NetworkOptions,
    TrainingDataLake,
    TrainingFileSystem,
    TrainingNetwork,
)

AZ_ID = "use1-az4"
EVENTS = ["NEW", "CHANGED", "DELETED"]


class Built:
    """A stack with TrainingNetwork + TrainingDataLake + TrainingFileSystem, synthesized."""

    def __init__(self, options: FileSystemOptions | None = None, **kwargs: Any) -> None:
        self.stack = new_stack()
        self.network = TrainingNetwork(
            self.stack, "Network", options=NetworkOptions(availability_zone_id=AZ_ID)
        )
        self.lake = TrainingDataLake(self.stack, "Lake")
        self.fs = TrainingFileSystem(
            self.stack,
            "Fsx",
            options=options,
            network=self.network,
            data_lake=self.lake,
            **kwargs,
        )
        self.template = template_of(self.stack)

    def logical_id(self, type_name: str, prefix: str) -> str:
        return next(
            lid for lid in resources_of_type(self.template, type_name) if lid.startswith(prefix)
        )

    def file_system(self) -> dict[str, Any]:
        (fs,) = resources_of_type(self.template, "AWS::FSx::FileSystem").values()
        return dict(fs)

    def sg_ref(self, prefix: str) -> dict[str, Any]:
        return {"Fn::GetAtt": [self.logical_id("AWS::EC2::SecurityGroup", prefix), "GroupId"]}


@pytest.fixture(scope="module")
def default() -> Built:
    """Network + lake + file system with defaults, in a cdk-nag-checked app."""
    return Built()


@pytest.fixture(scope="module")
def efa() -> Built:
    return Built(FileSystemOptions(efa_enabled=True))


# -- defaults ------------------------------------------------------------------------------


def test_default_file_system_is_persistent_2_lustre_2_15_with_metadata_config(
    default: Built,
) -> None:
    fs = default.file_system()
    assert fs["DeletionPolicy"] == "RetainExceptOnCreate"
    assert fs["UpdateReplacePolicy"] == "Retain"
    props = fs["Properties"]
    assert props["FileSystemType"] == "LUSTRE"
    assert props["FileSystemTypeVersion"] == "2.15"
    assert props["StorageCapacity"] == 1200
    assert props["SubnetIds"] == [
        {"Ref": default.logical_id("AWS::EC2::Subnet", "NetworkVpcCompute")}
    ]
    assert props["SecurityGroupIds"] == [default.sg_ref("NetworkLustreSecurityGroup")]
    assert props["KmsKeyId"] == {"Ref": default.logical_id("AWS::KMS::Key", "LakeKey")}
    assert props["LustreConfiguration"] == {
        "AutomaticBackupRetentionDays": 0,
        "DataCompressionType": "LZ4",
        "DeploymentType": "PERSISTENT_2",
        "MetadataConfiguration": {"Mode": "AUTOMATIC"},
        "PerUnitStorageThroughput": 125,
        "WeeklyMaintenanceStartTime": "7:03:00",
    }


def test_default_links_curated_to_data_and_artifacts_to_checkpoints(default: Built) -> None:
    fs_id = default.logical_id("AWS::FSx::FileSystem", "Fsx")
    associations = resources_of_type(default.template, "AWS::FSx::DataRepositoryAssociation")
    assert len(associations) == 2
    by_path = {a["Properties"]["FileSystemPath"]: a["Properties"] for a in associations.values()}
    curated = default.logical_id("AWS::S3::Bucket", "LakeCurated")
    artifacts = default.logical_id("AWS::S3::Bucket", "LakeArtifacts")
    assert by_path["/data"]["DataRepositoryPath"] == {"Fn::Join": ["", ["s3://", {"Ref": curated}]]}
    assert by_path["/checkpoints"]["DataRepositoryPath"] == {
        "Fn::Join": ["", ["s3://", {"Ref": artifacts}, "/checkpoints/"]]
    }
    for props in by_path.values():
        assert props["FileSystemId"] == {"Ref": fs_id}
        assert props["BatchImportMetaDataOnCreate"] is True
        assert props["ImportedFileChunkSize"] == 1024
    # The curated data is imported only: deleting /fsx/data cannot delete the S3 objects.
    assert by_path["/data"]["S3"] == {"AutoImportPolicy": {"Events": EVENTS}}
    # Checkpoints written on the file system are exported to S3.
    assert by_path["/checkpoints"]["S3"] == {
        "AutoExportPolicy": {"Events": EVENTS},
        "AutoImportPolicy": {"Events": EVENTS},
    }


def test_curated_data_export_is_an_opt_in() -> None:
    options = FileSystemOptions(
        data_repositories=(
            DataRepositoryLink(zone=DataZone.CURATED, file_system_path="/data", auto_export=True),
        )
    )
    (dra,) = resources_of_type(
        Built(options).template, "AWS::FSx::DataRepositoryAssociation"
    ).values()
    assert dra["Properties"]["S3"]["AutoExportPolicy"] == {"Events": EVENTS}
    assert DataRepositoryLink(zone=DataZone.RAW, file_system_path="/raw").auto_export is False


def test_backups_default_to_off_with_data_repositories_and_seven_days_without() -> None:
    assert FileSystemOptions().backup_retention_days == 0
    assert FileSystemOptions(data_repositories=()).backup_retention_days == 7
    scratch = FileSystemOptions.model_validate({"deployment_type": "SCRATCH_2"})
    assert scratch.backup_retention_days == 0
    assert (
        FileSystemOptions(
            data_repositories=(), automatic_backup_retention_days=30
        ).backup_retention_days
        == 30
    )


def test_fails_backups_on_a_linked_file_system() -> None:
    assert _option_error(automatic_backup_retention_days=7) == (
        "automatic_backup_retention_days 7 with 2 data_repositories: FSx for Lustre takes no "
        "backups of a file system linked to an S3 data repository; allowed: 0 (or unset), or "
        "data_repositories=() for backups"
    )


def test_default_lake_key_lets_fsx_service_linked_roles_use_it_through_s3(
    default: Built,
) -> None:
    key = resources_of_type(default.template, "AWS::KMS::Key")[
        default.logical_id("AWS::KMS::Key", "LakeKey")
    ]
    (statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowFSxLustreDataRepositoriesThroughS3"
    ]
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Condition"] == {
        "ArnLike": {
            "aws:PrincipalArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":iam::",
                        {"Ref": "AWS::AccountId"},
                        ":role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/"
                        "AWSServiceRoleForFSxS3Access_*",
                    ],
                ]
            }
        },
        "StringEquals": {
            "kms:CallerAccount": {"Ref": "AWS::AccountId"},
            "kms:ViaService": {"Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
        },
    }
    assert "kms:GenerateDataKey*" in statement["Action"]
    assert "kms:Decrypt" in statement["Action"]


def test_default_network_clients_get_the_lustre_ports(default: Built) -> None:
    efa = default.sg_ref("NetworkEfaSecurityGroup")
    lustre = default.sg_ref("NetworkLustreSecurityGroup")
    for from_port, to_port in [(988, 988), (1018, 1023)]:
        default.template.has_resource_properties(
            "AWS::EC2::SecurityGroupIngress",
            {
                "GroupId": lustre,
                "SourceSecurityGroupId": efa,
                "FromPort": from_port,
                "ToPort": to_port,
            },
        )
    # The EFA group of the network references itself both ways.
    default.template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"GroupId": efa, "SourceSecurityGroupId": efa, "IpProtocol": "-1"},
    )
    default.template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"GroupId": efa, "DestinationSecurityGroupId": efa, "IpProtocol": "-1"},
    )


def test_default_exposes_ids_dns_mount_name_and_mount_command(default: Built) -> None:
    stack, fs = default.stack, default.fs
    fs_id = default.logical_id("AWS::FSx::FileSystem", "Fsx")
    assert stack.resolve(fs.file_system_id) == {"Ref": fs_id}
    assert stack.resolve(fs.mount_name) == {"Fn::GetAtt": [fs_id, "LustreMountName"]}
    assert stack.resolve(fs.mount_command) == {
        "Fn::Join": [
            "",
            [
                "sudo mount -t lustre -o relatime,flock ",
                {"Ref": fs_id},
                ".fsx.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                "@tcp:/",
                {"Fn::GetAtt": [fs_id, "LustreMountName"]},
                " /fsx",
            ],
        ]
    }
    assert stack.resolve(fs.mount_command_for("/mnt/data"))["Fn::Join"][1][-1] == " /mnt/data"
    assert [stack.resolve(sg.security_group_id) for sg in fs.connections.security_groups] == [
        default.sg_ref("NetworkLustreSecurityGroup")
    ]
    assert len(fs.data_repository_associations) == 2


def test_default_stack_is_cfn_lint_clean(default: Built) -> None:
    assert cfn_lint_findings(default.template.to_json()) == []


# -- options -------------------------------------------------------------------------------


def test_efa_enabled_file_system(efa: Built) -> None:
    props = efa.file_system()["Properties"]
    assert props["LustreConfiguration"]["EfaEnabled"] is True
    assert props["LustreConfiguration"]["MetadataConfiguration"] == {"Mode": "AUTOMATIC"}
    assert props["LustreConfiguration"]["PerUnitStorageThroughput"] == 1000
    assert props["StorageCapacity"] == 4800
    lustre = efa.sg_ref("NetworkLustreSecurityGroup")
    nodes = efa.sg_ref("NetworkEfaSecurityGroup")
    for group, peer in [(lustre, lustre), (lustre, nodes), (nodes, lustre)]:
        efa.template.has_resource_properties(
            "AWS::EC2::SecurityGroupIngress",
            {"GroupId": group, "SourceSecurityGroupId": peer, "IpProtocol": "-1"},
        )
        efa.template.has_resource_properties(
            "AWS::EC2::SecurityGroupEgress",
            {"GroupId": group, "DestinationSecurityGroupId": peer, "IpProtocol": "-1"},
        )
    assert cfn_lint_findings(efa.template.to_json()) == []


def test_scratch_2_option() -> None:
    built = Built(FileSystemOptions(deployment_type=LustreDeploymentType.SCRATCH_2))
    props = built.file_system()["Properties"]
    assert "KmsKeyId" not in props
    config = props["LustreConfiguration"]
    assert config["DeploymentType"] == "SCRATCH_2"
    assert "PerUnitStorageThroughput" not in config
    assert "MetadataConfiguration" not in config
    assert "AutomaticBackupRetentionDays" not in config
    assert props["StorageCapacity"] == 1200
    assert built.fs.key is None


def test_user_provisioned_metadata_maintenance_and_backups() -> None:
    options = FileSystemOptions(
        storage_capacity_gib=4800,
        throughput_mb_per_s_per_tib=500,
        metadata_mode=MetadataMode.USER_PROVISIONED,
        metadata_iops=24000,
        weekly_maintenance_start_time="2:22:30",
        automatic_backup_retention_days=7,
        lz4_compression=False,
        data_repositories=(),
    )
    config = Built(options).file_system()["Properties"]["LustreConfiguration"]
    assert config["MetadataConfiguration"] == {"Mode": "USER_PROVISIONED", "Iops": 24000}
    assert config["WeeklyMaintenanceStartTime"] == "2:22:30"
    assert config["AutomaticBackupRetentionDays"] == 7
    assert config["PerUnitStorageThroughput"] == 500
    assert "DataCompressionType" not in config


def test_sized_from_training_needs() -> None:
    options = FileSystemOptions(
        dataset_bytes=2 * 10**12,
        checkpoint_bytes=1_100_000_000_000,
        target_checkpoint_write_seconds=120,
    )
    assert (options.storage_capacity_gib, options.throughput_mb_per_s_per_tib) == (9600, 1000)
    assert FileSystemOptions(throughput_mb_per_s_per_tib=250).storage_capacity_gib == 1200
    assert (
        FileSystemOptions(efa_enabled=True, throughput_mb_per_s_per_tib=125).storage_capacity_gib
        == 38400
    )


def test_custom_data_repositories_without_auto_export() -> None:
    options = FileSystemOptions(
        data_repositories=(
            DataRepositoryLink(
                zone=DataZone.RAW,
                file_system_path="/raw/",
                key_prefix="crawl",
                auto_export=False,
                import_metadata_on_create=False,
                imported_file_chunk_size_mib=256,
            ),
        )
    )
    built = Built(options)
    (dra,) = resources_of_type(built.template, "AWS::FSx::DataRepositoryAssociation").values()
    props = dra["Properties"]
    assert props["FileSystemPath"] == "/raw"
    raw = built.logical_id("AWS::S3::Bucket", "LakeRaw")
    assert props["DataRepositoryPath"] == {"Fn::Join": ["", ["s3://", {"Ref": raw}, "/crawl/"]]}
    assert props["S3"] == {"AutoImportPolicy": {"Events": EVENTS}}
    assert props["BatchImportMetaDataOnCreate"] is False
    assert props["ImportedFileChunkSize"] == 256


def test_no_data_repositories_and_own_key() -> None:
    stack = new_stack()
    network = TrainingNetwork(stack, "Network", options=NetworkOptions(availability_zone_id=AZ_ID))
    key = kms.Key(stack, "FsKey", enable_key_rotation=True)
    fs = TrainingFileSystem(
        stack,
        "Fsx",
        network=network,
        key=key,
        options=FileSystemOptions(data_repositories=()),
        removal_policy=RemovalPolicy.DESTROY,
    )
    template = template_of(stack)
    template.resource_count_is("AWS::FSx::DataRepositoryAssociation", 0)
    (resource,) = resources_of_type(template, "AWS::FSx::FileSystem").values()
    assert resource["Properties"]["KmsKeyId"] == stack.resolve(key.key_id)
    assert resource["DeletionPolicy"] == "Delete"
    assert fs.key is key


def test_explicit_buckets_and_data_key_without_network() -> None:
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a"],
        private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa"],
    )
    subnet = ec2.Subnet.from_subnet_attributes(
        stack, "Subnet", subnet_id="subnet-0aaaaaaaaaaaaaaaa", availability_zone="us-east-1a"
    )
    repo_key = kms.Key(stack, "RepoKey", enable_key_rotation=True)
    buckets = {
        DataZone.CURATED: s3.Bucket.from_bucket_name(stack, "Curated", "corp-curated"),
        DataZone.ARTIFACTS: s3.Bucket.from_bucket_name(stack, "Artifacts", "corp-artifacts"),
    }
    client = ec2.SecurityGroup(stack, "Client", vpc=vpc, allow_all_outbound=True)
    TrainingFileSystem(
        stack,
        "Fsx",
        vpc=vpc,
        subnet=subnet,
        clients=[client],
        zone_buckets=buckets,
        data_key=repo_key,
    )
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::FSx::DataRepositoryAssociation", {"DataRepositoryPath": "s3://corp-curated"}
    )
    template.has_resource_properties(
        "AWS::FSx::DataRepositoryAssociation",
        {"DataRepositoryPath": "s3://corp-artifacts/checkpoints/"},
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [Match.object_like({"Sid": "AllowFSxLustreDataRepositoriesThroughS3"})]
                )
            }
        },
    )
    (resource,) = resources_of_type(template, "AWS::FSx::FileSystem").values()
    # No lake and no key given: a key of its own, never the AWS-managed aws/fsx key.
    own_key = resource["Properties"]["KmsKeyId"]["Ref"]
    assert own_key.startswith("FsxKey")
    template.has_resource(
        "AWS::KMS::Key",
        {"Properties": {"EnableKeyRotation": True}, "DeletionPolicy": "RetainExceptOnCreate"},
    )
    own_sg = next(
        lid
        for lid, sg in resources_of_type(template, "AWS::EC2::SecurityGroup").items()
        if sg["Properties"]["GroupDescription"].startswith("FSx for Lustre")
    )
    own = {"Fn::GetAtt": [own_sg, "GroupId"]}
    client_ref = {
        "Fn::GetAtt": [
            next(
                lid
                for lid in resources_of_type(template, "AWS::EC2::SecurityGroup")
                if lid.startswith("Client")
            ),
            "GroupId",
        ]
    }
    for from_port, to_port in [(988, 988), (1018, 1023)]:
        ports = {"FromPort": from_port, "ToPort": to_port, "IpProtocol": "tcp"}
        template.has_resource_properties(
            "AWS::EC2::SecurityGroupIngress",
            {**ports, "GroupId": own, "SourceSecurityGroupId": own},
        )
        template.has_resource_properties(
            "AWS::EC2::SecurityGroupEgress",
            {**ports, "GroupId": own, "DestinationSecurityGroupId": own},
        )
        template.has_resource_properties(
            "AWS::EC2::SecurityGroupIngress",
            {**ports, "GroupId": own, "SourceSecurityGroupId": client_ref},
        )
    assert cfn_lint_findings(template.to_json()) == []


# -- validation: options -------------------------------------------------------------------


def _option_error(**fields: Any) -> str:
    with pytest.raises(ValidationError) as error:
        FileSystemOptions.model_validate(fields)
    (item,) = error.value.errors()
    return str(item["msg"]).removeprefix("Value error, ")


def test_fails_throughput_tier_not_allowed() -> None:
    assert _option_error(throughput_mb_per_s_per_tib=200) == (
        "throughput_mb_per_s_per_tib 200 is not a PERSISTENT_2 tier; allowed: 125, 250, 500, 1000"
    )


def test_fails_throughput_with_scratch_2() -> None:
    assert _option_error(deployment_type="SCRATCH_2", throughput_mb_per_s_per_tib=125) == (
        "throughput_mb_per_s_per_tib 125 cannot be set with deployment_type SCRATCH_2 (fixed "
        "200 MB/s per TiB); allowed: leave it unset"
    )


def test_fails_capacity_increment() -> None:
    assert _option_error(storage_capacity_gib=3600, throughput_mb_per_s_per_tib=250) == (
        "storage_capacity_gib 3600 is not valid for PERSISTENT_2; allowed: 1200, 2400 or a "
        "multiple of 2400 GiB"
    )


def test_fails_efa_capacity_increment() -> None:
    assert _option_error(
        efa_enabled=True, storage_capacity_gib=9600, throughput_mb_per_s_per_tib=250
    ) == (
        "storage_capacity_gib 9600 is not valid for PERSISTENT_2; allowed: multiples of 19200 "
        "GiB (EFA-enabled at 250 MB/s/TiB)"
    )


def test_fails_efa_with_scratch_2() -> None:
    assert _option_error(deployment_type="SCRATCH_2", efa_enabled=True) == (
        "efa_enabled requires deployment_type PERSISTENT_2 (with a metadata configuration and "
        "Lustre 2.15); got deployment_type SCRATCH_2"
    )


def test_fails_user_provisioned_iops_not_allowed() -> None:
    assert _option_error(metadata_mode="USER_PROVISIONED", metadata_iops=2000) == (
        "metadata_iops 2000 is not valid with USER_PROVISIONED; allowed: 1500, 3000, 6000, "
        "12000 or a multiple of 12000 up to 192000"
    )
    assert _option_error(metadata_mode="USER_PROVISIONED", metadata_iops=204000).startswith(
        "metadata_iops 204000 is not valid"
    )


def test_fails_metadata_iops_with_automatic() -> None:
    assert _option_error(metadata_iops=3000) == (
        "metadata_iops 3000 requires metadata_mode USER_PROVISIONED; allowed with AUTOMATIC: "
        "leave it unset"
    )


def test_fails_user_provisioned_metadata_with_scratch_2() -> None:
    assert (
        _option_error(
            deployment_type="SCRATCH_2", metadata_mode="USER_PROVISIONED", metadata_iops=1500
        )
        == "metadata_mode USER_PROVISIONED requires deployment_type PERSISTENT_2; got SCRATCH_2"
    )


def test_fails_backups_with_scratch_2() -> None:
    assert _option_error(deployment_type="SCRATCH_2", automatic_backup_retention_days=7) == (
        "automatic_backup_retention_days 7 requires deployment_type PERSISTENT_2; allowed with "
        "SCRATCH_2: 0"
    )


def test_fails_too_many_data_repositories() -> None:
    links = [{"zone": "raw", "file_system_path": f"/d{i}", "key_prefix": f"p{i}"} for i in range(9)]
    assert _option_error(data_repositories=links) == (
        "data_repositories has 9 associations; allowed: at most 8 per file system"
    )


def test_fails_overlapping_file_system_paths() -> None:
    links = [
        {"zone": "raw", "file_system_path": "/data"},
        {"zone": "curated", "file_system_path": "/data/curated"},
    ]
    assert _option_error(data_repositories=links) == (
        "data_repositories file_system_path '/data' and '/data/curated' overlap; allowed: "
        "distinct directories, neither inside the other ('/' only for a single association)"
    )


def test_fails_overlapping_bucket_prefixes() -> None:
    links = [
        {"zone": "raw", "file_system_path": "/a", "key_prefix": "x/"},
        {"zone": "raw", "file_system_path": "/b", "key_prefix": "x/y/"},
    ]
    assert _option_error(data_repositories=links) == (
        "data_repositories link zone 'raw' prefixes 'x/' and 'x/y/' that overlap; allowed: one "
        "association per bucket prefix, neither inside the other"
    )


def test_fails_relative_file_system_path() -> None:
    with pytest.raises(ValidationError) as error:
        DataRepositoryLink.model_validate({"zone": "raw", "file_system_path": "data"})
    assert error.value.errors()[0]["msg"] == (
        "Value error, file_system_path 'data' must be an absolute directory such as '/data'; "
        "allowed characters: letters, digits, '_', '.', '-', '/'"
    )


def test_fails_maintenance_window_format() -> None:
    assert _option_error(weekly_maintenance_start_time="8:25:00") == (
        "weekly_maintenance_start_time '8:25:00' is not d:HH:MM; allowed: day 1-7 (1 = Monday), "
        "hour 00-23, minute 00-59, e.g. '7:03:00'"
    )


# -- validation: construct -----------------------------------------------------------------


def test_fails_az_mismatch_with_the_network() -> None:
    stack = new_stack(nag=False)
    network = TrainingNetwork(stack, "Network", options=NetworkOptions(availability_zone_id=AZ_ID))
    lake = TrainingDataLake(stack, "Lake")
    with pytest.raises(
        ValueError,
        match=r"^availability_zone_id 'use1-az1' of the file system differs from the network's "
        r"compute subnet AZ ID 'use1-az4'; allowed: 'use1-az4' \(EFA and Lustre clients must "
        r"share one AZ\)$",
    ):
        TrainingFileSystem(
            stack,
            "Fsx",
            network=network,
            data_lake=lake,
            options=FileSystemOptions(availability_zone_id="use1-az1"),
        )


def test_fails_az_mismatch_between_known_subnets() -> None:
    stack = new_stack(nag=False)
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-1", availability_zones=["a"])
    fs_subnet = ec2.Subnet.from_subnet_attributes(
        stack, "FsSubnet", subnet_id="subnet-1", availability_zone="us-east-1a"
    )
    compute = ec2.Subnet.from_subnet_attributes(
        stack, "Compute", subnet_id="subnet-2", availability_zone="us-east-1b"
    )
    with pytest.raises(
        ValueError,
        match=r"^subnet is in availability zone 'us-east-1a' but compute_subnet is in "
        r"'us-east-1b'; allowed: 'us-east-1b' \(the file system must be in the compute AZ\)$",
    ):
        TrainingFileSystem(
            stack,
            "Fsx",
            vpc=vpc,
            subnet=fs_subnet,
            compute_subnet=compute,
            options=FileSystemOptions(data_repositories=()),
        )


def test_fails_without_network_or_vpc() -> None:
    stack = new_stack(nag=False)
    with pytest.raises(
        ValueError,
        match=r"^TrainingFileSystem needs network=, or both vpc= and subnet=; got vpc=None, "
        r"subnet=None$",
    ):
        TrainingFileSystem(stack, "Fsx", options=FileSystemOptions(data_repositories=()))


def test_fails_linked_zone_without_bucket() -> None:
    stack = new_stack(nag=False)
    network = TrainingNetwork(stack, "Network", options=NetworkOptions(availability_zone_id=AZ_ID))
    with pytest.raises(
        ValueError,
        match=r"^data_repositories link zones \['artifacts', 'curated'\] but no bucket is known "
        r"for them; allowed: pass data_lake= or zone_buckets= for every linked zone, or "
        r"data_repositories=\(\) for no association$",
    ):
        TrainingFileSystem(stack, "Fsx", network=network)


def test_fails_unknown_option() -> None:
    with pytest.raises(ValidationError) as error:
        FileSystemOptions.model_validate({"size": 1200})
    item = error.value.errors()[0]
    assert (item["loc"], item["msg"]) == (("size",), "Extra inputs are not permitted")


def test_imported_buckets_without_key_are_reported_not_guessed() -> None:
    stack = new_stack(nag=False)
    network = TrainingNetwork(stack, "Network", options=NetworkOptions(availability_zone_id=AZ_ID))
    buckets = {
        zone: s3.Bucket.from_bucket_name(stack, f"B{zone.value}", f"corp-{zone.value}")
        for zone in (DataZone.CURATED, DataZone.ARTIFACTS)
    }
    TrainingFileSystem(stack, "Fsx", network=network, zone_buckets=buckets)
    for key in resources_of_type(template_of(stack), "AWS::KMS::Key").values():
        sids = [s.get("Sid") for s in key["Properties"]["KeyPolicy"]["Statement"]]
        assert "AllowFSxLustreDataRepositoriesThroughS3" not in sids
    Annotations.from_stack(stack).has_info(
        "/TestStack/Fsx",
        Match.string_like_regexp(
            r"The KMS key of the buckets of zones \['artifacts', 'curated'\] is unknown"
        ),
    )
