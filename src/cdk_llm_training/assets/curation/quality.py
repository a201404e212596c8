"""Heuristic quality filters: each returns the name of the first failed check, or None."""

from __future__ import annotations

import re
from collections.abc import Callable

from .config import QualityConfig

_SPACE = re.compile(r"\s")
_NOT_LETTER = re.compile(r"[\W\d_]")  # what str.isalpha() is not

NGRAM_WORDS = 3
MIN_WORDS_FOR_NGRAM_CHECK = 20


def repeated_line_fraction(text: str) -> float:
    """Share of non-empty lines that repeat an earlier line of ``text``."""
    lines = [line for line in text.split("\n") if line]
    if not lines:
        return 0.0
    return 1 - len(set(lines)) / len(lines)


def repeated_ngram_fraction(words: list[str], n: int = NGRAM_WORDS) -> float:
    """Share of word ``n``-grams that repeat an earlier ``n``-gram of ``words``."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


def alpha_fraction(text: str) -> float:
    """Share of non-space characters of ``text`` that are letters."""
    visible = len(text) - _SPACE.subn("", text)[1]
    if not visible:
        return 0.0
    letters = len(text) - _NOT_LETTER.subn("", text)[1]
    return letters / visible


def failed_check(text: str, config: QualityConfig) -> str | None:
    """The first quality check ``text`` fails, cheapest first, or None when it passes."""
    words = text.split()
    checks: tuple[tuple[str, Callable[[], bool]], ...] = (
        ("too_short", lambda: len(text) < config.min_chars),
        ("too_long", lambda: len(text) > config.max_chars),
        ("too_few_words", lambda: len(words) < config.min_words),
        ("low_alpha", lambda: alpha_fraction(text) < config.min_alpha_fraction),
        (
            "repeated_lines",
            lambda: repeated_line_fraction(text) > config.max_repeated_line_fraction,
        ),
        (
            "repeated_ngrams",
            lambda: (
                len(words) >= MIN_WORDS_FOR_NGRAM_CHECK
                and repeated_ngram_fraction([w.lower() for w in words])
                > config.max_repeated_ngram_fraction
            ),
        ),
    )
    return next((name for name, failed in checks if failed()), None)
