"""Options of :class:`cdk_llm_training.SyntheticData` (training data from a teacher model)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.assets.runtime.dataset_validation import record_formats
from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.bedrock_fine_tune_job import JOB_NAME_PREFIX_PATTERN
from cdk_llm_training.config.types import LOG_RETENTION_DAYS

TEACHER_FAMILIES = ("anthropic.", "amazon.nova", "meta.llama")
"""Model id starts the runtime builds request bodies for (Anthropic Messages, Amazon Nova,
Meta Llama)."""
_MODEL_ID = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9.:_-]+$")
QUOTA_MODEL_NAMES: dict[str, str] = {
    "anthropic.claude-3-haiku-20240307-v1:0": "Claude 3 Haiku",
    "anthropic.claude-3-5-haiku-20241022-v1:0": "Claude 3.5 Haiku",
    "anthropic.claude-3-5-sonnet-20240620-v1:0": "Claude 3.5 Sonnet",
    "anthropic.claude-3-5-sonnet-20241022-v2:0": "Claude 3.5 Sonnet v2",
    "amazon.nova-micro-v1:0": "Nova Micro V1",
    "amazon.nova-lite-v1:0": "Nova Lite V1",
    "amazon.nova-pro-v1:0": "Nova Pro V1",
    "meta.llama3-1-70b-instruct-v1:0": "Llama 3.1 70B Instruct",
}
"""Model id -> the model's name in the Bedrock batch quota names (``Records per batch
inference job for <name>``). Taken from published Service Quotas listings of the
``bedrock`` service, not from an AWS documentation page: unverified per Region; add or
correct names with ``quota_model_names``."""


class SyntheticDataOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.SyntheticData`. Every field has a
    default that deploys as-is: prompts under ``synthetic/prompts/`` of the curated zone,
    answers by Claude 3 Haiku in a Bedrock batch inference job, SFT chat records to
    ``finetune/synthetic/<execution>/train.jsonl``."""

    teacher_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    """Foundation model id of the teacher (Anthropic Claude, Amazon Nova or Meta Llama;
    inference profiles are not supported). It must support batch inference in the Region."""
    prompt_prefix: str = "synthetic/prompts/"
    """Curated-zone prefix of prompt sets (JSON lines ``{"prompt", "id"?, "system"?}``)."""
    work_prefix: str = "synthetic/batch/"
    """Artifacts-zone prefix of the batch job's input and output."""
    dataset_prefix: str = "finetune/synthetic/"
    """Curated-zone prefix of results: ``<prefix><execution>/train.jsonl`` and the card."""
    report_prefix: str = "synthetic/validation-reports/"
    output: Literal["sft", "preference"] = "sft"
    """``sft``: one answer per prompt, chat records. ``preference``: two answers per prompt
    (at ``temperature`` and ``second_temperature``), judged by ``judge_model_id`` with a
    fixed rubric, written as ``{"prompt", "chosen", "rejected"}`` records for DPO; ties and
    unparsable verdicts are dropped and counted in the card. The judge runs as a second batch
    job when there are at least ``min_records`` pairs, else directly with InvokeModel."""
    judge_model_id: str | None = None
    """Foundation model id of the judge (preference mode). Default: the teacher."""
    second_temperature: float = Field(default=1.0, ge=0, le=1)
    """Temperature of the second sample per prompt (preference mode)."""
    record_format: str = "chat"
    """Format the validator checks the result against (the chat records written). In
    preference mode the result is always checked as ``preference``."""
    max_tokens: int = Field(default=1024, ge=1, le=32_000)
    temperature: float = Field(default=0.7, ge=0, le=1)
    min_records: int = Field(default=100, ge=1)
    """Fewest prompts a job may have. Bedrock refuses batch jobs under a per-model minimum
    record count (a service quota, 100 by default for the models we checked in the quotas
    console; unverified for every model: check "Minimum number of records per batch
    inference job" in Service Quotas)."""
    max_records: int = Field(default=50_000, ge=1)
    """Most prompts a job may have (quota "Records per batch inference job", unverified
    default; raise it to your quota)."""
    quota_model_names: dict[str, str] = Field(default_factory=dict)
    """Model id -> its name in the batch quota names, over :data:`QUOTA_MODEL_NAMES`. The
    workflow reads the teacher's (and judge's) batch quotas by these names before it creates
    a job; a model without a name is checked against the configured limits only."""
    max_input_file_gib: float = Field(default=1.0, gt=0)
    """Input file size limit used when the quota "Batch inference input file size (in GB)
    for <model>" cannot be read (default 1, unverified)."""
    max_job_gib: float = Field(default=5.0, gt=0)
    """Job size limit used when the quota "Batch inference job size (in GB) for <model>"
    cannot be read (default 5, unverified)."""
    max_in_flight_jobs: int | None = Field(default=None, ge=1)
    """Submitted and running batch jobs of the model allowed when the quota "Sum of
    in-progress and submitted batch inference jobs using a base model for <model>" cannot be
    read. Default None: then only the quota limits them."""
    timeout_hours: int = Field(default=24, ge=24, le=168)
    """``timeoutDurationInHours`` of the job: 24 to 168 (the API's range)."""
    poll_minutes: int = Field(default=10, ge=1, le=60)
    """Minutes between GetModelInvocationJob polls (no ``.sync`` exists for batch jobs)."""
    input_price_per_million_tokens: float | None = Field(default=None, ge=0)
    output_price_per_million_tokens: float | None = Field(default=None, ge=0)
    """Batch prices of the teacher (USD per million tokens) for the cost estimate; without
    both, the estimate reports tokens only."""
    job_name_prefix: str = Field(default="synth", max_length=20)
    validator_memory_mib: int = Field(default=1024, ge=256, le=10240)
    validator_timeout_minutes: int = Field(default=15, ge=1, le=15)
    log_retention_days: int = 365

    @field_validator("teacher_model_id", "judge_model_id")
    @classmethod
    def _teacher(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return value
        if not _MODEL_ID.match(value) or not value.startswith(TEACHER_FAMILIES):
            raise ValueError(
                f"{info.field_name} {value!r} must be a foundation model id starting with "
                f"{', '.join(TEACHER_FAMILIES)}"
            )
        return value

    @model_validator(mode="after")
    def _preference_format(self) -> SyntheticDataOptions:
        if self.output == "preference" and self.record_format not in ("chat", "preference"):
            raise ValueError(
                f"record_format {self.record_format!r} does not apply to output 'preference': "
                "the result is always checked as 'preference'"
            )
        return self

    @property
    def quota_names(self) -> dict[str, str]:
        """Quota names of the models this workflow runs batch jobs for (teacher, judge)."""
        names = {**QUOTA_MODEL_NAMES, **self.quota_model_names}
        models = {self.teacher_model_id, self.judge}
        return {model: names[model] for model in sorted(models) if model in names}

    @property
    def judge(self) -> str:
        """The judge's model id (``judge_model_id`` or the teacher)."""
        return self.judge_model_id or self.teacher_model_id

    @property
    def dataset_format(self) -> str:
        """The record format the validator checks."""
        return "preference" if self.output == "preference" else self.record_format

    @field_validator("prompt_prefix", "work_prefix", "dataset_prefix", "report_prefix")
    @classmethod
    def _prefix(cls, value: str, info: Any) -> str:
        if "*" in value or "?" in value or value.startswith("/") or not value.endswith("/"):
            raise ValueError(
                f"{info.field_name} {value!r} must be a literal S3 prefix ending in '/'"
            )
        return value

    @field_validator("record_format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value not in record_formats():
            raise ValueError(f"record_format {value!r} is unknown")
        return value

    @field_validator("job_name_prefix")
    @classmethod
    def _job_prefix(cls, value: str) -> str:
        if not JOB_NAME_PREFIX_PATTERN.match(value):
            raise ValueError(f"job_name_prefix {value!r} must be letters, digits, single hyphens")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention")
        return value

    @property
    def max_polls(self) -> int:
        """Polls before the workflow gives up: the job's timeout plus an hour."""
        return (self.timeout_hours + 1) * 60 // self.poll_minutes
