"""Deploy-time contract of the ``neuron-pretrain`` job template of ClusterTrainingRun on
Slurm: the cluster the run controller submits to must give its compute nodes the pre-training
framework the template runs (``neuronx-distributed``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import pairwise
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list

_PCLUSTER_TYPES = ("Custom::PclusterCluster", "AWS::CloudFormation::CustomResource")
FRAMEWORK_DISTRIBUTION = "neuronx-distributed"


def _node_actions(queue: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    action = queue.get("CustomActions", {}).get("OnNodeConfigured")
    if not isinstance(action, Mapping):
        return
    if "Sequence" in action:
        yield from (a for a in as_list(action.get("Sequence")) if isinstance(a, Mapping))
    else:
        yield action


def _installs_framework(queue: Mapping[str, Any]) -> bool:
    for action in _node_actions(queue):
        args = [str(arg) for arg in as_list(action.get("Args"))]
        for flag, value in pairwise(args):
            name = value.split("==", 1)[0].lower().replace("_", "-")
            if flag == "--neuron-pip" and name == FRAMEWORK_DISTRIBUTION:
                return True
    return False


def _template_controllers(view: TemplateView) -> Iterator[tuple[str, str]]:
    """(function logical ID, cluster name) of every run controller that offers the
    template (a non-empty ``NEURON_PRETRAIN`` variable)."""
    for function_id, props in view.of_type("AWS::Lambda::Function"):
        variables = props.get("Environment", {}).get("Variables", {})
        if not isinstance(variables, Mapping):
            continue
        offered = variables.get("NEURON_PRETRAIN")
        cluster = variables.get("CLUSTER_NAME")
        if isinstance(offered, str) and offered and isinstance(cluster, str):
            yield function_id, cluster


def _check_framework_on_nodes(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for function_id, cluster_name in _template_controllers(view):
        for cluster_id, props in view.of_type(*_PCLUSTER_TYPES):
            config = props.get("ClusterConfiguration")
            if props.get("ClusterName") != cluster_name or not isinstance(config, Mapping):
                continue
            if config.get("Image", {}).get("CustomAmi"):
                continue  # a Neuron AMI is expected to hold the framework
            for queue in as_list(config.get("Scheduling", {}).get("SlurmQueues")):
                if isinstance(queue, Mapping) and not _installs_framework(queue):
                    findings.append(
                        (
                            function_id,
                            f"the run controller offers the neuron-pretrain template on "
                            f"cluster {cluster_name!r}, but queue {queue.get('Name')!r} "
                            f"({cluster_id}) installs no {FRAMEWORK_DISTRIBUTION} on its "
                            "nodes and uses no custom AMI; the template's runs would fail "
                            "to import it.",
                            "Properties/Environment/Variables/NEURON_PRETRAIN",
                        )
                    )
    return findings


NEURON_PRETRAIN_RULES: tuple[Rule, ...] = (
    Rule(
        "LLM-NEURON1",
        "Slurm run controller offering the neuron-pretrain template on a ParallelCluster "
        "whose nodes do not get neuronx-distributed (AWS Neuron documentation, 'NeuronX "
        "Distributed Setup'; AWS ParallelCluster User Guide, 'Custom bootstrap actions').",
        Severity.WARNING,
        "The template runs the NxD Core Llama example, which imports neuronx_distributed from "
        "the nodes' Neuron environment; the Neuron setup installs it with pip into that "
        "environment, which the cluster's OnNodeConfigured action does (or a Neuron AMI).",
        "Keep install_pretrain_framework on (the Neuron install script then gets "
        "--neuron-pip neuronx-distributed==<version>), or use a custom AMI that holds the "
        "framework.",
        _check_framework_on_nodes,
    ),
)
