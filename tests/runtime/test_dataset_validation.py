"""The Bedrock dataset validator: the streaming core and the Lambda handler on moto S3."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import bedrock_dataset_validator as validator
from cdk_llm_training.assets.runtime.dataset_validation import (
    FileLimits,
    check_bedrock_conversation_2024,
    format_checker,
    record_formats,
    register_format,
    validate_chunks,
    validate_stream,
)

DATASETS = "curated-bucket"
ARTIFACTS = "artifacts-bucket"
PROMPT = {"prompt": "What is 2+2?", "completion": "4"}
CPT = {"input": "Unlabeled domain text."}
MESSAGES = {
    "system": "You are terse.",
    "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
    ],
}
NOVA = {
    "schemaVersion": "bedrock-conversation-2024",
    "system": [{"text": "You are terse."}],
    "messages": [
        {"role": "user", "content": [{"text": "Hi"}]},
        {"role": "assistant", "content": [{"text": "Hello."}]},
    ],
}
NOVA_PROMPT_ONLY = {
    "schemaVersion": "bedrock-conversation-2024",
    "messages": [{"role": "user", "content": [{"text": "Summarize: ..."}]}],
}
CHAT = {
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
    ]
}
INSTRUCTION = {"instruction": "Add the numbers.", "input": "2 2", "output": "4"}
VALID_RECORDS = {
    "chat": CHAT,
    "instruction": INSTRUCTION,
    "prompt_completion": PROMPT,
    "continued_pretraining": CPT,
    "messages": MESSAGES,
    "bedrock_conversation_2024": NOVA,
    "bedrock_conversation_2024_prompts": NOVA_PROMPT_ONLY,
}
INVALID_RECORDS: dict[str, list[tuple[Any, str]]] = {
    "chat": [
        (
            {
                "messages": [
                    {"role": "system", "content": "s"},
                    {"role": "assistant", "content": "a"},
                ]
            },
            "messages[1] must have role 'user', got 'assistant'",
        ),
        (
            {"messages": [{"role": "system", "content": "s"}]},
            "field 'messages' has no user turn",
        ),
        (
            {"messages": [*CHAT["messages"], {"role": "user", "content": "again"}]},
            "the last message (messages[3]) must have role 'assistant'",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]},
            "messages[1].role must be 'user' or 'assistant', got 'system'",
        ),
        (
            {"messages": [{"role": "user", "content": [{"text": "a"}]}]},
            "messages[0].content must be a non-empty string",
        ),
        ({"prompt": "q", "completion": "a"}, "missing field 'messages'"),
    ],
    "instruction": [
        ({"instruction": "q"}, "missing field 'output'"),
        ({**INSTRUCTION, "input": 3}, "field 'input' must be a string, got number"),
        ({**INSTRUCTION, "instruction": " "}, "field 'instruction' is empty"),
    ],
    "prompt_completion": [
        ({"prompt": "q"}, "missing field 'completion'"),
        ({"prompt": "", "completion": "a"}, "field 'prompt' is empty"),
        ({"prompt": 3, "completion": "a"}, "field 'prompt' must be a string, got int"),
        (["q", "a"], "record must be a JSON object, got list"),
    ],
    "continued_pretraining": [
        ({"text": "x"}, "missing field 'input'"),
        ({"input": "   "}, "field 'input' is empty"),
    ],
    "messages": [
        (
            {"messages": [{"role": "assistant", "content": "x"}]},
            "messages[0] must have role 'user', got 'assistant'",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
            "messages[1] has role 'user' like the message before it; roles must alternate "
            "user/assistant",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}]},
            "the last message (messages[0]) must have role 'assistant'",
        ),
        (
            {"messages": [{"role": "system", "content": "a"}]},
            "messages[0].role must be 'user' or 'assistant', got 'system'",
        ),
        ({**MESSAGES, "system": 1}, "field 'system' must be a string, got number"),
        ({"messages": "hi"}, "field 'messages' must be a list, got string"),
    ],
    "bedrock_conversation_2024": [
        (
            {**NOVA, "schemaVersion": "v1"},
            "field 'schemaVersion' must be 'bedrock-conversation-2024', got 'v1'",
        ),
        (
            {**NOVA, "messages": [{"role": "user", "content": "Hi"}]},
            "messages[0].content must be a non-empty list of blocks",
        ),
        (
            {**NOVA, "messages": NOVA_PROMPT_ONLY["messages"]},
            "the last message (messages[0]) must have role 'assistant'",
        ),
        ({**NOVA, "system": "terse"}, 'field \'system\' must be a list of {"text": "..."} blocks'),
        (
            {**NOVA, "messages": [{"role": "user", "content": [{"audio": "x"}]}]},
            "messages[0].content[0] must be a text, image or video block",
        ),
    ],
    "bedrock_conversation_2024_prompts": [
        (
            {"schemaVersion": "bedrock-conversation-2024", "messages": []},
            "field 'messages' is empty",
        ),
    ],
}


def _jsonl(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _validate(
    data: bytes, record_format: str, limits: FileLimits | None = None, chunk: int = 7
) -> dict[str, Any]:
    report = validate_stream(
        io.BytesIO(data),
        key="k.jsonl",
        role="training",
        record_format=record_format,
        limits=limits or FileLimits(),
        chunk_bytes=chunk,
    )
    return report.to_json()


# -- formats -------------------------------------------------------------------------------


def test_every_shipped_format_is_registered() -> None:
    # other modules (e.g. runtime.evaluation_prompts) add their own formats on import
    assert set(VALID_RECORDS) <= set(record_formats())


@pytest.mark.parametrize("record_format", sorted(VALID_RECORDS))
def test_valid_file_of_every_format(record_format: str) -> None:
    record = VALID_RECORDS[record_format]
    report = _validate(_jsonl(record, record, record), record_format)
    assert report["valid"] is True
    assert (report["records"], report["invalidRecords"], report["errors"]) == (3, 0, [])


@pytest.mark.parametrize(
    ("record_format", "record", "reason"),
    [(f, r, reason) for f, cases in INVALID_RECORDS.items() for r, reason in cases],
)
def test_invalid_record_of_every_format_is_reported_on_its_line(
    record_format: str, record: Any, reason: str
) -> None:
    good = VALID_RECORDS[record_format]
    report = _validate(_jsonl(good, record, good), record_format)
    assert report["valid"] is False
    assert report["errors"] == [{"line": 2, "reason": reason}]
    assert (report["records"], report["invalidRecords"]) == (3, 1)


def test_prompt_only_conversation_is_valid_for_distillation_but_not_for_fine_tuning() -> None:
    assert format_checker("bedrock_conversation_2024_prompts")(NOVA) == []
    assert check_bedrock_conversation_2024(NOVA_PROMPT_ONLY) != []


def test_formats_are_pluggable() -> None:
    register_format("test_has_id", lambda r: [] if "id" in r else ["missing field 'id'"])
    report = _validate(b'{"id": 1}\n{"x": 2}\n', "test_has_id")
    assert report["errors"] == [{"line": 2, "reason": "missing field 'id'"}]


def test_fails_unknown_format() -> None:
    with pytest.raises(KeyError, match=r"unknown record format 'chatml'; known formats: "):
        format_checker("chatml")


# -- file-level problems -------------------------------------------------------------------


def test_empty_file() -> None:
    report = _validate(b"", "prompt_completion")
    assert report["errors"] == [{"line": None, "reason": "the file is empty (0 records)"}]


def test_non_utf8_line_names_its_line_and_byte() -> None:
    data = _jsonl(PROMPT) + b'{"prompt": "caf\xe9", "completion": "x"}\n' + _jsonl(PROMPT)
    report = _validate(data, "prompt_completion")
    assert report["errors"] == [{"line": 2, "reason": "not valid UTF-8 (byte 16 of the line)"}]


def test_truncated_last_line() -> None:
    data = _jsonl(PROMPT, PROMPT) + b'{"prompt": "q", "comple'
    report = _validate(data, "prompt_completion")
    assert report["errors"] == [
        {
            "line": 3,
            "reason": "not valid JSON: Unterminated string starting at (the last line has no "
            "newline: the file looks truncated)",
        }
    ]


def test_last_line_without_newline_is_fine_when_complete() -> None:
    report = _validate(_jsonl(PROMPT) + json.dumps(PROMPT).encode(), "prompt_completion")
    assert (report["valid"], report["records"]) == (True, 2)


def test_blank_line_and_crlf() -> None:
    data = json.dumps(PROMPT).encode() + b"\r\n\r\n" + json.dumps(PROMPT).encode() + b"\r\n"
    report = _validate(data, "prompt_completion")
    assert report["errors"] == [
        {"line": 2, "reason": "empty line (JSONL needs one JSON record per line)"}
    ]
    assert report["records"] == 2


def test_record_size_limit() -> None:
    big = {"prompt": "x" * 300, "completion": "y"}
    report = _validate(_jsonl(PROMPT, big), "prompt_completion", FileLimits(max_record_bytes=200))
    size = len(json.dumps(big))
    assert report["errors"] == [
        {"line": 2, "reason": f"record is {size} bytes, more than the limit of 200 bytes"}
    ]


def test_record_count_limits() -> None:
    limits = FileLimits(min_records=3, max_records=1)
    report = _validate(_jsonl(PROMPT, PROMPT), "prompt_completion", limits)
    assert [e["reason"] for e in report["errors"]] == [
        "the file has 2 records, fewer than the minimum of 3",
        "the file has 2 records, more than the maximum of 1",
    ]


def test_only_the_first_errors_are_kept_but_all_are_counted() -> None:
    data = b"not json\n" * 120
    report = validate_stream(
        io.BytesIO(data),
        key="k",
        role="training",
        record_format="prompt_completion",
        limits=FileLimits(),
    ).to_json()
    assert report["errorCount"] == 120
    assert len(report["errors"]) == 50
    assert [e["line"] for e in report["errors"]] == list(range(1, 51))


# -- bounded memory on a file too large to hold -----------------------------------------------


class _GeneratedJsonl(io.RawIOBase):
    """A read-only stream of ``total`` bytes of JSONL made on the fly: it never exists in
    memory as a whole, so a validator that buffered it would show in the allocation peak."""

    def __init__(self, total: int, bad_line: int) -> None:
        self._line = (json.dumps({"prompt": "p" * 200, "completion": "c" * 200}) + "\n").encode()
        self._lines = self.line_count = total // len(self._line)
        self._bad_line = bad_line
        self._emitted = 0
        self._buffer = b""
        self.bytes_served = 0

    def readable(self) -> bool:
        return True

    def _next_lines(self) -> Iterator[bytes]:
        while self._emitted < self._lines:
            self._emitted += 1
            yield b'{"prompt": 1}\n' if self._emitted == self._bad_line else self._line

    def read(self, size: int = -1) -> bytes:
        lines = self._next_lines()
        while len(self._buffer) < size:
            chunk = b"".join(line for _, line in zip(range(2048), lines, strict=False))
            if not chunk:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        self.bytes_served += len(data)
        return data


def test_validates_a_64_mib_stream_with_bounded_memory() -> None:
    stream = _GeneratedJsonl(64 * 1024 * 1024, bad_line=100_000)
    tracemalloc.start()
    try:
        report = validate_stream(
            stream,
            key="big.jsonl",
            role="training",
            record_format="prompt_completion",
            limits=FileLimits(max_record_bytes=4096),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.bytes_read == stream.bytes_served > 60 * 1024 * 1024
    assert report.records == stream.line_count
    assert report.errors == [
        {
            "line": 100_000,
            "reason": "field 'prompt' must be a string, got int; missing field 'completion'",
        }
    ]
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB: the validator buffers data"


def test_a_huge_line_is_not_buffered() -> None:
    chunks = (b"x" * (1024 * 1024) for _ in range(40))  # one 40 MiB line, no newline
    tracemalloc.start()
    try:
        report = validate_chunks(
            chunks,
            key="k",
            role="training",
            record_format="continued_pretraining",
            limits=FileLimits(max_record_bytes=1024),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.errors == [
        {"line": 1, "reason": "record is 41943040 bytes, more than the limit of 1024 bytes"}
    ]
    assert peak < 8 * 1024 * 1024


# -- the Lambda handler on moto S3 ---------------------------------------------------------


def _config(**overrides: Any) -> validator.ValidatorConfig:
    settings: dict[str, Any] = {
        "dataset_bucket": DATASETS,
        "dataset_prefix": "finetune/",
        "report_bucket": ARTIFACTS,
        "report_prefix": "reports/",
        "output_prefix": "output/",
        "record_format": "prompt_completion",
        "limits": {"max_training_records": 100, "max_record_bytes": 4096},
        "job_name_prefix": "ft",
        "ready_marker_name": "_READY",
        "max_reported_errors": 50,
    }
    settings.update(overrides)
    return validator.ValidatorConfig(**settings)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=DATASETS)
        client.create_bucket(Bucket=ARTIFACTS)
        yield client


def _put(s3: Any, key: str, body: bytes) -> None:
    s3.put_object(Bucket=DATASETS, Key=key, Body=body)


def _report(s3: Any, output: dict[str, Any]) -> dict[str, Any]:
    bucket, key = output["reportS3Uri"].removeprefix("s3://").split("/", 1)
    report: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return report


def test_handler_valid_dataset(s3: Any) -> None:
    _put(s3, "finetune/run1/train.jsonl", _jsonl(PROMPT, PROMPT))
    _put(s3, "finetune/run1/validation.jsonl", _jsonl(PROMPT))
    event = {
        "trainingDataKey": "finetune/run1/train.jsonl",
        "validationDataKeys": ["finetune/run1/validation.jsonl"],
        "jobNameSuffix": "run1",
    }
    output = validator.validate_dataset(event, _config(), s3)
    assert output == {
        "valid": True,
        "reportS3Uri": f"s3://{ARTIFACTS}/reports/ft-run1/validation-report.json",
        "jobName": "ft-run1",
        "customModelName": "ft-run1",
        "trainingDataS3Uri": f"s3://{DATASETS}/finetune/run1/train.jsonl",
        "validators": [{"S3Uri": f"s3://{DATASETS}/finetune/run1/validation.jsonl"}],
        "hasValidationData": True,
        "outputDataS3Uri": f"s3://{ARTIFACTS}/output/ft-run1/",
        "records": {"finetune/run1/train.jsonl": 2, "finetune/run1/validation.jsonl": 1},
        "errorCount": 0,
        "errors": [],
        "errorsS3Uri": f"s3://{ARTIFACTS}/reports/ft-run1/validation-errors.jsonl",
    }
    report = _report(s3, output)
    assert report["valid"] is True
    assert [f["role"] for f in report["files"]] == ["training", "validation"]


def test_malformed_dataset_report_has_line_numbers_and_no_job_starts(s3: Any) -> None:
    body = _jsonl(PROMPT) + b'{"prompt": "q"}\n' + _jsonl(PROMPT) + b"\xff\n" + b'{"prompt": "x'
    _put(s3, "finetune/bad/train.jsonl", body)
    with mock_aws():
        bedrock = boto3.client("bedrock", region_name="us-east-1")
        output = validator.validate_dataset(
            {"trainingDataKey": "finetune/bad/train.jsonl", "jobNameSuffix": "bad"}, _config(), s3
        )
        assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []
    assert output["valid"] is False
    assert output["errorCount"] == 3
    report = _report(s3, output)
    assert report["errors"] == [
        {"file": "finetune/bad/train.jsonl", "line": 2, "reason": "missing field 'completion'"},
        {
            "file": "finetune/bad/train.jsonl",
            "line": 4,
            "reason": "not valid UTF-8 (byte 1 of the line)",
        },
        {
            "file": "finetune/bad/train.jsonl",
            "line": 5,
            "reason": "not valid JSON: Unterminated string starting at (the last line has no "
            "newline: the file looks truncated)",
        },
    ]
    assert report["files"][0]["records"] == 5
    assert report["files"][0]["invalidRecords"] == 3


def test_handler_reads_its_configuration_from_the_environment(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(s3, "finetune/a/train.jsonl", _jsonl(CPT))
    env = {
        "DATASET_BUCKET": DATASETS,
        "DATASET_PREFIX": "finetune/",
        "REPORT_BUCKET": ARTIFACTS,
        "REPORT_PREFIX": "r/",
        "OUTPUT_PREFIX": "o/",
        "RECORD_FORMAT": "continued_pretraining",
        "LIMITS": json.dumps({"max_training_records": 10}),
        "JOB_NAME_PREFIX": "cpt",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    output = validator.handler(
        {"trainingDataKey": "finetune/a/train.jsonl", "jobNameSuffix": "a1"}, None, s3=s3
    )
    assert (output["valid"], output["jobName"], output["hasValidationData"]) == (
        True,
        "cpt-a1",
        False,
    )


def test_missing_object_and_file_size_limit(s3: Any) -> None:
    _put(s3, "finetune/x/train.jsonl", _jsonl(PROMPT) * 50)
    config = _config(limits={"max_training_file_bytes": 100, "max_validation_records": 5})
    output = validator.validate_dataset(
        {
            "trainingDataKey": "finetune/x/train.jsonl",
            "validationDataKeys": ["finetune/x/missing.jsonl"],
            "jobNameSuffix": "x",
        },
        config,
        s3,
    )
    size = len(_jsonl(PROMPT) * 50)
    assert [e["reason"] for e in _report(s3, output)["errors"]] == [
        f"the file is {size} bytes, more than the limit of 100 bytes",
        f"object s3://{DATASETS}/finetune/x/missing.jsonl does not exist (or is not readable)",
    ]


def test_distillation_takes_no_validation_data(s3: Any) -> None:
    _put(s3, "finetune/d/train.jsonl", _jsonl(NOVA_PROMPT_ONLY))
    _put(s3, "finetune/d/val.jsonl", _jsonl(NOVA_PROMPT_ONLY))
    config = _config(
        record_format="bedrock_conversation_2024_prompts", limits={"max_validation_records": 0}
    )
    output = validator.validate_dataset(
        {
            "trainingDataKey": "finetune/d/train.jsonl",
            "validationDataKeys": ["finetune/d/val.jsonl"],
            "jobNameSuffix": "d",
        },
        config,
        s3,
    )
    assert output["errors"] == [
        {
            "file": "finetune/d/val.jsonl",
            "line": None,
            "reason": "this customization type takes no validation data",
        }
    ]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "the input must name 'trainingDataKey' (an S3 key in the dataset bucket)"),
        (
            {"trainingDataKey": "other/train.jsonl"},
            "dataset key 'other/train.jsonl' is outside the dataset prefix 'finetune/'",
        ),
        (
            {"trainingDataKey": "finetune/t.jsonl", "jobNameSuffix": "bad_name"},
            "'jobNameSuffix' 'bad_name' must be letters, digits and single hyphens (no leading "
            "or trailing hyphen)",
        ),
        (
            {"trainingDataKey": "finetune/t.jsonl", "jobNameSuffix": "a" * 61},
            f"job name 'ft-{'a' * 61}' is 64 characters; at most 63 are allowed",
        ),
        (
            {"trainingDataKey": "finetune/t.jsonl", "validationDataKeys": "finetune/v.jsonl"},
            "'validationDataKeys' must be a list of S3 keys",
        ),
        (
            {"trainingDataKey": "finetune/t.jsonl", "validationDataKeys": ["finetune/v"] * 11},
            "'validationDataKeys' has 11 keys; at most 10 are allowed",
        ),
    ],
)
def test_fails_bad_input(s3: Any, event: dict[str, Any], reason: str) -> None:
    output = validator.validate_dataset(event, _config(), s3)
    assert output["valid"] is False
    assert output["errors"] == [{"file": None, "line": None, "reason": reason}]
    assert _report(s3, output)["errors"] == output["errors"]


def test_ready_marker_empty_uses_folder_convention(s3: Any) -> None:
    _put(s3, "finetune/support bot/train.jsonl", _jsonl(PROMPT))
    _put(s3, "finetune/support bot/validation.jsonl", _jsonl(PROMPT))
    _put(s3, "finetune/support bot/_READY", b"")
    output = validator.validate_dataset(
        {"readyMarker": {"bucket": DATASETS, "key": "finetune/support bot/_READY"}}, _config(), s3
    )
    assert output["valid"] is True
    assert output["jobName"].startswith("ft-support-bot-")
    assert output["trainingDataS3Uri"] == f"s3://{DATASETS}/finetune/support bot/train.jsonl"
    assert output["validators"] == [
        {"S3Uri": f"s3://{DATASETS}/finetune/support bot/validation.jsonl"}
    ]


def test_ready_marker_with_content(s3: Any) -> None:
    _put(s3, "finetune/r2/data.jsonl", _jsonl(PROMPT))
    marker = {"trainingDataKey": "finetune/r2/data.jsonl", "jobNameSuffix": "r2-v1"}
    _put(s3, "finetune/r2/_READY", json.dumps(marker).encode())
    output = validator.validate_dataset(
        {"readyMarker": {"bucket": DATASETS, "key": "finetune/r2/_READY"}}, _config(), s3
    )
    assert (output["valid"], output["jobName"], output["validators"]) == (True, "ft-r2-v1", [])


def test_ready_marker_that_is_not_json(s3: Any) -> None:
    _put(s3, "finetune/r3/_READY", b"go!")
    output = validator.validate_dataset(
        {"readyMarker": {"bucket": DATASETS, "key": "finetune/r3/_READY"}}, _config(), s3
    )
    assert output["errors"][0]["reason"] == (
        "ready marker 'finetune/r3/_READY' is neither empty nor a JSON object"
    )


def test_handler_imports_as_lambda_loads_it_without_cdk_or_pydantic() -> None:
    """Lambda puts the runtime folder at the code root and imports the handler module by
    its file name; it must then find its sibling module and never need aws_cdk/pydantic."""
    import subprocess
    import sys
    from pathlib import Path

    from cdk_llm_training.assets import runtime

    folder = Path(runtime.__file__).parent
    probe = (
        "import sys, json\n"
        "import bedrock_dataset_validator as v\n"
        "print(json.dumps({'core': v.validate_stream.__module__,\n"
        "  'heavy': sorted(m for m in ('aws_cdk', 'pydantic', 'cdk_llm_training')\n"
        "                  if m in sys.modules)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=folder, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == {"core": "dataset_validation", "heavy": []}
