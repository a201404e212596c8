"""Service principals limited to this account's own resources (confused-deputy prevention)."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam


def source_conditions(source_arn: str) -> dict[str, dict[str, str]]:
    """``aws:SourceAccount`` = this account and ``aws:SourceArn`` ArnLike ``source_arn``."""
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": source_arn},
    }


def this_account_arn(service: str, resource: str, *, region: bool = True) -> str:
    """``arn:<partition>:<service>:<region>:<account>:<resource>`` of this stack's account."""
    where = Aws.REGION if region else ""
    return f"arn:{Aws.PARTITION}:{service}:{where}:{Aws.ACCOUNT_ID}:{resource}"


def service_principal_from(service: str, source_arn: str) -> iam.IPrincipal:
    """``service`` acting for resources matching ``source_arn`` in this account only: use it
    as a role's ``assumed_by`` for services documented to send ``aws:SourceArn`` and
    ``aws:SourceAccount`` when they assume a role."""
    return iam.ServicePrincipal(service).with_conditions(source_conditions(source_arn))
