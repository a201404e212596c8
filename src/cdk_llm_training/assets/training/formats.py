"""Dataset records: check every JSONL line of a channel up front (line-numbered errors) and turn
the records into the rows the TRL trainers read. Pure Python (no torch import).

Prompts are rendered to text once, here, with the tokenizer's chat template (or plain turn
headers when it has none), so every method sees the same prompt text that predictions use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .args import TrainingError

PLAIN_TEMPLATE = {"system": "<|system|>\n", "user": "<|user|>\n", "assistant": "<|assistant|>\n"}
"""Turn headers used when the tokenizer has no chat template of its own."""
Render = Callable[[list[dict[str, str]]], str]
"""Renders a conversation (without the answer) to the prompt text."""


def jsonl_files(folder: Path) -> list[Path]:
    """The dataset files of a channel: every ``*.jsonl`` / ``*.json`` file, sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json"))


def _string(record: dict[str, Any], key: str, *, optional: bool = False) -> list[str]:
    if key not in record:
        return [] if optional else [f"missing field '{key}'"]
    value = record[key]
    if not isinstance(value, str):
        return [f"field '{key}' must be a string, got {type(value).__name__}"]
    if not optional and not value.strip():
        return [f"field '{key}' is empty"]
    return []


def _check_chat(record: dict[str, Any]) -> list[str]:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["field 'messages' must be a non-empty list"]
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return [f"messages[{index}] must be an object with a string 'content'"]
        if message.get("role") not in ("system", "user", "assistant"):
            return [f"messages[{index}].role must be 'system', 'user' or 'assistant'"]
    if messages[-1]["role"] != "assistant":
        return ["the last message must have role 'assistant'"]
    return []


def _check_grpo(record: dict[str, Any]) -> list[str]:
    problems = _string(record, "prompt")
    problems += _string(record, "answer", optional=True)
    problems += _string(record, "pattern", optional=True)
    if isinstance(record.get("pattern"), str):
        try:
            re.compile(record["pattern"])
        except re.error as error:
            problems.append(f"field 'pattern' is not a regular expression: {error}")
    if "schema" in record and not isinstance(record["schema"], dict):
        problems.append("field 'schema' must be a JSON object (a JSON Schema)")
    return problems


def _check_kto(record: dict[str, Any]) -> list[str]:
    problems = _string(record, "prompt") + _string(record, "completion")
    if not isinstance(record.get("label"), bool):
        problems.append("field 'label' must be true (desirable) or false (undesirable)")
    return problems


CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "chat": _check_chat,
    "instruction": lambda r: _string(r, "instruction") + _string(r, "output"),
    "prompt_completion": lambda r: _string(r, "prompt") + _string(r, "completion"),
    "preference": lambda r: _string(r, "prompt") + _string(r, "chosen") + _string(r, "rejected"),
    "kto": _check_kto,
    "grpo": _check_grpo,
    "text": lambda r: _string(r, "text"),
}
"""What a record of each format must hold (the dataset validator checks the same)."""


def check_record(record: Any, record_format: str) -> list[str]:
    """The reasons ``record`` is not a ``record_format`` record (empty when it is one)."""
    if not isinstance(record, dict):
        return ["record must be a JSON object"]
    return CHECKS[record_format](record)


def to_messages(record: dict[str, Any], record_format: str) -> list[dict[str, str]]:
    """An SFT record as ``{"role", "content"}`` turns ending with the assistant's answer."""
    if record_format == "chat":
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in record["messages"]]
    if record_format == "instruction":
        prompt = str(record["instruction"])
        if record.get("input"):
            prompt = f"{prompt}\n\n{record['input']}"
        turns = [{"role": "user", "content": prompt}]
        if record.get("system"):
            turns.insert(0, {"role": "system", "content": str(record["system"])})
        return [*turns, {"role": "assistant", "content": str(record["output"])}]
    return [
        {"role": "user", "content": str(record["prompt"])},
        {"role": "assistant", "content": str(record["completion"])},
    ]


def plain_render(context: list[dict[str, str]]) -> str:
    parts = [f"{PLAIN_TEMPLATE[m['role']]}{m['content']}\n" for m in context]
    return "".join(parts) + PLAIN_TEMPLATE["assistant"]


def renderer(tokenizer: Any) -> Render:
    """The tokenizer's chat template with the generation prompt, or :func:`plain_render`.
    When the template writes the BOS token and the tokenizer adds one itself when it encodes
    text (Llama 3 does both), the rendered BOS is dropped: the trainers and the predictions
    encode the text with the tokenizer's special tokens, and two BOS tokens are not what the
    model saw in pre-training."""
    if not getattr(tokenizer, "chat_template", None):
        return plain_render
    bos = str(getattr(tokenizer, "bos_token", None) or "")
    bos_id = getattr(tokenizer, "bos_token_id", None)
    adds_bos = bool(bos) and bos_id is not None and tokenizer("x")["input_ids"][:1] == [bos_id]

    def render(context: list[dict[str, str]]) -> str:
        text = str(
            tokenizer.apply_chat_template(context, tokenize=False, add_generation_prompt=True)
        )
        return text[len(bos) :] if adds_bos and text.startswith(bos) else text

    return render


def user_prompt(text: str, render: Render) -> str:
    return render([{"role": "user", "content": text}])


def to_row(record: dict[str, Any], record_format: str, render: Render) -> dict[str, Any]:
    """The trainer row of one checked record."""
    if record_format in ("chat", "instruction", "prompt_completion"):
        turns = to_messages(record, record_format)
        return {"prompt": render(turns[:-1]), "completion": turns[-1]["content"]}
    if record_format == "preference":
        return {
            "prompt": user_prompt(record["prompt"], render),
            "chosen": record["chosen"],
            "rejected": record["rejected"],
        }
    if record_format == "kto":
        return {
            "prompt": user_prompt(record["prompt"], render),
            "completion": record["completion"],
            "label": record["label"],
        }
    if record_format == "grpo":
        # Every row has every reward column (the dataset is columnar); the schema travels as
        # JSON text because schemas differ in shape from record to record.
        schema = record.get("schema")
        return {
            "prompt": user_prompt(record["prompt"], render),
            "answer": record.get("answer", ""),
            "pattern": record.get("pattern", ""),
            "schema": json.dumps(schema) if schema is not None else "",
        }
    return {"text": record["text"]}


@dataclass
class Records:
    """The rows of one channel and where they came from."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def iter_records(folder: Path) -> Iterator[tuple[Path, int, Any]]:
    """``(file, line number, decoded JSON)`` of every non-blank line; bad JSON raises
    :class:`TrainingError` naming the file and line."""
    for path in jsonl_files(folder):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield path, number, json.loads(line)
                except ValueError as error:
                    raise TrainingError(
                        f"{path.name} line {number}: not valid JSON: {error}"
                    ) from None


MAX_ERRORS_SHOWN = 10


def load_records(folder: Path, record_format: str, render: Render) -> Records:
    """Every record of every JSONL file under ``folder``, checked first: the error lists up to
    :data:`MAX_ERRORS_SHOWN` bad lines as ``<file> line <n>: <reasons>``."""
    records = Records(files=[str(p) for p in jsonl_files(folder)])
    errors: list[str] = []
    count = 0
    for path, number, record in iter_records(folder):
        problems = check_record(record, record_format)
        if problems:
            count += 1
            if len(errors) < MAX_ERRORS_SHOWN:
                errors.append(f"{path.name} line {number}: {'; '.join(problems)}")
            continue
        records.rows.append(to_row(record, record_format, render))
    if errors:
        more = f" (and {count - len(errors)} more)" if count > len(errors) else ""
        raise TrainingError(
            f"{count} records are not {record_format} records{more}: " + " | ".join(errors)
        )
    return records


def first_jsonl(folder: Path) -> Path | None:
    """The labelled set of the evaluation channel: its first ``*.jsonl`` file (sorted), the
    same file the task-metrics script scores against."""
    if not folder.is_dir():
        return None
    files = sorted(folder.rglob("*.jsonl"))
    return files[0] if files else None
