"""A generated corpus with known duplicates, near duplicates, junk and PII."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

VOCABULARY = [
    f"{a}{b}"
    for a in ("ka", "lo", "mi", "ne", "su", "ta", "ve", "zo")
    for b in ("ran", "tel", "mop", "dis", "ful", "gen", "hab", "kin", "lum", "pax")
]


def document(rng: random.Random, words: int = 240) -> str:
    """Sentences of random vocabulary words: any two such documents share almost no
    5-word shingles."""
    tokens = [rng.choice(VOCABULARY) for _ in range(words)]
    sentences = [" ".join(tokens[i : i + 12]).capitalize() + "." for i in range(0, words, 12)]
    return " ".join(sentences)


def edit_words(rng: random.Random, text: str, count: int) -> str:
    """``text`` with ``count`` distinct word positions replaced by a fresh word."""
    words = text.split(" ")
    for position in rng.sample(range(len(words)), count):
        words[position] = "zzedit" + str(position)
    return " ".join(words)


@dataclass
class Corpus:
    unique: list[str] = field(default_factory=list)
    exact_duplicates: int = 0
    near_duplicates: int = 0
    distant_variants: int = 0
    too_short: int = 0
    repeated_lines: int = 0
    low_alpha: int = 0
    invalid_json: int = 0
    with_pii: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return len(self.unique) + self.distant_variants + self.with_pii

    @property
    def total(self) -> int:
        return len(self.lines)


def build_corpus(seed: int = 7, unique: int = 60) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus()
    lines = corpus.lines
    for _ in range(unique):
        text = document(rng)
        corpus.unique.append(text)
        lines.append(json.dumps({"text": text, "source": "gen"}))
    # Exact duplicates after normalisation: extra spaces, CRLF, a full-width letter, a ZWSP.
    for text in corpus.unique[:10]:
        variant = text.replace(" ", "  ", 3).replace(". ", ".\t ", 1)
        variant = "\u200b" + variant.replace("a", "\uff41", 1) + " \r\n"
        lines.append(json.dumps({"text": variant}))
        corpus.exact_duplicates += 1
    # Near duplicates: 1 of 240 words changed (5-shingle Jaccard about 0.96, above 0.8).
    for text in corpus.unique[10:18]:
        lines.append(json.dumps({"text": edit_words(rng, text, 1)}))
        corpus.near_duplicates += 1
    # Distant variants: 60 of 240 words changed (Jaccard below 0.3): kept.
    for text in corpus.unique[18:22]:
        lines.append(json.dumps({"text": edit_words(rng, text, 60)}))
        corpus.distant_variants += 1
    lines.append(json.dumps({"text": "Too short."}))
    corpus.too_short += 1
    menu = "Home | About | Contact | Login\n"
    lines.append(json.dumps({"text": menu * 8 + document(rng, 12)}))
    corpus.repeated_lines += 1
    lines.append(json.dumps({"text": "0x3f 0x44 " * 20 + "12345 67890 " * 10}))
    corpus.low_alpha += 1
    lines.append('{"text": "not closed')
    corpus.invalid_json += 1
    for index in range(5):
        text = document(rng) + f" Write to jane.doe{index}@example.com or call 555-123-000{index}."
        lines.append(json.dumps({"text": text}))
        corpus.with_pii += 1
    tail = lines[unique:]
    rng.shuffle(tail)  # duplicates still come after their originals
    lines[unique:] = tail
    return corpus


def write_corpus(corpus: Corpus, root: Path) -> None:
    """Half the lines in ``part-a.jsonl``, the rest gzipped in ``sub/part-b.jsonl.gz``:
    originals all in the first file, so "first seen wins" is deterministic."""
    import gzip

    root.mkdir(parents=True, exist_ok=True)
    (root / "sub").mkdir(exist_ok=True)
    originals = len(corpus.unique)
    (root / "part-a.jsonl").write_text("\n".join(corpus.lines[:originals]) + "\n\n")
    with gzip.open(root / "sub" / "part-b.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(corpus.lines[originals:]) + "\n")
