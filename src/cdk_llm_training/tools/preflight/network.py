"""Availability Zone IDs and instance type offerings in the Region (EC2, read-only).

``DescribeAvailabilityZones`` lists the Region's zones with their ``ZoneId``;
``DescribeInstanceTypeOfferings`` with ``LocationType=availability-zone-id`` says which zone
IDs offer an EC2 instance type (SageMaker instance types are not EC2 offerings; HyperPod
capacity is covered by the SageMaker quota check).
"""

from __future__ import annotations

from cdk_llm_training.tools.preflight._aws import Context, guarded, pages
from cdk_llm_training.tools.preflight.model import Finding, Status
from cdk_llm_training.tools.preflight.requirements import AvailabilityZoneNeed, Ec2InstanceNeed

AZ_CHECK = "availability-zone"
OFFERING_CHECK = "instance-offering"


def check_availability_zones(context: Context, needs: list[AvailabilityZoneNeed]) -> list[Finding]:
    """Every AZ ID the config names exists (and is available) in the Region."""
    if not needs:
        return []

    def run() -> list[Finding]:
        ec2 = context.clients("ec2", context.region)
        zones = ec2.describe_availability_zones().get("AvailabilityZones", [])
        by_id = {str(z["ZoneId"]): z for z in zones}
        known = ", ".join(sorted(by_id))
        rows: list[Finding] = []
        for need in needs:
            zone = by_id.get(need.zone_id)
            if zone is None:
                rows.append(
                    Finding(
                        AZ_CHECK,
                        Status.BLOCKER,
                        need.zone_id,
                        f"no such AZ ID in {context.region}",
                        f"set {need.source} to one of {known}",
                        need.source,
                    )
                )
            elif zone.get("State", "available") != "available":
                rows.append(
                    Finding(
                        AZ_CHECK,
                        Status.WARNING,
                        need.zone_id,
                        f"{zone.get('ZoneName')} is {zone.get('State')}",
                        f"pick another AZ ID of {context.region}: {known}",
                        need.source,
                    )
                )
            else:
                rows.append(
                    Finding(
                        AZ_CHECK,
                        Status.PASS,
                        need.zone_id,
                        f"{zone.get('ZoneName')} in {context.region}",
                        source=need.source,
                    )
                )
        return rows

    return guarded(AZ_CHECK, "AZ IDs", "ec2:DescribeAvailabilityZones", run)


def check_instance_offerings(context: Context, needs: list[Ec2InstanceNeed]) -> list[Finding]:
    """Every EC2 instance type ParallelCluster launches is offered in the compute AZ ID."""
    placed = [n for n in needs if n.availability_zone_id is not None]
    if not placed:
        return []

    def run() -> list[Finding]:
        ec2 = context.clients("ec2", context.region)
        types = sorted({n.instance_type for n in placed})
        zones: dict[str, set[str]] = {t: set() for t in types}
        for offering in pages(
            ec2,
            "describe_instance_type_offerings",
            "InstanceTypeOfferings",
            LocationType="availability-zone-id",
            Filters=[{"Name": "instance-type", "Values": types}],
        ):
            zones.setdefault(str(offering["InstanceType"]), set()).add(str(offering["Location"]))
        rows: list[Finding] = []
        for need in placed:
            offered = zones.get(need.instance_type, set())
            subject = f"{need.instance_type} in {need.availability_zone_id}"
            if need.availability_zone_id in offered:
                rows.append(
                    Finding(OFFERING_CHECK, Status.PASS, subject, "offered", source=need.source)
                )
                continue
            where = ", ".join(sorted(offered)) or f"no AZ of {context.region}"
            rows.append(
                Finding(
                    OFFERING_CHECK,
                    Status.BLOCKER,
                    subject,
                    f"not offered there (offered in: {where})",
                    "set the network's availability_zone_id to an AZ ID that offers it"
                    if offered
                    else "deploy in a Region that offers it",
                    need.source,
                )
            )
        return rows

    return guarded(OFFERING_CHECK, "instance offerings", "ec2:DescribeInstanceTypeOfferings", run)
