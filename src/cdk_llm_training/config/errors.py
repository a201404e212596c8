"""Turning pydantic validation errors into one readable paragraph.

Each problem names the field, the value received (shortened: a section is never dumped) and
what is allowed. Unknown keys get the closest known key and the section's keys.
"""

from __future__ import annotations

import difflib
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

MAX_VALUE_CHARS = 60
"""Longest rendering of a received value; longer values are cut with an ellipsis."""


class ConfigError(ValueError):
    """A configuration file or value is invalid. The message names the field and the value."""


def describe_validation_error(
    error: ValidationError, *, source: str, model: type[BaseModel] | None = None
) -> str:
    """Render ``error`` as one paragraph: ``source: field 'a.b' = 3: reason; ...``.

    :param model: the root model that was validated; with it, unknown keys get a suggestion
        and the list of the section's keys. Default: the model named in ``error``, if any.
    """
    items = error.errors()
    locations = [tuple(item["loc"]) for item in items]
    by_field: dict[str, list[str]] = {}
    for item, loc in zip(items, locations, strict=True):
        if any(other[: len(loc)] == loc and len(other) > len(loc) for other in locations):
            continue  # a follow-on of a problem inside this value, reported on its own
        field_path, section = _field_path(model, loc)
        part = _describe(item, field_path, section)
        reasons = by_field.setdefault(field_path, [])
        if part not in reasons:
            reasons.append(part)
    parts = [_one_of(reasons) for reasons in by_field.values()]
    return f"{source}: invalid configuration: " + "; ".join(parts) + "."


def _one_of(reasons: list[str]) -> str:
    """One field that failed every member of a union (``str | int | float``): one sentence."""
    if len(reasons) == 1:
        return reasons[0]
    head, _, _ = reasons[0].rpartition(": ")
    kinds = [r.rpartition("should be a valid ")[2] for r in reasons if "should be a valid " in r]
    if head and len(kinds) == len(reasons):
        return f"{head}: expected one of: {', '.join(kinds)}"
    return "; ".join(reasons)


def _describe(item: Mapping[str, Any], field: str, section: type[BaseModel] | None) -> str:
    kind = item["type"]
    value = item.get("input")
    ctx = item.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key(field, section)
    if kind == "missing":
        return f"field '{field}' is required"
    shown = f"field '{field}'" if field != "(root)" else "the configuration"
    if not _is_section(value):
        shown += f" = {_short(value)}"
    return f"{shown}: {_reason(kind, item['msg'], ctx, value)}"


def _unknown_key(field: str, section: type[BaseModel] | None) -> str:
    parent, _, key = field.rpartition(".")
    message = f"field '{field}' is not a known setting"
    if section is None:
        return message
    known = list(section.model_fields)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean '{close[0]}'?"
    where = f"'{parent}'" if parent else "the top level"
    return f"{message} (settings of {where}: {', '.join(known)})"


_BOUNDS = {
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
    "too_short": "at least {min_length} item(s)",
    "too_long": "at most {max_length} item(s)",
    "string_too_short": "at least {min_length} character(s)",
    "string_too_long": "at most {max_length} character(s)",
    "string_pattern_mismatch": "text matching {pattern}",
    "enum": "{expected}",
    "literal_error": "{expected}",
    "multiple_of": "a multiple of {multiple_of}",
}


def _reason(kind: str, message: str, ctx: Mapping[str, Any], value: Any) -> str:
    if kind in _BOUNDS:
        try:
            return "allowed: " + _BOUNDS[kind].format(**ctx)
        except KeyError:
            pass
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return "expected text; quote the value in YAML (for example '1.30')"
    if kind in ("value_error", "assertion_error"):
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
    return message.rstrip(".")


def _is_section(value: Any) -> bool:
    return isinstance(value, Mapping | BaseModel) or (
        isinstance(value, Sequence) and not isinstance(value, str) and len(value) > 3
    )


def _short(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    text = repr(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 3] + "..."
    return text


def _field_path(model: type[BaseModel] | None, loc: Sequence[int | str]) -> tuple[str, Any]:
    """The dotted field path of ``loc`` (union-member tags dropped, indices as ``[i]``) and
    the model class that holds its last key, when it can be followed."""
    path = ""
    current: Any = model
    holder: type[BaseModel] | None = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            current = _element(current)
            continue
        model_class = _model_of(current)
        if model_class is not None:
            holder = model_class
            field = model_class.model_fields.get(part)
            path += f".{part}" if path else part
            current = field.annotation if field is not None else None
            continue
        if _is_tag(part, current):
            continue  # a union member or validator tag, not a key the user wrote
        path += f".{part}" if path else part
        current = _element(current)
        holder = None
    return path or "(root)", holder


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation) if _is_union(annotation) else ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _element(annotation: Any) -> Any:
    """The type of one element / value of a tuple, list or dict annotation."""
    if _is_union(annotation):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _element(arg)
        return None
    args = typing.get_args(annotation)
    return args[-1] if args else None


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _is_tag(part: str, annotation: Any) -> bool:
    """pydantic adds union members ('str', 'int', 'LabelingOptions') and validator wrappers
    ('function-after[...]') to error locations; they are not keys the user wrote."""
    if "[" in part:
        return True
    if not _is_union(annotation):
        return False
    members = {getattr(arg, "__name__", str(arg)) for arg in typing.get_args(annotation)}
    return part in members or part in {"str", "int", "float", "bool", "none"}
