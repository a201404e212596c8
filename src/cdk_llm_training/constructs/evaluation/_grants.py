"""Identity-policy grants with a statement id, returned as ``iam.Grant``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_iam as iam


def grant_statement(
    grantee: iam.IGrantable,
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str],
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
) -> iam.Grant:
    """Add one Allow statement named ``sid`` to ``grantee``'s identity policy.

    ``iam.Grant.add_to_principal`` takes no statement id; the id is set on the statement it
    added (still the same object until synthesis), so policies read the same as statements
    added with ``add_to_role_policy``.
    """
    grant = iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(actions),
        resource_arns=list(resources),
        conditions=dict(conditions) if conditions is not None else None,
    )
    if grant.principal_statement is not None:
        grant.principal_statement.sid = sid
    return grant


def combine(first: iam.Grant, *others: iam.Grant | None) -> iam.Grant:
    """One grant standing for ``first`` and every other grant given."""
    combined = first
    for other in others:
        if other is not None:
            combined = combined.combine(other)
    return combined
