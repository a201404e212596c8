"""Options of :class:`cdk_llm_training.DataCuration` (raw -> curated workflow)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from cdk_llm_training.assets.curation.config import CurationConfig
from cdk_llm_training.assets.runtime.dataset_validation import record_formats
from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.bedrock_fine_tune_job import JOB_NAME_PREFIX_PATTERN
from cdk_llm_training.config.synthetic_data import SyntheticDataOptions
from cdk_llm_training.config.task_metrics_evaluation import DEFAULT_METRICS_IMAGE
from cdk_llm_training.config.types import LOG_RETENTION_DAYS

DEFAULT_CURATION_IMAGE = DEFAULT_METRICS_IMAGE
"""The AWS Deep Learning Containers PyTorch CPU image (Python 3.11, boto3): the curation
script is pure Python plus datasketch, installed at start from its requirements.txt."""

MAX_CONTAINER_ARGUMENT_CHARS = 256
"""CreateProcessingJob's ContainerArgument (and environment value) maximum length."""


def _literal_prefix(value: str, field: str) -> str:
    if "*" in value or "?" in value:
        raise ValueError(f"{field} {value!r} must be a literal S3 key prefix, without * or ?")
    if value.startswith("/"):
        raise ValueError(f"{field} {value!r} must not start with '/'")
    if value and not value.endswith("/"):
        raise ValueError(f"{field} {value!r} must end with '/' (a folder)")
    return value


def curation_settings(curation: dict[str, Any]) -> list[str]:
    """``curation`` as ``--set <path>=<JSON value>`` pairs, one per leaf setting: each stays
    under the 256 characters CreateProcessingJob allows per container argument, where the
    whole config as one JSON argument would not."""
    settings: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}{key}.", item)
        else:
            settings.append(f"{prefix[:-1]}={json.dumps(value, separators=(',', ':'))}")

    walk("", curation)
    return settings


class DataCurationOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.DataCuration`. Every field has a
    default that deploys as-is: curate ``corpora/<folder>/`` of the raw zone into
    ``finetune/curated/<execution>/`` of the curated zone (under the fine-tune workflows'
    default dataset prefix), records ``{"input": ...}`` for continued pre-training."""

    raw_prefix: str = "corpora/"
    """Raw-zone prefix the job may read; an execution's ``rawPrefix`` must lie under it."""
    curated_prefix: str = "finetune/curated/"
    """Curated-zone prefix; each execution writes ``<prefix><execution name>/``."""
    report_prefix: str = "curation/validation-reports/"
    """Artifacts-zone prefix of the dataset validator's reports."""
    record_format: str = "continued_pretraining"
    """Record format the validator checks the curated output against (a dataset validator
    format: ``continued_pretraining``, ``prompt_completion``, ``chat``, ...)."""
    curation: dict[str, Any] = Field(
        default_factory=lambda: {"text_fields": ["text"], "rename_fields": {"text": "input"}}
    )
    """The curation script's settings (``CurationConfig``: text fields, normalisation,
    quality filters, near-duplicate threshold, PII mode); checked at synth. Default: the
    ``text`` field, renamed ``input`` on output, every other setting at its default."""
    job_name_prefix: str = Field(default="curate", max_length=26)
    """Processing jobs are named ``<prefix>-<uuid>`` (63 characters at most)."""
    instance_type: str = Field(default="ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    """One CPU instance: 4 vCPU, 16 GiB, enough for millions of documents' index."""
    volume_size_gb: int = Field(default=100, ge=1, le=16384)
    """Storage for the raw input and the curated output (both on the instance's volume)."""
    max_runtime_seconds: int = Field(default=86_400, ge=60, le=432_000)
    image_uri: str | None = None
    """Processing image. Default: ``DEFAULT_CURATION_IMAGE`` in the stack's Region
    (Deep Learning Containers registry ``763104351884``)."""
    install_requirements: bool = True
    """Install the script's requirements (datasketch) with pip at start: needs internet
    access from the job; turn off with an image that already has them."""
    validator_memory_mib: int = Field(default=1024, ge=256, le=10240)
    validator_timeout_minutes: int = Field(default=15, ge=1, le=15)
    log_retention_days: int = 365

    @field_validator("raw_prefix", "curated_prefix", "report_prefix")
    @classmethod
    def _prefix(cls, value: str, info: Any) -> str:
        return _literal_prefix(value, info.field_name)

    @field_validator("record_format")
    @classmethod
    def _format(cls, value: str) -> str:
        known = record_formats()
        if value not in known:
            raise ValueError(f"record_format {value!r} is unknown; known: {', '.join(known)}")
        return value

    @field_validator("job_name_prefix")
    @classmethod
    def _job_prefix(cls, value: str) -> str:
        if not JOB_NAME_PREFIX_PATTERN.match(value):
            raise ValueError(
                f"job_name_prefix {value!r} must be letters, digits and single hyphens"
            )
        return value

    @field_validator("curation")
    @classmethod
    def _curation(cls, value: dict[str, Any]) -> dict[str, Any]:
        CurationConfig.from_dict(value)  # raises ValueError naming the field
        for setting in curation_settings(value):
            if len(setting) > MAX_CONTAINER_ARGUMENT_CHARS:
                raise ValueError(
                    f"curation setting {setting[:60]!r}... is {len(setting)} characters; "
                    f"a processing job argument holds at most {MAX_CONTAINER_ARGUMENT_CHARS}"
                )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
            raise ValueError(f"{value} is not a CloudWatch Logs retention; allowed: {allowed}")
        return value

    @property
    def dataset_prefix(self) -> str:
        """The prefix the dataset validator reads: ``curated_prefix``."""
        return self.curated_prefix

    @property
    def curation_config(self) -> CurationConfig:
        return CurationConfig.from_dict(self.curation)


class DataPipelineOptions(FrozenModel):
    """The data pipeline workflows a tier stack adds. Default: none (opt in per workflow;
    a workflow costs nothing while no execution runs)."""

    curation: DataCurationOptions | None = None
    """Raw -> curated workflow (:class:`cdk_llm_training.DataCuration`); ``true`` or ``{}``
    adds it with the default options. Default: off."""

    synthetic: SyntheticDataOptions | None = None
    """Synthetic data from a teacher model (:class:`cdk_llm_training.SyntheticData`);
    ``true`` or ``{}`` adds it with the default options. Default: off."""

    @field_validator("curation", mode="before")
    @classmethod
    def _switch_curation(cls, value: Any) -> Any:
        return _switch(value, DataCurationOptions)

    @field_validator("synthetic", mode="before")
    @classmethod
    def _switch_synthetic(cls, value: Any) -> Any:
        return _switch(value, SyntheticDataOptions)


def _switch(value: Any, options: type[FrozenModel]) -> Any:
    """``true`` -> the default options, ``false`` -> off, anything else as given."""
    if value is True:
        return options()
    if value is False:
        return None
    return value
