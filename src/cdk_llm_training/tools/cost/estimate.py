"""From a synthesized CloudFormation template to an itemized cost estimate.

Pure Python (no aws_cdk import). Two figures:

- **running cost** (the headline, per month and per hour): what the stack costs while it is
  deployed and no job runs, every resource that bills by the hour or month while it exists
  (KMS keys, NAT gateways and their public IPv4 addresses, VPC interface endpoints per AZ,
  the EKS control plane, FSx capacity at its throughput tier, CloudWatch dashboards and
  alarms, secrets, a ParallelCluster head node and static compute nodes) plus the running
  nodes: HyperPod instance groups at ``InstanceCount`` bill while they exist, whether or not
  a job runs;
- **hourly scale-up cost**: what ParallelCluster queues add at ``MaxCount`` while jobs run
  (dynamic nodes start for jobs and stop when idle).

Usage-based services (S3, SNS, Step Functions, Lambda, logs, Cognito) cost 0 when idle and
are counted, not priced.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdk_llm_training.config.catalogs.prices import PriceBook, PriceChannel, load_price_book
from cdk_llm_training.config.catalogs.service_prices import ServicePrice, ServicePriceTable

PCLUSTER_TYPE = "Custom::PclusterCluster"
HYPERPOD_TYPE = "AWS::SageMaker::Cluster"
# Resources that configure others and cost nothing by themselves.
_FREE_PREFIXES = (
    "AWS::IAM::",
    "AWS::CDK::",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::NetworkAcl",
    "AWS::EC2::PlacementGroup",
    "AWS::EC2::LaunchTemplate",
    "AWS::KMS::Alias",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",
    "AWS::Lambda::Permission",
    "AWS::Lambda::LayerVersion",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolGroup",
    "AWS::Cognito::UserPoolDomain",
    "AWS::EKS::Addon",
    "AWS::EKS::AccessEntry",
    "AWS::EKS::PodIdentityAssociation",
    "AWS::FSx::DataRepositoryAssociation",
    "AWS::CloudFormation::WaitCondition",
    "AWS::Logs::ResourcePolicy",
    "AWS::Events::EventBusPolicy",
)


class CostEstimateError(Exception):
    """The template cannot be found or read."""


@dataclass(frozen=True)
class CostLine:
    """One priced resource."""

    logical_id: str
    resource_type: str
    description: str
    quantity: float
    """How many units (keys, hours a month, GiB, AZ-hours, alarm metrics, instances)."""
    unit_usd: float
    usd: float
    """Monthly USD for idle lines; USD per hour for compute lines."""
    as_of: str
    source: str
    note: str | None = None


@dataclass
class CostEstimate:
    """Itemized idle and compute cost of one stack template."""

    stack: str
    region: str
    idle: list[CostLine] = field(default_factory=list)
    compute: list[CostLine] = field(default_factory=list)
    usage_based: Counter[str] = field(default_factory=Counter)
    unpriced: list[str] = field(default_factory=list)
    """``LogicalId (Type)`` of resources the table does not know (warnings)."""
    hours_per_month: float = 730.0
    """Hours the monthly figures assume."""

    @property
    def idle_monthly_usd(self) -> float:
        """Running cost per month while deployed and no job runs (running HyperPod nodes
        included), USD: the headline."""
        return round(sum(line.usd for line in self.idle), 2)

    @property
    def idle_hourly_usd(self) -> float:
        """The running cost per hour (:attr:`idle_monthly_usd` over the month's hours)."""
        hours = self.hours_per_month or 730.0
        return round(sum(line.usd for line in self.idle) / hours, 4)

    @property
    def compute_hourly_usd(self) -> float:
        """Hourly cost ParallelCluster queues add at ``MaxCount`` while jobs run, USD."""
        return round(sum(line.usd for line in self.compute), 4)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""

        def lines(items: list[CostLine]) -> list[dict[str, Any]]:
            return [line.__dict__ | {"usd": round(line.usd, 4)} for line in items]

        return {
            "stack": self.stack,
            "region": self.region,
            "currency": "USD",
            "idle_monthly_usd": self.idle_monthly_usd,
            "idle_hourly_usd": self.idle_hourly_usd,
            "idle": lines(self.idle),
            "compute_hourly_usd": self.compute_hourly_usd,
            "compute": lines(self.compute),
            "usage_based": dict(sorted(self.usage_based.items())),
            "unpriced": self.unpriced,
        }


def find_template(stack: str, cdk_out: str | Path = "cdk.out") -> Path:
    """The template file of ``stack`` in a cloud assembly (via ``manifest.json``, else
    ``<stack>.template.json``).

    :raises CostEstimateError: naming the stacks found when ``stack`` is not there.
    """
    out = Path(cdk_out)
    manifest_file = out / "manifest.json"
    found: dict[str, Path] = {}
    if manifest_file.is_file():
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        for artifact_id, artifact in manifest.get("artifacts", {}).items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            template = artifact.get("properties", {}).get("templateFile")
            if not template:
                continue
            name = artifact.get("properties", {}).get("stackName") or artifact_id
            found[name] = out / template
            found.setdefault(artifact_id, out / template)
    if stack in found:
        return found[stack]
    direct = out / f"{stack}.template.json"
    if direct.is_file():
        return direct
    known = ", ".join(sorted(found)) or "none"
    raise CostEstimateError(
        f"stack {stack!r} not found in {out} (run `cdk synth` first); stacks found: {known}"
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class _Estimator:
    def __init__(self, stack: str, services: ServicePriceTable, instances: PriceBook) -> None:
        self.services = services
        self.instances = instances
        self.hours = services.hours_per_month
        self.estimate = CostEstimate(
            stack=stack, region=services.region, hours_per_month=self.hours
        )

    # -- helpers ---------------------------------------------------------------------------

    def idle(
        self,
        logical_id: str,
        resource_type: str,
        price: ServicePrice,
        quantity: float,
        *,
        description: str | None = None,
        note: str | None = None,
    ) -> None:
        hours = self.hours if price.unit in ("hour", "az_hour") else 1
        self.estimate.idle.append(
            CostLine(
                logical_id=logical_id,
                resource_type=resource_type,
                description=description or price.description,
                quantity=quantity * hours,
                unit_usd=price.usd,
                usd=price.usd * quantity * hours,
                as_of=price.as_of,
                source=price.source,
                note=note,
            )
        )

    def instance_price(
        self, instance_type: str, channel: PriceChannel
    ) -> tuple[float, str, str, str | None] | None:
        """USD/hour, as_of, source, note."""
        quote = self.instances.quote(instance_type, channel)
        if quote is not None:
            return quote.usd_per_hour, quote.as_of.isoformat(), quote.source, quote.note
        general = self.services.instances.get(instance_type.removeprefix("ml."))
        if general is None:
            return None
        if channel is PriceChannel.SAGEMAKER and general.sagemaker_usd_per_hour is not None:
            return general.sagemaker_usd_per_hour, general.as_of, general.source, None
        note = None
        if channel is PriceChannel.SAGEMAKER:
            note = f"no SageMaker price for {instance_type}; EC2 price used (a lower bound)"
        return general.ec2_usd_per_hour, general.as_of, general.source, note

    def instances_line(
        self,
        logical_id: str,
        resource_type: str,
        *,
        instance_type: Any,
        count: Any,
        channel: PriceChannel,
        what: str,
        monthly: bool,
    ) -> None:
        number = _number(count)
        if not isinstance(instance_type, str) or number is None:
            self.estimate.unpriced.append(
                f"{logical_id} ({resource_type}): {what} has an instance type or count "
                "unknown at synth"
            )
            return
        if number == 0:
            return
        quoted = self.instance_price(instance_type, channel)
        if quoted is None:
            self.estimate.unpriced.append(
                f"{logical_id} ({resource_type}): no price for {instance_type}"
            )
            return
        usd_per_hour, as_of, source, note = quoted
        hours = self.hours if monthly else 1
        line = CostLine(
            logical_id=logical_id,
            resource_type=resource_type,
            description=f"{what}: {number:g} x {instance_type}",
            quantity=number * hours,
            unit_usd=usd_per_hour,
            usd=usd_per_hour * number * hours,
            as_of=as_of,
            source=source,
            note=note,
        )
        (self.estimate.idle if monthly else self.estimate.compute).append(line)

    # -- resources -------------------------------------------------------------------------

    def resource(self, logical_id: str, resource: Mapping[str, Any]) -> None:
        kind = str(resource.get("Type", ""))
        props: Mapping[str, Any] = resource.get("Properties") or {}
        item = self.services.item
        if kind == "AWS::KMS::Key":
            self.idle(logical_id, kind, item("kms_key"), 1)
        elif kind == "AWS::EC2::NatGateway":
            self.idle(logical_id, kind, item("nat_gateway"), 1)
        elif kind == "AWS::EC2::EIP":
            self.idle(logical_id, kind, item("public_ipv4"), 1)
        elif kind == "AWS::EC2::VPCEndpoint":
            if props.get("VpcEndpointType") != "Interface":
                self.estimate.usage_based[kind] += 1  # gateway endpoints are free
                return
            azs = len(props.get("SubnetIds") or []) or 1
            service = _service_name(props.get("ServiceName"))
            price = item("vpc_interface_endpoint")
            self.idle(
                logical_id,
                kind,
                price,
                azs,
                description=f"{price.description} ({service}, {azs} AZ)",
            )
        elif kind == "AWS::EKS::Cluster":
            self.idle(logical_id, kind, item("eks_cluster"), 1)
        elif kind == "AWS::FSx::FileSystem":
            self.file_system(logical_id, kind, props)
        elif kind == "AWS::CloudWatch::Dashboard":
            self.idle(logical_id, kind, item("cloudwatch_dashboard"), 1)
        elif kind == "AWS::CloudWatch::Alarm":
            metrics = props.get("Metrics")
            count = sum(1 for m in metrics if "MetricStat" in m) if metrics else 1
            price = item("cloudwatch_alarm")
            self.idle(
                logical_id,
                kind,
                price,
                count,
                description=f"CloudWatch alarm ({count} metric{'s' if count > 1 else ''})",
            )
        elif kind == "AWS::SecretsManager::Secret":
            self.idle(logical_id, kind, item("secrets_manager_secret"), 1)
        elif kind == HYPERPOD_TYPE:
            for group in props.get("InstanceGroups") or []:
                # HyperPod instances run (and bill) from creation until scaled to 0.
                self.instances_line(
                    logical_id,
                    kind,
                    instance_type=group.get("InstanceType"),
                    count=group.get("InstanceCount"),
                    channel=PriceChannel.SAGEMAKER,
                    what=f"HyperPod group {group.get('InstanceGroupName', '?')}",
                    monthly=True,
                )
        elif kind == PCLUSTER_TYPE:
            self.parallel_cluster(logical_id, kind, props)
        elif kind in self.services.usage_based_types or kind.startswith("Custom::"):
            self.estimate.usage_based[kind] += 1
        elif not kind.startswith(_FREE_PREFIXES):
            self.estimate.unpriced.append(f"{logical_id} ({kind})")

    def file_system(self, logical_id: str, kind: str, props: Mapping[str, Any]) -> None:
        if props.get("FileSystemType") != "LUSTRE":
            self.estimate.unpriced.append(f"{logical_id} ({kind}): only Lustre is priced")
            return
        lustre = props.get("LustreConfiguration") or {}
        deployment = str(lustre.get("DeploymentType", "SCRATCH_1"))
        tier = _number(lustre.get("PerUnitStorageThroughput"))
        capacity = _number(props.get("StorageCapacity"))
        key = self.services.fsx_key(deployment, int(tier) if tier else None)
        if capacity is None or key not in self.services.items:
            self.estimate.unpriced.append(
                f"{logical_id} ({kind}): no price for {deployment} at {tier} MB/s/TiB "
                f"or capacity unknown"
            )
            return
        price = self.services.item(key)
        metadata = (lustre.get("MetadataConfiguration") or {}).get("Mode")
        note = None
        if metadata == "USER_PROVISIONED":
            note = "user-provisioned metadata IOPS are billed on top (not included)"
        self.idle(
            logical_id,
            kind,
            price,
            capacity,
            description=f"{price.description}, {capacity:g} GiB",
            note=note,
        )

    def parallel_cluster(self, logical_id: str, kind: str, props: Mapping[str, Any]) -> None:
        config = props.get("ClusterConfiguration") or {}
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except ValueError:
                config = {}
        head = config.get("HeadNode") or {}
        self.instances_line(
            logical_id,
            kind,
            instance_type=head.get("InstanceType"),
            count=1,
            channel=PriceChannel.EC2,
            what="ParallelCluster head node",
            monthly=True,
        )
        for queue in (config.get("Scheduling") or {}).get("SlurmQueues") or []:
            for resource in queue.get("ComputeResources") or []:
                what = f"queue {queue.get('Name', '?')}/{resource.get('Name', '?')}"
                instance_type = resource.get("InstanceType") or next(
                    (i.get("InstanceType") for i in resource.get("Instances") or []), None
                )
                self.instances_line(
                    logical_id,
                    kind,
                    instance_type=instance_type,
                    count=resource.get("MinCount", 0),
                    channel=PriceChannel.EC2,
                    what=f"{what} static nodes (MinCount)",
                    monthly=True,
                )
                self.instances_line(
                    logical_id,
                    kind,
                    instance_type=instance_type,
                    count=resource.get("MaxCount", 10),
                    channel=PriceChannel.EC2,
                    what=f"{what} at MaxCount",
                    monthly=False,
                )


def _service_name(value: Any) -> str:
    """The short service of an endpoint ``ServiceName`` (``com.amazonaws.<r>.ecr.api``)."""
    if isinstance(value, str):
        return value.split(".", 3)[-1]
    if isinstance(value, dict) and "Fn::Join" in value:
        parts = value["Fn::Join"][1]
        if parts and isinstance(parts[-1], str):
            return parts[-1].lstrip(".")
    return "endpoint"


def estimate_template(
    template: Mapping[str, Any],
    *,
    stack: str,
    services: ServicePriceTable,
    instances: PriceBook | None = None,
) -> CostEstimate:
    """Price every resource of ``template`` (a parsed CloudFormation template)."""
    estimator = _Estimator(stack, services, instances or load_price_book())
    for logical_id, resource in (template.get("Resources") or {}).items():
        estimator.resource(logical_id, resource)
    return estimator.estimate


def estimate_stack(
    stack: str,
    *,
    cdk_out: str | Path = "cdk.out",
    services: ServicePriceTable,
    instances: PriceBook | None = None,
) -> CostEstimate:
    """:func:`estimate_template` on the synthesized template of ``stack`` in ``cdk_out``."""
    path = find_template(stack, cdk_out)
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CostEstimateError(f"cannot read {path}: {error}") from None
    return estimate_template(template, stack=stack, services=services, instances=instances)


def render_text(estimate: CostEstimate) -> str:
    """The estimate as an itemized table."""
    out = [
        f"{estimate.stack}: estimated cost ({estimate.region} list prices, USD)",
        "",
        f"Running cost while deployed: {estimate.idle_hourly_usd:.2f}/hour, "
        f"{estimate.idle_monthly_usd:.2f}/month (running nodes included)",
        "",
        "Monthly running cost (deployed, no job running; HyperPod nodes bill while they exist)",
    ]
    width = max((len(line.logical_id) for line in estimate.idle + estimate.compute), default=10)
    for line in sorted(estimate.idle, key=lambda item: (-item.usd, item.logical_id)):
        note = f"  [{line.note}]" if line.note else ""
        out.append(
            f"  {line.logical_id:<{width}}  {line.description:<58} {line.usd:>10.2f}/month{note}"
        )
    if not estimate.idle:
        out.append("  (nothing billed while idle)")
    out.append(f"  {'Total running':<{width + 60}} {estimate.idle_monthly_usd:>9.2f}/month")
    out += ["", "Scale-up compute (ParallelCluster dynamic nodes at MaxCount, while jobs run)"]
    for line in estimate.compute:
        note = f"  [{line.note}]" if line.note else ""
        out.append(
            f"  {line.logical_id:<{width}}  {line.description:<58} {line.usd:>10.2f}/hour{note}"
        )
    if estimate.compute:
        total = estimate.compute_hourly_usd
        out.append(f"  {'Total scale-up':<{width + 60}} {total:>9.2f}/hour")
    else:
        out.append(
            "  (none: HyperPod groups bill at InstanceCount above; jobs bill per use otherwise)"
        )
    if estimate.usage_based:
        counted = ", ".join(f"{n} x {t}" for t, n in sorted(estimate.usage_based.items()))
        out += ["", f"Usage-based, 0 when idle: {counted}"]
    if estimate.unpriced:
        out += ["", "Not priced (add them to a --prices file):"]
        out += [f"  {item}" for item in estimate.unpriced]
    return "\n".join(out) + "\n"
