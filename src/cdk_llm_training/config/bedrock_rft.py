"""Reinforcement fine-tuning (RFT) options of :class:`cdk_llm_training.BedrockFineTuneJob`.

Pure Python (no aws_cdk import). The request shape is the Bedrock API's
``customizationConfig.rftConfig``: a Lambda grader (``graderConfig.lambdaGrader.lambdaArn``,
the only grader kind the API has) and typed hyperparameters (``RFTHyperParameters``). The
ranges below are the API model's (botocore ``bedrock`` 2023-04-20: ``EpochCount`` 1-50,
``RFTBatchSize`` 16-512, ``RFTLearningRate`` 1e-7 to 1e-3, ``RFTTrainingSamplePerPrompt`` 2-16,
``RFTEvalInterval`` 1-100, ``ReasoningEffort`` low / medium / high; ``maxPromptLength`` and
``inferenceMaxTokens`` have no range in the model, so only ``>= 1`` is checked here).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel


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
