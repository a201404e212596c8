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

With ``IdentityProvider: cognito`` the resource also owns the labeling portal's app client:
it creates the client (``CreateUserPoolClient``, OAuth off, a secret, SRP sign-in) only when
it creates the workforce, right before ``CreateWorkforce``. Ground Truth then writes the
client's OAuth settings (portal callback URL, flows, scopes) itself; because the client is
not a CloudFormation resource, no later stack update can send the template's settings over
them. Update never touches the client. A failed create deletes what it made (a workforce that
never became Active, then the client).

The physical resource ID records which happened (``created:<name>``,
``created:<name>:<client id>`` when it also created the app client, or ``reused:<name>``):
Update changes the source-IP allow-list only of a workforce this resource created, and
Delete deletes only a workforce this resource created (a reused one belongs to someone
else), then the app client it created. The reused workforce must use the same kind of
identity provider as the stack's teams (Cognito groups or OIDC groups); otherwise the deploy
fails with a message saying what to configure instead.

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
PORTAL_CLIENT_SUFFIX = "-labeling-portal"
"""The app client's name is the workforce name plus this suffix."""
_WAIT_SECONDS = 600
_POLL_SECONDS = 10


class WorkforceError(Exception):
    """A request this handler refuses, with the message CloudFormation shows."""


class WorkforceLeftError(WorkforceError):
    """A workforce that failed to become Active and could not be deleted either."""


COGNITO = "cognito"
OIDC = "oidc"


def _sagemaker() -> Any:
    return boto3.client("sagemaker")


def _cognito() -> Any:
    return boto3.client("cognito-idp")


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


def _oidc_config(props: dict[str, Any]) -> dict[str, Any]:
    """The OidcConfig member of CreateWorkforce / UpdateWorkforce."""
    oidc = dict(props["OidcConfig"])
    oidc["ClientSecret"] = _secret(props["ClientSecretName"])
    return {"OidcConfig": oidc}


def _create_portal_client(cognito: Any, pool_id: str, workforce_name: str) -> str:
    """Create the workforce's app client in ``pool_id``; return its client ID.

    The settings the portal client had as a template resource: a secret, SRP sign-in and
    refresh tokens, no user-existence errors, and OAuth off (Ground Truth turns OAuth on
    and sets the portal's callback URL, flows and scopes when it creates the workforce).
    """
    response = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=f"{workforce_name}{PORTAL_CLIENT_SUFFIX}",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        SupportedIdentityProviders=["COGNITO"],
        PreventUserExistenceErrors="ENABLED",
        AllowedOAuthFlowsUserPoolClient=False,
    )
    client_id: str = response["UserPoolClient"]["ClientId"]
    LOG.info("created app client %s in %s", client_id, pool_id)
    return client_id


def _delete_portal_client(cognito: Any, pool_id: str, client_id: str) -> None:
    """Delete an app client this resource created; one already gone is fine."""
    try:
        cognito.delete_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
    except cognito.exceptions.ResourceNotFoundException:
        LOG.info("app client %s already gone", client_id)


def _parse(physical_id: str) -> tuple[str, str, str]:
    """(outcome, workforce name, created app client ID or '') of a physical ID."""
    outcome, _, rest = physical_id.partition(":")
    name, _, client_id = rest.partition(":")
    return outcome, name, client_id


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


def _reuse_or_create(
    client: Any, cognito: Any, props: dict[str, Any]
) -> tuple[str, dict[str, str]]:
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
    if wanted == OIDC:
        return _create(client, props, _oidc_config(props), client_id="")
    pool_id = props["UserPoolId"]
    client_id = _create_portal_client(cognito, pool_id, props["WorkforceName"])
    try:
        return _create(
            client,
            props,
            {"CognitoConfig": {"UserPool": pool_id, "ClientId": client_id}},
            client_id,
        )
    except WorkforceLeftError:
        raise
    except Exception:
        # No app client left behind by a create that CloudFormation rolls back.
        _delete_portal_client(cognito, pool_id, client_id)
        raise


def _create(
    client: Any, props: dict[str, Any], identity: dict[str, Any], client_id: str
) -> tuple[str, dict[str, str]]:
    """CreateWorkforce and wait until it is Active; a workforce that fails to become Active
    is deleted again (best effort) before the error is raised."""
    name = props["WorkforceName"]
    request: dict[str, Any] = {"WorkforceName": name, **identity}
    ip_config = _source_ip_config(props)
    if ip_config is not None:
        request["SourceIpConfig"] = ip_config
    LOG.info("creating workforce %s", name)
    client.create_workforce(**request)
    try:
        workforce = _wait_active(client, name)
    except WorkforceError as error:
        # A failed workforce would otherwise be reused, broken, by the next deploy.
        try:
            client.delete_workforce(WorkforceName=name)
        except Exception as delete_error:
            raise WorkforceLeftError(
                f"{error}; deleting it failed too ({delete_error}), so it and its app client "
                "are left in place: delete them, then deploy again"
            ) from error
        raise
    physical_id = f"{CREATED}:{name}:{client_id}" if client_id else f"{CREATED}:{name}"
    return physical_id, _data(workforce, CREATED)


def _update(client: Any, physical_id: str, props: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Only the source-IP allow-list (and, for OIDC, the identity provider settings) of a
    workforce this resource created; the app client is never touched."""
    outcome, name, _ = _parse(physical_id)
    if outcome == CREATED:
        request: dict[str, Any] = {
            "WorkforceName": name,
            "SourceIpConfig": _source_ip_config(props) or {"Cidrs": []},
        }
        if props.get("IdentityProvider") == OIDC:
            request.update(_oidc_config(props))
        client.update_workforce(**request)
        return physical_id, _data(_wait_active(client, name), CREATED)
    workforce = client.describe_workforce(WorkforceName=name)["Workforce"]
    return physical_id, _data(workforce, REUSED)


def _delete(client: Any, cognito: Any, physical_id: str, props: dict[str, Any]) -> None:
    outcome, name, client_id = _parse(physical_id)
    if outcome != CREATED:
        LOG.info("leaving workforce %s in place (%s)", name or physical_id, outcome)
        return
    try:
        client.delete_workforce(WorkforceName=name)
    except client.exceptions.ResourceNotFound:
        LOG.info("workforce %s already gone", name)
    # After the workforce: a workforce must never be left without its app client.
    if client_id:
        _delete_portal_client(cognito, props["UserPoolId"], client_id)


def handle(event: dict[str, Any], client: Any, cognito: Any = None) -> tuple[str, dict[str, str]]:
    """Apply one CloudFormation request with the SageMaker ``client`` and the cognito-idp
    client ``cognito``; return (physical ID, response data)."""
    props = event.get("ResourceProperties", {})
    request_type = event["RequestType"]
    if request_type == "Create":
        return _reuse_or_create(client, cognito, props)
    physical_id = str(event.get("PhysicalResourceId", ""))
    if request_type == "Update":
        return _update(client, physical_id, props)
    _delete(client, cognito, physical_id, props)
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
        physical_id, data = handle(event, _sagemaker(), _cognito())
        _send(event, "SUCCESS", physical_id, data, "")
    except Exception as error:  # every failure must reach CloudFormation, or it hangs
        LOG.exception("workforce request failed")
        _send(event, "FAILED", physical_id, {}, f"{type(error).__name__}: {error}")
