"""Permissions-boundary rules: a boundary on some roles of a template must be on all of them,
ParallelCluster's roles (its cluster configuration's ``Iam.PermissionsBoundary``) included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView


def _check_every_role_bounded(view: TemplateView) -> list[tuple[str, str, str]]:
    roles = list(view.of_type("AWS::IAM::Role"))
    bounded = [logical_id for logical_id, props in roles if props.get("PermissionsBoundary")]
    if not bounded:
        return []
    findings = [
        (
            logical_id,
            f"role has no PermissionsBoundary while {len(bounded)} other role(s) of the "
            f"template have one (e.g. {bounded[0]}); where the boundary is required "
            "(an SCP or IAM condition on iam:PermissionsBoundary), creating it is denied.",
            "Properties/PermissionsBoundary",
        )
        for logical_id, props in roles
        if not props.get("PermissionsBoundary")
    ]
    for logical_id, props in view.of_type("Custom::PclusterCluster"):
        config = props.get("ClusterConfiguration")
        iam: Any = config.get("Iam") if isinstance(config, Mapping) else None
        if not (isinstance(iam, Mapping) and iam.get("PermissionsBoundary")):
            findings.append(
                (
                    logical_id,
                    "the roles ParallelCluster creates (head node, compute nodes, its Lambda "
                    "functions) get no permissions boundary: ClusterConfiguration.Iam."
                    "PermissionsBoundary is unset while the template's roles have one.",
                    "Properties/ClusterConfiguration/Iam/PermissionsBoundary",
                )
            )
    return findings


BOUNDARY_RULES: tuple[Rule, ...] = (
    Rule(
        "LLM-PB1",
        "A permissions boundary on some roles of a stack is on every role, ParallelCluster's "
        "roles included (IAM User Guide: Permissions boundaries for IAM entities; AWS "
        "ParallelCluster User Guide: Iam section).",
        Severity.ERROR,
        "A boundary that misses a role leaves that role unbounded, and where the boundary is "
        "mandatory its creation is denied mid-deploy; ParallelCluster creates its roles "
        "outside the template, so only its Iam.PermissionsBoundary reaches them.",
        "Apply the boundary to the whole stack with apply_permissions_boundary(stack, policy) "
        "(or the tier config's permissions_boundary), which also sets "
        "ClusterConfiguration.Iam.PermissionsBoundary.",
        _check_every_role_bounded,
    ),
)
