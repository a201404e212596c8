"""CloudFormation custom resource: the account's private workforce, reused or created.

SageMaker allows one private workforce per account and Region, so a stack that always
creates one fails in every account that already has one (made in the console, for Amazon A2I
or by another stack). This handler, on Create, lists the workforces (``ListWorkforces``):

- one exists: it is reused as is (nothing is changed on it); the response says ``reused``;
- none exists: it creates one (``CreateWorkforce``) backed by the stack's Cognito user pool
  and app client (``IdentityProvider: cognito``) or by the OIDC identity provider in
  ``OidcConfig`` (``IdentityProvider: oidc``; the client secret is read from Secrets Manager,
  ``ClientSecretName``, because CloudFormation does not resolve secret references in custom
  resource properties); the response says ``created``.

The physical resource ID records which happened (``created:<name>`` / ``reused:<name>``):
Update changes the source-IP allow-list only of a workforce this resource created, and
Delete deletes only a workforce this resource created (a reused one belongs to someone
else). The reused workforce must use the same kind of identity provider as the stack's
teams (Cognito groups or OIDC groups); otherwise the deploy fails with a message saying what
to configure instead.

Response data: ``WorkforceName``, ``WorkforceArn``, ``Outcome`` (created | reused),
``UserPoolId``, ``ClientId`` (the pool and client behind the workforce, which the work
teams must use) and ``SubDomain`` (the labeling portal's host).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from typing import Any

import boto3

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

CREATED = "created"
REUSED = "reused"
_WAIT_SECONDS = 600
_POLL_SECONDS = 10


class WorkforceError(Exception):
    """A request this handler refuses, with the message CloudFormation shows."""


COGNITO = "cognito"
OIDC = "oidc"


def _sagemaker() -> Any:
    return boto3.client("sagemaker")


def _secret(name: str) -> str:
    value: str = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    return value


def _existing_workforce(client: Any) -> dict[str, Any] | None:
    """The account's private workforce in this Region, or None (there is at most one)."""
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 10}
        if token:
            kwargs["NextToken"] = token
        page = client.list_workforces(**kwargs)
        for workforce in page.get("Workforces", []):
            described: dict[str, Any] = client.describe_workforce(
                WorkforceName=workforce["WorkforceName"]
            )["Workforce"]
            return described
        token = page.get("NextToken")
        if not token:
            return None


def _wait_active(client: Any, name: str) -> dict[str, Any]:
    """Describe ``name`` until its status is Active (or fail on Failed / timeout)."""
    deadline = time.monotonic() + _WAIT_SECONDS
    while True:
        workforce: dict[str, Any] = client.describe_workforce(WorkforceName=name)["Workforce"]
        status = workforce.get("Status", "Active")
        if status == "Active":
            return workforce
        if status == "Failed":
            raise WorkforceError(
                f"workforce {name} failed: {workforce.get('FailureReason', 'no reason given')}"
            )
        if time.monotonic() > deadline:
            raise WorkforceError(f"workforce {name} still {status} after {_WAIT_SECONDS} s")
        time.sleep(_POLL_SECONDS)


def _source_ip_config(props: dict[str, Any]) -> dict[str, Any] | None:
    cidrs = list((props.get("SourceIpConfig") or {}).get("Cidrs") or [])
    return {"Cidrs": cidrs} if cidrs else None


def _identity_config(props: dict[str, Any]) -> dict[str, Any]:
    """The CognitoConfig or OidcConfig member of CreateWorkforce / UpdateWorkforce."""
    if props.get("IdentityProvider", COGNITO) == OIDC:
        oidc = dict(props["OidcConfig"])
        oidc["ClientSecret"] = _secret(props["ClientSecretName"])
        return {"OidcConfig": oidc}
    return {"CognitoConfig": {"UserPool": props["UserPoolId"], "ClientId": props["ClientId"]}}


def _data(workforce: dict[str, Any], outcome: str) -> dict[str, str]:
    cognito = workforce.get("CognitoConfig") or {}
    return {
        "WorkforceName": workforce["WorkforceName"],
        "WorkforceArn": workforce["WorkforceArn"],
        "Outcome": outcome,
        "UserPoolId": cognito.get("UserPool", ""),
        "ClientId": cognito.get("ClientId", ""),
        "SubDomain": workforce.get("SubDomain", ""),
    }


def _reuse_or_create(client: Any, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    existing = _existing_workforce(client)
    wanted = props.get("IdentityProvider", COGNITO)
    if existing is not None:
        found = COGNITO if existing.get("CognitoConfig") else OIDC
        if found != wanted:
            advice = (
                "set labeling.workforce.mode to 'import' with its name and give every team "
                "oidc_groups"
                if found == OIDC
                else "set labeling.workforce.mode to 'cognito' (teams become groups of its "
                "user pool), or 'import' with cognito_user_pool_id and cognito_client_id"
            )
            raise WorkforceError(
                f"this account's private workforce {existing['WorkforceName']!r} in this "
                f"Region uses {found.upper()} sign-in, not {wanted.upper()}, and there can be "
                f"only one; {advice}"
            )
        LOG.info("reusing workforce %s", existing["WorkforceName"])
        return f"{REUSED}:{existing['WorkforceName']}", _data(existing, REUSED)
    name = props["WorkforceName"]
    request: dict[str, Any] = {"WorkforceName": name, **_identity_config(props)}
    ip_config = _source_ip_config(props)
    if ip_config is not None:
        request["SourceIpConfig"] = ip_config
    LOG.info("creating workforce %s", name)
    client.create_workforce(**request)
    return f"{CREATED}:{name}", _data(_wait_active(client, name), CREATED)


def _update(client: Any, physical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    outcome, _, name = physical_id.partition(":")
    if outcome == CREATED:
        request: dict[str, Any] = {
            "WorkforceName": name,
            "SourceIpConfig": _source_ip_config(props) or {"Cidrs": []},
        }
        if props.get("IdentityProvider") == OIDC:
            request.update(_identity_config(props))
        client.update_workforce(**request)
        return physical_id, _data(_wait_active(client, name), CREATED)
    workforce = client.describe_workforce(WorkforceName=name)["Workforce"]
    return physical_id, _data(workforce, REUSED)


def _delete(client: Any, physical_id: str) -> None:
    outcome, _, name = physical_id.partition(":")
    if outcome != CREATED:
        LOG.info("leaving workforce %s in place (%s)", name or physical_id, outcome)
        return
    try:
        client.delete_workforce(WorkforceName=name)
    except client.exceptions.ResourceNotFound:
        LOG.info("workforce %s already gone", name)


def handle(event: dict[str, Any], client: Any) -> tuple[str, dict[str, str]]:
    """Apply one CloudFormation request; return (physical ID, response data)."""
    props = event.get("ResourceProperties", {})
    request_type = event["RequestType"]
    if request_type == "Create":
        return _reuse_or_create(client, props)
    physical_id = str(event.get("PhysicalResourceId", ""))
    if request_type == "Update":
        return _update(client, physical_id, props)
    _delete(client, physical_id)
    return physical_id, {}


def _send(
    event: dict[str, Any], status: str, physical_id: str, data: dict[str, str], reason: str
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3000],
            "PhysicalResourceId": physical_id or event.get("LogicalResourceId", "workforce"),
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30):  # the presigned https URL CloudFormation gave
        pass


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: run :func:`handle` and report to CloudFormation."""
    physical_id = str(event.get("PhysicalResourceId", ""))
    try:
        physical_id, data = handle(event, _sagemaker())
        _send(event, "SUCCESS", physical_id, data, "")
    except Exception as error:  # every failure must reach CloudFormation, or it hangs
        LOG.exception("workforce request failed")
        _send(event, "FAILED", physical_id, {}, f"{type(error).__name__}: {error}")
