"""Rules for the SageMaker training jobs a state machine starts (``createTrainingJob``): what
CreateTrainingJob rejects and what a multi-node job needs from its network."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id
from cdk_llm_training.checks.render import render
from cdk_llm_training.checks.state_machines import named_states, parsed_definition

MAX_METRIC_DEFINITIONS = 40
"""AlgorithmSpecification.MetricDefinitions: at most 40 items (CreateTrainingJob)."""
MAX_METRIC_REGEX_LENGTH = 500
"""MetricDefinition.Regex: 1 to 500 characters (CreateTrainingJob)."""
_CREATE_TRAINING_JOB = "sagemaker:createTrainingJob"
_ALL_TRAFFIC = ("-1", "all")


def _training_jobs(view: TemplateView) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(state machine logical ID, state location, CreateTrainingJob parameters)."""
    for logical_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        definition = parsed_definition(props)
        for name, state in named_states(definition):
            resource = state.get("Resource")
            if not isinstance(resource, str) or ":states:::" not in resource:
                continue
            if not resource.split(":states:::", 1)[1].startswith(_CREATE_TRAINING_JOB):
                continue
            parameters = state.get("Parameters")
            if isinstance(parameters, Mapping):
                yield logical_id, f"Properties/DefinitionString/States/{name}", parameters


def _check_metric_definitions(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, location, parameters in _training_jobs(view):
        spec = parameters.get("AlgorithmSpecification") or {}
        definitions = as_list(spec.get("MetricDefinitions") if isinstance(spec, Mapping) else [])
        if len(definitions) > MAX_METRIC_DEFINITIONS:
            findings.append(
                (
                    logical_id,
                    f"a training job has {len(definitions)} metric definitions; "
                    f"CreateTrainingJob allows at most {MAX_METRIC_DEFINITIONS}.",
                    location,
                )
            )
        for definition in definitions:
            regex = (definition or {}).get("Regex", "") if isinstance(definition, Mapping) else ""
            if not 1 <= len(str(regex)) <= MAX_METRIC_REGEX_LENGTH:
                findings.append(
                    (
                        logical_id,
                        f"metric definition {(definition or {}).get('Name')!r} has a "
                        f"{len(str(regex))}-character regex; allowed: 1 to "
                        f"{MAX_METRIC_REGEX_LENGTH}.",
                        location,
                    )
                )
    return findings


def _group_id(text: str) -> str | None:
    """``SecurityGroup`` from ``${SecurityGroup.GroupId}`` (a group of this template)."""
    if text.startswith("${") and text.endswith(".GroupId}"):
        return text[2 : -len(".GroupId}")]
    return None


def _rules(view: TemplateView, group: str, key: str) -> list[Mapping[str, Any]]:
    """Inline rules (``key``: SecurityGroupIngress / Egress) and standalone ones of ``group``."""
    rules = [r for r in as_list(view.properties(group).get(key)) if isinstance(r, Mapping)]
    resource_type = f"AWS::EC2::{key}"
    for _, props in view.of_type(resource_type):
        if referenced_id(props.get("GroupId")) == group:
            rules.append(props)
    return rules


def _all_traffic_from_itself(rule: Mapping[str, Any], group: str, peer_key: str) -> bool:
    return (
        str(rule.get("IpProtocol")) in _ALL_TRAFFIC and referenced_id(rule.get(peer_key)) == group
    )


def _all_outbound(rule: Mapping[str, Any], group: str) -> bool:
    if str(rule.get("IpProtocol")) not in _ALL_TRAFFIC:
        return False
    return rule.get("CidrIp") == "0.0.0.0/0" or _all_traffic_from_itself(
        rule, group, "DestinationSecurityGroupId"
    )


def _check_multi_node_network(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, location, parameters in _training_jobs(view):
        resources = parameters.get("ResourceConfig") or {}
        count = resources.get("InstanceCount", 1) if isinstance(resources, Mapping) else 1
        vpc = parameters.get("VpcConfig")
        if not isinstance(count, int) or count <= 1 or not isinstance(vpc, Mapping):
            continue
        for text in as_list(vpc.get("SecurityGroupIds")):
            group = _group_id(render(text))
            if group is None or view.type_of(group) != "AWS::EC2::SecurityGroup":
                continue  # a group from outside the template: not checkable here
            ingress = _rules(view, group, "SecurityGroupIngress")
            egress = _rules(view, group, "SecurityGroupEgress")
            if not any(
                _all_traffic_from_itself(r, group, "SourceSecurityGroupId") for r in ingress
            ):
                findings.append(
                    (
                        logical_id,
                        f"a training job runs {count} instances in security group {group}, "
                        "which does not allow all inbound traffic from itself: the nodes "
                        "cannot reach each other (NCCL, EFA).",
                        location,
                    )
                )
            elif egress and not any(_all_outbound(r, group) for r in egress):
                findings.append(
                    (
                        logical_id,
                        f"a training job runs {count} instances in security group {group}, "
                        "which does not allow all outbound traffic to itself.",
                        location,
                    )
                )
    return findings


TRAINING_JOB_RULES = [
    Rule(
        "LLM-SMJ1",
        "A training job started by a state machine has at most 40 metric definitions, each "
        "regex 1 to 500 characters (SageMaker API reference, CreateTrainingJob, "
        "AlgorithmSpecification.MetricDefinitions and MetricDefinition).",
        Severity.ERROR,
        "CreateTrainingJob rejects the request at run time, after the workflow has validated "
        "the dataset: the execution fails without training.",
        "Keep at most 40 metric definitions with regexes of at most 500 characters.",
        _check_metric_definitions,
    ),
    Rule(
        "LLM-SMJ2",
        "A multi-instance training job in a VPC uses security groups that allow all traffic "
        "within themselves (SageMaker AI developer guide, Launching distributed training "
        "jobs with SMDDP using the SageMaker Python SDK: EFA-enabled instances need a "
        "security group allowing all inbound and outbound traffic to and from itself).",
        Severity.ERROR,
        "The instances of one job exchange gradients directly (NCCL over TCP or EFA); a "
        "group that blocks them leaves the job hanging at its first collective until its "
        "time limit, billed all along.",
        "Add an ingress rule for all traffic (IpProtocol -1) from the group itself, and allow "
        "all outbound traffic (or all traffic to itself). SageMakerFineTuneJob does this for "
        "the group it creates when instance_count is above 1.",
        _check_multi_node_network,
    ),
]
