"""TrainingNetwork: defaults, every option, bring-your-own and validation failures."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import NetworkOptions, TrainingNetwork
from cdk_llm_training.config.training_network import smallest_subnet_prefix, usable_ips

AZ_ID = "use1-az4"


def _network(**kwargs: Any) -> tuple[Stack, TrainingNetwork, Template]:
    stack = new_stack()
    options = kwargs.pop("options", NetworkOptions(availability_zone_id=AZ_ID))
    network = TrainingNetwork(stack, "Network", options=options, **kwargs)
    return stack, network, template_of(stack)


@pytest.fixture(scope="module")
def default() -> tuple[Stack, TrainingNetwork, Template]:
    """The default network in a cdk-nag-checked app (building it proves it is nag-clean)."""
    return _network()


@pytest.fixture(scope="module")
def closed() -> Template:
    return _network(options=NetworkOptions(availability_zone_id=AZ_ID, closed_network=True))[2]


def _efa_sg_id(template: Template) -> str:
    return next(
        lid
        for lid, sg in resources_of_type(template, "AWS::EC2::SecurityGroup").items()
        if sg["Properties"]["GroupDescription"].startswith("EFA")
    )


def _lustre_sg_id(template: Template) -> str:
    return next(
        lid
        for lid, sg in resources_of_type(template, "AWS::EC2::SecurityGroup").items()
        if sg["Properties"]["GroupDescription"].startswith("FSx for Lustre")
    )


# -- defaults ------------------------------------------------------------------------------


def test_default_subnets_are_pinned_to_the_az_id(
    default: tuple[Stack, TrainingNetwork, Template],
) -> None:
    subnets = resources_of_type(default[2], "AWS::EC2::Subnet")
    assert len(subnets) == 2
    for subnet in subnets.values():
        props = subnet["Properties"]
        assert props["AvailabilityZoneId"] == AZ_ID
        assert "AvailabilityZone" not in props
        assert props["MapPublicIpOnLaunch"] is False


def test_default_compute_subnet_is_sized_for_the_cluster(
    default: tuple[Stack, TrainingNetwork, Template],
) -> None:
    # 16 nodes x 81 IPs + 32 reserved = 1328 IPs -> a /21 (2043 usable); a /22 has 1019.
    assert NetworkOptions(availability_zone_id=AZ_ID).required_compute_ips == 1328
    default[2].has_resource_properties(
        "AWS::EC2::Subnet", {"CidrBlock": "10.0.0.0/21", "AvailabilityZoneId": AZ_ID}
    )
    default[2].has_resource_properties(
        "AWS::EC2::Subnet", {"CidrBlock": "10.0.8.0/26", "AvailabilityZoneId": AZ_ID}
    )


def test_default_has_one_nat_gateway_routed_from_the_compute_subnet(
    default: tuple[Stack, TrainingNetwork, Template],
) -> None:
    template = default[2]
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_count_is("AWS::EC2::InternetGateway", 1)
    nat_id = next(iter(resources_of_type(template, "AWS::EC2::NatGateway")))
    template.has_resource_properties(
        "AWS::EC2::Route", {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": {"Ref": nat_id}}
    )


def test_default_has_an_s3_gateway_endpoint_and_no_interface_endpoints(
    default: tuple[Stack, TrainingNetwork, Template],
) -> None:
    endpoints = resources_of_type(default[2], "AWS::EC2::VPCEndpoint")
    assert [e["Properties"]["VpcEndpointType"] for e in endpoints.values()] == ["Gateway"]
    (endpoint,) = endpoints.values()
    assert endpoint["Properties"]["ServiceName"] == {
        "Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]
    }


def test_default_flow_logs_go_to_an_encrypted_log_group_with_retention(
    default: tuple[Stack, TrainingNetwork, Template],
) -> None:
    template = default[2]
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"},
    )
    key_id = next(iter(resources_of_type(template, "AWS::KMS::Key")))
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {"KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}, "RetentionInDays": 365},
            "DeletionPolicy": "RetainExceptOnCreate",
        },
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {
                                    "Service": {
                                        "Fn::Join": [
                                            "",
                                            ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"],
                                        ]
                                    }
                                },
                                "Sid": "AllowCloudWatchLogsOfThisRegion",
                            }
                        )
                    ]
                )
            },
        },
    )


def test_default_efa_security_group_references_itself_both_ways(
    default: tuple[Stack, TrainingNetwork, Template],
) -> None:
    template = default[2]
    efa = _efa_sg_id(template)
    self_ref = {"Fn::GetAtt": [efa, "GroupId"]}
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"GroupId": self_ref, "SourceSecurityGroupId": self_ref, "IpProtocol": "-1"},
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"GroupId": self_ref, "DestinationSecurityGroupId": self_ref, "IpProtocol": "-1"},
    )
    egress = resources_of_type(template, "AWS::EC2::SecurityGroup")[efa]["Properties"][
        "SecurityGroupEgress"
    ]
    assert egress == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "Allow all outbound traffic by default",
            "IpProtocol": "-1",
        }
    ]


@pytest.mark.parametrize(("from_port", "to_port"), [(988, 988), (1018, 1023)])
def test_default_lustre_rules(
    default: tuple[Stack, TrainingNetwork, Template], from_port: int, to_port: int
) -> None:
    template = default[2]
    efa = {"Fn::GetAtt": [_efa_sg_id(template), "GroupId"]}
    lustre = {"Fn::GetAtt": [_lustre_sg_id(template), "GroupId"]}
    ports = {"IpProtocol": "tcp", "FromPort": from_port, "ToPort": to_port}
    for group, source in [(lustre, lustre), (lustre, efa), (efa, lustre)]:
        template.has_resource_properties(
            "AWS::EC2::SecurityGroupIngress",
            {**ports, "GroupId": group, "SourceSecurityGroupId": source},
        )
    for group, target in [(lustre, lustre), (lustre, efa)]:
        template.has_resource_properties(
            "AWS::EC2::SecurityGroupEgress",
            {**ports, "GroupId": group, "DestinationSecurityGroupId": target},
        )


def test_default_exposes_compute_subnet_connections_and_groups(
    default: tuple[Stack, TrainingNetwork, Template],
) -> None:
    stack, network, template = default
    subnet_id = next(
        lid
        for lid, s in resources_of_type(template, "AWS::EC2::Subnet").items()
        if s["Properties"]["CidrBlock"] == "10.0.0.0/21"
    )
    assert stack.resolve(network.compute_subnet.subnet_id) == {"Ref": subnet_id}
    assert stack.resolve(network.compute_subnet.availability_zone) == {
        "Fn::GetAtt": [subnet_id, "AvailabilityZone"]
    }
    assert network.compute_subnets.subnets == [network.compute_subnet]
    assert [stack.resolve(sg.security_group_id) for sg in network.connections.security_groups] == [
        {"Fn::GetAtt": [_efa_sg_id(template), "GroupId"]}
    ]
    assert network.security_groups == [network.efa_security_group]
    assert network.endpoint_security_group is None
    assert network.internet_connectivity_established is not None


def test_default_template_is_cfn_lint_clean(
    default: tuple[Stack, TrainingNetwork, Template],
) -> None:
    assert cfn_lint_findings(default[2].to_json()) == []


# -- options -------------------------------------------------------------------------------


def test_closed_network_has_no_nat_no_igw_and_interface_endpoints(closed: Template) -> None:
    closed.resource_count_is("AWS::EC2::NatGateway", 0)
    closed.resource_count_is("AWS::EC2::InternetGateway", 0)
    closed.resource_count_is("AWS::EC2::Subnet", 1)
    endpoints = resources_of_type(closed, "AWS::EC2::VPCEndpoint").values()
    interface = [
        e["Properties"] for e in endpoints if e["Properties"]["VpcEndpointType"] == "Interface"
    ]
    services = sorted(p["ServiceName"]["Fn::Join"][1][2].lstrip(".") for p in interface)
    assert services == sorted(
        [
            "ec2",
            "ecr.api",
            "ecr.dkr",
            "sts",
            "logs",
            "monitoring",
            "ssm",
            "ssmmessages",
            "ec2messages",
            "eks-auth",
        ]
    )
    assert all(p["PrivateDnsEnabled"] is True for p in interface)
    closed.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "SecurityGroupIngress": [
                Match.object_like({"CidrIp": "10.0.0.0/16", "FromPort": 443, "ToPort": 443})
            ]
        },
    )
    assert cfn_lint_findings(closed.to_json()) == []


def test_no_nat_option_makes_an_isolated_compute_subnet() -> None:
    template = _network(options=NetworkOptions(availability_zone_id=AZ_ID, nat_gateway=False))[2]
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::Subnet", 1)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1)


def test_sizing_cidr_retention_and_endpoint_options() -> None:
    options = NetworkOptions(
        availability_zone_id="usw2-az2",
        vpc_cidr="10.20.0.0/16",
        max_nodes=64,
        ips_per_node=32,
        reserved_ips=100,
        public_subnet_prefix_length=28,
        flow_log_retention_days=90,
    )
    # 64 x 32 + 100 = 2148 IPs -> /20 (4091 usable).
    assert options.compute_prefix_length == 20
    template = _network(options=options)[2]
    template.has_resource_properties(
        "AWS::EC2::Subnet", {"CidrBlock": "10.20.0.0/20", "AvailabilityZoneId": "usw2-az2"}
    )
    template.has_resource_properties("AWS::EC2::Subnet", {"CidrBlock": "10.20.16.0/28"})
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})


def test_explicit_compute_prefix_and_own_log_key() -> None:
    stack = new_stack()
    key = kms.Key(stack, "MyKey", enable_key_rotation=True)
    options = NetworkOptions(availability_zone_id=AZ_ID, compute_subnet_prefix_length=19)
    network = TrainingNetwork(stack, "Network", options=options, log_key=key)
    template = template_of(stack)
    template.resource_count_is("AWS::KMS::Key", 1)
    assert network.flow_log_key is key
    template.has_resource_properties("AWS::EC2::Subnet", {"CidrBlock": "10.0.0.0/19"})


def test_subnet_sizing_helpers() -> None:
    assert usable_ips(24) == 251
    assert smallest_subnet_prefix(251) == 24
    assert smallest_subnet_prefix(252) == 23
    assert smallest_subnet_prefix(1) == 28


def test_bring_your_own_vpc_and_subnet() -> None:
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Existing",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a"],
        private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa"],
        public_subnet_ids=["subnet-0bbbbbbbbbbbbbbbb"],
    )
    subnet = ec2.Subnet.from_subnet_attributes(
        stack,
        "ExistingSubnet",
        subnet_id="subnet-0aaaaaaaaaaaaaaaa",
        ipv4_cidr_block="10.0.0.0/20",
        availability_zone="us-east-1a",
    )
    network = TrainingNetwork(
        stack,
        "Network",
        options=NetworkOptions(availability_zone_id=AZ_ID),
        vpc=vpc,
        compute_subnet=subnet,
    )
    template = template_of(stack)
    for type_name in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::FlowLog", "AWS::KMS::Key"):
        template.resource_count_is(type_name, 0)
    template.resource_count_is("AWS::EC2::SecurityGroup", 2)
    template.has_resource_properties("AWS::EC2::SecurityGroup", {"VpcId": "vpc-0123456789abcdef0"})
    assert network.compute_subnet is subnet
    assert network.flow_log_group is None


# -- validation ----------------------------------------------------------------------------


def _option_error(**fields: Any) -> str:
    with pytest.raises(ValidationError) as error:
        NetworkOptions.model_validate({"availability_zone_id": AZ_ID, **fields})
    (item,) = error.value.errors()
    return str(item["msg"])


def test_fails_az_name_instead_of_az_id() -> None:
    assert _option_error(availability_zone_id="us-east-1a") == (
        "Value error, availability_zone_id 'us-east-1a' is not an AZ ID; allowed: the form "
        "'use1-az4' (region code, '-az', number), not an AZ name like 'us-east-1a'"
    )


def test_fails_compute_subnet_too_small_for_the_cluster() -> None:
    assert _option_error(max_nodes=32, compute_subnet_prefix_length=22) == (
        "Value error, compute_subnet_prefix_length /22 holds 1019 usable IPs, but max_nodes=32 "
        "x ips_per_node=81 + reserved_ips=32 needs 2624; allowed: /20 or larger, or fewer nodes"
    )


def test_fails_cluster_too_large_for_the_vpc() -> None:
    assert _option_error(vpc_cidr="10.0.0.0/20", max_nodes=64) == (
        "Value error, the compute subnet needs 5216 IPs (max_nodes=64 x ips_per_node=81 + "
        "reserved_ips=32), a /19, which does not fit vpc_cidr '10.0.0.0/20'; allowed: at most "
        "4091 IPs in this VPC"
    )


def test_fails_public_subnet_does_not_fit() -> None:
    assert _option_error(vpc_cidr="10.0.0.0/21") == (
        "Value error, vpc_cidr '10.0.0.0/21' cannot hold a /21 compute subnet and a /26 public "
        "subnet; allowed: a larger VPC CIDR or a smaller public_subnet_prefix_length"
    )


def test_fails_invalid_vpc_cidr() -> None:
    assert _option_error(vpc_cidr="10.0.0.0/8") == (
        "Value error, vpc_cidr '10.0.0.0/8' has prefix length /8; allowed: /16 to /28"
    )
    assert _option_error(vpc_cidr="10.0.0.1/16").startswith(
        "Value error, vpc_cidr '10.0.0.1/16' is not an IPv4 network CIDR"
    )


def test_fails_flow_log_retention_not_accepted_by_cloudwatch() -> None:
    assert _option_error(flow_log_retention_days=100).startswith(
        "Value error, flow_log_retention_days 100 is not a CloudWatch Logs retention period; "
        "allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120"
    )


def test_fails_invalid_interface_endpoint() -> None:
    assert _option_error(interface_endpoints=("ECR API",)) == (
        "Value error, interface_endpoints ['ECR API'] are not AWS service names; allowed: "
        "lower-case names such as 'ecr.api' or 'sts'"
    )
    assert _option_error(interface_endpoints=("sts", "sts")) == (
        "Value error, interface_endpoints ['sts', 'sts'] lists a service twice"
    )


def test_fails_vpc_without_compute_subnet() -> None:
    stack = new_stack(nag=False)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Existing", vpc_id="vpc-1", availability_zones=["us-east-1a"]
    )
    with pytest.raises(
        ValueError,
        match=r"^vpc was given without compute_subnet; bring your own network with both "
        r"vpc= and compute_subnet=, or neither to create one$",
    ):
        TrainingNetwork(stack, "N", options=NetworkOptions(availability_zone_id=AZ_ID), vpc=vpc)


def test_fails_existing_subnet_too_small() -> None:
    stack = new_stack(nag=False)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Existing", vpc_id="vpc-1", availability_zones=["us-east-1a"]
    )
    subnet = ec2.Subnet.from_subnet_attributes(
        stack, "Small", subnet_id="subnet-1", ipv4_cidr_block="10.0.0.0/24"
    )
    with pytest.raises(
        ValueError,
        match=r"^compute_subnet 10\.0\.0\.0/24 holds 251 usable IPs, but max_nodes=16 x "
        r"ips_per_node=81 \+ reserved_ips=32 needs 1328; allowed: a larger subnet or fewer "
        r"nodes$",
    ):
        TrainingNetwork(
            stack,
            "N",
            options=NetworkOptions(availability_zone_id=AZ_ID),
            vpc=vpc,
            compute_subnet=subnet,
        )


def test_fails_existing_public_subnet_as_compute_subnet() -> None:
    stack = new_stack(nag=False)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Existing",
        vpc_id="vpc-1",
        availability_zones=["us-east-1a"],
        public_subnet_ids=["subnet-pub"],
    )
    subnet = ec2.Subnet.from_subnet_attributes(
        stack, "Pub", subnet_id="subnet-pub", ipv4_cidr_block="10.0.0.0/16"
    )
    with pytest.raises(
        ValueError,
        match=r"^compute_subnet 'subnet-pub' is a public subnet of the VPC; allowed: a private "
        r"subnet \(EFA clusters and HyperPod need private subnets\)$",
    ):
        TrainingNetwork(
            stack,
            "N",
            options=NetworkOptions(availability_zone_id=AZ_ID),
            vpc=vpc,
            compute_subnet=subnet,
        )


def test_fails_unknown_option() -> None:
    with pytest.raises(ValidationError) as error:
        NetworkOptions.model_validate({"availability_zone_id": AZ_ID, "azs": 2})
    (item,) = error.value.errors()
    assert (item["loc"], item["msg"]) == (("azs",), "Extra inputs are not permitted")


def test_bring_your_own_subnet_of_unknown_size_warns() -> None:
    stack = new_stack(nag=False)
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Existing", vpc_id="vpc-0123456789abcdef0", availability_zones=["us-east-1a"]
    )
    subnet = ec2.Subnet.from_subnet_id(stack, "Unknown", "subnet-0aaaaaaaaaaaaaaaa")
    TrainingNetwork(
        stack,
        "N",
        options=NetworkOptions(availability_zone_id=AZ_ID),
        vpc=vpc,
        compute_subnet=subnet,
    )
    Annotations.from_stack(stack).has_warning(
        "/TestStack/N",
        Match.string_like_regexp("The size of the given compute_subnet is unknown at synth time"),
    )


# -- control-plane subnet (second AZ, for EKS) -----------------------------------------------


def test_no_control_plane_subnet_by_default(
    default: tuple[Stack, TrainingNetwork, Template],
) -> None:
    _, network, template = default
    assert network.control_plane_subnet is None
    assert network.control_plane_subnets is None
    template.resource_count_is("AWS::EC2::Subnet", 2)


def test_control_plane_subnet_in_the_second_az_id() -> None:
    stack, network, template = _network(
        options=NetworkOptions(
            availability_zone_id=AZ_ID, control_plane_availability_zone_id="use1-az6"
        )
    )
    subnets = resources_of_type(template, "AWS::EC2::Subnet")
    (logical_id,) = [key for key in subnets if key.startswith("NetworkControlPlaneSubnet")]
    properties = subnets[logical_id]["Properties"]
    assert properties["AvailabilityZoneId"] == "use1-az6"
    assert properties["CidrBlock"] == "10.0.255.240/28"
    assert properties["MapPublicIpOnLaunch"] is False
    (association,) = [
        a["Properties"]
        for a in resources_of_type(template, "AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["SubnetId"] == {"Ref": logical_id}
    ]
    # Only the VPC's local route: the subnet holds control-plane ENIs, no nodes.
    routes = resources_of_type(template, "AWS::EC2::Route").values()
    assert association["RouteTableId"] not in [r["Properties"]["RouteTableId"] for r in routes]
    assert network.control_plane_subnets is not None
    selected = network.vpc.select_subnets(subnets=network.control_plane_subnets.subnets)
    assert [stack.resolve(s) for s in selected.subnet_ids] == [
        stack.resolve(network.compute_subnet.subnet_id),
        {"Ref": logical_id},
    ]
    assert cfn_lint_findings(template.to_json()) == []


def test_fails_control_plane_az_equals_compute_az() -> None:
    assert _option_error(control_plane_availability_zone_id=AZ_ID) == (
        "Value error, control_plane_availability_zone_id 'use1-az4' equals "
        "availability_zone_id; allowed: another AZ ID of the same Region (EKS needs subnets in "
        "two AZs)"
    )


def test_fails_control_plane_az_in_another_region() -> None:
    assert _option_error(control_plane_availability_zone_id="usw2-az1") == (
        "Value error, control_plane_availability_zone_id 'usw2-az1' is not in the Region of "
        "availability_zone_id 'use1-az4'; allowed: an AZ ID starting with 'use1-az'"
    )


def test_fails_control_plane_az_name_instead_of_az_id() -> None:
    assert _option_error(control_plane_availability_zone_id="us-east-1b") == (
        "Value error, control_plane_availability_zone_id 'us-east-1b' is not an AZ ID; "
        "allowed: the form 'use1-az4' (region code, '-az', number), not an AZ name like "
        "'us-east-1a'"
    )


def test_fails_control_plane_subnet_does_not_fit() -> None:
    assert _option_error(
        vpc_cidr="10.0.0.0/22",
        max_nodes=5,
        control_plane_availability_zone_id="use1-az6",
        control_plane_subnet_prefix_length=23,
    ) == (
        "Value error, vpc_cidr '10.0.0.0/22' cannot hold a /23 compute subnet, the public "
        "subnet and a /23 control-plane subnet; allowed: a larger VPC CIDR or fewer nodes"
    )
