"""Trainer callbacks: ``[metrics]`` lines for the job's metric definitions, and the marker that
makes a checkpoint resumable."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .checkpoints import CHECKPOINT_PREFIX, mark_complete

METRIC_NAMES: dict[str, str] = {
    "loss": "train_loss",
    "eval_loss": "eval_loss",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "rewards/margins": "reward_margin",
    "rewards/accuracies": "reward_accuracy",
    "reward": "reward",
    "reward_std": "reward_std",
    "kl": "kl",
}
"""Trainer log keys printed, and their names on the ``[metrics]`` line."""

_NUMBER = "([0-9.eE+-]+)"
PROPOSED_METRIC_DEFINITIONS: tuple[dict[str, str], ...] = tuple(
    {"Name": name, "Regex": rf"[ ]{name}={_NUMBER}"}
    for name in (*dict.fromkeys(METRIC_NAMES.values()), "tokens_per_second")
)
"""Metric definitions for every value the ``[metrics]`` lines carry (the leading space keeps
``reward=`` from matching inside ``eval_reward=``-like names)."""


def metrics_line(step: int, values: Mapping[str, float]) -> str:
    """``[metrics] step=12 train_loss=1.234567 learning_rate=2.000e-04 ...``"""
    parts = []
    for name, value in values.items():
        if name == "learning_rate":
            text = f"{value:.3e}"
        elif name == "tokens_per_second":
            text = f"{value:.1f}"
        else:
            text = f"{value:.6f}"
        parts.append(f"{name}={text}")
    return f"[metrics] step={step} {' '.join(parts)}"


def iter_metric_lines(text: str) -> Iterator[str]:
    """The metrics lines of a captured log (used by tests and tools)."""
    return (line for line in text.splitlines() if line.startswith("[metrics] "))


class MetricsPrinter(TrainerCallback):  # type: ignore[misc]
    """Prints one ``[metrics]`` line per Trainer log event (main process only). Tokens per
    second come from the trainers' running ``num_tokens`` count."""

    def __init__(self) -> None:
        self._tokens: float | None = None
        self._time = time.perf_counter()
        self.history: list[dict[str, float]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        if not state.is_world_process_zero or not logs or "train_runtime" in logs:
            return
        values = {
            METRIC_NAMES[k]: float(v)
            for k, v in logs.items()
            if k in METRIC_NAMES and isinstance(v, (int, float))
        }
        tokens = logs.get("num_tokens")
        now = time.perf_counter()
        if isinstance(tokens, (int, float)) and "loss" in logs:
            if self._tokens is not None and tokens > self._tokens:
                values["tokens_per_second"] = (tokens - self._tokens) / max(now - self._time, 1e-9)
            self._tokens, self._time = float(tokens), now
        if values:
            self.history.append({"step": float(state.global_step), **values})
            print(metrics_line(int(state.global_step), values), flush=True)


class CompleteCheckpointMarker(TrainerCallback):  # type: ignore[misc]
    """Writes the completeness marker once the Trainer has saved a whole checkpoint."""

    def on_save(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        if not state.is_world_process_zero:
            return
        path = Path(args.output_dir) / f"{CHECKPOINT_PREFIX}{state.global_step}"
        if path.is_dir():
            mark_complete(path, int(state.global_step))
