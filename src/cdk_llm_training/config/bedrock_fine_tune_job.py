"""Options of :class:`cdk_llm_training.BedrockFineTuneJob` (the models it can customize are in
:mod:`cdk_llm_training.config.catalogs.bedrock_models`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.catalogs.bedrock_models import (
    SUPPORTED_CUSTOMIZATION_TYPES,
    BedrockBaseModel,
    BedrockModelCatalog,
    CustomizationType,
    ModelFamily,
    default_bedrock_catalog,
    validate_hyperparameters,
)
from cdk_llm_training.config.model_evaluation import ModelEvaluationOptions
from cdk_llm_training.config.types import LogRetentionDays, S3Prefix

# -- reinforcement fine-tuning ------------------------------------------------------------


class BuiltinGrader(StrEnum):
    """Verifiable graders shipped with the library (the grader Lambda's ``GRADER_KIND``)."""

    EXACT_MATCH = "exact_match"
    """1.0 when the response equals the reference answer (after trimming; case-insensitive
    unless ``case_sensitive``), else 0.0."""
    REGEX = "regex"
    """1.0 when ``pattern`` matches the response (``re.search``); with a capture group, the
    first group must equal the reference answer."""
    JSON_SCHEMA = "json_schema"
    """1.0 when the response parses as JSON and conforms to ``json_schema`` (a subset of
    JSON Schema: type, properties, required, additionalProperties, items, enum,
    minimum / maximum, minLength / maxLength), 0.5 when it parses but does not conform."""


class GraderOptions(FrozenModel):
    """How responses are scored: a built-in verifiable grader, or the user's Python file in
    the curated zone. Exactly one of ``builtin`` and ``python_source_key``."""

    builtin: BuiltinGrader | None = None
    """A built-in grader. Default: none (then ``python_source_key`` is required)."""
    python_source_key: str | None = Field(default=None, min_length=4, max_length=1024)
    """Curated-zone key of a Python file defining ``grade(sample) -> float`` (0 to 1), or
    ``lambda_grader(samples) -> list`` with the documented output records. The grader Lambda
    loads it at cold start. Must be under ``dataset_prefix`` and end in ``.py``."""
    pattern: str | None = Field(default=None, min_length=1, max_length=1000)
    """REGEX: the pattern (Python ``re`` syntax). Required for REGEX, rejected otherwise."""
    case_sensitive: bool = False
    """EXACT_MATCH and REGEX: compare with case. Default: case-insensitive."""
    json_schema: dict[str, Any] | None = None
    """JSON_SCHEMA: the schema responses must conform to. Required for JSON_SCHEMA."""
    timeout_seconds: int = Field(default=300, ge=3, le=900)
    """Timeout of the grader Lambda (the documented maximum is 15 minutes). Default 300."""
    memory_mib: int = Field(default=512, ge=128, le=10240)
    """Memory of the grader Lambda. Default 512."""
    probe_records: int = Field(default=3, ge=1, le=20)
    """Training records the workflow sends to the grader before the paid job starts (a
    grader that errors or answers in the wrong shape stops the run there). Default 3."""

    @field_validator("python_source_key")
    @classmethod
    def _python_file(cls, value: str | None) -> str | None:
        if value is not None and (not value.endswith(".py") or "*" in value):
            raise ValueError(f"{value!r} must be a literal S3 key of a .py file")
        return value

    @model_validator(mode="after")
    def _one_grader(self) -> GraderOptions:
        if (self.builtin is None) == (self.python_source_key is None):
            raise ValueError(
                "grader needs exactly one of builtin (exact_match, regex, json_schema) and "
                "python_source_key"
            )
        kind = self.builtin
        if (kind is BuiltinGrader.REGEX) != (self.pattern is not None):
            raise ValueError("grader.pattern is required for the regex grader and only for it")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ValueError(
                    f"grader.pattern {self.pattern!r} is not a regex: {error}"
                ) from None
        if (kind is BuiltinGrader.JSON_SCHEMA) != (self.json_schema is not None):
            raise ValueError(
                "grader.json_schema is required for the json_schema grader and only for it"
            )
        return self


class RftHyperparameters(FrozenModel):
    """``RFTHyperParameters`` of the API; every field optional (the service default applies)."""

    epoch_count: int | None = Field(default=None, ge=1, le=50)
    batch_size: int | None = Field(default=None, ge=16, le=512)
    learning_rate: float | None = Field(default=None, ge=1e-7, le=1e-3)
    max_prompt_length: int | None = Field(default=None, ge=1)
    training_sample_per_prompt: int | None = Field(default=None, ge=2, le=16)
    inference_max_tokens: int | None = Field(default=None, ge=1)
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    eval_interval: int | None = Field(default=None, ge=1, le=100)

    def api(self) -> dict[str, Any]:
        """The request's ``hyperParameters`` (camelCase, unset fields left out)."""
        names = {
            "epoch_count": "epochCount",
            "batch_size": "batchSize",
            "learning_rate": "learningRate",
            "max_prompt_length": "maxPromptLength",
            "training_sample_per_prompt": "trainingSamplePerPrompt",
            "inference_max_tokens": "inferenceMaxTokens",
            "reasoning_effort": "reasoningEffort",
            "eval_interval": "evalInterval",
        }
        values = self.model_dump(exclude_none=True)
        return {names[name]: value for name, value in values.items()}


class RftOptions(FrozenModel):
    """Settings of a REINFORCEMENT_FINE_TUNING job."""

    grader: GraderOptions
    """How responses are scored."""
    hyperparameters: RftHyperparameters = Field(default_factory=RftHyperparameters)
    """Typed RFT hyperparameters. Default: none sent (the service defaults apply)."""


JOB_NAME_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$")


# -- options -------------------------------------------------------------------------------


class DistillationOptions(FrozenModel):
    """Teacher settings of a DISTILLATION job (the API's ``customizationConfig``)."""

    teacher_model_id: str = Field(min_length=1, max_length=2048)
    """Teacher model id or inference-profile ARN, e.g. ``amazon.nova-premier-v1:0``."""
    max_response_length_for_inference: int | None = Field(default=None, ge=1)
    """Maximum tokens the job requests from the teacher. Default: the service default."""


class BedrockFineTuneOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.BedrockFineTuneJob`. Every field has a
    default that deploys as-is (fine-tune Amazon Nova Micro from ``curated/finetune/``)."""

    base_model_id: str = "amazon.nova-micro-v1:0:128k"
    """Base model to customize (catalog id). Default Amazon Nova Micro."""
    base_model_family: str | None = None
    """Treat ``base_model_id`` as a member of this catalog family (for ids newer than this
    release). Default: look the id up in the catalog."""
    customization_type: CustomizationType = CustomizationType.FINE_TUNING
    """FINE_TUNING (default), CONTINUED_PRE_TRAINING, DISTILLATION or
    REINFORCEMENT_FINE_TUNING (with ``rft``)."""
    hyperparameters: dict[str, str | int | float] = Field(default_factory=dict)
    """API hyperparameter names -> values, checked against the family's ranges at synth.
    Default: none sent (the service defaults apply)."""
    distillation: DistillationOptions | None = None
    """Teacher settings; required for DISTILLATION, rejected otherwise."""
    rft: RftOptions | None = None
    """Grader and RFT hyperparameters; required for REINFORCEMENT_FINE_TUNING, rejected
    otherwise (RFT hyperparameters are typed here, not in ``hyperparameters``)."""
    dataset_prefix: S3Prefix = "finetune/"
    """Curated-zone prefix the datasets live under (the only prefix the job may read)."""
    output_prefix: S3Prefix = "bedrock/customization-output/"
    """Artifacts-zone prefix the job writes its output under (one folder per job name)."""
    report_prefix: S3Prefix = "bedrock/validation-reports/"
    """Artifacts-zone prefix for dataset validation reports."""
    job_name_prefix: str = Field(default="finetune", min_length=1, max_length=40)
    """Job and custom-model names are ``<prefix>-<suffix>``; letters, digits, single hyphens."""
    start_on_ready_marker: bool = False
    """Start an execution when an object named ``ready_marker_name`` lands in a folder under
    ``dataset_prefix`` (EventBridge rule on the curated bucket). Default off."""
    ready_marker_name: str = Field(default="_READY", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    """File name of the ready marker. Default ``_READY``."""
    job_timeout_hours: int = Field(default=168, ge=1, le=8760)
    """Fail the execution (and stop the job) after this long. Default 168 (7 days)."""
    validator_memory_mib: int = Field(default=1024, ge=256, le=10240)
    """Memory of the validator Lambda (more memory, more CPU). Default 1024."""
    validator_timeout_minutes: int = Field(default=15, ge=1, le=15)
    """Timeout of the validator Lambda. Default 15 (the Lambda maximum)."""
    log_retention_days: LogRetentionDays = 365
    """Retention of the workflow and validator log groups. Default 365."""
    evaluation: ModelEvaluationOptions | None = None
    """Opt-in evaluation after a successful job: provisioned throughput for the custom model,
    Bedrock evaluation jobs against the base model, a JSON report and a threshold gate (see
    :class:`cdk_llm_training.ModelEvaluation`). Default: off."""
    registry_group_name: str | None = Field(
        default=None, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    )
    """Name of an existing SageMaker model package group to record each custom model in
    (after the job, and after the evaluation gate passes when there is one): a version pending
    manual approval with ``servingTarget=bedrock`` metadata, as BedrockModelImport records.
    Default: none (not recorded)."""

    @field_validator("job_name_prefix")
    @classmethod
    def _name_prefix(cls, value: str) -> str:
        if not JOB_NAME_PREFIX_PATTERN.match(value):
            raise ValueError(
                f"{value!r} must be letters, digits and single hyphens, starting and ending "
                "with a letter or digit"
            )
        return value

    @field_validator("customization_type")
    @classmethod
    def _supported_type(cls, value: CustomizationType) -> CustomizationType:
        if value not in SUPPORTED_CUSTOMIZATION_TYPES:
            raise ValueError(
                f"customization_type {value.value} is not supported by BedrockFineTuneJob yet; "
                "use FINE_TUNING, CONTINUED_PRE_TRAINING, DISTILLATION or "
                "REINFORCEMENT_FINE_TUNING"
            )
        return value

    @model_validator(mode="after")
    def _distillation_settings(self) -> BedrockFineTuneOptions:
        is_distillation = self.customization_type is CustomizationType.DISTILLATION
        if is_distillation and self.distillation is None:
            raise ValueError(
                "customization_type DISTILLATION needs distillation="
                "DistillationOptions(teacher_model_id=...)"
            )
        if not is_distillation and self.distillation is not None:
            raise ValueError(
                f"distillation is set but customization_type is {self.customization_type.value}; "
                "teacher settings apply only to DISTILLATION"
            )
        return self

    @model_validator(mode="after")
    def _rft_settings(self) -> BedrockFineTuneOptions:
        is_rft = self.customization_type is CustomizationType.REINFORCEMENT_FINE_TUNING
        if is_rft and self.rft is None:
            raise ValueError(
                "customization_type REINFORCEMENT_FINE_TUNING needs rft=RftOptions(grader=...)"
            )
        if not is_rft and self.rft is not None:
            raise ValueError(
                f"rft is set but customization_type is {self.customization_type.value}; "
                "grader settings apply only to REINFORCEMENT_FINE_TUNING"
            )
        if is_rft and self.hyperparameters:
            raise ValueError(
                "hyperparameters is set for REINFORCEMENT_FINE_TUNING; put them in "
                "rft.hyperparameters (RftHyperparameters), the API's typed rftConfig fields"
            )
        source = self.rft.grader.python_source_key if self.rft is not None else None
        if source is not None and not source.startswith(self.dataset_prefix):
            raise ValueError(
                f"rft.grader.python_source_key {source!r} must be under dataset_prefix "
                f"{self.dataset_prefix!r} (the only prefix the workflow reads)"
            )
        return self


def resolve_base_model(
    options: BedrockFineTuneOptions, catalog: BedrockModelCatalog | None = None
) -> tuple[BedrockBaseModel, ModelFamily, dict[str, str]]:
    """The base model, its family and the hyperparameters as the API takes them, after the
    catalog rules: a known model (or family), a customization type the model supports, and
    hyperparameters inside the family's ranges. Raises ``ValueError`` naming the value.

    :param catalog: base-model catalog. Default: :func:`default_bedrock_catalog`.
    """
    catalog = catalog or default_bedrock_catalog()
    try:
        model, family = catalog.resolve(options.base_model_id, family=options.base_model_family)
    except KeyError as error:
        raise ValueError(error.args[0]) from None
    supported = catalog.supported_types(model, family)
    if options.customization_type in model.no_new_jobs:
        raise ValueError(
            f"base model {options.base_model_id!r} no longer accepts new "
            f"{options.customization_type.value} jobs (not in AWS's supported-models table, "
            f"checked {catalog.checked_on or 'unknown date'}); pick another model: "
            + ", ".join(
                m.model_id
                for m in catalog
                if options.customization_type
                in catalog.supported_types(m, catalog.family(m.family))
                and options.customization_type not in m.no_new_jobs
            )
            + "."
        )
    if options.customization_type not in supported:
        raise ValueError(
            f"customization_type {options.customization_type.value} is not supported by base "
            f"model {options.base_model_id!r} (family {family.family}); supported: "
            f"{', '.join(t.value for t in supported)}."
        )
    rendered = validate_hyperparameters(options.base_model_id, family, options.hyperparameters)
    return model, family, rendered
