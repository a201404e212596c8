"""The network's security groups: EFA compute nodes and the Lustre file system."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from cdk_llm_training.constructs._compliance import acknowledge_group_to_group_all_traffic

LUSTRE_PORTS: tuple[tuple[str, ec2.Port], ...] = (
    ("TCP 988", ec2.Port.tcp(988)),
    ("TCP 1018-1023", ec2.Port.tcp_range(1018, 1023)),
)
"""FSx for Lustre client ports, with a label: TCP 988 and 1018-1023."""


def create_efa_security_group(scope: Construct, vpc: ec2.IVpc) -> ec2.SecurityGroup:
    """``EfaSecurityGroup`` in ``scope``: all traffic to and from itself, all egress."""
    sg = ec2.SecurityGroup(
        scope,
        "EfaSecurityGroup",
        vpc=vpc,
        description="EFA compute nodes: all traffic to and from itself, all egress",
        # 0.0.0.0/0 egress for the NAT gateway and endpoints; it does not carry EFA.
        allow_all_outbound=True,
    )
    sg.add_ingress_rule(sg, ec2.Port.all_traffic(), "EFA: all traffic from itself")
    acknowledge_group_to_group_all_traffic(sg)
    # With allow_all_outbound the L2 drops further egress rules, but EFA needs an egress
    # rule that references the group itself: add it as its own resource.
    ec2.CfnSecurityGroupEgress(
        scope,
        "EfaSelfEgress",
        group_id=sg.security_group_id,
        ip_protocol="-1",
        destination_security_group_id=sg.security_group_id,
        description="EFA: all traffic to itself",
    )
    return sg


def create_lustre_security_group(
    scope: Construct, vpc: ec2.IVpc, efa: ec2.SecurityGroup
) -> ec2.SecurityGroup:
    """``LustreSecurityGroup`` in ``scope``: the Lustre ports from and to itself and ``efa``."""
    sg = ec2.SecurityGroup(
        scope,
        "LustreSecurityGroup",
        vpc=vpc,
        description="FSx for Lustre: TCP 988 and 1018-1023 from itself and the EFA nodes",
        allow_all_outbound=False,
    )
    for label, port in LUSTRE_PORTS:
        sg.add_ingress_rule(sg, port, f"Lustre {label} from the file system")
        sg.add_egress_rule(sg, port, f"Lustre {label} to the file system")
        sg.add_ingress_rule(efa, port, f"Lustre {label} from the compute nodes")
        sg.add_egress_rule(efa, port, f"Lustre {label} to the compute nodes")
        efa.add_ingress_rule(sg, port, f"Lustre {label} from the file system")
    return sg
