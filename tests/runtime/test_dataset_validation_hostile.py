"""Hostile and oversized datasets: every case is a line error in a bounded report, never an
uncaught exception or a Lambda / Step Functions payload over its limit."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import bedrock_dataset_validator as bedrock
from cdk_llm_training.assets.runtime import open_model_dataset_validator as open_model
from cdk_llm_training.assets.runtime.dataset_validation import (
    DEFAULT_MAX_RECORD_BYTES,
    MAX_REASON_CHARS,
    FileLimits,
    cap_reason,
    lone_surrogate_path,
    preview,
    validate_stream,
)

DATASETS = "curated-bucket"
ARTIFACTS = "artifacts-bucket"
CHAT_REPLY = {"role": "assistant", "content": "Hello."}
STATE_OUTPUT_BOUND = 16 * 1024
"""What the tests hold a validator's Lambda response to: far under Step Functions' 256 KiB
state payload limit and Lambda's 6 MB response limit."""


def _validate(data: bytes, record_format: str, limits: FileLimits | None = None) -> Any:
    return validate_stream(
        io.BytesIO(data),
        key="k.jsonl",
        role="training",
        record_format=record_format,
        limits=limits or FileLimits(),
        chunk_bytes=64 * 1024,
    ).to_json()


def _reasons(report: dict[str, Any]) -> list[tuple[int | None, str]]:
    return [(e["line"], e["reason"]) for e in report["errors"]]


# -- the streaming core ------------------------------------------------------------------------


def test_deeply_nested_json_is_a_line_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    ok = json.dumps({"prompt": "q", "completion": "a"}).encode()
    report = _validate(ok + b"\n" + deep + b"\n" + ok + b"\n", "prompt_completion")
    assert _reasons(report) == [(2, "not valid JSON: nested too deeply for the JSON decoder")]
    assert report["records"] == 3


def test_nesting_inside_message_content_is_a_line_error() -> None:
    content = "[" * 50_000 + '"x"' + "]" * 50_000
    line = f'{{"messages": [{{"role": "user", "content": {content}}}, {json.dumps(CHAT_REPLY)}]}}'
    report = _validate(line.encode() + b"\n", "messages")
    assert _reasons(report) == [(1, "not valid JSON: nested too deeply for the JSON decoder")]


def test_a_value_is_echoed_as_a_short_prefix_only() -> None:
    role = "r" * 200_000
    record = {"messages": [{"role": role, "content": "Hi"}, CHAT_REPLY]}
    report = _validate(json.dumps(record).encode() + b"\n", "messages")
    (reason,) = [e["reason"] for e in report["errors"]]
    assert reason == (
        f"messages[0].role must be 'user' or 'assistant', got {'r' * 80!r}... (200000 characters)"
    )


def test_every_reason_is_capped() -> None:
    assert cap_reason("x" * 10_000) == "x" * (MAX_REASON_CHARS - 3) + "..."
    assert cap_reason("short") == "short"
    assert preview({"a": [1]}) == "a JSON object"
    assert preview(["x"] * 10_000) == "a JSON list"
    assert preview(10**100) == repr(10**100)[:80] + "..."


def test_utf8_bom_is_reported_clearly() -> None:
    record = json.dumps({"prompt": "q", "completion": "a"}).encode()
    report = _validate(b"\xef\xbb\xbf" + record + b"\n" + record + b"\n", "prompt_completion")
    assert _reasons(report) == [
        (
            1,
            "the file starts with a UTF-8 byte order mark (bytes EF BB BF); save the file as "
            "UTF-8 without a BOM",
        )
    ]


def test_lone_surrogate_is_rejected_and_a_pair_is_accepted() -> None:
    lone = b'{"prompt": "q", "completion": "bad \\ud800 here"}\n'
    low = b'{"prompt": "\\udc00", "completion": "a"}\n'
    pair = b'{"prompt": "smile \\ud83d\\ude00", "completion": "a"}\n'
    escaped = b'{"prompt": "a literal \\\\ud800", "completion": "a"}\n'
    report = _validate(lone + low + pair + escaped, "prompt_completion")
    suffix = " holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair), which is "
    assert _reasons(report) == [
        (1, f"$.completion{suffix}not valid Unicode"),
        (2, f"$.prompt{suffix}not valid Unicode"),
    ]


def test_lone_surrogate_path_walks_lists_and_keys_without_recursion() -> None:
    record = {"messages": [{"content": "ok"}, {"content": ["a", "\ud800"]}]}
    assert lone_surrogate_path(record) == "$.messages[1].content[1]"
    assert lone_surrogate_path({"\udfff": 1}) == "$ (a key)"
    deep: Any = "\ud800"
    for _ in range(10_000):
        deep = [deep]
    assert lone_surrogate_path(deep) == "$" + "[0]" * 10_000


def test_default_record_limit_applies_without_configuration() -> None:
    assert FileLimits().max_record_bytes == DEFAULT_MAX_RECORD_BYTES == 1024 * 1024
    big = json.dumps({"input": "x" * DEFAULT_MAX_RECORD_BYTES}).encode()
    report = _validate(big + b"\n", "continued_pretraining")
    assert _reasons(report) == [
        (1, f"record is {len(big)} bytes, more than the limit of {DEFAULT_MAX_RECORD_BYTES} bytes")
    ]


# -- the handlers on S3 --------------------------------------------------------------------------


def _config(**overrides: Any) -> bedrock.ValidatorConfig:
    settings: dict[str, Any] = {
        "dataset_bucket": DATASETS,
        "dataset_prefix": "finetune/",
        "report_bucket": ARTIFACTS,
        "report_prefix": "reports/",
        "output_prefix": "output/",
        "record_format": "messages",
        "limits": {"max_record_bytes": 262_144},  # the Claude 3 Haiku limit of the catalog
        "job_name_prefix": "ft",
        "ready_marker_name": "_READY",
        "max_reported_errors": 50,
    }
    settings.update(overrides)
    return bedrock.ValidatorConfig(**settings)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=DATASETS)
        client.create_bucket(Bucket=ARTIFACTS)
        yield client


def _read(s3: Any, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_20_records_with_a_200_kb_role_stay_far_under_the_state_limit(s3: Any) -> None:
    record = {"messages": [{"role": "x" * 200_000, "content": "Hi"}, CHAT_REPLY]}
    body = b"".join(json.dumps(record).encode() + b"\n" for _ in range(20))
    s3.put_object(Bucket=DATASETS, Key="finetune/big-role/train.jsonl", Body=body)
    output = bedrock.validate_dataset(
        {"trainingDataKey": "finetune/big-role/train.jsonl", "jobNameSuffix": "r1"}, _config(), s3
    )
    size = len(json.dumps(output).encode())
    assert size < STATE_OUTPUT_BOUND, f"the state output is {size} bytes"
    assert output["valid"] is False
    assert output["errorCount"] == 20
    assert len(output["errors"]) == bedrock.ERRORS_IN_OUTPUT
    assert all(len(e["reason"]) <= MAX_REASON_CHARS for e in output["errors"])
    every_error = _read(s3, output["errorsS3Uri"]).decode().splitlines()
    assert [json.loads(line)["line"] for line in every_error] == list(range(1, 21))
    assert len(_read(s3, output["reportS3Uri"])) < 64 * 1024


def test_the_errors_file_holds_every_error_beyond_the_report(s3: Any) -> None:
    s3.put_object(Bucket=DATASETS, Key="finetune/bad/train.jsonl", Body=b"not json\n" * 300)
    output = bedrock.validate_dataset(
        {"trainingDataKey": "finetune/bad/train.jsonl", "jobNameSuffix": "bad"}, _config(), s3
    )
    report = json.loads(_read(s3, output["reportS3Uri"]))
    assert report["errorCount"] == 300
    assert len(report["files"][0]["errors"]) == 50
    assert report["errorsS3Uri"] == output["errorsS3Uri"]
    lines = [json.loads(line) for line in _read(s3, output["errorsS3Uri"]).splitlines()]
    assert len(lines) == 300
    assert lines[299] == {
        "file": "finetune/bad/train.jsonl",
        "line": 300,
        "reason": "not valid JSON: Expecting value",
    }


def test_input_errors_echo_short_prefixes_only(s3: Any) -> None:
    key = "finetune/" + "k" * 5000
    output = bedrock.validate_dataset({"trainingDataKey": key}, _config(), s3)
    (error,) = output["errors"]
    assert error["reason"].startswith("dataset key 'finetune/kkkk")
    assert "longer than S3's 1024-byte key limit" in error["reason"]
    assert len(error["reason"]) < 200
    output = bedrock.validate_dataset(["not", "an", "object"], _config(), s3)  # type: ignore[arg-type]
    assert output["errors"][0]["reason"] == "the input must be a JSON object, got a JSON list"


# -- 30 lines of 15 MB through the open-model validator -----------------------------------------


class _HugeLines(io.RawIOBase):
    """``count`` JSONL lines of ``line_bytes`` each, generated on the fly."""

    def __init__(self, count: int, line_bytes: int) -> None:
        head = b'{"messages": [{"role": "user", "content": "'
        tail = b'"}]}\n'
        self._line = head + b"x" * (line_bytes - len(head) - len(tail)) + tail
        self._remaining = count * len(self._line)
        self._offset = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = min(size, self._remaining)
        out = bytearray()
        while len(out) < size:
            start = self._offset % len(self._line)
            piece = self._line[start : start + size - len(out)]
            out += piece
            self._offset += len(piece)
        self._remaining -= size
        return bytes(out)


class _FakeS3:
    """Just enough of an S3 client for the validator: one generated object, put_object."""

    def __init__(self, body: io.RawIOBase, length: int) -> None:
        self._body = body
        self._length = length
        self.objects: dict[str, bytes] = {}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3 names
        return {"Body": self._body, "ContentLength": self._length}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:  # noqa: N803
        self.objects[Key] = Body


def test_30_lines_of_15_mb_stay_bounded_in_memory_and_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line_bytes, count = 15 * 1000 * 1000, 30
    fake = _FakeS3(_HugeLines(count, line_bytes), count * line_bytes)
    config = _config(record_format="chat", limits={}, max_validation_files=1)
    tracemalloc.start()
    try:
        output = open_model.validate_for_training_job(
            {"trainingDataKey": "finetune/huge/train.jsonl", "jobNameSuffix": "huge"},
            config,
            fake,
            checkpoint_prefix="checkpoints/",
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert len(json.dumps(output).encode()) < STATE_OUTPUT_BOUND
    assert output["errorCount"] == count
    assert output["errors"][0] == {
        "file": "finetune/huge/train.jsonl",
        "line": 1,
        "reason": f"record is {line_bytes - 1} bytes, more than the limit of 1048576 bytes",
    }
    assert all(len(body) < 64 * 1024 for body in fake.objects.values())
