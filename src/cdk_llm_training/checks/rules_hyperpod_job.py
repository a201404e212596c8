"""Deploy-time contract of recipe runs that render the HyperPod training operator's job: a
run controller that creates ``HyperPodPyTorchJob`` objects needs the operator's add-on (and
its CRD) on the same cluster, or every recipe run fails at submit."""

from __future__ import annotations

import json
from collections.abc import Mapping

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, referenced_id

TRAINING_OPERATOR_ADDON = "amazon-sagemaker-hyperpod-training-operator"
JOB_KIND_VARIABLE = "RECIPE_JOB_KIND"
HYPERPOD_JOB_KIND = "HyperPodPyTorchJob"


def _cluster_key(value: object) -> str:
    return referenced_id(value) or json.dumps(value, sort_keys=True)


def _check_operator_addon(view: TemplateView) -> list[tuple[str, str, str]]:
    with_operator = {
        _cluster_key(props.get("ClusterName"))
        for _, props in view.of_type("AWS::EKS::Addon")
        if props.get("AddonName") == TRAINING_OPERATOR_ADDON
    }
    findings = []
    for logical_id, props in view.of_type("AWS::Lambda::Function"):
        environment = props.get("Environment")
        variables = environment.get("Variables") if isinstance(environment, Mapping) else None
        if not isinstance(variables, Mapping):
            continue
        if variables.get(JOB_KIND_VARIABLE) != HYPERPOD_JOB_KIND:
            continue
        if _cluster_key(variables.get("CLUSTER_NAME")) not in with_operator:
            findings.append(
                (
                    logical_id,
                    f"the function renders {HYPERPOD_JOB_KIND} ({JOB_KIND_VARIABLE}), but no "
                    f"AWS::EKS::Addon {TRAINING_OPERATOR_ADDON} is on the cluster its "
                    "CLUSTER_NAME names: the API server has no hyperpodpytorchjobs resource "
                    "and every recipe run fails at submit.",
                    f"Properties/Environment/Variables/{JOB_KIND_VARIABLE}",
                )
            )
    return findings


HYPERPOD_JOB_RULES: tuple[Rule, ...] = (
    Rule(
        "LLM-RCP2",
        "Recipe run controller rendering HyperPodPyTorchJob on a cluster without the HyperPod "
        "training operator add-on (Amazon SageMaker AI Developer Guide, 'Installing the "
        "training operator').",
        Severity.ERROR,
        "HyperPodPyTorchJob (sagemaker.amazonaws.com/v1) is a custom resource the "
        "amazon-sagemaker-hyperpod-training-operator add-on installs; without it the "
        "controller's create calls find no such resource.",
        "Turn on hyperpod.addons.training_operator (ClusterTrainingRun then renders "
        "HyperPodPyTorchJob), or leave RECIPE_JOB_KIND unset so the controller renders "
        "Kubeflow PyTorchJob.",
        _check_operator_addon,
    ),
)
