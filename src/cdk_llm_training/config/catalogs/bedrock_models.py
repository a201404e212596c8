"""The Bedrock base-model catalog shipped with the package.

Pure Python (no aws_cdk import). The data lives in ``config/catalogs/data/bedrock_models.json``:
model family -> record format per customization type, hyperparameters with ranges and
defaults, dataset limits. Register a model id of an existing family without a release with
``default_bedrock_catalog().register(model_id, family)`` (or the ``base_model_family`` option).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from cdk_llm_training.config.base import FrozenModel


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
    ``cdk_llm_training.assets.runtime.dataset_validation``)."""
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
        resources.files("cdk_llm_training.config.catalogs")
        .joinpath("data/bedrock_models.json")
        .read_text()
    )
    return _parse_catalog(json.loads(text))


def load_bedrock_catalog(override_file: str | Path | None = None) -> BedrockModelCatalog:
    """A new catalog: the shipped data plus families, models and teachers from
    ``override_file`` (same JSON shape), which add to or replace shipped entries."""
    shipped = json.loads(
        resources.files("cdk_llm_training.config.catalogs")
        .joinpath("data/bedrock_models.json")
        .read_text()
    )
    if override_file is not None:
        extra = json.loads(Path(override_file).read_text())
        for section in ("families", "models", "distillation_teachers"):
            shipped[section] = [*shipped.get(section, []), *extra.get(section, [])]
    return _parse_catalog(shipped)
