"""PII detection with Amazon Comprehend ``DetectPiiEntities``, packed into few requests.

DetectPiiEntities takes one text of at most 100 KB (UTF-8) in English or Spanish per call
and returns ``Entities``: ``{"Type", "Score", "BeginOffset", "EndOffset"}`` with character
offsets into that text. The API reference calls ``EndOffset`` the offset "to the last
character"; this module treats it as the exclusive end of a Python slice (unverified against
the live service: were it inclusive, a redaction would leave the entity's last character).

There is no batch form of the call, so this module packs many short texts into one
request, separated by a blank line, and maps each entity back to its text; a text longer
than a request is split into chunks. Throttling is retried by the client (adaptive mode).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .config import PiiConfig

SEPARATOR = "\n\n"


class ComprehendClient(Protocol):
    """What the scanner needs of a boto3 Comprehend client (or of a fake in tests)."""

    def detect_pii_entities(  # boto3's member names
        self,
        *,
        Text: str,  # noqa: N803
        LanguageCode: str,  # noqa: N803
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PiiEntity:
    type: str
    begin: int
    end: int
    score: float


@dataclass(frozen=True)
class _Piece:
    text_index: int
    offset: int
    text: str


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def split_to_fit(text: str, max_bytes: int) -> Iterator[tuple[int, str]]:
    """``(offset, chunk)`` pieces of ``text``, each at most ``max_bytes`` in UTF-8, cut at
    the last whitespace of the window when there is one in its second half."""
    start = 0
    while start < len(text):
        end = min(len(text), start + max_bytes)
        while _utf8_len(text[start:end]) > max_bytes:
            end = start + max(1, (end - start) * 3 // 4)
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if cut > start + (end - start) // 2:
                end = cut + 1
        yield start, text[start:end]
        start = end


def redact(text: str, entities: Sequence[PiiEntity]) -> str:
    """``text`` with each entity's span replaced by ``[TYPE]`` (overlaps merged, first type
    kept)."""
    spans: list[list[Any]] = []
    for entity in sorted(entities, key=lambda e: (e.begin, -e.end)):
        if spans and entity.begin < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], entity.end)
        else:
            spans.append([entity.begin, entity.end, entity.type])
    out: list[str] = []
    position = 0
    for begin, end, kind in spans:
        out.append(text[position:begin])
        out.append(f"[{kind}]")
        position = end
    out.append(text[position:])
    return "".join(out)


class PiiScanner:
    """Finds PII entities in batches of texts, one DetectPiiEntities call per packed
    request. ``calls`` and ``request_bytes`` count what was sent (for the dataset card)."""

    def __init__(self, client: ComprehendClient, config: PiiConfig) -> None:
        self._client = client
        self._config = config
        self._types = frozenset(config.entity_types)
        self.calls = 0
        self.request_bytes = 0

    def find(self, texts: Sequence[str]) -> list[list[PiiEntity]]:
        """The entities of each of ``texts`` (offsets into that text), filtered by type and
        score."""
        found: list[list[PiiEntity]] = [[] for _ in texts]
        budget = self._config.max_request_bytes
        request: list[_Piece] = []
        size = 0
        for index, text in enumerate(texts):
            if not text:
                continue
            for offset, chunk in split_to_fit(text, budget):
                chunk_bytes = _utf8_len(chunk)
                extra = chunk_bytes + (len(SEPARATOR) if request else 0)
                if request and size + extra > budget:
                    self._send(request, found)
                    request, size, extra = [], 0, chunk_bytes
                request.append(_Piece(index, offset, chunk))
                size += extra
        if request:
            self._send(request, found)
        return found

    def _send(self, pieces: list[_Piece], found: list[list[PiiEntity]]) -> None:
        starts: list[int] = []
        position = 0
        for piece in pieces:
            starts.append(position)
            position += len(piece.text) + len(SEPARATOR)
        text = SEPARATOR.join(piece.text for piece in pieces)
        response = self._client.detect_pii_entities(
            Text=text, LanguageCode=self._config.language_code
        )
        self.calls += 1
        self.request_bytes += _utf8_len(text)
        for entity in response.get("Entities", []):
            kind = str(entity["Type"])
            score = float(entity.get("Score", 0.0))
            if score < self._config.min_score or (self._types and kind not in self._types):
                continue
            begin, end = int(entity["BeginOffset"]), int(entity["EndOffset"])
            slot = bisect.bisect_right(starts, begin) - 1
            piece = pieces[slot]
            local_begin = begin - starts[slot]
            local_end = min(end - starts[slot], len(piece.text))
            if local_begin >= len(piece.text) or local_end <= local_begin:
                continue  # inside a separator
            found[piece.text_index].append(
                PiiEntity(kind, piece.offset + local_begin, piece.offset + local_end, score)
            )
