"""Lambda handler: validate a Bedrock customization dataset before any job starts.

Plain boto3 (the Lambda Python runtime). Configuration comes from environment variables set
by :class:`cdk_llm_training.BedrockFineTuneJob`:

``DATASET_BUCKET``, ``DATASET_PREFIX``
    where datasets live; every dataset key must start with the prefix.
``REPORT_BUCKET``, ``REPORT_PREFIX``, ``OUTPUT_PREFIX``
    where the JSON report goes, and the prefix under which the job writes its output.
``RECORD_FORMAT``
    one of :func:`dataset_validation.record_formats`.
``LIMITS``
    JSON: ``min_training_records``, ``max_training_records``, ``max_validation_records``,
    ``max_record_bytes``, ``max_training_file_bytes``, ``max_validation_file_bytes``.
``JOB_NAME_PREFIX``, ``READY_MARKER_NAME``, ``MAX_REPORTED_ERRORS``, ``MAX_VALIDATION_FILES``
``JOB_NAME_RESERVE``
    characters the workflow appends to the job name for later jobs (default 0): the name
    may then be at most 63 minus this long.

``LIMITS`` may omit ``max_record_bytes``: records are then limited to
``DEFAULT_MAX_RECORD_BYTES`` (1 MiB) of :mod:`dataset_validation`.

The state input is either ``{"trainingDataKey": "...", "validationDataKeys": ["..."],
"jobNameSuffix": "..."}`` or, from the ready-marker rule, ``{"readyMarker": {"bucket": "...",
"key": "..."}}``.

The output feeds the state machine's Choice state (names are a contract; fields are only
ever added)::

    {"valid": bool, "jobName": str, "customModelName": str,
     "reportS3Uri": str, "errorsS3Uri": str,
     "trainingDataS3Uri": str | None, "validators": [{"S3Uri": str}],
     "hasValidationData": bool, "outputDataS3Uri": str,
     "records": {key: int}, "errorCount": int,
     "errors": [{"file": str | None, "line": int | None, "reason": str}]}

Size bound: ``errors`` holds at most ``ERRORS_IN_OUTPUT`` (10) errors, each reason at most
``MAX_REASON_CHARS`` (500) characters quoting at most 80 characters of any value from the
data; keys are at most 1,024 bytes and at most ``MAX_VALIDATION_FILES`` + 1 files are read,
so the output stays under about 40 KiB whatever the data (Step Functions allows 256 KiB,
Lambda 6 MB). The JSON report (``reportS3Uri``) keeps the first ``MAX_REPORTED_ERRORS``
errors of each file and all the counts; ``errorsS3Uri`` (JSON Lines, one
``{"file", "line", "reason"}`` a line, streamed with a multipart upload) holds every error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING or __package__:  # imported from the installed package (tests, tools)
    from cdk_llm_training.assets.runtime.dataset_validation import (
        DEFAULT_MAX_RECORD_BYTES,
        MAX_REPORTED_ERRORS,
        ErrorSink,
        FileLimits,
        FileReport,
        cap_reason,
        check_file_size,
        preview,
        validate_stream,
    )
    from cdk_llm_training.assets.runtime.s3_writer import S3StreamWriter
else:  # in Lambda, this folder is the code root
    from dataset_validation import (
        DEFAULT_MAX_RECORD_BYTES,
        MAX_REPORTED_ERRORS,
        ErrorSink,
        FileLimits,
        FileReport,
        cap_reason,
        check_file_size,
        preview,
        validate_stream,
    )
    from s3_writer import S3StreamWriter

NAME_PART = re.compile(r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$")
MAX_NAME_LENGTH = 63
MAX_VALIDATION_FILES = 10
MAX_MARKER_BYTES = 64 * 1024
ERRORS_IN_OUTPUT = 10
MAX_KEY_BYTES = 1024
MISSING_CODES = ("404", "403", "NoSuchKey", "NotFound", "AccessDenied")
"""A missing key reads as 403 AccessDenied when ListBucket is limited to a key prefix."""


class InputError(ValueError):
    """The execution input names no usable dataset."""


@dataclass(frozen=True)
class ValidatorConfig:
    dataset_bucket: str
    dataset_prefix: str
    report_bucket: str
    report_prefix: str
    output_prefix: str
    record_format: str
    limits: Mapping[str, int]
    job_name_prefix: str
    ready_marker_name: str
    max_reported_errors: int
    max_validation_files: int = MAX_VALIDATION_FILES
    job_name_reserve: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ValidatorConfig:
        return cls(
            dataset_bucket=env["DATASET_BUCKET"],
            dataset_prefix=env.get("DATASET_PREFIX", ""),
            report_bucket=env["REPORT_BUCKET"],
            report_prefix=env.get("REPORT_PREFIX", ""),
            output_prefix=env.get("OUTPUT_PREFIX", ""),
            record_format=env["RECORD_FORMAT"],
            limits=json.loads(env.get("LIMITS", "{}")),
            job_name_prefix=env["JOB_NAME_PREFIX"],
            ready_marker_name=env.get("READY_MARKER_NAME", "_READY"),
            max_reported_errors=int(env.get("MAX_REPORTED_ERRORS", MAX_REPORTED_ERRORS)),
            max_validation_files=int(env.get("MAX_VALIDATION_FILES", MAX_VALIDATION_FILES)),
            job_name_reserve=int(env.get("JOB_NAME_RESERVE", "0")),
        )

    def file_limits(self, role: str) -> FileLimits:
        limits = self.limits
        return FileLimits(
            min_records=int(limits.get(f"min_{role}_records", 1)),
            max_records=limits.get(f"max_{role}_records"),
            max_record_bytes=int(limits.get("max_record_bytes", DEFAULT_MAX_RECORD_BYTES)),
            max_file_bytes=limits.get(f"max_{role}_file_bytes"),
        )


@dataclass(frozen=True)
class DatasetRequest:
    training_key: str
    validation_keys: tuple[str, ...]
    job_name_suffix: str


def handler(event: Mapping[str, Any], context: Any = None, *, s3: Any = None) -> dict[str, Any]:
    """Validate the dataset named by ``event``; write the report; return the summary."""
    config = ValidatorConfig.from_env(os.environ)
    client = s3 if s3 is not None else boto3.client("s3")
    return validate_dataset(event, config, client)


def validate_dataset(event: Mapping[str, Any], config: ValidatorConfig, s3: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    input_errors: list[str] = []
    request: DatasetRequest | None = None
    try:
        request = resolve_request(event, config, s3, now=now)
    except InputError as error:
        input_errors.append(str(error))

    suffix = request.job_name_suffix if request else now.strftime("invalid-%Y%m%d%H%M%S")
    job_name = f"{config.job_name_prefix}-{suffix}"
    report_key = f"{config.report_prefix}{job_name}/validation-report.json"
    errors_key = f"{config.report_prefix}{job_name}/validation-errors.jsonl"
    files: list[FileReport] = []
    with S3StreamWriter(
        s3, config.report_bucket, errors_key, content_type="application/x-ndjson"
    ) as errors_out:

        def sink(file: str | None, error: Mapping[str, Any]) -> None:
            line = json.dumps({"file": file, **error}, ensure_ascii=False) + "\n"
            errors_out.write(line.encode("utf-8"))

        for reason in input_errors:
            sink(None, {"line": None, "reason": cap_reason(reason)})
        if request is not None:
            files.append(_validate_object(s3, config, request.training_key, "training", sink))
            files.extend(
                _validate_object(s3, config, key, "validation", sink)
                for key in request.validation_keys
            )

    all_errors = [
        {"file": None, "line": None, "reason": cap_reason(reason)} for reason in input_errors
    ]
    for file in files:
        all_errors.extend({"file": file.key, **error} for error in file.errors)
    error_count = len(input_errors) + sum(f.error_count for f in files)
    valid = error_count == 0
    report = {
        "valid": valid,
        "recordFormat": config.record_format,
        "datasetBucket": config.dataset_bucket,
        "jobName": job_name,
        "checkedAt": now.isoformat(),
        "errorCount": error_count,
        "errorsS3Uri": errors_out.uri,
        "errors": all_errors[: config.max_reported_errors],
        "files": [f.to_json() for f in files],
    }
    s3.put_object(
        Bucket=config.report_bucket,
        Key=report_key,
        Body=json.dumps(report, indent=1).encode("utf-8"),
        ContentType="application/json",
    )
    training = f"s3://{config.dataset_bucket}/{request.training_key}" if request else None
    validators = (
        [{"S3Uri": f"s3://{config.dataset_bucket}/{key}"} for key in request.validation_keys]
        if request
        else []
    )
    return {
        "valid": valid,
        "reportS3Uri": f"s3://{config.report_bucket}/{report_key}",
        "jobName": job_name,
        "customModelName": job_name,
        "trainingDataS3Uri": training,
        "validators": validators,
        "hasValidationData": bool(validators),
        "outputDataS3Uri": f"s3://{config.report_bucket}/{config.output_prefix}{job_name}/",
        "records": {f.key: f.records for f in files},
        "errorCount": error_count,
        "errors": all_errors[:ERRORS_IN_OUTPUT],
        "errorsS3Uri": errors_out.uri,
    }


def resolve_request(
    event: Mapping[str, Any], config: ValidatorConfig, s3: Any, *, now: datetime
) -> DatasetRequest:
    """The dataset keys and job-name suffix named by the execution input."""
    if not isinstance(event, Mapping):
        raise InputError(f"the input must be a JSON object, got {preview(event)}")
    marker = event.get("readyMarker")
    if marker is not None:
        training, validation, suffix = _from_marker(marker, config, s3, now=now)
    else:
        training = event.get("trainingDataKey")
        validation = event.get("validationDataKeys", [])
        suffix = event.get("jobNameSuffix") or now.strftime("%Y%m%d%H%M%S")
    if not isinstance(training, str) or not training:
        raise InputError("the input must name 'trainingDataKey' (an S3 key in the dataset bucket)")
    if not isinstance(validation, list) or not all(isinstance(k, str) for k in validation):
        raise InputError("'validationDataKeys' must be a list of S3 keys")
    if len(validation) > config.max_validation_files:
        raise InputError(
            f"'validationDataKeys' has {len(validation)} keys; at most "
            f"{config.max_validation_files} are allowed"
        )
    for key in [training, *validation]:
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise InputError(
                f"dataset key {preview(key)} is longer than S3's {MAX_KEY_BYTES}-byte key limit"
            )
        if not key.startswith(config.dataset_prefix):
            raise InputError(
                f"dataset key {preview(key)} is outside the dataset prefix "
                f"{config.dataset_prefix!r}"
            )
    if not isinstance(suffix, str) or not NAME_PART.match(suffix):
        raise InputError(
            f"'jobNameSuffix' {preview(suffix)} must be letters, digits and single hyphens "
            "(no leading or trailing hyphen)"
        )
    name_length = len(config.job_name_prefix) + 1 + len(suffix)
    limit = MAX_NAME_LENGTH - config.job_name_reserve
    if name_length > limit:
        reserved = (
            f" ({config.job_name_reserve} are kept for the names of the jobs that follow)"
            if config.job_name_reserve
            else ""
        )
        raise InputError(
            f"job name '{config.job_name_prefix}-{suffix}' is {name_length} characters; "
            f"at most {limit} are allowed{reserved}"
        )
    return DatasetRequest(training, tuple(validation), suffix)


def _from_marker(
    marker: Any, config: ValidatorConfig, s3: Any, *, now: datetime
) -> tuple[Any, Any, str]:
    if not isinstance(marker, dict) or not isinstance(marker.get("key"), str):
        raise InputError("'readyMarker' must be an object with the marker's 'key'")
    key: str = marker["key"]
    if marker.get("bucket", config.dataset_bucket) != config.dataset_bucket:
        raise InputError(
            f"ready marker bucket {preview(marker.get('bucket'))} is not the dataset bucket"
        )
    if not key.startswith(config.dataset_prefix):
        raise InputError(f"ready marker {preview(key)} is outside {config.dataset_prefix!r}")
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    response = s3.get_object(Bucket=config.dataset_bucket, Key=key)
    body = response["Body"].read(MAX_MARKER_BYTES + 1)
    if len(body) > MAX_MARKER_BYTES:
        raise InputError(f"ready marker {preview(key)} is larger than {MAX_MARKER_BYTES} bytes")
    folder_name = re.sub(r"[^A-Za-z0-9]+", "-", folder.rstrip("/").rsplit("/", 1)[-1]).strip("-")
    default_suffix = "-".join(p for p in (folder_name[:30], now.strftime("%Y%m%d%H%M%S")) if p)
    if not body.strip():
        validation_key = f"{folder}validation.jsonl"
        validation = [validation_key] if _exists(s3, config.dataset_bucket, validation_key) else []
        return f"{folder}train.jsonl", validation, default_suffix
    try:
        content = json.loads(body)
    except ValueError:
        raise InputError(
            f"ready marker {preview(key)} is neither empty nor a JSON object"
        ) from None
    if not isinstance(content, dict):
        raise InputError(f"ready marker {preview(key)} must hold a JSON object")
    training = content.get("trainingDataKey", f"{folder}train.jsonl")
    validation = content.get("validationDataKeys", [])
    suffix = content.get("jobNameSuffix", default_suffix)
    return training, validation, suffix


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        if _error_code(error) in MISSING_CODES:
            return False
        raise
    return True


def _error_code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _validate_object(
    s3: Any, config: ValidatorConfig, key: str, role: str, sink: ErrorSink
) -> FileReport:
    limits = config.file_limits(role)
    report = FileReport(key=key, role=role, max_errors=config.max_reported_errors, sink=sink)
    if role == "validation" and limits.max_records == 0:
        report.add_error(None, "this customization type takes no validation data")
        return report
    try:
        response = s3.get_object(Bucket=config.dataset_bucket, Key=key)
    except s3.exceptions.ClientError as error:
        if _error_code(error) not in MISSING_CODES:
            raise
        report.add_error(
            None, f"object s3://{config.dataset_bucket}/{key} does not exist (or is not readable)"
        )
        return report
    body = response["Body"]
    try:
        if not check_file_size(report, int(response.get("ContentLength", 0)), limits):
            return report
        return validate_stream(
            body,
            key=key,
            role=role,
            record_format=config.record_format,
            limits=limits,
            max_errors=config.max_reported_errors,
            sink=sink,
        )
    finally:
        body.close()
