"""Bedrock batch inference limits, checked before ``CreateModelInvocationJob``.

Plain boto3 (this module ships in the Lambda asset with the synthetic-data handlers).

Bedrock refuses a batch job outside per-model service quotas, and a job over the account's
concurrency quota waits or fails after it was created. :func:`check_batch_job` reads the
quotas of the model and the batch jobs already submitted or running, and returns the problems
of a job of ``records`` records in one input file of ``input_bytes`` bytes, each naming the
field, the value and the limit, so the workflow stops before it creates the job.

Quotas are read BY NAME with ``ListServiceQuotas`` (service code ``bedrock``): the batch
quotas exist once per model, each with its own quota code, and no AWS page lists the codes,
so none is hard-coded here. The names below are the ones the Bedrock user guide ("Format and
upload your batch inference data") tells users to search for, followed by `` for <model>``,
``<model>`` being the quota's display name of the model (``SyntheticDataOptions
.quota_model_names``). ``ListServiceQuotas`` returns only quotas with an applied value; a
quota it does not return falls back to the configured limit, and the report says which
source each limit came from.

In-flight jobs: ``ListModelInvocationJobs`` per status in :data:`IN_FLIGHT_STATUSES` (the
API's ``statusEquals`` takes one status), counting the jobs of the same model. Which statuses
the quota "Sum of in-progress and submitted batch inference jobs using a base model" counts
is not documented beyond its name; the pre-run statuses ``Validating`` and ``Scheduled`` are
counted too (unverified).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

SERVICE_CODE = "bedrock"
GIB = 1024**3
IN_FLIGHT_STATUSES = ("Submitted", "Validating", "Scheduled", "InProgress")
"""ListModelInvocationJobs ``statusEquals`` values counted as submitted or in progress."""

QUOTA_NAMES: Mapping[str, str] = {
    "min_records": "Minimum number of records per batch inference job",
    "max_records": "Records per batch inference job",
    "max_records_per_file": "Records per input file per batch inference job",
    "max_file_gib": "Batch inference input file size",
    "max_job_gib": "Batch inference job size",
    "max_in_flight_jobs": (
        "Sum of in-progress and submitted batch inference jobs using a base model"
    ),
}
"""Limit -> quota name before `` for <model>`` (sizes are in GB; some quota names put
``(in GB)`` before ``for``, some after the model: :func:`_normalized` drops it)."""
ENV_FALLBACKS: Mapping[str, str] = {
    "min_records": "MIN_RECORDS",
    "max_records": "MAX_RECORDS",
    "max_records_per_file": "MAX_RECORDS",
    "max_file_gib": "MAX_INPUT_FILE_GIB",
    "max_job_gib": "MAX_JOB_GIB",
    "max_in_flight_jobs": "MAX_IN_FLIGHT_JOBS",
}
"""Limit -> environment variable holding the configured value used when no quota is read."""


def _normalized(name: str) -> str:
    return re.sub(r"\s+", " ", name.replace("(in GB)", "")).strip().lower()


def quota_values(quotas: Iterable[Mapping[str, Any]], model_name: str) -> dict[str, float]:
    """Limit -> value of each batch quota of ``model_name`` found in ``quotas``
    (``ServiceQuota`` members ``QuotaName`` and ``Value``)."""
    wanted = {_normalized(f"{name} for {model_name}"): limit for limit, name in QUOTA_NAMES.items()}
    found: dict[str, float] = {}
    for quota in quotas:
        limit = wanted.get(_normalized(str(quota.get("QuotaName", ""))))
        if limit is not None and isinstance(quota.get("Value"), int | float):
            found[limit] = float(quota["Value"])
    return found


def list_bedrock_quotas(client: Any) -> list[dict[str, Any]]:
    """Every quota ``ListServiceQuotas`` returns for Bedrock (all pages)."""
    quotas: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = client.list_service_quotas(
            ServiceCode=SERVICE_CODE, MaxResults=100, **({"NextToken": token} if token else {})
        )
        quotas += page.get("Quotas", [])
        token = page.get("NextToken")
        if not token:
            return quotas


def in_flight_jobs(client: Any, model_id: str) -> int:
    """Batch jobs of ``model_id`` in this account and Region that are submitted or running
    (the model of a job may be reported as an id or an ARN ending in ``/<id>``)."""
    count = 0
    for status in IN_FLIGHT_STATUSES:
        token: str | None = None
        while True:
            page = client.list_model_invocation_jobs(
                statusEquals=status, maxResults=1000, **({"nextToken": token} if token else {})
            )
            for job in page.get("invocationJobSummaries", []):
                job_model = str(job.get("modelId", ""))
                if job_model == model_id or job_model.endswith(f"/{model_id}"):
                    count += 1
            token = page.get("nextToken")
            if not token:
                break
    return count


def check_batch_job(
    *,
    records: int,
    input_bytes: int,
    model_id: str,
    model_name: str | None,
    env: Mapping[str, str],
    quotas_client: Any,
    bedrock_client: Any,
) -> tuple[list[str], dict[str, Any]]:
    """Problems of a batch job (empty: it may be created) and the limits report: each limit's
    value and source (``quota`` or ``configured``), the in-flight job count."""
    found = quota_values(list_bedrock_quotas(quotas_client), model_name) if model_name else {}
    limits: dict[str, Any] = {}
    for limit, variable in ENV_FALLBACKS.items():
        if limit in found:
            limits[limit] = {"value": found[limit], "source": "quota"}
        elif env.get(variable, ""):
            limits[limit] = {"value": float(env[variable]), "source": "configured"}
    in_flight = in_flight_jobs(bedrock_client, model_id)
    report: dict[str, Any] = {
        "modelId": model_id,
        "quotaModelName": model_name,
        "records": records,
        "inputBytes": input_bytes,
        "inFlightJobs": in_flight,
        "limits": limits,
    }
    problems: list[str] = []

    def value(limit: str) -> float | None:
        return limits[limit]["value"] if limit in limits else None

    def quota_label(limit: str) -> str:
        if limits[limit]["source"] == "quota":
            return f"the quota '{QUOTA_NAMES[limit]} for {model_name}'"
        return f"the configured {ENV_FALLBACKS[limit]}"

    minimum = value("min_records")
    if minimum is not None and records < minimum:
        problems.append(
            f"records {records} is below {quota_label('min_records')} ({minimum:g}); "
            "add prompts or lower the quota"
        )
    for limit in ("max_records", "max_records_per_file"):
        maximum = value(limit)
        if maximum is not None and records > maximum:
            problems.append(
                f"records {records} is over {quota_label(limit)} ({maximum:g}); split the "
                "prompt set"
            )
    for limit in ("max_file_gib", "max_job_gib"):
        maximum = value(limit)
        if maximum is not None and input_bytes > maximum * GIB:
            problems.append(
                f"inputBytes {input_bytes} is over {quota_label(limit)} ({maximum:g} GB); "
                "split the prompt set"
            )
    most = value("max_in_flight_jobs")
    if most is not None and in_flight >= most:
        problems.append(
            f"inFlightJobs {in_flight}: batch jobs of {model_id} already submitted or in "
            f"progress reach {quota_label('max_in_flight_jobs')} ({most:g}); start again when "
            "one has finished"
        )
    return problems, report
