"""SageMaker and EC2 service quotas against what the config launches (Service Quotas API).

Quotas are found by name, not by code: SageMaker has one quota per instance type and usage
(``ml.p5.48xlarge for cluster usage``, ``ml.g5.2xlarge for spot training job usage``), and the
code comes back with the quota. ``ListServiceQuotas`` returns applied values and omits quotas
whose applied value is unavailable, so a name it lacks is looked up among the defaults
(``ListAWSDefaultServiceQuotas``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cdk_llm_training.config.trainium_parallel_cluster import QueueCapacityType
from cdk_llm_training.tools.preflight._aws import Context, guarded, pages, quota_console_url
from cdk_llm_training.tools.preflight.model import Finding, Status
from cdk_llm_training.tools.preflight.requirements import Ec2InstanceNeed, SageMakerQuotaNeed

SAGEMAKER_CHECK = "sagemaker-quota"
EC2_CHECK = "ec2-quota"

# EC2 vCPU quotas by instance family letters. Names as the Service Quotas console lists them;
# the codes are read from the API response. The spot names are listed in the EC2 User Guide
# (Spot Instance quotas); L-1216C47A (standard On-Demand) is in the AWS CLI reference. Codes
# seen in public tools for the other classes disagree (Trn spot: L-6B0D517C and L-5480EFD2),
# hence matching by name.
_STANDARD = "Standard (A, C, D, H, I, M, R, T, Z)"
_FAMILY_CLASS: dict[str, str] = {
    **dict.fromkeys(("a", "c", "d", "h", "i", "im", "is", "m", "r", "t", "z"), _STANDARD),
    "p": "P",
    "g": "G and VT",
    "gr": "G and VT",
    "vt": "G and VT",
    "trn": "Trn",
    "inf": "Inf",
    "dl": "DL",
    "x": "X",
    "f": "F",
    "hpc": "HPC",
    "u": "High Memory",
}
_FAMILY = re.compile(r"^([a-z]+?)(?=[\d-])")


def ec2_quota_name(instance_type: str, capacity_type: QueueCapacityType) -> str | None:
    """``Running On-Demand Trn instances`` / ``All Trn Spot Instance Requests`` for
    ``trn1.32xlarge``; None for a family outside the table."""
    match = _FAMILY.match(instance_type)
    letters = match.group(1) if match else ""
    quota_class = _FAMILY_CLASS.get(letters)
    if quota_class is None:
        return None
    if capacity_type is QueueCapacityType.SPOT:
        return f"All {quota_class} Spot Instance Requests"
    return f"Running On-Demand {quota_class} instances"


def _name_key(name: str) -> str:
    """Quota names compared without case, punctuation or repeated spaces (some listings drop
    the commas of ``Standard (A, C, D, H, I, M, R, T, Z)``)."""
    return " ".join(re.sub(r"[^a-z0-9.]+", " ", name.lower()).split())


class QuotaBook:
    """Quotas of one service in the Region, looked up by name (see :func:`_name_key`)."""

    def __init__(self, client: Any, service_code: str) -> None:
        self._client = client
        self._service_code = service_code
        self._applied: dict[str, dict[str, Any]] | None = None
        self._defaults: dict[str, dict[str, Any]] | None = None

    def find(self, name: str) -> dict[str, Any] | None:
        key = _name_key(name)
        if self._applied is None:
            self._applied = self._index("list_service_quotas")
        if key in self._applied:
            return self._applied[key]
        if self._defaults is None:
            self._defaults = self._index("list_aws_default_service_quotas")
        return self._defaults.get(key)

    def _index(self, operation: str) -> dict[str, dict[str, Any]]:
        return {
            _name_key(str(q["QuotaName"])): q
            for q in pages(self._client, operation, "Quotas", ServiceCode=self._service_code)
        }


def request_fix(context: Context, service: str, quota: dict[str, Any], desired: int) -> str:
    code = quota["QuotaCode"]
    return (
        f"request {service} quota '{quota['QuotaName']}' ({code}) = {desired} in "
        f"{context.region}: {quota_console_url(context.region, service, code)} or `aws "
        f"service-quotas request-service-quota-increase --service-code {service} --quota-code "
        f"{code} --desired-value {desired} --region {context.region}`"
    )


@dataclass
class _Total:
    count: int
    sources: list[str]
    max_count: int = 0


def check_sagemaker_quotas(context: Context, needs: list[SageMakerQuotaNeed]) -> list[Finding]:
    """One row per SageMaker quota: instances the config runs at once vs the quota value."""
    if not needs:
        return []
    totals: dict[str, _Total] = {}
    for need in needs:
        name = need.usage.quota_name(need.instance_type)
        total = totals.setdefault(name, _Total(0, []))
        total.count += need.count
        total.max_count += need.max_count if need.max_count is not None else need.count
        total.sources.append(need.source)

    def run() -> list[Finding]:
        book = QuotaBook(context.clients("service-quotas", context.region), "sagemaker")
        return [_sagemaker_row(context, book, name, total) for name, total in totals.items()]

    return guarded(
        SAGEMAKER_CHECK,
        "SageMaker quotas",
        "servicequotas:ListServiceQuotas and servicequotas:ListAWSDefaultServiceQuotas",
        run,
    )


def _sagemaker_row(context: Context, book: QuotaBook, name: str, total: _Total) -> Finding:
    source = ", ".join(total.sources)
    quota = book.find(name)
    if quota is None:
        return Finding(
            SAGEMAKER_CHECK,
            Status.WARNING,
            name,
            f"no SageMaker quota of this name in {context.region} (the instance type may not "
            "be offered for this usage here)",
            "check the type in the SageMaker pricing page for the Region, or pick another "
            "instance type",
            source,
        )
    value = float(quota.get("Value", 0))
    detail = f"quota {value:g}, config runs {total.count}"
    if total.max_count > total.count:
        detail += f" and scales up to {total.max_count}"
    if value >= total.max_count:
        return Finding(SAGEMAKER_CHECK, Status.PASS, name, detail, source=source)
    if value >= total.count:
        # The deploy succeeds; raising instance_count towards the maximum would not.
        return Finding(
            SAGEMAKER_CHECK,
            Status.WARNING,
            name,
            detail,
            request_fix(context, "sagemaker", quota, total.max_count),
            source,
        )
    return Finding(
        SAGEMAKER_CHECK,
        Status.BLOCKER,
        name,
        detail,
        request_fix(context, "sagemaker", quota, total.count),
        source,
    )


def check_ec2_quotas(context: Context, needs: list[Ec2InstanceNeed]) -> list[Finding]:
    """vCPU quotas of the ParallelCluster instances: the head node, the static nodes and at
    least one node of every class must fit (blocker), every queue at its ``max_count`` should
    (warning)."""
    checked = [n for n in needs if n.capacity_type is not QueueCapacityType.CAPACITY_BLOCK]
    findings = [
        Finding(
            EC2_CHECK,
            Status.WARNING,
            need.instance_type,
            "not checked: the queue uses a Capacity Block, whose instances come from the "
            "reservation (how they count against vCPU quotas is not verified here)",
            "",
            need.source,
        )
        for need in needs
        if need.capacity_type is QueueCapacityType.CAPACITY_BLOCK
    ]
    if not checked:
        return findings

    def run() -> list[Finding]:
        ec2 = context.clients("ec2", context.region)
        types = sorted({n.instance_type for n in checked})
        vcpus = {
            item["InstanceType"]: int(item["VCpuInfo"]["DefaultVCpus"])
            for item in pages(ec2, "describe_instance_types", "InstanceTypes", InstanceTypes=types)
        }
        book = QuotaBook(context.clients("service-quotas", context.region), "ec2")
        groups: dict[str, list[Ec2InstanceNeed]] = {}
        rows: list[Finding] = []
        for need in checked:
            name = ec2_quota_name(need.instance_type, need.capacity_type)
            if name is None or need.instance_type not in vcpus:
                rows.append(
                    Finding(
                        EC2_CHECK,
                        Status.WARNING,
                        need.instance_type,
                        "not checked: no vCPU quota known for this instance family in this Region",
                        "check the EC2 vCPU quotas in the Service Quotas console",
                        need.source,
                    )
                )
                continue
            groups.setdefault(name, []).append(need)
        for name, members in groups.items():
            rows.append(_ec2_row(context, book, name, members, vcpus))
        return rows

    return findings + guarded(
        EC2_CHECK,
        "EC2 vCPU quotas",
        "ec2:DescribeInstanceTypes, servicequotas:ListServiceQuotas and "
        "servicequotas:ListAWSDefaultServiceQuotas",
        run,
    )


def _ec2_row(
    context: Context,
    book: QuotaBook,
    name: str,
    members: list[Ec2InstanceNeed],
    vcpus: dict[str, int],
) -> Finding:
    at_create = sum(n.min_count * vcpus[n.instance_type] for n in members)
    at_max = sum(n.max_count * vcpus[n.instance_type] for n in members)
    source = ", ".join(n.source for n in members)
    quota = book.find(name)
    if quota is None:
        return Finding(
            EC2_CHECK,
            Status.WARNING,
            name,
            f"quota not found in {context.region}; the config needs {at_max} vCPUs",
            "check the EC2 vCPU quotas in the Service Quotas console",
            source,
        )
    value = float(quota.get("Value", 0))
    detail = f"quota {value:g} vCPUs; {at_create} at cluster creation, {at_max} at full scale"
    if value >= at_max:
        return Finding(EC2_CHECK, Status.PASS, name, detail, source=source)
    # Below the creation need the head node or static nodes cannot start, and below one node
    # nothing of that class ever runs; above it the queues stop scaling before max_count.
    one_node = min(vcpus[n.instance_type] for n in members if n.max_count > 0)
    status = Status.BLOCKER if value < max(at_create, one_node) else Status.WARNING
    return Finding(
        EC2_CHECK, status, name, detail, request_fix(context, "ec2", quota, at_max), source
    )
