"""The training run: read the channels, build the TRL trainer of the method, train (resuming
from the latest complete checkpoint), save the model, the predictions and the model card."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import methods
from .args import TrainingError, parse_args
from .checkpoints import latest_complete
from .distributed import MASTER_PORT, Cluster, launched, torchrun_command
from .formats import first_jsonl, jsonl_files, load_records, renderer, user_prompt
from .model_card import model_card

SM_DEFAULTS = {
    "SM_CHANNEL_TRAIN": "/opt/ml/input/data/train",
    "SM_CHANNEL_VALIDATION": "/opt/ml/input/data/validation",
    "SM_CHANNEL_MODEL": "/opt/ml/input/data/model",
    "SM_CHANNEL_EVALUATION": "/opt/ml/input/data/evaluation",
    "SM_CHANNEL_REWARD": "/opt/ml/input/data/reward",
    "SM_MODEL_DIR": "/opt/ml/model",
    "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
    "SM_CHECKPOINT_DIR": "/opt/ml/checkpoints",
}
PREDICTIONS_FILE = "predictions.jsonl"
QLORA_NEEDS_CUDA = (
    "tuning=qlora needs a CUDA GPU: bitsandbytes loads the frozen weights in 4-bit NF4 on the "
    "GPU only, and this machine has none. Use tuning=lora here, or run on a GPU instance "
    "(ml.g5, ml.g6, ml.g6e, ml.p4d, ml.p5)."
)


@dataclass(frozen=True)
class Paths:
    train: Path
    validation: Path
    model: Path
    evaluation: Path
    reward: Path
    output: Path
    output_data: Path
    checkpoints: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Paths:
        def get(name: str) -> Path:
            return Path(env.get(name) or SM_DEFAULTS[name])

        return cls(
            train=get("SM_CHANNEL_TRAIN"),
            validation=get("SM_CHANNEL_VALIDATION"),
            model=get("SM_CHANNEL_MODEL"),
            evaluation=get("SM_CHANNEL_EVALUATION"),
            reward=get("SM_CHANNEL_REWARD"),
            output=get("SM_MODEL_DIR"),
            output_data=get("SM_OUTPUT_DATA_DIR"),
            checkpoints=get("SM_CHECKPOINT_DIR"),
        )


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    script: str | None = None,
) -> int:
    """Entry point; returns the process exit status (2 for input problems). With ``script``
    (run as a program) and ``--distributed auto``, a multi-GPU or multi-instance job starts
    ``script`` again under torchrun, one process per GPU."""
    env = os.environ if env is None else env
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)
        if script is not None and args.distributed == "auto" and not launched(env):
            port = int(env.get("MASTER_PORT") or MASTER_PORT)
            command = torchrun_command(Cluster.from_env(env), script, argv, port=port)
            if command is not None:
                print(f"starting {' '.join(command)}", flush=True)
                return subprocess.call(command)
        train(args, Paths.from_env(env))
    except TrainingError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    return 0


def check_tuning(tuning: methods.Tuning) -> None:
    if not tuning.needs_cuda:
        return
    import torch

    if not torch.cuda.is_available():
        raise TrainingError(QLORA_NEEDS_CUDA)
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise TrainingError(
            "tuning=qlora needs the bitsandbytes package (listed in requirements.txt next to "
            "this script); it is not installed."
        ) from None


def _bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def load_model(args: argparse.Namespace, tuning: methods.Tuning, source: str) -> Any:
    """The base model (4-bit for QLoRA, prepared for k-bit training); with
    ``--init_weights random``, a model of the source's configuration with fresh weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = torch.bfloat16 if _bf16() else torch.float32
    if args.init_weights == "random":
        config = AutoConfig.from_pretrained(source, trust_remote_code=args.trust_remote_code)
        return AutoModelForCausalLM.from_config(
            config, trust_remote_code=args.trust_remote_code, dtype=dtype
        )
    kwargs: dict[str, Any] = {"trust_remote_code": args.trust_remote_code, "dtype": dtype}
    if tuning.needs_cuda:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if tuning.needs_cuda:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=args.gradient_checkpointing
        )
    return model


def peft_config(args: argparse.Namespace, tuning: methods.Tuning) -> Any:
    if not tuning.adapter:
        return None
    from peft import LoraConfig

    targets: str | list[str] = args.target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in str(targets).split(",") if t.strip()]
    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )


def _common(args: argparse.Namespace, paths: Paths, has_eval: bool) -> dict[str, Any]:
    """TrainingArguments shared by every method."""
    import torch

    common: dict[str, Any] = {
        "output_dir": str(paths.checkpoints),
        "num_train_epochs": args.epochs,
        "max_steps": args.max_steps,
        "learning_rate": args.learning_rate,
        "weight_decay": args.weight_decay,
        "warmup_steps": args.warmup_ratio,
        "lr_scheduler_type": "linear",
        "per_device_train_batch_size": args.per_device_batch_size,
        "per_device_eval_batch_size": args.per_device_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "activation_checkpointing": args.gradient_checkpointing,
        "activation_checkpointing_kwargs": {"use_reentrant": False},
        "max_grad_norm": 1.0,
        "logging_steps": max(1, args.logging_steps),
        "save_strategy": "steps",
        "save_steps": max(1, args.save_steps),
        "save_total_limit": max(1, args.save_total_limit),
        "eval_strategy": "steps" if has_eval and args.eval_steps > 0 else "no",
        "eval_steps": args.eval_steps if args.eval_steps > 0 else None,
        "seed": args.seed,
        "data_seed": args.seed,
        "bf16": _bf16(),
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "use_cpu": not torch.cuda.is_available(),
        "ddp_find_unused_parameters": False,
    }
    if args.fsdp:
        common["fsdp"] = "full_shard auto_wrap"
        common["fsdp_config"] = {"use_orig_params": True}
    return common


def build_trainer(
    args: argparse.Namespace,
    method: methods.Method,
    tuning: methods.Tuning,
    *,
    model: Any,
    tokenizer: Any,
    train_rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]],
    paths: Paths,
    callbacks: list[Any],
) -> Any:
    """The TRL trainer of ``method``."""
    from datasets import Dataset

    common = _common(args, paths, bool(eval_rows))
    data = {
        "train_dataset": Dataset.from_list(train_rows),
        "eval_dataset": Dataset.from_list(eval_rows) if eval_rows else None,
    }
    shared = {
        "model": model,
        "processing_class": tokenizer,
        "peft_config": peft_config(args, tuning),
        "callbacks": callbacks,
    }
    beta = {} if args.beta is None else {"beta": args.beta}
    if method.trainer == "SFTTrainer":
        from trl import SFTConfig, SFTTrainer

        config = SFTConfig(
            **common,
            max_length=args.max_seq_length,
            packing=args.packing,
            completion_only_loss=None,
            dataset_num_proc=None,
        )
        return SFTTrainer(args=config, **shared, **data)
    if method.trainer == "DPOTrainer":
        from trl import DPOConfig, DPOTrainer

        config = DPOConfig(**common, **beta, max_length=args.max_seq_length)
        return DPOTrainer(args=config, **shared, **data)
    if method.trainer == "KTOTrainer":
        from trl import KTOConfig, KTOTrainer

        config = KTOConfig(**common, **beta, max_length=args.max_seq_length)
        return KTOTrainer(args=config, **shared, **data)
    from trl import GRPOConfig, GRPOTrainer

    from .rewards import build_rewards, check_reward_fields

    check_reward_fields(train_rows, args.rewards, args.reward_pattern)
    reward_file = None
    if args.reward_file:
        reward_file = Path(args.reward_file)
        if not reward_file.is_absolute():
            reward_file = paths.reward / reward_file
    rewards = build_rewards(
        args.rewards,
        pattern=args.reward_pattern,
        reward_file=reward_file,
        function=args.reward_function,
    )
    common["per_device_eval_batch_size"] = args.num_generations
    config = GRPOConfig(
        **common,
        **beta,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        temperature=args.temperature,
    )
    return GRPOTrainer(reward_funcs=rewards, args=config, **shared, **data)


def train(args: argparse.Namespace, paths: Paths) -> dict[str, Any]:
    method, tuning = methods.method(args.method), methods.tuning(args.tuning)
    check_tuning(tuning)
    source = args.model_id or str(paths.model)
    if not args.model_id and not (paths.model / "config.json").is_file():
        raise TrainingError(
            f"no base model: pass --model_id, or give the job a 'model' channel holding a "
            f"Hugging Face model folder (config.json not found in {paths.model})"
        )
    if not jsonl_files(paths.train):
        raise TrainingError(f"no training data: no .jsonl file in {paths.train}")
    # The heavy libraries load once the inputs are known to be there.
    from datasets.utils.logging import disable_progress_bar
    from transformers import AutoTokenizer, PrinterCallback, set_seed

    from .callbacks import CompleteCheckpointMarker, MetricsPrinter

    disable_progress_bar()
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=args.trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    render = renderer(tokenizer)
    train_rows = load_records(paths.train, args.record_format, render).rows
    if not train_rows:
        raise TrainingError("the training data has no record")
    eval_rows = load_records(paths.validation, args.record_format, render).rows
    if method.generates:
        eval_rows = []  # GRPO is judged by its rewards; no evaluation loss to compute
    model = load_model(args, tuning, source)
    printer = MetricsPrinter()
    trainer = build_trainer(
        args,
        method,
        tuning,
        model=model,
        tokenizer=tokenizer,
        train_rows=train_rows,
        eval_rows=eval_rows,
        paths=paths,
        callbacks=[printer, CompleteCheckpointMarker()],
    )
    trainer.remove_callback(PrinterCallback)  # the [metrics] lines replace its dict lines
    checkpoint = latest_complete(paths.checkpoints)
    start_step = 0
    if checkpoint is not None:
        start_step = int(checkpoint.name.rsplit("-", 1)[1])
        print(f"resumed from {checkpoint.name} at step {start_step}", flush=True)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    print(
        f"training {method.name} ({tuning.name}) on {len(train_rows)} records for "
        f"{args.max_steps if args.max_steps > 0 else args.epochs} "
        f"{'steps' if args.max_steps > 0 else 'epochs'}; trainable parameters {trainable} of "
        f"{total} ({100.0 * trainable / max(1, total):.3f}%)",
        flush=True,
    )
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    eval_loss = None
    if eval_rows:
        eval_loss = float(trainer.evaluate()["eval_loss"])
        if trainer.is_world_process_zero():
            print(f"[metrics] step={trainer.state.global_step} eval_loss={eval_loss:.6f}")
    if args.fsdp:
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(paths.output))
    losses = [h["train_loss"] for h in printer.history if "train_loss" in h]
    summary: dict[str, Any] = {
        "base_model": args.model_id or "model channel",
        "init_weights": args.init_weights,
        "method": method.name,
        "tuning": tuning.name,
        "record_format": args.record_format,
        "steps": int(trainer.state.global_step),
        "resumed_from_step": start_step,
        "training_records": len(train_rows),
        "validation_records": len(eval_rows),
        "final_train_loss": losses[-1] if losses else None,
        "mean_train_loss": float(result.training_loss),
        "final_eval_loss": eval_loss,
        "trainable_parameters": trainable,
        "world_size": int(trainer.args.world_size),
        "hyperparameters": {k: v for k, v in sorted(vars(args).items())},
    }
    if not trainer.is_world_process_zero():
        return summary
    tokenizer.save_pretrained(str(paths.output))
    labelled = first_jsonl(paths.evaluation)
    if labelled is not None:
        model_for_answers = trainer.model
        if args.fsdp:
            from transformers import AutoModelForCausalLM

            model_for_answers = AutoModelForCausalLM.from_pretrained(str(paths.output))
        rows = predict(model_for_answers, tokenizer, labelled, max_new_tokens=args.max_new_tokens)
        paths.output_data.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (paths.output_data / PREDICTIONS_FILE).write_text(lines, encoding="utf-8")
        summary["predictions"] = len(rows)
        print(f"wrote {len(rows)} predictions for {labelled.name}", flush=True)
    (paths.output / "training_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (paths.output / "README.md").write_text(model_card(summary), encoding="utf-8")
    return summary


def predict(
    model: Any, tokenizer: Any, labelled: Path, *, max_new_tokens: int
) -> list[dict[str, str]]:
    """Greedy answers of the trained model to every ``prompt`` of the labelled set, as
    ``{"id", "prediction"}`` rows; ids as the metrics script reads them (``id``, else the
    line number)."""
    import torch

    render = renderer(tokenizer)
    device = next(model.parameters()).device
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
            prompt = user_prompt(prompt_text, render)
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
