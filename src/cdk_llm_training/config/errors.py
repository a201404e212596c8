"""Turning pydantic validation errors into one readable paragraph."""

from pydantic import ValidationError


class ConfigError(ValueError):
    """A configuration file or value is invalid. The message names the field and the value."""


def describe_validation_error(error: ValidationError, *, source: str) -> str:
    """Render ``error`` as one paragraph: ``source: field 'a.b' = 3: reason; ...``."""
    parts: list[str] = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "(root)"
        value = item.get("input")
        reason = item["msg"]
        if item["type"] == "extra_forbidden":
            parts.append(f"field '{field}' is not a known setting")
        elif item["type"] == "missing":
            parts.append(f"field '{field}' is required")
        else:
            parts.append(f"field '{field}' = {value!r}: {reason}")
    return f"{source}: invalid configuration: " + "; ".join(parts) + "."
