"""TrainingNetwork: a VPC whose compute subnet lives in one AZ, picked by AZ ID, for EFA."""

from __future__ import annotations

import jsii
from aws_cdk import Annotations, Aws, Fn, RemovalPolicy, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IDependable

from cdk_llm_training.config.training_network import (
    ACCOUNT_SCOPED_ENDPOINT_SERVICES,
    NetworkOptions,
    aws_owned_bucket_names,
)
from cdk_llm_training.constructs._compliance import (
    acknowledge_group_to_group_all_traffic,
    acknowledge_nat_route,
)
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._provider_logs import provider_log_group
from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs

LUSTRE_PORTS: tuple[tuple[str, ec2.Port], ...] = (
    ("TCP 988", ec2.Port.tcp(988)),
    ("TCP 1018-1023", ec2.Port.tcp_range(1018, 1023)),
)
"""FSx for Lustre client ports, with a label: TCP 988 and 1018-1023."""

_COMPUTE_GROUP = "Compute"
# CloudWatch Logs retention periods in days -> the RetentionDays member.
_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
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
        flow_log_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the network.

        :param options: plain-data settings; ``availability_zone_id`` is required.
        :param vpc: an existing VPC. Default: a new VPC. Requires ``compute_subnet``.
        :param compute_subnet: an existing private subnet of ``vpc`` for the compute nodes.
            Default: a new subnet. Requires ``vpc``.
        :param flow_log_key: KMS key for the flow-log group. Default: a new key with rotation
            (its policy lets CloudWatch Logs of this Region use it).
        :param removal_policy: for the flow-log group and its key. Default
            ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "TrainingNetwork")
        self.options = options
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
            self._validate_existing_subnet(vpc, compute_subnet)
            self.compute_subnet: ec2.ISubnet = compute_subnet
            self._connectivity = compute_subnet.internet_connectivity_established
        else:
            created = self._create_vpc(flow_log_key, removal_policy)
            self.vpc = created
            self.compute_subnet = self._compute_subnet_reference(created)

        self.compute_subnets = ec2.SubnetSelection(subnets=[self.compute_subnet])
        """The compute subnet as a selection, for constructs that take ``vpc_subnets``."""
        self.control_plane_subnets: ec2.SubnetSelection | None = (
            ec2.SubnetSelection(subnets=[self.compute_subnet, self.control_plane_subnet])
            if self.control_plane_subnet is not None
            else None
        )
        """Compute subnet plus the control-plane subnet (two AZs: an EKS control plane's
        ``control_plane_subnets``), or None without ``control_plane_availability_zone_id``."""

        self.efa_security_group = self._create_efa_security_group()
        self.lustre_security_group = self._create_lustre_security_group()
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

    def _create_vpc(self, flow_log_key: kms.IKey | None, removal_policy: RemovalPolicy) -> ec2.Vpc:
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
            self.gateway_endpoints[service] = self._create_gateway_endpoint(vpc, service)
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

        self.flow_log_key = flow_log_key or self._create_flow_log_key(removal_policy)
        if flow_log_key is not None:
            allow_cloudwatch_logs(flow_log_key)
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=self.flow_log_key,
            retention=_RETENTION[opts.flow_log_retention_days],
            removal_policy=removal_policy,
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                self.flow_log_group, self._create_flow_log_role()
            ),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        # The default-security-group restriction runs a CDK provider Lambda during the deploy:
        # its log group gets the flow logs' retention and key instead of none.
        provider_log_group(
            vpc.node.find_child("RestrictDefaultSecurityGroupCustomResource"),
            provider_id="Custom::VpcRestrictDefaultSGCustomResourceProvider",
            retention=_RETENTION[opts.flow_log_retention_days],
            key=self.flow_log_key,
            removal_policy=removal_policy,
        )
        if closed:
            self._create_interface_endpoints(vpc, compute)
        self._create_control_plane_subnet(vpc)
        return vpc

    def _create_gateway_endpoint(self, vpc: ec2.Vpc, service: str) -> ec2.GatewayVpcEndpoint:
        """A gateway endpoint on every route table; with ``endpoint_policies`` the S3 one
        reaches only this account's buckets and the named AWS-owned ones, the DynamoDB one
        serves only this account's principals."""
        if service == "s3":
            endpoint = vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
            if self.options.endpoint_policies:
                for statement in self._s3_endpoint_statements():
                    endpoint.add_to_policy(statement)
            return endpoint
        endpoint = vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
        )
        if self.options.endpoint_policies:
            endpoint.add_to_policy(_this_account_only("dynamodb:*"))
        return endpoint

    def _s3_endpoint_statements(self) -> list[iam.PolicyStatement]:
        """This account's buckets; the AWS-owned buckets the nodes need, by name."""
        owned = aws_owned_bucket_names(Aws.REGION)
        read = [
            f"arn:{Aws.PARTITION}:s3:::{name}/*"
            for name in owned
            if not name.startswith("cloudformation-waitcondition-")
        ]
        statements = [
            iam.PolicyStatement(
                sid="ThisAccountsBuckets",
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:ResourceAccount": Aws.ACCOUNT_ID}},
            ),
            iam.PolicyStatement(
                sid="AwsOwnedBucketsTheNodesRead",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=read,
            ),
            iam.PolicyStatement(
                sid="CloudFormationWaitConditionSignals",
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::cloudformation-waitcondition-{Aws.REGION}/*"],
            ),
            # Custom resources whose function runs in this VPC (the HyperPod dependency-chart
            # install) answer CloudFormation by a PUT to a pre-signed S3 URL. The response
            # bucket's exact spelling is unverified: the region with and without dashes.
            iam.PolicyStatement(
                sid="CloudFormationCustomResourceResponses",
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[
                    f"arn:{Aws.PARTITION}:s3:::cloudformation-custom-resource-response-"
                    f"{Aws.REGION}/*",
                    Fn.join(
                        "",
                        [
                            f"arn:{Aws.PARTITION}:s3:::cloudformation-custom-resource-response-",
                            Fn.join("", Fn.split("-", Aws.REGION)),
                            "/*",
                        ],
                    ),
                ],
            ),
        ]
        extra = self.options.extra_s3_buckets
        if extra:
            statements.append(
                iam.PolicyStatement(
                    sid="ExtraBucketsRead",
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:GetObject", "s3:ListBucket"],
                    resources=[
                        arn
                        for name in extra
                        for arn in (
                            f"arn:{Aws.PARTITION}:s3:::{name}",
                            f"arn:{Aws.PARTITION}:s3:::{name}/*",
                        )
                    ],
                )
            )
        return statements

    def _create_control_plane_subnet(self, vpc: ec2.Vpc) -> None:
        """A small private subnet in a second AZ (by AZ ID) for EKS control-plane ENIs. It
        holds no nodes, so its route table has only the VPC's local route."""
        opts = self.options
        cidr = opts.control_plane_subnet_cidr
        if cidr is None or opts.control_plane_availability_zone_id is None:
            return
        cfn_subnet = ec2.CfnSubnet(
            self,
            "ControlPlaneSubnet",
            vpc_id=vpc.vpc_id,
            cidr_block=cidr,
            availability_zone_id=opts.control_plane_availability_zone_id,
            map_public_ip_on_launch=False,
        )
        route_table = ec2.CfnRouteTable(self, "ControlPlaneRouteTable", vpc_id=vpc.vpc_id)
        ec2.CfnSubnetRouteTableAssociation(
            self,
            "ControlPlaneRouteTableAssociation",
            subnet_id=cfn_subnet.ref,
            route_table_id=route_table.ref,
        )
        self.control_plane_subnet = ec2.Subnet.from_subnet_attributes(
            self,
            "ControlPlaneSubnetRef",
            subnet_id=cfn_subnet.ref,
            availability_zone=cfn_subnet.attr_availability_zone,
            ipv4_cidr_block=cidr,
            route_table_id=route_table.ref,
        )

    def _compute_subnet_reference(self, vpc: ec2.Vpc) -> ec2.ISubnet:
        """The compute subnet, with its AZ read back from CloudFormation (the L2 subnet's
        ``availability_zone`` is the GetAZs pick it was created with, not the AZ ID's zone)."""
        subnet = self._l2_compute_subnet
        cfn_subnet = subnet.node.default_child
        assert isinstance(cfn_subnet, ec2.CfnSubnet)
        return ec2.Subnet.from_subnet_attributes(
            self,
            "ComputeSubnet",
            subnet_id=subnet.subnet_id,
            availability_zone=cfn_subnet.attr_availability_zone,
            ipv4_cidr_block=subnet.ipv4_cidr_block,
            route_table_id=subnet.route_table.route_table_id,
        )

    def _create_flow_log_role(self) -> iam.Role:
        """The role VPC Flow Logs assumes, for this account's flow logs only (the VPC user
        guide's "IAM role for publishing flow logs to CloudWatch Logs" recommends both source
        keys); CDK's default role has no condition."""
        return iam.Role(
            self,
            "FlowLogRole",
            description="Assumed by VPC Flow Logs to publish this network's flow logs.",
            assumed_by=service_principal_from(
                "vpc-flow-logs.amazonaws.com", this_account_arn("ec2", "vpc-flow-log/*")
            ),
        )

    def _create_flow_log_key(self, removal_policy: RemovalPolicy) -> kms.Key:
        key = kms.Key(
            self,
            "FlowLogKey",
            description="Encrypts the VPC flow logs of the LLM training network.",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisRegion",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                        )
                    }
                },
            )
        )
        return key

    def _create_interface_endpoints(self, vpc: ec2.Vpc, compute: ec2.ISubnet) -> None:
        endpoint_sg = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=vpc,
            description="Interface endpoints of the closed training network: HTTPS from the VPC",
            allow_all_outbound=False,
        )
        endpoint_sg.add_ingress_rule(
            ec2.Peer.ipv4(self.options.vpc_cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        self.endpoint_security_group = endpoint_sg
        for service in self.options.interface_endpoints:
            endpoint = vpc.add_interface_endpoint(
                "".join(part.capitalize() for part in service.replace("-", ".").split(".")),
                service=ec2.InterfaceVpcEndpointAwsService(service),
                subnets=ec2.SubnetSelection(subnets=[compute]),
                security_groups=[endpoint_sg],
                private_dns_enabled=True,
                open=False,
            )
            if self.options.endpoint_policies and service in ACCOUNT_SCOPED_ENDPOINT_SERVICES:
                endpoint.add_to_policy(_this_account_only("*"))
            self.interface_endpoints[service] = endpoint

    def _validate_existing_subnet(self, vpc: ec2.IVpc, subnet: ec2.ISubnet) -> None:
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
            required = self.options.required_compute_ips
            if usable < required:
                raise ValueError(
                    f"compute_subnet {cidr} holds {usable} usable IPs, but "
                    f"max_nodes={self.options.max_nodes} x "
                    f"ips_per_node={self.options.ips_per_node} + "
                    f"reserved_ips={self.options.reserved_ips} needs {required}; allowed: a "
                    "larger subnet or fewer nodes"
                )
        else:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:compute-subnet-size-unknown",
                "The size of the given compute_subnet is unknown at synth time: make sure it "
                f"holds {self.options.required_compute_ips} IPs.",
            )
        Annotations.of(self).add_info(
            "Bring-your-own network: the compute subnet must be in AZ ID "
            f"{self.options.availability_zone_id}, private, with a route to S3."
        )

    def _create_efa_security_group(self) -> ec2.SecurityGroup:
        sg = ec2.SecurityGroup(
            self,
            "EfaSecurityGroup",
            vpc=self.vpc,
            description="EFA compute nodes: all traffic to and from itself, all egress",
            # 0.0.0.0/0 egress for the NAT gateway and endpoints; it does not carry EFA.
            allow_all_outbound=True,
        )
        sg.add_ingress_rule(sg, ec2.Port.all_traffic(), "EFA: all traffic from itself")
        acknowledge_group_to_group_all_traffic(sg)
        # With allow_all_outbound the L2 drops further egress rules, but EFA needs an egress
        # rule that references the group itself: add it as its own resource.
        ec2.CfnSecurityGroupEgress(
            self,
            "EfaSelfEgress",
            group_id=sg.security_group_id,
            ip_protocol="-1",
            destination_security_group_id=sg.security_group_id,
            description="EFA: all traffic to itself",
        )
        return sg

    def _create_lustre_security_group(self) -> ec2.SecurityGroup:
        sg = ec2.SecurityGroup(
            self,
            "LustreSecurityGroup",
            vpc=self.vpc,
            description="FSx for Lustre: TCP 988 and 1018-1023 from itself and the EFA nodes",
            allow_all_outbound=False,
        )
        efa = self.efa_security_group
        for label, port in LUSTRE_PORTS:
            sg.add_ingress_rule(sg, port, f"Lustre {label} from the file system")
            sg.add_egress_rule(sg, port, f"Lustre {label} to the file system")
            sg.add_ingress_rule(efa, port, f"Lustre {label} from the compute nodes")
            sg.add_egress_rule(efa, port, f"Lustre {label} to the compute nodes")
            efa.add_ingress_rule(sg, port, f"Lustre {label} from the file system")
        return sg


def _this_account_only(action: str) -> iam.PolicyStatement:
    """Endpoint policy statement: any action, but only for principals of this account (the
    endpoint cannot carry another account's credentials out)."""
    return iam.PolicyStatement(
        sid="ThisAccountsPrincipals",
        principals=[iam.AnyPrincipal()],
        actions=[action],
        resources=["*"],
        conditions={"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}},
    )


def _subnet_cidr(subnet: ec2.ISubnet) -> str | None:
    try:
        cidr = subnet.ipv4_cidr_block
    except Exception:  # imported subnets without a CIDR raise at access
        return None
    if cidr is None or Token.is_unresolved(cidr):
        return None
    return str(cidr)


__all__ = ["LUSTRE_PORTS", "TrainingNetwork"]
