"""Synth-time checks of a HyperPodEksCluster's inputs (no resources are created here)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aws_cdk import Token
from aws_cdk import aws_ec2 as ec2

from cdk_llm_training.config.catalogs.instances import InstanceCatalog
from cdk_llm_training.config.hyperpod import (
    HyperPodClusterOptions,
    ResolvedInstanceGroup,
    validate_instance_groups,
)
from cdk_llm_training.constructs.training_file_system.reference import (
    LustreFileSystemLike,
    subnet_of,
)

ESTIMATED_IPS_PER_ACCELERATED_NODE = 81
"""VPC CNI addresses a p5-class node takes under EKS (warm pool across its ENIs)."""
ESTIMATED_IPS_PER_CPU_NODE = 30
"""Addresses a general-purpose system node takes (system pods and warm pool)."""
NO_EFA_WARNING = "cdk-llm-training/hyperpod-eks-cluster:instanceTypeWithoutEfa"
"""A multi-node group of an instance type without EFA (the only soft warning of
``validate_instance_groups``)."""
SUBNET_NEARLY_FULL_WARNING = "cdk-llm-training/hyperpod-eks-cluster:subnetNearlyFull"
"""The groups at their maximum need more than 80 % of the compute subnet's addresses."""


def validate_cluster_inputs(
    opts: HyperPodClusterOptions,
    *,
    security_groups: Sequence[ec2.ISecurityGroup],
    subnet: ec2.ISubnet,
    instance_catalog: InstanceCatalog | None,
    file_system: LustreFileSystemLike | None,
) -> tuple[list[ResolvedInstanceGroup], list[tuple[str, str]]]:
    """The resolved instance groups and the warnings as ``(id, message)``; raises
    ``ValueError`` on bad input."""
    if not 1 <= len(security_groups) <= 5:
        raise ValueError(
            f"security_groups: got {len(security_groups)} security groups; HyperPod accepts 1 to 5"
        )
    groups, group_warnings = validate_instance_groups(opts, instance_catalog)
    warnings = [(NO_EFA_WARNING, message) for message in group_warnings]

    compute_az = subnet.availability_zone
    fsx_subnet = subnet_of(file_system) if file_system is not None else None
    if fsx_subnet is not None:
        fsx_az = fsx_subnet.availability_zone
        if (
            not Token.is_unresolved(compute_az)
            and not Token.is_unresolved(fsx_az)
            and compute_az != fsx_az
        ):
            raise ValueError(
                f"file_system's subnet is in {fsx_az!r} but the compute subnet is in "
                f"{compute_az!r}: put the file system in the compute subnet's AZ (Lustre "
                "and EFA traffic should not cross AZs)"
            )

    cidr = subnet.ipv4_cidr_block
    if not Token.is_unresolved(cidr):
        network = ipaddress.ip_network(cidr, strict=False)
        usable = network.num_addresses - 5  # AWS reserves 5 addresses per subnet
        # Sized for each group's maximum: scaling within it must fit without replacement.
        needed = sum(
            group.options.resolved_max_instance_count
            * (
                ESTIMATED_IPS_PER_ACCELERATED_NODE
                if group.accelerated
                else ESTIMATED_IPS_PER_CPU_NODE
            )
            for group in groups
        )
        if needed > usable:
            raise ValueError(
                f"subnet {cidr} has {usable} usable addresses but the instance groups at "
                f"max_instance_count ({opts.max_total_instance_count} nodes) need about "
                f"{needed} under EKS "
                f"({ESTIMATED_IPS_PER_ACCELERATED_NODE} per accelerated node, "
                f"{ESTIMATED_IPS_PER_CPU_NODE} per CPU node): use a larger compute subnet "
                "or fewer nodes"
            )
        if needed > usable * 0.8:
            warnings.append(
                (
                    SUBNET_NEARLY_FULL_WARNING,
                    f"subnet {cidr}: the instance groups need about {needed} of {usable} "
                    "usable addresses; node replacement and scaling may run out",
                )
            )
    return groups, warnings
