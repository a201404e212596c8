"""Task metrics for fine-tuned adapters: exact match, token F1 and ROUGE-L (pure Python).

Runs as a SageMaker processing job (the script is shipped in the package and uploaded as the
job's code) or locally::

    python -m cdk_llm_training.assets.evaluation.metrics \\
        --labelled /opt/ml/processing/input/labelled/eval.jsonl \\
        --predictions /opt/ml/processing/input/predictions/predictions.jsonl \\
        --report /opt/ml/processing/output/report.json --min-score rouge_l=0.3

Labelled set (JSONL): ``{"id": "q1", "prompt": "...", "reference": "..."}`` (the evaluation
prompt catalog format; ``id`` defaults to the line number). Predictions (JSONL):
``{"id": "q1", "prediction": "..."}``. Without ``--predictions``, predictions are generated
with ``transformers`` from ``--model-dir`` (optional: imported only then).

The metric code uses the standard library only, so it runs on CPU in tests. The report is the
shared evaluation report format (``cdk_llm_training.assets.runtime.evaluation_report``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import string
import sys
import tarfile
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPORT_VERSION = "1"
METRICS = ("exact_match", "token_f1", "rouge_l")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize(text: str) -> str:
    """Lower-case, NFKC, drop punctuation and English articles, collapse whitespace (the
    usual normalisation of extractive QA scoring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return 1.0 if normalize(prediction) == normalize(reference) else 0.0


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall (bag of tokens, counts clipped)."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred and not ref:
        return 1.0
    if not pred or not ref:
        return 0.0
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (O(len(a) * len(b)) time, O(len(b)) memory)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (beta = 1) over normalised tokens."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred and not ref:
        return 1.0
    if not pred or not ref:
        return 0.0
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


SCORERS = {"exact_match": exact_match, "token_f1": token_f1, "rouge_l": rouge_l}


@dataclass(frozen=True)
class Example:
    id: str
    prompt: str
    reference: str
    tags: tuple[str, ...] = ()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON: {error.msg}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: a line must be a JSON object")
            row.setdefault("id", str(number))
            rows.append(row)
    return rows


def load_labelled(path: Path) -> list[Example]:
    """The labelled set: each line needs ``prompt`` and ``reference`` strings."""
    examples = []
    for row in read_jsonl(path):
        prompt, reference = row.get("prompt"), row.get("reference")
        if not isinstance(prompt, str) or not isinstance(reference, str):
            raise ValueError(
                f"{path}: record {row['id']!r} needs string 'prompt' and 'reference' fields"
            )
        tags = tuple(str(t) for t in row.get("tags") or ())
        examples.append(Example(str(row["id"]), prompt, reference, tags))
    ids = [e.id for e in examples]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate ids: {', '.join(duplicates)}")
    return examples


def load_predictions(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in read_jsonl(path):
        prediction = row.get("prediction")
        if not isinstance(prediction, str):
            raise ValueError(f"{path}: record {row['id']!r} needs a string 'prediction'")
        out[str(row["id"])] = prediction
    return out


def generate_predictions(
    examples: Sequence[Example], model_dir: str, *, max_new_tokens: int = 256
) -> dict[str, str]:  # pragma: no cover - needs transformers and a model
    """Greedy generation with ``transformers`` (optional dependency, imported here only)."""
    try:
        from transformers import pipeline  # type: ignore[import-not-found,unused-ignore]
    except ImportError as error:
        raise SystemExit(
            "generating predictions needs the 'transformers' package; install it in the "
            "processing image or pass --predictions"
        ) from error
    generator = pipeline("text-generation", model=model_dir)
    out: dict[str, str] = {}
    for example in examples:
        result = generator(
            example.prompt,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            return_full_text=False,
        )
        out[example.id] = str(result[0]["generated_text"]).strip()
    return out


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(sum(items) / len(items), 4) if items else None


def score(examples: Sequence[Example], predictions: Mapping[str, str]) -> dict[str, Any]:
    """Per-example and aggregate metrics; a missing prediction scores 0 and is reported."""
    per_example = []
    missing = []
    for example in examples:
        prediction = predictions.get(example.id)
        if prediction is None:
            missing.append(example.id)
            prediction = ""
        row: dict[str, Any] = {"id": example.id}
        for name, scorer in SCORERS.items():
            row[name] = round(scorer(prediction, example.reference), 4)
        if example.tags:
            row["tags"] = list(example.tags)
        per_example.append(row)
    metrics = {name: _mean(r[name] for r in per_example) for name in METRICS}
    by_tag: dict[str, dict[str, float | None]] = {}
    for tag in sorted({t for e in examples for t in e.tags}):
        rows = [r for r in per_example if tag in r.get("tags", ())]
        by_tag[tag] = {name: _mean(r[name] for r in rows) for name in METRICS}
    extra = sorted(set(predictions) - {e.id for e in examples})
    return {
        "examples": len(examples),
        "metrics": metrics,
        "by_tag": by_tag,
        "missing_predictions": missing,
        "unmatched_predictions": extra,
        "per_example": per_example,
    }


def check_thresholds(
    metrics: Mapping[str, float | None], min_scores: Mapping[str, float]
) -> list[str]:
    """Failure messages for each metric below its minimum."""
    failures = []
    for name, minimum in sorted(min_scores.items()):
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r} in thresholds; known: {', '.join(METRICS)}")
        value = metrics.get(name)
        if value is None or value < minimum:
            failures.append(f"{name} = {value} is below the minimum {minimum}")
    return failures


def build_report(
    result: Mapping[str, Any],
    *,
    model: str,
    dataset: str,
    min_scores: Mapping[str, float],
) -> dict[str, Any]:
    """The shared report format (``kind: task_metrics``)."""
    failures = check_thresholds(result["metrics"], min_scores)
    return {
        "report_version": REPORT_VERSION,
        "kind": "task_metrics",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model,
        "dataset": dataset,
        "summary": {"examples": result["examples"], "metrics": result["metrics"]},
        "by_tag": result["by_tag"],
        "thresholds": {"min_scores": dict(min_scores)},
        "passed": not failures,
        "failures": failures,
        "problems": {
            "missing_predictions": result["missing_predictions"],
            "unmatched_predictions": result["unmatched_predictions"],
        },
        "per_example": result["per_example"],
    }


def _parse_min_score(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected METRIC=VALUE, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


def _first_jsonl(path: Path) -> Path:
    """A processing input arrives as a folder: take its single (or first) .jsonl file. A
    training job's ``output.tar.gz`` (the file, or a folder holding it and no .jsonl) is
    unpacked first: that is how predictions written by the training script arrive."""
    if path.is_file() and path.name.endswith(".tar.gz"):
        return _first_jsonl(unpack_archive(path))
    if path.is_dir():
        files = sorted(path.rglob("*.jsonl"))
        if not files:
            archives = sorted(path.rglob("*.tar.gz"))
            if archives:
                return _first_jsonl(archives[0])
            raise SystemExit(f"no .jsonl file under {path}")
        return files[0]
    return path


def unpack_archive(path: Path) -> Path:
    """A ``.tar.gz`` unpacked to a new temporary folder (no paths outside it)."""
    target = Path(tempfile.mkdtemp(prefix="unpacked-"))
    with tarfile.open(path) as archive:
        archive.extractall(target, filter="data")
    return target


def unpack_model(path: Path) -> str:
    """A SageMaker ``model.tar.gz`` (or a folder holding one) unpacked to a temporary folder;
    any other folder is used as it is."""
    archives = [path] if path.is_file() else sorted(path.glob("*.tar.gz"))
    if not archives:
        return str(path)
    target = Path(tempfile.mkdtemp(prefix="model-"))
    with tarfile.open(archives[0]) as archive:
        archive.extractall(target, filter="data")
    return str(target)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", type=Path, required=True)
    parser.add_argument("--predictions", type=Path)
    parser.add_argument("--model-dir", help="generate predictions with transformers from here")
    parser.add_argument(
        "--model-name",
        default=os.environ.get("MODEL_NAME", ""),
        help="name recorded in the report (default: $MODEL_NAME)",
    )
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--min-score", action="append", type=_parse_min_score, default=[])
    parser.add_argument(
        "--fail-on-threshold",
        action="store_true",
        help="exit 1 when a threshold misses (fails the processing job)",
    )
    args = parser.parse_args(argv)
    labelled = _first_jsonl(args.labelled)
    examples = load_labelled(labelled)
    if args.predictions is not None:
        predictions = load_predictions(_first_jsonl(args.predictions))
    elif args.model_dir:
        predictions = generate_predictions(examples, unpack_model(Path(args.model_dir)))
    else:
        parser.error("give --predictions or --model-dir")
    report = build_report(
        score(examples, predictions),
        model=args.model_name or str(args.model_dir or args.predictions),
        dataset=str(labelled),
        min_scores=dict(args.min_score),
    )
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    summary = {k: report[k] for k in ("passed", "failures")} | report["summary"]
    print(json.dumps(summary))
    return 1 if (args.fail_on_threshold and not report["passed"]) else 0


if __name__ == "__main__":
    sys.exit(main())
