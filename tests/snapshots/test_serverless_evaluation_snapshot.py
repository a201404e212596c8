"""SmallLoRAStack with SageMaker serverless customization and its evaluation gate (benchmarks
and an LLM-as-a-judge) on: one snapshot of the normalized template.

Update after an intended change with `make snapshot-update`, and review the diff."""

from aws_cdk.assertions import Template
from cdk_support import new_app, normalized
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from cdk_llm_training import SmallLoRAStack
from cdk_llm_training.config import parse_app_config

CONFIG = {
    "small_lora": {
        "sagemaker_serverless": {
            "base_model_arn": "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/"
            "Model/huggingface-reasoning-qwen3-8b",
            "evaluation": {
                "benchmarks": ["mmlu", "ifeval"],
                "subtasks": {"mmlu": ["anatomy"]},
                "judge": {"dataset_key": "serverless/judge/prompts.jsonl"},
                "thresholds": {"min_scores": {"mmlu/accuracy": 0.55}},
            },
        }
    }
}


def test_small_stack_with_serverless_evaluation_snapshot(snapshot: SnapshotAssertion) -> None:
    config = parse_app_config(CONFIG).small_lora
    stack = SmallLoRAStack(new_app(), "SmallLoRAStack", config=config)
    template = Template.from_stack(stack).to_json()
    assert normalized(template) == snapshot.use_extension(JSONSnapshotExtension)
