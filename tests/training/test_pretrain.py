"""Pre-training from a configuration with the shipped script (``--init_weights random``, what
the ``fsdp-pretrain`` job template passes with ``init_weights: random``), really training on
CPU: a model of the tiny Llama's configuration with fresh weights learns raw text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from training_support import FAST_ARGS, count_records, layout, run_script, series, write_jsonl

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from safetensors.torch import load_file  # noqa: E402

from cdk_llm_training.assets.training.args import TrainingError, parse_args  # noqa: E402


def test_random_init_pretrains_from_the_configuration(tmp_path: Path, base_model: Path) -> None:
    """A model folder with a configuration and a tokenizer but no weights is enough."""
    config_only = tmp_path / "config-only"
    shutil.copytree(base_model, config_only)
    for weights in config_only.glob("*.safetensors"):
        weights.unlink()
    env = layout(tmp_path, config_only)
    texts = [
        {"text": " ".join(r["messages"][-1]["content"] for _ in range(3))}
        for r in count_records(32, 11)
    ]
    write_jsonl(Path(env["SM_CHANNEL_TRAIN"]) / "corpus.jsonl", texts)
    result = run_script(
        [*FAST_ARGS, "--method", "cpt", "--tuning", "full", "--init_weights", "random",
         "--learning_rate", "0.01", "--max_steps", "6", "--save_steps", "100"],
        env,
    )  # fmt: skip
    assert result["status"] == 0, result["log"]
    losses = series(result["log"], "train_loss")
    print(f"random-init losses: {[round(x, 3) for x in losses]}")
    assert len(losses) == 6
    assert losses[-1] < 0.8 * losses[0]
    summary = json.loads((Path(env["SM_MODEL_DIR"]) / "training_summary.json").read_text())
    assert summary["init_weights"] == "random"
    assert summary["trainable_parameters"] == sum(
        p.numel() for p in load_file(str(Path(env["SM_MODEL_DIR"]) / "model.safetensors")).values()
    )


def test_random_init_needs_full_tuning() -> None:
    with pytest.raises(TrainingError, match="--init_weights random"):
        parse_args(["--method", "cpt", "--tuning", "lora", "--init_weights", "random"])
    assert parse_args(["--method", "cpt", "--tuning", "full"]).init_weights == "pretrained"
