"""Unicode and whitespace normalisation of a document's text."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

UnicodeForm = Literal["NFC", "NFKC"]

# Zero-width and byte-order characters that survive NFKC and split otherwise equal words.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
# Control characters except tab and newline (what JSON-escaped scraps and PDFs leave behind).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalise(text: str, form: UnicodeForm = "NFKC") -> str:
    """``text`` in Unicode ``form``, without invisible and control characters, with CRLF and
    CR as LF, every run of horizontal whitespace as one space, lines stripped, at most one
    blank line in a row, and no leading or trailing whitespace. Paragraphs (blank lines) are
    kept: they carry meaning for training."""
    text = unicodedata.normalize(form, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
