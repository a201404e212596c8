"""Physical names that never collide with what an earlier deployment left behind."""

from __future__ import annotations

from aws_cdk import Aws, Fn, Names
from constructs import IConstruct

STACK_ID_SUFFIX_LENGTH = 8
"""Hex characters of the stack ID's UUID that end a :func:`stack_unique_name`."""


def stack_id_suffix() -> str:
    """The first 8 hex characters of the stack's UUID (a token resolved at deploy time).

    The UUID changes each time the stack is created, so a resource retained by an earlier
    stack of the same name (deleted, or rolled back) never holds the new resource's name.
    """
    uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return Fn.select(0, Fn.split("-", uuid))


def stack_unique_name(scope: IConstruct, *, max_length: int) -> str:
    """``<construct path, lower case>-<stack UUID prefix>``, at most ``max_length`` characters.

    For services that require a physical name (a model package group, for example) on a
    resource that is kept on delete: the path part keeps it readable, the stack part keeps
    a redeploy after ``cdk destroy`` (or after a failed first create) from colliding with
    the retained resource.
    """
    readable = (
        Names.unique_resource_name(
            scope, max_length=max_length - STACK_ID_SUFFIX_LENGTH - 1, separator="-"
        )
        .lower()
        .strip("-")
    )
    return Fn.join("-", [readable, stack_id_suffix()])
