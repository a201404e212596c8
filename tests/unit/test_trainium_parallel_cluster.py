"""TrainiumParallelCluster: provider nested stack, Custom::PclusterCluster, generated config."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from cdk_support import cfn_lint_findings, new_app, new_stack, template_of
from pcluster_cases import CASE_WIRING, CASES, sample_configuration
from pydantic import ValidationError

from cdk_llm_training import (
    HeadNodeOptions,
    LustreFileSystemAttributes,
    QueueCapacityType,
    TrainiumClusterOptions,
    TrainiumComputeResource,
    TrainiumParallelCluster,
    TrainiumQueue,
)
from cdk_llm_training.config.trainium_parallel_cluster import (
    PARALLELCLUSTER_VERSION,
    to_cluster_configuration,
)
from cdk_llm_training.constructs.acknowledgements import acknowledge
from cdk_llm_training.constructs.trainium_parallel_cluster import neuron_script_path

CLUSTER = "Custom::PclusterCluster"


@dataclass
class Network:
    vpc: ec2.Vpc
    subnet: ec2.ISubnet
    public_subnet: ec2.ISubnet
    efa: ec2.SecurityGroup
    file_system: LustreFileSystemAttributes


def _network(stack: cdk.Stack, *, compute_mask: int = 20) -> Network:
    """A small env-agnostic VPC: one AZ, a public and a private compute subnet, the EFA group."""
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=1,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(
                name="Compute",
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                cidr_mask=compute_mask,
            ),
        ],
    )
    acknowledge(vpc, "AwsSolutions-VPC7", "Test fixture VPC; TrainingNetwork adds flow logs.")
    efa = ec2.SecurityGroup(stack, "Efa", vpc=vpc, allow_all_outbound=False)
    efa.add_ingress_rule(efa, ec2.Port.all_traffic(), "EFA: all traffic from itself")
    efa.add_egress_rule(efa, ec2.Port.all_traffic(), "EFA: all traffic to itself")
    fs_id = cdk.CfnParameter(stack, "FileSystemId", type="String").value_as_string
    file_system = LustreFileSystemAttributes(
        file_system_id=fs_id, dns_name="fs.example.internal", mount_name="abcdefgh"
    )
    return Network(vpc, vpc.private_subnets[0], vpc.public_subnets[0], efa, file_system)


def _cluster(stack: cdk.Stack, net: Network, **kwargs: Any) -> TrainiumParallelCluster:
    return TrainiumParallelCluster(
        stack,
        "Cluster",
        vpc=net.vpc,
        subnet=net.subnet,
        security_groups=[net.efa],
        file_system=net.file_system,
        **kwargs,
    )


def _build_case(app: cdk.App, name: str) -> tuple[cdk.Stack, TrainiumParallelCluster]:
    """Build ``pcluster_cases.CASES[name]`` with the wiring the offline check renders."""
    stack = cdk.Stack(app, f"Case{name.title().replace('-', '')}")
    net = _network(stack)
    wiring = CASE_WIRING[name]
    kwargs: dict[str, Any] = {"options": CASES[name]}
    if wiring.get("key"):
        kwargs["scripts_key"] = kms.Key(stack, "ScriptsKey", enable_key_rotation=True)
    if wiring.get("head_node_subnet"):
        kwargs["head_node_subnet"] = ec2.Subnet(
            stack,
            "HeadSubnet",
            vpc_id=net.vpc.vpc_id,
            availability_zone=net.subnet.availability_zone,
            cidr_block="10.0.250.0/24",
        )
    if "queue_subnets" in wiring:
        extra = ec2.Subnet.from_subnet_attributes(
            stack, "OtherAz", subnet_id="subnet-0a1b2c3d4e5f60718", availability_zone="us-east-1b"
        )
        kwargs["queue_subnets"] = {
            queue: [net.subnet, extra][:count] for queue, count in wiring["queue_subnets"].items()
        }
    if wiring.get("node_scripts"):
        kwargs["scripts_bucket"] = s3.Bucket.from_bucket_name(stack, "Scripts", "my-artifacts")
        kwargs["node_scripts"] = [f"scripts/step{i}.sh" for i in range(wiring["node_scripts"])]
    return stack, _cluster(stack, net, **kwargs)


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple[TrainiumParallelCluster, Template]]:
    """Every shared case, built once in one nag-checked app."""
    app = new_app()
    built = {name: _build_case(app, name) for name in CASES}
    return {name: (cluster, template_of(stack)) for name, (stack, cluster) in built.items()}


def _config(template: Template) -> dict[str, Any]:
    (resource,) = template.find_resources(CLUSTER).values()
    config: dict[str, Any] = resource["Properties"]["ClusterConfiguration"]
    return config


def _queues(template: Template) -> list[dict[str, Any]]:
    queues: list[dict[str, Any]] = _config(template)["Scheduling"]["SlurmQueues"]
    return queues


def _shape(value: Any) -> Any:
    """Structure of a config: every string or intrinsic becomes '<str>'; numbers, bools stay."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
            return "<str>"
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    if isinstance(value, str):
        return "<str>"
    return value


# -- the provider stack and the custom resource --------------------------------------------


def test_provider_nested_stack_uses_region_aware_pinned_template(
    cases: dict[str, tuple[TrainiumParallelCluster, Template]],
) -> None:
    _, template = cases["defaults"]
    template.resource_count_is("AWS::CloudFormation::Stack", 1)
    (provider,) = template.find_resources("AWS::CloudFormation::Stack").values()
    parts = provider["Properties"]["TemplateURL"]["Fn::Join"][1]
    assert parts == [
        "https://",
        {"Ref": "AWS::Region"},
        "-aws-parallelcluster.s3.",
        {"Ref": "AWS::Region"},
        ".",
        {"Ref": "AWS::URLSuffix"},
        f"/parallelcluster/{PARALLELCLUSTER_VERSION}/templates/custom_resource/cluster.yaml",
    ]
    assert "Parameters" not in provider["Properties"]
    assert PARALLELCLUSTER_VERSION == "3.16.1"


def test_custom_resource_properties(
    cases: dict[str, tuple[TrainiumParallelCluster, Template]],
) -> None:
    _, template = cases["defaults"]
    template.resource_count_is(CLUSTER, 1)
    template.has_resource_properties(
        CLUSTER,
        {
            "ServiceToken": {
                "Fn::GetAtt": [Match.string_like_regexp("^ClusterProvider"), "Outputs.ServiceToken"]
            },
            "ClusterName": "trainium-pretrain",
            "DeletionPolicy": "Delete",
        },
    )


def test_default_configuration(cases: dict[str, tuple[TrainiumParallelCluster, Template]]) -> None:
    _, template = cases["defaults"]
    config = _config(template)
    assert config["Region"] == {"Ref": "AWS::Region"}
    assert config["Imds"] == {"ImdsSupport": "v2.0"}
    assert config["Image"] == {"Os": "ubuntu2404"}  # the OS Neuron names for torch-neuronx
    head = config["HeadNode"]
    assert head["InstanceType"] == "c7i.4xlarge"
    assert head["Imds"] == {"Secured": True}
    assert head["LocalStorage"]["RootVolume"] == {
        "Size": 200,
        "Encrypted": True,
        "VolumeType": "gp3",
    }
    assert head["Networking"]["SubnetId"]["Ref"].startswith("VpcComputeSubnet")
    assert head["Ssh"] == {
        "AllowedIps": {"Fn::GetAtt": [head["Ssh"]["AllowedIps"]["Fn::GetAtt"][0], "CidrBlock"]}
    }
    assert head["Ssh"]["AllowedIps"]["Fn::GetAtt"][0].startswith("Vpc")
    scheduling = config["Scheduling"]
    assert scheduling["Scheduler"] == "slurm"
    assert scheduling["SlurmSettings"] == {"QueueUpdateStrategy": "DRAIN", "ScaledownIdletime": 10}
    (queue,) = scheduling["SlurmQueues"]
    assert queue["Name"] == "compute"
    assert queue["CapacityType"] == "ONDEMAND"
    assert queue["JobExclusiveAllocation"] is True
    assert queue["Networking"]["PlacementGroup"] == {"Enabled": True}
    (subnet,) = queue["Networking"]["SubnetIds"]
    assert subnet["Ref"].startswith("VpcComputeSubnet")
    (sg,) = queue["Networking"]["AdditionalSecurityGroups"]
    assert sg["Fn::GetAtt"][0].startswith("Efa")
    assert sg["Fn::GetAtt"][1] == "GroupId"
    assert head["Networking"]["AdditionalSecurityGroups"] == [sg]
    assert queue["ComputeResources"] == [
        {
            "Name": "trn1",
            "InstanceType": "trn1.32xlarge",
            "MinCount": 0,
            "MaxCount": 16,
            "Efa": {"Enabled": True},
        }
    ]
    assert config["SharedStorage"] == [
        {
            "Name": "fsx",
            "StorageType": "FsxLustre",
            "MountDir": "/fsx",
            "FsxLustreSettings": {"FileSystemId": {"Ref": "FileSystemId"}},
        }
    ]
    assert config["Monitoring"] == {
        "DetailedMonitoring": False,
        "Logs": {
            "CloudWatch": {"Enabled": True, "RetentionInDays": 30, "DeletionPolicy": "Retain"}
        },
    }


def test_neuron_script_is_an_asset_run_on_node_configured(
    cases: dict[str, tuple[TrainiumParallelCluster, Template]],
) -> None:
    cluster, template = cases["defaults"]
    (queue,) = _queues(template)
    action = queue["CustomActions"]["OnNodeConfigured"]
    # One pinned Neuron release (2.31.0): apt packages, Neuron wheels, PyPI wheels.
    assert action["Args"] == [
        "--release",
        "2.31.0",
        "--apt",
        "aws-neuronx-dkms=2.29.0.0",
        "--apt",
        "aws-neuronx-collectives=2.33.10.0",
        "--apt",
        "aws-neuronx-runtime-lib=2.33.10.0",
        "--apt",
        "aws-neuronx-tools=2.31.13.0",
        "--neuron-pip",
        "neuronx-cc==2.26.6360.0",
        "--neuron-pip",
        "torch-neuronx==2.9.0.2.15.32035",
        "--neuron-pip",
        "libneuronxla==2.2.17544.0",
        "--pypi",
        "torch==2.9.0",
        # The release's pre-training framework (install_pretrain_framework, default on).
        "--neuron-pip",
        "neuronx-distributed==0.19.28492",
        "--pypi",
        "transformers==4.48.0",
        "--pypi",
        "datasets==3.6.0",
        "--pypi",
        "tensorboard==2.19.0",
    ]
    assert cluster.neuron_script is not None
    script = cdk.Stack.of(cluster).resolve(cluster.neuron_script.s3_object_url)
    assert action["Script"] == script
    (access,) = queue["Iam"]["S3Access"]
    assert set(access) == {"BucketName", "KeyName"}
    assert access["KeyName"].endswith(".sh")
    assert queue["Iam"]["AdditionalIamPolicies"] == [
        {
            "Policy": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":iam::aws:policy/AmazonSSMManagedInstanceCore",
                    ],
                ]
            }
        }
    ]
    text = neuron_script_path().read_text()
    assert text.startswith("#!/bin/bash")
    # The package names and versions come in as arguments (one pinned release).
    assert 'apt-get install -y --allow-change-held-packages "${pinned[@]}"' in text


def test_capacity_block_queue_and_kms_node_policy(
    cases: dict[str, tuple[TrainiumParallelCluster, Template]],
) -> None:
    cluster, template = cases["capacity-block"]
    (queue,) = _queues(template)
    assert queue["CapacityType"] == "CAPACITY_BLOCK"
    assert queue["Networking"]["PlacementGroup"] == {"Enabled": False}
    assert queue["ComputeResources"][0]["CapacityReservationTarget"] == {
        "CapacityReservationId": "cr-0123456789abcdef0"
    }
    assert (
        queue["ComputeResources"][0]["MinCount"] == queue["ComputeResources"][0]["MaxCount"] == 16
    )
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": Match.any_value()}
                ]
            }
        },
    )
    assert cluster.node_policy is not None
    policy_ref = cdk.Stack.of(cluster).resolve(cluster.node_policy.managed_policy_arn)
    assert {"Policy": policy_ref} in _config(template)["HeadNode"]["Iam"]["AdditionalIamPolicies"]
    assert {"Policy": policy_ref} in queue["Iam"]["AdditionalIamPolicies"]


def test_multiple_queues_head_subnet_and_node_scripts(
    cases: dict[str, tuple[TrainiumParallelCluster, Template]],
) -> None:
    _, template = cases["multi-queue"]
    config = _config(template)
    assert config["Image"] == {"Os": "ubuntu2404"}
    assert config["HeadNode"]["Networking"]["SubnetId"]["Ref"].startswith("HeadSubnet")
    assert config["HeadNode"]["Ssh"] == {"AllowedIps": "10.20.0.0/16", "KeyName": "ops"}
    assert config["Monitoring"]["DetailedMonitoring"] is True
    assert config["Monitoring"]["Logs"]["CloudWatch"]["RetentionInDays"] == 90
    train, debug = _queues(template)
    assert [cr["Name"] for cr in train["ComputeResources"]] == ["trn1", "trn1-odcr"]
    assert "CapacityReservationTarget" not in train["ComputeResources"][0]
    assert train["ComputeResources"][1]["CapacityReservationTarget"] == {
        "CapacityReservationId": "cr-0123456789abcdef0"
    }
    assert debug["Networking"]["SubnetIds"][1] == "subnet-0a1b2c3d4e5f60718"
    assert debug["Networking"]["PlacementGroup"] == {"Enabled": False}
    assert debug["JobExclusiveAllocation"] is False
    assert debug["ComputeResources"][0]["Efa"] == {"Enabled": False}
    sequence = train["CustomActions"]["OnNodeConfigured"]["Sequence"]
    assert len(sequence) == 3
    assert sequence[1] == {"Script": "s3://my-artifacts/scripts/step0.sh"}
    assert sequence[2] == {"Script": "s3://my-artifacts/scripts/step1.sh"}
    assert {"BucketName": "my-artifacts", "KeyName": "scripts/step1.sh"} in train["Iam"]["S3Access"]


def test_neuron_ami_without_install_script(
    cases: dict[str, tuple[TrainiumParallelCluster, Template]],
) -> None:
    _, template = cases["trn2-ami"]
    config = _config(template)
    assert config["Image"] == {"Os": "ubuntu2404", "CustomAmi": "ami-0123456789abcdef0"}
    (queue,) = _queues(template)
    assert "CustomActions" not in queue
    assert "S3Access" not in queue["Iam"]
    assert cases["trn2-ami"][0].neuron_script is None
    assert queue["ComputeResources"][0]["InstanceType"] == "trn2.48xlarge"


@pytest.mark.parametrize("name", list(CASES))
def test_synthesized_config_matches_the_offline_validated_one(
    cases: dict[str, tuple[TrainiumParallelCluster, Template]], name: str
) -> None:
    """The structure `make test` validates with the official schema is what synthesizes."""
    _, template = cases[name]
    assert _shape(_config(template)) == _shape(sample_configuration(name))


@pytest.mark.parametrize("name", list(CASES))
def test_cfn_lint_clean(
    cases: dict[str, tuple[TrainiumParallelCluster, Template]], name: str
) -> None:
    _, template = cases[name]
    assert cfn_lint_findings(template.to_json()) == []


def test_attributes_and_connections(
    cases: dict[str, tuple[TrainiumParallelCluster, Template]],
) -> None:
    cluster, _ = cases["defaults"]
    resolve = cdk.Stack.of(cluster).resolve
    logical_id = cdk.Stack.of(cluster).get_logical_id(cluster.resource)
    assert resolve(cluster.head_node_instance_id) == {
        "Fn::GetAtt": [logical_id, "headNode.instanceId"]
    }
    assert resolve(cluster.head_node_private_ip) == {
        "Fn::GetAtt": [logical_id, "headNode.privateIpAddress"]
    }
    assert resolve(cluster.validation_messages) == {
        "Fn::GetAtt": [logical_id, "validationMessages"]
    }
    provider_id = cdk.Stack.of(cluster).get_logical_id(cluster.provider)
    assert resolve(cluster.service_token) == {"Fn::GetAtt": [provider_id, "Outputs.ServiceToken"]}
    assert resolve(cluster.provider_log_group_arn) == {
        "Fn::GetAtt": [provider_id, "Outputs.LogGroupArn"]
    }
    assert cluster.cluster_name == "trainium-pretrain"
    assert len(cluster.connections.security_groups) == 1
    assert logical_id.startswith("Cluster")


def test_provider_role_and_policies_parameters() -> None:
    app = new_app()
    stack = cdk.Stack(app, "WithRole")
    net = _network(stack)
    role = iam.Role.from_role_arn(
        stack, "ProviderRole", f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:role/pc"
    )
    _cluster(stack, net, provider_role=role)
    other = cdk.Stack(app, "WithPolicies")
    net2 = _network(other)
    policy = iam.ManagedPolicy.from_managed_policy_name(other, "Extra", "pc-extra")
    _cluster(other, net2, provider_policies=[policy])
    provider = next(iter(template_of(stack).find_resources("AWS::CloudFormation::Stack").values()))
    assert provider["Properties"]["Parameters"] == {
        "CustomLambdaRole": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::",
                    {"Ref": "AWS::AccountId"},
                    ":role/pc",
                ],
            ]
        }
    }
    provider2 = next(iter(template_of(other).find_resources("AWS::CloudFormation::Stack").values()))
    assert provider2["Properties"]["Parameters"] == {
        "AdditionalIamPolicies": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::",
                    {"Ref": "AWS::AccountId"},
                    ":policy/pc-extra",
                ],
            ]
        }
    }


# -- validation ------------------------------------------------------------------------


@pytest.fixture
def stack_and_net() -> tuple[cdk.Stack, Network]:
    stack = new_stack(nag=False)
    return stack, _network(stack)


def _raises_value_error(message: str) -> Any:
    return pytest.raises(ValueError, match=re.escape(message))


def test_fails_efa_queue_spanning_two_subnets(stack_and_net: tuple[cdk.Stack, Network]) -> None:
    stack, net = stack_and_net
    with _raises_value_error(
        "queue 'compute' has EFA enabled and 2 subnets; an EFA queue must use exactly one subnet "
        "(EFA traffic does not cross Availability Zones)."
    ):
        _cluster(stack, net, queue_subnets={"compute": [net.subnet, net.public_subnet]})


def test_fails_unknown_queue_in_queue_subnets(stack_and_net: tuple[cdk.Stack, Network]) -> None:
    stack, net = stack_and_net
    with _raises_value_error("queue_subnets names unknown queues: gpu; queues are compute."):
        _cluster(stack, net, queue_subnets={"gpu": [net.subnet]})


def test_fails_non_trainium_instance_type() -> None:
    with _raises_value_error(
        "instance_type 'p5.48xlarge' is not a Trainium instance type; a Trainium queue accepts "
        "trn1.32xlarge, trn1n.32xlarge, trn2.48xlarge."
    ):
        TrainiumComputeResource(instance_type="p5.48xlarge")


def test_fails_placement_group_with_capacity_block() -> None:
    with _raises_value_error(
        "queue 'cb': placement_group_enabled must be false (or unset) with capacity_type "
        "CAPACITY_BLOCK; Capacity Blocks do not use placement groups."
    ):
        TrainiumQueue(
            name="cb",
            capacity_type=QueueCapacityType.CAPACITY_BLOCK,
            placement_group_enabled=True,
            compute_resources=(
                TrainiumComputeResource(
                    min_count=4, max_count=4, capacity_reservation_id="cr-0123456789abcdef0"
                ),
            ),
        )


def test_fails_capacity_block_without_reservation() -> None:
    with _raises_value_error(
        "queue 'compute': compute resource 'trn1' needs a capacity_reservation_id (the Capacity "
        "Block id) with capacity_type CAPACITY_BLOCK."
    ):
        TrainiumQueue(
            capacity_type=QueueCapacityType.CAPACITY_BLOCK,
            compute_resources=(TrainiumComputeResource(min_count=4, max_count=4),),
        )


def test_fails_capacity_block_dynamic_nodes() -> None:
    with _raises_value_error(
        "queue 'compute': compute resource 'trn1' has min_count 0 and max_count 4; with "
        "capacity_type CAPACITY_BLOCK both must be equal and greater than 0 (static nodes)."
    ):
        TrainiumQueue(
            capacity_type=QueueCapacityType.CAPACITY_BLOCK,
            compute_resources=(
                TrainiumComputeResource(
                    max_count=4, capacity_reservation_id="cr-0123456789abcdef0"
                ),
            ),
        )


def test_fails_more_than_50_queues() -> None:
    queues = tuple(TrainiumQueue(name=f"q{i}") for i in range(51))
    with _raises_value_error("queues has 51 queues; ParallelCluster allows at most 50."):
        TrainiumClusterOptions(queues=queues)


def test_fails_more_than_50_compute_resources() -> None:
    resources = tuple(TrainiumComputeResource(name=f"cr{i}", max_count=1) for i in range(26))
    queues = (TrainiumQueue(name="a", compute_resources=resources),) * 1 + (
        TrainiumQueue(name="b", compute_resources=resources[:25]),
    )
    with _raises_value_error(
        "queues have 51 compute resources in total; ParallelCluster allows at most 50 per cluster."
    ):
        TrainiumClusterOptions(queues=queues)


def test_fails_more_than_50_compute_resources_in_a_queue() -> None:
    resources = tuple(TrainiumComputeResource(name=f"cr{i}", max_count=1) for i in range(51))
    with _raises_value_error(
        "queue 'compute' has 51 compute resources; ParallelCluster allows at most 50."
    ):
        TrainiumQueue(compute_resources=resources)


@pytest.mark.parametrize(
    ("name", "length"), [("1trn", 4), ("trn_pretrain", 12), ("t" * 61, 61), ("trn.x", 5)]
)
def test_fails_cluster_name_rules(name: str, length: int) -> None:
    with _raises_value_error(
        f"cluster_name {name!r} is invalid: it must start with a letter, contain only letters, "
        f"digits and hyphens, and be at most 60 characters long (got {length})."
    ):
        TrainiumClusterOptions(cluster_name=name)


def test_cluster_name_of_60_characters_is_accepted() -> None:
    assert TrainiumClusterOptions(cluster_name="T" + "a-1" * 19 + "xx").cluster_name.startswith("T")


def test_fails_cluster_name_equal_to_stack_name() -> None:
    stack = cdk.Stack(new_app(nag=False), "trainium-pretrain")
    with _raises_value_error(
        "cluster_name 'trainium-pretrain' equals the stack name; ParallelCluster creates its own "
        "stack with the cluster name, so pick another name."
    ):
        _cluster(stack, _network(stack))


def test_fails_queue_and_compute_resource_name_rules() -> None:
    with _raises_value_error(
        "queue name 'Compute' is invalid: it must start with a lowercase letter, contain only "
        "lowercase letters, digits and hyphens, be at most 25 characters long and not be "
        "'default'."
    ):
        TrainiumQueue(name="Compute")
    with _raises_value_error("compute resource name 'default' is invalid"):
        TrainiumComputeResource(name="default")


def test_fails_duplicate_names() -> None:
    with _raises_value_error("queue names must be unique; repeated: compute."):
        TrainiumClusterOptions(queues=(TrainiumQueue(), TrainiumQueue()))
    with _raises_value_error(
        "queue 'compute': compute resource names must be unique; repeated: trn1."
    ):
        TrainiumQueue(compute_resources=(TrainiumComputeResource(), TrainiumComputeResource()))


def test_fails_min_count_above_max_count() -> None:
    with _raises_value_error(
        "compute resource 'trn1': min_count (8) must not exceed max_count (4)."
    ):
        TrainiumComputeResource(min_count=8, max_count=4)


def test_fails_bad_ids_and_values() -> None:
    with _raises_value_error(
        "capacity_reservation_id 'cr-123' is not a capacity reservation id (expected 'cr-' "
        "followed by 17 hexadecimal digits)."
    ):
        TrainiumComputeResource(capacity_reservation_id="cr-123")
    with _raises_value_error("custom_ami_id 'ami-1' is not an AMI id (ami-...)."):
        TrainiumClusterOptions(custom_ami_id="ami-1")
    with _raises_value_error(
        "log_retention_days 10 is not a CloudWatch Logs retention period; allowed: 1, 3, 5,"
    ):
        TrainiumClusterOptions(log_retention_days=10)
    with _raises_value_error(
        "ssh_allowed_cidr '0.0.0.0' is not an IPv4 CIDR block (e.g. 10.0.0.0/16)."
    ):
        HeadNodeOptions(ssh_allowed_cidr="0.0.0.0")
    with pytest.raises(ValidationError, match="os"):
        TrainiumClusterOptions.model_validate({"os": "alinux2"})


def test_fails_public_compute_subnet(stack_and_net: tuple[cdk.Stack, Network]) -> None:
    stack, net = stack_and_net
    with _raises_value_error(
        "subnet 'TestStack/Vpc/PublicSubnet1' is a public subnet; Trainium compute nodes must run "
        "in a private subnet."
    ):
        TrainiumParallelCluster(
            stack,
            "Cluster",
            vpc=net.vpc,
            subnet=net.public_subnet,
            security_groups=[net.efa],
            file_system=net.file_system,
        )


def test_fails_public_head_node_without_secured_imds(
    stack_and_net: tuple[cdk.Stack, Network],
) -> None:
    stack, net = stack_and_net
    with _raises_value_error(
        "head_node.imds_secured is false while the head node is in the public subnet "
        "'TestStack/Vpc/PublicSubnet1'; a public head node must keep IMDS secured."
    ):
        _cluster(
            stack,
            net,
            head_node_subnet=net.public_subnet,
            options=TrainiumClusterOptions(head_node=HeadNodeOptions(imds_secured=False)),
        )


def test_public_head_node_with_secured_imds_is_accepted(
    stack_and_net: tuple[cdk.Stack, Network],
) -> None:
    stack, net = stack_and_net
    cluster = _cluster(stack, net, head_node_subnet=net.public_subnet)
    subnet = cdk.Stack.of(cluster).resolve(cluster.cluster_configuration["HeadNode"]["Networking"])
    assert subnet["SubnetId"]["Ref"].startswith("VpcPublicSubnet1")


def test_fails_subnet_too_small() -> None:
    stack = new_stack(nag=False)
    net = _network(stack, compute_mask=26)
    with _raises_value_error(
        "subnet 10.0.1.0/26 is too small: it has 51 usable addresses but the queues' max_count "
        "nodes need 128 (one per EFA network card); use a larger subnet or lower max_count."
    ):
        _cluster(stack, net)


def test_fails_without_security_groups(stack_and_net: tuple[cdk.Stack, Network]) -> None:
    stack, net = stack_and_net
    with _raises_value_error(
        "security_groups is empty; pass at least the EFA security group (all traffic to and "
        "from itself)."
    ):
        TrainiumParallelCluster(
            stack,
            "Cluster",
            vpc=net.vpc,
            subnet=net.subnet,
            security_groups=[],
            file_system=net.file_system,
        )


def test_fails_node_scripts_without_bucket(stack_and_net: tuple[cdk.Stack, Network]) -> None:
    stack, net = stack_and_net
    with _raises_value_error(
        "node_scripts ['a.sh'] needs scripts_bucket: the scripts are object keys in that bucket."
    ):
        _cluster(stack, net, node_scripts=["a.sh"])


def test_generation_requires_neuron_script_when_installing() -> None:
    with _raises_value_error("install_neuron is on but no neuron_script_url was given."):
        to_cluster_configuration(
            TrainiumClusterOptions(),
            region="us-east-1",
            head_node_subnet_id="subnet-0123456789abcdef0",
            compute_subnet_id="subnet-0123456789abcdef0",
            security_group_ids=["sg-0123456789abcdef0"],
            file_system_id="fs-0123456789abcdef0",
            ssh_allowed_cidr="10.0.0.0/16",
        )


def test_config_module_does_not_import_aws_cdk() -> None:
    """The offline schema check imports it in a venv without aws-cdk-lib."""
    import subprocess
    import sys

    code = (
        "import sys, cdk_llm_training.config.trainium_parallel_cluster, pcluster_cases; "
        "print(any(m.startswith(('aws_cdk', 'jsii')) for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": "src:tests"},
        cwd=str(__import__("cdk_support").REPO_ROOT),
    )
    assert result.stdout.strip() == "False"


# -- options without their own case -----------------------------------------------------


def _sample(options: TrainiumClusterOptions) -> dict[str, Any]:
    return to_cluster_configuration(
        options,
        region="eu-west-1",
        head_node_subnet_id="subnet-0123456789abcdef0",
        compute_subnet_id="subnet-0123456789abcdef0",
        security_group_ids=["sg-0123456789abcdef0"],
        file_system_id="fs-0123456789abcdef0",
        ssh_allowed_cidr="10.0.0.0/16",
        neuron_script_url="s3://bucket/install_neuron.sh",
        partition="aws-cn",
    )


def test_generation_options() -> None:
    config = _sample(
        TrainiumClusterOptions(
            fsx_mount_dir="/lustre",
            scaledown_idletime_minutes=30,
            neuron_python_packages=("neuronx-distributed==0.19.28492", "datasets==4.0.0"),
            head_node=HeadNodeOptions(instance_type="m7i.8xlarge", root_volume_size_gib=500),
            queues=(TrainiumQueue(capacity_type=QueueCapacityType.SPOT),),
        )
    )
    assert config["Region"] == "eu-west-1"
    assert config["SharedStorage"][0]["MountDir"] == "/lustre"
    assert config["Scheduling"]["SlurmSettings"]["ScaledownIdletime"] == 30
    assert config["HeadNode"]["InstanceType"] == "m7i.8xlarge"
    assert config["HeadNode"]["LocalStorage"]["RootVolume"]["Size"] == 500
    (queue,) = config["Scheduling"]["SlurmQueues"]
    assert queue["CapacityType"] == "SPOT"
    assert queue["Networking"]["PlacementGroup"] == {"Enabled": True}
    action = queue["CustomActions"]["OnNodeConfigured"]
    assert action["Script"] == "s3://bucket/install_neuron.sh"
    # Neuron-named extras come from the Neuron index, the others from PyPI.
    assert action["Args"][-4:] == [
        "--neuron-pip",
        "neuronx-distributed==0.19.28492",
        "--pypi",
        "datasets==4.0.0",
    ]
    assert queue["Iam"]["AdditionalIamPolicies"] == [
        {"Policy": "arn:aws-cn:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    ]
    assert "S3Access" not in queue["Iam"]


def test_placement_group_can_be_turned_off() -> None:
    queue = TrainiumQueue(placement_group_enabled=False)
    assert queue.uses_placement_group is False
    assert TrainiumQueue().uses_placement_group is True
    assert TrainiumClusterOptions().max_nodes == 16


def test_retain_deletion_policy_and_no_neuron_warning() -> None:
    stack = new_stack()
    cluster = _cluster(
        stack,
        _network(stack),
        options=TrainiumClusterOptions(deletion_policy="Retain", install_neuron=False),
    )
    template = template_of(stack)
    template.has_resource_properties(CLUSTER, {"DeletionPolicy": "Retain"})
    assert cluster.neuron_script is None
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("Neuron"))
    assert len(warnings) == 1
    assert "without the Neuron SDK" in str(warnings[0].entry.data)
    assert "[ack: cdk-llm-training/trainium-parallel-cluster:noNeuronSdk]" in str(
        warnings[0].entry.data
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"neuron_python_packages": ("torch-neuronx",)},
            "neuron_python_packages ['torch-neuronx'] are not pinned",
        ),
        ({"neuron_release": "2.99.0"}, "neuron_release '2.99.0' is not pinned by this library"),
        ({"os": "alinux2023"}, "install_neuron needs os 'ubuntu2404'"),
        ({"closed_network": True}, "install_neuron downloads the Neuron SDK from the internet"),
        ({"neuron_mirror_url": "http://mirror"}, "neuron_mirror_url 'http://mirror' is not"),
    ],
)
def test_neuron_install_is_pinned_and_needs_ubuntu_2404_and_internet(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainiumClusterOptions.model_validate(fields)


def test_closed_network_uses_ec2_host_names_and_a_mirror_or_an_ami() -> None:
    mirrored = TrainiumClusterOptions(
        closed_network=True, neuron_mirror_url="https://mirror.internal/neuron/"
    )
    assert mirrored.neuron_script_args()[-2:] == ["--mirror", "https://mirror.internal/neuron"]
    config = _sample(mirrored)
    assert config["Scheduling"]["SlurmSettings"]["Dns"] == {
        "DisableManagedDns": True,
        "UseEc2Hostnames": True,
    }
    assert "Dns" not in _sample(TrainiumClusterOptions())["Scheduling"]["SlurmSettings"]
    ami = TrainiumClusterOptions(
        closed_network=True, custom_ami_id="ami-0123456789abcdef0", install_neuron=False
    )
    assert "CustomActions" not in _sample(ami)["Scheduling"]["SlurmQueues"][0]


def test_install_script_pins_indexes_and_refuses_dependency_confusion() -> None:
    script = neuron_script_path().read_text()
    assert "--extra-index-url" not in script
    assert '--index-url "${NEURON_PIP_URL}" --no-deps' in script
    assert '--index-url "${PYPI_URL}" --dry-run' in script
    assert "refusing to install Neuron-named distributions from PyPI" in script
    assert "python3.12 -m venv" in script
    assert 'VERSION_ID}" != "24.04"' in script


def test_install_script_rejects_unpinned_requirements_before_touching_the_node() -> None:
    import subprocess

    script = str(neuron_script_path())
    unpinned = subprocess.run(
        ["bash", script, "--release", "2.31.0", "--pypi", "torch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unpinned.returncode == 2
    assert "requirement 'torch' is not pinned (name==version)" in unpinned.stdout
    missing = subprocess.run(
        ["bash", script, "--pypi", "torch==2.9.0"], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2
    assert "--release is required" in missing.stdout
