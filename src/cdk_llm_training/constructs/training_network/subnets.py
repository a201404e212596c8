"""The network's subnets beyond what ``ec2.Vpc`` creates: the compute-subnet reference, the
second-AZ control-plane subnet, and the checks of a bring-your-own compute subnet."""

from __future__ import annotations

from aws_cdk import Annotations, Token
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from cdk_llm_training.config.training_network import NetworkOptions


def create_control_plane_subnet(
    scope: Construct, vpc: ec2.Vpc, options: NetworkOptions
) -> ec2.ISubnet | None:
    """A small private subnet in a second AZ (by AZ ID) for EKS control-plane ENIs, or None
    without ``control_plane_subnet_cidr`` and ``control_plane_availability_zone_id``. It
    holds no nodes, so its route table has only the VPC's local route."""
    cidr = options.control_plane_subnet_cidr
    if cidr is None or options.control_plane_availability_zone_id is None:
        return None
    cfn_subnet = ec2.CfnSubnet(
        scope,
        "ControlPlaneSubnet",
        vpc_id=vpc.vpc_id,
        cidr_block=cidr,
        availability_zone_id=options.control_plane_availability_zone_id,
        map_public_ip_on_launch=False,
    )
    route_table = ec2.CfnRouteTable(scope, "ControlPlaneRouteTable", vpc_id=vpc.vpc_id)
    ec2.CfnSubnetRouteTableAssociation(
        scope,
        "ControlPlaneRouteTableAssociation",
        subnet_id=cfn_subnet.ref,
        route_table_id=route_table.ref,
    )
    return ec2.Subnet.from_subnet_attributes(
        scope,
        "ControlPlaneSubnetRef",
        subnet_id=cfn_subnet.ref,
        availability_zone=cfn_subnet.attr_availability_zone,
        ipv4_cidr_block=cidr,
        route_table_id=route_table.ref,
    )


def compute_subnet_reference(scope: Construct, subnet: ec2.ISubnet) -> ec2.ISubnet:
    """``subnet`` with its AZ read back from CloudFormation (the L2 subnet's
    ``availability_zone`` is the GetAZs pick it was created with, not the AZ ID's zone)."""
    cfn_subnet = subnet.node.default_child
    assert isinstance(cfn_subnet, ec2.CfnSubnet)
    return ec2.Subnet.from_subnet_attributes(
        scope,
        "ComputeSubnet",
        subnet_id=subnet.subnet_id,
        availability_zone=cfn_subnet.attr_availability_zone,
        ipv4_cidr_block=subnet.ipv4_cidr_block,
        route_table_id=subnet.route_table.route_table_id,
    )


def validate_existing_subnet(
    scope: Construct, vpc: ec2.IVpc, subnet: ec2.ISubnet, options: NetworkOptions
) -> None:
    """A bring-your-own compute subnet must be private and hold ``required_compute_ips``."""
    public_ids = {s.subnet_id for s in vpc.public_subnets}
    subnet_id = subnet.subnet_id
    if not Token.is_unresolved(subnet_id) and subnet_id in public_ids:
        raise ValueError(
            f"compute_subnet {subnet_id!r} is a public subnet of the VPC; allowed: a "
            "private subnet (EFA clusters and HyperPod need private subnets)"
        )
    cidr = _subnet_cidr(subnet)
    if cidr is not None:
        prefix = int(cidr.split("/")[1])
        usable = 2 ** (32 - prefix) - 5
        required = options.required_compute_ips
        if usable < required:
            raise ValueError(
                f"compute_subnet {cidr} holds {usable} usable IPs, but "
                f"max_nodes={options.max_nodes} x ips_per_node={options.ips_per_node} + "
                f"reserved_ips={options.reserved_ips} needs {required}; allowed: a "
                "larger subnet or fewer nodes"
            )
    else:
        Annotations.of(scope).add_warning_v2(
            "cdk-llm-training/training-network:computeSubnetSizeUnknown",
            "The size of the given compute_subnet is unknown at synth time: make sure it "
            f"holds {options.required_compute_ips} IPs.",
        )
    Annotations.of(scope).add_info(
        "Bring-your-own network: the compute subnet must be in AZ ID "
        f"{options.availability_zone_id}, private, with a route to S3."
    )


def _subnet_cidr(subnet: ec2.ISubnet) -> str | None:
    try:
        cidr = subnet.ipv4_cidr_block
    except Exception:  # imported subnets without a CIDR raise at access
        return None
    if cidr is None or Token.is_unresolved(cidr):
        return None
    return str(cidr)
