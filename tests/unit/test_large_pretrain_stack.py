"""LargePretrainStack in its three engine modes: trainium, nvidia, both."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from cdk_support import cfn_lint_findings
from pcluster_cases import sample_configuration
from pydantic import ValidationError

from cdk_llm_training.config import LargeEngine, LargePretrainConfig

PCLUSTER = "Custom::PclusterCluster"
HYPERPOD = "AWS::SageMaker::Cluster"
PLAN_ARN = "arn:aws:sagemaker:us-east-1:111122223333:training-plan/p5-reserved"


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


def _compute_subnet(template: Template) -> dict[str, str]:
    return {"Ref": _logical_id(template, "AWS::EC2::Subnet", "NetworkVpcComputeSubnet")}


def _efa_group(template: Template) -> dict[str, list[str]]:
    efa = _logical_id(template, "AWS::EC2::SecurityGroup", "NetworkEfaSecurityGroup")
    return {"Fn::GetAtt": [efa, "GroupId"]}


def _shape(value: Any) -> Any:
    """Structure of a config: strings and intrinsics become '<str>'; numbers, bools stay."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
            return "<str>"
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return "<str>" if isinstance(value, str) else value


def _error(data: dict[str, Any]) -> tuple[str, str]:
    """(field path, message) of the first validation error ``data`` causes."""
    with pytest.raises(ValidationError) as raised:
        LargePretrainConfig.model_validate(data)
    error = raised.value.errors()[0]
    return ".".join(str(part) for part in error["loc"]), error["msg"]


# -- every engine ---------------------------------------------------------------------------


@pytest.mark.parametrize("engine", list(LargeEngine))
def test_efa_file_system_admits_the_compute_nodes(
    large_templates: dict[LargeEngine, Template], engine: LargeEngine
) -> None:
    template = large_templates[engine]
    fsx = _properties(template, "AWS::FSx::FileSystem")
    lustre = fsx["LustreConfiguration"]
    assert (fsx["StorageCapacity"], lustre["PerUnitStorageThroughput"]) == (4800, 1000)
    assert lustre["DeploymentType"] == "PERSISTENT_2"
    assert lustre["EfaEnabled"] is True
    assert lustre["MetadataConfiguration"] == {"Mode": "AUTOMATIC"}
    assert fsx["SubnetIds"] == [_compute_subnet(template)]
    (lustre_group,) = fsx["SecurityGroupIds"]
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": lustre_group,
            "SourceSecurityGroupId": _efa_group(template),
            "IpProtocol": "-1",
        },
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {
            "GroupId": lustre_group,
            "DestinationSecurityGroupId": _efa_group(template),
            "IpProtocol": "-1",
        },
    )


@pytest.mark.parametrize(
    ("engine", "cidr"),
    [
        (LargeEngine.TRAINIUM, "10.0.0.0/22"),  # 16 x 32 + 32 = 544 IPs
        (LargeEngine.NVIDIA, "10.0.0.0/21"),  # 17 x 81 + 32 = 1409 IPs
        (LargeEngine.BOTH, "10.0.0.0/20"),  # 33 x 81 + 32 = 2705 IPs
    ],
)
def test_compute_subnet_sized_for_the_sum_of_nodes(
    large_templates: dict[LargeEngine, Template], engine: LargeEngine, cidr: str
) -> None:
    subnet = _properties(large_templates[engine], "AWS::EC2::Subnet", "NetworkVpcComputeSubnet")
    assert subnet["CidrBlock"] == cidr
    assert subnet["AvailabilityZoneId"] == "use1-az4"


@pytest.mark.parametrize("engine", list(LargeEngine))
def test_cfn_lint_clean(large_templates: dict[LargeEngine, Template], engine: LargeEngine) -> None:
    assert cfn_lint_findings(large_templates[engine].to_json()) == []


@pytest.mark.parametrize(
    ("engine", "pcluster", "hyperpod", "control_plane_subnet"),
    [
        (LargeEngine.TRAINIUM, 1, 0, 0),
        (LargeEngine.NVIDIA, 0, 1, 1),
        (LargeEngine.BOTH, 1, 1, 1),
    ],
)
def test_engine_selects_the_clusters(
    large_templates: dict[LargeEngine, Template],
    engine: LargeEngine,
    pcluster: int,
    hyperpod: int,
    control_plane_subnet: int,
) -> None:
    template = large_templates[engine]
    template.resource_count_is(PCLUSTER, pcluster)
    template.resource_count_is("AWS::CloudFormation::Stack", pcluster)
    template.resource_count_is(HYPERPOD, hyperpod)
    template.resource_count_is("AWS::EKS::Cluster", hyperpod)
    subnets = template.find_resources("AWS::EC2::Subnet")
    assert len([key for key in subnets if key.startswith("NetworkControlPlane")]) == (
        control_plane_subnet
    )


# -- trainium -------------------------------------------------------------------------------


def _pcluster_config(template: Template) -> dict[str, Any]:
    config: dict[str, Any] = _properties(template, PCLUSTER)["ClusterConfiguration"]
    return config


def test_trainium_queue_in_compute_subnet_with_efa_and_fsx(
    large_templates: dict[LargeEngine, Template],
) -> None:
    template = large_templates[LargeEngine.TRAINIUM]
    config = _pcluster_config(template)
    (queue,) = config["Scheduling"]["SlurmQueues"]
    assert queue["Networking"]["SubnetIds"] == [_compute_subnet(template)]
    assert queue["Networking"]["AdditionalSecurityGroups"] == [_efa_group(template)]
    assert queue["Networking"]["PlacementGroup"] == {"Enabled": True}
    (resource,) = queue["ComputeResources"]
    assert (resource["InstanceType"], resource["MaxCount"], resource["Efa"]) == (
        "trn1.32xlarge",
        16,
        {"Enabled": True},
    )
    assert config["HeadNode"]["Networking"]["SubnetId"] == _compute_subnet(template)
    fsx = _logical_id(template, "AWS::FSx::FileSystem", "FileSystem")
    assert config["SharedStorage"] == [
        {
            "Name": "fsx",
            "StorageType": "FsxLustre",
            "MountDir": "/fsx",
            "FsxLustreSettings": {"FileSystemId": {"Ref": fsx}},
        }
    ]


def test_trainium_config_is_the_schema_validated_case(
    large_templates: dict[LargeEngine, Template],
) -> None:
    """`make test` loads the 'large-pretrain-stack' case with the official schema."""
    config = _pcluster_config(large_templates[LargeEngine.TRAINIUM])
    assert _shape(config) == _shape(sample_configuration("large-pretrain-stack"))


def test_trainium_provider_stack_and_cluster_name(
    large_templates: dict[LargeEngine, Template],
) -> None:
    template = large_templates[LargeEngine.TRAINIUM]
    provider = _properties(template, "AWS::CloudFormation::Stack")
    assert provider["TemplateURL"]["Fn::Join"][1][-1].endswith(
        "/parallelcluster/3.16.1/templates/custom_resource/cluster.yaml"
    )
    assert _properties(template, PCLUSTER)["ClusterName"] == "trainium-pretrain"


def test_trainium_outputs(large_templates: dict[LargeEngine, Template]) -> None:
    template = large_templates[LargeEngine.TRAINIUM]
    outputs = template.to_json()["Outputs"]
    assert set(outputs) == {
        "ParallelClusterName",
        "HeadNodeInstanceId",
        "HeadNodeSessionCommand",
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
        "TrainiumScaling",
        "SlurmRunWorkflowArn",
        "SlurmRunTopicArn",
    }
    cluster = _logical_id(template, PCLUSTER, "Trainium")
    assert outputs["HeadNodeInstanceId"]["Value"] == {
        "Fn::GetAtt": [cluster, "headNode.instanceId"]
    }
    assert outputs["ParallelClusterName"]["Value"] == "trainium-pretrain"


# -- nvidia and both ------------------------------------------------------------------------


@pytest.mark.parametrize("engine", [LargeEngine.NVIDIA, LargeEngine.BOTH])
def test_hyperpod_p5_groups_in_compute_subnet_with_efa(
    large_templates: dict[LargeEngine, Template], engine: LargeEngine
) -> None:
    template = large_templates[engine]
    cluster = _properties(template, HYPERPOD)
    assert cluster["VpcConfig"] == {
        "SecurityGroupIds": [_efa_group(template)],
        "Subnets": [_compute_subnet(template)],
    }
    assert cluster["NodeRecovery"] == "Automatic"
    groups = cluster["InstanceGroups"]
    assert [(g["InstanceGroupName"], g["InstanceType"], g["InstanceCount"]) for g in groups] == [
        ("system", "ml.m5.2xlarge", 1),
        ("gpu-workers", "ml.p5.48xlarge", 0),
    ]
    assert all("TrainingPlanArn" not in g for g in groups)


def test_both_share_subnet_and_efa_group(large_templates: dict[LargeEngine, Template]) -> None:
    template = large_templates[LargeEngine.BOTH]
    (queue,) = _pcluster_config(template)["Scheduling"]["SlurmQueues"]
    hyperpod = _properties(template, HYPERPOD)["VpcConfig"]
    assert queue["Networking"]["SubnetIds"] == hyperpod["Subnets"]
    assert queue["Networking"]["AdditionalSecurityGroups"] == hyperpod["SecurityGroupIds"]


@pytest.mark.parametrize("engine", [LargeEngine.NVIDIA, LargeEngine.BOTH])
def test_hyperpod_outputs_and_fsx_volume(
    large_templates: dict[LargeEngine, Template], engine: LargeEngine
) -> None:
    template = large_templates[engine]
    outputs = template.to_json()["Outputs"]
    assert {
        "UpdateKubeconfigCommand",
        "HyperPodClusterArn",
        "FsxVolumeManifest",
        "FsxFileSystemId",
    } <= set(outputs)
    assert ("ParallelClusterName" in outputs) is (engine is LargeEngine.BOTH)
    resources = template.to_json()["Resources"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::CloudFormation::WaitCondition"]
    (install_id,) = [
        lid for lid, r in resources.items() if r["Type"] == "Custom::HyperPodDependencyChart"
    ]
    (cluster,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Cluster"]
    assert install_id in cluster["DependsOn"]
    parts = outputs["FsxVolumeManifest"]["Value"]["Fn::Join"][1]
    assert '"storage":"4800Gi"' in "".join(p for p in parts if isinstance(p, str))


# -- config ---------------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = LargePretrainConfig()
    assert config.engine is LargeEngine.TRAINIUM
    assert config.total_nodes == 16
    assert (config.network.max_nodes, config.network.ips_per_node) == (16, 32)
    assert config.network.control_plane_availability_zone_id is None
    assert config.file_system.efa_enabled
    assert (config.file_system.capacity_gib, config.file_system.throughput_mb_per_s_per_tib) == (
        4800,
        1000,
    )
    assert config.trainium.max_nodes == 16
    assert config.hyperpod.total_instance_count == 1
    assert config.hyperpod.max_total_instance_count == 17
    assert config.training_plan_arn is None


def test_both_sums_the_nodes() -> None:
    config = LargePretrainConfig(engine=LargeEngine.BOTH)
    assert config.total_nodes == 33
    assert (config.network.max_nodes, config.network.ips_per_node) == (33, 81)
    assert config.network.control_plane_availability_zone_id == "use1-az6"


def test_training_plan_applies_to_accelerated_groups() -> None:
    config = LargePretrainConfig.model_validate({"engine": "nvidia", "training_plan_arn": PLAN_ARN})
    plans = [g.training_plan_arn for g in config.hyperpod.instance_groups]
    assert plans == [None, PLAN_ARN]


def test_sections_keep_the_tier_defaults() -> None:
    config = LargePretrainConfig.model_validate(
        {
            "engine": "nvidia",
            "file_system": {"dataset_bytes": 30 * 1024**4},
            "hyperpod": {"eks": {"admin_role_arns": ["arn:aws:iam::111122223333:role/Ops"]}},
        }
    )
    assert config.file_system.efa_enabled
    assert config.file_system.capacity_gib % 4800 == 0
    assert config.file_system.capacity_gib >= 30 * 1024
    assert config.hyperpod.total_instance_count == 1
    assert config.hyperpod.max_total_instance_count == 17
    # The volume states the file system's capacity at synth (see the FsxVolumeManifest test).
    assert config.hyperpod.fsx_volume.storage_capacity_gib is None


def test_other_gpu_types_allowed_explicitly() -> None:
    group = {"name": "gpu", "instance_type": "ml.p4de.24xlarge", "instance_count": 16}
    config = LargePretrainConfig.model_validate(
        {
            "engine": "nvidia",
            "allow_other_gpu_instance_types": True,
            "hyperpod": {"instance_groups": [group]},
        }
    )
    assert config.hyperpod.instance_groups[0].instance_type == "ml.p4de.24xlarge"


def test_fails_non_trainium_type_in_trainium_queue() -> None:
    queue = {"compute_resources": [{"instance_type": "p5.48xlarge"}]}
    assert _error({"trainium": {"queues": [queue]}}) == (
        "trainium.queues.0.compute_resources.0.instance_type",
        "Value error, instance_type 'p5.48xlarge' is not a Trainium instance type; a Trainium "
        "queue accepts trn1.32xlarge, trn1n.32xlarge, trn2.48xlarge.",
    )


def test_fails_placement_group_with_capacity_block() -> None:
    queue = {
        "capacity_type": "CAPACITY_BLOCK",
        "placement_group_enabled": True,
        "compute_resources": [{"min_count": 16, "capacity_reservation_id": "cr-0123456789abcdef0"}],
    }
    assert _error({"trainium": {"queues": [queue]}}) == (
        "trainium.queues.0",
        "Value error, queue 'compute': placement_group_enabled must be false (or unset) with "
        "capacity_type CAPACITY_BLOCK; Capacity Blocks do not use placement groups.",
    )


def test_fails_more_than_50_queues() -> None:
    queues = [{"name": f"q{i}", "compute_resources": [{"max_count": 1}]} for i in range(51)]
    assert _error({"trainium": {"queues": queues}}) == (
        "trainium",
        "Value error, queues has 51 queues; ParallelCluster allows at most 50.",
    )


def test_fails_more_than_50_compute_resources() -> None:
    resources = [{"name": f"c{j}", "max_count": 1} for j in range(26)]
    queues = [{"name": f"q{i}", "compute_resources": resources} for i in range(2)]
    assert _error({"trainium": {"queues": queues}}) == (
        "trainium",
        "Value error, queues have 52 compute resources in total; ParallelCluster allows at "
        "most 50 per cluster.",
    )


def test_fails_efa_capacity_not_an_efa_increment() -> None:
    data = {"file_system": {"storage_capacity_gib": 2400, "throughput_mb_per_s_per_tib": 1000}}
    assert _error(data) == (
        "file_system",
        "Value error, storage_capacity_gib 2400 is not valid for PERSISTENT_2; allowed: "
        "multiples of 4800 GiB (EFA-enabled at 1000 MB/s/TiB)",
    )


def test_fails_efa_file_system_on_scratch() -> None:
    assert _error({"file_system": {"deployment_type": "SCRATCH_2"}}) == (
        "file_system",
        "Value error, efa_enabled requires deployment_type PERSISTENT_2 (with a metadata "
        "configuration and Lustre 2.15); got deployment_type SCRATCH_2",
    )


def test_fails_efa_file_system_without_efa_clients() -> None:
    queue = {"efa_enabled": False, "placement_group_enabled": False}
    assert _error({"trainium": {"queues": [queue]}}) == (
        "",
        "Value error, file_system.efa_enabled needs EFA clients, but no trainium queue has "
        "efa_enabled; allowed: efa_enabled true on a queue, or file_system.efa_enabled false",
    )


def test_fails_subnet_too_small_for_both_clusters() -> None:
    assert _error({"engine": "both", "network": {"compute_subnet_prefix_length": 22}}) == (
        "network",
        "Value error, compute_subnet_prefix_length /22 holds 1019 usable IPs, but max_nodes=33 "
        "x ips_per_node=81 + reserved_ips=32 needs 2705; allowed: /20 or larger, or fewer nodes",
    )


def test_fails_vpc_too_small_for_the_nodes() -> None:
    assert _error({"engine": "both", "network": {"vpc_cidr": "10.0.0.0/21"}}) == (
        "network",
        "Value error, the compute subnet needs 2705 IPs (max_nodes=33 x ips_per_node=81 + "
        "reserved_ips=32), a /20, which does not fit vpc_cidr '10.0.0.0/21'; allowed: at most "
        "2043 IPs in this VPC",
    )


def test_fails_non_p5_gpu_group() -> None:
    group = {"name": "gpu", "instance_type": "ml.p4d.24xlarge", "instance_count": 16}
    assert _error({"engine": "nvidia", "hyperpod": {"instance_groups": [group]}}) == (
        "",
        "Value error, hyperpod.instance_groups[0] ('gpu'): instance_type 'ml.p4d.24xlarge' is "
        "not a p5-class type of the large tier; allowed: ml.p5.48xlarge, ml.p5e.48xlarge, "
        "ml.p5en.48xlarge, or set allow_other_gpu_instance_types=true",
    )


def test_fails_unknown_engine() -> None:
    assert _error({"engine": "tpu"}) == (
        "engine",
        "Input should be 'trainium', 'nvidia' or 'both'",
    )


def test_fails_bad_training_plan_arn() -> None:
    arn = "arn:aws:sagemaker:us-east-1:111122223333:plan/x"
    assert _error({"engine": "nvidia", "training_plan_arn": arn}) == (
        "training_plan_arn",
        f"Value error, training_plan_arn {arn!r} must look like "
        "'arn:aws:sagemaker:<region>:<account>:training-plan/<name>'",
    )
