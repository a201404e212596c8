"""Options of :class:`cdk_llm_training.DataCuration` (raw -> curated workflow)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

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

CURATION_ENGINES = ("processing", "emr-serverless")
"""Where the curation job runs: one SageMaker Processing instance, or Spark on EMR
Serverless."""
DEFAULT_EMR_RELEASE = "emr-7.9.0"
"""EMR Serverless 7.9.0 runs Apache Spark 3.5.5 (the EMR Serverless release 7.9.0 page)."""
EMR_RELEASE_PATTERN = re.compile(r"^emr-7\.\d{1,2}\.\d{1,2}$")
"""EMR 7.x releases run Spark 3.5 (7.1.0: 3.5.0 ... 7.9.0: 3.5.5 on the release pages), the
Spark the job is tested with."""
EMR_ARCHITECTURES = ("X86_64", "ARM64")
EMR_MIN_CAPACITY = {"vcpu": 8, "memory_gb": 32, "disk_gb": 40}
"""A driver and one executor at EMR Serverless's default Spark worker size (4 vCPU, 16 GB
with overhead, 20 GB disk each; unverified against the EMR Serverless defaults page): a
smaller maximum capacity could never run the job."""

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


class EmrServerlessOptions(FrozenModel):
    """The EMR Serverless application and job run of the ``emr-serverless`` engine. The
    defaults cost nothing while idle: no pre-initialized capacity, the application stops
    after ``idle_timeout_minutes`` without jobs, and its workers are capped by the maximum
    capacity below."""

    release_label: str = DEFAULT_EMR_RELEASE
    """An EMR 7.x release (Spark 3.5)."""
    architecture: str = "X86_64"
    """``X86_64`` or ``ARM64`` (Graviton; cheaper per vCPU-hour where offered)."""
    maximum_vcpu: int = Field(default=64, ge=EMR_MIN_CAPACITY["vcpu"])
    """The application's maximum capacity: all workers of all running jobs together
    (16 workers of the default size). At least a driver and one executor."""
    maximum_memory_gb: int = Field(default=256, ge=EMR_MIN_CAPACITY["memory_gb"])
    maximum_disk_gb: int = Field(default=640, ge=EMR_MIN_CAPACITY["disk_gb"])
    idle_timeout_minutes: int = Field(default=15, ge=1, le=10_080)
    """Auto-stop: the application stops this long after its last job (restarts on the
    next job run)."""
    execution_timeout_minutes: int = Field(default=720, ge=5, le=1_000_000)
    # 1,000,000: StartJobRun's executionTimeoutMinutes maximum in the service model.
    """A job run is cancelled after this long (StartJobRun ``executionTimeoutMinutes``)."""
    pii_partitions: int = Field(default=8, ge=1, le=1024)
    """At most this many executor tasks call Amazon Comprehend at once (each packs texts
    into requests and retries throttling): keep it within the account's DetectPiiEntities
    request rate."""

    @field_validator("release_label")
    @classmethod
    def _release(cls, value: str) -> str:
        if not EMR_RELEASE_PATTERN.match(value):
            raise ValueError(
                f"emr.release_label {value!r} is not an EMR 7.x release label; allowed: "
                f"emr-7.<minor>.<patch> (Spark 3.5), e.g. {DEFAULT_EMR_RELEASE!r}"
            )
        return value

    @field_validator("architecture")
    @classmethod
    def _architecture(cls, value: str) -> str:
        if value not in EMR_ARCHITECTURES:
            raise ValueError(
                f"emr.architecture {value!r} is unknown; allowed: {', '.join(EMR_ARCHITECTURES)}"
            )
        return value

    @property
    def maximum_capacity(self) -> dict[str, str]:
        """``MaximumCapacity`` as AWS::EMRServerless::Application writes it."""
        return {
            "Cpu": f"{self.maximum_vcpu} vCPU",
            "Memory": f"{self.maximum_memory_gb} GB",
            "Disk": f"{self.maximum_disk_gb} GB",
        }


class DataCurationOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.DataCuration`. Every field has a
    default that deploys as-is: curate ``corpora/<folder>/`` of the raw zone into
    ``finetune/curated/<execution>/`` of the curated zone (under the fine-tune workflows'
    default dataset prefix), records ``{"input": ...}`` for continued pre-training."""

    engine: str = "processing"
    """``processing`` (one SageMaker Processing instance: up to tens of GB) or
    ``emr-serverless`` (Spark on EMR Serverless, for larger corpora; see ``emr``)."""
    emr: EmrServerlessOptions = Field(default_factory=EmrServerlessOptions)
    """The EMR Serverless application and job run (``engine: emr-serverless`` only)."""
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

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        if value not in CURATION_ENGINES:
            raise ValueError(f"engine {value!r} is unknown; allowed: {', '.join(CURATION_ENGINES)}")
        return value

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
    def _curation(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        CurationConfig.from_dict(value)  # raises ValueError naming the field
        if info.data.get("engine") == "emr-serverless":
            return value  # one --config argument; Spark job arguments have no such limit
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
