"""LLM-RCP1 (recipe RBAC release binding a group no access entry carries): a compliant and a
non-compliant raw CloudFormation fixture, and the ready medium tier passes."""

from __future__ import annotations

import copy
import json
from typing import Any

from aws_cdk.assertions import Template

from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.config import StackName
from cdk_llm_training.constructs.cluster_training_run.recipes import (
    RECIPE_RUNNER_GROUP,
    recipe_rbac_manifests,
)


def _findings(resources: dict[str, Any]) -> list[tuple[str, str]]:
    found = check_template({"Resources": resources}, [RULES_BY_ID["LLM-RCP1"]])
    return [(f.logical_id, f.location) for f in found]


ENTRY: dict[str, Any] = {
    "Type": "AWS::EKS::AccessEntry",
    "Properties": {
        "ClusterName": {"Ref": "Eks"},
        "PrincipalArn": {"Fn::GetAtt": ["ControllerRole", "Arn"]},
        "KubernetesGroups": [RECIPE_RUNNER_GROUP],
    },
}
RBAC: dict[str, Any] = {
    "Type": "Custom::TrainingRunRecipeRbac",
    "Properties": {
        "ServiceToken": {"Fn::GetAtt": ["ChartFunction", "Arn"]},
        "ClusterName": {"Ref": "Eks"},
        "Manifests": json.dumps(recipe_rbac_manifests("default")),
    },
}


def test_rcp1_bound_group_must_be_on_an_access_entry_of_the_cluster() -> None:
    assert not _findings({"Entry": ENTRY, "Rbac": RBAC})
    no_groups = copy.deepcopy(ENTRY)
    del no_groups["Properties"]["KubernetesGroups"]
    assert _findings({"Entry": no_groups, "Rbac": RBAC}) == [("Rbac", "Properties/Manifests")]
    other_cluster = copy.deepcopy(ENTRY)
    other_cluster["Properties"]["ClusterName"] = {"Ref": "OtherEks"}
    assert _findings({"Entry": other_cluster, "Rbac": RBAC}) == [("Rbac", "Properties/Manifests")]
    assert _findings({"Rbac": RBAC}) == [("Rbac", "Properties/Manifests")]


def test_ready_medium_tier_passes(tier_templates: dict[StackName, Template]) -> None:
    template = tier_templates[StackName.MEDIUM_FINE_TUNE].to_json()
    assert check_template(template, [RULES_BY_ID["LLM-RCP1"]]) == []
    kinds = [r["Type"] for r in template["Resources"].values()]
    assert kinds.count("Custom::TrainingRunRecipeRbac") == 1
