"""The evidence :class:`SageMakerFineTuneJob` attaches to every model package it registers, so
the approver sees why: the training run's parameters, the dataset and its validation report,
and (with ``options.evaluation``) the evaluation report and the gate's verdict.

Everything goes into ``CustomerMetadataProperties`` of CreateModelPackage (the SageMaker API
model: at most 50 entries, keys 1-128 and values 1-256 characters of letters, numbers,
spaces and ``_.:/=+-@``); the evaluation report is also the package's
``ModelMetrics.ModelQuality.Statistics`` (an S3 URI and a content type), which the Model
Registry shows beside the version.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aws_cdk import Annotations, Token

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.sagemaker import SageMakerFineTuneJob

MAX_METADATA_ENTRIES = 50
"""CreateModelPackage ``CustomerMetadataProperties``: at most 50 entries (API model)."""
RESERVED_FOR_PROMOTION = 1
"""Entries left free so a consumer registry can add ``sourceModelPackageArn`` on copy."""
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
METADATA_TEXT = re.compile(r"[\w\s.:/=+\-@]*")
"""The API model's ``[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*`` in Python terms (``\\w`` adds only
``_`` to letters and digits)."""
HYPERPARAMETER_PREFIX = "hp."
SKIPPED_HYPERPARAMETER_WARNING = (
    "cdk-llm-training/sagemaker-fine-tune-job:hyperparameterNotInPackageMetadata"
)
NOT_EVALUATED = "not evaluated"
EVALUATION_PASSED = "passed"
"""The only verdict a registered package can carry: a failed gate registers nothing."""


def is_metadata_text(value: str, max_length: int) -> bool:
    """Whether ``value`` is a valid metadata key or value of at most ``max_length``."""
    return 1 <= len(value) <= max_length and METADATA_TEXT.fullmatch(value) is not None


def evaluation_report_uri(job: SageMakerFineTuneJob) -> str | None:
    """The JSONPath ``States.Format`` of the task-metrics report's S3 URI, or None."""
    if job.task_metrics is None:
        return None
    opts = job.task_metrics.options
    bucket = job.task_metrics.output_bucket.bucket_name
    return f"States.Format('s3://{bucket}/{opts.report_prefix}{{}}/report.json', $$.Execution.Name)"


def package_evidence(job: SageMakerFineTuneJob) -> dict[str, Any]:
    """The ``CustomerMetadataProperties`` (JSONPath keys end in ``.$``) of a registration:
    method, record format, base model, training job, adapter artifact, training dataset and
    its validation report, instance and spot settings, the script's hyperparameters (``hp.``
    keys; one whose value the API would reject is left out with a warning), the evaluation
    verdict and report. Raises ``ValueError`` past the API's entry count."""
    opts = job.options
    metadata: dict[str, Any] = {
        "method": opts.method.value,
        "tuning": opts.tuning.value,
        "recordFormat": opts.record_format.value,
        "baseModel": opts.base_model_id
        or job.artifacts_bucket.s3_url_for_object(opts.base_model_prefix),
        "trainingJobName.$": "$.validation.trainingJobName",
        "adapterArtifact.$": "$.trainingJob.ModelArtifacts.S3ModelArtifacts",
        "trainingDataset.$": "$.validation.trainingS3Uri",
        "datasetReport.$": "$.validation.reportS3Uri",
        "instanceType": opts.instance_type,
        "managedSpot": "true" if opts.use_spot else "false",
        "maxRuntimeHours": str(opts.max_runtime_hours),
    }
    report = evaluation_report_uri(job)
    if report is None:
        metadata["evaluationVerdict"] = NOT_EVALUATED
    else:
        metadata["evaluationVerdict"] = EVALUATION_PASSED
        metadata["evaluationReport.$"] = report
    for name, value in opts.script_hyperparameters().items():
        key = f"{HYPERPARAMETER_PREFIX}{name}"
        if not (is_metadata_text(key, MAX_KEY_LENGTH) and _fits(value)):
            Annotations.of(job).add_warning_v2(
                SKIPPED_HYPERPARAMETER_WARNING,
                f"hyperparameters[{name!r}]={value!r} is not recorded on the model package: "
                f"CustomerMetadataProperties allows keys of 1-{MAX_KEY_LENGTH} and values of "
                f"1-{MAX_VALUE_LENGTH} letters, numbers, spaces and _.:/=+-@ only.",
            )
            continue
        metadata[key] = value
    limit = MAX_METADATA_ENTRIES - RESERVED_FOR_PROMOTION
    if len(metadata) > limit:
        raise ValueError(
            f"SageMakerFineTuneOptions.hyperparameters: {len(opts.hyperparameters)} entries make "
            f"{len(metadata)} model package metadata entries; at most {limit} are allowed "
            f"(CreateModelPackage takes {MAX_METADATA_ENTRIES}, one is kept for promotion)."
        )
    return metadata


def model_metrics(job: SageMakerFineTuneJob) -> dict[str, Any] | None:
    """``ModelMetrics`` of the registration: the evaluation report as model-quality
    statistics, or None without evaluation."""
    report = evaluation_report_uri(job)
    if report is None:
        return None
    return {
        "ModelQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri.$": report},
        }
    }


def _fits(value: str) -> bool:
    return Token.is_unresolved(value) or is_metadata_text(value, MAX_VALUE_LENGTH)
