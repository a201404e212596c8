"""Options of :class:`cdk_llm_training.TaskMetricsEvaluation` (the SageMaker processing job
that scores an adapter on a labelled set)."""

from __future__ import annotations

from pydantic import Field, field_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.types import S3Key, S3Prefix

# -- SageMaker task metrics -------------------------------------------------------------------

TASK_METRICS = ("exact_match", "token_f1", "rouge_l")
DEFAULT_METRICS_IMAGE = "pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker"


class TaskMetricsOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.TaskMetricsEvaluation` (the SageMaker
    processing job that scores an adapter on a labelled set)."""

    labelled_set_key: S3Key = "evaluation/labelled.jsonl"
    """Curated-zone key of the labelled set (catalog format with ``reference`` on every
    line). Default ``evaluation/labelled.jsonl``."""
    report_prefix: S3Prefix = "evaluation/task-metrics/"
    """Artifacts-zone prefix; each run writes ``<prefix><execution name>/report.json``."""
    predictions_prefix: S3Prefix = "adapters/"
    """Artifacts-zone prefix the processing job may read predictions (or model artifacts)
    from. Default ``adapters/``."""
    generate_predictions: bool = False
    """Generate predictions with ``transformers`` from model artifacts instead of reading a
    predictions file (the image must have transformers). Default off."""
    min_scores: dict[str, float] = Field(default_factory=dict)
    """Gate: metric (exact_match, token_f1, rouge_l) -> minimum. Default: none."""
    instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    image_uri: str | None = None
    """Processing image. Default: the AWS Deep Learning Containers PyTorch CPU training
    image (``763104351884.dkr.ecr.<region>...``, ``DEFAULT_METRICS_IMAGE``); any image with
    Python 3.10+ works because the metrics are pure Python."""
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)

    @field_validator("min_scores")
    @classmethod
    def _metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(TASK_METRICS))
        if unknown:
            raise ValueError(
                f"min_scores names {', '.join(unknown)}; allowed: {', '.join(TASK_METRICS)}"
            )
        return value
