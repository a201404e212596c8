"""Bedrock batch inference in the offline world: CreateModelInvocationJob records the job
and, when it is to succeed, answers every input record in the teacher's response shape
(``<output>/<job id>/records.jsonl.out`` plus ``manifest.json.out``, as Bedrock lays them
out); GetModelInvocationJob reports ``InProgress`` on the first poll, then the final status
(``Cloud.job_status["bedrock:getModelInvocationJob"]``, default ``Completed``; for judge jobs
``Cloud.judge_job_status`` when set). A record whose ``system`` prompt is the judge's rubric
gets ``Cloud.judge_reply``; the second sample of a prompt (``<id>-b``) a different answer
than the first."""

from __future__ import annotations

import json
import uuid
import zlib
from typing import Any

# aws_world imports this module: its checks are imported where they are used.

DONE = ("Completed", "PartiallyCompleted")


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _answer(record: dict[str, Any], judge_reply: str) -> dict[str, Any]:
    prompt = record["modelInput"]["messages"][0]["content"][0]["text"]
    text = f"A careful answer to: {prompt}"
    if "VERDICT" in str(record["modelInput"].get("system", "")):
        text = judge_reply
    elif record["recordId"].endswith("-b"):
        text += " Said at a higher temperature."
    return {
        "recordId": record["recordId"],
        "modelInput": record["modelInput"],
        "modelOutput": {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
        },
    }


def _error(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "recordId": record["recordId"],
        "modelInput": record["modelInput"],
        "error": {"errorCode": 400, "errorMessage": "Malformed input request"},
    }


def create_batch_job(cloud: Any, params: Any, *, region: str, account: str) -> dict[str, Any]:
    job_id = uuid.uuid4().hex[:12]
    arn = f"arn:aws:bedrock:{region}:{account}:model-invocation-job/{job_id}"
    final = cloud.status_for("bedrock:getModelInvocationJob", "Completed")
    if "-judge-" in params["JobName"] and cloud.judge_job_status is not None:
        final = cloud.judge_job_status
    cloud.batch_jobs[arn] = {"params": params, "polls": 0, "final": final}
    if final in DONE:
        in_bucket, in_key = _split(params["InputDataConfig"]["S3InputDataConfig"]["S3Uri"])
        body = cloud.s3.get_object(Bucket=in_bucket, Key=in_key)["Body"].read().decode()
        records = [json.loads(line) for line in body.splitlines() if line]
        lines = [
            json.dumps(_error(r) if cloud.batch_record_errors else _answer(r, cloud.judge_reply))
            for r in records
        ]
        out_bucket, out_prefix = _split(params["OutputDataConfig"]["S3OutputDataConfig"]["S3Uri"])
        if cloud.batch_corrupt_line is not None:
            lines[cloud.batch_corrupt_line] = "{not json"
        root = f"{out_prefix.rstrip('/')}/{job_id}/"
        size = -(-len(lines) // cloud.batch_parts)
        for part in range(cloud.batch_parts):
            name = "records.jsonl.out" if part == 0 else f"records-{part + 1}.jsonl.out"
            body = "\n".join(lines[part * size : (part + 1) * size]) + "\n"
            cloud.s3.put_object(Bucket=out_bucket, Key=f"{root}{name}", Body=body)
        errors = len(records) if cloud.batch_record_errors else 0
        manifest = {
            "totalRecordCount": len(records),
            "processedRecordCount": len(records),
            "successRecordCount": len(records) - errors,
            "errorRecordCount": errors,
            "inputTokenCount": 40 * len(records),
            "outputTokenCount": 0 if errors else 25 * len(records),
        }
        manifest |= cloud.batch_manifest_override
        cloud.s3.put_object(
            Bucket=out_bucket, Key=f"{root}manifest.json.out", Body=json.dumps(manifest)
        )
    return {"JobArn": arn}


class ServiceQuotas:
    """``ListServiceQuotas`` of the ``bedrock`` service, paged by ``MaxResults`` as the API
    pages, holding ``Cloud.batch_quotas`` (quota name -> value); requests and responses are
    checked against the botocore model."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def list_service_quotas(self, **params: Any) -> dict[str, Any]:
        from workflows.aws_world import check_request, check_response

        check_request("service-quotas", "ListServiceQuotas", params)
        self.cloud._record("servicequotas:ListServiceQuotas", params)
        quotas = [
            {
                "ServiceCode": "bedrock",
                "ServiceName": "Amazon Bedrock",
                "QuotaCode": f"L-{zlib.crc32(name.encode()):08X}",
                "QuotaName": name,
                "Value": value,
                "Adjustable": True,
                "GlobalQuota": False,
            }
            for name, value in sorted(self.cloud.batch_quotas.items())
        ]
        start = int(params.get("NextToken", "0"))
        size = params.get("MaxResults", 100)
        response: dict[str, Any] = {"Quotas": quotas[start : start + size]}
        if start + size < len(quotas):
            response["NextToken"] = str(start + size)
        check_response("service-quotas", "ListServiceQuotas", response)
        return response


class BedrockControl:
    """``ListModelInvocationJobs``: the world's batch jobs that are still running (polled
    fewer than twice) plus ``Cloud.foreign_batch_jobs`` jobs of other workflows."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def list_model_invocation_jobs(self, **params: Any) -> dict[str, Any]:
        from workflows.aws_world import NOW, check_request, check_response

        check_request("bedrock", "ListModelInvocationJobs", params)
        self.cloud._record("bedrock:listModelInvocationJobs", params)
        jobs = [
            (arn, job["params"]["ModelId"], job["params"]["JobName"])
            for arn, job in self.cloud.batch_jobs.items()
            if job["polls"] < 2 and params["statusEquals"] == "InProgress"
        ]
        jobs += [
            (f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{i:012d}", model, "x")
            for i, (model, status) in enumerate(self.cloud.foreign_batch_jobs)
            if status == params["statusEquals"]
        ]
        summaries = [
            {
                "jobArn": arn,
                "jobName": name,
                "modelId": model,
                "roleArn": "arn:aws:iam::123456789012:role/batch",
                "status": params["statusEquals"],
                "submitTime": NOW,
                "inputDataConfig": {
                    "s3InputDataConfig": {"s3Uri": "s3://batch-input/prompts.jsonl"}
                },
                "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://batch-output/"}},
            }
            for arn, model, name in jobs
        ]
        response = {"invocationJobSummaries": summaries}
        check_response("bedrock", "ListModelInvocationJobs", response)
        return response


def get_batch_job(cloud: Any, params: Any, *, now: Any) -> dict[str, Any]:
    arn = params["JobIdentifier"]
    job = cloud.batch_jobs[arn]
    job["polls"] += 1
    final = job["final"]
    request = job["params"]
    return {
        "JobArn": arn,
        "JobName": request["JobName"],
        "ModelId": request["ModelId"],
        "RoleArn": request["RoleArn"],
        "Status": "InProgress" if job["polls"] == 1 else final,
        "SubmitTime": now,
        "InputDataConfig": request["InputDataConfig"],
        "OutputDataConfig": request["OutputDataConfig"],
        "TimeoutDurationInHours": request.get("TimeoutDurationInHours"),
    }
