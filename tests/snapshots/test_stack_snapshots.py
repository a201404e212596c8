"""One snapshot per tier stack (LargePretrainStack once per engine), on a normalized template
(no bootstrap rule, no asset hashes).

Update after an intended change with `make snapshot-update`, and review the diff."""

import pytest
from aws_cdk.assertions import Template
from cdk_support import normalized
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from cdk_llm_training.config import LargeEngine, StackName


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack_name", list(StackName))
def test_stack_template_snapshot(
    stack_name: StackName,
    tier_templates: dict[StackName, Template],
    snapshot_json: SnapshotAssertion,
) -> None:
    assert normalized(tier_templates[stack_name].to_json()) == snapshot_json


@pytest.mark.parametrize("engine", [LargeEngine.NVIDIA, LargeEngine.BOTH])
def test_large_pretrain_engine_snapshot(
    engine: LargeEngine,
    large_templates: dict[LargeEngine, Template],
    snapshot_json: SnapshotAssertion,
) -> None:
    assert normalized(large_templates[engine].to_json()) == snapshot_json
