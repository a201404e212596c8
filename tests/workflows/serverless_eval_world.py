"""The faked side of SageMaker AI serverless evaluation jobs (``JobType=Evaluation``): a
completed job writes its results where the developer guide says they land
(``<S3OutputPath>/<job>/output/output/<name>/eval_results/``), in the documented shapes."""

from __future__ import annotations

import json
from typing import Any

EVALUATION_OP = "sagemaker:evaluationJob"
"""``Cloud.job_status`` key of the evaluation jobs' final status (default Completed)."""
BENCHMARK_SCORE = 0.71
JUDGE_SCORES = {"Correctness": 0.82, "Helpfulness": 0.77}


def is_evaluation_job(request: dict[str, Any]) -> bool:
    return bool(request.get("ServerlessJobConfig", {}).get("JobType") == "Evaluation")


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def write_results(s3: Any, name: str, request: dict[str, Any], *, shape: str, score: float) -> None:
    """Write what a completed evaluation job leaves in S3. ``shape``: ``documented``,
    ``missing`` (no result file) or ``malformed`` (a result file that is not JSON)."""
    if shape == "missing":
        return
    bucket, prefix = _split(request["OutputDataConfig"]["S3OutputPath"])
    hyper = request.get("HyperParameters", {})
    folder = f"{prefix.rstrip('/')}/{name}/output/output/{hyper.get('name', 'None')}/eval_results"
    config = request["ServerlessJobConfig"]
    body: dict[str, Any]
    if config["EvaluationType"] == "LLMAJEvaluation":
        key = f"{folder}/bedrock_llm_judge_results.json"
        body = {
            "results": {
                metric: {"score": value * score / BENCHMARK_SCORE, "total_evaluations": 20}
                for metric, value in JUDGE_SCORES.items()
            }
        }
    elif hyper.get("task") == "inference_only":
        key = f"{folder}/inference_output.jsonl"
        body = {"prompt": "Say hi.", "response": "Hi!"}
    else:
        metric = hyper["evaluation_metric"]
        key = f"{folder}/results_2026-01-01T00-00-00.json"
        body = {
            "results": {
                f"custom|{hyper['task']}|0": {metric: score, f"{metric}_stderr": 0.01},
                "all": {metric: score, f"{metric}_stderr": 0.01},
            }
        }
    text = "{not json" if shape == "malformed" else json.dumps(body)
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
