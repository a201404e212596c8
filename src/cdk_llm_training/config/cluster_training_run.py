"""Options of :class:`cdk_llm_training.ClusterTrainingRun` (the run workflow of the cluster
tiers)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.task_metrics_evaluation import TaskMetricsOptions
from cdk_llm_training.config.types import LOG_RETENTION_DAYS

DEFAULT_RECIPES_REPOSITORY = "aws/sagemaker-hyperpod-recipes"
DEFAULT_RECIPES_RELEASE = "v2.0.9"
DEFAULT_RECIPES_COMMIT = "263199555b2e1f8eb9b17459892e440f3242b5d9"
"""The commit tag ``v2.0.9`` of aws/sagemaker-hyperpod-recipes points at (the newest release
when this library version was made)."""

MODEL_FOLDER = "model/"
"""Where a run saves its final model, relative to its checkpoint directory: the job writes
``$CHECKPOINT_DIR/model/`` (Hugging Face ``save_pretrained`` layout), which the checkpoint link
exports to ``<checkpoint_prefix><output_name>/model/``; evaluation and registration use it."""

_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


class HyperPodRecipesOptions(FrozenModel):
    """The pinned recipes release, fetched in AWS at deploy time.

    A CodeBuild build (started by a custom resource; no VPC, so it needs no egress from the
    training network but does reach github.com) downloads the release archive of ``release``,
    refuses it unless the commit embedded in the archive equals ``commit``, converts every
    recipe under ``recipes_collection/recipes/`` to JSON and writes it, with an index and the
    launcher's container image per recipe and Region, to the artifacts zone under ``prefix``.
    Nothing of the release is copied into this library.
    """

    repository: str = DEFAULT_RECIPES_REPOSITORY
    """GitHub ``owner/name`` of the recipes. Default ``aws/sagemaker-hyperpod-recipes``."""
    release: str = DEFAULT_RECIPES_RELEASE
    """Release tag. Default ``v2.0.9``."""
    commit: str = DEFAULT_RECIPES_COMMIT
    """Full commit SHA ``release`` must resolve to (checked against the archive)."""
    prefix: str = "recipes/hyperpod/"
    """Artifacts-zone prefix of the converted catalog (``<prefix><release>/``)."""

    @field_validator("commit")
    @classmethod
    def _check_commit(cls, value: str) -> str:
        if not re.match(r"^[0-9a-f]{40}$", value):
            raise ValueError(
                f"recipes.commit {value!r} must be a full 40-character git commit SHA "
                "(lower-case hex)"
            )
        return value

    @field_validator("release")
    @classmethod
    def _check_release(cls, value: str) -> str:
        if not _TAG.match(value):
            raise ValueError(f"recipes.release {value!r} must be a git tag name (v2.0.9)")
        return value

    @field_validator("repository")
    @classmethod
    def _check_repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError(f"recipes.repository {value!r} must be a GitHub owner/name")
        return value

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if value.startswith("/") or "*" in value or not value.endswith("/"):
            raise ValueError(
                f"recipes.prefix {value!r} must be an S3 key prefix ending in '/', without a "
                "leading '/' or wildcards"
            )
        return value

    @property
    def catalog_prefix(self) -> str:
        """Where this release's catalog is: ``<prefix><release>/``."""
        return f"{self.prefix}{self.release}/"


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
    registry_group_name: str | None = Field(
        default=None, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    )
    """Name of an existing SageMaker model package group to record each successful run's
    model in (after the evaluation gate passes when there is one): a version pending manual
    approval whose customer metadata names the run report, the model folder and the run's
    figures. Default: none (not recorded)."""
    evaluation: TaskMetricsOptions | None = None
    """Score the run's model folder (``<checkpoint_prefix><output_name>/model/``) on a
    labelled set with the small tier's task-metrics job and gate on ``min_scores``; a missed
    threshold notifies and records nothing. ``predictions_prefix`` defaults to
    ``checkpoint_prefix`` and ``generate_predictions`` to True (the job generates the
    predictions from the model). Default: none (not evaluated)."""

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
    def _check_evaluation(self) -> ClusterRunOptions:
        evaluation = self.evaluation
        if evaluation is None:
            return self
        if "generate_predictions" in evaluation.model_fields_set and (
            not evaluation.generate_predictions
        ):
            raise ValueError(
                "evaluation.generate_predictions is False, but a cluster run is evaluated from "
                "its model folder: leave it unset or True"
            )
        prefix = evaluation.predictions_prefix
        if "predictions_prefix" in evaluation.model_fields_set and not (
            self.checkpoint_prefix.startswith(prefix)
        ):
            raise ValueError(
                f"evaluation.predictions_prefix {prefix!r} does not cover checkpoint_prefix "
                f"{self.checkpoint_prefix!r}: the evaluation job could not read the model; "
                "leave it unset or use a prefix of checkpoint_prefix"
            )
        return self

    def task_metrics_options(self) -> TaskMetricsOptions | None:
        """``evaluation`` with ``predictions_prefix`` defaulted to ``checkpoint_prefix`` and
        ``generate_predictions`` to True."""
        evaluation = self.evaluation
        if evaluation is None:
            return None
        update: dict[str, object] = {"generate_predictions": True}
        if "predictions_prefix" not in evaluation.model_fields_set:
            update["predictions_prefix"] = self.checkpoint_prefix
        return evaluation.model_copy(update=update)

    @model_validator(mode="after")
    def _check_hours(self) -> ClusterRunOptions:
        if self.default_run_hours > self.max_run_hours:
            raise ValueError(
                f"default_run_hours {self.default_run_hours} exceeds max_run_hours "
                f"{self.max_run_hours}"
            )
        return self
