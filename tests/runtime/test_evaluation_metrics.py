"""The task-metrics script: exact match, token F1, ROUGE-L on CPU with a small labelled set."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from cdk_llm_training.assets.evaluation import metrics

LABELLED: list[dict[str, Any]] = [
    {"id": "q1", "prompt": "Capital of France?", "reference": "Paris", "tags": ["geo"]},
    {"id": "q2", "prompt": "17 * 23?", "reference": "391", "tags": ["math"]},
    {
        "id": "q3",
        "prompt": "Describe the cat.",
        "reference": "the cat sat on the mat",
        "tags": ["geo", "text"],
    },
]
PREDICTIONS: list[dict[str, Any]] = [
    {"id": "q1", "prediction": "paris."},
    {"id": "q2", "prediction": "It is 392"},
    {"id": "q3", "prediction": "a cat sat on a red mat"},
]


def _write(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_normalize_drops_case_punctuation_articles() -> None:
    assert metrics.normalize("  The Cat, sat!  ") == "cat sat"


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [("Paris.", "paris", 1.0), ("Paris, France", "Paris", 0.0), ("", "", 1.0)],
)
def test_exact_match(prediction: str, reference: str, expected: float) -> None:
    assert metrics.exact_match(prediction, reference) == expected


def test_token_f1_counts_overlap() -> None:
    # pred tokens: cat sat on red mat (5); ref: cat sat on mat (4); common 4
    assert metrics.token_f1("a cat sat on a red mat", "the cat sat on the mat") == pytest.approx(
        2 * (4 / 5) * (4 / 4) / (4 / 5 + 1)
    )
    assert metrics.token_f1("x", "") == 0.0
    assert metrics.token_f1("dog", "cat") == 0.0


def test_lcs_and_rouge_l() -> None:
    assert metrics.lcs_length(["a", "b", "c", "d", "e"], ["a", "c", "e", "f"]) == 3
    # pred: police killed gunman (3); ref: police kill gunman (3): lcs 2
    assert metrics.rouge_l("police killed the gunman", "the police kill the gunman") == (
        pytest.approx(2 / 3)
    )
    assert metrics.rouge_l("", "x") == 0.0


def test_score_aggregates_by_metric_and_tag() -> None:
    examples = [
        metrics.Example(r["id"], r["prompt"], r["reference"], tuple(r["tags"])) for r in LABELLED
    ]
    result = metrics.score(examples, {p["id"]: p["prediction"] for p in PREDICTIONS})
    assert result["examples"] == 3
    assert result["metrics"]["exact_match"] == pytest.approx(1 / 3, abs=1e-4)
    f1_q3 = metrics.token_f1("a cat sat on a red mat", "the cat sat on the mat")
    assert result["metrics"]["token_f1"] == pytest.approx((1 + 0 + f1_q3) / 3, abs=1e-4)
    assert result["by_tag"]["math"] == {"exact_match": 0.0, "token_f1": 0.0, "rouge_l": 0.0}
    assert result["by_tag"]["geo"]["exact_match"] == 0.5
    assert result["missing_predictions"] == []


def test_missing_prediction_scores_zero_and_is_reported() -> None:
    examples = [metrics.Example("a", "p", "yes"), metrics.Example("b", "p", "no")]
    result = metrics.score(examples, {"a": "yes", "zzz": "extra"})
    assert result["metrics"]["exact_match"] == 0.5
    assert result["missing_predictions"] == ["b"]
    assert result["unmatched_predictions"] == ["zzz"]


def test_thresholds() -> None:
    assert metrics.check_thresholds({"rouge_l": 0.2}, {"rouge_l": 0.3}) == [
        "rouge_l = 0.2 is below the minimum 0.3"
    ]
    assert metrics.check_thresholds({"rouge_l": 0.5}, {"rouge_l": 0.3}) == []
    with pytest.raises(ValueError, match=re.escape("unknown metric 'bleu' in thresholds")):
        metrics.check_thresholds({}, {"bleu": 0.1})


def test_fails_duplicate_ids(tmp_path: Path) -> None:
    path = _write(tmp_path / "l.jsonl", [LABELLED[0], LABELLED[0]])
    with pytest.raises(ValueError, match=re.escape("duplicate ids: q1")):
        metrics.load_labelled(path)


def test_fails_missing_reference(tmp_path: Path) -> None:
    path = _write(tmp_path / "l.jsonl", [{"id": "x", "prompt": "p"}])
    with pytest.raises(
        ValueError, match=re.escape("record 'x' needs string 'prompt' and 'reference'")
    ):
        metrics.load_labelled(path)


def test_main_writes_report_and_gates(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    _write(labelled / "eval.jsonl", LABELLED)  # a processing input folder
    predictions = _write(tmp_path / "predictions.jsonl", PREDICTIONS)
    report_path = tmp_path / "out" / "report.json"
    argv = [
        "--labelled", str(labelled), "--predictions", str(predictions),
        "--report", str(report_path), "--model-name", "adapter-v1",
        "--min-score", "exact_match=0.5", "--fail-on-threshold",
    ]  # fmt: skip
    assert metrics.main(argv) == 1
    report = json.loads(report_path.read_text())
    assert report["kind"] == "task_metrics"
    assert report["model"] == "adapter-v1"
    assert report["passed"] is False
    assert report["failures"] == ["exact_match = 0.3333 is below the minimum 0.5"]
    assert len(report["per_example"]) == 3
    assert metrics.main(argv[:-3]) == 0


def test_runs_as_a_script_on_cpu(tmp_path: Path) -> None:
    """The processing job runs the file directly: it must not need the package installed."""
    labelled = _write(tmp_path / "l.jsonl", LABELLED)
    predictions = _write(tmp_path / "p.jsonl", PREDICTIONS)
    report = tmp_path / "r.json"
    out = subprocess.run(
        [sys.executable, "-S", metrics.__file__, "--labelled", str(labelled),
         "--predictions", str(predictions), "--report", str(report)],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert json.loads(out.stdout)["passed"] is True
    assert json.loads(report.read_text())["summary"]["examples"] == 3
