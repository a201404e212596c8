"""Permissions boundary: every role of every tier template, and ParallelCluster's own roles
through the cluster configuration's ``Iam`` section."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Annotations, Match, Template
from cdk_support import new_app, template_of
from pydantic import ValidationError

from cdk_llm_training.config import (
    AppConfig,
    PermissionsBoundaryOptions,
    StackName,
    parse_app_config,
)
from cdk_llm_training.constructs.permissions_boundary import PROVIDER_ROLE_WARNING
from cdk_llm_training.stacks import build_tier_stacks

BOUNDARY_ARN = "arn:aws:iam::123456789012:policy/TeamBoundary"


@pytest.fixture(scope="module")
def bounded_stacks() -> dict[StackName, Stack]:
    """All three tiers with a boundary; the large tier with both engines (HyperPod and
    ParallelCluster)."""
    boundary = {"policy": BOUNDARY_ARN, "parallel_cluster_resource_prefix": "/team-a/"}
    config = parse_app_config(
        {
            "small_lora": {"permissions_boundary": boundary},
            "medium_fine_tune": {"permissions_boundary": BOUNDARY_ARN},
            "large_pretrain": {"engine": "both", "permissions_boundary": boundary},
        }
    )
    return build_tier_stacks(new_app(), config)


@pytest.fixture(scope="module")
def bounded_templates(bounded_stacks: dict[StackName, Stack]) -> dict[StackName, Template]:
    return {name: template_of(stack) for name, stack in bounded_stacks.items()}


@pytest.mark.parametrize("stack", list(StackName))
def test_every_role_of_every_tier_carries_the_boundary(
    bounded_templates: dict[StackName, Template], stack: StackName
) -> None:
    roles = bounded_templates[stack].find_resources("AWS::IAM::Role")
    assert roles, f"{stack} has no roles"
    missing = [
        logical_id
        for logical_id, role in roles.items()
        if role["Properties"].get("PermissionsBoundary") != BOUNDARY_ARN
    ]
    assert missing == []


def test_parallel_cluster_config_carries_the_boundary_and_the_prefix(
    bounded_templates: dict[StackName, Template],
) -> None:
    clusters = bounded_templates[StackName.LARGE_PRETRAIN].find_resources("Custom::PclusterCluster")
    [cluster] = clusters.values()
    iam_section = cluster["Properties"]["ClusterConfiguration"]["Iam"]
    assert iam_section == {"PermissionsBoundary": BOUNDARY_ARN, "ResourcePrefix": "/team-a/"}
    # The head node's and queues' own Iam sections are untouched.
    config = cluster["Properties"]["ClusterConfiguration"]
    assert "AdditionalIamPolicies" in config["HeadNode"]["Iam"]


def test_the_provider_role_outside_the_boundary_is_a_warning(
    bounded_stacks: dict[StackName, Stack],
) -> None:
    warnings = Annotations.from_stack(bounded_stacks[StackName.LARGE_PRETRAIN]).find_warning(
        "*", Match.string_like_regexp("ParallelCluster provider's Lambda role")
    )
    assert len(warnings) == 1
    assert PROVIDER_ROLE_WARNING in str(warnings[0].entry.data)


def test_without_the_option_no_role_has_a_boundary(
    tier_templates: dict[StackName, Template],
) -> None:
    for template in tier_templates.values():
        for role in template.find_resources("AWS::IAM::Role").values():
            assert "PermissionsBoundary" not in role["Properties"]
        for cluster in template.find_resources("Custom::PclusterCluster").values():
            assert "Iam" not in cluster["Properties"]["ClusterConfiguration"]


def test_a_policy_name_resolves_in_the_stack_account() -> None:
    from cdk_llm_training.stacks import SmallLoRAStack

    config = parse_app_config({"small_lora": {"permissions_boundary": "team/TeamBoundary"}})
    stack = SmallLoRAStack(new_app(nag=False), "Named", config=config.small_lora)
    roles = Template.from_stack(stack).find_resources("AWS::IAM::Role")
    boundaries: set[str] = {
        repr(role["Properties"]["PermissionsBoundary"]) for role in roles.values()
    }
    [boundary] = boundaries
    assert ":policy/team/TeamBoundary" in boundary
    assert "AWS::AccountId" in boundary


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"policy": "arn:aws:s3:::bucket"}, "is not a managed policy ARN"),
        ({"policy": "bad name!"}, "is not a managed policy name"),
        (
            {"policy": "TeamBoundary", "parallel_cluster_resource_prefix": "/my-prefix"},
            "parallel_cluster_resource_prefix '/my-prefix' is not valid",
        ),
    ],
)
def test_invalid_boundaries_name_the_field(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PermissionsBoundaryOptions.model_validate(value)


def test_a_string_is_the_policy() -> None:
    config = AppConfig.model_validate({"medium_fine_tune": {"permissions_boundary": "TB"}})
    assert config.medium_fine_tune.permissions_boundary == PermissionsBoundaryOptions(policy="TB")


_SCHEMA_CHECK = """
import json, os, sys
os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="offline",
                  AWS_SECRET_ACCESS_KEY="offline", AWS_EC2_METADATA_DISABLED="true",
                  AWS_ENDPOINT_URL="http://127.0.0.1:9")
from pcluster.aws.aws_api import AWSApi
from pcluster.schemas.cluster_schema import ClusterSchema
from pcluster_cases import CASES, sample_configuration
AWSApi.instance().ec2.describe_capacity_reservations = lambda ids: []
config = sample_configuration("defaults")
config["Iam"] = json.load(sys.stdin)
cluster = ClusterSchema(cluster_name=CASES["defaults"].cluster_name).load(config)
print(json.dumps([cluster.iam.permissions_boundary, cluster.iam.resource_prefix]))
"""


def test_the_iam_section_loads_with_the_official_parallelcluster_schema(
    bounded_templates: dict[StackName, Template],
) -> None:
    """The section the aspect writes, loaded by aws-parallelcluster's own ClusterSchema (the
    separate ParallelCluster environment that `make test` creates)."""
    import json
    import subprocess

    from cdk_support import REPO_ROOT

    python = REPO_ROOT / ".venv-pcluster" / "bin" / "python"
    if not python.exists():
        pytest.skip("the ParallelCluster environment (.venv-pcluster) is not set up")
    [cluster] = (
        bounded_templates[StackName.LARGE_PRETRAIN]
        .find_resources("Custom::PclusterCluster")
        .values()
    )
    section = cluster["Properties"]["ClusterConfiguration"]["Iam"]
    result = subprocess.run(
        [str(python), "-c", _SCHEMA_CHECK],
        input=json.dumps(section),
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": "src:tests", "PATH": "/usr/bin:/bin"},
        cwd=str(REPO_ROOT),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [BOUNDARY_ARN, "/team-a/"]
