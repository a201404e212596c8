"""SFT with the shipped script, really training: LoRA on the tiny Llama, on CPU. Also covers
what every method shares: the [metrics] lines, checkpoints and resume, the model folder, the
predictions for the metrics gate and the input errors."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from training_support import (
    FAST_ARGS,
    count_records,
    layout,
    run_script,
    series,
    write_jsonl,
)

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from cdk_llm_training.assets.training import run  # noqa: E402
from cdk_llm_training.config.sagemaker_fine_tune_job import METRIC_DEFINITIONS  # noqa: E402

LABELLED = [
    {"id": "c1", "prompt": "count from two", "reference": "three four five six"},
    {"id": "c2", "prompt": "count from zero", "reference": "one two three four"},
    {"prompt": "count from five", "reference": "six seven eight nine"},
]
"""The labelled set (catalog format); the last line has no id, so its id is its line number."""
ARGS = [*FAST_ARGS, "--learning_rate", "0.01", "--save_steps", "4"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, base_model: Path) -> dict[str, str]:
    root = tmp_path_factory.mktemp("opt-ml")
    env = layout(root, base_model)
    write_jsonl(Path(env["SM_CHANNEL_TRAIN"]) / "train.jsonl", count_records(48, seed=1))
    write_jsonl(Path(env["SM_CHANNEL_VALIDATION"]) / "validation.jsonl", count_records(8, 2))
    write_jsonl(Path(env["SM_CHANNEL_EVALUATION"]) / "labelled.jsonl", LABELLED)
    return env


@pytest.fixture(scope="module")
def first_run(env: dict[str, str]) -> dict[str, Any]:
    """8 optimizer steps, checkpoints at 4 and 8 (legacy ``--method lora``: SFT + LoRA)."""
    return run_script([*ARGS, "--method", "lora", "--max_steps", "8"], env)


def test_first_run_succeeds(first_run: dict[str, Any]) -> None:
    assert first_run["status"] == 0, first_run["log"]
    assert "training sft (lora) on 48 records" in first_run["log"]


def test_loss_goes_down(first_run: dict[str, Any]) -> None:
    losses = series(first_run["log"], "train_loss")
    assert len(losses) == 8
    print(f"train losses: {[round(x, 3) for x in losses]}")
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0]


def test_metric_definitions_capture_the_printed_metrics(first_run: dict[str, Any]) -> None:
    found: dict[str, list[float]] = {}
    for line in first_run["log"].splitlines():
        for definition in METRIC_DEFINITIONS:
            match = re.search(definition["Regex"], line)
            if match:
                found.setdefault(definition["Name"], []).append(float(match.group(1)))
    # SFT prints no DPO / GRPO values: their definitions stay silent.
    assert set(found) == {
        "train_loss",
        "eval_loss",
        "tokens_per_second",
        "learning_rate",
        "grad_norm",
    }
    assert len(found["train_loss"]) == 8
    assert len(found["tokens_per_second"]) >= 6
    assert all(value > 0 for value in found["tokens_per_second"])


def test_complete_checkpoints_are_marked(first_run: dict[str, Any], env: dict[str, str]) -> None:
    from cdk_llm_training.assets.training.checkpoints import COMPLETE_MARKER, latest_complete

    folder = Path(env["SM_CHECKPOINT_DIR"])
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("checkpoint-"))
    assert names == ["checkpoint-4", "checkpoint-8"]
    latest = folder / "checkpoint-8"
    assert {"adapter_model.safetensors", "optimizer.pt", "trainer_state.json", COMPLETE_MARKER} <= {
        p.name for p in latest.iterdir()
    }
    assert latest_complete(folder) == latest


def test_model_dir_holds_adapter_tokenizer_and_card(
    first_run: dict[str, Any], env: dict[str, str]
) -> None:
    out = Path(env["SM_MODEL_DIR"])
    names = {p.name for p in out.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md"} <= names
    assert "tokenizer.json" in names
    summary = json.loads((out / "training_summary.json").read_text())
    assert (summary["method"], summary["tuning"], summary["steps"]) == ("sft", "lora", 8)
    assert summary["final_eval_loss"] is not None
    assert "# SFT LORA adapter" in (out / "README.md").read_text()


def test_predictions_for_the_labelled_set_go_to_the_output_data_dir(
    first_run: dict[str, Any], env: dict[str, str]
) -> None:
    path = Path(env["SM_OUTPUT_DATA_DIR"]) / run.PREDICTIONS_FILE
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["c1", "c2", "3"]
    assert all(isinstance(row["prediction"], str) for row in rows)
    assert all(len(row["prediction"].split()) <= 6 for row in rows)
    assert "wrote 3 predictions for labelled.jsonl" in first_run["log"]


def test_metrics_script_scores_the_uploaded_output_archive(
    first_run: dict[str, Any], env: dict[str, str], tmp_path: Path
) -> None:
    """What the task-metrics processing job sees: SageMaker's ``output.tar.gz`` of
    ``/opt/ml/output/data`` in the predictions input folder, the labelled set in its own."""
    from cdk_llm_training.assets.evaluation import metrics

    predictions = tmp_path / "predictions"
    predictions.mkdir()
    with tarfile.open(predictions / "output.tar.gz", "w:gz") as archive:
        for item in sorted(Path(env["SM_OUTPUT_DATA_DIR"]).iterdir()):
            archive.add(item, arcname=item.name)
    report_path = tmp_path / "report.json"
    status = metrics.main(
        [
            *("--labelled", env["SM_CHANNEL_EVALUATION"], "--predictions", str(predictions)),
            *("--report", str(report_path), "--min-score", "token_f1=0"),
        ]
    )
    report = json.loads(report_path.read_text())
    assert status == 0
    assert report["summary"]["examples"] == 3
    assert report["problems"] == {"missing_predictions": [], "unmatched_predictions": []}


def test_second_run_resumes_from_the_latest_complete_checkpoint(
    first_run: dict[str, Any], env: dict[str, str]
) -> None:
    # An interrupted save: a newer checkpoint folder without the completeness marker.
    partial = Path(env["SM_CHECKPOINT_DIR"]) / "checkpoint-9"
    partial.mkdir()
    (partial / "trainer_state.json").write_text("{}")
    second = run_script([*ARGS, "--method", "sft", "--max_steps", "10"], env)
    assert second["status"] == 0, second["log"]
    assert "resumed from checkpoint-8 at step 8" in second["log"]
    steps = [int(m["step"]) for m in _metrics_with(second["log"], "train_loss")]
    assert steps == [9, 10]
    first_losses = series(first_run["log"], "train_loss")
    resumed = series(second["log"], "train_loss")
    print(f"resumed losses: {[round(x, 3) for x in resumed]}")
    # The adapter and optimizer state came back: the loss continues from where it stopped,
    # far below the untrained starting loss.
    assert max(resumed) < 0.5 * first_losses[0]
    summary = json.loads((Path(env["SM_MODEL_DIR"]) / "training_summary.json").read_text())
    assert summary["resumed_from_step"] == 8


def _metrics_with(text: str, name: str) -> list[dict[str, float]]:
    from training_support import metrics

    return [m for m in metrics(text) if name in m]


def test_adapter_loads_back_onto_the_base_model(
    first_run: dict[str, Any], env: dict[str, str]
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base_dir = env["SM_CHANNEL_MODEL"]
    ids = torch.tensor([[2, 5, 6, 7]])
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    with torch.no_grad():
        base_logits = base(ids).logits
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base_dir), env["SM_MODEL_DIR"]
    )
    tuned.eval()
    with torch.no_grad():
        tuned_logits = tuned(ids).logits
    assert not torch.allclose(tuned_logits, base_logits)


def test_qlora_on_cpu_fails_with_a_clear_message(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run.main(["--method", "qlora", "--max_steps", "1"], env=env) == 2
    assert capsys.readouterr().err.strip() == f"error: {run.QLORA_NEEDS_CUDA}"


def test_fails_without_base_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "train/train.jsonl", count_records(2, seed=3))
    env = {
        "SM_CHANNEL_TRAIN": str(tmp_path / "train"),
        "SM_CHANNEL_MODEL": str(tmp_path / "model"),
        "SM_MODEL_DIR": str(tmp_path / "out"),
        "SM_CHECKPOINT_DIR": str(tmp_path / "ckpt"),
    }
    assert run.main(["--max_steps", "1"], env=env) == 2
    assert capsys.readouterr().err.strip() == (
        "error: no base model: pass --model_id, or give the job a 'model' channel holding a "
        f"Hugging Face model folder (config.json not found in {tmp_path / 'model'})"
    )


def test_bad_records_fail_up_front_with_line_numbers(
    tmp_path: Path, base_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = layout(tmp_path, base_model)
    train = Path(env["SM_CHANNEL_TRAIN"]) / "train.jsonl"
    write_jsonl(train, [{"prompt": "a", "chosen": "b", "rejected": "c"}, {"prompt": "a"}])
    assert run.main(["--method", "dpo", "--max_steps", "1"], env=env) == 2
    assert capsys.readouterr().err.strip() == (
        "error: 1 records are not preference records: train.jsonl line 2: missing field "
        "'chosen'; missing field 'rejected'"
    )


def test_cpt_trains_on_raw_text(tmp_path: Path, base_model: Path) -> None:
    """Continued pre-training, full fine-tuning: every weight changes, the loss falls."""
    env = layout(tmp_path, base_model)
    texts = [
        {"text": " ".join(r["messages"][-1]["content"] for _ in range(3))}
        for r in count_records(32, 5)
    ]
    write_jsonl(Path(env["SM_CHANNEL_TRAIN"]) / "corpus.jsonl", texts)
    result = run_script(
        [*FAST_ARGS, "--method", "cpt", "--tuning", "full", "--learning_rate", "0.01",
         "--max_steps", "4", "--save_steps", "100"],
        env,
    )  # fmt: skip
    assert result["status"] == 0, result["log"]
    losses = series(result["log"], "train_loss")
    print(f"cpt losses: {[round(x, 3) for x in losses]}")
    assert losses[-1] < 0.7 * losses[0]
    out = Path(env["SM_MODEL_DIR"])
    assert (out / "model.safetensors").is_file()
    assert "# CPT fully fine-tuned model" in (out / "README.md").read_text()
