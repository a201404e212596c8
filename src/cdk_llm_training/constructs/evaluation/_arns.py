"""Amazon Bedrock ARNs of this stack's account and Region."""

from __future__ import annotations

from aws_cdk import Aws


def bedrock_arn(resource: str, *, account: bool = True) -> str:
    """``arn:<partition>:bedrock:<region>:<account>:<resource>``; foundation models have no
    account (``account=False``)."""
    account_part = Aws.ACCOUNT_ID if account else ""
    return f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{account_part}:{resource}"


def model_arns() -> list[str]:
    """Every model an evaluation job may invoke: foundation models, provisioned models and
    inference profiles."""
    return [
        bedrock_arn("foundation-model/*", account=False),
        bedrock_arn("provisioned-model/*"),
        bedrock_arn("inference-profile/*"),
    ]
