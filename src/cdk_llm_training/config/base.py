"""Shared base for every plain-data option model."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


class YamlNumber:
    """Mixin of the numbers the config loader reads: they remember the scalar's text, so a
    text field given ``kubernetes_version: 1.30`` unquoted receives ``"1.30"``, not ``1.3``."""

    text: str


class YamlFloat(float, YamlNumber):
    """A YAML float scalar with its original text."""

    text: str


class YamlInt(int, YamlNumber):
    """A YAML int scalar with its original text."""

    text: str


class FrozenModel(BaseModel):
    """Immutable options model that rejects unknown fields (typos fail loudly).

    Two input conveniences apply to every model:

    * a partial section (a mapping) merges over the section's preset: the settings in which
      the field's default differs from the section model's own defaults, declared in
      :attr:`section_presets` (the small tier's ``labeling`` preset ``workforce.mode:
      cognito`` stays when the file sets only ``labeling.teams``); lists and ``null``
      replace;
    * a number written where text is expected keeps the text the YAML file had.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    section_presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Field name -> the settings its default sets over the section model's defaults. A field
    whose default is a model must equal ``Model.model_validate(preset)`` (tested)."""

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults_and_texts(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            if name not in merged:
                continue
            value = merged[name]
            preset = cls.section_presets.get(name)
            if isinstance(value, Mapping) and preset:
                merged[name] = deep_merge(preset, value)
            elif isinstance(value, YamlNumber) and _expects_text(field.annotation):
                merged[name] = value.text
        return merged


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, anything else replaces."""
    result = dict(base)
    for key, value in override.items():
        below = result.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            result[key] = deep_merge(below, value)
        else:
            result[key] = value
    return result


def _expects_text(annotation: Any) -> bool:
    """Whether a field takes text and no number (``str`` or ``str | None``)."""
    annotation = _unannotated(annotation)
    if annotation is str:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = {_unannotated(arg) for arg in typing.get_args(annotation)} - {type(None)}
        return args == {str}
    return False


def _unannotated(annotation: Any) -> Any:
    """``Annotated[X, ...]`` -> ``X`` (the shared field types of config.types are annotated)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation
