"""Measure a dataset validator Lambda on oversized records (figures, not a gate).

A JSONL file of ``--lines`` records of ``--line-mb`` MB each is generated on the fly and
served by an in-process stand-in for the S3 client; the open-model (SageMaker) validator
runs on it with its default record limit, as the Lambda would. Prints the time, the peak
resident set size (``ru_maxrss``) and the size of the Lambda response; run it under
``/usr/bin/time -v`` for the operating system's view.

Example::

    /usr/bin/time -v python scripts/measure_dataset_validator.py --lines 30 --line-mb 15
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

# Import the handler as Lambda does: the runtime folder is the code root (no package, so
# neither aws_cdk nor the library is loaded and the figures are the Lambda's own).
sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "src" / "cdk_llm_training" / "assets" / "runtime")
)

from bedrock_dataset_validator import ValidatorConfig  # type: ignore[import-not-found]
from open_model_dataset_validator import (  # type: ignore[import-not-found]
    validate_for_training_job,
)

MB = 1000 * 1000


class RepeatedLines(io.RawIOBase):
    """``count`` chat records of ``line_bytes`` bytes each (newline included), made on the
    fly: the file never exists as a whole."""

    def __init__(self, count: int, line_bytes: int) -> None:
        head = b'{"messages": [{"role": "user", "content": "'
        tail = b'"}, {"role": "assistant", "content": "ok"}]}\n'
        self.line = head + b"x" * (line_bytes - len(head) - len(tail)) + tail
        self.size = count * len(self.line)
        self._offset = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = min(size if size >= 0 else self.size, self.size - self._offset)
        out = bytearray()
        while len(out) < size:
            start = (self._offset + len(out)) % len(self.line)
            out += self.line[start : start + size - len(out)]
        self._offset += size
        return bytes(out)


class FakeS3:
    """``get_object`` streams the generated file; ``put_object`` keeps the report sizes."""

    def __init__(self, body: RepeatedLines) -> None:
        self._body = body
        self.put_sizes: dict[str, int] = {}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3 names
        return {"Body": self._body, "ContentLength": self._body.size}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:  # noqa: N803
        self.put_sizes[Key] = len(Body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=30, help="records in the file")
    parser.add_argument("--line-mb", type=float, default=15.0, help="bytes per record, in MB")
    parser.add_argument(
        "--limits", default="{}", help="the validator's LIMITS JSON (default: none set)"
    )
    args = parser.parse_args(argv)
    body = RepeatedLines(args.lines, int(args.line_mb * MB))
    s3 = FakeS3(body)
    config = ValidatorConfig(
        dataset_bucket="datasets",
        dataset_prefix="finetune/",
        report_bucket="artifacts",
        report_prefix="reports/",
        output_prefix="output/",
        record_format="chat",
        limits=json.loads(args.limits),
        job_name_prefix="lora",
        ready_marker_name="_READY",
        max_reported_errors=50,
        max_validation_files=1,
    )
    start = time.perf_counter()
    output = validate_for_training_job(
        {"trainingDataKey": "finetune/huge/train.jsonl", "jobNameSuffix": "huge"},
        config,
        s3,
        checkpoint_prefix="checkpoints/",
    )
    seconds = time.perf_counter() - start
    figures = {
        "file_bytes": body.size,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "response_bytes": len(json.dumps(output).encode()),
        "error_count": output["errorCount"],
        "first_error": output["errors"][0] if output["errors"] else None,
        "s3_objects_written": s3.put_sizes,
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
