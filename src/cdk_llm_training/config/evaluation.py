"""Evaluation and guardrail options, and the evaluation prompt catalog record model."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.types import LogRetentionDays, S3Key, S3Prefix

# -- guardrails ----------------------------------------------------------------------------


class FilterStrength(StrEnum):
    """Strength of one Bedrock guardrail content filter."""

    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class ContentFilterType(StrEnum):
    """Bedrock guardrail content filter categories."""

    SEXUAL = "SEXUAL"
    VIOLENCE = "VIOLENCE"
    HATE = "HATE"
    INSULTS = "INSULTS"
    MISCONDUCT = "MISCONDUCT"
    PROMPT_ATTACK = "PROMPT_ATTACK"


class PiiAction(StrEnum):
    """What the guardrail does with a detected PII entity."""

    BLOCK = "BLOCK"
    ANONYMIZE = "ANONYMIZE"


class ContentFilter(FrozenModel):
    """One content filter. PROMPT_ATTACK applies to input only (output strength NONE)."""

    type: ContentFilterType
    input_strength: FilterStrength = FilterStrength.HIGH
    output_strength: FilterStrength = FilterStrength.HIGH

    @model_validator(mode="after")
    def _prompt_attack_input_only(self) -> ContentFilter:
        if (
            self.type is ContentFilterType.PROMPT_ATTACK
            and self.output_strength is not FilterStrength.NONE
        ):
            raise ValueError(
                f"PROMPT_ATTACK output_strength is {self.output_strength.value}; allowed: NONE "
                "(prompt-attack filtering applies to input only)"
            )
        return self


class PiiEntity(FrozenModel):
    """One PII entity type (the API's ``Type``, e.g. ``EMAIL``) and its action."""

    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    action: PiiAction = PiiAction.ANONYMIZE


class DeniedTopic(FrozenModel):
    """A topic the guardrail refuses (input and output)."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[0-9a-zA-Z-_ !?.]+$")
    definition: str = Field(min_length=1, max_length=1000)
    examples: tuple[str, ...] = Field(default=(), max_length=5)


DEFAULT_CONTENT_FILTERS: tuple[ContentFilter, ...] = (
    ContentFilter(type=ContentFilterType.SEXUAL),
    ContentFilter(type=ContentFilterType.VIOLENCE),
    ContentFilter(type=ContentFilterType.HATE),
    ContentFilter(type=ContentFilterType.INSULTS),
    ContentFilter(type=ContentFilterType.MISCONDUCT),
    ContentFilter(type=ContentFilterType.PROMPT_ATTACK, output_strength=FilterStrength.NONE),
)

DEFAULT_PII_ENTITIES: tuple[PiiEntity, ...] = (
    PiiEntity(type="EMAIL", action=PiiAction.ANONYMIZE),
    PiiEntity(type="PHONE", action=PiiAction.ANONYMIZE),
    PiiEntity(type="NAME", action=PiiAction.ANONYMIZE),
    PiiEntity(type="ADDRESS", action=PiiAction.ANONYMIZE),
    PiiEntity(type="US_SOCIAL_SECURITY_NUMBER", action=PiiAction.BLOCK),
    PiiEntity(type="CREDIT_DEBIT_CARD_NUMBER", action=PiiAction.BLOCK),
    PiiEntity(type="AWS_ACCESS_KEY", action=PiiAction.BLOCK),
    PiiEntity(type="AWS_SECRET_KEY", action=PiiAction.BLOCK),
    PiiEntity(type="PASSWORD", action=PiiAction.BLOCK),
)


class GuardrailOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.BedrockGuardrail`."""

    name: str | None = Field(default=None, min_length=1, max_length=50, pattern=r"^[0-9a-zA-Z-_]+$")
    """Guardrail name: letters, digits, hyphens and underscores (CreateGuardrail's pattern).
    Default: generated from the construct path."""
    description: str = Field(
        default="Content, prompt-attack and PII filters for the fine-tuned model.",
        min_length=1,
        max_length=200,
    )
    content_filters: tuple[ContentFilter, ...] = DEFAULT_CONTENT_FILTERS
    """Default: every category HIGH on input and output; PROMPT_ATTACK HIGH on input only."""
    pii_entities: tuple[PiiEntity, ...] = DEFAULT_PII_ENTITIES
    """Default: anonymize contact details and names; block government ids, card numbers,
    AWS keys and passwords."""
    denied_topics: tuple[DeniedTopic, ...] = ()
    """Topics to refuse. Default: none."""
    blocked_words: tuple[str, ...] = ()
    """Words or short phrases to block. Default: none."""
    profanity_filter: bool = False
    """Also block the managed profanity list. Default off."""
    blocked_input_messaging: str = Field(
        default="Sorry, this request cannot be processed.", min_length=1, max_length=500
    )
    blocked_outputs_messaging: str = Field(
        default="Sorry, the model cannot answer that.", min_length=1, max_length=500
    )

    @model_validator(mode="after")
    def _unique(self) -> GuardrailOptions:
        for label, values in (
            ("content_filters", [f.type.value for f in self.content_filters]),
            ("pii_entities", [p.type for p in self.pii_entities]),
            ("denied_topics", [t.name for t in self.denied_topics]),
        ):
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                raise ValueError(f"{label} lists {', '.join(duplicates)} more than once")
        if not (
            self.content_filters
            or self.pii_entities
            or self.denied_topics
            or self.blocked_words
            or self.profanity_filter
        ):
            raise ValueError(
                "a guardrail needs at least one policy: content_filters, pii_entities, "
                "denied_topics, blocked_words or profanity_filter"
            )
        return self


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
    (``cdk_llm_training.runtime.evaluation_prompts``) checks the same shape without pydantic.

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
        if self.thresholds.min_improvement and not self.compare_with_base_model:
            raise ValueError(
                "thresholds.min_improvement needs compare_with_base_model=True (no baseline)"
            )
        return self


# -- SageMaker task metrics -------------------------------------------------------------------

TASK_METRICS = ("exact_match", "token_f1", "rouge_l")
DEFAULT_METRICS_IMAGE = "pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker"


class TaskMetricsOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.TaskMetricsEvaluation` (the SageMaker
    processing job that scores an adapter on a labelled set)."""

    labelled_set_key: S3Key = "evaluation/labelled.jsonl"
    """Curated-zone key of the labelled set (catalog format with ``reference`` on every
    line). Default ``evaluation/labelled.jsonl``."""
    report_prefix: S3Prefix = "evaluation/task-metrics/"
    """Artifacts-zone prefix; each run writes ``<prefix><execution name>/report.json``."""
    predictions_prefix: S3Prefix = "adapters/"
    """Artifacts-zone prefix the processing job may read predictions (or model artifacts)
    from. Default ``adapters/``."""
    generate_predictions: bool = False
    """Generate predictions with ``transformers`` from model artifacts instead of reading a
    predictions file (the image must have transformers). Default off."""
    min_scores: dict[str, float] = Field(default_factory=dict)
    """Gate: metric (exact_match, token_f1, rouge_l) -> minimum. Default: none."""
    instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    image_uri: str | None = None
    """Processing image. Default: the AWS Deep Learning Containers PyTorch CPU training
    image (``763104351884.dkr.ecr.<region>...``, ``DEFAULT_METRICS_IMAGE``); any image with
    Python 3.10+ works because the metrics are pure Python."""
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)

    @field_validator("min_scores")
    @classmethod
    def _metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(TASK_METRICS))
        if unknown:
            raise ValueError(
                f"min_scores names {', '.join(unknown)}; allowed: {', '.join(TASK_METRICS)}"
            )
        return value


# -- human evaluation ---------------------------------------------------------------------------

HUMAN_METRICS = ("mean_score", "median_score", "item_mean_score", "agreement_alpha")


class HumanEvaluationOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.HumanEvaluation`."""

    outputs_prefix: S3Prefix = "evaluation/outputs/"
    """Curated-zone prefix of model-output files (JSONL: catalog line + ``response``)."""
    manifest_subprefix: S3Prefix = "evaluation/"
    """Folder under the labeling workflow's manifest prefix for the sampled manifests."""
    report_prefix: S3Prefix = "evaluation/human-reports/"
    """Artifacts-zone prefix for the JSON reports."""
    sample_size: int = Field(default=100, ge=1, le=10000)
    """Items sent to raters per run (reservoir sample, seeded by the execution name)."""
    min_scores: dict[str, float] = Field(default_factory=dict)
    """Gate: ``mean_score``, ``median_score``, ``item_mean_score`` or ``agreement_alpha`` ->
    minimum. Default: none (report only)."""
    log_retention_days: LogRetentionDays = 365

    @field_validator("min_scores")
    @classmethod
    def _metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(HUMAN_METRICS))
        if unknown:
            raise ValueError(
                f"min_scores names {', '.join(unknown)}; allowed: {', '.join(HUMAN_METRICS)}"
            )
        return value
