"""The evidence SageMakerFineTuneJob attaches to a model package: within the API's limits."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match
from cdk_support import new_stack

from cdk_llm_training import SageMakerFineTuneJob, SageMakerFineTuneOptions, TrainingDataLake
from cdk_llm_training.config.sagemaker_fine_tune_job import SCRIPT_HYPERPARAMETERS
from cdk_llm_training.config.task_metrics_evaluation import TaskMetricsOptions
from cdk_llm_training.constructs.fine_tune.sagemaker_evidence import (
    MAX_METADATA_ENTRIES,
    SKIPPED_HYPERPARAMETER_WARNING,
    is_metadata_text,
    model_metrics,
    package_evidence,
)


def _job(options: SageMakerFineTuneOptions) -> SageMakerFineTuneJob:
    stack = new_stack(nag=False)
    return SageMakerFineTuneJob(
        stack, "Lora", data_lake=TrainingDataLake(stack, "Lake"), options=options
    )


def test_ungated_package_says_not_evaluated_and_lists_the_run() -> None:
    job = _job(SageMakerFineTuneOptions(hyperparameters={"epochs": 3, "learning_rate": 2e-4}))
    metadata = package_evidence(job)
    assert metadata["evaluationVerdict"] == "not evaluated"
    assert "evaluationReport.$" not in metadata
    assert metadata["hp.epochs"] == "3"
    assert metadata["hp.learning_rate"] == "0.0002"
    assert metadata["instanceType"] == "ml.g5.2xlarge"
    assert metadata["managedSpot"] == "true"
    assert metadata["datasetReport.$"] == "$.validation.reportS3Uri"
    assert model_metrics(job) is None
    for key, value in metadata.items():
        assert is_metadata_text(key.removesuffix(".$"), 128)
        if not key.endswith(".$") and key != "baseModel":  # baseModel: a bucket token
            assert is_metadata_text(value, 256), (key, value)


def test_gated_package_points_at_the_report_it_passed() -> None:
    job = _job(
        SageMakerFineTuneOptions(evaluation=TaskMetricsOptions(min_scores={"token_f1": 0.5}))
    )
    metadata = package_evidence(job)
    assert metadata["evaluationVerdict"] == "passed"
    report = metadata["evaluationReport.$"]
    assert report.startswith("States.Format('s3://")
    assert report.endswith("/report.json', $$.Execution.Name)")
    metrics = model_metrics(job)
    assert metrics == {
        "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri.$": report}}
    }


def test_a_hyperparameter_the_api_rejects_is_left_out_with_a_warning() -> None:
    job = _job(SageMakerFineTuneOptions(hyperparameters={"target_modules": "q_proj,v_proj"}))
    metadata = package_evidence(job)
    assert "hp.target_modules" not in metadata
    Annotations.from_stack(job.node.scope).has_warning(  # type: ignore[arg-type]
        "/TestStack/Lora", Match.string_like_regexp("hyperparameters\\['target_modules'\\]")
    )
    assert SKIPPED_HYPERPARAMETER_WARNING.startswith("cdk-llm-training/")


def test_every_script_hyperparameter_fits_with_room_for_promotion() -> None:
    every: dict[str, str | int | float | bool] = dict.fromkeys(SCRIPT_HYPERPARAMETERS, 1)
    job = _job(
        SageMakerFineTuneOptions(
            hyperparameters=every,
            evaluation=TaskMetricsOptions(min_scores={"token_f1": 0.5}),
            base_model_prefix=None,
            base_model_id="meta-llama/Llama-3.1-8B-Instruct",
        )
    )
    metadata = package_evidence(job)
    assert all(f"hp.{name}" in metadata for name in SCRIPT_HYPERPARAMETERS)
    assert len(metadata) <= MAX_METADATA_ENTRIES - 1


@pytest.mark.parametrize(
    ("text", "ok"),
    [("s3://bucket/key/x.json", True), ("a,b", False), ("", False), ("x" * 257, False)],
)
def test_metadata_text_follows_the_api_pattern(text: str, ok: bool) -> None:
    assert is_metadata_text(text, 256) is ok
