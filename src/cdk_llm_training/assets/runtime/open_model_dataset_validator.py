"""Lambda handler: validate an open-model fine-tuning dataset before a SageMaker training job.

A thin layer over :mod:`bedrock_dataset_validator` (same input, same streaming checks, same
JSON report), configured by :class:`cdk_llm_training.SageMakerFineTuneJob` with the
``chat``, ``instruction`` or ``prompt_completion`` record format and at most one validation
file (a training job channel is one S3 location). It adds what CreateTrainingJob needs:

``trainingJobName``, ``trainingS3Uri``, ``validationS3Uri`` (or null), ``outputS3Path``
(SageMaker writes ``<path><job>/output/model.tar.gz``) and ``checkpointS3Uri``
(``s3://<artifacts>/<CHECKPOINT_PREFIX><job>/``: a retried execution with the same
``jobNameSuffix`` fails on the duplicate job name instead of mixing checkpoints).

Records are limited to ``max_record_bytes`` of ``LIMITS`` when set, else to
``DEFAULT_MAX_RECORD_BYTES`` (1 MiB): a longer line is reported and never buffered.

Extra environment: ``CHECKPOINT_PREFIX``.

The output is the Bedrock validator's (same size bound, see
:mod:`bedrock_dataset_validator`) plus::

    {"trainingJobName": str, "trainingS3Uri": str | None, "validationS3Uri": str | None,
     "outputS3Path": str, "checkpointS3Uri": str}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING or __package__:  # imported from the installed package (tests, tools)
    from cdk_llm_training.assets.runtime.bedrock_dataset_validator import (
        ValidatorConfig,
        validate_dataset,
    )
else:  # in Lambda, this folder is the code root
    from bedrock_dataset_validator import ValidatorConfig, validate_dataset


def handler(event: Mapping[str, Any], context: Any = None, *, s3: Any = None) -> dict[str, Any]:
    """Validate the dataset named by ``event``; write the report; return the summary."""
    config = ValidatorConfig.from_env(os.environ)
    client = s3 if s3 is not None else boto3.client("s3")
    return validate_for_training_job(
        event, config, client, checkpoint_prefix=os.environ.get("CHECKPOINT_PREFIX", "")
    )


def validate_for_training_job(
    event: Mapping[str, Any], config: ValidatorConfig, s3: Any, *, checkpoint_prefix: str
) -> dict[str, Any]:
    summary = validate_dataset(event, config, s3)
    job_name = summary["jobName"]
    validators = summary["validators"]
    artifacts = f"s3://{config.report_bucket}/"
    return {
        **summary,
        "trainingJobName": job_name,
        "trainingS3Uri": summary["trainingDataS3Uri"],
        "validationS3Uri": validators[0]["S3Uri"] if validators else None,
        "outputS3Path": f"{artifacts}{config.output_prefix}",
        "checkpointS3Uri": f"{artifacts}{checkpoint_prefix}{job_name}/",
    }
