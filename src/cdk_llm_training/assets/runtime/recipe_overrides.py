"""Hydra-style command-line overrides applied to a recipe (a plain JSON-like dict).

Forms (Hydra's override grammar, the subset recipes use):

- ``a.b=v``: change an existing key (the key must exist, as Hydra requires without ``+``);
- ``+a.b=v``: add a key that does not exist yet (missing parents are created);
- ``++a.b=v``: add or change;
- ``~a.b`` (or ``~a.b=v``, which deletes only when the current value equals ``v``): delete.

Values are parsed the way Hydra parses them: ``null``; ``true``/``false`` in any case;
integers (``1_000`` allowed, as in Hydra) and floats (``1e-4``, ``inf``, ``nan``); quoted
strings (single or double quotes, kept verbatim); lists ``[a, b]`` and dicts ``{k: v}`` of
those, nested; anything else is a string with surrounding whitespace removed. Keys in a dotted
path that look like integers index lists (``trainer.callbacks.0.x=1``).

Standard library only: this module ships in the Lambda asset.
"""

from __future__ import annotations

import math
import re
from typing import Any

_KEY = re.compile(r"^[A-Za-z_0-9][\w\-@/]*(\.[A-Za-z_0-9][\w\-@/]*)*$")
_INT = re.compile(r"^[+-]?(0|[1-9](_?\d)*)$")
_FLOAT = re.compile(
    # Hydra's FLOAT: a point float (1.5, .5, 1.) with an optional exponent, or an exponent float
    r"^[+-]?((((\d(_?\d)*)?\.\d(_?\d)*)|\d(_?\d)*\.)([eE][+-]?\d+)?|\d(_?\d)*[eE][+-]?\d+)$"
)
_SPECIAL_FLOATS = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class OverrideError(ValueError):
    """An override cannot be parsed or applied; the message quotes the override."""


def parse_value(text: str) -> Any:
    """The typed value of ``text`` (see the module docstring)."""
    value, rest = _parse(text.strip(), 0, top=True)
    if rest != len(text.strip()):
        raise ValueError(f"unexpected {text.strip()[rest:]!r}")
    return value


def _parse(text: str, pos: int, *, top: bool) -> tuple[Any, int]:
    if pos < len(text) and text[pos] in "[{":
        return _parse_container(text, pos)
    if pos < len(text) and text[pos] in "'\"":
        quote = text[pos]
        end = text.find(quote, pos + 1)
        if end < 0:
            raise ValueError(f"unterminated quote in {text!r}")
        return text[pos + 1 : end], end + 1
    stop = len(text) if top else _scalar_end(text, pos)
    return _scalar(text[pos:stop].strip()), stop


def _scalar_end(text: str, pos: int) -> int:
    depth = 0
    for index in range(pos, len(text)):
        char = text[index]
        if char in "[{":
            depth += 1
        elif char in "]}" and depth == 0:
            return index
        elif char in "]}":
            depth -= 1
        elif char in ",:" and depth == 0:
            return index
    return len(text)


def _parse_container(text: str, pos: int) -> tuple[Any, int]:
    closing = "]" if text[pos] == "[" else "}"
    is_list = closing == "]"
    items: list[Any] = []
    entries: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    if pos < len(text) and text[pos] == closing:
        return ([] if is_list else {}), pos + 1
    while pos < len(text):
        if is_list:
            value, pos = _parse(text, pos, top=False)
            items.append(value)
        else:
            key_end = text.find(":", pos)
            if key_end < 0:
                raise ValueError(f"dict entry without ':' in {text!r}")
            key = text[pos:key_end].strip().strip("'\"")
            value, pos = _parse(text, _skip(text, key_end + 1), top=False)
            entries[key] = value
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == closing:
            return (items if is_list else entries), pos + 1
        break
    raise ValueError(f"unterminated {'list' if is_list else 'dict'} in {text!r}")


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] == " ":
        pos += 1
    return pos


def _scalar(word: str) -> Any:
    lowered = word.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.match(word):
        return int(word.replace("_", ""))
    if lowered in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[lowered]
    if _FLOAT.match(word):
        return float(word.replace("_", ""))
    return word


def _walk(root: dict[str, Any], parts: list[str], *, create: bool, override: str) -> Any:
    """The container holding the last part of ``parts``."""
    node: Any = root
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, dict) and create:
            node[part] = {}
            node = node[part]
        else:
            path = ".".join(parts[: depth + 1])
            raise OverrideError(f"override {override!r}: the recipe has no key {path!r}")
        if not isinstance(node, dict | list):
            path = ".".join(parts[: depth + 1])
            raise OverrideError(f"override {override!r}: {path!r} is a value, not a section")
    return node


def apply_override(config: dict[str, Any], override: str) -> None:
    """Apply one override to ``config`` in place; :class:`OverrideError` names it."""
    if not isinstance(override, str) or not override.strip():
        raise OverrideError(f"override {override!r} must be a non-empty string")
    text = override.strip()
    prefix = "++" if text.startswith("++") else text[0] if text[0] in "+~" else ""
    body = text[len(prefix) :]
    key, has_value, raw = body.partition("=")
    key = key.strip()
    if not _KEY.match(key):
        raise OverrideError(
            f"override {override!r}: {key!r} is not a dotted key path (letters, digits, _ - @ /)"
        )
    if prefix != "~" and not has_value:
        raise OverrideError(f"override {override!r} needs '=value' (or '~key' to delete)")
    try:
        value = parse_value(raw) if has_value else None
    except ValueError as error:
        raise OverrideError(f"override {override!r}: cannot parse the value ({error})") from None
    parts = key.split(".")
    parent = _walk(config, parts, create=prefix in ("+", "++"), override=override)
    last = parts[-1]
    if isinstance(parent, list):
        if not (last.isdigit() and int(last) < len(parent)) or prefix == "~":
            raise OverrideError(
                f"override {override!r}: {last!r} is not an index of the list at "
                f"{'.'.join(parts[:-1])!r} (length {len(parent)}); lists take '=' only"
            )
        parent[int(last)] = value
        return
    exists = last in parent
    if prefix == "~":
        if not exists:
            raise OverrideError(f"override {override!r}: the recipe has no key {key!r} to delete")
        if has_value and parent[last] != value:
            raise OverrideError(
                f"override {override!r}: {key!r} is {parent[last]!r}, not {value!r}; not deleted"
            )
        del parent[last]
    elif prefix == "+" and exists:
        raise OverrideError(
            f"override {override!r}: {key!r} already exists; use '{key}=...' to change it "
            f"or '++{key}=...' to force"
        )
    elif prefix == "" and not exists:
        raise OverrideError(
            f"override {override!r}: the recipe has no key {key!r}; use '+{key}=...' to add it"
        )
    else:
        parent[last] = value


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``config`` with every override applied in order (``config`` itself is changed)."""
    for override in overrides:
        apply_override(config, override)
    return config
