"""LLM-XA1, LLM-XA2, LLM-XA3 on raw CloudFormation: compliant and non-compliant fixtures."""

from __future__ import annotations

from typing import Any

from cdk_llm_training.checks import RULES_BY_ID, check_template

OTHER = {"AWS": ["arn:aws:iam::222222222222:root"]}
SAME = {"AWS": {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]}}
TAG = {"StringEquals": {"s3:ExistingObjectTag/cdk-llm-training-promoted": "true"}}
VIA_S3 = {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


def _findings(rule: str, resource: dict[str, Any]) -> list[str]:
    template = {"Resources": {"Grant": resource}}
    return [f.logical_id for f in check_template(template, [RULES_BY_ID[rule]])]


def _bucket_policy(**statement: Any) -> dict[str, Any]:
    base = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/p/*"}
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {"Bucket": "b", "PolicyDocument": {"Statement": [{**base, **statement}]}},
    }


def _key(**statement: Any) -> dict[str, Any]:
    base = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    return {
        "Type": "AWS::KMS::Key",
        "Properties": {"KeyPolicy": {"Statement": [{**base, **statement}]}},
    }


def _bus(**statement: Any) -> dict[str, Any]:
    base = {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "arn:aws:events:x"}
    return {
        "Type": "AWS::Events::EventBusPolicy",
        "Properties": {"StatementId": "s", "Statement": {**base, **statement}},
    }


def test_xa1_cross_account_read_needs_a_condition() -> None:
    assert _findings("LLM-XA1", _bucket_policy(Principal=OTHER)) == ["Grant"]
    assert _findings("LLM-XA1", _bucket_policy(Principal=OTHER, Condition=TAG)) == []
    assert _findings("LLM-XA1", _bucket_policy(Principal=SAME)) == []
    assert _findings("LLM-XA1", _bucket_policy(Principal=OTHER, Action="s3:PutObject")) == []


def test_xa2_cross_account_decrypt_needs_via_service() -> None:
    assert _findings("LLM-XA2", _key(Principal=OTHER)) == ["Grant"]
    assert _findings("LLM-XA2", _key(Principal=OTHER, Condition=TAG)) == ["Grant"]
    assert _findings("LLM-XA2", _key(Principal=OTHER, Condition=VIA_S3)) == []
    assert _findings("LLM-XA2", _key(Principal=SAME)) == []


def test_xa3_bus_policy_names_the_source() -> None:
    source = {"StringEquals": {"events:source": "cdk-llm-training.promotion"}}
    assert _findings("LLM-XA3", _bus(Principal=OTHER)) == ["Grant"]
    assert _findings("LLM-XA3", _bus(Principal=OTHER, Condition=source)) == []
    assert _findings("LLM-XA3", _bus(Principal=SAME)) == []


def test_xa2_ignores_the_owner_account_written_as_digits() -> None:
    owner = {"AWS": "arn:aws:iam::111111111111:root"}
    admin = {"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Principal": owner}
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Principal": owner}
    key = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [admin, decrypt]}}}
    assert _findings("LLM-XA2", key) == []
