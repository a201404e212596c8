"""Scaling an instance group between 0 and its maximum changes only ``InstanceCount``.

Every count of the default medium tier (``gpu-workers`` 0..2) and of the large tier with
HyperPod (``gpu-workers`` 0..16) is synthesized in one process and diffed against the
template at count 0: the network, the file system, its data repository associations and the
HyperPod cluster's immutable properties must stay identical, or CloudFormation replaces them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import Stack
from cdk_support import new_app, normalized

from cdk_llm_training import LargePretrainStack, MediumFineTuneStack
from cdk_llm_training.config.hyperpod import InstanceGroupOptions
from cdk_llm_training.config.tiers import LargePretrainConfig, MediumFineTuneConfig

MEDIUM_MAX = 2
LARGE_MAX = 16


def _groups(count: int, maximum: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "system",
            "instance_type": "ml.m5.2xlarge",
            "instance_count": 1,
            "ebs_volume_size_gb": 100,
        },
        {
            "name": "gpu-workers",
            "instance_type": "ml.p5.48xlarge",
            "instance_count": count,
            "max_instance_count": maximum,
        },
    ]


def _differences(old: Any, new: Any, path: str = "") -> Iterator[str]:
    """Paths where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key not in old or key not in new:
                yield f"{path}/{key}"
            else:
                yield from _differences(old[key], new[key], f"{path}/{key}")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _differences(a, b, f"{path}/{index}")
    elif old != new:
        yield path


def _synth(stack_class: type[Stack], stack_name: str, config: Any) -> dict[str, Any]:
    """One app per count, the same stack name in each (tags and budget filters name it)."""
    app = new_app(nag=False)
    stack = stack_class(app, stack_name, config=config)  # type: ignore[call-arg]
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return normalized(template)


@pytest.fixture(scope="module")
def medium_templates() -> dict[int, dict[str, Any]]:
    return {
        count: _synth(
            MediumFineTuneStack,
            "MediumFineTuneStack",
            MediumFineTuneConfig.model_validate(
                {"hyperpod": {"instance_groups": _groups(count, MEDIUM_MAX)}}
            ),
        )
        for count in range(MEDIUM_MAX + 1)
    }


@pytest.fixture(scope="module")
def large_templates() -> dict[int, dict[str, Any]]:
    return {
        count: _synth(
            LargePretrainStack,
            "LargePretrainStack",
            LargePretrainConfig.model_validate(
                {"engine": "both", "hyperpod": {"instance_groups": _groups(count, LARGE_MAX)}}
            ),
        )
        for count in range(LARGE_MAX + 1)
    }


def _only_instance_count_changes(templates: dict[int, dict[str, Any]]) -> dict[int, list[str]]:
    base = templates[0]
    return {
        count: list(_differences(base, template))
        for count, template in templates.items()
        if count != 0
    }


def _instance_count_path(template: dict[str, Any]) -> str:
    (cluster_id,) = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SageMaker::Cluster"
    ]
    groups = template["Resources"][cluster_id]["Properties"]["InstanceGroups"]
    (index,) = [i for i, g in enumerate(groups) if g["InstanceGroupName"] == "gpu-workers"]
    return f"/Resources/{cluster_id}/Properties/InstanceGroups/{index}/InstanceCount"


def test_medium_every_count_changes_only_instance_count(
    medium_templates: dict[int, dict[str, Any]],
) -> None:
    expected = _instance_count_path(medium_templates[0])
    diffs = _only_instance_count_changes(medium_templates)
    assert len(diffs) == MEDIUM_MAX
    assert diffs == {count: [expected] for count in range(1, MEDIUM_MAX + 1)}


def test_large_every_count_changes_only_instance_count(
    large_templates: dict[int, dict[str, Any]],
) -> None:
    expected = _instance_count_path(large_templates[0])
    diffs = _only_instance_count_changes(large_templates)
    assert len(diffs) == LARGE_MAX
    assert diffs == {count: [expected] for count in range(1, LARGE_MAX + 1)}


def test_instance_count_is_the_scaled_value(medium_templates: dict[int, dict[str, Any]]) -> None:
    for count, template in medium_templates.items():
        path = _instance_count_path(template).strip("/").split("/")
        value: Any = template
        for part in path:
            value = value[int(part)] if isinstance(value, list) else value[part]
        assert value == count


def test_raising_the_maximum_is_what_moves_the_network() -> None:
    small = MediumFineTuneConfig.model_validate(
        {"hyperpod": {"instance_groups": _groups(0, MEDIUM_MAX)}}
    )
    bigger = MediumFineTuneConfig.model_validate({"hyperpod": {"instance_groups": _groups(0, 12)}})
    assert small.network.max_nodes == 1 + MEDIUM_MAX
    assert bigger.network.max_nodes == 13
    assert bigger.network.compute_prefix_length < small.network.compute_prefix_length


def test_count_above_the_maximum_is_rejected() -> None:
    with pytest.raises(ValueError, match="instance_count 3 exceeds max_instance_count 2"):
        InstanceGroupOptions(
            name="gpu-workers",
            instance_type="ml.p5.48xlarge",
            instance_count=3,
            max_instance_count=2,
        )


def test_subnet_that_cannot_hold_the_maximum_is_a_synth_error() -> None:
    with pytest.raises(ValueError, match="compute_subnet_prefix_length /24"):
        MediumFineTuneConfig.model_validate(
            {
                "network": {"compute_subnet_prefix_length": 24},
                "hyperpod": {"instance_groups": _groups(0, 8)},
            }
        )


def test_the_construct_checks_the_maximum_against_a_given_subnet() -> None:
    from aws_cdk import aws_ec2 as ec2

    from cdk_llm_training import HyperPodEksCluster
    from cdk_llm_training.config.hyperpod import HyperPodClusterOptions

    stack = Stack(new_app(nag=False), "Small")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=1,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(
                name="Compute", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
            )
        ],
    )
    options = HyperPodClusterOptions.model_validate({"instance_groups": _groups(0, 8)})
    with pytest.raises(ValueError, match="at max_instance_count"):
        HyperPodEksCluster(
            stack,
            "HyperPod",
            vpc=vpc,
            subnet=vpc.isolated_subnets[0],
            security_groups=[ec2.SecurityGroup(stack, "Efa", vpc=vpc)],
            options=options,
        )
