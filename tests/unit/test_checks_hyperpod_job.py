"""LLM-RCP2 (recipe controller rendering HyperPodPyTorchJob on a cluster without the HyperPod
training operator add-on): a compliant and a non-compliant raw CloudFormation fixture."""

from __future__ import annotations

import copy
from typing import Any

from cdk_llm_training.checks import RULES_BY_ID, check_template

ADDON: dict[str, Any] = {
    "Type": "AWS::EKS::Addon",
    "Properties": {
        "AddonName": "amazon-sagemaker-hyperpod-training-operator",
        "ClusterName": {"Ref": "Eks"},
    },
}
CONTROLLER: dict[str, Any] = {
    "Type": "AWS::Lambda::Function",
    "Properties": {
        "Handler": "cluster_run.handler",
        "Environment": {
            "Variables": {"CLUSTER_NAME": {"Ref": "Eks"}, "RECIPE_JOB_KIND": "HyperPodPyTorchJob"}
        },
    },
}


def _findings(resources: dict[str, Any]) -> list[tuple[str, str]]:
    found = check_template({"Resources": resources}, [RULES_BY_ID["LLM-RCP2"]])
    return [(f.logical_id, f.location) for f in found]


def test_rcp2_hyperpod_job_needs_the_operator_add_on_of_the_same_cluster() -> None:
    where = ("Controller", "Properties/Environment/Variables/RECIPE_JOB_KIND")
    assert _findings({"Addon": ADDON, "Controller": CONTROLLER}) == []
    assert _findings({"Controller": CONTROLLER}) == [where]
    other_addon = copy.deepcopy(ADDON)
    other_addon["Properties"]["AddonName"] = "cert-manager"
    assert _findings({"Addon": other_addon, "Controller": CONTROLLER}) == [where]
    other_cluster = copy.deepcopy(ADDON)
    other_cluster["Properties"]["ClusterName"] = {"Ref": "OtherEks"}
    assert _findings({"Addon": other_cluster, "Controller": CONTROLLER}) == [where]


def test_rcp2_ignores_controllers_that_render_pytorchjob() -> None:
    kubeflow = copy.deepcopy(CONTROLLER)
    del kubeflow["Properties"]["Environment"]["Variables"]["RECIPE_JOB_KIND"]
    assert _findings({"Controller": kubeflow}) == []
    no_environment = copy.deepcopy(CONTROLLER)
    del no_environment["Properties"]["Environment"]
    assert _findings({"Controller": no_environment}) == []
