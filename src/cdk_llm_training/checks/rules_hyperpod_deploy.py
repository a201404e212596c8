"""Deploy-time contracts of SageMaker HyperPod on EKS: node access through Session Manager
and the dependency chart installed before the HyperPod cluster."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id

_CLUSTER = "AWS::SageMaker::Cluster"
_INSTANCE_ROLE_POLICY = "AmazonSageMakerClusterInstanceRolePolicy"
SSM_MESSAGES_ACTIONS = frozenset(
    {
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    }
)
"""The Session Manager actions of AmazonSageMakerClusterInstanceRolePolicy."""


def _role_statements(view: TemplateView, role_id: str) -> Iterator[Mapping[str, Any]]:
    """Allow statements of the role's inline policies and of policies attached to it."""
    documents = [
        policy.get("PolicyDocument", {})
        for policy in as_list(view.properties(role_id).get("Policies"))
        if isinstance(policy, Mapping)
    ]
    for _, props in view.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        if role_id in [referenced_id(role) for role in as_list(props.get("Roles"))]:
            documents.append(props.get("PolicyDocument", {}))
    for document in documents:
        for statement in as_list(document.get("Statement")):
            if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
                yield statement


def _allowed(actions: set[str], granted: list[str]) -> set[str]:
    """The members of ``actions`` that ``granted`` (with ``*`` wildcards) covers."""
    covered = set()
    for action in actions:
        service = action.split(":", 1)[0]
        for grant in granted:
            if grant in ("*", f"{service}:*", action) or (
                grant.endswith("*") and action.startswith(grant[:-1])
            ):
                covered.add(action)
    return covered


def _check_ssm_messages(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for cluster_id, props in view.of_type(_CLUSTER):
        for index, group in enumerate(as_list(props.get("InstanceGroups"))):
            role_id = referenced_id(group.get("ExecutionRole"))
            if role_id is None or view.type_of(role_id) != "AWS::IAM::Role":
                continue  # a role from outside the template: nothing to read
            managed = json.dumps(view.properties(role_id).get("ManagedPolicyArns", []))
            if _INSTANCE_ROLE_POLICY in managed:
                continue
            granted = [
                str(action)
                for statement in _role_statements(view, role_id)
                for action in as_list(statement.get("Action"))
            ]
            missing = sorted(SSM_MESSAGES_ACTIONS - _allowed(set(SSM_MESSAGES_ACTIONS), granted))
            if missing:
                findings.append(
                    (
                        cluster_id,
                        f"instance group '{group.get('InstanceGroupName')}': execution role "
                        f"{role_id} has neither {_INSTANCE_ROLE_POLICY} nor {', '.join(missing)}"
                        "; Session Manager cannot reach its nodes.",
                        f"Properties/InstanceGroups/{index}/ExecutionRole",
                    )
                )
    return findings


def _eks_cluster_id(view: TemplateView, props: Mapping[str, Any]) -> str | None:
    arn = props.get("Orchestrator", {}).get("Eks", {}).get("ClusterArn")
    cluster_id = referenced_id(arn)
    return cluster_id if view.type_of(cluster_id) == "AWS::EKS::Cluster" else None


def _installs_on(view: TemplateView, resource_id: str, eks_id: str) -> bool:
    """Whether ``resource_id`` is a custom resource whose properties name the EKS cluster."""
    resource_type = view.type_of(resource_id) or ""
    if not (
        resource_type.startswith("Custom::")
        or resource_type == "AWS::CloudFormation::CustomResource"
    ):
        return False
    text = json.dumps(view.properties(resource_id))
    return f'"Ref": "{eks_id}"' in text or f'"{eks_id}"' in text


def _check_dependency_install(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for cluster_id, props in view.of_type(_CLUSTER):
        eks_id = _eks_cluster_id(view, props)
        if eks_id is None:
            continue  # an existing EKS cluster: its chart is installed outside this template
        depends_on = as_list(view.resources[cluster_id].get("DependsOn"))
        if not any(_installs_on(view, str(dep), eks_id) for dep in depends_on):
            findings.append(
                (
                    cluster_id,
                    f"the HyperPod cluster orchestrated by {eks_id} (created in this template) "
                    "does not depend on a resource that installs the HyperPod dependency Helm "
                    "chart on that EKS cluster; the chart must be there before the cluster "
                    "is created.",
                    "DependsOn",
                )
            )
    return findings


HYPERPOD_DEPLOY_RULES: tuple[Rule, ...] = (
    Rule(
        "LLM-HP6",
        "HyperPod execution role without SSM messages (AWS managed policy "
        "AmazonSageMakerClusterInstanceRolePolicy, SageMaker AI Developer Guide).",
        Severity.ERROR,
        "HyperPod nodes are reached through Session Manager; the instance role needs the "
        "ssmmessages Create/Open Control/Data Channel actions that "
        "AmazonSageMakerClusterInstanceRolePolicy grants. A custom role that replaces the "
        "managed policy without them leaves the nodes unreachable.",
        "Attach AmazonSageMakerClusterInstanceRolePolicy, or allow ssmmessages:"
        "CreateControlChannel, CreateDataChannel, OpenControlChannel and OpenDataChannel on * "
        "in the execution role.",
        _check_ssm_messages,
    ),
    Rule(
        "LLM-HP7",
        "HyperPod cluster on a new EKS cluster without the dependency chart installed first "
        "(SageMaker AI Developer Guide, 'Installing packages on the Amazon EKS cluster using "
        "Helm').",
        Severity.WARNING,
        "HyperPod on EKS needs the HyperPod dependency Helm chart (device plugins, "
        "health-monitoring agent, training operators) on the EKS cluster before the HyperPod "
        "cluster is created; a template that creates the EKS cluster must install it itself.",
        "Add a custom resource that installs the chart on the EKS cluster (HyperPodEksCluster "
        "does) and make the AWS::SageMaker::Cluster depend on it.",
        _check_dependency_install,
    ),
)
