"""Helpers of the training-script tests (tests/training): a tiny randomly initialised Llama
built from a config and a word-level tokenizer trained in the test (no hub download),
SageMaker's folder layout in a temp folder, and a runner that captures what the script
prints."""

from __future__ import annotations

import io
import json
import os
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
MARKERS = ["<|system|>", "<|user|>", "<|assistant|>", "count", "from", "after", "you", "count."]

FAST_ARGS = [
    "--per_device_batch_size", "4", "--gradient_accumulation_steps", "2", "--lora_r", "8",
    "--lora_alpha", "32", "--lora_dropout", "0.0", "--logging_steps", "1", "--warmup_ratio",
    "0", "--max_seq_length", "64", "--max_new_tokens", "6", "--gradient_checkpointing",
    "false",
]  # fmt: skip
"""Arguments every test run shares (small batches, a log line per step)."""


def count_records(count: int, seed: int) -> list[dict[str, Any]]:
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


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def build_base_model(folder: Path) -> None:
    import torch
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


def layout(root: Path, model: Path) -> dict[str, str]:
    """SageMaker's /opt/ml layout under ``root`` (the model channel points at ``model``)."""
    return {
        "SM_CHANNEL_TRAIN": str(root / "input/data/train"),
        "SM_CHANNEL_VALIDATION": str(root / "input/data/validation"),
        "SM_CHANNEL_MODEL": str(model),
        "SM_CHANNEL_EVALUATION": str(root / "input/data/evaluation"),
        "SM_CHANNEL_REWARD": str(root / "input/data/reward"),
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DATA_DIR": str(root / "output/data"),
        "SM_CHECKPOINT_DIR": str(root / "checkpoints"),
    }


class Capture:
    """Collects what the script prints (pytest's capsys is function-scoped)."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self.text = ""

    def __enter__(self) -> Capture:
        self._stdout = sys.stdout
        sys.stdout = self._buffer
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self._stdout
        self.text = self._buffer.getvalue()
        self._stdout.write(self.text)


def run_script(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run the script's main in this process; ``{"status", "log"}``."""
    from cdk_llm_training.assets.training import run

    with Capture() as capture:
        status = run.main(argv, env=env)
    return {"status": status, "log": capture.text}


def metrics(text: str) -> Iterator[dict[str, float]]:
    """The ``[metrics]`` lines of a log as dicts."""
    from cdk_llm_training.assets.training.callbacks import iter_metric_lines

    for line in iter_metric_lines(text):
        yield {k: float(v) for k, v in re.findall(r"(\w+)=([-+0-9.eE]+)", line)}


def series(text: str, name: str) -> list[float]:
    return [m[name] for m in metrics(text) if name in m]
