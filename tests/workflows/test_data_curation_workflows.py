"""DataCuration's workflow on every branch, the curation job running the shipped script on
the raw objects (with an offline Comprehend) and the real dataset validator on its output."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from data_curation.corpus import build_corpus
from workflows.aws_world import Cloud, ResolvedTemplate
from workflows.workflow_inputs import results

MACHINE = "curation"


@pytest.fixture(scope="module")
def buckets(stack: cdk.Stack, template: ResolvedTemplate) -> dict[str, str]:
    lake: Any = stack.node.find_child("Lake")
    return {
        zone: template.ref(stack.get_logical_id(getattr(lake, f"{zone}_bucket").node.default_child))
        for zone in ("raw", "curated", "artifacts")
    }


def _put_raw(
    cloud: Cloud, bucket: str, lines: list[str], key: str = "corpora/docs/a.jsonl"
) -> None:
    cloud.s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines) + "\n")


def _read_jsonl(cloud: Cloud, bucket: str, key: str) -> list[dict[str, Any]]:
    body = cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_curates_validates_and_notifies(
    cloud: Cloud, machine_ids: dict[str, str], buckets: dict[str, str]
) -> None:
    corpus = build_corpus(unique=30)
    _put_raw(cloud, buckets["raw"], corpus.lines)
    execution = cloud.start(machine_ids[MACHINE], {"rawPrefix": "corpora/docs/"}, name="run1")
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert results(cloud) == ["SUCCEEDED"]
    note = cloud.notifications[0]
    prefix = "finetune/curated/run1/"
    assert note["datasetS3Uri"] == f"s3://{buckets['curated']}/{prefix}part-00000.jsonl"
    assert note["cardS3Uri"] == f"s3://{buckets['curated']}/{prefix}dataset_card.json"
    assert note["processingJob"].startswith("curate-")
    records = _read_jsonl(cloud, buckets["curated"], f"{prefix}part-00000.jsonl")
    assert len(records) == corpus.kept
    assert all("input" in r and "text" not in r for r in records)  # continued_pretraining
    assert sum("[EMAIL]" in r["input"] for r in records) == corpus.with_pii
    card = json.loads(
        cloud.s3.get_object(Bucket=buckets["curated"], Key=f"{prefix}dataset_card.json")[
            "Body"
        ].read()
    )
    assert card["lineage"] == {
        "sources": [f"s3://{buckets['raw']}/corpora/docs/"],
        "output": f"s3://{buckets['curated']}/{prefix}",
    }
    assert card["counts"]["removed"]["exact_duplicate"] == corpus.exact_duplicates
    assert card["counts"]["removed"]["near_duplicate"] == corpus.near_duplicates
    assert card["config"]["rename_fields"] == {"text": "input"}
    job = next(p for op, p in cloud.calls if op == "sagemaker:createProcessingJob")
    assert job["ProcessingOutputConfig"]["KmsKeyId"]  # the lake key
    assert "--set" in job["AppSpecification"]["ContainerArguments"]


@pytest.mark.parametrize(
    "payload", [{}, {"rawPrefix": 3}, {"rawPrefix": "elsewhere/docs/"}], ids=str
)
def test_input_refused_before_any_call(
    cloud: Cloud, machine_ids: dict[str, str], payload: dict[str, Any]
) -> None:
    execution = cloud.start(machine_ids[MACHINE], payload)
    assert (execution.status, execution.error) == ("FAILED", "InputInvalid")
    assert cloud.ops() == ["sns:publish"]
    assert results(cloud) == ["INPUT_INVALID"]


def test_empty_raw_prefix_starts_no_job(cloud: Cloud, machine_ids: dict[str, str]) -> None:
    execution = cloud.start(machine_ids[MACHINE], {"rawPrefix": "corpora/nothing-here/"})
    assert (execution.status, execution.error) == ("FAILED", "InputMissing")
    assert "sagemaker:createProcessingJob" not in cloud.ops()
    assert results(cloud) == ["INPUT_MISSING"]


def test_everything_filtered_out_is_an_invalid_dataset(
    cloud: Cloud, machine_ids: dict[str, str], buckets: dict[str, str]
) -> None:
    _put_raw(cloud, buckets["raw"], [json.dumps({"text": "too short"})] * 5)
    execution = cloud.start(machine_ids[MACHINE], {"rawPrefix": "corpora/docs/"})
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert results(cloud) == ["DATASET_INVALID"]
    assert cloud.curation_cards[0]["counts"]["removed"]["too_short"] == 5


@pytest.mark.parametrize(
    "broken",
    [
        "s3:listObjectsV2",
        "sagemaker:createProcessingJob",
        "lambda:bedrock_dataset_validator.handler",
    ],
)
def test_each_step_failure_notifies(
    cloud: Cloud, machine_ids: dict[str, str], buckets: dict[str, str], broken: str
) -> None:
    _put_raw(cloud, buckets["raw"], build_corpus(unique=5).lines)
    if broken == "sagemaker:createProcessingJob":
        cloud.job_status[broken] = "Failed"
    else:
        cloud.raise_on[broken] = ("ServiceError", "broken on purpose")
    execution = cloud.start(machine_ids[MACHINE], {"rawPrefix": "corpora/docs/"})
    assert (execution.status, execution.error) == ("FAILED", "Failed")
    assert results(cloud) == ["FAILED"]
    assert cloud.notifications[0]["rawPrefix"] == "corpora/docs/"


# -- engine: emr-serverless ----------------------------------------------------------------

SPARK = "curation_emr"


def test_spark_engine_curates_validates_and_notifies(
    cloud: Cloud, machine_ids: dict[str, str], buckets: dict[str, str]
) -> None:
    corpus = build_corpus(unique=30)
    _put_raw(cloud, buckets["raw"], corpus.lines)
    execution = cloud.start(machine_ids[SPARK], {"rawPrefix": "corpora/docs/"}, name="spark1")
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    note = cloud.notifications[0]
    prefix = "finetune/spark/spark1/"
    assert note["result"] == "SUCCEEDED"
    assert note["datasetS3Uri"] == f"s3://{buckets['curated']}/{prefix}part-00000.jsonl"
    assert note["jobRun"] == "spark-spark1"
    records = _read_jsonl(cloud, buckets["curated"], f"{prefix}part-00000.jsonl")
    assert len(records) == corpus.kept
    assert sum("[EMAIL]" in r["input"] for r in records) == corpus.with_pii
    run = next(p for op, p in cloud.calls if op == "emr-serverless:startJobRun")
    arguments = run["JobDriver"]["SparkSubmit"]["EntryPointArguments"]
    assert arguments[:4] == [
        "--input-uri",
        f"s3://{buckets['raw']}/corpora/docs/",
        "--output-uri",
        f"s3://{buckets['curated']}/{prefix}",
    ]
    assert json.loads(arguments[arguments.index("--config") + 1]) == {
        "text_fields": ["text"],
        "rename_fields": {"text": "input"},
    }
    assert run["ExecutionTimeoutMinutes"] == 720
    card = cloud.curation_cards[0]
    assert card["lineage"]["sources"] == [f"s3://{buckets['raw']}/corpora/docs/"]
    assert card["counts"]["removed"]["near_duplicate"] == corpus.near_duplicates


def test_spark_engine_refuses_input_and_missing_data_before_any_job(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    assert cloud.start(machine_ids[SPARK], {"rawPrefix": 3}).error == "InputInvalid"
    missing = cloud.start(machine_ids[SPARK], {"rawPrefix": "corpora/none/"})
    assert missing.error == "InputMissing"
    assert "emr-serverless:startJobRun" not in cloud.ops()


def test_spark_engine_everything_filtered_is_an_invalid_dataset(
    cloud: Cloud, machine_ids: dict[str, str], buckets: dict[str, str]
) -> None:
    _put_raw(cloud, buckets["raw"], [json.dumps({"text": "too short"})] * 4)
    execution = cloud.start(machine_ids[SPARK], {"rawPrefix": "corpora/docs/"})
    assert (execution.status, execution.error) == ("FAILED", "DatasetInvalid")
    assert results(cloud) == ["DATASET_INVALID"]


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_spark_job_run_failure_notifies(
    cloud: Cloud, machine_ids: dict[str, str], buckets: dict[str, str], state: str
) -> None:
    _put_raw(cloud, buckets["raw"], build_corpus(unique=5).lines)
    cloud.job_status["emr-serverless:startJobRun"] = state
    execution = cloud.start(machine_ids[SPARK], {"rawPrefix": "corpora/docs/"})
    assert (execution.status, execution.error) == ("FAILED", "Failed")
    assert results(cloud) == ["FAILED"]
    assert cloud.notifications[0]["error"] == "States.TaskFailed"
    assert "ValidateDataset" not in execution.visited


def test_spark_validator_failure_notifies(
    cloud: Cloud, machine_ids: dict[str, str], buckets: dict[str, str]
) -> None:
    _put_raw(cloud, buckets["raw"], build_corpus(unique=5).lines)
    cloud.raise_on["lambda:bedrock_dataset_validator.handler"] = ("ServiceError", "broken")
    execution = cloud.start(machine_ids[SPARK], {"rawPrefix": "corpora/docs/"})
    assert (execution.status, execution.error) == ("FAILED", "Failed")
    assert results(cloud) == ["FAILED"]
