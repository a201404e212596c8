"""The network's VPC endpoints: S3 / DynamoDB gateways and the closed-network interfaces."""

from __future__ import annotations

from aws_cdk import Aws, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_llm_training.config.training_network import (
    ACCOUNT_SCOPED_ENDPOINT_SERVICES,
    NetworkOptions,
    aws_owned_bucket_names,
)


def create_gateway_endpoint(
    vpc: ec2.Vpc, service: str, options: NetworkOptions
) -> ec2.GatewayVpcEndpoint:
    """A gateway endpoint on every route table; with ``endpoint_policies`` the S3 one
    reaches only this account's buckets and the named AWS-owned ones, the DynamoDB one
    serves only this account's principals."""
    if service == "s3":
        endpoint = vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        if options.endpoint_policies:
            for statement in s3_endpoint_statements(options):
                endpoint.add_to_policy(statement)
        return endpoint
    endpoint = vpc.add_gateway_endpoint(
        "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
    )
    if options.endpoint_policies:
        endpoint.add_to_policy(this_account_only("dynamodb:*"))
    return endpoint


def s3_endpoint_statements(options: NetworkOptions) -> list[iam.PolicyStatement]:
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
                f"arn:{Aws.PARTITION}:s3:::cloudformation-custom-resource-response-{Aws.REGION}/*",
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
    extra = options.extra_s3_buckets
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


def create_interface_endpoints(
    scope: Construct, vpc: ec2.Vpc, compute: ec2.ISubnet, options: NetworkOptions
) -> tuple[ec2.SecurityGroup, dict[str, ec2.InterfaceVpcEndpoint]]:
    """The closed network's interface endpoints in the compute subnet, behind the
    ``EndpointSecurityGroup`` (HTTPS from the VPC) in ``scope``."""
    endpoint_sg = ec2.SecurityGroup(
        scope,
        "EndpointSecurityGroup",
        vpc=vpc,
        description="Interface endpoints of the closed training network: HTTPS from the VPC",
        allow_all_outbound=False,
    )
    endpoint_sg.add_ingress_rule(
        ec2.Peer.ipv4(options.vpc_cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
    )
    endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
    for service in options.interface_endpoints:
        endpoint = vpc.add_interface_endpoint(
            "".join(part.capitalize() for part in service.replace("-", ".").split(".")),
            service=ec2.InterfaceVpcEndpointAwsService(service),
            subnets=ec2.SubnetSelection(subnets=[compute]),
            security_groups=[endpoint_sg],
            private_dns_enabled=True,
            open=False,
        )
        if options.endpoint_policies and service in ACCOUNT_SCOPED_ENDPOINT_SERVICES:
            endpoint.add_to_policy(this_account_only("*"))
        endpoints[service] = endpoint
    return endpoint_sg, endpoints


def this_account_only(action: str) -> iam.PolicyStatement:
    """Endpoint policy statement: any action, but only for principals of this account (the
    endpoint cannot carry another account's credentials out)."""
    return iam.PolicyStatement(
        sid="ThisAccountsPrincipals",
        principals=[iam.AnyPrincipal()],
        actions=[action],
        resources=["*"],
        conditions={"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}},
    )
