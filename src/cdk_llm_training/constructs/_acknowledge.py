"""Acknowledging validation findings (cdk-nag rules and our own) on one construct."""

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on ``scope`` and its children only, with a reason.

    Uses CDK's native policy-validation acknowledgements, which cdk-nag 3 honours; the library
    never imports cdk-nag itself, so it stays a test-only dependency.
    """
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
