"""Options of :class:`cdk_llm_training.ModelEvaluation` and the record model of the evaluation
prompt catalog."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.catalogs.custom_model_deployment import EvaluationInference
from cdk_llm_training.config.types import S3Key, S3Prefix

# -- evaluation prompt catalog --------------------------------------------------------------


class EvaluationTaskType(StrEnum):
    """Task types of the prompt catalog (Bedrock evaluation's ``taskType`` values)."""

    GENERATION = "Generation"
    SUMMARIZATION = "Summarization"
    CLASSIFICATION = "Classification"
    QUESTION_AND_ANSWER = "QuestionAndAnswer"
    CUSTOM = "Custom"


class EvaluationPrompt(FrozenModel):
    """One line of an evaluation prompt catalog (JSONL). The runtime validator
    (``cdk_llm_training.assets.runtime.evaluation_prompts``) checks the same shape without pydantic.

    ``{"prompt": "...", "reference": "...", "task_type": "QuestionAndAnswer", "tags": ["x"]}``
    """

    prompt: str = Field(min_length=1)
    reference: str | None = None
    """The reference (ground-truth) answer. Needed by correctness-style metrics."""
    task_type: EvaluationTaskType = EvaluationTaskType.GENERATION
    tags: tuple[str, ...] = ()
    id: str | None = None


# -- model evaluation -----------------------------------------------------------------------

JUDGE_METRICS = (
    "Builtin.Correctness",
    "Builtin.Completeness",
    "Builtin.Faithfulness",
    "Builtin.Helpfulness",
    "Builtin.Coherence",
    "Builtin.Relevance",
    "Builtin.FollowingInstructions",
    "Builtin.ProfessionalStyleAndTone",
    "Builtin.Harmfulness",
    "Builtin.Stereotyping",
    "Builtin.Refusal",
)
"""LLM-as-a-judge metrics of Bedrock model evaluation."""

ALGORITHMIC_METRICS = ("Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity")
"""Built-in (algorithmic) metrics of Bedrock automatic model evaluation."""

LOWER_IS_BETTER = ("Builtin.Harmfulness", "Builtin.Stereotyping", "Builtin.Toxicity")
"""Metrics where a smaller score is better (thresholds are maxima for these)."""

_S3_KEY_CHARS = re.compile(r"^[-!_*'().a-zA-Z0-9/]+$")


class EvaluationThresholds(FrozenModel):
    """The gate: the workflow fails (and the model stays unusable) when a threshold misses.

    ``min_scores``: metric -> lowest acceptable candidate score (highest, for lower-is-better
    metrics such as ``Builtin.Harmfulness``). ``min_improvement``: metric -> smallest
    acceptable candidate-minus-baseline difference (sign flipped for lower-is-better metrics;
    0 means "no worse than the base model").
    """

    min_scores: dict[str, float] = Field(default_factory=dict)
    min_improvement: dict[str, float] = Field(default_factory=dict)


class ModelEvaluationOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.ModelEvaluation` (the opt-in
    evaluation step of the Bedrock fine-tune workflow)."""

    prompt_catalog_key: S3Key = Field(default="evaluation/prompts.jsonl", min_length=1)
    """Curated-zone key of the evaluation prompt catalog (JSONL: ``prompt``, optional
    ``reference``, ``task_type``, ``tags``). Default ``evaluation/prompts.jsonl``."""
    task_type: EvaluationTaskType = EvaluationTaskType.GENERATION
    judge_model_id: str = Field(default="anthropic.claude-3-5-sonnet-20240620-v1:0", min_length=1)
    """Evaluator (judge) model id. Default Claude 3.5 Sonnet."""
    judge_metrics: tuple[str, ...] = (
        "Builtin.Correctness",
        "Builtin.Completeness",
        "Builtin.Helpfulness",
        "Builtin.Faithfulness",
    )
    """LLM-as-a-judge metrics. Default correctness, completeness, helpfulness, faithfulness."""
    algorithmic_metrics: tuple[str, ...] = ()
    """Built-in algorithmic metrics, run as a second job per model. Default none."""
    compare_with_base_model: bool = True
    """Also evaluate the base model and report the difference. Default on."""
    baseline_model_id: str | None = None
    """Invocable id of the base model for the comparison (a foundation model id or an
    inference profile such as ``us.amazon.nova-micro-v1:0``, which some Regions require).
    Default: the fine-tune's base model id without its context-length suffix."""
    input_prefix: S3Prefix = "evaluation/bedrock-input/"
    """Artifacts-zone prefix for the validated catalog in Bedrock's dataset format."""
    output_prefix: S3Prefix = "evaluation/bedrock-output/"
    """Artifacts-zone prefix for Bedrock evaluation output."""
    report_prefix: S3Prefix = "evaluation/reports/"
    """Artifacts-zone prefix for the JSON reports."""
    thresholds: EvaluationThresholds = EvaluationThresholds()
    """Gate thresholds. Default: none (report only)."""
    provision_throughput: bool = True
    """Buy no-commitment provisioned throughput (1 model unit) for the new custom model so it
    can be evaluated, and delete it again when the gate fails. Off: evaluate the model ARN
    given in the execution input as ``evaluationModelArn``. Default on."""
    evaluation_inference: EvaluationInference = EvaluationInference.AUTO
    """How the new custom model is invoked when ``provision_throughput`` is on: ``auto`` (a
    custom model deployment for on-demand inference where the base model and Region support
    it, else provisioned throughput), ``on-demand`` or ``provisioned``. Default ``auto``."""
    keep_deployment: bool = False
    """Keep the deployment or throughput the evaluation created when the gate passes (the
    notification names it and its billing basis). Failures always delete it. Default off."""
    inference_max_tokens: int = Field(default=1024, ge=1, le=10000)
    """On-demand route: largest answer per prompt (Converse ``maxTokens``). Default 1024."""
    invoke_batch_size: int = Field(default=100, ge=1, le=1000)
    """On-demand route: prompts answered per run of the response Lambda (it also stops
    early before its timeout and the workflow resumes where it stopped). Default 100."""
    model_units: int = Field(default=1, ge=1, le=100)
    poll_interval_seconds: int = Field(default=300, ge=30, le=3600)
    """Wait between status checks of evaluation jobs and provisioned throughput."""
    max_polls: int = Field(default=288, ge=1, le=10000)
    """Give up after this many polls per job. Default 288 (24 h at 300 s)."""

    @field_validator("input_prefix", "output_prefix", "report_prefix", "prompt_catalog_key")
    @classmethod
    def _literal(cls, value: str) -> str:
        if not _S3_KEY_CHARS.match(value):
            raise ValueError(
                f"{value!r} has characters Bedrock evaluation S3 URIs reject; allowed: letters, "
                "digits and -!_*'()./"
            )
        return value

    @field_validator("judge_metrics")
    @classmethod
    def _judge(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in value if m not in JUDGE_METRICS]
        if unknown:
            raise ValueError(
                f"judge_metrics {', '.join(unknown)} not known; allowed: {', '.join(JUDGE_METRICS)}"
            )
        return value

    @field_validator("algorithmic_metrics")
    @classmethod
    def _algorithmic(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in value if m not in ALGORITHMIC_METRICS]
        if unknown:
            raise ValueError(
                f"algorithmic_metrics {', '.join(unknown)} not known; allowed: "
                f"{', '.join(ALGORITHMIC_METRICS)}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelEvaluationOptions:
        if not self.judge_metrics and not self.algorithmic_metrics:
            raise ValueError("judge_metrics and algorithmic_metrics are both empty; set one")
        known = set(self.judge_metrics) | set(self.algorithmic_metrics)
        for label, metrics in (
            ("min_scores", self.thresholds.min_scores),
            ("min_improvement", self.thresholds.min_improvement),
        ):
            missing = sorted(set(metrics) - known)
            if missing:
                raise ValueError(
                    f"thresholds.{label} names {', '.join(missing)}, which this evaluation does "
                    f"not compute; computed: {', '.join(sorted(known))}"
                )
        if self.evaluation_inference is EvaluationInference.ON_DEMAND and self.algorithmic_metrics:
            raise ValueError(
                "evaluation_inference 'on-demand' evaluates the deployment's answers with judge "
                f"metrics only; algorithmic_metrics {', '.join(self.algorithmic_metrics)} need "
                "'provisioned' (or 'auto')"
            )
        if self.thresholds.min_improvement and not self.compare_with_base_model:
            raise ValueError(
                "thresholds.min_improvement needs compare_with_base_model=True (no baseline)"
            )
        return self
