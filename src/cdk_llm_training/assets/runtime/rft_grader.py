"""Lambda handler: the reward function (grader) of a Bedrock reinforcement fine-tuning job.

Plain Python plus boto3 (the Lambda Python runtime). Contract, as AWS documents it for RFT
reward Lambdas ("Setting up reward functions", Amazon Bedrock User Guide): the event is a
list of samples ``{"id": str, "messages": [..., {"role": "assistant", "content": str}],
"reference_answer": any, ...}`` (the model's response is the last, assistant, message; some
pages of the guide show the reference answer and the record's extra fields under
``"metadata"`` instead, so both places are read); the result is one record per sample,
``{"id": str, "aggregate_reward_score": float, "metrics_list": [{"name": str, "value":
float, "type": "Reward" | "Metric"}]}``.

Configuration (environment variables set by :class:`cdk_llm_training.BedrockFineTuneJob`):

``GRADER_KIND``
    ``exact_match``, ``regex``, ``json_schema`` or ``python``.
``GRADER_PATTERN``, ``GRADER_CASE_SENSITIVE`` (``true`` / ``false``), ``GRADER_JSON_SCHEMA``
    the built-in graders' settings.
``GRADER_SOURCE_BUCKET``, ``GRADER_SOURCE_KEY``
    ``python``: the user's file, loaded once per execution environment. It defines
    ``grade(sample) -> float`` (0 to 1) or ``lambda_grader(samples) -> list`` (records as
    above).

A sample that cannot be scored (no assistant message, no reference answer) scores 0.0 with
a ``Metric`` named ``unscorable``: one bad sample does not fail the batch.
"""

from __future__ import annotations

import json
import math
import os
import re
import types
from collections.abc import Callable, Mapping
from typing import Any, cast

Grader = Callable[[list[Any]], list[dict[str, Any]]]

_loaded: dict[str, Grader] = {}


def handler(event: Any, context: Any = None, *, s3: Any = None) -> list[dict[str, Any]]:
    """Score every sample of ``event`` (a list; a single sample object is accepted too)."""
    samples = event if isinstance(event, list) else [event]
    grader = _grader(os.environ, s3)
    return grader(samples)


def _grader(env: Mapping[str, str], s3: Any) -> Grader:
    cache_key = json.dumps(dict(env), sort_keys=True)
    if cache_key not in _loaded:
        _loaded[cache_key] = build_grader(env, s3)
    return _loaded[cache_key]


def build_grader(env: Mapping[str, str], s3: Any = None) -> Grader:
    """The grader ``env`` describes; ``ValueError`` names an unknown kind."""
    kind = env.get("GRADER_KIND", "")
    case_sensitive = env.get("GRADER_CASE_SENSITIVE", "false") == "true"
    if kind == "exact_match":
        return per_sample("exact_match", lambda r, ref: exact_match(r, ref, case_sensitive))
    if kind == "regex":
        flags = 0 if case_sensitive else re.IGNORECASE
        pattern = re.compile(env["GRADER_PATTERN"], flags)
        return per_sample("regex", lambda r, ref: regex_match(pattern, r, ref, case_sensitive))
    if kind == "json_schema":
        schema = json.loads(env["GRADER_JSON_SCHEMA"])
        return per_sample("json_schema", lambda r, _ref: json_schema_score(r, schema))
    if kind == "python":
        return python_grader(env["GRADER_SOURCE_BUCKET"], env["GRADER_SOURCE_KEY"], s3)
    raise ValueError(
        f"GRADER_KIND {kind!r} is not a grader; allowed: exact_match, regex, json_schema, python"
    )


# -- samples --------------------------------------------------------------------------------


def response_text(sample: Mapping[str, Any]) -> str | None:
    """The model's response: the content of the last message, when it is the assistant's."""
    messages = sample.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        return None
    last = messages[-1]
    content = last.get("content")
    if last.get("role") != "assistant" or not isinstance(content, str):
        return None
    return content


def reference_answer(sample: Mapping[str, Any]) -> Any:
    """The sample's reference answer, at the top level or under ``metadata``."""
    if sample.get("reference_answer") is not None:
        return sample["reference_answer"]
    metadata = sample.get("metadata")
    return metadata.get("reference_answer") if isinstance(metadata, dict) else None


def reference_text(reference: Any) -> str:
    """A reference answer as text: a string as is; an object's ``answer`` / ``solution``
    string when it has one; otherwise its JSON."""
    if isinstance(reference, str):
        return reference
    if isinstance(reference, dict):
        for key in ("answer", "solution"):
            if isinstance(reference.get(key), str):
                return str(reference[key])
    return json.dumps(reference, ensure_ascii=False, sort_keys=True)


def record(sample_id: Any, score: float, name: str, *, kind: str = "Reward") -> dict[str, Any]:
    """One output record in the documented shape."""
    return {
        "id": str(sample_id),
        "aggregate_reward_score": score,
        "metrics_list": [{"name": name, "value": score, "type": kind}],
    }


def per_sample(name: str, score: Callable[[str, Any], float]) -> Grader:
    """A batch grader from a per-sample score of (response, reference answer)."""

    def grade(samples: list[Any]) -> list[dict[str, Any]]:
        out = []
        for index, sample in enumerate(samples):
            sample_id = sample.get("id", index) if isinstance(sample, dict) else index
            response = response_text(sample) if isinstance(sample, dict) else None
            reference = reference_answer(sample) if isinstance(sample, dict) else None
            if response is None or (reference is None and name != "json_schema"):
                out.append(record(sample_id, 0.0, "unscorable", kind="Metric"))
                continue
            out.append(record(sample_id, float(score(response, reference)), name))
        return out

    return grade


# -- built-in verifiable graders ------------------------------------------------------------


def exact_match(response: str, reference: Any, case_sensitive: bool) -> float:
    expected = reference_text(reference).strip()
    actual = response.strip()
    if not case_sensitive:
        expected, actual = expected.casefold(), actual.casefold()
    return 1.0 if actual == expected else 0.0


def regex_match(
    pattern: re.Pattern[str], response: str, reference: Any, case_sensitive: bool
) -> float:
    match = pattern.search(response)
    if match is None:
        return 0.0
    if pattern.groups == 0:
        return 1.0
    return exact_match(match.group(1) or "", reference, case_sensitive)


def json_schema_score(response: str, schema: Mapping[str, Any]) -> float:
    try:
        value = json.loads(response)
    except ValueError:
        return 0.0
    return 1.0 if not schema_problems(value, schema) else 0.5


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_problems(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (the subset listed in the module docstring)."""
    problems: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_TYPES.get(name, lambda _v: False)(value) for name in names):
            return [f"{path}: expected {expected}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: not one of the enum values")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{path}.{name}: required")
        for name, item in value.items():
            if name in properties:
                problems.extend(schema_problems(item, properties[name], f"{path}.{name}"))
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}.{name}: not allowed")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            problems.extend(schema_problems(item, schema["items"], f"{path}[{index}]"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: below minimum")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: above maximum")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"{path}: shorter than minLength")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{path}: longer than maxLength")
    return problems


# -- the user's Python file -----------------------------------------------------------------


def python_grader(bucket: str, key: str, s3: Any = None) -> Grader:
    """Load the user's grader module from ``s3://bucket/key`` (once per environment)."""
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    source = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    module = types.ModuleType("user_grader")
    module.__file__ = f"s3://{bucket}/{key}"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    batch = getattr(module, "lambda_grader", None)
    if callable(batch):
        # As returned: a wrong shape must reach the probe (and the job) as it is.
        return cast(Grader, batch)
    single = getattr(module, "grade", None)
    if not callable(single):
        raise ValueError(
            f"s3://{bucket}/{key} defines neither grade(sample) nor lambda_grader(samples)"
        )

    def grade(samples: list[Any]) -> list[dict[str, Any]]:
        out = []
        for index, sample in enumerate(samples):
            sample_id = sample.get("id", index) if isinstance(sample, dict) else index
            score = float(single(sample))
            if not math.isfinite(score):
                raise ValueError(f"grade() returned {score} for sample {sample_id}")
            out.append(record(sample_id, score, "user_grader"))
        return out

    return grade
