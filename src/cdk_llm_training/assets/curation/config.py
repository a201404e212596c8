"""The curation job's settings: one JSON object, every field optional (defaults below)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from .normalise import UnicodeForm

PiiMode = Literal["off", "redact", "drop"]

COMPREHEND_PII_LANGUAGES = ("en", "es")
"""Languages DetectPiiEntities accepts (its LanguageCode member: English or Spanish)."""


@dataclass(frozen=True)
class QualityConfig:
    """Quality filters; a document failing one is removed and counted under its name."""

    min_chars: int = 50
    """``too_short``: fewer characters than this after normalisation."""
    max_chars: int = 200_000
    """``too_long``: more characters than this."""
    min_words: int = 5
    """``too_few_words``: fewer whitespace-separated words."""
    max_repeated_line_fraction: float = 0.3
    """``repeated_lines``: share of non-empty lines that repeat an earlier line of the same
    document (boilerplate, scraped menus)."""
    max_repeated_ngram_fraction: float = 0.2
    """``repeated_ngrams``: share of word 3-grams that repeat an earlier 3-gram of the same
    document (generation loops, spam). Checked on documents of 20 words or more."""
    min_alpha_fraction: float = 0.5
    """``low_alpha``: share of non-space characters that are letters (tables of numbers,
    base64, markup debris)."""


@dataclass(frozen=True)
class NearDuplicateConfig:
    """MinHash LSH over word shingles: a document whose estimated Jaccard similarity with an
    earlier kept document is at or above ``threshold`` is removed (``near_duplicate``)."""

    enabled: bool = True
    threshold: float = 0.8
    """Jaccard similarity of the two documents' word-``shingle_words``-gram sets. 0.8 keeps
    documents that share a template but differ in substance and removes copies with small
    edits (a changed date, a signature, re-flowed whitespace)."""
    num_perm: int = 128
    """MinHash permutations: more is a closer estimate, slower and larger."""
    shingle_words: int = 5
    seed: int = 1


@dataclass(frozen=True)
class PiiConfig:
    """PII detection by Amazon Comprehend ``DetectPiiEntities``."""

    mode: PiiMode = "redact"
    """``redact`` replaces each entity with ``[TYPE]``; ``drop`` removes the document
    (``pii``); ``off`` skips detection."""
    language_code: str = "en"
    entity_types: tuple[str, ...] = ()
    """Entity types acted on (empty: every type Comprehend returns)."""
    min_score: float = 0.5
    """Entities found with a lower confidence are ignored."""
    max_request_bytes: int = 99_000
    """UTF-8 bytes of text per request; DetectPiiEntities takes at most 100 KB. Documents
    are packed into requests up to this size; a longer document is split into chunks (an
    entity across a chunk edge can be missed)."""


@dataclass(frozen=True)
class CurationConfig:
    """The whole job's settings."""

    text_fields: tuple[str, ...] = ("text",)
    """JSONL fields holding text: each is normalised, filtered on and scanned; exact and
    near-duplicate detection read them joined. ``.txt`` files hold one document per line,
    written as ``{"<first text field>": ...}``."""
    rename_fields: dict[str, str] = field(default_factory=dict)
    """Output names of fields, e.g. ``{"text": "input"}`` for the continued pre-training
    record format. Default: names kept."""
    unicode_form: UnicodeForm = "NFKC"
    quality: QualityConfig = field(default_factory=QualityConfig)
    near_duplicates: NearDuplicateConfig = field(default_factory=NearDuplicateConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)
    max_records_per_output_file: int | None = None
    """Roll to a new ``part-NNNNN.jsonl`` after this many records. Default: one file
    (``part-00000.jsonl``), which is what a fine-tune job takes as its training file."""

    def __post_init__(self) -> None:
        if not self.text_fields:
            raise ValueError("text_fields is empty; name at least one JSONL field with text")
        if self.unicode_form not in ("NFC", "NFKC"):
            raise ValueError(f"unicode_form is {self.unicode_form!r}; allowed: NFC, NFKC")
        if self.pii.mode not in ("off", "redact", "drop"):
            raise ValueError(f"pii.mode is {self.pii.mode!r}; allowed: off, redact, drop")
        if self.pii.mode != "off" and self.pii.language_code not in COMPREHEND_PII_LANGUAGES:
            raise ValueError(
                f"pii.language_code is {self.pii.language_code!r}; Comprehend detects PII in "
                f"{', '.join(COMPREHEND_PII_LANGUAGES)}"
            )
        if not 0 < self.pii.max_request_bytes <= 100_000:
            raise ValueError(
                f"pii.max_request_bytes is {self.pii.max_request_bytes}; allowed: 1 to 100000"
            )
        if not 0 < self.near_duplicates.threshold <= 1:
            raise ValueError(
                f"near_duplicates.threshold is {self.near_duplicates.threshold}; allowed: (0, 1]"
            )
        if self.max_records_per_output_file is not None and self.max_records_per_output_file < 1:
            raise ValueError(
                f"max_records_per_output_file is {self.max_records_per_output_file}; "
                "allowed: 1 or more"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CurationConfig:
        """The config from its JSON form; unknown fields are refused, naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        _refuse_unknown("config", data, known)
        nested = {
            "quality": QualityConfig,
            "near_duplicates": NearDuplicateConfig,
            "pii": PiiConfig,
        }
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name in nested:
                section = nested[name]
                _refuse_unknown(name, value, {f.name for f in dataclasses.fields(section)})
                values = dict(value)
                if "entity_types" in values:
                    values["entity_types"] = tuple(values["entity_types"])
                kwargs[name] = section(**values)
            elif name == "text_fields":
                kwargs[name] = tuple(value)
            elif name == "rename_fields":
                if not isinstance(value, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()
                ):
                    raise ValueError(f"rename_fields must map field names to names, got {value!r}")
                kwargs[name] = dict(value)
            else:
                kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> CurationConfig:
        return cls.from_dict(json.loads(text) if text.strip() else {})

    @classmethod
    def from_settings(cls, base: dict[str, Any], settings: list[str]) -> CurationConfig:
        """``base`` with each ``path=<JSON value>`` of ``settings`` applied (``path``
        dotted, e.g. ``near_duplicates.threshold=0.85``)."""
        data: dict[str, Any] = json.loads(json.dumps(base))
        for setting in settings:
            path, sep, raw = setting.partition("=")
            if not sep or not path:
                raise ValueError(f"setting {setting!r} must be <path>=<JSON value>")
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as error:
                raise ValueError(f"setting {path}: {raw!r} is not JSON ({error.msg})") from None
            *parents, leaf = path.split(".")
            node = data
            for part in parents:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"setting {path}: {part} is not a section")
            node[leaf] = value
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The config as the dataset card records it (every default spelt out)."""
        data: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(self)))
        return data


def _refuse_unknown(where: str, data: Any, known: set[str]) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where} has unknown fields {unknown}; allowed: {sorted(known)}")
