"""Options for :class:`cdk_llm_training.TrainingDataLake`."""

from enum import StrEnum

from pydantic import Field

from cdk_llm_training.config.base import FrozenModel


class DataZone(StrEnum):
    """The zones of the training data lake, one bucket each."""

    RAW = "raw"
    """Data as it arrives: crawls, exports, vendor drops."""
    CURATED = "curated"
    """Cleaned, deduplicated, training-ready datasets (JSONL, Parquet, tokenized shards)."""
    ARTIFACTS = "artifacts"
    """Models, adapters, checkpoints, evaluation and validation reports."""


class DataLakeOptions(FrozenModel):
    """Plain-data options of the data lake. Every field has a default that deploys as-is."""

    abort_incomplete_multipart_upload_days: int = Field(default=7, ge=1, le=365)
    """Days after which incomplete multipart uploads are aborted in every zone. Default 7."""

    noncurrent_version_expiration_days: int = Field(default=90, ge=1, le=3650)
    """Days a replaced or deleted object version is kept before it expires. Default 90."""

    raw_intelligent_tiering_after_days: int | None = Field(default=None, ge=0, le=3650)
    """Move raw-zone objects to S3 Intelligent-Tiering after this many days. Default off:
    training data that is read every epoch gains nothing from tiering."""

    checkpoint_expiration_days: int | None = Field(default=None, ge=1, le=3650)
    """Expire objects under ``checkpoints/`` in the artifacts zone after this many days.
    Default off: checkpoints are kept until you delete them."""

    access_log_retention_days: int = Field(default=365, ge=1, le=3650)
    """Days server access logs are kept in the access-log bucket. Default 365."""

    event_bridge_enabled: bool = True
    """Send S3 object events of every zone to Amazon EventBridge, so workflows can start on
    upload. Default on."""
