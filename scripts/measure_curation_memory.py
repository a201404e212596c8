"""Measure the curation script's peak memory and throughput on a generated corpus (figures,
not a gate).

The input is generated on the fly into a temporary folder (documents of about
``--document-kb`` kilobytes, built from random sentences, all distinct), then the curation
runs in a fresh subprocess with PII detection off (the PII buffer is bounded by its request
size either way); its peak resident set size is read with ``getrusage(RUSAGE_CHILDREN)``.
Prints one JSON line: input MB, documents, seconds, MB/s, peak RSS MB.

Examples::

    python scripts/measure_curation_memory.py --input-mb 1000
    python scripts/measure_curation_memory.py --input-mb 40 --document-kb 5
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1000 * 1000
SENTENCES = 20_000


def _sentences(rng: random.Random) -> list[str]:
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(5000)
    ]
    return [
        " ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + "."
        for _ in range(SENTENCES)
    ]


def generate(path: Path, *, input_mb: float, document_kb: float, seed: int = 1) -> int:
    """Write about ``input_mb`` MB of JSONL documents to ``path``; return how many."""
    rng = random.Random(seed)
    sentences = _sentences(rng)
    target = int(input_mb * MB)
    written = documents = 0
    with path.open("w", encoding="utf-8") as handle:
        while written < target:
            parts: list[str] = []
            size = 0
            while size < document_kb * 1000:
                sentence = rng.choice(sentences)
                parts.append(sentence)
                size += len(sentence) + 1
            line = json.dumps({"text": " ".join(parts), "id": documents}) + "\n"
            handle.write(line)
            written += len(line)
            documents += 1
    return documents


def measure(input_mb: float, document_kb: float, near_duplicates: bool = True) -> dict[str, float]:
    """Generate, curate in a subprocess, return the figures."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "raw").mkdir()
        documents = generate(
            root / "raw" / "corpus.jsonl", input_mb=input_mb, document_kb=document_kb
        )
        config = {
            "pii": {"mode": "off"},
            "near_duplicates": {"enabled": near_duplicates},
        }
        command = [
            sys.executable,
            "-m",
            "cdk_llm_training.assets.curation.curate",
            *("--input-dir", str(root / "raw"), "--output-dir", str(root / "out")),
            *("--config", json.dumps(config)),
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        card = json.loads((root / "out" / "dataset_card.json").read_text())
    return {
        "input_mb": round(input_mb, 1),
        "documents": documents,
        "output_records": card["counts"]["output_records"],
        "seconds": round(seconds, 1),
        "mb_per_second": round(input_mb / seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--input-mb", type=float, default=1000.0)
    parser.add_argument("--document-kb", type=float, default=20.0)
    parser.add_argument(
        "--no-near-duplicates", action="store_true", help="exact dedup and filters only"
    )
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.input_mb, args.document_kb, not args.no_near_duplicates)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
