"""TrainingNetwork: a VPC whose compute subnet lives in one AZ, picked by AZ ID, for EFA."""

from __future__ import annotations

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IDependable

from cdk_llm_training.config.training_network import NetworkOptions
from cdk_llm_training.constructs._bring_your_own import not_both
from cdk_llm_training.constructs._compliance import acknowledge_nat_route
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.training_network.endpoints import (
    create_gateway_endpoint,
    create_interface_endpoints,
)
from cdk_llm_training.constructs.training_network.flow_logs import create_flow_logs
from cdk_llm_training.constructs.training_network.security_groups import (
    create_efa_security_group,
    create_lustre_security_group,
)
from cdk_llm_training.constructs.training_network.subnets import (
    compute_subnet_reference,
    create_control_plane_subnet,
    validate_existing_subnet,
)

_COMPUTE_GROUP = "Compute"
_PUBLIC_GROUP = "Public"


@jsii.implements(ec2.IConnectable)
class TrainingNetwork(Construct):
    """VPC for a training cluster: one compute subnet in one AZ (by AZ ID), sized for the
    largest cluster, plus the EFA and Lustre security groups.

    Defaults: a VPC (``10.0.0.0/16``) with a private compute subnet sized from
    ``max_nodes x ips_per_node + reserved_ips`` and a public subnet with one NAT gateway,
    both in ``options.availability_zone_id``; no public IPs on launch; an S3 gateway endpoint;
    VPC flow logs (all traffic) to a CloudWatch log group encrypted with a KMS key of its own
    (rotation on), kept ``flow_log_retention_days`` (365) days; an EFA security group with
    all-traffic ingress and egress referencing itself (plus all egress, for NAT and
    endpoints); a Lustre security group for the file system with TCP 988 and 1018-1023 from
    itself and from the EFA group. Closed-network mode (``closed_network=True``) drops the
    public subnet and NAT and adds interface endpoints instead.

    Bring your own: ``vpc`` and ``compute_subnet`` use an existing network (no VPC, subnet,
    endpoint or flow log is created); the security groups are still created in that VPC.

    Example::

        network = TrainingNetwork(
            self, "Network", options=NetworkOptions(availability_zone_id="use1-az4")
        )
        network.compute_subnet  # place HyperPod, ParallelCluster and FSx here
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: NetworkOptions,
        vpc: ec2.IVpc | None = None,
        compute_subnet: ec2.ISubnet | None = None,
        log_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the network.

        :param options: plain-data settings; ``availability_zone_id`` is required.
        :param vpc: an existing VPC. Default: a new VPC. Requires ``compute_subnet``.
        :param compute_subnet: an existing private subnet of ``vpc`` for the compute nodes.
            Default: a new subnet. Requires ``vpc``.
        :param log_key: KMS key for the flow-log group (its policy gets the CloudWatch Logs
            statement). Default: a new key with rotation (its policy lets CloudWatch Logs of
            this Region use it). Not with ``vpc``: your own VPC gets no flow logs here.
        :param removal_policy: for the flow-log group and its key. Default
            ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "TrainingNetwork")
        self.options = options
        not_both(
            "TrainingNetwork",
            ("vpc", vpc),
            ("log_key", log_key),
            because="flow logs are created for a new VPC only",
        )
        if (vpc is None) != (compute_subnet is None):
            given, missing = ("vpc", "compute_subnet") if vpc else ("compute_subnet", "vpc")
            raise ValueError(
                f"{given} was given without {missing}; bring your own network with both "
                "vpc= and compute_subnet=, or neither to create one"
            )
        self.flow_log_group: logs.ILogGroup | None = None
        self.flow_log_key: kms.IKey | None = None
        self._connectivity: IDependable | None = None
        self.endpoint_security_group: ec2.ISecurityGroup | None = None
        self.gateway_endpoints: dict[str, ec2.GatewayVpcEndpoint] = {}
        """The gateway endpoints by service (``s3``, ``dynamodb``); none with your own VPC."""
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        """The closed-network interface endpoints by service (``ecr.api``)."""
        self.control_plane_subnet: ec2.ISubnet | None = None
        """The second-AZ control-plane subnet (``options.control_plane_availability_zone_id``),
        or None."""

        if vpc is not None and compute_subnet is not None:
            self.vpc: ec2.IVpc = vpc
            validate_existing_subnet(self, vpc, compute_subnet, options)
            self.compute_subnet: ec2.ISubnet = compute_subnet
            self._connectivity = compute_subnet.internet_connectivity_established
        else:
            created = self._create_vpc(log_key, removal_policy)
            self.vpc = created
            self.compute_subnet = compute_subnet_reference(self, self._l2_compute_subnet)

        self.compute_subnets = ec2.SubnetSelection(subnets=[self.compute_subnet])
        """The compute subnet as a selection, for constructs that take ``vpc_subnets``."""
        self.control_plane_subnets: ec2.SubnetSelection | None = (
            ec2.SubnetSelection(subnets=[self.compute_subnet, self.control_plane_subnet])
            if self.control_plane_subnet is not None
            else None
        )
        """Compute subnet plus the control-plane subnet (two AZs: an EKS control plane's
        ``control_plane_subnets``), or None without ``control_plane_availability_zone_id``."""

        self.efa_security_group = create_efa_security_group(self, self.vpc)
        self.lustre_security_group = create_lustre_security_group(
            self, self.vpc, self.efa_security_group
        )
        self._connections = ec2.Connections(security_groups=[self.efa_security_group])

    # -- public API ----------------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """Connections of the compute nodes (the EFA security group)."""
        return self._connections

    @property
    def security_groups(self) -> list[ec2.ISecurityGroup]:
        """Security groups to attach to every compute node: the EFA group."""
        return [self.efa_security_group]

    @property
    def internet_connectivity_established(self) -> IDependable:
        """Resolves when the compute subnet's route to the NAT gateway exists (or at once).
        Depend on it from resources that need egress when they are created."""
        assert self._connectivity is not None
        return self._connectivity

    # -- construction helpers ------------------------------------------------------------

    def _create_vpc(self, log_key: kms.IKey | None, removal_policy: RemovalPolicy) -> ec2.Vpc:
        opts = self.options
        closed = opts.closed_network
        with_nat = opts.nat_gateway and not closed
        # Largest subnet first: CIDR blocks are then allocated without alignment gaps.
        subnets = [
            ec2.SubnetConfiguration(
                name=_COMPUTE_GROUP,
                subnet_type=(
                    ec2.SubnetType.PRIVATE_WITH_EGRESS
                    if with_nat
                    else ec2.SubnetType.PRIVATE_ISOLATED
                ),
                cidr_mask=opts.compute_prefix_length,
            )
        ]
        if with_nat:
            subnets.append(
                ec2.SubnetConfiguration(
                    name=_PUBLIC_GROUP,
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=opts.public_subnet_prefix_length,
                    map_public_ip_on_launch=False,
                )
            )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(opts.vpc_cidr),
            max_azs=1,
            nat_gateways=1 if with_nat else 0,
            subnet_configuration=subnets,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            restrict_default_security_group=True,
        )
        for service in opts.gateway_endpoints:
            self.gateway_endpoints[service] = create_gateway_endpoint(vpc, service, opts)
        # ec2.Vpc places subnets by AZ *name* (Fn::GetAZs); names differ per account, so
        # every subnet is pinned to the configured AZ *ID* instead.
        for subnet in [*vpc.public_subnets, *vpc.private_subnets, *vpc.isolated_subnets]:
            cfn_subnet = subnet.node.default_child
            assert isinstance(cfn_subnet, ec2.CfnSubnet)
            cfn_subnet.add_property_deletion_override("AvailabilityZone")
            cfn_subnet.add_property_override("AvailabilityZoneId", opts.availability_zone_id)

        for public_subnet in vpc.public_subnets:
            acknowledge_nat_route(public_subnet)
        compute = (vpc.private_subnets or vpc.isolated_subnets)[0]
        self._connectivity = compute.internet_connectivity_established
        self._l2_compute_subnet = compute

        self.flow_log_key, self.flow_log_group = create_flow_logs(
            self, vpc, opts, log_key=log_key, removal_policy=removal_policy
        )
        if closed:
            self.endpoint_security_group, self.interface_endpoints = create_interface_endpoints(
                self, vpc, compute, opts
            )
        self.control_plane_subnet = create_control_plane_subnet(self, vpc, opts)
        return vpc


__all__ = ["TrainingNetwork"]
