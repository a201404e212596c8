"""DPO (and KTO) with the shipped script on the tiny Llama: the labeling workflow's preference
output trains as it is, the reward margin and the preference accuracy rise, resume works."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from training_support import FAST_ARGS, WORDS, layout, run_script, series, write_jsonl

pytest.importorskip("trl")

from cdk_llm_training.assets.runtime.labeling_postprocess import convert, rows_to_jsonl

LABEL = "llm-labels"
ARGS = [*FAST_ARGS, "--method", "dpo", "--learning_rate", "0.01", "--beta", "0.1"]


def _manifest_lines(count: int, seed: int) -> list[str]:
    """What Ground Truth writes for a preference job: the input line (prompt and two
    responses) plus the workers' consolidated answers. The correct count is response A on
    even lines and response B on odd ones; two of three workers pick it."""
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        start = rng.randrange(0, 6)
        good = " ".join(WORDS[start + 1 : start + 5])
        bad = " ".join(rng.choice(WORDS) for _ in range(4))
        a, b, right = (good, bad, "A") if index % 2 == 0 else (bad, good, "B")
        wrong = "B" if right == "A" else "A"
        answers = [
            {"workerId": f"w{n}", "annotationData": {"content": json.dumps({"preference": p})}}
            for n, p in enumerate((right, right, wrong))
        ]
        lines.append(
            json.dumps(
                {
                    "source": f"count from {WORDS[start]}",
                    "response_a": a,
                    "response_b": b,
                    LABEL: {"annotationsFromAllWorkers": answers},
                }
            )
        )
    return lines


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, base_model: Path) -> dict[str, str]:
    """The converter's train.jsonl, byte for byte, is the training channel."""
    env = layout(tmp_path_factory.mktemp("dpo"), base_model)
    conversion = convert(_manifest_lines(32, 7), task_type="preference", label_attribute=LABEL)
    assert conversion.report["pairs"] == 32
    train = Path(env["SM_CHANNEL_TRAIN"]) / "train.jsonl"
    train.parent.mkdir(parents=True)
    train.write_bytes(rows_to_jsonl(conversion.rows))
    return env


@pytest.fixture(scope="module")
def first_run(env: dict[str, str]) -> dict[str, Any]:
    return run_script([*ARGS, "--max_steps", "6", "--save_steps", "3"], env)


def test_converter_output_trains_as_it_is(first_run: dict[str, Any]) -> None:
    assert first_run["status"] == 0, first_run["log"]
    assert "training dpo (lora) on 32 records" in first_run["log"]


def test_reward_margin_and_preference_accuracy_rise(first_run: dict[str, Any]) -> None:
    margins = series(first_run["log"], "reward_margin")
    accuracies = series(first_run["log"], "reward_accuracy")
    print(f"margins {[round(m, 3) for m in margins]} accuracies {accuracies}")
    assert len(margins) == len(accuracies) == 6
    assert sum(margins[-2:]) / 2 > sum(margins[:2]) / 2 + 0.1
    assert sum(accuracies[-2:]) / 2 >= 0.9
    assert sum(accuracies[-2:]) / 2 > sum(accuracies[:2]) / 2


def test_resume_continues_the_preference_run(
    first_run: dict[str, Any], env: dict[str, str]
) -> None:
    second = run_script([*ARGS, "--max_steps", "8", "--save_steps", "3"], env)
    assert second["status"] == 0, second["log"]
    assert "resumed from checkpoint-6 at step 6" in second["log"]
    from training_support import metrics

    assert [int(m["step"]) for m in metrics(second["log"]) if "reward_margin" in m] == [7, 8]
    first_margins = series(first_run["log"], "reward_margin")
    assert min(series(second["log"], "reward_margin")) > first_margins[0]
    card = (Path(env["SM_MODEL_DIR"]) / "README.md").read_text()
    assert "# DPO LORA adapter" in card


def test_kto_trains_on_labelled_single_answers(tmp_path: Path, base_model: Path) -> None:
    """KTO: each record is one answer marked desirable or not; the loss falls."""
    env = layout(tmp_path, base_model)
    rng = random.Random(3)
    records = []
    for index in range(32):
        start = rng.randrange(0, 6)
        good = index % 2 == 0
        answer = (
            " ".join(WORDS[start + 1 : start + 5])
            if good
            else " ".join(rng.choice(WORDS) for _ in range(4))
        )
        records.append(
            {"prompt": f"count from {WORDS[start]}", "completion": answer, "label": good}
        )
    write_jsonl(Path(env["SM_CHANNEL_TRAIN"]) / "train.jsonl", records)
    result = run_script(
        [*FAST_ARGS, "--method", "kto", "--learning_rate", "0.01", "--max_steps", "4",
         "--save_steps", "100"],
        env,
    )  # fmt: skip
    assert result["status"] == 0, result["log"]
    losses = series(result["log"], "train_loss")
    print(f"kto losses {[round(x, 3) for x in losses]}")
    assert len(losses) == 4
    assert losses[-1] < losses[0]
