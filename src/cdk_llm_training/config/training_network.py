"""Options for :class:`cdk_llm_training.TrainingNetwork` and the compute subnet sizing rule.

Pure Python (no aws_cdk import): the planner and the CLI use the sizing rule too.
"""

from __future__ import annotations

import ipaddress
import math
import re

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.types import (
    AZ_ID_PATTERN,
    AvailabilityZoneId,
    LogRetentionDays,
)

AWS_RESERVED_IPS_PER_SUBNET = 5
"""AWS reserves the first four and the last address of every subnet."""

MIN_SUBNET_PREFIX = 16
"""The largest subnet a VPC allows is a /16."""
MAX_SUBNET_PREFIX = 28
"""The smallest subnet a VPC allows is a /28."""

EKS_IPS_PER_NODE = 81
"""IPs a p5.48xlarge node takes on HyperPod with EKS (VPC CNI: node, EFA and pod ENIs)."""
SLURM_IPS_PER_NODE = 32
"""IPs a p5.48xlarge node takes on HyperPod with Slurm or ParallelCluster (node + EFA ENIs)."""

DEFAULT_INTERFACE_ENDPOINTS: tuple[str, ...] = (
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
)
"""Interface endpoints of the closed-network mode: what nodes need without internet access."""

HYPERPOD_INTERFACE_ENDPOINTS: tuple[str, ...] = ("sagemaker.api",)
"""Added in closed-network mode when HyperPod runs: its training operator on private nodes
calls the SageMaker API."""

PARALLELCLUSTER_INTERFACE_ENDPOINTS: tuple[str, ...] = ("cloudformation",)
"""Added in closed-network mode when ParallelCluster runs (ParallelCluster "single subnet with
no internet access": logs, cloudformation, ec2 interface endpoints; s3 and dynamodb gateway
endpoints)."""

PARALLELCLUSTER_GATEWAY_ENDPOINTS: tuple[str, ...] = ("dynamodb",)
"""Gateway endpoints ParallelCluster needs without internet access (besides s3)."""

GATEWAY_ENDPOINT_SERVICES: tuple[str, ...] = ("s3", "dynamodb")
"""Services with gateway endpoints."""

ACCOUNT_SCOPED_ENDPOINT_SERVICES: frozenset[str] = frozenset(
    {"ec2", "ecr.api", "ecr.dkr", "logs", "monitoring", "cloudformation", "sagemaker.api"}
)
"""Interface endpoints that get a policy allowing only principals of this account. Only
services that support endpoint policies and whose callers on the nodes are always signed
principals of the account: not ``sts`` (web-identity federation calls are unsigned), and not
services whose endpoint-policy support is unverified here (``ssm``, ``ssmmessages``,
``ec2messages``, ``eks-auth``: they keep the default policy)."""


def aws_owned_bucket_names(region: str) -> dict[str, str]:
    """AWS-owned S3 buckets the training nodes read (or write) through the S3 gateway
    endpoint in ``region``, with what needs each. ``aws:ResourceAccount`` cannot match them,
    so the endpoint policy names them."""
    return {
        f"prod-{region}-starport-layer-bucket": "Amazon ECR image layers (ECR user guide, "
        "minimum S3 bucket permissions for Amazon ECR)",
        f"{region}-aws-parallelcluster": "ParallelCluster provider templates, cookbooks and "
        "node packages",
        f"cloudformation-waitcondition-{region}": "CloudFormation wait-condition signals of "
        "the ParallelCluster head node (s3:PutObject; ParallelCluster no-internet guide)",
        f"al2023-repos-{region}-de612dc2": "Amazon Linux 2023 package repositories",
    }


_ENDPOINT = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def check_availability_zone_id(value: str) -> str:
    """``value`` if it is an AZ ID (``use1-az4``); raises ValueError for AZ names."""
    if not AZ_ID_PATTERN.match(value):
        raise ValueError(
            f"availability_zone_id {value!r} is not an AZ ID; allowed: the form 'use1-az4' "
            "(region code, '-az', number), not an AZ name like 'us-east-1a'"
        )
    return value


def _region_code(az_id: str) -> str:
    """``use1`` of ``use1-az4``."""
    return az_id.rsplit("-az", 1)[0]


def usable_ips(prefix_length: int) -> int:
    """Addresses an instance can use in a subnet of ``/prefix_length`` (AWS keeps five)."""
    return int(2 ** (32 - prefix_length)) - AWS_RESERVED_IPS_PER_SUBNET


def required_compute_ips(*, max_nodes: int, ips_per_node: int, reserved_ips: int) -> int:
    """IPs the compute subnet must hold: every node at its peak plus FSx ENIs and headroom."""
    return max_nodes * ips_per_node + reserved_ips


def smallest_subnet_prefix(required_ips: int) -> int:
    """The largest prefix length (smallest subnet) whose usable IPs cover ``required_ips``.

    May return a value below :data:`MIN_SUBNET_PREFIX` when no VPC subnet can hold that many.
    """
    needed = max(required_ips, 1) + AWS_RESERVED_IPS_PER_SUBNET
    prefix = 32 - math.ceil(math.log2(needed))
    return min(prefix, MAX_SUBNET_PREFIX)


class NetworkOptions(FrozenModel):
    """Plain-data options of the training network.

    Only ``availability_zone_id`` is required: pick the AZ by ID (``use1-az4``), because AZ
    names map to different physical zones in every account.
    """

    availability_zone_id: AvailabilityZoneId
    """AZ ID of the compute subnet (and of the public subnet and NAT gateway), e.g.
    ``use1-az4``. EFA traffic cannot leave one AZ. Required."""

    vpc_cidr: str = "10.0.0.0/16"
    """IPv4 CIDR of the VPC. Default ``10.0.0.0/16``."""

    max_nodes: int = Field(default=16, ge=1, le=4096)
    """Largest number of accelerated nodes the compute subnet must hold. Default 16. A subnet
    CIDR cannot change later: size for the largest cluster you expect."""

    ips_per_node: int = Field(default=EKS_IPS_PER_NODE, ge=1, le=1024)
    """IPs one node takes at peak. Default 81 (p5 on EKS with the VPC CNI); use 32 for Slurm
    or ParallelCluster."""

    reserved_ips: int = Field(default=32, ge=0, le=65536)
    """Extra IPs in the compute subnet for FSx ENIs, endpoints and headroom. Default 32."""

    compute_subnet_prefix_length: int | None = Field(default=None, ge=16, le=28)
    """Prefix length of the compute subnet (``20`` for a /20). Default: the smallest subnet
    that holds ``max_nodes * ips_per_node + reserved_ips`` IPs. A given value is validated."""

    public_subnet_prefix_length: int = Field(default=26, ge=16, le=28)
    """Prefix length of the public subnet that holds the NAT gateway. Default 26."""

    nat_gateway: bool = True
    """Create a public subnet with an internet gateway and one NAT gateway. Default on.
    Ignored (no NAT) in closed-network mode."""

    closed_network: bool = False
    """Closed-network mode: no public subnet, no NAT, no internet gateway; interface endpoints
    for :attr:`interface_endpoints` instead. Default off."""

    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
    """AWS service names (``ecr.api``) that get an interface endpoint in closed-network mode.
    Default: ec2, ecr.api, ecr.dkr, sts, logs, monitoring, ssm, ssmmessages, ec2messages,
    eks-auth (the tier stacks add sagemaker.api with HyperPod and cloudformation with
    ParallelCluster)."""

    gateway_endpoints: tuple[str, ...] = ("s3",)
    """Gateway endpoints (``s3``, ``dynamodb``), created in every mode (they are free).
    Default ``s3``; the large tier adds ``dynamodb`` for ParallelCluster in closed-network
    mode."""

    endpoint_policies: bool = True
    """Attach endpoint policies. The S3 gateway endpoint then reaches only this account's
    buckets (``aws:ResourceAccount``) plus the AWS-owned buckets the nodes need, each named
    (:func:`aws_owned_bucket_names`) and :attr:`extra_s3_buckets`; the DynamoDB gateway
    endpoint and the interface endpoints of :data:`ACCOUNT_SCOPED_ENDPOINT_SERVICES` serve
    only principals of this account. Default on."""

    extra_s3_buckets: tuple[str, ...] = ()
    """More S3 bucket names (of other accounts) the nodes may read through the S3 gateway
    endpoint, e.g. a package mirror or a shared dataset. Default none."""

    control_plane_availability_zone_id: AvailabilityZoneId | None = None
    """AZ ID of a second, small private subnet (``use1-az6``) for control planes that need
    subnets in two AZs (the EKS cluster of HyperPod). It holds no compute nodes. Default none:
    only the compute AZ. Must differ from ``availability_zone_id``, in the same Region."""

    control_plane_subnet_prefix_length: int = Field(default=28, ge=16, le=28)
    """Prefix length of the control-plane subnet, placed at the end of ``vpc_cidr``. Default 28
    (11 usable IPs; EKS needs at least 6)."""

    flow_log_retention_days: LogRetentionDays = 365
    """Days VPC flow logs are kept in CloudWatch Logs. Default 365. Must be a retention period
    CloudWatch Logs accepts."""

    @field_validator("vpc_cidr")
    @classmethod
    def _check_vpc_cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as error:
            raise ValueError(f"vpc_cidr {value!r} is not an IPv4 network CIDR ({error})") from None
        if not 16 <= network.prefixlen <= 28:
            raise ValueError(
                f"vpc_cidr {value!r} has prefix length /{network.prefixlen}; allowed: /16 to /28"
            )
        return value

    @field_validator("interface_endpoints")
    @classmethod
    def _check_endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [name for name in value if not _ENDPOINT.match(name)]
        if bad:
            raise ValueError(
                f"interface_endpoints {bad!r} are not AWS service names; "
                "allowed: lower-case names such as 'ecr.api' or 'sts'"
            )
        if len(set(value)) != len(value):
            raise ValueError(f"interface_endpoints {list(value)!r} lists a service twice")
        return value

    @field_validator("gateway_endpoints")
    @classmethod
    def _check_gateways(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [name for name in value if name not in GATEWAY_ENDPOINT_SERVICES]
        if bad or "s3" not in value or len(set(value)) != len(value):
            raise ValueError(
                f"gateway_endpoints {list(value)!r} is not allowed; allowed: 's3' (required) "
                "and 'dynamodb', each once"
            )
        return value

    @field_validator("extra_s3_buckets")
    @classmethod
    def _check_buckets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [name for name in value if not _BUCKET.match(name)]
        if bad:
            raise ValueError(
                f"extra_s3_buckets {bad!r} are not S3 bucket names; allowed: 3-63 lower-case "
                "letters, digits, '.' and '-'"
            )
        return value

    @model_validator(mode="after")
    def _check_subnet_sizes(self) -> NetworkOptions:
        required = self.required_compute_ips
        vpc_prefix = ipaddress.IPv4Network(self.vpc_cidr).prefixlen
        given = self.compute_subnet_prefix_length
        if given is not None and usable_ips(given) < required:
            raise ValueError(
                f"compute_subnet_prefix_length /{given} holds {usable_ips(given)} usable IPs, "
                f"but max_nodes={self.max_nodes} x ips_per_node={self.ips_per_node} + "
                f"reserved_ips={self.reserved_ips} needs {required}; allowed: "
                f"/{max(smallest_subnet_prefix(required), MIN_SUBNET_PREFIX)} or larger, "
                "or fewer nodes"
            )
        prefix = self.compute_prefix_length
        if prefix < max(vpc_prefix, MIN_SUBNET_PREFIX):
            raise ValueError(
                f"the compute subnet needs {required} IPs (max_nodes={self.max_nodes} x "
                f"ips_per_node={self.ips_per_node} + reserved_ips={self.reserved_ips}), a "
                f"/{prefix}, which does not fit vpc_cidr {self.vpc_cidr!r}; allowed: at most "
                f"{usable_ips(max(vpc_prefix, MIN_SUBNET_PREFIX))} IPs in this VPC"
            )
        public_needed = not self.closed_network and self.nat_gateway
        if public_needed and 2 ** (32 - prefix) + 2 ** (
            32 - self.public_subnet_prefix_length
        ) > 2 ** (32 - vpc_prefix):
            raise ValueError(
                f"vpc_cidr {self.vpc_cidr!r} cannot hold a /{prefix} compute subnet and a "
                f"/{self.public_subnet_prefix_length} public subnet; allowed: a larger VPC "
                "CIDR or a smaller public_subnet_prefix_length"
            )
        self._check_control_plane_subnet(prefix, vpc_prefix, public_needed)
        return self

    def _check_control_plane_subnet(self, prefix: int, vpc_prefix: int, public: bool) -> None:
        second = self.control_plane_availability_zone_id
        if second is None:
            return
        first = self.availability_zone_id
        if second == first:
            raise ValueError(
                f"control_plane_availability_zone_id {second!r} equals availability_zone_id; "
                "allowed: another AZ ID of the same Region (EKS needs subnets in two AZs)"
            )
        if _region_code(second) != _region_code(first):
            raise ValueError(
                f"control_plane_availability_zone_id {second!r} is not in the Region of "
                f"availability_zone_id {first!r}; allowed: an AZ ID starting with "
                f"'{_region_code(first)}-az'"
            )
        used = 2 ** (32 - prefix) + 2 ** (32 - self.control_plane_subnet_prefix_length)
        if public:
            used += 2 ** (32 - self.public_subnet_prefix_length)
        if used > 2 ** (32 - vpc_prefix):
            raise ValueError(
                f"vpc_cidr {self.vpc_cidr!r} cannot hold a /{prefix} compute subnet, the "
                "public subnet and a "
                f"/{self.control_plane_subnet_prefix_length} control-plane subnet; allowed: a "
                "larger VPC CIDR or fewer nodes"
            )

    @property
    def control_plane_subnet_cidr(self) -> str | None:
        """CIDR of the control-plane subnet: the last block of its size in ``vpc_cidr``."""
        if self.control_plane_availability_zone_id is None:
            return None
        vpc = ipaddress.IPv4Network(self.vpc_cidr)
        size = 2 ** (32 - self.control_plane_subnet_prefix_length)
        start = vpc.broadcast_address + 1 - size
        return f"{start}/{self.control_plane_subnet_prefix_length}"

    @property
    def required_compute_ips(self) -> int:
        """IPs the compute subnet must hold."""
        return required_compute_ips(
            max_nodes=self.max_nodes,
            ips_per_node=self.ips_per_node,
            reserved_ips=self.reserved_ips,
        )

    @property
    def compute_prefix_length(self) -> int:
        """Prefix length of the compute subnet: the given one, or the smallest that fits."""
        if self.compute_subnet_prefix_length is not None:
            return self.compute_subnet_prefix_length
        return smallest_subnet_prefix(self.required_compute_ips)
