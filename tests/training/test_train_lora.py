"""The shipped training script, really training: a tiny randomly initialised Llama built from a
config, a tokenizer trained locally on generated data, no hub download. Runs on CPU."""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from cdk_llm_training.config.sagemaker_fine_tune_job import METRIC_DEFINITIONS  # noqa: E402
from cdk_llm_training.training import train_lora  # noqa: E402

# peft calls transformers' old name for activation checkpointing; nothing to fix here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`is_gradient_checkpointing` is deprecated:FutureWarning"
)

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
MARKERS = ["<|system|>", "<|user|>", "<|assistant|>", "count", "from", "after", "you", "count."]


def _records(count: int, seed: int) -> list[dict[str, Any]]:
    """A learnable task: the assistant continues a count (``three`` -> ``four five six``)."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        start = rng.randrange(0, 6)
        records.append(
            {
                "messages": [
                    {"role": "system", "content": "you count."},
                    {"role": "user", "content": f"count from {WORDS[start]}"},
                    {"role": "assistant", "content": " ".join(WORDS[start + 1 : start + 5])},
                ]
            }
        )
    return records


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _build_base_model(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(special_tokens=specials)
    tokenizer.train_from_iterator([" ".join(WORDS + MARKERS)], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="[PAD]",
        unk_token="[UNK]",
        bos_token="[BOS]",
        eos_token="[EOS]",
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        initializer_range=0.3,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    fast.save_pretrained(str(folder))


@pytest.fixture(scope="module")
def sagemaker_layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A temp folder laid out like /opt/ml, addressed through the SM_* variables."""
    root = tmp_path_factory.mktemp("opt-ml")
    _build_base_model(root / "input/data/model")
    _write_jsonl(root / "input/data/train/train.jsonl", _records(48, seed=1))
    _write_jsonl(root / "input/data/validation/validation.jsonl", _records(8, seed=2))
    _write_jsonl(root / "input/data/evaluation/labelled.jsonl", LABELLED)
    return {
        "SM_CHANNEL_TRAIN": str(root / "input/data/train"),
        "SM_CHANNEL_VALIDATION": str(root / "input/data/validation"),
        "SM_CHANNEL_MODEL": str(root / "input/data/model"),
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DATA_DIR": str(root / "output/data"),
        "SM_CHECKPOINT_DIR": str(root / "checkpoints"),
        "SM_CHANNEL_EVALUATION": str(root / "input/data/evaluation"),
    }


LABELLED = [
    {"id": "c1", "prompt": "count from two", "reference": "three four five six"},
    {"id": "c2", "prompt": "count from zero", "reference": "one two three four"},
    {"prompt": "count from five", "reference": "six seven eight nine"},
]
"""The labelled set (catalog format); the last line has no id, so its id is its line number."""


ARGS = [
    "--learning_rate", "0.01", "--per_device_batch_size", "4",
    "--gradient_accumulation_steps", "2", "--lora_r", "8", "--lora_alpha", "32",
    "--lora_dropout", "0.0", "--logging_steps", "1", "--save_steps", "6",
    "--warmup_ratio", "0", "--max_seq_length", "64", "--max_new_tokens", "6",
]  # fmt: skip


def _metrics(text: str) -> Iterator[dict[str, float]]:
    for line in train_lora.iter_metric_lines(text):
        yield {k: float(v) for k, v in re.findall(r"(\w+)=([-+0-9.eE]+)", line)}


@pytest.fixture(scope="module")
def first_run(sagemaker_layout: dict[str, str]) -> dict[str, Any]:
    """12 optimizer steps, checkpoints at 6 and 12."""
    capture = _Capture()
    with capture:
        status = train_lora.main([*ARGS, "--max_steps", "12"], env=sagemaker_layout)
    return {"status": status, "log": capture.text}


class _Capture:
    """Collects what the script prints (pytest's capsys is function-scoped)."""

    def __init__(self) -> None:
        import io
        import sys

        self._sys = sys
        self._buffer = io.StringIO()
        self.text = ""

    def __enter__(self) -> None:
        self._stdout = self._sys.stdout
        self._sys.stdout = self._buffer

    def __exit__(self, *exc: object) -> None:
        self._sys.stdout = self._stdout
        self.text = self._buffer.getvalue()
        self._stdout.write(self.text)


def test_first_run_succeeds(first_run: dict[str, Any]) -> None:
    assert first_run["status"] == 0, first_run["log"]


def test_loss_goes_down(first_run: dict[str, Any]) -> None:
    losses = [m["train_loss"] for m in _metrics(first_run["log"]) if "train_loss" in m]
    assert len(losses) == 12
    print(f"train losses: {[round(x, 3) for x in losses]}")
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0]


def test_metric_definitions_capture_the_printed_metrics(first_run: dict[str, Any]) -> None:
    found: dict[str, list[float]] = {}
    for line in first_run["log"].splitlines():
        for definition in METRIC_DEFINITIONS:
            match = re.search(definition["Regex"], line)
            if match:
                found.setdefault(definition["Name"], []).append(float(match.group(1)))
    assert set(found) == {"train_loss", "eval_loss", "tokens_per_second", "learning_rate"}
    assert len(found["train_loss"]) == 12
    assert all(value > 0 for value in found["tokens_per_second"])


def test_checkpoints_are_written(
    first_run: dict[str, Any], sagemaker_layout: dict[str, str]
) -> None:
    folder = Path(sagemaker_layout["SM_CHECKPOINT_DIR"])
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["checkpoint-00000006", "checkpoint-00000012"]
    latest = folder / "checkpoint-00000012"
    assert {"adapter_model.safetensors", "adapter_config.json", "optimizer.pt"} <= {
        p.name for p in latest.iterdir()
    }
    assert json.loads((latest / "trainer_state.json").read_text())["step"] == 12


def test_model_dir_holds_adapter_tokenizer_and_card(
    first_run: dict[str, Any], sagemaker_layout: dict[str, str]
) -> None:
    out = Path(sagemaker_layout["SM_MODEL_DIR"])
    names = {p.name for p in out.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md"} <= names
    assert "tokenizer.json" in names
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["steps"] == 12
    assert summary["final_eval_loss"] is not None
    assert "# LORA adapter" in (out / "README.md").read_text()


def test_predictions_for_the_labelled_set_go_to_the_output_data_dir(
    first_run: dict[str, Any], sagemaker_layout: dict[str, str]
) -> None:
    path = Path(sagemaker_layout["SM_OUTPUT_DATA_DIR"]) / train_lora.PREDICTIONS_FILE
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["c1", "c2", "3"]
    assert all(isinstance(row["prediction"], str) for row in rows)
    assert all(len(row["prediction"].split()) <= 6 for row in rows)
    assert "wrote 3 predictions for labelled.jsonl" in first_run["log"]
    summary = json.loads(
        (Path(sagemaker_layout["SM_MODEL_DIR"]) / "training_summary.json").read_text()
    )
    assert summary["predictions"] == 3


def test_metrics_script_scores_the_uploaded_output_archive(
    first_run: dict[str, Any], sagemaker_layout: dict[str, str], tmp_path: Path
) -> None:
    """What the task-metrics processing job sees: SageMaker's ``output.tar.gz`` of
    ``/opt/ml/output/data`` in the predictions input folder, the labelled set in its own."""
    import tarfile

    from cdk_llm_training.evaluation import metrics

    predictions = tmp_path / "predictions"
    predictions.mkdir()
    with tarfile.open(predictions / "output.tar.gz", "w:gz") as archive:
        data = Path(sagemaker_layout["SM_OUTPUT_DATA_DIR"])
        for item in sorted(data.iterdir()):
            archive.add(item, arcname=item.name)
    labelled = Path(sagemaker_layout["SM_CHANNEL_EVALUATION"])
    report_path = tmp_path / "report.json"
    status = metrics.main(
        [
            *("--labelled", str(labelled), "--predictions", str(predictions)),
            *("--report", str(report_path), "--min-score", "token_f1=0"),
        ]
    )
    report = json.loads(report_path.read_text())
    assert status == 0
    assert report["summary"]["examples"] == 3
    assert report["problems"] == {"missing_predictions": [], "unmatched_predictions": []}
    assert report["passed"] is True


def test_no_evaluation_channel_writes_no_predictions(tmp_path: Path) -> None:
    assert train_lora.first_jsonl(tmp_path / "absent") is None
    (tmp_path / "empty").mkdir()
    assert train_lora.first_jsonl(tmp_path / "empty") is None


def test_second_run_resumes_from_the_checkpoint(
    first_run: dict[str, Any], sagemaker_layout: dict[str, str]
) -> None:
    capture = _Capture()
    with capture:
        status = train_lora.main([*ARGS, "--max_steps", "16"], env=sagemaker_layout)
    assert status == 0, capture.text
    assert "resumed from checkpoint-00000012 at step 12" in capture.text
    steps = [int(m["step"]) for m in _metrics(capture.text) if "train_loss" in m]
    assert steps == [13, 14, 15, 16]
    first_losses = [m["train_loss"] for m in _metrics(first_run["log"]) if "train_loss" in m]
    resumed_losses = [m["train_loss"] for m in _metrics(capture.text) if "train_loss" in m]
    print(f"resumed losses: {[round(x, 3) for x in resumed_losses]}")
    # The adapter and optimizer state came back: the loss continues from where it was,
    # far below the untrained starting loss.
    assert max(resumed_losses) < 0.5 * first_losses[0]
    folder = Path(sagemaker_layout["SM_CHECKPOINT_DIR"])
    assert sorted(p.name for p in folder.iterdir()) == [
        "checkpoint-00000012",
        "checkpoint-00000016",
    ]
    summary = json.loads(
        (Path(sagemaker_layout["SM_MODEL_DIR"]) / "training_summary.json").read_text()
    )
    assert summary["resumed_from_step"] == 12


def test_adapter_loads_back_onto_the_base_model(
    first_run: dict[str, Any], sagemaker_layout: dict[str, str]
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base_dir = sagemaker_layout["SM_CHANNEL_MODEL"]
    ids = torch.tensor([[2, 5, 6, 7]])
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    with torch.no_grad():
        base_logits = base(ids).logits
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base_dir), sagemaker_layout["SM_MODEL_DIR"]
    )
    tuned.eval()
    with torch.no_grad():
        tuned_logits = tuned(ids).logits
    assert tuned_logits.shape == base_logits.shape
    assert not torch.allclose(tuned_logits, base_logits)
    merged = tuned.merge_and_unload()
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, tuned_logits, atol=1e-4)


def test_qlora_on_cpu_fails_with_a_clear_message(
    sagemaker_layout: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = train_lora.main(["--method", "qlora", "--max_steps", "1"], env=sagemaker_layout)
    assert status == 2
    assert capsys.readouterr().err.strip() == f"error: {train_lora.QLORA_NEEDS_CUDA}"


def test_fails_without_base_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_jsonl(tmp_path / "train/train.jsonl", _records(2, seed=3))
    env = {
        "SM_CHANNEL_TRAIN": str(tmp_path / "train"),
        "SM_CHANNEL_MODEL": str(tmp_path / "model"),
        "SM_MODEL_DIR": str(tmp_path / "out"),
        "SM_CHECKPOINT_DIR": str(tmp_path / "ckpt"),
    }
    assert train_lora.main(["--max_steps", "1"], env=env) == 2
    assert capsys.readouterr().err.strip() == (
        "error: no base model: pass --model_id, or give the job a 'model' channel holding a "
        f"Hugging Face model folder (config.json not found in {tmp_path / 'model'})"
    )


@pytest.mark.parametrize(
    ("record", "record_format", "expected"),
    [
        (
            {"instruction": "add", "input": "1 2", "output": "3"},
            "instruction",
            [{"role": "user", "content": "add\n\n1 2"}, {"role": "assistant", "content": "3"}],
        ),
        (
            {"prompt": "p", "completion": "c"},
            "prompt_completion",
            [{"role": "user", "content": "p"}, {"role": "assistant", "content": "c"}],
        ),
    ],
)
def test_record_formats_become_messages(
    record: dict[str, Any], record_format: str, expected: list[dict[str, str]]
) -> None:
    assert train_lora.to_messages(record, record_format) == expected


def test_batch_schedule_is_deterministic_across_restarts() -> None:
    examples = [train_lora.Example([i], [i]) for i in range(10)]
    first = train_lora.BatchSchedule(examples, batch_size=3, seed=7)
    again = train_lora.BatchSchedule(examples, batch_size=3, seed=7)
    assert first.batches_per_epoch == 4
    sequence = [[e.input_ids[0] for e in first.batch(p)] for p in range(8)]
    assert [[e.input_ids[0] for e in again.batch(p)] for p in range(5, 8)] == sequence[5:]
    assert sorted(i for batch in sequence[:4] for i in batch) == list(range(10))
