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


@pytest.mark.parametrize("engine", ["emr-serverless"])
def test_small_lora_curation_engine_snapshot(engine: str, snapshot_json: SnapshotAssertion) -> None:
    """SmallLoRAStack with the curation workflow on a non-default engine (the processing
    engine's DataCuration is covered by the construct and workflow tests)."""
    from cdk_support import compliance_app

    from cdk_llm_training import SmallLoRAConfig, SmallLoRAStack

    config = SmallLoRAConfig.model_validate({"data_pipeline": {"curation": {"engine": engine}}})
    stack = SmallLoRAStack(compliance_app(), StackName.SMALL_LORA.value, config=config)
    assert normalized(Template.from_stack(stack).to_json()) == snapshot_json
