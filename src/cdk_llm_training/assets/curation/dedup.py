"""Exact and near-duplicate detection over a stream of normalised documents."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .config import NearDuplicateConfig

_WORD = re.compile(r"\w+")


def text_digest(text: str) -> bytes:
    """A 16-byte BLAKE2b digest of ``text`` (already normalised): what exact dedup keeps in
    memory per document (collisions are negligible at 128 bits)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class ExactDeduplicator:
    """Remembers the digest of every document seen; a repeat is a duplicate."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()

    def is_duplicate(self, text: str) -> bool:
        """True when the same normalised text was seen before; records it otherwise."""
        digest = text_digest(text)
        if digest in self._seen:
            return True
        self._seen.add(digest)
        return False

    def __len__(self) -> int:
        return len(self._seen)


def shingles(text: str, words: int) -> set[bytes]:
    """The set of lower-cased word ``words``-grams of ``text`` (the whole text when it is
    shorter), UTF-8 encoded for hashing."""
    tokens = _WORD.findall(text.lower())
    if len(tokens) <= words:
        return {" ".join(tokens).encode("utf-8")}
    return {" ".join(tokens[i : i + words]).encode("utf-8") for i in range(len(tokens) - words + 1)}


def datasketch_version() -> str | None:
    """The installed datasketch version, or None when it is not installed."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("datasketch")
    except PackageNotFoundError:
        return None


def _band_key(band: bytes) -> bytes:
    return hashlib.blake2b(band, digest_size=8).digest()


class NearDeduplicator:
    """MinHash LSH (datasketch): a document whose estimated Jaccard similarity with an
    earlier kept document reaches the threshold is a near duplicate; kept documents are
    indexed. Memory: one LSH entry per kept document (``num_perm`` hash values, banded)."""

    def __init__(self, config: NearDuplicateConfig) -> None:
        try:
            from datasketch import MinHash, MinHashLSH
        except ImportError as error:  # the job installs it from requirements.txt
            raise RuntimeError(
                "near-duplicate removal needs the datasketch package (curation "
                "requirements.txt); install it or set near_duplicates.enabled to false"
            ) from error
        self._config = config
        self._minhash = MinHash
        # Band keys hashed to 8 bytes (instead of rows x 8 bytes of hash values): the index
        # is most of the job's memory, one key per band per kept document.
        self._lsh: Any = MinHashLSH(
            threshold=config.threshold, num_perm=config.num_perm, hashfunc=_band_key
        )
        self._count = 0

    def signature(self, text: str) -> Any:
        mh = self._minhash(num_perm=self._config.num_perm, seed=self._config.seed)
        mh.update_batch(list(shingles(text, self._config.shingle_words)))
        return mh

    def is_duplicate(self, text: str) -> bool:
        """True when the LSH index returns a candidate for ``text``; indexes it otherwise.

        Candidates are not re-checked against their signatures (keeping every signature
        would double the memory): datasketch picks the bands and rows that minimise false
        positives and negatives around the threshold, and those few errors either way are
        the method's documented cost."""
        signature = self.signature(text)
        if self._lsh.query(signature):
            return True
        self._count += 1
        self._lsh.insert(self._count, signature)
        return False
