"""ClusterRunOptions ``evaluation`` and ``registry_group_name``: defaults off, the evaluation
reads the model folder under ``checkpoint_prefix``, and what the options refuse."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cdk_llm_training.config.cluster_training_run import MODEL_FOLDER, ClusterRunOptions
from cdk_llm_training.config.task_metrics_evaluation import TaskMetricsOptions


def test_both_are_off_by_default() -> None:
    options = ClusterRunOptions()
    assert options.registry_group_name is None
    assert options.evaluation is None
    assert options.task_metrics_options() is None
    assert MODEL_FOLDER == "model/"


def test_evaluation_reads_the_checkpoint_prefix_and_generates_predictions() -> None:
    options = ClusterRunOptions(
        checkpoint_prefix="runs/ckpt/",
        evaluation=TaskMetricsOptions(min_scores={"rouge_l": 0.3}),
    )
    resolved = options.task_metrics_options()
    assert resolved is not None
    assert resolved.predictions_prefix == "runs/ckpt/"
    assert resolved.generate_predictions is True
    assert resolved.min_scores == {"rouge_l": 0.3}


def test_an_explicit_prefix_that_covers_the_checkpoints_is_kept() -> None:
    options = ClusterRunOptions(
        checkpoint_prefix="runs/ckpt/", evaluation=TaskMetricsOptions(predictions_prefix="runs/")
    )
    resolved = options.task_metrics_options()
    assert resolved is not None
    assert resolved.predictions_prefix == "runs/"


@pytest.mark.parametrize(
    ("evaluation", "message"),
    [
        (
            {"generate_predictions": False},
            "evaluation.generate_predictions is False, but a cluster run is evaluated from its "
            "model folder",
        ),
        (
            {"predictions_prefix": "adapters/"},
            "evaluation.predictions_prefix 'adapters/' does not cover checkpoint_prefix "
            "'checkpoints/'",
        ),
    ],
)
def test_an_evaluation_that_cannot_read_the_model_is_refused(
    evaluation: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ClusterRunOptions.model_validate({"evaluation": evaluation})


@pytest.mark.parametrize("name", ["-models", "a_b", "x" * 64])
def test_registry_group_name_follows_the_sagemaker_pattern(name: str) -> None:
    with pytest.raises(ValidationError, match="registry_group_name"):
        ClusterRunOptions(registry_group_name=name)
