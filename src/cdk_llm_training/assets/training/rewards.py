"""GRPO rewards: built-in verifiable rewards and a user reward function loaded from a file.
Pure Python (standard library only).

Every reward has TRL's reward-function signature ``f(prompts, completions, **columns) ->
list[float]``: ``columns`` holds the dataset's other fields per completion (``answer``,
``pattern``, ``schema``). Built-in rewards score 1.0 or 0.0:

- ``exact_match``: the completion, stripped, equals the record's ``answer``;
- ``regex``: the record's ``pattern`` (or ``--reward_pattern``) is found in the completion
  (``re.search``: anchor with ``^...$`` for a whole-answer match);
- ``json_schema``: the completion is a JSON document valid against the record's ``schema``.
  The checker covers the JSON Schema keywords ``type``, ``properties``, ``required``,
  ``additionalProperties`` (boolean), ``items``, ``enum``, ``const``, ``minimum``,
  ``maximum``, ``minLength``, ``maxLength``, ``minItems`` and ``maxItems``; other keywords
  are ignored.

A user reward file is a Python file defining a function (default name ``reward``) with the
signature above; it may return one float per completion (``None`` to abstain).
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .args import TrainingError

RewardFunction = Callable[..., list[float | None]]


def _text(completion: Any) -> str:
    """A completion as text (conversational completions are lists of messages)."""
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


def exact_match(
    prompts: Sequence[Any], completions: Sequence[Any], answer: Sequence[str] = (), **_: Any
) -> list[float | None]:
    """1.0 when the stripped completion equals the record's ``answer``."""
    del prompts
    return [
        float(_text(c).strip() == str(a).strip()) if a else None
        for c, a in zip(completions, answer or [""] * len(completions), strict=True)
    ]


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def regex_reward(default_pattern: str = "") -> RewardFunction:
    """1.0 when the record's ``pattern`` (else ``default_pattern``) is found."""

    def regex(
        prompts: Sequence[Any], completions: Sequence[Any], pattern: Sequence[str] = (), **_: Any
    ) -> list[float | None]:
        del prompts
        patterns = list(pattern) or [""] * len(completions)
        scores: list[float | None] = []
        for completion, own in zip(completions, patterns, strict=True):
            chosen = own or default_pattern
            scores.append(
                float(bool(_compiled(chosen).search(_text(completion)))) if chosen else None
            )
        return scores

    return regex


def json_schema(
    prompts: Sequence[Any], completions: Sequence[Any], schema: Sequence[str] = (), **_: Any
) -> list[float | None]:
    """1.0 when the completion parses as JSON and is valid against the record's ``schema``."""
    del prompts
    scores: list[float | None] = []
    for completion, text in zip(completions, list(schema) or [""] * len(completions), strict=True):
        if not text:
            scores.append(None)
            continue
        try:
            document = json.loads(_text(completion).strip())
        except ValueError:
            scores.append(0.0)
            continue
        scores.append(float(not schema_problems(document, json.loads(text))))
    return scores


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_problems(value: Any, schema: Any, where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (the keyword subset of the module docstring)."""
    if not isinstance(schema, dict):
        return []
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_TYPES.get(n, lambda _v: True)(value) for n in names):
            return [f"{where} is not of type {expected}"]
    if "const" in schema and value != schema["const"]:
        return [f"{where} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where} is not one of {schema['enum']!r}"]
    problems: list[str] = []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where} is above {schema['maximum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{where} is shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where} is longer than {schema['maxLength']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{where} has fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{where} has more than {schema['maxItems']} items")
        for index, item in enumerate(value):
            problems += schema_problems(item, schema.get("items"), f"{where}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        problems += [
            f"{where}.{k} is missing" for k in schema.get("required", []) if k not in value
        ]
        for key, item in value.items():
            if key in properties:
                problems += schema_problems(item, properties[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}.{key} is not allowed")
    return problems


def load_user_reward(path: Path, function: str) -> RewardFunction:
    """The function ``function`` of the Python file ``path``."""
    if not path.is_file():
        raise TrainingError(f"--reward_file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"user_reward_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise TrainingError(f"--reward_file {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise TrainingError(
            f"--reward_file {path} failed to load: {type(error).__name__}: {error}"
        ) from None
    found = getattr(module, function, None)
    if not callable(found):
        raise TrainingError(
            f"--reward_file {path} defines no function {function!r} (set --reward_function)"
        )
    reward: RewardFunction = found
    return reward


def build_rewards(
    names: Sequence[str], *, pattern: str = "", reward_file: Path | None = None, function: str = ""
) -> list[RewardFunction]:
    """The reward functions of a GRPO run, built-in ones first, then the user's."""
    built_in: dict[str, RewardFunction] = {
        "exact_match": exact_match,
        "regex": regex_reward(pattern),
        "json_schema": json_schema,
    }
    rewards = [built_in[name] for name in names]
    if reward_file is not None:
        rewards.append(load_user_reward(reward_file, function or "reward"))
    if not rewards:
        raise TrainingError("method=grpo needs a reward: set --rewards or --reward_file")
    return rewards


REWARD_FIELDS = {"exact_match": "answer", "regex": "pattern", "json_schema": "schema"}
"""The record field each built-in reward reads."""


def check_reward_fields(rows: Sequence[dict[str, Any]], names: Sequence[str], pattern: str) -> None:
    """Every record holds the field its rewards need (the regex reward may use ``pattern``)."""
    for name in names:
        needed = REWARD_FIELDS[name]
        if name == "regex" and pattern:
            continue
        missing = [i + 1 for i, row in enumerate(rows) if not row.get(needed)]
        if missing:
            shown = ", ".join(str(n) for n in missing[:10])
            raise TrainingError(
                f"reward {name} reads field '{needed}', which {len(missing)} records lack "
                f"(records {shown}{', ...' if len(missing) > 10 else ''})"
            )
