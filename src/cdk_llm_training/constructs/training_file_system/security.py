"""The file system's security group and the EFA all-traffic rules to itself and its clients."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from cdk_llm_training.constructs._compliance import acknowledge_group_to_group_all_traffic
from cdk_llm_training.constructs.training_network.security_groups import LUSTRE_PORTS


def create_security_group(scope: Construct, vpc: ec2.IVpc) -> ec2.SecurityGroup:
    """``SecurityGroup`` in ``scope``: the Lustre ports (TCP 988, 1018-1023) to and from
    itself."""
    sg = ec2.SecurityGroup(
        scope,
        "SecurityGroup",
        vpc=vpc,
        description="FSx for Lustre: TCP 988 and 1018-1023 to and from itself",
        allow_all_outbound=False,
    )
    for label, port in LUSTRE_PORTS:
        sg.add_ingress_rule(sg, port, f"Lustre {label} from the file system")
        sg.add_egress_rule(sg, port, f"Lustre {label} to the file system")
    return sg


def allow_all_traffic(scope: Construct, sg: ec2.ISecurityGroup, peer: ec2.IConnectable) -> None:
    """EFA-enabled file systems need all traffic to and from themselves and clients."""
    for other in peer.connections.security_groups:
        sg.add_ingress_rule(other, ec2.Port.all_traffic(), "EFA Lustre: all traffic from peer")
        if other.node.path == sg.node.path:
            # An "all traffic" egress rule can only be added as its own resource.
            _self_egress(scope, "EfaSelfEgress", sg)
        else:
            _all_egress(scope, sg, other)
            other.add_ingress_rule(sg, ec2.Port.all_traffic(), "EFA Lustre: from file system")
            _all_egress(scope, other, sg)
            acknowledge_group_to_group_all_traffic(other)
    acknowledge_group_to_group_all_traffic(sg)


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
