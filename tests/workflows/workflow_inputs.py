"""Datasets and execution inputs the workflow tests upload and start with."""

from __future__ import annotations

import json
from typing import Any

from workflows.aws_world import Cloud

RECORDS: dict[str, dict[str, Any]] = {
    "prompt_completion": {"prompt": "What is 2+2?", "completion": "4"},
    "continued_pretraining": {"input": "Unlabeled domain text."},
    "bedrock_conversation_2024": {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You are terse."}],
        "messages": [
            {"role": "user", "content": [{"text": "Hi"}]},
            {"role": "assistant", "content": [{"text": "Hello."}]},
        ],
    },
    "bedrock_conversation_2024_prompts": {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": "Summarize: ..."}]}],
    },
    "rft_prompts": {
        "messages": [
            {"role": "system", "content": "Answer with the number only."},
            {"role": "user", "content": "What is 2+2?"},
        ],
        "reference_answer": "4",
        "task_id": "add-1",
    },
    "preference": {"prompt": "Say hi.", "chosen": "Hi!", "rejected": "Go away."},
    "kto": {"prompt": "Say hi.", "completion": "Hi!", "label": True},
    "grpo": {"prompt": "What is 2+2?", "answer": "4"},
    "text": {"text": "Unlabeled domain text."},
    "chat": {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
        ]
    },
}


def function_env(cloud: Cloud, logical_id: str, state: str) -> dict[str, str]:
    """The environment of the Lambda function ``state`` of ``logical_id`` invokes."""
    task = cloud.definitions[logical_id]["States"][state]
    arn = (
        task["Resource"]
        if "Parameters" not in task or "FunctionName" not in task.get("Parameters", {})
        else task["Parameters"]["FunctionName"]
    )
    return cloud.functions[arn][1]


def put_dataset(
    cloud: Cloud, logical_id: str, *, valid: bool = True, validation: bool = False
) -> dict[str, Any]:
    """Upload a dataset in the workflow's record format; return the execution input."""
    env = function_env(cloud, logical_id, "ValidateDataset")
    record = RECORDS[env["RECORD_FORMAT"]] if valid else {"unexpected": True}
    body = "\n".join(json.dumps(record) for _ in range(200)) + "\n"
    prefix, bucket = env["DATASET_PREFIX"], env["DATASET_BUCKET"]
    cloud.s3.put_object(Bucket=bucket, Key=f"{prefix}run1/train.jsonl", Body=body)
    payload: dict[str, Any] = {
        "trainingDataKey": f"{prefix}run1/train.jsonl",
        "jobNameSuffix": "run1",
    }
    if validation:
        cloud.s3.put_object(Bucket=bucket, Key=f"{prefix}run1/validation.jsonl", Body=body)
        payload["validationDataKeys"] = [f"{prefix}run1/validation.jsonl"]
    return payload


def results(cloud: Cloud) -> list[str]:
    """The ``result`` field of every notification, in order."""
    return [str(n.get("result")) for n in cloud.notifications]


TASK_TYPES = ("sft", "preference", "rating")
BYO_TEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/vendor-crowd/acme-labeling"
"""The work team the ``labeling_byo_team`` workflow is given by ARN (a vendor's)."""
MANIFEST_LINES: dict[str, dict[str, Any]] = {
    "sft": {"id": "1", "source": "Explain LoRA in one sentence."},
    "preference": {"id": "1", "source": "Say hi.", "response_a": "Hi!", "response_b": "Hello."},
    "rating": {"id": "1", "source": "Say hi.", "response": "Hi!", "criteria": ["helpful"]},
}


def curated_bucket(cloud: Cloud) -> str:
    return next(
        cloud.template.ref(b) for b in cloud.template.of_type("AWS::S3::Bucket") if "Curated" in b
    )


def labeling_input(
    cloud: Cloud, task_type: str, *, manifest_prefix: str = "labeling/input/", **overrides: Any
) -> dict[str, Any]:
    body = "\n".join(json.dumps({**MANIFEST_LINES[task_type], "id": str(i)}) for i in range(3))
    key = f"{manifest_prefix}{task_type}.manifest"
    cloud.s3.put_object(Bucket=curated_bucket(cloud), Key=key, Body=body + "\n")
    return {
        "task_type": task_type,
        "job_name": f"job-{task_type}",
        "manifest_key": key,
        **overrides,
    }


SOURCE_ACCOUNT = "111111111111"
TARGETS = ("222222222222", "333333333333")
"""Accounts of the promotion workflows (documentation-style ids)."""


def package_state_change(arn: str, group: str, status: str) -> dict[str, Any]:
    """A ``SageMaker Model Package State Change`` event (the fields the rule and workflow
    read, as in the SageMaker developer guide's EventBridge example)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-11-30T07:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": int(arn.rsplit("/", 1)[1]),
            "ModelPackageArn": arn,
            "ModelApprovalStatus": status,
        },
    }


def promoted_event(detail: dict[str, Any]) -> dict[str, Any]:
    """The ``Model Package Promoted`` event as the target account's bus delivers it."""
    return {
        "version": "0",
        "id": "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5",
        "detail-type": "Model Package Promoted",
        "source": "cdk-llm-training.promotion",
        "account": SOURCE_ACCOUNT,
        "time": "2026-11-30T07:05:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
