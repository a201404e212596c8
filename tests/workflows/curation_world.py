"""The curation processing job, run for real in the offline world: its raw input is copied
out of (moto) S3, the shipped curation script runs with the job's container arguments and a
Comprehend client answered offline, and its output goes back to S3 where the job would
upload it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from data_curation.comprehend_fake import FakeComprehend

from cdk_llm_training.assets.curation.config import CurationConfig
from cdk_llm_training.assets.curation.curate import curate


def is_curation_job(params: Any) -> bool:
    return any(i.get("InputName") == "raw" for i in params.get("ProcessingInputs", []))


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _settings(arguments: list[str]) -> list[str]:
    return [arguments[i + 1] for i, arg in enumerate(arguments) if arg == "--set"]


def run_curation_job(s3: Any, params: Any) -> dict[str, Any]:
    """Run the job described by the CreateProcessingJob ``params``; return the card."""
    app = params["AppSpecification"]
    assert "curation.curate" in app["ContainerEntrypoint"][2]
    raw = next(i for i in params["ProcessingInputs"] if i["InputName"] == "raw")["S3Input"]
    output = params["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    raw_bucket, raw_prefix = _split(raw["S3Uri"])
    out_bucket, out_prefix = _split(output["S3Uri"])
    config = CurationConfig.from_settings({}, _settings(app["ContainerArguments"]))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        listing = s3.list_objects_v2(Bucket=raw_bucket, Prefix=raw_prefix).get("Contents", [])
        for item in listing:
            target = root / "raw" / item["Key"][len(raw_prefix) :].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(raw_bucket, item["Key"], str(target))
        (root / "raw").mkdir(exist_ok=True)
        env = params.get("Environment", {})
        card = curate(
            input_dir=root / "raw",
            output_dir=root / "out",
            config=config,
            comprehend=FakeComprehend().client if config.pii.mode != "off" else None,
            source_uris=[env["CURATION_SOURCE_URI"]],
            output_uri=env["CURATION_OUTPUT_URI"],
        )
        for path in sorted((root / "out").iterdir()):
            s3.upload_file(str(path), out_bucket, f"{out_prefix.rstrip('/')}/{path.name}")
    return card


def run_spark_curation_job(s3: Any, params: Any) -> dict[str, Any]:
    """Run the EMR Serverless job run described by the StartJobRun ``params``: its entry
    point arguments are parsed by the Spark job's own parser, then the curation runs on the
    raw objects. The stages run as the Processing script (the Spark job itself is run on a
    local SparkSession in tests/data_curation, and gives the same records and card); the
    Spark job's lineage is its ``--input-uri``."""
    from cdk_llm_training.assets.curation.spark_curate import parse_args

    submit = params["JobDriver"]["SparkSubmit"]
    assert submit["EntryPoint"].endswith(".py")
    assert submit["SparkSubmitParameters"].startswith("--py-files s3://")
    args = parse_args(submit["EntryPointArguments"])
    config = CurationConfig.from_settings(json.loads(args.config), args.set)
    raw_bucket, raw_prefix = _split(args.input_uri)
    out_bucket, out_prefix = _split(args.output_uri)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        listing = s3.list_objects_v2(Bucket=raw_bucket, Prefix=raw_prefix).get("Contents", [])
        for item in listing:
            target = root / "raw" / item["Key"][len(raw_prefix) :].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(raw_bucket, item["Key"], str(target))
        (root / "raw").mkdir(exist_ok=True)
        card = curate(
            input_dir=root / "raw",
            output_dir=root / "out",
            config=config,
            comprehend=FakeComprehend().client if config.pii.mode != "off" else None,
            source_uris=[args.input_uri],
            output_uri=args.output_uri,
        )
        for path in sorted((root / "out").iterdir()):
            s3.upload_file(str(path), out_bucket, f"{out_prefix.rstrip('/')}/{path.name}")
    return card
