"""Options of :class:`cdk_llm_training.BedrockGuardrail`: content, prompt-attack and PII
filters and denied topics."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from cdk_llm_training.config.base import FrozenModel

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
