"""LLM-NEURON1 (a Slurm run controller offering neuron-pretrain on a cluster whose nodes do
not get neuronx-distributed): compliant and non-compliant raw CloudFormation fixtures."""

from __future__ import annotations

import copy
from typing import Any

from cdk_llm_training.checks import RULES_BY_ID, check_template

INSTALL_ARGS = ["--release", "2.31.0", "--neuron-pip", "neuronx-distributed==0.19.28492"]


def _function(offered: str = '{"release": "2.31.0"}') -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Environment": {"Variables": {"CLUSTER_NAME": "pretrain", "NEURON_PRETRAIN": offered}}
        },
    }


def _cluster(args: list[str] | None, *, ami: str | None = None) -> dict[str, Any]:
    queue: dict[str, Any] = {"Name": "train", "ComputeResources": []}
    if args is not None:
        queue["CustomActions"] = {
            "OnNodeConfigured": {"Script": "s3://bucket/install_neuron.sh", "Args": args}
        }
    image: dict[str, Any] = {"Os": "ubuntu2404"}
    if ami:
        image["CustomAmi"] = ami
    return {
        "Type": "Custom::PclusterCluster",
        "Properties": {
            "ClusterName": "pretrain",
            "ClusterConfiguration": {"Image": image, "Scheduling": {"SlurmQueues": [queue]}},
        },
    }


def _findings(resources: dict[str, Any]) -> list[tuple[str, str]]:
    template = {"Resources": resources}
    rule = RULES_BY_ID["LLM-NEURON1"]
    return [(f.logical_id, f.location) for f in check_template(template, [rule])]


def test_neuron1_flags_a_cluster_without_the_framework() -> None:
    without = _cluster(["--release", "2.31.0", "--neuron-pip", "neuronx-cc==2.26.6360.0"])
    assert _findings({"Controller": _function(), "Cluster": without}) == [
        ("Controller", "Properties/Environment/Variables/NEURON_PRETRAIN")
    ]
    assert _findings({"Controller": _function(), "Cluster": _cluster(None)})


def test_neuron1_accepts_the_install_args_a_sequence_or_a_custom_ami() -> None:
    assert not _findings({"Controller": _function(), "Cluster": _cluster(INSTALL_ARGS)})
    sequenced = _cluster(None)
    queue = sequenced["Properties"]["ClusterConfiguration"]["Scheduling"]["SlurmQueues"][0]
    queue["CustomActions"] = {
        "OnNodeConfigured": {
            "Sequence": [
                {"Script": "s3://b/other.sh"},
                {"Script": "s3://b/n.sh", "Args": INSTALL_ARGS},
            ]
        }
    }
    assert not _findings({"Controller": _function(), "Cluster": sequenced})
    ami = _cluster(None, ami="ami-0123456789abcdef0")
    assert not _findings({"Controller": _function(), "Cluster": ami})


def test_neuron1_ignores_controllers_that_do_not_offer_the_template() -> None:
    assert not _findings({"Controller": _function(""), "Cluster": _cluster(None)})
    other = copy.deepcopy(_cluster(None))
    other["Properties"]["ClusterName"] = "another-cluster"
    assert not _findings({"Controller": _function(), "Cluster": other})
