"""What the SageMaker training script runs: methods, tunings, record formats, the script's
hyperparameters and metric definitions (pure Python, no aws_cdk or torch import).

The source of truth is the script's own method table, :mod:`cdk_llm_training.training.methods`
(shipped to the job with the script): the enums below name the same members, and tests keep
them equal.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import WithJsonSchema

from cdk_llm_training.training import methods as script_methods
from cdk_llm_training.training.args import ARGUMENT_NAMES, DISTRIBUTED_MODES, REWARD_NAMES


class FineTuneMethod(StrEnum):
    """The objective of a SageMaker fine-tune job (``training.methods.METHODS``)."""

    SFT = "sft"
    """Supervised fine-tuning on chat, instruction or prompt-completion records."""
    DPO = "dpo"
    """Direct preference optimization on ``{prompt, chosen, rejected}`` records."""
    KTO = "kto"
    """Kahneman-Tversky optimization on ``{prompt, completion, label}`` records."""
    GRPO = "grpo"
    """Group relative policy optimization against verifiable or user-defined rewards."""
    DISTILL = "distill"
    """Supervised fine-tuning on a teacher model's answers."""
    CPT = "cpt"
    """Continued pre-training on raw ``{text}`` records."""

    @property
    def script_method(self) -> script_methods.Method:
        """The script's table entry of this method."""
        return script_methods.method(self.value)


class FineTuneTuning(StrEnum):
    """Which weights a SageMaker fine-tune job changes (``training.methods.TUNINGS``)."""

    LORA = "lora"
    """LoRA adapters on frozen 16-bit base weights."""
    QLORA = "qlora"
    """LoRA adapters on frozen 4-bit NF4 base weights (bitsandbytes, GPU only)."""
    FULL = "full"
    """Every weight is trained (the output is a full model folder)."""

    @property
    def adapter(self) -> bool:
        """Whether the job trains adapters (and its output is an adapter folder)."""
        return script_methods.tuning(self.value).adapter


class GrpoReward(StrEnum):
    """Built-in verifiable rewards of ``grpo`` (``training.args.REWARD_NAMES``)."""

    EXACT_MATCH = "exact_match"
    """1 when the completion equals the record's ``answer``."""
    REGEX = "regex"
    """1 when the completion matches the record's ``pattern`` (or ``reward_pattern``)."""
    JSON_SCHEMA = "json_schema"
    """1 when the completion is JSON valid against the record's ``schema``."""


class DistributedMode(StrEnum):
    """How the script uses the GPUs of its instances (``training.args.DISTRIBUTED_MODES``)."""

    AUTO = "auto"
    """One process per GPU on every instance (torchrun): DDP, or FSDP with ``fsdp``."""
    OFF = "off"
    """One process on GPU 0 of one instance."""


class OpenModelRecordFormat(StrEnum):
    """JSONL record formats the validator checks and the training script reads
    (``training.methods.RECORD_FORMATS``)."""

    CHAT = "chat"
    """``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}``"""
    INSTRUCTION = "instruction"
    """``{"instruction": "...", "input": "...", "output": "..."}`` (``input`` optional)."""
    PROMPT_COMPLETION = "prompt_completion"
    """``{"prompt": "...", "completion": "..."}``"""
    PREFERENCE = "preference"
    """``{"prompt": "...", "chosen": "...", "rejected": "..."}`` (dpo; the labeling
    converter's preference output)."""
    KTO = "kto"
    """``{"prompt": "...", "completion": "...", "label": true|false}`` (kto)."""
    GRPO = "grpo"
    """``{"prompt": "...", "answer"|"pattern"|"schema": ...}`` (grpo; reward fields optional)."""
    TEXT = "text"
    """``{"text": "..."}`` (cpt)."""


LEGACY_METHODS: dict[str, tuple[FineTuneMethod, FineTuneTuning]] = {
    name: (FineTuneMethod(objective), FineTuneTuning(tuning))
    for name, (objective, tuning) in script_methods.LEGACY_METHODS.items()
}
"""``method`` values of configs written for the LoRA-only job: ``lora``, ``qlora`` (and
``full``) load as ``method: sft`` with that ``tuning``."""

MethodOrLegacy = Annotated[
    FineTuneMethod,
    WithJsonSchema(
        {
            "enum": [*(m.value for m in FineTuneMethod), *LEGACY_METHODS],
            "title": "FineTuneMethod",
            "description": "The objective; lora, qlora and full mean sft with that tuning.",
            "type": "string",
        }
    ),
]
"""A :class:`FineTuneMethod`; the schema also offers the legacy values the options accept."""

OPTION_ARGUMENTS = (
    "method", "tuning", "record_format", "model_id", "max_seq_length", "packing", "beta",
    "rewards", "reward_file", "reward_function", "reward_pattern", "num_generations",
    "max_completion_length", "temperature", "fsdp", "distributed",
)  # fmt: skip
"""Script arguments set by options of their own (never through ``hyperparameters``)."""

SCRIPT_HYPERPARAMETERS: tuple[str, ...] = tuple(
    name for name in ARGUMENT_NAMES if name not in OPTION_ARGUMENTS
)
"""Arguments of the training script that ``hyperparameters`` may set (every argument the
script parses, less those in :data:`OPTION_ARGUMENTS`)."""

GRPO_OPTIONS = (
    "rewards", "reward_file", "reward_function", "reward_pattern", "num_generations",
    "max_completion_length", "temperature",
)  # fmt: skip
"""Options only ``method: grpo`` reads."""

_NUMBER = "([0-9.eE+-]+)"
METRIC_DEFINITIONS: tuple[dict[str, str], ...] = (
    {"Name": "train_loss", "Regex": rf"train_loss={_NUMBER}"},
    {"Name": "eval_loss", "Regex": rf"eval_loss={_NUMBER}"},
    {"Name": "tokens_per_second", "Regex": rf"tokens_per_second={_NUMBER}"},
    {"Name": "learning_rate", "Regex": rf"learning_rate={_NUMBER}"},
    *(
        {"Name": name, "Regex": rf"[ ]{name}={_NUMBER}"}
        for name in ("grad_norm", "reward_margin", "reward_accuracy", "reward", "reward_std", "kl")
    ),
)
"""What the job's metric definitions capture from the script's ``[metrics]`` lines: losses,
learning rate, throughput, gradient norm, DPO/KTO reward margin and accuracy, GRPO reward,
its spread within a group and the KL to the reference. The leading space of the later
patterns keeps ``reward=`` from matching inside ``eval_reward=``-like names. CreateTrainingJob
allows at most 40 definitions with regexes of at most 500 characters."""

MAX_METRIC_DEFINITIONS = 40
MAX_METRIC_REGEX_LENGTH = 500

__all__ = [
    "DISTRIBUTED_MODES",
    "GRPO_OPTIONS",
    "LEGACY_METHODS",
    "METRIC_DEFINITIONS",
    "OPTION_ARGUMENTS",
    "REWARD_NAMES",
    "SCRIPT_HYPERPARAMETERS",
    "DistributedMode",
    "FineTuneMethod",
    "FineTuneTuning",
    "GrpoReward",
    "OpenModelRecordFormat",
]
