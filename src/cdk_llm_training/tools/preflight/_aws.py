"""Shared plumbing of the check modules: the clients, paging, and turning an API error into a
finding (a check that cannot run is a warning that names the permission it needs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from cdk_llm_training.tools.preflight.model import Finding, Status


class ClientFactory(Protocol):
    """Returns a boto3 client for a service (in ``region`` when given)."""

    def __call__(self, service: str, region: str | None = None) -> Any: ...


@dataclass(frozen=True)
class Context:
    """What every check needs: clients, the account and Region, and the cloud assembly."""

    clients: ClientFactory
    account: str
    region: str
    partition: str = "aws"
    cdk_out: Path | None = None


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item under ``key`` of every page of ``operation`` (a read-only List/Describe)."""
    paginator = client.get_paginator(operation)
    for page in paginator.paginate(**kwargs):
        yield from page.get(key, [])


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def not_checked(
    check: str, subject: str, error: Exception, action: str, source: str = ""
) -> Finding:
    """A warning for a check that could not run, with the IAM action it needs."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message", "")
        reason = f"{error_code(error)}: {message}".rstrip(": ")
    else:
        reason = str(error)
    return Finding(
        check,
        Status.WARNING,
        subject,
        f"not checked ({reason})",
        f"allow {action} for the identity that runs preflight, then run it again",
        source,
    )


def guarded(
    check: str, subject: str, action: str, run: Callable[[], list[Finding]], source: str = ""
) -> list[Finding]:
    """``run()``, or one warning finding when an AWS call in it fails."""
    try:
        return run()
    except (ClientError, BotoCoreError) as error:
        return [not_checked(check, subject, error, action, source)]


def quota_console_url(region: str, service: str, code: str) -> str:
    return f"https://{region}.console.aws.amazon.com/servicequotas/home/services/{service}/quotas/{code}"
