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
from typing import Any

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
        root = f"{out_prefix.rstrip('/')}/{job_id}/"
        cloud.s3.put_object(
            Bucket=out_bucket, Key=f"{root}records.jsonl.out", Body="\n".join(lines) + "\n"
        )
        manifest = {"totalRecordCount": len(lines), "errorRecordCount": 0}
        cloud.s3.put_object(
            Bucket=out_bucket, Key=f"{root}manifest.json.out", Body=json.dumps(manifest)
        )
    return {"JobArn": arn}


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
