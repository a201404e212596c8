"""AWS ParallelCluster (`Custom::PclusterCluster` ClusterConfiguration) rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list

SUPPORTED_OS = frozenset(
    {"alinux2", "alinux2023", "ubuntu2004", "ubuntu2204", "ubuntu2404", "rhel8", "rhel9",
     "rocky8", "rocky9"}
)  # fmt: skip


def _cluster_configs(view: TemplateView) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for logical_id, props in view.of_type(
        "Custom::PclusterCluster", "AWS::CloudFormation::CustomResource"
    ):
        config = props.get("ClusterConfiguration")
        if isinstance(config, Mapping):
            yield logical_id, config


def _check_imds(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, config in _cluster_configs(view):
        support = config.get("Imds", {}).get("ImdsSupport")
        if support != "v2.0":
            findings.append(
                (
                    logical_id,
                    f"Imds.ImdsSupport is {support!r}; require IMDSv2 ('v2.0') on every node.",
                    "Properties/ClusterConfiguration/Imds/ImdsSupport",
                )
            )
        if config.get("HeadNode", {}).get("Imds", {}).get("Secured") is False:
            findings.append(
                (
                    logical_id,
                    "HeadNode.Imds.Secured is false; any process on the head node can then "
                    "read the node's instance-profile credentials.",
                    "Properties/ClusterConfiguration/HeadNode/Imds/Secured",
                )
            )
    return findings


def _check_efa_queues(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, config in _cluster_configs(view):
        queues = as_list(config.get("Scheduling", {}).get("SlurmQueues"))
        for index, queue in enumerate(queues):
            resources = as_list(queue.get("ComputeResources"))
            if not any(cr.get("Efa", {}).get("Enabled") is True for cr in resources):
                continue
            name = queue.get("Name")
            location = f"Properties/ClusterConfiguration/Scheduling/SlurmQueues/{index}"
            networking = queue.get("Networking", {})
            subnets = as_list(networking.get("SubnetIds"))
            if len(subnets) != 1:
                findings.append(
                    (
                        logical_id,
                        f"EFA queue '{name}' spans {len(subnets)} subnets; EFA traffic cannot "
                        "cross AZs, so an EFA queue needs exactly one subnet.",
                        f"{location}/Networking/SubnetIds",
                    )
                )
            capacity_block = queue.get("CapacityType") == "CAPACITY_BLOCK"
            placement = networking.get("PlacementGroup", {}).get("Enabled")
            if not capacity_block and placement is not True:
                findings.append(
                    (
                        logical_id,
                        f"EFA queue '{name}' has no placement group; without one, nodes may "
                        "land far apart in the AZ and collectives slow down.",
                        f"{location}/Networking/PlacementGroup",
                    )
                )
            if capacity_block and placement is True:
                findings.append(
                    (
                        logical_id,
                        f"queue '{name}' uses a Capacity Block with a placement group; Capacity "
                        "Blocks are already co-located and reject placement groups.",
                        f"{location}/Networking/PlacementGroup",
                    )
                )
    return findings


def _check_os(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, config in _cluster_configs(view):
        os_name = config.get("Image", {}).get("Os")
        if isinstance(os_name, str) and os_name not in SUPPORTED_OS:
            findings.append(
                (
                    logical_id,
                    f"Image.Os {os_name!r} is not supported by ParallelCluster 3; use one of "
                    + ", ".join(sorted(SUPPORTED_OS))
                    + ".",
                    "Properties/ClusterConfiguration/Image/Os",
                )
            )
    return findings


PCLUSTER_RULES = [
    Rule(
        "LLM-PC1",
        "ParallelCluster nodes require IMDSv2 and the head node's IMDS is secured.",
        Severity.ERROR,
        "IMDSv1 lets any SSRF or local user read instance credentials.",
        "Set Imds.ImdsSupport: v2.0 and leave HeadNode.Imds.Secured true "
        "(TrainiumParallelCluster does).",
        _check_imds,
    ),
    Rule(
        "LLM-PC2",
        "EFA queues use one subnet and a placement group (none for Capacity Blocks).",
        Severity.ERROR,
        "EFA cannot cross AZs; a placement group keeps nodes close; Capacity Blocks reject "
        "placement groups.",
        "Give each EFA queue exactly one subnet; enable PlacementGroup unless CapacityType is "
        "CAPACITY_BLOCK.",
        _check_efa_queues,
    ),
    Rule(
        "LLM-PC3",
        "ParallelCluster uses a supported operating system.",
        Severity.ERROR,
        "Cluster creation fails on an unsupported Image.Os.",
        "Pick a supported Image.Os (alinux2023, ubuntu2204, ubuntu2404, rhel8/9, rocky8/9).",
        _check_os,
    ),
]
