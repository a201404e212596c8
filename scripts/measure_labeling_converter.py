"""Measure the labeling converter Lambda on a large output manifest (figures, not a gate).

The manifest is generated on the fly and served by an in-process stand-in for the S3 client
(``get_object`` streams it, the upload calls count what they receive), so the figures are the
converter's own: nothing holds the whole input or output. Run it under ``/usr/bin/time -v``
for the peak resident set size as the operating system sees it; the script also prints its
own ``ru_maxrss``.

Examples::

    python scripts/measure_labeling_converter.py --manifest-mb 500
    python scripts/measure_labeling_converter.py --line-mb 50 --task sft
    /usr/bin/time -v python scripts/measure_labeling_converter.py --manifest-mb 500
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Import the handler as Lambda does: the runtime folder is the code root (no package, so
# neither aws_cdk nor the library is loaded and the figures are the Lambda's own).
sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "src" / "cdk_llm_training" / "assets" / "runtime")
)

import labeling_postprocess  # type: ignore[import-not-found]

LABEL = "llm-labels"
MB = 1000 * 1000


def _annotation(worker: int, answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "workerId": f"private.us-east-1.worker{worker}",
        "annotationData": {"content": json.dumps(answer)},
    }


PAYLOAD = "@@PAYLOAD@@"
PIECE_BYTES = 1024 * 1024


def manifest_line_parts(task: str, number: int) -> list[bytes]:
    """One output-manifest line of ``task``, split where answer text goes (``PAYLOAD``
    marks it; the generator streams the text there, so even a 50 MB line is never built
    here as a whole)."""
    if task == "sft":
        record: dict[str, Any] = {
            "id": f"item-{number}",
            "source": f"Question {number}?",
            LABEL: {"annotationsFromAllWorkers": [_annotation(1, {"response": PAYLOAD})]},
        }
    elif task == "preference":
        record = {
            "id": f"item-{number}",
            "source": f"Question {number}?",
            "response_a": PAYLOAD,
            "response_b": PAYLOAD,
            LABEL: {
                "annotationsFromAllWorkers": [
                    _annotation(w, {"preference": "A", "rationale": "clearer"}) for w in (1, 2, 3)
                ]
            },
        }
    else:
        record = {
            "id": f"item-{number}",
            "source": f"Question {number}? {PAYLOAD}",
            LABEL: {
                "annotationsFromAllWorkers": [
                    _annotation(w, {"score": str(1 + (number + w) % 5)}) for w in (1, 2, 3)
                ]
            },
        }
    record[f"{LABEL}-metadata"] = {"type": "groundtruth/custom", "job-name": "bench"}
    return [part.encode() for part in (json.dumps(record) + "\n").split(PAYLOAD)]


def line_bytes(task: str, payload_bytes: int) -> int:
    parts = manifest_line_parts(task, 0)
    return sum(map(len, parts)) + (len(parts) - 1) * payload_bytes


class GeneratedManifest(io.RawIOBase):
    """``lines`` manifest lines made on demand, each with ``payload_bytes`` of answer text
    in each answer field (in 1 MiB pieces): the manifest never exists as a whole."""

    def __init__(self, task: str, lines: int, payload_bytes: int) -> None:
        self._pieces = self._generate(task, lines, payload_bytes)
        self._buffer = bytearray()
        self.bytes_served = 0

    @staticmethod
    def _generate(task: str, lines: int, payload_bytes: int) -> Iterator[bytes]:
        for number in range(lines):
            parts = manifest_line_parts(task, number)
            for index, part in enumerate(parts):
                yield part
                if index < len(parts) - 1:
                    for offset in range(0, payload_bytes, PIECE_BYTES):
                        yield b"t" * min(PIECE_BYTES, payload_bytes - offset)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self.bytes_served += len(data)
        return data


class CountingS3:
    """The S3 calls the converter makes; uploads are counted, not kept."""

    def __init__(self, body: GeneratedManifest) -> None:
        self._body = body
        self.uploaded: dict[str, dict[str, int]] = {}

    def _count(self, key: str, body: bytes) -> None:
        entry = self.uploaded.setdefault(key, {"bytes": 0, "lines": 0, "requests": 0})
        entry["bytes"] += len(body)
        entry["lines"] += body.count(b"\n")
        entry["requests"] += 1

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3 names
        return {"Body": self._body}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:  # noqa: N803
        self._count(Key, Body)
        return {}

    def create_multipart_upload(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        return {"UploadId": f"upload-{Key}"}

    def upload_part(self, Bucket: str, Key: str, Body: bytes, PartNumber: int, **_: Any) -> Any:  # noqa: N803
        self._count(Key, Body)
        return {"ETag": f'"{PartNumber}"'}

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}

    def abort_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--manifest-mb", type=float, help="manifest size in MB (1 MB = 10^6 B)")
    size.add_argument("--line-mb", type=float, help="one item whose line is this many MB")
    parser.add_argument("--task", choices=("sft", "preference", "rating"), default="preference")
    parser.add_argument(
        "--payload-bytes",
        type=int,
        default=600,
        help="text per answer field of a line (--manifest-mb; default: about 1.5 KB lines)",
    )
    args = parser.parse_args(argv)

    if args.line_mb is not None:
        fields = len(manifest_line_parts(args.task, 0)) - 1
        payload, lines = int(args.line_mb * MB) // fields, 1
    else:
        payload = args.payload_bytes
        lines = max(1, int(args.manifest_mb * MB) // line_bytes(args.task, payload))
    body = GeneratedManifest(args.task, lines, payload)
    s3 = CountingS3(body)
    os.environ.setdefault("DATASET_BUCKET", "bench-bucket")
    os.environ.setdefault("DATASET_PREFIX", "labeling/datasets/")
    event = {
        "task_type": args.task,
        "job_name": "bench",
        "output_manifest_uri": "s3://bench-bucket/labeling/output/bench/output.manifest",
        "label_attribute_name": LABEL,
        "sft_format": "prompt_completion",
    }
    start = time.perf_counter()
    result = labeling_postprocess.convert_handler(event, s3=s3)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    figures = {
        "task": args.task,
        "manifest_bytes": body.bytes_served,
        "manifest_lines": lines,
        "seconds": round(seconds, 2),
        "mb_per_second": round(body.bytes_served / MB / seconds, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "examples": {
            k: v for k, v in result["summary"].items() if k in ("examples", "pairs", "scored_items")
        },
        "problem_count": result["summary"]["problem_count"],
        "uploads": s3.uploaded,
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
