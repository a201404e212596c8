"""Command-line arguments of the training script (the SageMaker job's hyperparameters arrive as
``--name value``). Pure Python: importing it never imports torch."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import methods

REWARD_NAMES = ("exact_match", "regex", "json_schema")
"""Built-in verifiable rewards of ``grpo`` (see :mod:`rewards`)."""
DISTRIBUTED_MODES = ("auto", "off")
INIT_WEIGHTS = ("pretrained", "random")
"""``--init_weights``: the model's weights, or fresh ones from its configuration."""


class TrainingError(Exception):
    """A problem with the inputs: printed as one line and the process exits with status 2."""


def _bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train an open-weight causal language model.")
    add = parser.add_argument
    add(
        "--method",
        choices=(*methods.method_names(), *methods.LEGACY_METHODS),
        default=methods.DEFAULT_METHOD,
        help="objective; lora, qlora and full mean sft with that tuning",
    )
    add("--tuning", choices=("", *methods.tuning_names()), default="", help="default: lora")
    add("--record_format", default="", help="default: the method's first record format")
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
    add("--packing", type=_bool, default=False, help="sft/distill/cpt: pack records")
    add("--beta", type=float, default=None, help="dpo/kto/grpo: KL weight; default TRL's")
    add("--rewards", default="exact_match", help="grpo: comma-separated built-in rewards")
    add("--reward_file", default="", help="grpo: Python file with a reward function")
    add("--reward_function", default="reward", help="grpo: the function's name in the file")
    add("--reward_pattern", default="", help="grpo regex reward: pattern for every record")
    add("--num_generations", type=int, default=8, help="grpo: completions per prompt")
    add("--max_completion_length", type=int, default=256, help="grpo: sampled tokens")
    add("--temperature", type=float, default=1.0, help="grpo: sampling temperature")
    add("--fsdp", type=_bool, default=False, help="tuning=full: shard with FSDP")
    add(
        "--init_weights",
        choices=INIT_WEIGHTS,
        default="pretrained",
        help="tuning=full: 'random' builds the model from its config alone (pre-training)",
    )
    add("--distributed", choices=DISTRIBUTED_MODES, default="auto")
    return parser


ARGUMENT_NAMES: tuple[str, ...] = tuple(
    action.dest for action in build_parser()._actions if action.dest != "help"
)
"""Every argument of the script, in parser order."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parsed and checked arguments; unknown ones (SageMaker's own) are printed and ignored.
    ``method`` and ``tuning`` come back resolved (``method=lora`` is ``sft`` + ``lora``)."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {' '.join(unknown)}", flush=True)
    for name in (
        "per_device_batch_size",
        "gradient_accumulation_steps",
        "max_seq_length",
        "max_new_tokens",
        "max_completion_length",
    ):
        if getattr(args, name) < 1:
            raise TrainingError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if not 0 <= args.warmup_ratio < 1:
        raise TrainingError(
            f"--warmup_ratio must be at least 0 and below 1 (a share of the steps), got "
            f"{args.warmup_ratio}"
        )
    try:
        method, tuning = methods.resolve(args.method, args.tuning or None)
    except ValueError as error:
        raise TrainingError(str(error)) from None
    args.method, args.tuning = method.name, tuning.name
    args.record_format = args.record_format or method.record_formats[0]
    if args.record_format not in method.record_formats:
        raise TrainingError(
            f"--record_format {args.record_format} does not fit method={method.name}; "
            f"allowed: {', '.join(method.record_formats)}"
        )
    if args.fsdp and tuning.adapter:
        raise TrainingError(
            f"--fsdp true shards full fine-tuning only; tuning={tuning.name} trains an adapter "
            "with data parallelism (DDP)"
        )
    if args.init_weights == "random" and tuning.adapter:
        raise TrainingError(
            f"--init_weights random trains every weight of a new model; tuning={tuning.name} "
            "trains an adapter on frozen weights: use --tuning full"
        )
    if method.generates and args.num_generations < 2:
        raise TrainingError(
            f"--num_generations must be at least 2 for grpo (rewards are compared within a "
            f"group), got {args.num_generations}"
        )
    rewards = [r.strip() for r in str(args.rewards).split(",") if r.strip()]
    unknown_rewards = [r for r in rewards if r not in REWARD_NAMES]
    if unknown_rewards:
        raise TrainingError(
            f"--rewards {args.rewards}: unknown reward {', '.join(unknown_rewards)}; built-in "
            f"rewards: {', '.join(REWARD_NAMES)} (a reward of your own goes in --reward_file)"
        )
    args.rewards = rewards
    return args
