"""The labeling converter on hostile and large output manifests: bounded lines, streamed
multipart output, every defect a reported problem, named errors a workflow can Catch.

Small inputs here; the 500 MB manifest and the 50 MB line are measured by
``scripts/measure_labeling_converter.py``."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import labeling_postprocess as lp
from cdk_llm_training.assets.runtime.s3_writer import MIN_PART_BYTES, S3StreamWriter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LABEL = "llm-labels"
BUCKET = "curated-zone"
JOB = "sft-job-1"


def _line(source: Any, *answers: Any, **extra: Any) -> str:
    annotations = [
        {"workerId": f"w{n}", "annotationData": {"content": json.dumps(a)}}
        for n, a in enumerate(answers, start=1)
    ]
    record = {"source": source, LABEL: {"annotationsFromAllWorkers": annotations}, **extra}
    return json.dumps(record)


def _problems(conversion: lp.Conversion) -> list[tuple[int, str | None, str]]:
    return [(p["line"], p["item"], p["problem"]) for p in conversion.report["problems"]]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("DATASET_BUCKET", BUCKET)
    monkeypatch.setenv("DATASET_PREFIX", "labeling/datasets/")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _put_manifest(s3: S3Client, body: bytes) -> str:
    key = f"labeling/output/{JOB}/manifests/output/output.manifest"
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def _event(uri: str, **overrides: Any) -> dict[str, Any]:
    return {
        "task_type": "sft",
        "job_name": JOB,
        "output_manifest_uri": uri,
        "label_attribute_name": LABEL,
        "sft_format": "prompt_completion",
        **overrides,
    }


def _keys(s3: S3Client) -> set[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"labeling/datasets/{JOB}/")
    return {o["Key"].rsplit("/", 1)[1] for o in listed.get("Contents", [])}


# -- bounded line reading ------------------------------------------------------------------------


def test_manifest_lines_never_buffer_an_oversized_line() -> None:
    body = io.BytesIO(b"a" * 100 + b"\n" + b"b" * 5000 + b"\n" + b"c\n")
    lines = list(lp.manifest_lines(body, max_line_bytes=1000, chunk_bytes=64))
    assert [(line.number, line.length) for line in lines] == [(1, 100), (2, 5000), (3, 1)]
    assert lines[1].data is None
    assert lines[0].data == b"a" * 100


def test_an_oversized_line_is_a_problem_and_the_rest_converts() -> None:
    good = _line("Q", {"response": "A"}).encode()
    big = _line("Q" * 5000, {"response": "A"}).encode()
    lines = lp.manifest_lines(
        io.BytesIO(good + b"\n" + big + b"\n" + good + b"\n"), max_line_bytes=1000
    )
    conversion = lp.convert(lines, task_type="sft", label_attribute=LABEL, max_line_bytes=1000)
    assert len(conversion.rows) == 2
    assert _problems(conversion) == [
        (2, None, f"line is {len(big)} bytes, more than the limit of 1000 bytes")
    ]


# -- every defect is a problem, never an exception -------------------------------------------


def test_malformed_annotations_nested_json_and_bad_bytes_are_problems() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    lines: list[str | bytes] = [
        _line("Q1", {"response": "fine"}),
        json.dumps({"source": "Q2", LABEL: {"annotationsFromAllWorkers": ["not an object", 7]}}),
        json.dumps(
            {"source": "Q3", LABEL: {"annotationsFromAllWorkers": [{"annotationData": "x"}]}}
        ),
        json.dumps(
            {
                "source": "Q4",
                LABEL: {
                    "annotationsFromAllWorkers": [
                        {"workerId": "w1", "annotationData": {"content": deep}}
                    ]
                },
            }
        ),
        deep,
        b'{"source": "caf\xe9"}',
        '{"source": "lone \\ud800"}',
        json.dumps({"source": {"nested": "dict"}, "id": {"an": "object"}, LABEL: "text"}),
        _line({"not": "a string"}, {"response": "A"}),
        _line("Q10", {"response": "A"}, system=["not", "a", "string"]),
    ]
    conversion = lp.convert(lines, task_type="sft", label_attribute=LABEL)
    assert conversion.rows == [{"prompt": "Q1", "completion": "fine"}]
    assert _problems(conversion) == [
        (2, "line-2", "annotation 1 is not an object"),
        (2, "line-2", "annotation 2 is not an object"),
        (3, "line-3", "worker answer is missing"),
        (4, "line-4", "worker answer is not valid JSON"),
        (5, None, "malformed JSON line: nested too deeply for the JSON decoder"),
        (6, None, "not valid UTF-8 (byte 16 of the line)"),
        (7, None, "$.source holds a lone UTF-16 surrogate escape (not valid Unicode)"),
        (8, "line-8", "no annotations for 'llm-labels'"),
        (9, "line-9", "no prompt ('source' must be a non-empty string)"),
        (10, "line-10", "'system' must be a string"),
    ]


def test_problem_text_from_the_manifest_is_shortened() -> None:
    huge_id = "i" * 10_000
    reason = "r" * 10_000
    line = json.dumps(
        {"source": "Q", "id": huge_id, f"{LABEL}-metadata": {"failure-reason": reason}}
    )
    conversion = lp.convert([line], task_type="sft", label_attribute=LABEL)
    (problem,) = conversion.report["problems"]
    assert problem["item"] == "i" * lp.MAX_ID_CHARS + "..."
    assert len(problem["problem"]) <= lp.MAX_PROBLEM_CHARS


def test_answers_of_the_wrong_type_are_not_votes_or_scores() -> None:
    deep: Any = 1
    for _ in range(10_000):
        deep = {"value": deep}
    assert lp.parse_score({"score": deep}) is None
    assert lp.parse_score({"score": True}) is None
    assert lp.parse_score({"score": "9" * 5000}) is None
    assert lp.parse_preference({"preference": ["A"]}) is None
    assert lp.parse_preference({"preference": "A" * 1000}) is None


def test_report_keeps_the_first_problems_and_the_sink_gets_them_all() -> None:
    seen: list[lp.Problem] = []
    problems = lp.ProblemLog(keep=2, sink=seen.append)
    report: dict[str, Any] = {}
    rows = list(
        lp.convert_rows(
            ["not json"] * 5,
            task_type="rating",
            label_attribute=LABEL,
            problems=problems,
            report=report,
        )
    )
    assert rows == []
    assert problems.count == 5
    assert [p.line for p in problems.kept] == [1, 2]
    assert [p.line for p in seen] == [1, 2, 3, 4, 5]
    assert report["items"] == 0


# -- inputs checked before any paid job ---------------------------------------------------------


def test_validate_inputs_lists_every_problem() -> None:
    assert lp.validate_inputs({"task_type": "sft", "job_name": "sft-1"}) == []
    problems = lp.validate_inputs(
        {
            "task_type": "ner",
            "job_name": "bad name!",
            "sft_format": "chatml",
            "workers_per_object": 12,
            "max_concurrent_tasks": "5",
            "task_time_limit_seconds": True,
            "title": "t" * 200,
            "manifest_key": 3,
        }
    )
    assert problems == [
        "task_type 'ner' is not one of sft, preference, rating",
        "job_name 'bad name!' must be 1-63 letters, digits and hyphens, starting and ending "
        "with a letter or digit",
        "sft_format 'chatml' is not one of prompt_completion, conversation",
        "manifest_key 3 must be a non-empty string",
        "workers_per_object 12 must be an integer from 1 to 9",
        "task_time_limit_seconds True must be an integer >= 30",
        "max_concurrent_tasks '5' must be an integer from 1 to 5000",
        f"title {'t' * 80!r}... (200 characters) must be a string of 1-128 characters",
    ]
    assert lp.validate_inputs([]) == ["the input must be a JSON object, got a JSON list"]  # type: ignore[arg-type]


def test_input_check_handler_gives_a_bounded_verdict() -> None:
    assert lp.input_check_handler({"task_type": "rating", "job_name": "r1"}) == {
        "valid": True,
        "problemCount": 0,
        "problems": [],
    }
    verdict = lp.input_check_handler({"task_type": "x" * 100_000})
    assert verdict["valid"] is False
    assert verdict["problemCount"] == 2
    assert len(json.dumps(verdict)) < 2000


def test_a_misspelt_sft_format_fails_before_the_manifest_is_read(s3: S3Client) -> None:
    with pytest.raises(lp.LabelingInputError, match=r"sft_format 'promt_completion' is not"):
        lp.convert_handler(
            _event("s3://curated-zone/missing", sft_format="promt_completion"), s3=s3
        )
    assert _keys(s3) == set()


# -- streaming output and the end states --------------------------------------------------------


def test_the_dataset_is_written_in_multipart_chunks(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lp, "OUTPUT_PART_BYTES", MIN_PART_BYTES)
    answer = "a" * 20_000
    lines = [_line(f"Q{n}", {"response": answer}, id=f"i{n}") for n in range(600)]
    uri = _put_manifest(s3, ("\n".join(lines) + "\n").encode())
    calls: list[str] = []
    for name in ("put_object", "create_multipart_upload", "upload_part"):
        original = getattr(s3, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(s3, name, spy)
    result = lp.convert_handler(_event(uri), s3=s3)
    assert calls.count("create_multipart_upload") == 1
    assert calls.count("upload_part") == 3  # 12.0 MB of JSONL in 5 MiB parts
    body = s3.get_object(Bucket=BUCKET, Key=f"labeling/datasets/{JOB}/train.jsonl")["Body"]
    rows = [json.loads(line) for line in body.iter_lines()]
    assert len(rows) == 600
    assert rows[599] == {"prompt": "Q599", "completion": answer}
    assert result["summary"]["examples"] == 600
    assert result["problems_uri"] == f"s3://{BUCKET}/labeling/datasets/{JOB}/problems.jsonl"


def test_writer_rejects_parts_below_the_s3_minimum_and_aborts_on_error(s3: S3Client) -> None:
    with pytest.raises(ValueError, match="below S3's minimum part size"):
        S3StreamWriter(s3, BUCKET, "k", part_bytes=1024)
    writer = S3StreamWriter(s3, BUCKET, "partial", part_bytes=MIN_PART_BYTES)

    def fail_half_way() -> None:
        with writer:
            writer.write(b"x" * (MIN_PART_BYTES + 1))
            assert writer.parts_uploaded == 1
            raise RuntimeError("failed half-way")

    with pytest.raises(RuntimeError, match="failed half-way"):
        fail_half_way()
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="partial")


def test_an_empty_manifest_raises_no_examples_after_writing_the_report(s3: S3Client) -> None:
    uri = _put_manifest(s3, b"")
    with pytest.raises(lp.NoExamplesError, match=r"gave 0 sft examples \(0 items, 0 problems\)"):
        lp.convert_handler(_event(uri), s3=s3)
    assert _keys(s3) == {"report.json", "problems.jsonl"}
    report = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"labeling/datasets/{JOB}/report.json")["Body"].read()
    )
    assert report["examples"] == 0


def test_every_item_unusable_raises_no_examples_and_lists_the_problems(s3: S3Client) -> None:
    body = b"\n".join([b"{broken", b"\xff\xfe", _line("Q", {"score": "9"}).encode()]) + b"\n"
    uri = _put_manifest(s3, body)
    with pytest.raises(lp.NoExamplesError, match=r"0 rating examples \(1 items, 4 problems\)"):
        lp.convert_handler(_event(uri, task_type="rating"), s3=s3)
    problems = s3.get_object(Bucket=BUCKET, Key=f"labeling/datasets/{JOB}/problems.jsonl")
    listed = [json.loads(line)["problem"] for line in problems["Body"].iter_lines()]
    assert listed == [
        "malformed JSON line: Expecting property name enclosed in double quotes",
        "not valid UTF-8 (byte 1 of the line)",
        "no valid 1-5 score",
        "no usable score",
    ]
    assert "scores.csv" not in _keys(s3)


def test_the_result_stays_small_whatever_the_manifest_holds(s3: S3Client) -> None:
    lines = [_line("Q", {"response": "A"})] + ["x" * 50_000] * 200
    uri = _put_manifest(s3, ("\n".join(lines) + "\n").encode())
    result = lp.convert_handler(_event(uri), s3=s3)
    assert result["summary"]["problem_count"] == 200
    assert len(result["summary"]["first_problems"]) == lp.PROBLEMS_IN_OUTPUT
    assert len(json.dumps(result)) < 4096


def test_the_converter_imports_as_lambda_loads_it_without_cdk_or_pydantic() -> None:
    """Lambda imports ``labeling_postprocess`` from the runtime folder as the code root: it
    must find its sibling modules there and never need aws_cdk or pydantic."""
    import subprocess
    import sys
    from pathlib import Path

    from cdk_llm_training.assets import runtime

    probe = (
        "import sys, json\n"
        "import labeling_postprocess as lp\n"
        "print(json.dumps({'reader': lp.iter_lines.__module__,\n"
        "  'writer': lp.S3StreamWriter.__module__,\n"
        "  'heavy': sorted(m for m in ('aws_cdk', 'pydantic', 'cdk_llm_training')\n"
        "                  if m in sys.modules)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(runtime.__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == {
        "reader": "dataset_validation",
        "writer": "s3_writer",
        "heavy": [],
    }


def test_one_write_larger_than_a_part_is_sliced_into_parts(s3: S3Client) -> None:
    data = bytes(range(256)) * (12 * 1024 * 1024 // 256 + 7)  # 12 MiB and a bit
    with S3StreamWriter(s3, BUCKET, "big", part_bytes=MIN_PART_BYTES) as writer:
        writer.write(b"head")
        writer.write(data)
    assert writer.parts_uploaded == 3
    assert writer.bytes_written == len(data) + 4
    assert s3.get_object(Bucket=BUCKET, Key="big")["Body"].read() == b"head" + data
