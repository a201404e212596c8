"""Report aggregation: Bedrock evaluation output and human ratings (moto S3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import evaluation_report as er

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FIXTURES = Path(__file__).parent / "fixtures"
OUT = "s3://artifacts/evaluation/bedrock-output"

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 coders, 12 units,
# missing values left out. Published: nominal 0.743, ordinal 0.815, interval 0.849.
RELIABILITY_DATA = [
    [1, 1, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [5, 5, 5], [1, 1], [3],
]  # fmt: skip


@pytest.mark.parametrize(
    ("metric", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_krippendorff_alpha_matches_published_values(metric: Any, expected: float) -> None:
    assert er.krippendorff_alpha(RELIABILITY_DATA, metric=metric) == pytest.approx(
        expected, abs=0.001
    )


def test_alpha_edge_cases() -> None:
    assert er.krippendorff_alpha([[1, 1], [5, 5], [3, 3]]) == 1.0
    assert er.krippendorff_alpha([[4, 4], [4, 4]]) is None  # no variation
    assert er.krippendorff_alpha([[4], [5]]) is None  # nothing pairable
    assert er.pairwise_agreement([[4, 4, 5], [2, 2]]) == pytest.approx(2 / 4)


def test_thresholds_respect_direction() -> None:
    failures = er.check_thresholds(
        {"Builtin.Correctness": 0.6, "Builtin.Harmfulness": 0.2},
        min_scores={"Builtin.Correctness": 0.7, "Builtin.Harmfulness": 0.1},
        delta={"Builtin.Correctness": 0.05, "Builtin.Harmfulness": 0.1},
        min_improvement={"Builtin.Correctness": 0.0, "Builtin.Harmfulness": 0.0},
    )
    assert failures == [
        "Builtin.Correctness = 0.6 is below the minimum 0.7",
        "Builtin.Harmfulness = 0.2 is above the maximum 0.1",
        "Builtin.Harmfulness improved by -0.1 over the base model, less than the minimum 0.0",
    ]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("REPORT_BUCKET", "artifacts")
    monkeypatch.setenv("REPORT_PREFIX", "evaluation/reports/")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="artifacts")
        client.create_bucket(Bucket="curated")
        yield client


def _line(correctness: float, helpfulness: float) -> str:
    return json.dumps(
        {
            "automatedEvaluationResult": {
                "scores": [
                    {"metricName": "Builtin.Correctness", "result": correctness},
                    {"metricName": "Builtin.Helpfulness", "result": helpfulness},
                    {"metricName": "Builtin.Faithfulness", "result": None},
                ]
            },
            "inputRecord": {"prompt": "p"},
        }
    )


def _put_output(s3: S3Client, job: str, lines: list[str]) -> None:
    key = (
        f"evaluation/bedrock-output/{job}/abc123def456/models/m/taskTypes/General/"
        "datasets/prompts/xyz_output.jsonl"
    )
    s3.put_object(Bucket="artifacts", Key=key, Body="\n".join(lines).encode())
    # an unrelated file in the job folder is ignored
    s3.put_object(
        Bucket="artifacts", Key=f"evaluation/bedrock-output/{job}/manifest.json", Body=b"{}"
    )


JOBS = [
    {"role": "candidate", "kind": "judge", "model": "arn:cand", "jobName": "ev-c",
     "jobArn": "arn:job/c", "outputS3Uri": OUT},
    {"role": "baseline", "kind": "judge", "model": "amazon.nova-micro-v1:0", "jobName": "ev-b",
     "jobArn": "arn:job/b", "outputS3Uri": OUT + "/"},
]  # fmt: skip


def test_bedrock_report_compares_with_base_model(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put_output(s3, "ev-c", [_line(1.0, 0.8), _line(0.5, 0.6)])
    _put_output(s3, "ev-b", [_line(0.5, 0.7), _line(0.5, 0.7)])
    monkeypatch.setenv(
        "THRESHOLDS",
        json.dumps({"min_scores": {"Builtin.Correctness": 0.7},
                    "min_improvement": {"Builtin.Helpfulness": 0.05}}),
    )  # fmt: skip
    out = er.bedrock_report_handler(
        {"runId": "run-1", "dataset": "s3://artifacts/in.jsonl", "jobs": JOBS}, s3=s3
    )
    assert out["passed"] is False
    assert out["failures"] == [
        "Builtin.Helpfulness improved by 0.0 over the base model, less than the minimum 0.05"
    ]
    assert out["summary"] == {
        "examples": 2,
        "metrics": {"Builtin.Correctness": 0.75, "Builtin.Helpfulness": 0.7},
    }
    assert out["delta"] == {"Builtin.Correctness": 0.25, "Builtin.Helpfulness": 0.0}
    assert out["reportS3Uri"] == "s3://artifacts/evaluation/reports/run-1/report.json"
    stored = json.loads(
        s3.get_object(Bucket="artifacts", Key="evaluation/reports/run-1/report.json")["Body"].read()
    )
    assert stored["kind"] == "bedrock_evaluation"
    assert stored["model"] == "arn:cand"
    assert stored["baseline"]["model"] == "amazon.nova-micro-v1:0"
    assert len(stored["output_files"]) == 2


def test_bedrock_report_fails_without_output(s3: S3Client) -> None:
    out = er.bedrock_report_handler({"runId": "r", "jobs": JOBS[:1]}, s3=s3)
    assert out["passed"] is False
    assert out["failures"] == ["no evaluation output files found for the candidate model"]


def test_human_report_from_rating_manifest(s3: S3Client) -> None:
    manifest = (FIXTURES / "rating_output.manifest").read_bytes()
    s3.put_object(Bucket="curated", Key="labeling/out/output.manifest", Body=manifest)
    out = er.human_report_handler(
        {
            "job_name": "eval-ratings-2026-11-20",
            "output_manifest_uri": "s3://curated/labeling/out/output.manifest",
            "label_attribute_name": "llm-labels",
            "model": "custom-model-1",
            "min_scores": {"mean_score": 4.5},
        },
        s3=s3,
    )
    report = json.loads(
        s3.get_object(
            Bucket="artifacts", Key="evaluation/reports/eval-ratings-2026-11-20/report.json"
        )["Body"].read()
    )
    # r1: 4 5 4; r2: 2 (9 rejected) 3; r3: no score -> not counted
    assert report["summary"]["examples"] == 2
    assert report["summary"]["metrics"]["mean_score"] == pytest.approx((4 + 5 + 4 + 2 + 3) / 5)
    expected_alpha = er.krippendorff_alpha([[4, 5, 4], [2, 3]])
    assert report["agreement"]["alpha"] == expected_alpha
    assert report["agreement"]["raters"] == 3
    assert report["by_criterion"]["overall"] == pytest.approx(((13 / 3) + 2.5) / 2, abs=1e-4)
    assert report["problems"]["count"] >= 2
    assert out["passed"] is False
    assert out["failures"] == ["mean_score = 3.6 is below the minimum 4.5"]


def test_human_report_groups_by_criterion_and_tag() -> None:
    def line(item: str, scores: list[int], **extra: Any) -> str:
        answers = [
            {"workerId": f"w{i}", "annotationData": {"content": json.dumps({"score": str(s)})}}
            for i, s in enumerate(scores)
        ]
        return json.dumps(
            {"source": "p", "id": item, "lab": {"annotationsFromAllWorkers": answers}, **extra}
        )

    report = er.build_human_report(
        [
            line("a", [5, 5], criteria=["correct"], tags=["math"]),
            line("b", [1, 1], criteria=["correct", "safe"], tags=["chat"]),
        ],
        label_attribute="lab",
        job_name="j",
    )
    assert report["by_criterion"] == {"correct": 3.0, "safe": 1.0}
    assert report["by_tag"] == {"chat": 1.0, "math": 5.0}
    assert report["agreement"]["alpha"] == 1.0
    assert report["score_distribution"] == {"1": 2, "2": 0, "3": 0, "4": 0, "5": 2}


def test_handlers_import_as_lambda_loads_them_without_cdk_or_pydantic() -> None:
    """Lambda puts the runtime folder at the code root: the evaluation handlers must find
    their sibling modules (streaming core, labeling converter) and nothing heavier."""
    import subprocess
    import sys

    from cdk_llm_training.assets import runtime

    folder = Path(runtime.__file__).parent
    probe = (
        "import sys, json\n"
        "import evaluation_report as r, evaluation_prompts as p\n"
        "print(json.dumps({'score': r.parse_score.__module__,\n"
        "  'core': p.validate_stream.__module__,\n"
        "  'heavy': sorted(m for m in ('aws_cdk', 'pydantic', 'cdk_llm_training')\n"
        "                  if m in sys.modules)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=folder, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == {
        "score": "labeling_postprocess",
        "core": "dataset_validation",
        "heavy": [],
    }
