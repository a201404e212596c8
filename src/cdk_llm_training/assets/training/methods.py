"""The training methods of the SageMaker training script: one table, read by the script, the
planner and the docs (pure Python: importing it never imports torch).

A run is a *method* (the objective: what the model learns from which records) combined with a
*tuning* (which weights change: LoRA adapters, LoRA on a 4-bit base, or every weight).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """One training objective of the script."""

    name: str
    summary: str
    trainer: str
    """The TRL trainer class the script runs."""
    record_formats: tuple[str, ...]
    """JSONL record formats the method reads; the first is the default."""
    reference_model: bool = False
    """Holds a frozen reference policy besides the trained one (DPO, KTO; GRPO only with
    ``beta`` above 0, TRL's default being 0). With LoRA the reference is the base with the
    adapter switched off (no second copy); with full fine-tuning it is a second copy of the
    weights."""
    generates: bool = False
    """Samples a group of completions per prompt during training (GRPO)."""


@dataclass(frozen=True)
class Tuning:
    """Which weights a run changes."""

    name: str
    summary: str
    adapter: bool
    """Trains LoRA adapters on frozen base weights (the output is an adapter folder)."""
    needs_cuda: bool = False


METHODS: tuple[Method, ...] = (
    Method(
        "sft",
        "supervised fine-tuning: the loss is on the final assistant turn (the completion)",
        "SFTTrainer",
        ("chat", "instruction", "prompt_completion"),
    ),
    Method(
        "dpo",
        "direct preference optimization on chosen / rejected answer pairs",
        "DPOTrainer",
        ("preference",),
        reference_model=True,
    ),
    Method(
        "kto",
        "Kahneman-Tversky optimization on single answers labelled desirable or not",
        "KTOTrainer",
        ("kto",),
        reference_model=True,
    ),
    Method(
        "grpo",
        "group relative policy optimization against verifiable or user-defined rewards "
        "(a KL term to a frozen reference only with beta > 0)",
        "GRPOTrainer",
        ("grpo",),
        generates=True,
    ),
    Method(
        "distill",
        "distillation: supervised fine-tuning on a teacher model's answers",
        "SFTTrainer",
        ("prompt_completion", "chat", "instruction"),
    ),
    Method(
        "cpt",
        "continued pre-training: next-token loss on every token of raw text",
        "SFTTrainer",
        ("text",),
    ),
)
"""Every method, in the order the docs list them."""

TUNINGS: tuple[Tuning, ...] = (
    Tuning("lora", "LoRA adapters on frozen base weights (16-bit)", adapter=True),
    Tuning(
        "qlora",
        "LoRA adapters on frozen 4-bit NF4 base weights (bitsandbytes, CUDA only)",
        adapter=True,
        needs_cuda=True,
    ),
    Tuning("full", "every weight of the model is trained", adapter=False),
)
"""Every tuning; ``lora`` is the default."""

RECORD_FORMATS: dict[str, str] = {
    "chat": '{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}',
    "instruction": '{"instruction": "...", "input": "..." (optional), "output": "..."}',
    "prompt_completion": '{"prompt": "...", "completion": "..."}',
    "preference": '{"prompt": "...", "chosen": "...", "rejected": "..."}',
    "kto": '{"prompt": "...", "completion": "...", "label": true|false}',
    "grpo": (
        '{"prompt": "...", "answer": "..." (exact_match), "pattern": "..." (regex), '
        '"schema": {...} (json_schema)}: the reward fields are optional'
    ),
    "text": '{"text": "..."}',
}
"""Every record format with its JSONL shape (the dataset validator checks the same names)."""

LEGACY_METHODS = {"lora": ("sft", "lora"), "qlora": ("sft", "qlora"), "full": ("sft", "full")}
"""``method`` values of the LoRA-only script (and ``full``): each stands for SFT with that
tuning, so existing jobs keep their meaning."""

DEFAULT_METHOD = "sft"
DEFAULT_TUNING = "lora"


def method_names() -> tuple[str, ...]:
    return tuple(m.name for m in METHODS)


def tuning_names() -> tuple[str, ...]:
    return tuple(t.name for t in TUNINGS)


def method(name: str) -> Method:
    """The method called ``name``; ``KeyError`` names the known ones."""
    for item in METHODS:
        if item.name == name:
            return item
    raise KeyError(f"unknown method {name!r}; known methods: {', '.join(method_names())}")


def tuning(name: str) -> Tuning:
    """The tuning called ``name``; ``KeyError`` names the known ones."""
    for item in TUNINGS:
        if item.name == name:
            return item
    raise KeyError(f"unknown tuning {name!r}; known tunings: {', '.join(tuning_names())}")


def resolve(method_name: str, tuning_name: str | None) -> tuple[Method, Tuning]:
    """``(method, tuning)`` for the script's ``method`` and ``tuning`` arguments: a legacy
    ``method`` (``lora``, ``qlora``, ``full``) means SFT with that tuning, and an explicit
    ``tuning`` must then agree with it."""
    if method_name in LEGACY_METHODS:
        objective, implied = LEGACY_METHODS[method_name]
        if tuning_name not in (None, "", implied):
            raise ValueError(
                f"method={method_name} means method=sft with tuning={implied}, but "
                f"tuning={tuning_name} was given; pass method=sft tuning={tuning_name}"
            )
        return method(objective), tuning(implied)
    return method(method_name), tuning(tuning_name or DEFAULT_TUNING)


def markdown_table() -> str:
    """The method table of the docs (method, trainer, record formats, memory notes)."""
    rows = [
        "| method | what it trains on | TRL trainer | record formats | memory besides the policy |",
        "|---|---|---|---|---|",
    ]
    for item in METHODS:
        extras = []
        if item.reference_model:
            extras.append("a frozen reference (free with LoRA: the adapter is switched off)")
        if item.generates:
            extras.append("a group of sampled completions per prompt")
        formats = ", ".join(f"`{f}`" for f in item.record_formats)
        rows.append(
            f"| `{item.name}` | {item.summary} | `{item.trainer}` | {formats} | "
            f"{'; '.join(extras) or 'none'} |"
        )
    return "\n".join(rows) + "\n"
