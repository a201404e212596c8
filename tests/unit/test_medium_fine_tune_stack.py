"""MediumFineTuneStack: HyperPod on EKS wired to the network, FSx and the data lake."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from cdk_support import cfn_lint_findings
from pydantic import ValidationError

from cdk_llm_training.config import MediumFineTuneConfig, StackName
from cdk_llm_training.constructs.hyperpod.chart_install import (
    CHART_INSTALL_RESOURCE_TYPE as CHART_INSTALL_TYPE,
)

CLUSTER = "AWS::SageMaker::Cluster"


@pytest.fixture(scope="module")
def template(tier_templates: dict[StackName, Template]) -> Template:
    return tier_templates[StackName.MEDIUM_FINE_TUNE]


def _logical_id(template: Template, resource_type: str, prefix: str) -> str:
    (logical_id,) = [
        key for key in template.find_resources(resource_type) if key.startswith(prefix)
    ]
    return logical_id


def _properties(template: Template, resource_type: str, prefix: str = "") -> dict[str, Any]:
    resources = template.find_resources(resource_type)
    (properties,) = [
        resource["Properties"] for key, resource in resources.items() if key.startswith(prefix)
    ]
    return dict(properties)


def _ids(template: Template) -> dict[str, str]:
    return {
        "compute": _logical_id(template, "AWS::EC2::Subnet", "NetworkVpcComputeSubnet"),
        "control_plane": _logical_id(template, "AWS::EC2::Subnet", "NetworkControlPlaneSubnet"),
        "efa": _logical_id(template, "AWS::EC2::SecurityGroup", "NetworkEfaSecurityGroup"),
        "lustre": _logical_id(template, "AWS::EC2::SecurityGroup", "NetworkLustreSecurityGroup"),
        "fsx": _logical_id(template, "AWS::FSx::FileSystem", "FileSystem"),
        "eks": _logical_id(template, "AWS::EKS::Cluster", "HyperPodCluster"),
    }


def _error(data: dict[str, Any]) -> tuple[str, str]:
    """(field path, message) of the single validation error ``data`` causes."""
    with pytest.raises(ValidationError) as raised:
        MediumFineTuneConfig.model_validate(data)
    (error,) = raised.value.errors()
    return ".".join(str(part) for part in error["loc"]), error["msg"]


# -- wiring ---------------------------------------------------------------------------------


def test_hyperpod_nodes_in_compute_subnet_with_efa_group(template: Template) -> None:
    ids = _ids(template)
    cluster = _properties(template, CLUSTER)
    assert cluster["VpcConfig"] == {
        "SecurityGroupIds": [{"Fn::GetAtt": [ids["efa"], "GroupId"]}],
        "Subnets": [{"Ref": ids["compute"]}],
    }
    assert cluster["Orchestrator"] == {"Eks": {"ClusterArn": {"Fn::GetAtt": [ids["eks"], "Arn"]}}}
    assert cluster["NodeRecovery"] == "Automatic"


def test_default_instance_groups(template: Template) -> None:
    groups = _properties(template, CLUSTER)["InstanceGroups"]
    assert [(g["InstanceGroupName"], g["InstanceType"], g["InstanceCount"]) for g in groups] == [
        ("system", "ml.m5.2xlarge", 1),
        ("gpu-workers", "ml.p5.48xlarge", 0),
    ]
    assert groups[1]["OnStartDeepHealthChecks"] == ["InstanceStress", "InstanceConnectivity"]
    assert all(g["ThreadsPerCore"] == 1 for g in groups)


def test_lifecycle_scripts_in_sagemaker_bucket_logging_to_the_lake(template: Template) -> None:
    bucket = _properties(template, "AWS::S3::Bucket", "HyperPodLifecycleBucket")
    assert bucket["BucketName"]["Fn::Join"][1][0].startswith("sagemaker-hp-")
    logs_bucket = _logical_id(template, "AWS::S3::Bucket", "DataLakeAccessLogs")
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_bucket}
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "hyperpod-lifecycle/"
    policy = _properties(template, "AWS::S3::BucketPolicy", "DataLakeAccessLogsPolicy")
    lifecycle = _logical_id(template, "AWS::S3::Bucket", "HyperPodLifecycleBucket")
    (statement,) = [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s.get("Sid", "").startswith("S3ServerAccessLogsHyperPod")
    ]
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"] == {
        "aws:SourceArn": {"Fn::GetAtt": [lifecycle, "Arn"]}
    }
    group = _properties(template, CLUSTER)["InstanceGroups"][0]
    assert group["LifeCycleConfig"]["OnCreate"] == "on_create.sh"


def test_eks_control_plane_spans_two_az_ids(template: Template) -> None:
    ids = _ids(template)
    vpc_config = _properties(template, "AWS::EKS::Cluster")["ResourcesVpcConfig"]
    assert vpc_config["SubnetIds"] == [{"Ref": ids["compute"]}, {"Ref": ids["control_plane"]}]
    assert vpc_config["SecurityGroupIds"] == [{"Fn::GetAtt": [ids["efa"], "GroupId"]}]
    assert vpc_config["EndpointPublicAccess"] is False
    compute = _properties(template, "AWS::EC2::Subnet", "NetworkVpcComputeSubnet")
    control_plane = _properties(template, "AWS::EC2::Subnet", "NetworkControlPlaneSubnet")
    assert (compute["AvailabilityZoneId"], control_plane["AvailabilityZoneId"]) == (
        "use1-az4",
        "use1-az6",
    )


def test_eks_addons(template: Template) -> None:
    names = sorted(
        r["Properties"]["AddonName"] for r in template.find_resources("AWS::EKS::Addon").values()
    )
    assert names == [
        "aws-fsx-csi-driver",
        "coredns",
        "eks-pod-identity-agent",
        "kube-proxy",
        "vpc-cni",
    ]


def test_compute_subnet_sized_for_the_hyperpod_nodes(template: Template) -> None:
    # 3 nodes x 81 IPs + 32 reserved = 275 IPs: a /23 (507 usable).
    compute = _properties(template, "AWS::EC2::Subnet", "NetworkVpcComputeSubnet")
    control_plane = _properties(template, "AWS::EC2::Subnet", "NetworkControlPlaneSubnet")
    assert compute["CidrBlock"] == "10.0.0.0/23"
    assert compute["MapPublicIpOnLaunch"] is False
    assert control_plane["CidrBlock"] == "10.0.255.240/28"
    assert control_plane["MapPublicIpOnLaunch"] is False


def test_file_system_linked_to_the_lake_in_the_compute_subnet(template: Template) -> None:
    ids = _ids(template)
    fsx = _properties(template, "AWS::FSx::FileSystem")
    assert fsx["SubnetIds"] == [{"Ref": ids["compute"]}]
    assert fsx["SecurityGroupIds"] == [{"Fn::GetAtt": [ids["lustre"], "GroupId"]}]
    assert fsx["StorageCapacity"] == 1200
    assert fsx["LustreConfiguration"]["DeploymentType"] == "PERSISTENT_2"
    assert "EfaEnabled" not in fsx["LustreConfiguration"]
    paths = sorted(
        r["Properties"]["FileSystemPath"]
        for r in template.find_resources("AWS::FSx::DataRepositoryAssociation").values()
    )
    assert paths == ["/checkpoints", "/data"]


@pytest.mark.parametrize("port", [(988, 988), (1018, 1023)])
def test_file_system_admits_the_cluster_nodes(template: Template, port: tuple[int, int]) -> None:
    ids = _ids(template)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": {"Fn::GetAtt": [ids["lustre"], "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [ids["efa"], "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": port[0],
            "ToPort": port[1],
        },
    )


def test_fsx_volume_manifest_names_the_file_system(template: Template) -> None:
    ids = _ids(template)
    parts = template.to_json()["Outputs"]["FsxVolumeManifest"]["Value"]["Fn::Join"][1]
    assert {"Ref": ids["fsx"]} in parts
    text = "".join(part for part in parts if isinstance(part, str))
    assert '"claimName":"fsx-claim"' in text or '"name":"fsx-claim"' in text
    assert '"storage":"1200Gi"' in text


def test_one_deploy_no_wait_condition_and_the_chart_before_the_cluster(
    template: Template,
) -> None:
    resources = template.to_json()["Resources"]
    types = [resource["Type"] for resource in resources.values()]
    assert "AWS::CloudFormation::WaitCondition" not in types
    (install_id,) = [lid for lid, r in resources.items() if r["Type"] == CHART_INSTALL_TYPE]
    (cluster,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Cluster"]
    assert install_id in cluster["DependsOn"]
    # The install function needs the NAT route when it runs.
    assert any("DefaultRoute" in dep for dep in resources[install_id]["DependsOn"])


def test_outputs(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert set(outputs) == {
        "UpdateKubeconfigCommand",
        "EksClusterName",
        "HyperPodClusterArn",
        "FsxVolumeManifest",
        "FsxFileSystemId",
        "FsxDnsName",
        "FsxMountName",
        "FsxMountCommand",
        "RawBucketName",
        "CuratedBucketName",
        "ArtifactsBucketName",
        "DataLakeKeyArn",
        "AlarmTopicArn",
        "BudgetName",
        "CostAllocationTagToActivate",
        "HyperPodScaling",
        "RunWorkflowArn",
        "RunTopicArn",
    }
    ids = _ids(template)
    kubeconfig = outputs["UpdateKubeconfigCommand"]["Value"]["Fn::Join"][1]
    assert kubeconfig[0] == "aws eks update-kubeconfig --region "
    assert kubeconfig[-1] == {"Ref": ids["eks"]}
    assert outputs["FsxFileSystemId"]["Value"] == {"Ref": ids["fsx"]}


def test_cfn_lint_clean(template: Template) -> None:
    assert cfn_lint_findings(template.to_json()) == []


# -- config ---------------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = MediumFineTuneConfig()
    assert config.network.availability_zone_id == "use1-az4"
    assert config.network.control_plane_availability_zone_id == "use1-az6"
    assert (config.network.max_nodes, config.network.ips_per_node) == (3, 81)
    assert config.file_system.capacity_gib == 1200
    assert config.file_system.throughput_mb_per_s_per_tib == 125
    assert config.hyperpod.total_instance_count == 1
    assert config.hyperpod.max_total_instance_count == 3
    assert config.hyperpod.eks.admin_role_arns == ()
    # Stated by the file system at synth (1200Gi in the template): no copy in the config.
    assert config.hyperpod.fsx_volume.storage_capacity_gib is None


def test_network_is_sized_from_the_instance_groups() -> None:
    config = MediumFineTuneConfig.model_validate(
        {
            "hyperpod": {
                "instance_groups": [
                    {"name": "system", "instance_type": "ml.m5.2xlarge", "instance_count": 1},
                    {"name": "gpu", "instance_type": "ml.p5.48xlarge", "instance_count": 16},
                ]
            }
        }
    )
    assert config.network.max_nodes == 17
    assert config.network.compute_prefix_length == 21  # 17 x 81 + 32 = 1409 IPs


def test_own_az_ids_and_explicit_network_fields_are_kept() -> None:
    config = MediumFineTuneConfig.model_validate(
        {
            "network": {
                "availability_zone_id": "usw2-az2",
                "control_plane_availability_zone_id": "usw2-az1",
                "max_nodes": 8,
                "vpc_cidr": "10.20.0.0/16",
            }
        }
    )
    assert config.network.max_nodes == 8
    assert config.network.control_plane_subnet_cidr == "10.20.255.240/28"


def test_fsx_volume_capacity_is_left_to_the_file_system() -> None:
    """The config no longer copies the file system's capacity into the volume options: the
    HyperPod construct reads it from the file system (tests/unit/test_hyperpod_eks_cluster.py
    and the 1200Gi / 4800Gi manifests of the stack tests)."""
    config = MediumFineTuneConfig.model_validate({"file_system": {"storage_capacity_gib": 4800}})
    assert config.file_system.capacity_gib == 4800
    assert config.hyperpod.fsx_volume.storage_capacity_gib is None


def test_uncataloged_instance_type_allowed_explicitly() -> None:
    group = {
        "name": "gpu",
        "instance_type": "ml.p6-b200.48xlarge",
        "instance_count": 2,
        "accelerated": True,
        "allow_uncataloged_instance_type": True,
    }
    config = MediumFineTuneConfig.model_validate({"hyperpod": {"instance_groups": [group]}})
    assert config.hyperpod.instance_groups[0].instance_type == "ml.p6-b200.48xlarge"


def test_fails_subnet_too_small_for_the_nodes() -> None:
    assert _error({"network": {"compute_subnet_prefix_length": 25}}) == (
        "network",
        "Value error, compute_subnet_prefix_length /25 holds 123 usable IPs, but max_nodes=3 x "
        "ips_per_node=81 + reserved_ips=32 needs 275; allowed: /23 or larger, or fewer nodes",
    )


def test_fails_network_max_nodes_below_the_cluster() -> None:
    assert _error({"network": {"max_nodes": 2}}) == (
        "",
        "Value error, network.max_nodes 2 is below the 3 nodes of hyperpod.instance_groups at "
        "their maximum counts; allowed: at least 3 (or leave it unset to size the compute "
        "subnet from the clusters' maximum counts)",
    )


def test_fails_file_system_in_another_az() -> None:
    assert _error({"file_system": {"availability_zone_id": "use1-az1"}}) == (
        "",
        "Value error, file_system.availability_zone_id 'use1-az1' differs from "
        "network.availability_zone_id 'use1-az4'; allowed: 'use1-az4' (Lustre and EFA traffic "
        "stay in one AZ)",
    )


def test_fails_own_az_without_control_plane_az() -> None:
    assert _error({"network": {"availability_zone_id": "usw2-az1"}}) == (
        "",
        "Value error, network.control_plane_availability_zone_id is required with HyperPod: "
        "the EKS control plane needs subnets in two AZs; allowed: another AZ ID of the Region "
        "of 'usw2-az1'",
    )


def test_fails_instance_type_not_in_catalog() -> None:
    group = {
        "name": "gpu",
        "instance_type": "ml.p9.96xlarge",
        "instance_count": 2,
        "accelerated": True,
    }
    field, message = _error({"hyperpod": {"instance_groups": [group]}})
    assert field == ""
    assert message.startswith(
        "Value error, hyperpod.instance_groups[0] ('gpu'): instance_type 'ml.p9.96xlarge' is "
        "not in the instance catalog; known accelerated types: ml.g5.12xlarge, "
    )
    assert message.endswith(
        "ml.trn2.48xlarge. Set allow_uncataloged_instance_type=true to use it anyway"
    )


def test_fails_gpu_and_trainium_groups_mixed() -> None:
    groups = [
        {"name": "gpu", "instance_type": "ml.p5.48xlarge", "instance_count": 2},
        {"name": "trn", "instance_type": "ml.trn1.32xlarge", "instance_count": 2},
    ]
    assert _error({"hyperpod": {"instance_groups": groups}}) == (
        "",
        "Value error, hyperpod.instance_groups mix accelerator families {'nvidia': ['gpu'], "
        "'trainium': ['trn']}: NVIDIA GPU and Trainium groups need different device plugins, "
        "drivers and container images. Use one family per cluster, or set "
        "allow_mixed_accelerator_families=true",
    )


def test_observability_covers_fsx_and_hyperpod(template: Template) -> None:
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.resource_count_is("AWS::Budgets::Budget", 1)
    ids = [lid for lid in template.to_json()["Resources"] if lid.startswith("Alarms")]
    assert any("FreeCapacity" in lid or "Capacity" in lid for lid in ids), ids
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": Match.object_like({"source": ["aws.sagemaker"]})},
    )
