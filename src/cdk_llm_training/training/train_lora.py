"""Fine-tune an open-weight causal language model with LoRA or QLoRA on a SageMaker job.

The Hugging Face training container runs this file with the job's hyperparameters as
``--name value`` arguments. It reads SageMaker's layout (every path can be moved with the
environment variable in brackets):

- training data: ``/opt/ml/input/data/train`` [``SM_CHANNEL_TRAIN``], JSONL files;
- validation data (optional): ``/opt/ml/input/data/validation`` [``SM_CHANNEL_VALIDATION``];
- base model weights (optional): ``/opt/ml/input/data/model`` [``SM_CHANNEL_MODEL``], a
  Hugging Face model folder copied from the data lake; or ``--model_id`` when the network
  allows a hub download;
- checkpoints: ``/opt/ml/checkpoints`` [``SM_CHECKPOINT_DIR``], synced to S3 by SageMaker
  and restored after a spot interruption: the run resumes from the latest complete one;
- the adapter, tokenizer and model card: ``/opt/ml/model`` [``SM_MODEL_DIR``];
- labelled evaluation set (optional): ``/opt/ml/input/data/evaluation``
  [``SM_CHANNEL_EVALUATION``], JSONL lines with ``prompt`` (and ``id``; default: the line
  number). After training the adapter answers every prompt (greedy decoding) and the
  answers go to ``/opt/ml/output/data/predictions.jsonl`` [``SM_OUTPUT_DATA_DIR``] as
  ``{"id", "prediction"}`` lines; SageMaker uploads that folder as
  ``<output path><job>/output/output.tar.gz``, which the task-metrics job scores.

Records (one JSON object per line), by ``--record_format``:
``chat`` ``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}``;
``instruction`` ``{"instruction": "...", "input": "...", "output": "..."}`` (``input``
optional); ``prompt_completion`` ``{"prompt": "...", "completion": "..."}``. The loss is
computed on the final assistant turn (the completion) only.

Metrics are printed one line per event, in the form the job's metric definitions capture:
``[metrics] step=12 train_loss=1.2345 learning_rate=2.000e-04 tokens_per_second=812.3`` and
``[metrics] step=12 eval_loss=1.3456``.

QLoRA (``--method qlora``) loads the frozen weights in 4-bit NF4 with bitsandbytes, which needs
a CUDA GPU; LoRA also trains on CPU (slowly: that is how the tests run it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

SM_DEFAULTS = {
    "SM_CHANNEL_TRAIN": "/opt/ml/input/data/train",
    "SM_CHANNEL_VALIDATION": "/opt/ml/input/data/validation",
    "SM_CHANNEL_MODEL": "/opt/ml/input/data/model",
    "SM_CHANNEL_EVALUATION": "/opt/ml/input/data/evaluation",
    "SM_MODEL_DIR": "/opt/ml/model",
    "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
    "SM_CHECKPOINT_DIR": "/opt/ml/checkpoints",
}
RECORD_FORMATS = ("chat", "instruction", "prompt_completion")
METHODS = ("lora", "qlora")
CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "trainer_state.json"
IGNORE_INDEX = -100
PREDICTIONS_FILE = "predictions.jsonl"
PLAIN_TEMPLATE = {"system": "<|system|>\n", "user": "<|user|>\n", "assistant": "<|assistant|>\n"}
"""Turn headers used when the tokenizer has no chat template of its own."""
QLORA_NEEDS_CUDA = (
    "method=qlora needs a CUDA GPU: bitsandbytes loads the frozen weights in 4-bit NF4 on the "
    "GPU only, and this machine has none. Use method=lora here, or run on a GPU instance "
    "(ml.g5, ml.g6, ml.g6e, ml.p4d, ml.p5)."
)


class TrainingError(Exception):
    """A problem with the inputs: printed as one line and the process exits with status 2."""


# -- arguments -----------------------------------------------------------------------------


def _bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add = parser.add_argument
    add("--method", choices=METHODS, default="lora")
    add("--record_format", choices=RECORD_FORMATS, default="chat")
    add("--model_id", default="", help="hub model id; default: the 'model' channel")
    add("--epochs", type=float, default=1.0)
    add("--max_steps", type=int, default=-1, help="optimizer steps; overrides --epochs")
    add("--learning_rate", type=float, default=2e-4)
    add("--weight_decay", type=float, default=0.0)
    add("--warmup_ratio", type=float, default=0.03)
    add("--per_device_batch_size", type=int, default=1)
    add("--gradient_accumulation_steps", type=int, default=4)
    add("--max_seq_length", type=int, default=2048)
    add("--lora_r", type=int, default=16)
    add("--lora_alpha", type=int, default=32)
    add("--lora_dropout", type=float, default=0.05)
    add("--target_modules", default="all-linear", help="'all-linear' or comma-separated names")
    add("--gradient_checkpointing", type=_bool, default=True)
    add("--logging_steps", type=int, default=10)
    add("--eval_steps", type=int, default=0, help="0: evaluate at the end only")
    add("--save_steps", type=int, default=100)
    add("--save_total_limit", type=int, default=2)
    add("--seed", type=int, default=42)
    add("--max_new_tokens", type=int, default=256, help="per prediction for the evaluation set")
    add("--trust_remote_code", type=_bool, default=False)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {' '.join(unknown)}", flush=True)
    for name in (
        "per_device_batch_size",
        "gradient_accumulation_steps",
        "max_seq_length",
        "max_new_tokens",
    ):
        if getattr(args, name) < 1:
            raise TrainingError(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


@dataclass(frozen=True)
class Paths:
    train: Path
    validation: Path
    model: Path
    output: Path
    output_data: Path
    checkpoints: Path
    evaluation: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Paths:
        def get(name: str) -> Path:
            return Path(env.get(name) or SM_DEFAULTS[name])

        return cls(
            train=get("SM_CHANNEL_TRAIN"),
            validation=get("SM_CHANNEL_VALIDATION"),
            model=get("SM_CHANNEL_MODEL"),
            output=get("SM_MODEL_DIR"),
            output_data=get("SM_OUTPUT_DATA_DIR"),
            checkpoints=get("SM_CHECKPOINT_DIR"),
            evaluation=get("SM_CHANNEL_EVALUATION"),
        )


# -- data ----------------------------------------------------------------------------------


def jsonl_files(folder: Path) -> list[Path]:
    """The dataset files of a channel: every ``*.jsonl`` / ``*.json`` file, sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json"))


def to_messages(record: Any, record_format: str) -> list[dict[str, str]]:
    """One record as a list of ``{"role", "content"}`` turns ending with the assistant."""
    if not isinstance(record, dict):
        raise ValueError("record must be a JSON object")
    if record_format == "chat":
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("field 'messages' must be a non-empty list")
        turns = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    elif record_format == "instruction":
        prompt = str(record["instruction"])
        if record.get("input"):
            prompt = f"{prompt}\n\n{record['input']}"
        turns = [{"role": "user", "content": prompt}, {"role": "assistant", "content": ""}]
        turns[-1]["content"] = str(record["output"])
        if record.get("system"):
            turns.insert(0, {"role": "system", "content": str(record["system"])})
    else:
        turns = [
            {"role": "user", "content": str(record["prompt"])},
            {"role": "assistant", "content": str(record["completion"])},
        ]
    if turns[-1]["role"] != "assistant":
        raise ValueError("the last turn must be the assistant's")
    return turns


def render(messages: list[dict[str, str]], tokenizer: Any) -> tuple[str, str]:
    """(prompt text, completion text): the completion is the final assistant turn."""
    context, answer = messages[:-1], messages[-1]["content"]
    if getattr(tokenizer, "chat_template", None):
        prompt = tokenizer.apply_chat_template(context, tokenize=False, add_generation_prompt=True)
        return str(prompt), answer
    parts = [f"{PLAIN_TEMPLATE[m['role']]}{m['content']}\n" for m in context]
    return "".join(parts) + PLAIN_TEMPLATE["assistant"], answer


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]


@dataclass
class Dataset:
    examples: list[Example]
    records: int = 0
    truncated: int = 0
    dropped: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(len(e.input_ids) for e in self.examples)


def load_dataset(folder: Path, record_format: str, tokenizer: Any, max_len: int) -> Dataset:
    """Tokenize every record of every JSONL file under ``folder``."""
    files = jsonl_files(folder)
    data = Dataset(examples=[], files=[str(f) for f in files])
    eos = tokenizer.eos_token_id
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                data.records += 1
                try:
                    messages = to_messages(json.loads(line), record_format)
                except (ValueError, KeyError, TypeError) as error:
                    raise TrainingError(
                        f"{path.name} line {number}: not a {record_format} record: {error}"
                    ) from None
                prompt, answer = render(messages, tokenizer)
                prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
                answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
                if eos is not None:
                    answer_ids = [*answer_ids, eos]
                ids = [*prompt_ids, *answer_ids]
                labels = [IGNORE_INDEX] * len(prompt_ids) + list(answer_ids)
                if len(ids) > max_len:
                    data.truncated += 1
                    ids, labels = ids[:max_len], labels[:max_len]
                if all(label == IGNORE_INDEX for label in labels):
                    data.dropped += 1
                    continue
                data.examples.append(Example(ids, labels))
    return data


def first_jsonl(folder: Path) -> Path | None:
    """The labelled set of the evaluation channel: its first ``*.jsonl`` file (sorted), the
    same file the task-metrics script scores against."""
    if not folder.is_dir():
        return None
    files = sorted(folder.rglob("*.jsonl"))
    return files[0] if files else None


def predict(
    model: Any, tokenizer: Any, labelled: Path, *, max_new_tokens: int, device: Any
) -> list[dict[str, str]]:
    """Greedy answers of the trained adapter to every ``prompt`` of the labelled set, as
    ``{"id", "prediction"}`` rows; ids as the metrics script reads them (``id``, else the
    line number)."""
    model.eval()
    rows: list[dict[str, str]] = []
    with labelled.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                prompt_text = record["prompt"]
            except (ValueError, KeyError, TypeError) as error:
                raise TrainingError(
                    f"{labelled.name} line {number}: not a labelled record: {error}"
                ) from None
            if not isinstance(prompt_text, str):
                raise TrainingError(f"{labelled.name} line {number}: 'prompt' must be a string")
            turns = [{"role": "user", "content": prompt_text}, {"role": "assistant", "content": ""}]
            prompt, _ = render(turns, tokenizer)
            encoded = tokenizer(prompt, add_special_tokens=True, return_tensors="pt")
            encoded = {k: v.to(device) for k, v in encoded.items()}
            with torch.no_grad():
                output = model.generate(
                    **encoded,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new_tokens = output[0, encoded["input_ids"].shape[1] :]
            answer = tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
            rows.append({"id": str(record.get("id", number)), "prediction": answer})
    return rows


def collate(batch: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, example in enumerate(batch):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class BatchSchedule:
    """The micro-batches of every epoch, shuffled per epoch with a fixed seed, as one flat
    sequence: optimizer step ``s`` uses positions ``s * accumulation ...``, so a resumed run
    sees exactly the batches the interrupted run would have seen."""

    def __init__(self, examples: list[Example], batch_size: int, seed: int) -> None:
        self.examples = examples
        self.batch_size = batch_size
        self.seed = seed
        self.batches_per_epoch = math.ceil(len(examples) / batch_size)
        self._epoch = -1
        self._order: list[int] = []

    def batch(self, position: int) -> list[Example]:
        epoch, index = divmod(position, self.batches_per_epoch)
        if epoch != self._epoch:
            self._order = list(range(len(self.examples)))
            random.Random(self.seed + epoch).shuffle(self._order)
            self._epoch = epoch
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return [self.examples[i] for i in chosen]


# -- model ---------------------------------------------------------------------------------


def _dtype_argument(dtype: torch.dtype) -> dict[str, Any]:
    """transformers 4.56 renamed ``torch_dtype`` to ``dtype``; the pinned container is older."""
    import transformers

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def compute_dtype() -> torch.dtype:
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_model(args: argparse.Namespace, source: str) -> tuple[Any, Any]:
    """The tokenizer and the base model with fresh LoRA adapters (frozen base weights)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=args.trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = compute_dtype()
    kwargs: dict[str, Any] = {"trust_remote_code": args.trust_remote_code}
    if args.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs, **_dtype_argument(dtype))
    if args.method == "qlora":
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=args.gradient_checkpointing
        )
    elif torch.cuda.is_available():
        model = model.to("cuda")
    if args.gradient_checkpointing:
        # transformers 5 renamed it (the old name still works there, with a warning).
        no_reentrant = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=no_reentrant)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=no_reentrant)
        model.enable_input_require_grads()
    targets: str | list[str] = args.target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in str(targets).split(",") if t.strip()]
    config = LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return tokenizer, get_peft_model(model, config)


def check_method(method: str) -> None:
    if method != "qlora":
        return
    if not torch.cuda.is_available():
        raise TrainingError(QLORA_NEEDS_CUDA)
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise TrainingError(
            "method=qlora needs the bitsandbytes package (listed in requirements.txt next to "
            "this script); it is not installed."
        ) from None


# -- checkpoints ---------------------------------------------------------------------------


def latest_checkpoint(folder: Path) -> Path | None:
    """The complete checkpoint with the highest step (its state file is written last)."""
    if not folder.is_dir():
        return None
    complete = [
        p
        for p in folder.iterdir()
        if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX) and (p / STATE_FILE).is_file()
    ]
    return max(complete, key=lambda p: int(p.name.removeprefix(CHECKPOINT_PREFIX)), default=None)


def save_checkpoint(
    folder: Path,
    step: int,
    *,
    model: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    keep: int,
) -> Path:
    """Write to a temporary folder and rename it, so an interruption never leaves a partial
    checkpoint that looks complete; keep only the newest ``keep`` checkpoints."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{CHECKPOINT_PREFIX}{step:08d}"
    partial = folder / f".partial-{final.name}"
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial))
    torch.save(optimizer.state_dict(), partial / "optimizer.pt")
    torch.save(scheduler.state_dict(), partial / "scheduler.pt")
    (partial / STATE_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    older = sorted(
        (p for p in folder.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX)),
        key=lambda p: int(p.name.removeprefix(CHECKPOINT_PREFIX)),
    )
    for stale in older[: max(0, len(older) - max(1, keep))]:
        shutil.rmtree(stale, ignore_errors=True)
    return final


def restore_checkpoint(
    path: Path, model: Any, optimizer: torch.optim.Optimizer, scheduler: Any
) -> dict[str, Any]:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = path / "adapter_model.safetensors"
    if weights.is_file():
        adapter = load_file(str(weights))
    else:
        adapter = torch.load(path / "adapter_model.bin", map_location="cpu")
    set_peft_model_state_dict(model, adapter)
    device = next(p.device for p in model.parameters() if p.requires_grad)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=device))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", map_location="cpu"))
    state: dict[str, Any] = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    return state


# -- training ------------------------------------------------------------------------------


def emit(step: int, **values: float) -> None:
    """One metrics line (the format the job's metric definitions match)."""
    parts = []
    for name, value in values.items():
        text = f"{value:.3e}" if name == "learning_rate" else f"{value:.6f}"
        if name == "tokens_per_second":
            text = f"{value:.1f}"
        parts.append(f"{name}={text}")
    print(f"[metrics] step={step} {' '.join(parts)}", flush=True)


def evaluate(model: Any, data: Dataset, batch_size: int, pad_id: int, device: Any) -> float:
    """Mean loss per completion token over the validation set."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data.examples), batch_size):
            batch = collate(data.examples[start : start + batch_size], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            tokens = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
            loss = model(**batch).loss
            total += float(loss) * tokens
            count += tokens
    model.train()
    return total / max(1, count)


def total_steps(args: argparse.Namespace, batches_per_epoch: int) -> int:
    if args.max_steps > 0:
        return int(args.max_steps)
    per_epoch = math.ceil(batches_per_epoch / int(args.gradient_accumulation_steps))
    return max(1, math.ceil(per_epoch * float(args.epochs)))


def _lr_lambda(warmup: int, steps: int) -> Any:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return factor


def train(args: argparse.Namespace, paths: Paths) -> dict[str, Any]:
    check_method(args.method)
    source = args.model_id or str(paths.model)
    if not args.model_id and not (paths.model / "config.json").is_file():
        raise TrainingError(
            f"no base model: pass --model_id, or give the job a 'model' channel holding a "
            f"Hugging Face model folder (config.json not found in {paths.model})"
        )
    if not jsonl_files(paths.train):
        raise TrainingError(f"no training data: no .jsonl file in {paths.train}")
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    tokenizer, model = load_model(args, source)
    train_data = load_dataset(paths.train, args.record_format, tokenizer, args.max_seq_length)
    if not train_data.examples:
        raise TrainingError("the training data has no usable record")
    eval_data = load_dataset(paths.validation, args.record_format, tokenizer, args.max_seq_length)
    device = next(p.device for p in model.parameters())
    pad_id = int(tokenizer.pad_token_id)
    schedule = BatchSchedule(train_data.examples, args.per_device_batch_size, args.seed)
    steps = total_steps(args, schedule.batches_per_epoch)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.learning_rate, weight_decay=args.weight_decay)
    warmup = int(steps * args.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(warmup, steps))

    start_step, history = 0, []
    checkpoint = latest_checkpoint(paths.checkpoints)
    if checkpoint is not None:
        state = restore_checkpoint(checkpoint, model, optimizer, scheduler)
        start_step, history = int(state["step"]), list(state.get("history", []))
        print(f"resumed from {checkpoint.name} at step {start_step}", flush=True)
    n_trainable = sum(p.numel() for p in trainable)
    n_total = sum(p.numel() for p in model.parameters())
    print(
        f"training {args.method} on {len(train_data.examples)} records "
        f"({train_data.tokens} tokens, {train_data.truncated} truncated, {train_data.dropped} "
        f"dropped) for {steps} steps; trainable parameters {n_trainable} of {n_total} "
        f"({100.0 * n_trainable / max(1, n_total):.3f}%)",
        flush=True,
    )

    model.train()
    window_loss, window_steps, window_tokens, window_start = 0.0, 0, 0, time.perf_counter()
    last_eval: float | None = None
    step = start_step
    for step in range(start_step + 1, steps + 1):
        torch.manual_seed(args.seed + step)
        step_loss = 0.0
        accumulation = args.gradient_accumulation_steps
        for micro in range(accumulation):
            position = (step - 1) * accumulation + micro
            batch = collate(schedule.batch(position), pad_id)
            window_tokens += int(batch["attention_mask"].sum())
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = model(**batch).loss / accumulation
            loss.backward()
            step_loss += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        history.append({"step": step, "train_loss": step_loss})
        window_loss += step_loss
        window_steps += 1
        if step % max(1, args.logging_steps) == 0 or step == steps:
            elapsed = max(time.perf_counter() - window_start, 1e-9)
            emit(
                step,
                train_loss=window_loss / window_steps,
                learning_rate=scheduler.get_last_lr()[0],
                tokens_per_second=window_tokens / elapsed,
            )
            window_loss, window_steps, window_tokens = 0.0, 0, 0
            window_start = time.perf_counter()
        if eval_data.examples and args.eval_steps > 0 and step % args.eval_steps == 0:
            last_eval = evaluate(model, eval_data, args.per_device_batch_size, pad_id, device)
            emit(step, eval_loss=last_eval)
        if step % max(1, args.save_steps) == 0 or step == steps:
            state = {"step": step, "total_steps": steps, "history": history}
            save_checkpoint(
                paths.checkpoints,
                step,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                state=state,
                keep=args.save_total_limit,
            )
    if eval_data.examples and (last_eval is None or args.eval_steps <= 0):
        last_eval = evaluate(model, eval_data, args.per_device_batch_size, pad_id, device)
        emit(step, eval_loss=last_eval)

    paths.output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(paths.output))
    tokenizer.save_pretrained(str(paths.output))
    summary = {
        "base_model": args.model_id or "model channel",
        "method": args.method,
        "record_format": args.record_format,
        "steps": steps,
        "resumed_from_step": start_step,
        "training_records": len(train_data.examples),
        "training_tokens": train_data.tokens,
        "validation_records": len(eval_data.examples),
        "final_train_loss": history[-1]["train_loss"] if history else None,
        "final_eval_loss": last_eval,
        "trainable_parameters": n_trainable,
        "hyperparameters": {k: v for k, v in sorted(vars(args).items())},
    }
    labelled = first_jsonl(paths.evaluation)
    if labelled is not None:
        predictions = predict(
            model, tokenizer, labelled, max_new_tokens=args.max_new_tokens, device=device
        )
        paths.output_data.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in predictions)
        (paths.output_data / PREDICTIONS_FILE).write_text(lines, encoding="utf-8")
        summary["predictions"] = len(predictions)
        print(f"wrote {len(predictions)} predictions for {labelled.name}", flush=True)
    (paths.output / "training_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (paths.output / "README.md").write_text(model_card(summary), encoding="utf-8")
    return summary


def model_card(summary: Mapping[str, Any]) -> str:
    hyper = summary["hyperparameters"]
    rows = "\n".join(f"| {k} | {v} |" for k, v in hyper.items())
    eval_loss = summary["final_eval_loss"]
    return f"""---
library_name: peft
tags: [{summary["method"]}, sagemaker, cdk-llm-training]
---

# {summary["method"].upper()} adapter

A {summary["method"]} adapter trained by cdk-llm-training's `train_lora.py` on a SageMaker
training job. Load it onto the same base model it was trained on:

```python
from peft import PeftModel
from transformers import AutoModelForCausalLM

base = AutoModelForCausalLM.from_pretrained("<base model folder or id>")
model = PeftModel.from_pretrained(base, "<this folder>")
```

## Training

- base model: {summary["base_model"]}
- record format: {summary["record_format"]}
- training records: {summary["training_records"]} ({summary["training_tokens"]} tokens)
- validation records: {summary["validation_records"]}
- optimizer steps: {summary["steps"]} (resumed from step {summary["resumed_from_step"]})
- final training loss: {summary["final_train_loss"]}
- final validation loss: {eval_loss if eval_loss is not None else "n/a (no validation data)"}
- trainable parameters: {summary["trainable_parameters"]}

| hyperparameter | value |
|---|---|
{rows}
"""


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point; returns the process exit status (2 for input problems)."""
    try:
        args = parse_args(argv)
        train(args, Paths.from_env(os.environ if env is None else env))
    except TrainingError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    return 0


def iter_metric_lines(text: str) -> Iterator[str]:
    """The metrics lines of a captured log (used by tests and tools)."""
    return (line for line in text.splitlines() if line.startswith("[metrics] "))


if __name__ == "__main__":
    sys.exit(main())
