"""Streaming JSONL dataset validation: the core of the Bedrock dataset validator.

Pure Python (standard library only), so it runs in the Lambda Python runtime and can be reused
by any job that takes chat / instruction datasets. A dataset file is read in fixed-size chunks
and checked line by line: memory stays bounded by the chunk size plus the longest line kept
(lines longer than the record limit are skipped without being buffered).

Record formats are pluggable: a format is a function that takes one decoded JSON value and
returns the reasons it is invalid (an empty list when it is valid). Register your own with
:func:`register_format`.

Hostile input gives line errors, never an exception: a line nested deeper than the JSON
decoder allows (``[[[...]]]``), a UTF-8 byte order mark, invalid UTF-8 and lone UTF-16
surrogate escapes (``"\\ud800"``) are each reported on their line.

A byte order mark is reported, not skipped: RFC 8259 says JSON text must not begin with one
(a parser may ignore it), and whether Bedrock and the training containers ignore it is not
documented (unverified), so the file is fixed before any job is paid for.

Reasons echo at most :data:`VALUE_PREVIEW_CHARS` characters of any value from the file and
are cut to :data:`MAX_REASON_CHARS`, so a report's size depends on the number of errors kept,
not on the data: a :class:`FileReport` keeps the first ``max_errors`` (default
:data:`MAX_REPORTED_ERRORS`), counts the rest and passes every one to its ``sink``.

Record size: every file has a maximum record size, :data:`DEFAULT_MAX_RECORD_BYTES` (1 MiB,
the largest per-record limit of the Bedrock models in the catalog) unless
:class:`FileLimits` says otherwise; no line longer than :data:`HARD_MAX_LINE_BYTES` is ever
buffered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class Readable(Protocol):
    """Anything with ``read(size) -> bytes``: an open binary file, an S3 ``StreamingBody``."""

    def read(self, size: int, /) -> bytes: ...


RecordChecker = Callable[[Any], list[str]]
"""Checks one decoded JSONL record; returns the reasons it is invalid (empty when valid)."""
ErrorSink = Callable[[str, dict[str, Any]], None]
"""Takes every error of a file: the file's key and ``{"line": int | None, "reason": str}``."""

DEFAULT_CHUNK_BYTES = 1024 * 1024
MAX_REPORTED_ERRORS = 50
HARD_MAX_LINE_BYTES = 16 * 1024 * 1024
"""Lines longer than this are never buffered, whatever the record limit says."""
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024
"""Record size limit when none is configured: 1 MiB, the largest per-record limit among the
Bedrock models of the catalog (Llama 3.1 / 3.2), about 250,000 tokens of English text."""
VALUE_PREVIEW_CHARS = 80
"""At most this many characters of a value from the file appear in a reason."""
MAX_REASON_CHARS = 500
"""A reason longer than this is cut (with ``...``): one error's size is bounded."""
UTF8_BOM = b"\xef\xbb\xbf"

NOVA_SCHEMA_VERSION = "bedrock-conversation-2024"

_FORMATS: dict[str, RecordChecker] = {}


def register_format(name: str, checker: RecordChecker) -> None:
    """Add (or replace) the record format ``name``."""
    _FORMATS[name] = checker


def record_formats() -> list[str]:
    """Names of every registered record format, sorted."""
    return sorted(_FORMATS)


def format_checker(name: str) -> RecordChecker:
    """The checker of record format ``name``; ``KeyError`` names the known formats."""
    try:
        return _FORMATS[name]
    except KeyError:
        known = ", ".join(record_formats())
        raise KeyError(f"unknown record format {name!r}; known formats: {known}") from None


# -- record formats ------------------------------------------------------------------------


def _non_empty_string(record: dict[str, Any], key: str) -> list[str]:
    if key not in record:
        return [f"missing field '{key}'"]
    value = record[key]
    if not isinstance(value, str):
        return [f"field '{key}' must be a string, got {type(value).__name__}"]
    if not value.strip():
        return [f"field '{key}' is empty"]
    return []


def _must_be_object(record: Any) -> list[str]:
    if not isinstance(record, dict):
        return [f"record must be a JSON object, got {_json_type(record)}"]
    return []


def check_prompt_completion(record: Any) -> list[str]:
    """``{"prompt": "...", "completion": "..."}`` (Titan, Llama 3.1 fine-tuning)."""
    problems = _must_be_object(record)
    if problems:
        return problems
    return _non_empty_string(record, "prompt") + _non_empty_string(record, "completion")


def check_continued_pretraining(record: Any) -> list[str]:
    """``{"input": "..."}`` (continued pre-training on unlabeled text)."""
    problems = _must_be_object(record)
    if problems:
        return problems
    return _non_empty_string(record, "input")


def _check_turns(roles: list[str], *, must_end_with_assistant: bool) -> list[str]:
    if not roles:
        return ["field 'messages' is empty"]
    if roles[0] != "user":
        return [f"messages[0] must have role 'user', got {preview(roles[0])}"]
    for index in range(1, len(roles)):
        if roles[index] == roles[index - 1]:
            return [
                f"messages[{index}] has role {preview(roles[index])} like the message before it; "
                "roles must alternate user/assistant"
            ]
    if must_end_with_assistant and roles[-1] != "assistant":
        return [f"the last message (messages[{len(roles) - 1}]) must have role 'assistant'"]
    return []


def _messages(record: dict[str, Any]) -> tuple[list[Any], list[str]]:
    if "messages" not in record:
        return [], ["missing field 'messages'"]
    messages = record["messages"]
    if not isinstance(messages, list):
        return [], [f"field 'messages' must be a list, got {_json_type(messages)}"]
    return messages, []


ContentCheck = Callable[[int, Any], str | None]


def _check_conversation(
    record: dict[str, Any], problems: list[str], content_problem: ContentCheck, *, must_end: bool
) -> list[str]:
    """Shared by the chat formats: roles, per-message content, turn order."""
    messages, errors = _messages(record)
    if errors:
        return problems + errors
    roles: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(message, dict):
            problem: str | None = f"messages[{index}] must be an object"
        elif role not in ("user", "assistant"):
            problem = f"messages[{index}].role must be 'user' or 'assistant', got {preview(role)}"
        else:
            problem = content_problem(index, message.get("content"))
        if problem is not None:
            return [*problems, problem]
        roles.append(str(role))
    return problems + _check_turns(roles, must_end_with_assistant=must_end)


def _string_or_list_content(index: int, content: Any) -> str | None:
    if isinstance(content, str):
        return None if content.strip() else f"messages[{index}].content is empty"
    if isinstance(content, list) and content:
        return None
    return f"messages[{index}].content must be a non-empty string or list"


def _nova_content(index: int, content: Any) -> str | None:
    if not isinstance(content, list) or not content:
        return f"messages[{index}].content must be a non-empty list of blocks"
    for block_index, block in enumerate(content):
        where = f"messages[{index}].content[{block_index}]"
        if not isinstance(block, dict) or not ({"text", "image", "video"} & set(block)):
            return f"{where} must be a text, image or video block"
        if "text" in block and not isinstance(block["text"], str):
            return f"{where}.text must be a string"
    return None


def check_messages(record: Any) -> list[str]:
    """Converse-style chat: ``{"system": "...", "messages": [{"role": "user", "content":
    "..."}, {"role": "assistant", "content": "..."}]}`` (Claude 3 Haiku, Llama 3.2). Roles
    alternate, starting with user and ending with assistant; ``system`` is optional."""
    problems = _must_be_object(record)
    if problems:
        return problems
    if "system" in record and not isinstance(record["system"], str):
        problems.append(f"field 'system' must be a string, got {_json_type(record['system'])}")
    return _check_conversation(record, problems, _string_or_list_content, must_end=True)


def _check_nova(record: Any, *, must_end_with_assistant: bool) -> list[str]:
    problems = _must_be_object(record)
    if problems:
        return problems
    version = record.get("schemaVersion")
    if version != NOVA_SCHEMA_VERSION:
        problems.append(
            f"field 'schemaVersion' must be {NOVA_SCHEMA_VERSION!r}, got {preview(version)}"
        )
    if "system" in record:
        system = record["system"]
        if not isinstance(system, list) or not all(
            isinstance(block, dict) and isinstance(block.get("text"), str) for block in system
        ):
            problems.append('field \'system\' must be a list of {"text": "..."} blocks')
    return _check_conversation(record, problems, _nova_content, must_end=must_end_with_assistant)


def check_bedrock_conversation_2024(record: Any) -> list[str]:
    """Amazon Nova fine-tuning: ``{"schemaVersion": "bedrock-conversation-2024", "system":
    [{"text": "..."}], "messages": [{"role": "user", "content": [{"text": "..."}]}, ...]}``,
    alternating roles, starting with user and ending with assistant."""
    return _check_nova(record, must_end_with_assistant=True)


def check_bedrock_conversation_2024_prompts(record: Any) -> list[str]:
    """Distillation prompts: the Nova conversation schema where the final assistant turn is
    optional (the teacher model writes the responses)."""
    return _check_nova(record, must_end_with_assistant=False)


def check_chat(record: Any) -> list[str]:  # noqa: PLR0911 - one return per problem
    """Open-model chat (the Hugging Face / OpenAI messages layout): ``{"messages": [{"role":
    "system", "content": "..."}, {"role": "user", "content": "..."}, {"role": "assistant",
    "content": "..."}]}``. One optional leading system message, then user / assistant turns
    that alternate, start with user and end with assistant; every content a non-empty
    string."""
    problems = _must_be_object(record)
    if problems:
        return problems
    messages, errors = _messages(record)
    if errors:
        return errors
    roles: list[str] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return [f"messages[{index}] must be an object"]
        role, content = message.get("role"), message.get("content")
        allowed = ("system", "user", "assistant") if index == 0 else ("user", "assistant")
        if role not in allowed:
            names = " or ".join(repr(r) for r in allowed)
            return [f"messages[{index}].role must be {names}, got {preview(role)}"]
        if not isinstance(content, str) or not content.strip():
            return [f"messages[{index}].content must be a non-empty string"]
        roles.append(str(role))
    offset = 1 if roles and roles[0] == "system" else 0
    turns = _check_turns(roles[offset:], must_end_with_assistant=True)
    if offset and turns:
        return [_shift_index(problem, offset) for problem in turns]
    return turns


def _shift_index(problem: str, offset: int) -> str:
    """Renumber ``messages[i]`` in a turn-order problem found after a system message."""
    head, _, rest = problem.partition("messages[")
    if not rest:
        return problem.replace("'messages' is empty", "'messages' has no user turn")
    number, _, tail = rest.partition("]")
    return f"{head}messages[{int(number) + offset}]{tail}"


def check_instruction(record: Any) -> list[str]:
    """Instruction tuning: ``{"instruction": "...", "input": "...", "output": "..."}``;
    ``input`` (context) and ``system`` are optional strings."""
    problems = _must_be_object(record)
    if problems:
        return problems
    problems = _non_empty_string(record, "instruction") + _non_empty_string(record, "output")
    for optional in ("input", "system"):
        if optional in record and not isinstance(record[optional], str):
            problems.append(
                f"field '{optional}' must be a string, got {_json_type(record[optional])}"
            )
    return problems


def check_preference(record: Any) -> list[str]:
    """Preference pairs for DPO: ``{"prompt": "...", "chosen": "...", "rejected": "..."}``,
    the labeling converter's preference output as it is; other fields are ignored."""
    problems = _must_be_object(record)
    if problems:
        return problems
    return [
        *_non_empty_string(record, "prompt"),
        *_non_empty_string(record, "chosen"),
        *_non_empty_string(record, "rejected"),
    ]


def check_kto(record: Any) -> list[str]:
    """Single answers for KTO: ``{"prompt": "...", "completion": "...", "label": true}``
    (``label`` true: desirable, false: undesirable)."""
    problems = _must_be_object(record)
    if problems:
        return problems
    problems = _non_empty_string(record, "prompt") + _non_empty_string(record, "completion")
    if "label" not in record:
        problems.append("missing field 'label'")
    elif not isinstance(record["label"], bool):
        problems.append(f"field 'label' must be true or false, got {_json_type(record['label'])}")
    return problems


GRPO_REWARD_FIELDS = ("answer", "pattern", "schema")
"""Optional fields of a GRPO prompt, read by the training script's built-in rewards:
``answer`` (exact_match), ``pattern`` (regex), ``schema`` (json_schema)."""


def check_grpo(record: Any) -> list[str]:
    """Prompts for GRPO: ``{"prompt": "...", "answer": "...", "pattern": "...", "schema":
    {...}}``; the reward fields are optional: ``answer`` and ``pattern`` strings (``pattern``
    a regular expression), ``schema`` a JSON object. Other fields reach a user reward
    function unchanged."""
    problems = _must_be_object(record)
    if problems:
        return problems
    problems = _non_empty_string(record, "prompt")
    for name in ("answer", "pattern"):
        if name in record and not isinstance(record[name], str):
            problems.append(f"field '{name}' must be a string, got {_json_type(record[name])}")
    if isinstance(record.get("pattern"), str):
        try:
            re.compile(record["pattern"])
        except re.error as error:
            problems.append(
                f"field 'pattern' is not a regular expression: {cap_reason(str(error), 120)}"
            )
    if "schema" in record and not isinstance(record["schema"], dict):
        problems.append(
            f"field 'schema' must be a JSON object (a JSON Schema), got "
            f"{_json_type(record['schema'])}"
        )
    return problems


def check_text(record: Any) -> list[str]:
    """Raw text for continued pre-training of an open model: ``{"text": "..."}``."""
    problems = _must_be_object(record)
    if problems:
        return problems
    return _non_empty_string(record, "text")


def check_rft_prompts(record: Any) -> list[str]:  # noqa: PLR0911 - one return per problem
    """Reinforcement fine-tuning prompts (the OpenAI chat-completion layout Bedrock RFT takes):
    ``{"messages": [{"role": "system", "content": "..."}, {"role": "user", "content":
    "..."}], "reference_answer": ...}``. An optional leading system message, then turns that
    end with a user turn (the model writes the answer); text content only (RFT takes no
    multimodal input); ``reference_answer`` present and not null (any JSON value: the grader
    reads it); other fields are passed to the grader as they are."""
    problems = _must_be_object(record)
    if problems:
        return problems
    messages, errors = _messages(record)
    if errors:
        return errors
    if not messages:
        return ["field 'messages' is empty"]
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return [f"messages[{index}] must be an object"]
        role, content = message.get("role"), message.get("content")
        allowed = ("system", "user", "assistant") if index == 0 else ("user", "assistant")
        if role not in allowed:
            names = " or ".join(repr(r) for r in allowed)
            return [f"messages[{index}].role must be {names}, got {preview(role)}"]
        if not isinstance(content, str) or not content.strip():
            return [f"messages[{index}].content must be a non-empty string (text only)"]
    if messages[-1].get("role") != "user":
        return [f"the last message (messages[{len(messages) - 1}]) must have role 'user'"]
    if record.get("reference_answer") is None:
        return ["missing field 'reference_answer' (what the grader scores responses against)"]
    return []


def check_json_object(record: Any) -> list[str]:
    """Any JSON object (for jobs whose record schema is checked by the service, not here)."""
    return _must_be_object(record)


register_format("prompt_completion", check_prompt_completion)
register_format("continued_pretraining", check_continued_pretraining)
register_format("messages", check_messages)
register_format("bedrock_conversation_2024", check_bedrock_conversation_2024)
register_format("bedrock_conversation_2024_prompts", check_bedrock_conversation_2024_prompts)
register_format("chat", check_chat)
register_format("instruction", check_instruction)
register_format("preference", check_preference)
register_format("kto", check_kto)
register_format("grpo", check_grpo)
register_format("text", check_text)
register_format("rft_prompts", check_rft_prompts)
register_format("json_object", check_json_object)


# -- limits and reports --------------------------------------------------------------------


@dataclass(frozen=True)
class FileLimits:
    """Limits for one dataset file. ``None`` means not checked (a record is still never
    longer than :data:`HARD_MAX_LINE_BYTES`)."""

    min_records: int = 1
    max_records: int | None = None
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES
    max_file_bytes: int | None = None


@dataclass
class FileReport:
    """What validating one file found. ``errors`` holds the first ``max_errors`` problems."""

    key: str
    role: str
    bytes_read: int = 0
    records: int = 0
    invalid_records: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    max_errors: int = MAX_REPORTED_ERRORS
    sink: ErrorSink | None = None
    """Receives every error (the kept ones and the rest): the handler streams them to S3."""

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int | None, reason: str) -> None:
        """Count an error; keep it (its reason cut to :data:`MAX_REASON_CHARS`) while fewer
        than ``max_errors`` are kept."""
        self.error_count += 1
        error = {"line": line, "reason": cap_reason(reason)}
        if len(self.errors) < self.max_errors:
            self.errors.append(error)
        if self.sink is not None:
            self.sink(self.key, error)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "role": self.role,
            "valid": self.valid,
            "bytes": self.bytes_read,
            "records": self.records,
            "invalidRecords": self.invalid_records,
            "errorCount": self.error_count,
            "errors": self.errors,
        }


def iter_chunks(stream: Readable, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[bytes]:
    """Read ``stream`` in chunks of at most ``chunk_bytes``."""
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            return
        yield chunk


@dataclass
class _Line:
    number: int
    data: bytes | bytearray | None
    """The line without its newline, or None when it was too long to keep. A line that
    spanned chunks is handed over as the reader's own buffer (no copy)."""
    length: int
    terminated: bool


def iter_lines(chunks: Iterable[bytes], *, max_line_bytes: int) -> Iterator[_Line]:
    """Split a byte stream into numbered lines (1-based). Lines longer than
    ``max_line_bytes`` are counted but not kept (``data`` is None), so one huge line cannot
    exhaust memory. A last line without a newline is yielded with ``terminated=False``."""
    pending = bytearray()
    pending_length = 0
    overflow = False
    number = 0
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                piece_length = len(chunk) - start
                pending_length += piece_length
                if not overflow:
                    if pending_length > max_line_bytes:
                        overflow = True
                        pending.clear()
                    else:
                        pending += chunk[start:]
                break
            number += 1
            length = pending_length + (end - start)
            if overflow or length > max_line_bytes:
                yield _Line(number, None, length, True)
            elif pending:
                pending += chunk[start:end]
                line, pending = pending, bytearray()  # hand the buffer over: no copy
                yield _Line(number, line, length, True)
            else:
                yield _Line(number, chunk[start:end], length, True)
            pending.clear()
            pending_length = 0
            overflow = False
            start = end + 1
    if pending_length:
        number += 1
        yield _Line(number, None if overflow else pending, pending_length, False)


def validate_chunks(
    chunks: Iterable[bytes],
    *,
    key: str,
    role: str,
    record_format: str,
    limits: FileLimits,
    max_errors: int = MAX_REPORTED_ERRORS,
    sink: ErrorSink | None = None,
) -> FileReport:
    """Validate a JSONL byte stream given as chunks. Every line must be a UTF-8 JSON record of
    ``record_format`` within ``limits``; problems are reported with 1-based line numbers (the
    first ``max_errors`` kept in the report, every one passed to ``sink``)."""
    checker = format_checker(record_format)
    report = FileReport(key=key, role=role, max_errors=max_errors, sink=sink)
    max_record = limits.max_record_bytes
    keep_limit = min(max_record or HARD_MAX_LINE_BYTES, HARD_MAX_LINE_BYTES)
    decode = json.JSONDecoder().decode
    for line in iter_lines(_counted(chunks, report), max_line_bytes=keep_limit):
        if line.data is None:
            report.records += 1
            report.invalid_records += 1
            report.add_error(line.number, _too_long(line.length, max_record))
            continue
        data = line.data
        if data.endswith(b"\r"):
            data = data[:-1]
        if not data.strip():
            report.add_error(line.number, "empty line (JSONL needs one JSON record per line)")
            continue
        report.records += 1
        problems = _line_problems(data, line, checker, decode)
        if max_record is not None and line.length > max_record:
            problems = [*problems, _too_long(line.length, max_record)]
        if problems:
            report.invalid_records += 1
            report.add_error(line.number, "; ".join(problems))
    _check_counts(report, limits)
    return report


def _line_problems(
    data: bytes | bytearray, line: _Line, checker: RecordChecker, decode: Callable[[str], Any]
) -> list[str]:
    """Every reason one non-blank line is not a valid record (empty when it is)."""
    record, problem = _decode_line(data, line, decode)
    if problem is not None:
        return [problem]
    try:
        return checker(record)
    except RecursionError:
        return ["the record is nested too deeply to check"]


def _decode_line(
    data: bytes | bytearray, line: _Line, decode: Callable[[str], Any]
) -> tuple[Any, str | None]:
    """``(record, None)``, or ``(None, reason)`` when the line is not one JSON value in
    UTF-8 without a BOM and without lone surrogates."""
    if data.startswith(UTF8_BOM):
        where = "the file starts" if line.number == 1 else "the line starts"
        return None, (
            f"{where} with a UTF-8 byte order mark (bytes EF BB BF); save the file as UTF-8 "
            "without a BOM"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"not valid UTF-8 (byte {error.start + 1} of the line)"
    try:
        record = decode(text)
    except RecursionError:
        return None, "not valid JSON: nested too deeply for the JSON decoder"
    except ValueError as error:  # JSONDecodeError, or an integer of over 4,300 digits
        reason = f"not valid JSON: {cap_reason(getattr(error, 'msg', str(error)), 120)}"
        if not line.terminated:
            reason += " (the last line has no newline: the file looks truncated)"
        return None, reason
    if "\\u" in text:  # only a \u escape can make a lone surrogate: skip the walk otherwise
        path = lone_surrogate_path(record)
        if path is not None:
            return None, (
                f"{path} holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its "
                "pair), which is not valid Unicode"
            )
    return record, None


def _counted(chunks: Iterable[bytes], report: FileReport) -> Iterator[bytes]:
    for chunk in chunks:
        report.bytes_read += len(chunk)
        yield chunk


def _too_long(length: int, max_record: int | None) -> str:
    limit = max_record if max_record is not None else HARD_MAX_LINE_BYTES
    return f"record is {length} bytes, more than the limit of {limit} bytes"


def _check_counts(report: FileReport, limits: FileLimits) -> None:
    if report.bytes_read == 0:
        report.add_error(None, "the file is empty (0 records)")
        return
    if report.records < limits.min_records:
        report.add_error(
            None,
            f"the file has {report.records} records, fewer than the minimum of "
            f"{limits.min_records}",
        )
    if limits.max_records is not None and report.records > limits.max_records:
        report.add_error(
            None,
            f"the file has {report.records} records, more than the maximum of {limits.max_records}",
        )


def check_file_size(report: FileReport, size: int, limits: FileLimits) -> bool:
    """Report a file larger than ``limits.max_file_bytes`` before reading it. Returns whether
    the file should still be read."""
    if limits.max_file_bytes is not None and size > limits.max_file_bytes:
        report.bytes_read = size
        report.add_error(
            None,
            f"the file is {size} bytes, more than the limit of {limits.max_file_bytes} bytes",
        )
        return False
    return True


def validate_stream(
    stream: Readable,
    *,
    key: str,
    role: str,
    record_format: str,
    limits: FileLimits,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_errors: int = MAX_REPORTED_ERRORS,
    sink: ErrorSink | None = None,
) -> FileReport:
    """:func:`validate_chunks` over a binary file-like object (an open file, an S3 body)."""
    return validate_chunks(
        iter_chunks(stream, chunk_bytes),
        key=key,
        role=role,
        record_format=record_format,
        limits=limits,
        max_errors=max_errors,
        sink=sink,
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def preview(value: Any, limit: int = VALUE_PREVIEW_CHARS) -> str:
    """A short, safe rendering of a value from the file for a reason: a string's first
    ``limit`` characters (``repr`` quoted, ``...`` and the full length when cut), the JSON
    type of a list or an object (never their content), ``repr`` of anything else."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value)} characters)"
    if isinstance(value, (list, dict)):
        return f"a JSON {_json_type(value)}"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def cap_reason(reason: str, limit: int = MAX_REASON_CHARS) -> str:
    """``reason`` cut to ``limit`` characters, ending in ``...`` when cut."""
    return reason if len(reason) <= limit else f"{reason[: limit - 3]}..."


def lone_surrogate_path(record: Any) -> str | None:
    """Where the first string holding a lone UTF-16 surrogate is (``$`` is the record:
    ``$.messages[0].content``), or None. JSON lets ``"\\ud800"`` through; UTF-8 cannot
    encode it, so the training service cannot read it. Iterative: no recursion limit."""
    stack: list[tuple[str, Any]] = [("$", record)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return path
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                if _SURROGATE.search(key):
                    return f"{path} (a key)"
                name = key if len(key) <= _PATH_KEY_CHARS else f"{key[:_PATH_KEY_CHARS]}..."
                stack.append((f"{path}.{name}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


_PATH_KEY_CHARS = 40
_SURROGATE = re.compile("[\ud800-\udfff]")
