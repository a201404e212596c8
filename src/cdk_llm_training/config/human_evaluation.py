"""Options of :class:`cdk_llm_training.HumanEvaluation`."""

from __future__ import annotations

from pydantic import Field, field_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.types import LogRetentionDays, S3Prefix

# -- human evaluation ---------------------------------------------------------------------------

HUMAN_METRICS = ("mean_score", "median_score", "item_mean_score", "agreement_alpha")


class HumanEvaluationOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.HumanEvaluation`."""

    outputs_prefix: S3Prefix = "evaluation/outputs/"
    """Curated-zone prefix of model-output files (JSONL: catalog line + ``response``)."""
    manifest_subprefix: S3Prefix = "evaluation/"
    """Folder under the labeling workflow's manifest prefix for the sampled manifests."""
    report_prefix: S3Prefix = "evaluation/human-reports/"
    """Artifacts-zone prefix for the JSON reports."""
    sample_size: int = Field(default=100, ge=1, le=10000)
    """Items sent to raters per run (reservoir sample, seeded by the execution name)."""
    min_scores: dict[str, float] = Field(default_factory=dict)
    """Gate: ``mean_score``, ``median_score``, ``item_mean_score`` or ``agreement_alpha`` ->
    minimum. Default: none (report only)."""
    log_retention_days: LogRetentionDays = 365

    @field_validator("min_scores")
    @classmethod
    def _metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(HUMAN_METRICS))
        if unknown:
            raise ValueError(
                f"min_scores names {', '.join(unknown)}; allowed: {', '.join(HUMAN_METRICS)}"
            )
        return value
