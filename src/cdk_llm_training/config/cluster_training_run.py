"""Options of :class:`cdk_llm_training.ClusterTrainingRun` (the run workflow of the cluster
tiers)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.hyperpod_recipes import HyperPodRecipesOptions
from cdk_llm_training.config.types import LOG_RETENTION_DAYS


class ClusterRunOptions(FrozenModel):
    """How runs on a HyperPod EKS cluster are started, watched, bounded and reported.

    The workflow has no idle cost (a state machine, a Lambda function, an EventBridge rule and
    an EKS access entry are billed per use or not at all), so the cluster tiers create it by
    default (``enabled``).
    """

    enabled: bool = True
    """Create the run workflow. Default True."""
    default_run_hours: int = Field(default=24, ge=1)
    """A run's ``activeDeadlineSeconds`` when its input gives no ``max_run_hours``. Default 24."""
    max_run_hours: int = Field(default=336, ge=1, le=8760)
    """Largest ``max_run_hours`` an input may ask for (14 days by default); the state machine
    times out two hours later, which cancels the run too."""
    poll_interval_seconds: int = Field(default=300, ge=30, le=3600)
    """Seconds between two reads of the job's status. Default 300."""
    report_prefix: str = "runs/reports/"
    """Artifacts-zone prefix of the run reports (``<prefix><job id>/report.json``)."""
    checkpoint_prefix: str = "checkpoints/"
    """Artifacts-zone prefix the file system's checkpoint link exports to (the default
    ``/checkpoints`` data repository association). Default ``checkpoints/``."""
    log_retention_days: int = 365
    """Retention of the workflow's and the controller's log groups. Default 365."""
    recipes: HyperPodRecipesOptions | None = HyperPodRecipesOptions()
    """HyperPod EKS only: the pinned aws/sagemaker-hyperpod-recipes release runs may name
    (fetched and converted in AWS at deploy time). None: no recipe runs, no fetch."""

    @field_validator("report_prefix", "checkpoint_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if value.startswith("/") or "*" in value or not value.endswith("/"):
            raise ValueError(
                f"{value!r} must be an S3 key prefix ending in '/', without a leading '/' or "
                "wildcards"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _check_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
            raise ValueError(f"log_retention_days {value} is not one of {allowed}")
        return value

    @model_validator(mode="after")
    def _check_hours(self) -> ClusterRunOptions:
        if self.default_run_hours > self.max_run_hours:
            raise ValueError(
                f"default_run_hours {self.default_run_hours} exceeds max_run_hours "
                f"{self.max_run_hours}"
            )
        return self
