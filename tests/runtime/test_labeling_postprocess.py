"""The Ground Truth Lambdas of LabelingWorkforce on realistic output (moto S3).

Fixtures in ``fixtures/`` follow the documented output-manifest format of a custom labeling
workflow: each input line plus ``<label-attribute>`` holding ``annotationsFromAllWorkers``
(what the consolidation Lambda returns: ``workerId`` and ``annotationData.content``, a JSON
string of the worker's form) and ``<label-attribute>-metadata`` (``groundtruth/custom``).
Failed items carry only the metadata with a ``failure-reason``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime.labeling_postprocess import (
    consolidation_handler,
    convert,
    convert_handler,
    parse_preference,
    parse_score,
    pre_annotation_handler,
    split_s3_uri,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FIXTURES = Path(__file__).parent / "fixtures"
LABEL = "llm-labels"
OUTPUT_BUCKET = "curated-zone"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("DATASET_BUCKET", OUTPUT_BUCKET)
    monkeypatch.setenv("DATASET_PREFIX", "labeling/datasets/")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=OUTPUT_BUCKET)
        yield client


def put_manifest(s3: S3Client, name: str, job: str) -> str:
    key = f"labeling/output/{job}/manifests/output/output.manifest"
    s3.put_object(Bucket=OUTPUT_BUCKET, Key=key, Body=(FIXTURES / name).read_bytes())
    return f"s3://{OUTPUT_BUCKET}/{key}"


def read(s3: S3Client, key: str) -> bytes:
    return s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()


# -- the acceptance case: 3-worker preference output -> DPO JSONL + agreement report -----

EXPECTED_DPO = [
    {
        "prompt": "The user is a beginner.\n\nHow do I reverse a list in Python?",
        "chosen": (
            "Use my_list.reverse() to reverse in place, or my_list[::-1] for a reversed copy."
        ),
        "rejected": "Lists cannot be reversed.",
    },
    {
        "prompt": "Translate 'good morning' to French.",
        "chosen": "Bonjour.",
        "rejected": "Bonne nuit.",
    },
    {
        "prompt": "Give one tip for better sleep.",
        "chosen": "Keep a regular bedtime, even at weekends.",
        "rejected": "Drink coffee late at night.",
    },
    {
        "prompt": "Convert 5 km to miles.",
        "chosen": "5 km is about 3.1 miles.",
        "rejected": "5 km is 8 miles.",
    },
]


def test_three_worker_preference_manifest_becomes_dpo_jsonl_and_report(s3: S3Client) -> None:
    job = "dpo-pairs-2026-11-20"
    uri = put_manifest(s3, "preference_output.manifest", job)
    result = convert_handler(
        {
            "task_type": "preference",
            "job_name": job,
            "output_manifest_uri": uri,
            "label_attribute_name": LABEL,
            "sft_format": "prompt_completion",
        },
        s3=s3,
    )
    base = f"labeling/datasets/{job}/"
    assert result["dataset_uri"] == f"s3://{OUTPUT_BUCKET}/{base}train.jsonl"
    assert result["report_uri"] == f"s3://{OUTPUT_BUCKET}/{base}report.json"

    jsonl = read(s3, f"{base}train.jsonl").decode()
    assert [json.loads(row) for row in jsonl.splitlines()] == EXPECTED_DPO

    report = json.loads(read(s3, f"{base}report.json"))
    assert report["items"] == 9
    assert report["pairs"] == 4
    assert report["dropped_ties"] == 3  # p3 (A/B/tie), p4 (tie verdict), p8 (A vs B)
    assert report["agreement"] == {
        "items_with_2_or_more_votes": 7,
        "mean_majority_share": 0.7381,  # (2/3 + 1 + 1/3 + 2/3 + 1 + 1/2 + 1) / 7
        "pairwise_agreement": 0.5294,  # 9 agreeing worker pairs of 17
        "unanimous_items": 3,
    }
    assert report["problem_count"] == 5
    problems = {(p["item"], p["problem"]) for p in report["problems"]}
    assert problems == {
        ("p5", "worker answer is not valid JSON"),
        (
            "p6",
            "no annotations for 'llm-labels': ClientError: The task expired before a worker "
            "submitted it.",
        ),
        (None, "malformed JSON line: Unterminated string starting at"),
        ("p8", "no valid preference"),
        ("p9", "no worker answers"),
    }
    malformed = next(p for p in report["problems"] if p["item"] is None)
    assert malformed["line"] == 7
    p5 = next(p for p in report["problems"] if p["item"] == "p5")
    assert p5["worker"] == "private.us-east-1.a83e6b0c91f24d7e"
    assert "problems" not in result["summary"]
    assert result["summary"]["problem_count"] == 5


# -- SFT ---------------------------------------------------------------------------------


def test_sft_prompt_completion_keeps_every_valid_demonstration() -> None:
    result = convert(lines("sft_output.manifest"), task_type="sft", label_attribute=LABEL)
    assert result.rows == [
        {
            "prompt": "Explain what a learning rate is.",
            "completion": "The learning rate sets how big a step the optimizer takes on each "
            "update.",
        },
        {
            "prompt": "Explain what a learning rate is.",
            "completion": "It scales each gradient step: too high diverges, too low crawls.",
        },
        {
            "prompt": "Keep it to one line.\n\nList two uses of embeddings.",
            "completion": "Semantic search and clustering.",
        },
    ]
    assert result.report["items"] == 3
    assert result.report["items_with_examples"] == 2
    assert [(p["item"], p["problem"]) for p in result.report["problems"]] == [
        ("s1", "empty response"),
        ("s3", "no annotations for 'llm-labels': ClientError: Annotation consolidation failed."),
    ]


def test_sft_conversation_format_uses_the_bedrock_conversation_schema() -> None:
    result = convert(
        lines("sft_output.manifest"),
        task_type="sft",
        label_attribute=LABEL,
        sft_format="conversation",
    )
    assert result.rows[0] == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You are a patient ML tutor."}],
        "messages": [
            {"role": "user", "content": [{"text": "Explain what a learning rate is."}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "text": "The learning rate sets how big a step the optimizer takes "
                        "on each update."
                    }
                ],
            },
        ],
    }
    assert "system" not in result.rows[2]
    assert len(result.rows) == 3


# -- rating ------------------------------------------------------------------------------


def test_rating_manifest_becomes_a_score_table(s3: S3Client) -> None:
    job = "eval-ratings-2026-11-20"
    uri = put_manifest(s3, "rating_output.manifest", job)
    result = convert_handler(
        {
            "task_type": "rating",
            "job_name": job,
            "output_manifest_uri": uri,
            "label_attribute_name": LABEL,
        },
        s3=s3,
    )
    assert result["dataset_uri"].endswith(f"/labeling/datasets/{job}/scores.csv")
    table = list(
        csv.DictReader(io.StringIO(read(s3, f"labeling/datasets/{job}/scores.csv").decode()))
    )
    assert table == [
        {"id": "r1", "ratings": "3", "mean": "4.333", "median": "4", "min": "4", "max": "5",
         "scores": "4 5 4"},
        {"id": "r2", "ratings": "2", "mean": "2.5", "median": "2.5", "min": "2", "max": "3",
         "scores": "2 3"},
    ]  # fmt: skip
    summary = result["summary"]
    assert summary["scored_items"] == 2
    assert summary["mean_score"] == 3.6  # (4 + 5 + 4 + 2 + 3) / 5
    assert summary["score_distribution"] == {"1": 0, "2": 1, "3": 1, "4": 2, "5": 1}
    report = json.loads(read(s3, f"labeling/datasets/{job}/report.json"))
    assert [(p["item"], p["problem"]) for p in report["problems"]] == [
        ("r2", "no valid 1-5 score"),
        ("r3", "no valid 1-5 score"),
        ("r3", "no usable score"),
    ]


# -- answer parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"preference": "A"}, "A"),
        ({"preference": "b"}, "B"),
        ({"preference": "Tie"}, "tie"),
        ({"preference": {"label": "Response 1"}}, "A"),
        ({"preference": {"A": {"on": False}, "B": {"on": True}}}, "B"),
        ({"preference": {"A": {"on": True}, "B": {"on": True}}}, None),
        ({"preference": "C"}, None),
        ({"rationale": "no choice"}, None),
    ],
)
def test_parse_preference(answer: dict[str, Any], expected: str | None) -> None:
    assert parse_preference(answer) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [({"score": "3"}, 3), ({"score": 5}, 5), ({"score": "0"}, None), ({"score": "x"}, None),
     ({"score": {"value": 2}}, 2), ({}, None)],
)  # fmt: skip
def test_parse_score(answer: dict[str, Any], expected: int | None) -> None:
    assert parse_score(answer) == expected


# -- Ground Truth pre-annotation and consolidation ------------------------------------------


def test_pre_annotation_maps_a_manifest_line_to_task_input() -> None:
    event = {
        "version": "2018-10-16",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/dpo",
        "dataObject": {
            "source": "Prompt text",
            "id": "p1",
            "response_a": "A text",
            "response_b": "B text",
            "criteria": "Be correct",
            "unrelated": "dropped",
        },
    }
    assert pre_annotation_handler(event) == {
        "taskInput": {
            "prompt": "Prompt text",
            "id": "p1",
            "response_a": "A text",
            "response_b": "B text",
            "criteria": ["Be correct"],
        },
        "isHumanAnnotationRequired": "true",
    }


def test_pre_annotation_skips_lines_without_a_prompt() -> None:
    result = pre_annotation_handler({"dataObject": {"source-ref": "s3://bucket/image.png"}})
    assert result == {"taskInput": {}, "isHumanAnnotationRequired": "false"}


def test_consolidation_keeps_all_answers_and_round_trips_through_the_converter(
    s3: S3Client,
) -> None:
    payload: list[dict[str, Any]] = [
        {
            "datasetObjectId": "0",
            "dataObject": {"content": '{"source": "Q", "response_a": "good", "response_b": "bad"}'},
            "annotations": [
                {"workerId": "private.us-east-1.w1",
                 "annotationData": {"content": '{"preference":"A","rationale":"r"}'}},
                {"workerId": "private.us-east-1.w2",
                 "annotationData": {"content": '{"preference":"A","rationale":"r"}'}},
            ],
        },
        {"datasetObjectId": "1", "dataObject": {"content": "{}"}, "annotations": []},
    ]  # fmt: skip
    key = "labeling/output/job/annotations/consolidated-annotation/consolidation-request/x.json"
    s3.put_object(Bucket=OUTPUT_BUCKET, Key=key, Body=json.dumps(payload).encode())
    event = {
        "version": "2018-10-16",
        "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/job",
        "labelAttributeName": LABEL,
        "roleArn": "arn:aws:iam::111122223333:role/labeling",
        "payload": {"s3Uri": f"s3://{OUTPUT_BUCKET}/{key}"},
    }
    result = consolidation_handler(event, s3=s3)
    assert [r["datasetObjectId"] for r in result] == ["0", "1"]
    content = result[0]["consolidatedAnnotation"]["content"]
    assert content[LABEL]["annotationsFromAllWorkers"] == payload[0]["annotations"]
    assert result[1]["consolidatedAnnotation"]["content"] == {
        LABEL: {"annotationsFromAllWorkers": []}
    }
    # What Ground Truth then writes: the input line plus the consolidated label.
    line = {"source": "Q", "response_a": "good", "response_b": "bad", **content}
    converted = convert([json.dumps(line)], task_type="preference", label_attribute=LABEL)
    assert converted.rows == [{"prompt": "Q", "chosen": "good", "rejected": "bad"}]


# -- validation --------------------------------------------------------------------------


def test_fails_unknown_task_type() -> None:
    with pytest.raises(
        ValueError, match=r"^task_type 'ner' is not one of sft, preference, rating$"
    ):
        convert([], task_type="ner", label_attribute=LABEL)


def test_fails_unknown_sft_format() -> None:
    with pytest.raises(
        ValueError, match=r"^sft_format 'chatml' is not one of prompt_completion, conversation$"
    ):
        convert([], task_type="sft", label_attribute=LABEL, sft_format="chatml")


def test_fails_bad_s3_uri() -> None:
    with pytest.raises(
        ValueError, match=r"^not an S3 object URI: 'https://x/y' \(expected s3://bucket/key\)$"
    ):
        split_s3_uri("https://x/y")
