"""The on-demand evaluation's responses Lambda: batches, the time reserve, the joined
dataset in Bedrock's bring-your-own-responses form, and a run that cannot progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import evaluation_responses as er

BUCKET = "artifacts"
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456"
ENV = {
    "OUTPUT_BUCKET": BUCKET,
    "RESPONSES_PREFIX": "evaluation/bedrock-input/responses/",
    "BATCH_SIZE": "3",
    "MAX_TOKENS": "256",
    "SOURCE_IDENTIFIER": "candidate",
}


class Runtime:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def converse(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        prompt = params["messages"][0]["content"][0]["text"]
        return {
            "output": {"message": {"content": [{"text": f"answer to {prompt}"}]}},
            "usage": {"inputTokens": 5, "outputTokens": 2},
        }


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        lines = [{"prompt": f"q{i}", "referenceResponse": f"r{i}"} for i in range(7)]
        client.put_object(
            Bucket=BUCKET,
            Key="evaluation/bedrock-input/run1/prompts.jsonl",
            Body="".join(json.dumps(line) + "\n" for line in lines).encode(),
        )
        yield client


EVENT = {
    "runId": "run1",
    "datasetS3Uri": f"s3://{BUCKET}/evaluation/bedrock-input/run1/prompts.jsonl",
    "deploymentArn": DEPLOYMENT,
}


def test_runs_resume_until_every_prompt_is_answered(s3: Any) -> None:
    runtime = Runtime()
    state: dict[str, Any] = {"next": 0, "inputTokens": 0, "outputTokens": 0}
    runs = 0
    while True:
        state = er.generate({**EVENT, **state}, ENV, s3, runtime, lambda: 10**6)
        runs += 1
        if state["done"]:
            break
    assert runs == 3  # 7 prompts in batches of 3
    assert (state["next"], state["prompts"]) == (7, 7)
    assert (state["inputTokens"], state["outputTokens"]) == (35, 14)
    assert {c["modelId"] for c in runtime.calls} == {DEPLOYMENT}
    assert runtime.calls[0]["inferenceConfig"] == {"maxTokens": 256}
    key = "evaluation/bedrock-input/responses/run1/responses.jsonl"
    assert state["datasetS3Uri"] == f"s3://{BUCKET}/{key}"
    lines = [
        json.loads(x) for x in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().splitlines()
    ]
    assert [line["prompt"] for line in lines] == [f"q{i}" for i in range(7)]  # in order
    assert lines[4] == {
        "prompt": "q4",
        "referenceResponse": "r4",
        "modelResponses": [{"response": "answer to q4", "modelIdentifier": "candidate"}],
    }


def test_a_run_stops_early_when_its_time_runs_out(s3: Any) -> None:
    # asked before each answer but the first: one second left, under the reserve
    state = er.generate({**EVENT, "next": 0}, ENV, s3, Runtime(), lambda: 1000)
    assert (state["done"], state["next"]) == (False, 1)


def test_a_run_that_answers_nothing_fails_instead_of_looping(s3: Any) -> None:
    class Broken(Runtime):
        def converse(self, **params: Any) -> dict[str, Any]:
            raise RuntimeError("ThrottlingException")

    with pytest.raises(RuntimeError, match="ThrottlingException"):
        er.generate({**EVENT, "next": 0}, ENV, s3, Broken(), lambda: 10**6)


def test_uri_outside_s3_is_refused(s3: Any) -> None:
    with pytest.raises(ValueError, match="not an s3:// URI"):
        er.generate({**EVENT, "datasetS3Uri": "/tmp/x"}, ENV, s3, Runtime(), lambda: 10**6)
