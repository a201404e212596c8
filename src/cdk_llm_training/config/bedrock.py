"""Options of :class:`cdk_llm_training.BedrockFineTuneJob` and the Bedrock base-model catalog.

Pure Python (no aws_cdk import). The catalog data lives in ``config/data/bedrock_models.json``:
model family -> record format per customization type, hyperparameters with ranges and
defaults, dataset limits. Register a model id of an existing family without a release with
``default_bedrock_catalog().register(model_id, family)`` (or the ``base_model_family`` option).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import LOG_RETENTION_DAYS as LOG_RETENTION_DAYS  # noqa: PLC0414 (re-export)
from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.bedrock_rft import RftOptions
from cdk_llm_training.config.evaluation import ModelEvaluationOptions

JOB_NAME_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$")


class CustomizationType(StrEnum):
    """Bedrock model customization types (the API's ``customizationType``)."""

    FINE_TUNING = "FINE_TUNING"
    CONTINUED_PRE_TRAINING = "CONTINUED_PRE_TRAINING"
    DISTILLATION = "DISTILLATION"
    REINFORCEMENT_FINE_TUNING = "REINFORCEMENT_FINE_TUNING"


SUPPORTED_CUSTOMIZATION_TYPES = (
    CustomizationType.FINE_TUNING,
    CustomizationType.CONTINUED_PRE_TRAINING,
    CustomizationType.DISTILLATION,
    CustomizationType.REINFORCEMENT_FINE_TUNING,
)


# -- catalog -------------------------------------------------------------------------------


class HyperparameterSpec(FrozenModel):
    """One hyperparameter a model family accepts: API name, type, inclusive range, default."""

    name: str
    type: Literal["int", "float"]
    min: float
    max: float
    default: float


class DatasetLimits(FrozenModel):
    """Dataset limits for one family and customization type. ``None``: not checked here."""

    min_training_records: int = Field(default=1, ge=0)
    max_training_records: int | None = Field(default=None, ge=1)
    max_validation_records: int | None = Field(default=None, ge=0)
    """0 means the customization type takes no validation data."""
    max_record_bytes: int | None = Field(default=None, ge=1)
    max_training_file_bytes: int | None = Field(default=None, ge=1)
    max_validation_file_bytes: int | None = Field(default=None, ge=0)


class ModelFamily(FrozenModel):
    """Customization facts shared by the models of one family."""

    family: str
    description: str = ""
    record_formats: dict[CustomizationType, str]
    """JSONL record format per supported customization type (names from
    ``cdk_llm_training.runtime.dataset_validation``)."""
    hyperparameters: tuple[HyperparameterSpec, ...]
    limits: dict[CustomizationType, DatasetLimits] = Field(default_factory=dict)

    @property
    def customization_types(self) -> tuple[CustomizationType, ...]:
        return tuple(t for t in CustomizationType if t in self.record_formats)

    def hyperparameter(self, name: str) -> HyperparameterSpec | None:
        return next((spec for spec in self.hyperparameters if spec.name == name), None)


class BedrockBaseModel(FrozenModel):
    """A base model id and its family; ``customization_types`` narrows the family's list."""

    model_id: str
    family: str
    customization_types: tuple[CustomizationType, ...] | None = None
    no_new_jobs: tuple[CustomizationType, ...] = ()
    """Types AWS no longer accepts new jobs for with this model (the model is missing from
    AWS's supported-models table for that type on the catalog's ``checked_on`` date)."""


class BedrockModelCatalog:
    """Base models that accept customization jobs, by model id, with their family facts."""

    def __init__(
        self,
        families: Iterable[ModelFamily],
        models: Iterable[BedrockBaseModel],
        distillation_teachers: Iterable[str] = (),
        checked_on: str = "",
    ) -> None:
        self.checked_on = checked_on
        """Date (YYYY-MM-DD) the catalog was last checked against AWS's tables."""
        self._families: dict[str, ModelFamily] = {f.family: f for f in families}
        self._models: dict[str, BedrockBaseModel] = {}
        self.distillation_teachers: tuple[str, ...] = tuple(distillation_teachers)
        for model in models:
            self._add(model)

    def __contains__(self, model_id: object) -> bool:
        return isinstance(model_id, str) and model_id in self._models

    def __iter__(self) -> Iterator[BedrockBaseModel]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def family_names(self) -> list[str]:
        return sorted(self._families)

    def model_ids(self) -> list[str]:
        return sorted(self._models)

    def family(self, name: str) -> ModelFamily:
        """The family ``name``; ``KeyError`` names the known families."""
        try:
            return self._families[name]
        except KeyError:
            raise KeyError(
                f"model family {name!r} is not in the catalog; known families: "
                + ", ".join(self.family_names())
            ) from None

    def register(
        self,
        model_id: str,
        family: str,
        customization_types: Iterable[CustomizationType] | None = None,
    ) -> BedrockBaseModel:
        """Add ``model_id`` as a member of an existing ``family`` (or replace its entry)."""
        model = BedrockBaseModel(
            model_id=model_id,
            family=family,
            customization_types=None if customization_types is None else tuple(customization_types),
        )
        self._add(model)
        return model

    def _add(self, model: BedrockBaseModel) -> None:
        self.family(model.family)  # fails on an unknown family
        self._models[model.model_id] = model

    def resolve(
        self, model_id: str, *, family: str | None = None
    ) -> tuple[BedrockBaseModel, ModelFamily]:
        """The entry and family of ``model_id``. With ``family``, an unlisted id is accepted as
        a member of that family. Raises ``KeyError`` with one readable message."""
        if family is not None:
            listed = self._models.get(model_id)
            if listed is not None and listed.family == family:
                return listed, self.family(family)
            return BedrockBaseModel(model_id=model_id, family=family), self.family(family)
        model = self._models.get(model_id)
        if model is None:
            raise KeyError(
                f"base_model_id {model_id!r} is not in the Bedrock model catalog; known: "
                f"{', '.join(self.model_ids())}. Register it with "
                "default_bedrock_catalog().register(model_id, family) or set base_model_family "
                f"(families: {', '.join(self.family_names())})."
            )
        return model, self.family(model.family)

    def supported_types(
        self, model: BedrockBaseModel, family: ModelFamily
    ) -> tuple[CustomizationType, ...]:
        if model.customization_types is None:
            return family.customization_types
        return tuple(t for t in family.customization_types if t in model.customization_types)


def validate_hyperparameters(
    model_id: str, family: ModelFamily, values: Mapping[str, str | int | float]
) -> dict[str, str]:
    """Check ``values`` against ``family``'s ranges; return them as the strings the API takes.

    Raises ``ValueError`` naming the parameter, the value, the range and the base model.
    """
    rendered: dict[str, str] = {}
    where = f"for base model {model_id!r} (family {family.family})"
    for name, raw in values.items():
        spec = family.hyperparameter(name)
        if spec is None:
            accepted = ", ".join(s.name for s in family.hyperparameters)
            raise ValueError(
                f"hyperparameter {name!r} is not accepted {where}; accepted: {accepted}."
            )
        span = f"{_number(spec.min)} to {_number(spec.max)}"
        number = _parse_number(raw)
        if number is None or (spec.type == "int" and not float(number).is_integer()):
            kind = "an integer" if spec.type == "int" else "a number"
            raise ValueError(
                f"hyperparameter {name!r} = {raw!r} must be {kind} in the range {span} {where}."
            )
        if not spec.min <= number <= spec.max:
            raise ValueError(
                f"hyperparameter {name!r} = {raw!r} is outside the range {span} {where}."
            )
        rendered[name] = str(int(number)) if spec.type == "int" else _number(number)
    return rendered


def _parse_number(raw: str | int | float) -> float | None:
    if isinstance(raw, bool):
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else repr(float(value))


def _parse_catalog(document: Mapping[str, Any]) -> BedrockModelCatalog:
    return BedrockModelCatalog(
        families=[ModelFamily.model_validate(f) for f in document.get("families", [])],
        models=[BedrockBaseModel.model_validate(m) for m in document.get("models", [])],
        distillation_teachers=document.get("distillation_teachers", []),
        checked_on=str(document.get("checked_on", "")),
    )


@cache
def default_bedrock_catalog() -> BedrockModelCatalog:
    """The catalog shipped with the package (one shared instance: ``register`` adds to it)."""
    text = (
        resources.files("cdk_llm_training.config").joinpath("data/bedrock_models.json").read_text()
    )
    return _parse_catalog(json.loads(text))


def load_bedrock_catalog(override_file: str | Path | None = None) -> BedrockModelCatalog:
    """A new catalog: the shipped data plus families, models and teachers from
    ``override_file`` (same JSON shape), which add to or replace shipped entries."""
    shipped = json.loads(
        resources.files("cdk_llm_training.config").joinpath("data/bedrock_models.json").read_text()
    )
    if override_file is not None:
        extra = json.loads(Path(override_file).read_text())
        for section in ("families", "models", "distillation_teachers"):
            shipped[section] = [*shipped.get(section, []), *extra.get(section, [])]
    return _parse_catalog(shipped)


# -- options -------------------------------------------------------------------------------


class DistillationOptions(FrozenModel):
    """Teacher settings of a DISTILLATION job (the API's ``customizationConfig``)."""

    teacher_model_id: str = Field(min_length=1, max_length=2048)
    """Teacher model id or inference-profile ARN, e.g. ``amazon.nova-premier-v1:0``."""
    max_response_length_for_inference: int | None = Field(default=None, ge=1)
    """Maximum tokens the job requests from the teacher. Default: the service default."""


def _check_prefix(value: str) -> str:
    if "*" in value or "?" in value:
        raise ValueError(f"{value!r} must be a literal S3 key prefix; '*' and '?' are not allowed")
    if value.startswith("/"):
        raise ValueError(f"{value!r} must not start with '/'; S3 keys have no leading slash")
    return value


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
    dataset_prefix: str = "finetune/"
    """Curated-zone prefix the datasets live under (the only prefix the job may read)."""
    output_prefix: str = "bedrock/customization-output/"
    """Artifacts-zone prefix the job writes its output under (one folder per job name)."""
    report_prefix: str = "bedrock/validation-reports/"
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
    log_retention_days: int = 365
    """Retention of the workflow and validator log groups. Default 365."""
    evaluation: ModelEvaluationOptions | None = None
    """Opt-in evaluation after a successful job: provisioned throughput for the custom model,
    Bedrock evaluation jobs against the base model, a JSON report and a threshold gate (see
    :class:`cdk_llm_training.ModelEvaluation`). Default: off."""

    @field_validator("dataset_prefix", "output_prefix", "report_prefix")
    @classmethod
    def _literal_prefix(cls, value: str) -> str:
        return _check_prefix(value)

    @field_validator("job_name_prefix")
    @classmethod
    def _name_prefix(cls, value: str) -> str:
        if not JOB_NAME_PREFIX_PATTERN.match(value):
            raise ValueError(
                f"{value!r} must be letters, digits and single hyphens, starting and ending "
                "with a letter or digit"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
            raise ValueError(f"{value} is not a CloudWatch Logs retention; allowed: {allowed}")
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
