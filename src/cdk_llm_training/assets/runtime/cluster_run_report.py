"""The run report of ClusterTrainingRun (both controllers): duration, node-hours, cost
estimate, the export of the run's checkpoints to the artifacts zone, final metrics.

Environment: ``ARTIFACTS_BUCKET``, ``CHECKPOINT_PREFIX``, ``REPORT_PREFIX``. The run carries
``jobName``, ``namespace`` (or the Slurm partition), ``instanceGroup``, ``instanceType``,
``nodes``, ``outputName``, ``usdPerHour`` and ``priceSource``; the status ``startTime`` and
``completionTime`` (ISO 8601). Standard library plus boto3 only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import boto3


def _seconds_between(start: str, end: str) -> float:
    def parse(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))

    return max((parse(end) - parse(start)).total_seconds(), 0.0)


def report(run: dict[str, Any], job_status: dict[str, Any]) -> dict[str, Any]:
    """Write ``<REPORT_PREFIX><jobName>/report.json`` to the artifacts zone; return it."""
    s3 = boto3.client("s3")
    bucket = os.environ["ARTIFACTS_BUCKET"]
    prefix = f"{os.environ['CHECKPOINT_PREFIX']}{run['outputName']}/"
    exported, total_bytes, metrics = 0, 0, None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            exported += 1
            total_bytes += item["Size"]
            if item["Key"] == f"{prefix}metrics.json":
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                metrics = json.loads(body)
    seconds = _seconds_between(job_status["startTime"], job_status["completionTime"])
    node_hours = round(run["nodes"] * seconds / 3600, 4)
    price = run.get("usdPerHour")
    document = {
        "jobId": run["jobName"],
        "namespace": run["namespace"],
        "instanceGroup": run["instanceGroup"],
        "instanceType": run["instanceType"],
        "nodes": run["nodes"],
        "startTime": job_status["startTime"],
        "completionTime": job_status["completionTime"],
        "durationSeconds": seconds,
        "nodeHours": node_hours,
        "costEstimateUsd": round(node_hours * price, 2) if price is not None else None,
        "priceSource": run.get("priceSource"),
        "checkpoints": {
            "s3Uri": f"s3://{bucket}/{prefix}",
            "objects": exported,
            "bytes": total_bytes,
            "exported": exported > 0,
        },
        "finalMetrics": metrics,
    }
    key = f"{os.environ['REPORT_PREFIX']}{run['jobName']}/report.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=1).encode())
    return {**document, "reportS3Uri": f"s3://{bucket}/{key}"}
