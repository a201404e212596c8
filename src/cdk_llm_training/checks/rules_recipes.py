"""Deploy-time contract of HyperPod recipe runs: the run controller's access entry joins the
Kubernetes group the recipe RBAC release binds (EKS access policies grant no custom
resources such as ``pytorchjobs.kubeflow.org``)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id

RECIPE_RBAC_TYPE = "Custom::TrainingRunRecipeRbac"


def _bound_groups(manifests: object) -> list[str]:
    """Group subjects of the RoleBindings in a ``Manifests`` property (a JSON string)."""
    if not isinstance(manifests, str):
        return []
    try:
        objects = json.loads(manifests)
    except json.JSONDecodeError:
        return []
    groups = []
    for item in objects if isinstance(objects, list) else []:
        if isinstance(item, Mapping) and item.get("kind") == "RoleBinding":
            for subject in as_list(item.get("subjects")):
                if isinstance(subject, Mapping) and subject.get("kind") == "Group":
                    groups.append(str(subject.get("name")))
    return groups


def _cluster_key(value: object) -> str:
    return referenced_id(value) or json.dumps(value, sort_keys=True)


def _check_recipe_groups(view: TemplateView) -> list[tuple[str, str, str]]:
    granted: dict[str, set[str]] = {}
    for _, entry in view.of_type("AWS::EKS::AccessEntry"):
        groups = {str(g) for g in as_list(entry.get("KubernetesGroups"))}
        granted.setdefault(_cluster_key(entry.get("ClusterName")), set()).update(groups)
    findings = []
    for logical_id, props in view.of_type(RECIPE_RBAC_TYPE):
        cluster = _cluster_key(props.get("ClusterName"))
        for group in _bound_groups(props.get("Manifests")):
            if group not in granted.get(cluster, set()):
                findings.append(
                    (
                        logical_id,
                        f"the release binds Kubernetes group {group!r}, but no access entry "
                        "of the same cluster lists it in KubernetesGroups: the run controller "
                        "gets no rights on pytorchjobs and every recipe run fails at submit.",
                        "Properties/Manifests",
                    )
                )
    return findings


RECIPE_RULES: tuple[Rule, ...] = (
    Rule(
        "LLM-RCP1",
        "Recipe RBAC release binding a Kubernetes group no EKS access entry carries (Amazon "
        "EKS User Guide, 'Review access policy permissions' and 'Create access entries': "
        "Kubernetes group names).",
        Severity.ERROR,
        "EKS access policies such as AmazonEKSEditPolicy grant only built-in resources; a "
        "principal reaches a custom resource (pytorchjobs.kubeflow.org) through Kubernetes "
        "RBAC bound to a group its access entry names.",
        "Add the group to the controller's AWS::EKS::AccessEntry KubernetesGroups "
        "(ClusterTrainingRun does so when recipes are on), or bind the group that entry has.",
        _check_recipe_groups,
    ),
)
