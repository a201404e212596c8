"""The curation processing job: its code asset, container command and CreateProcessingJob
request."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import Aws

from cdk_llm_training.assets import curation
from cdk_llm_training.config.data_curation import curation_settings

if TYPE_CHECKING:
    from cdk_llm_training.constructs.data_curation.construct import DataCuration

PROCESSING_SYNC = "sagemaker:createProcessingJob.sync"
SYNC_RULE = "StepFunctionsGetEventsForSageMakerProcessingJobsRule"
"""The EventBridge rule Step Functions manages for ``createProcessingJob.sync``."""
CURATION_SOURCE = Path(curation.__file__).parent
CODE_DIR = "/opt/ml/processing/input/code"
RAW_DIR = "/opt/ml/processing/input/raw"
OUTPUT_DIR = "/opt/ml/processing/output/curated"
SRC_DIR = "/opt/ml/processing/src"


def container_command(*, install_requirements: bool) -> list[str]:
    """``/bin/sh -c <script> curate``: unpack the code asset (a zip of the curation
    package) into ``SRC_DIR/curation``, install its requirements (unless the image has
    them), run ``python3 -m curation.curate`` with the container arguments. Every entry
    stays under CreateProcessingJob's 256 characters."""
    steps = [
        f"set -e; d={SRC_DIR}",
        "mkdir -p $d/curation",
        f"python3 -m zipfile -e {CODE_DIR}/*.zip $d/curation",
    ]
    if install_requirements:
        steps.append("pip install -q -r $d/curation/requirements.txt")
    steps += ["cd $d", 'exec python3 -m curation.curate "$@"']
    return ["/bin/sh", "-c", "; ".join(steps), "curate"]


def _s3_input(name: str, local_path: str, uri: dict[str, str]) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            **uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def processing_job_parameters(curation_: DataCuration) -> dict[str, Any]:
    """The CreateProcessingJob request (JSONPath: ``$.rawPrefix``, the execution name)."""
    opts = curation_.options
    raw_uri = f"States.Format('s3://{curation_.raw_bucket.bucket_name}/{{}}', $.rawPrefix)"
    output_uri = (
        f"States.Format('s3://{curation_.curated_bucket.bucket_name}/{opts.curated_prefix}{{}}/'"
        ", $$.Execution.Name)"
    )
    arguments = [
        *("--input-dir", RAW_DIR, "--output-dir", OUTPUT_DIR, "--region", Aws.REGION),
    ]
    for setting in curation_settings(opts.curation):
        arguments += ["--set", setting]
    output: dict[str, Any] = {
        "Outputs": [
            {
                "OutputName": "curated",
                "S3Output": {
                    "S3Uri.$": output_uri,
                    "LocalPath": OUTPUT_DIR,
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    }
    if curation_.data_key is not None:
        output["KmsKeyId"] = curation_.data_key.key_arn
    return {
        "ProcessingJobName.$": f"States.Format('{opts.job_name_prefix}-{{}}', States.UUID())",
        "RoleArn": curation_.processing_role.role_arn,
        "AppSpecification": {
            "ImageUri": curation_.image_uri,
            "ContainerEntrypoint": container_command(
                install_requirements=opts.install_requirements
            ),
            "ContainerArguments": arguments,
        },
        "Environment": {
            # Lineage for the dataset card (the script reads them as its URI defaults).
            "CURATION_SOURCE_URI.$": raw_uri,
            "CURATION_OUTPUT_URI.$": output_uri,
        },
        "ProcessingInputs": [
            _s3_input("code", CODE_DIR, {"S3Uri": curation_.code_asset.s3_object_url}),
            _s3_input("raw", RAW_DIR, {"S3Uri.$": raw_uri}),
        ],
        "ProcessingOutputConfig": output,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": opts.instance_type,
                "VolumeSizeInGB": opts.volume_size_gb,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": opts.max_runtime_seconds},
    }
