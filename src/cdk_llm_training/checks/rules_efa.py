"""EFA security-group rules."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id

_SECURITY_GROUP = "AWS::EC2::SecurityGroup"
_EFA_LABEL = re.compile(r"^\s*efa\b", re.IGNORECASE)
"""A group *named or described as* EFA (label starts with 'EFA'); a mere mention such as
'TCP 988 from the EFA nodes' does not make a group an EFA group."""


def _is_all_traffic(rule: Mapping[str, Any]) -> bool:
    return str(rule.get("IpProtocol")) in {"-1", "all"}


def _self_rules(view: TemplateView, sg_id: str, direction: str) -> bool:
    """Whether ``sg_id`` has an all-traffic rule in ``direction`` ('Ingress'/'Egress')
    whose peer is the group itself, inline or as a separate resource."""
    peer_key = "SourceSecurityGroupId" if direction == "Ingress" else "DestinationSecurityGroupId"
    for rule in as_list(view.properties(sg_id).get(f"SecurityGroup{direction}")):
        if _is_all_traffic(rule) and referenced_id(rule.get(peer_key)) == sg_id:
            return True
    for _, props in view.of_type(f"AWS::EC2::SecurityGroup{direction}"):
        if (
            referenced_id(props.get("GroupId")) == sg_id
            and _is_all_traffic(props)
            and referenced_id(props.get(peer_key)) == sg_id
        ):
            return True
    return False


def _ids(values: Any) -> Iterator[str | None]:
    for value in as_list(values):
        yield referenced_id(value)


def efa_security_groups(view: TemplateView) -> set[str]:
    """Logical IDs of security groups in this template that carry EFA traffic: attached to a
    HyperPod cluster, an EFA-enabled ParallelCluster queue, an EFA launch template or an
    EFA-enabled FSx, or declared as EFA groups (name, description or Name tag starting with
    'EFA', or a self-referencing all-traffic rule in one direction, the EFA pattern)."""
    found: set[str | None] = set()
    for _, props in view.of_type("AWS::SageMaker::Cluster"):
        found.update(_ids(props.get("VpcConfig", {}).get("SecurityGroupIds")))
        for group in as_list(props.get("InstanceGroups")):
            found.update(_ids(group.get("OverrideVpcConfig", {}).get("SecurityGroupIds")))
    for _, props in view.of_type("Custom::PclusterCluster", "AWS::CloudFormation::CustomResource"):
        config = props.get("ClusterConfiguration")
        if not isinstance(config, Mapping):
            continue
        for queue in as_list(config.get("Scheduling", {}).get("SlurmQueues")):
            efa = any(
                cr.get("Efa", {}).get("Enabled") is True
                for cr in as_list(queue.get("ComputeResources"))
            )
            if efa:
                networking = queue.get("Networking", {})
                found.update(_ids(networking.get("SecurityGroups")))
                found.update(_ids(networking.get("AdditionalSecurityGroups")))
    for _, props in view.of_type("AWS::EC2::LaunchTemplate"):
        data = props.get("LaunchTemplateData", {})
        for nic in as_list(data.get("NetworkInterfaces")):
            if str(nic.get("InterfaceType", "")).startswith("efa"):
                found.update(_ids(nic.get("Groups")))
    for _, props in view.of_type("AWS::FSx::FileSystem"):
        if props.get("LustreConfiguration", {}).get("EfaEnabled") is True:
            found.update(_ids(props.get("SecurityGroupIds")))
    for sg_id, props in view.of_type(_SECURITY_GROUP):
        labels = [str(props.get("GroupDescription", "")), str(props.get("GroupName", ""))]
        labels += [
            str(t.get("Value", "")) for t in as_list(props.get("Tags")) if t.get("Key") == "Name"
        ]
        declared = any(_EFA_LABEL.search(label) for label in labels)
        if declared or _self_rules(view, sg_id, "Ingress") or _self_rules(view, sg_id, "Egress"):
            found.add(sg_id)
    return {sg for sg in found if sg is not None and view.type_of(sg) == _SECURITY_GROUP}


def _check_efa_self_rules(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for sg_id in sorted(efa_security_groups(view)):
        missing = [d.lower() for d in ("Ingress", "Egress") if not _self_rules(view, sg_id, d)]
        if missing:
            findings.append(
                (
                    sg_id,
                    "EFA security group lacks an all-traffic rule referencing itself for "
                    + " and ".join(missing)
                    + "; EFA traffic is dropped without both.",
                    "Properties/SecurityGroup" + ("Egress" if "egress" in missing else "Ingress"),
                )
            )
    return findings


EFA_RULES = [
    Rule(
        rule_id="LLM-EFA1",
        description="EFA security groups allow all traffic to and from themselves.",
        severity=Severity.ERROR,
        why="EFA's OS-bypass traffic is only delivered between interfaces whose security groups "
        "allow all protocols in both directions with the group itself as the peer. A "
        "0.0.0.0/0 egress rule does not carry it; NCCL or Neuron collectives then hang or fall "
        "back to TCP at a fraction of the bandwidth.",
        fix="Add an ingress rule and an egress rule with protocol -1 (all traffic) whose peer "
        "is the security group itself (TrainingNetwork does this for its EFA group).",
        check=_check_efa_self_rules,
    )
]
