"""The private-workforce custom resource, offline with botocore's Stubber (moto has no
workforce APIs): reuse an existing workforce, create one (and its app client) when there is
none, update and delete only what it created, never touch the app client on update."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from cdk_llm_training.assets.runtime import private_workforce as pw

ARN = "arn:aws:sagemaker:us-east-1:111122223333:workforce/{}"
PROPS = {
    "WorkforceName": "default",
    "IdentityProvider": "cognito",
    "UserPoolId": "us-east-1_New",
}
CLIENT_REQUEST = {
    "UserPoolId": "us-east-1_New",
    "ClientName": "default-labeling-portal",
    "GenerateSecret": True,
    "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    "SupportedIdentityProviders": ["COGNITO"],
    "PreventUserExistenceErrors": "ENABLED",
    "AllowedOAuthFlowsUserPoolClient": False,
}
CLIENT_RESPONSE = {
    "UserPoolClient": {
        "UserPoolId": "us-east-1_New",
        "ClientName": "default-labeling-portal",
        "ClientId": "newclient",
    }
}
DELETE_CLIENT = {"UserPoolId": "us-east-1_New", "ClientId": "newclient"}
OIDC_CONFIG = {
    "ClientId": "portal",
    "Issuer": "https://idp.example.com",
    "AuthorizationEndpoint": "https://idp.example.com/authorize",
    "TokenEndpoint": "https://idp.example.com/token",
    "UserInfoEndpoint": "https://idp.example.com/userinfo",
    "LogoutEndpoint": "https://idp.example.com/logout",
    "JwksUri": "https://idp.example.com/jwks",
}
OIDC_PROPS = {
    "WorkforceName": "default",
    "IdentityProvider": "oidc",
    "OidcConfig": OIDC_CONFIG,
    "ClientSecretName": "labeling/oidc",
}


def _workforce(name: str, *, status: str = "Active", oidc: bool = False) -> dict[str, Any]:
    workforce: dict[str, Any] = {
        "WorkforceName": name,
        "WorkforceArn": ARN.format(name),
        "SubDomain": f"{name}.labeling.us-east-1.sagemaker.aws",
        "CreateDate": datetime(2026, 1, 1, tzinfo=UTC),
        "Status": status,
    }
    if oidc:
        workforce["OidcConfig"] = {"ClientId": "idp", "Issuer": "https://idp.example.com"}
    else:
        workforce["CognitoConfig"] = {"UserPool": "us-east-1_Old", "ClientId": "oldclient"}
    return workforce


def _client(service: Literal["sagemaker", "cognito-idp"]) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = _client("sagemaker")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def idp() -> Iterator[tuple[Any, Stubber]]:
    """A stubbed cognito-idp client: any call not queued here fails the test."""
    client = _client("cognito-idp")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _listed(workforces: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Workforces": [
            {"WorkforceName": w["WorkforceName"], "WorkforceArn": w["WorkforceArn"]}
            for w in workforces
        ]
    }


def _record_calls(*clients: Any) -> list[str]:
    """The operations the clients send, in order, across services."""
    calls: list[str] = []
    for client in clients:
        client.meta.events.register(
            "before-parameter-build", lambda model, **_kwargs: calls.append(model.name)
        )
    return calls


def test_create_reuses_the_existing_workforce(
    stubbed: tuple[Any, Stubber], idp: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    existing = _workforce("console-made")
    stubber.add_response("list_workforces", _listed([existing]), {"MaxResults": 10})
    stubber.add_response(
        "describe_workforce", {"Workforce": existing}, {"WorkforceName": "console-made"}
    )
    # No app client is created for a reused workforce (the idp Stubber has nothing queued).
    physical_id, data = pw.handle(
        {"RequestType": "Create", "ResourceProperties": PROPS}, client, idp[0]
    )
    assert physical_id == "reused:console-made"
    assert data["Outcome"] == "reused"
    # Teams must use the pool and client behind the existing workforce, not the stack's.
    assert (data["UserPoolId"], data["ClientId"]) == ("us-east-1_Old", "oldclient")
    assert data["WorkforceName"] == "console-made"


def test_create_makes_the_client_then_the_workforce(
    stubbed: tuple[Any, Stubber], idp: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber = stubbed
    cognito, idp_stubber = idp
    calls = _record_calls(client, cognito)
    monkeypatch.setattr("time.sleep", lambda _seconds: None)
    stubber.add_response("list_workforces", {"Workforces": []}, {"MaxResults": 10})
    idp_stubber.add_response("create_user_pool_client", CLIENT_RESPONSE, CLIENT_REQUEST)
    stubber.add_response(
        "create_workforce",
        {"WorkforceArn": ARN.format("default")},
        {
            "WorkforceName": "default",
            "CognitoConfig": {"UserPool": "us-east-1_New", "ClientId": "newclient"},
            "SourceIpConfig": {"Cidrs": ["203.0.113.0/24"]},
        },
    )
    created = _workforce("default")
    created["CognitoConfig"] = {"UserPool": "us-east-1_New", "ClientId": "newclient"}
    stubber.add_response(
        "describe_workforce",
        {"Workforce": {**created, "Status": "Initializing"}},
        {"WorkforceName": "default"},
    )
    stubber.add_response("describe_workforce", {"Workforce": created}, {"WorkforceName": "default"})
    props = {**PROPS, "SourceIpConfig": {"Cidrs": ["203.0.113.0/24"]}}
    physical_id, data = pw.handle(
        {"RequestType": "Create", "ResourceProperties": props}, client, cognito
    )
    # The physical ID records the client it created, for Delete.
    assert physical_id == "created:default:newclient"
    assert data["Outcome"] == "created"
    assert (data["UserPoolId"], data["ClientId"]) == ("us-east-1_New", "newclient")
    assert calls[:3] == ["ListWorkforces", "CreateUserPoolClient", "CreateWorkforce"]


def test_create_deletes_its_client_when_the_workforce_cannot_be_created(
    stubbed: tuple[Any, Stubber], idp: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    cognito, idp_stubber = idp
    stubber.add_response("list_workforces", {"Workforces": []}, {"MaxResults": 10})
    idp_stubber.add_response("create_user_pool_client", CLIENT_RESPONSE, CLIENT_REQUEST)
    stubber.add_client_error(
        "create_workforce", service_error_code="ResourceLimitExceeded", http_status_code=400
    )
    idp_stubber.add_response("delete_user_pool_client", {}, DELETE_CLIENT)
    with pytest.raises(ClientError, match="ResourceLimitExceeded"):
        pw.handle({"RequestType": "Create", "ResourceProperties": PROPS}, client, cognito)


def test_create_fails_clearly_on_an_existing_oidc_workforce(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    existing = _workforce("corp", oidc=True)
    stubber.add_response("list_workforces", _listed([existing]), {"MaxResults": 10})
    stubber.add_response("describe_workforce", {"Workforce": existing}, {"WorkforceName": "corp"})
    with pytest.raises(pw.WorkforceError, match=r"'corp' in this Region uses OIDC sign-in"):
        pw.handle({"RequestType": "Create", "ResourceProperties": PROPS}, client)


def test_oidc_reuses_an_existing_oidc_workforce_and_refuses_a_cognito_one(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    oidc = _workforce("corp", oidc=True)
    stubber.add_response("list_workforces", _listed([oidc]), {"MaxResults": 10})
    stubber.add_response("describe_workforce", {"Workforce": oidc}, {"WorkforceName": "corp"})
    physical_id, data = pw.handle(
        {"RequestType": "Create", "ResourceProperties": OIDC_PROPS}, client
    )
    assert (physical_id, data["UserPoolId"]) == ("reused:corp", "")
    cognito = _workforce("console")
    stubber.add_response("list_workforces", _listed([cognito]), {"MaxResults": 10})
    stubber.add_response("describe_workforce", {"Workforce": cognito})
    with pytest.raises(pw.WorkforceError, match="uses COGNITO sign-in, not OIDC"):
        pw.handle({"RequestType": "Create", "ResourceProperties": OIDC_PROPS}, client)


def test_oidc_creates_with_the_secret_read_at_deploy_time(
    stubbed: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber = stubbed
    read: list[str] = []

    def secret(name: str) -> str:
        read.append(name)
        return "s3cret"

    monkeypatch.setattr(pw, "_secret", secret)
    stubber.add_response("list_workforces", {"Workforces": []}, {"MaxResults": 10})
    stubber.add_response(
        "create_workforce",
        {"WorkforceArn": ARN.format("default")},
        {"WorkforceName": "default", "OidcConfig": {**OIDC_CONFIG, "ClientSecret": "s3cret"}},
    )
    stubber.add_response("describe_workforce", {"Workforce": _workforce("default", oidc=True)})
    physical_id, _ = pw.handle({"RequestType": "Create", "ResourceProperties": OIDC_PROPS}, client)
    assert physical_id == "created:default"
    assert read == ["labeling/oidc"]


def test_create_reports_a_failed_workforce_and_deletes_it_then_its_client(
    stubbed: tuple[Any, Stubber], idp: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber = stubbed
    cognito, idp_stubber = idp
    calls = _record_calls(client, cognito)
    monkeypatch.setattr("time.sleep", lambda _seconds: None)
    stubber.add_response("list_workforces", {"Workforces": []}, {"MaxResults": 10})
    idp_stubber.add_response("create_user_pool_client", CLIENT_RESPONSE, CLIENT_REQUEST)
    stubber.add_response("create_workforce", {"WorkforceArn": ARN.format("default")})
    failed = {**_workforce("default", status="Failed"), "FailureReason": "bad client"}
    stubber.add_response("describe_workforce", {"Workforce": failed})
    stubber.add_response("delete_workforce", {}, {"WorkforceName": "default"})
    idp_stubber.add_response("delete_user_pool_client", {}, DELETE_CLIENT)
    with pytest.raises(pw.WorkforceError, match="failed: bad client"):
        pw.handle({"RequestType": "Create", "ResourceProperties": PROPS}, client, cognito)
    assert calls[-2:] == ["DeleteWorkforce", "DeleteUserPoolClient"]


def test_create_keeps_the_client_of_a_failed_workforce_it_cannot_delete(
    stubbed: tuple[Any, Stubber], idp: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never a workforce without its client: the error says to delete both."""
    client, stubber = stubbed
    cognito, idp_stubber = idp
    monkeypatch.setattr("time.sleep", lambda _seconds: None)
    stubber.add_response("list_workforces", {"Workforces": []}, {"MaxResults": 10})
    idp_stubber.add_response("create_user_pool_client", CLIENT_RESPONSE, CLIENT_REQUEST)
    stubber.add_response("create_workforce", {"WorkforceArn": ARN.format("default")})
    failed = {**_workforce("default", status="Failed"), "FailureReason": "bad client"}
    stubber.add_response("describe_workforce", {"Workforce": failed})
    stubber.add_client_error("delete_workforce", service_error_code="ThrottlingException")
    with pytest.raises(pw.WorkforceLeftError, match="failed: bad client; deleting it failed too"):
        pw.handle({"RequestType": "Create", "ResourceProperties": PROPS}, client, cognito)


def test_update_changes_ips_only_of_a_created_workforce_never_its_client(
    stubbed: tuple[Any, Stubber], idp: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "update_workforce",
        {"Workforce": _workforce("default")},
        {"WorkforceName": "default", "SourceIpConfig": {"Cidrs": []}},
    )
    stubber.add_response("describe_workforce", {"Workforce": _workforce("default")})
    # The idp Stubber has nothing queued: any call on the app client fails the test.
    event = {"RequestType": "Update", "PhysicalResourceId": "created:default:newclient"}
    physical_id, data = pw.handle({**event, "ResourceProperties": PROPS}, client, idp[0])
    assert (physical_id, data["Outcome"]) == ("created:default:newclient", "created")


def test_update_leaves_a_reused_workforce_alone(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "describe_workforce", {"Workforce": _workforce("corp")}, {"WorkforceName": "corp"}
    )
    event = {"RequestType": "Update", "PhysicalResourceId": "reused:corp"}
    physical_id, data = pw.handle({**event, "ResourceProperties": PROPS}, client)
    assert (physical_id, data["Outcome"]) == ("reused:corp", "reused")


def test_delete_removes_the_workforce_then_its_client(
    stubbed: tuple[Any, Stubber], idp: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    cognito, idp_stubber = idp
    calls = _record_calls(client, cognito)
    stubber.add_response("delete_workforce", {}, {"WorkforceName": "default"})
    idp_stubber.add_response("delete_user_pool_client", {}, DELETE_CLIENT)
    event = {"RequestType": "Delete", "PhysicalResourceId": "created:default:newclient"}
    pw.handle({**event, "ResourceProperties": PROPS}, client, cognito)
    assert calls == ["DeleteWorkforce", "DeleteUserPoolClient"]


def test_delete_removes_only_what_it_created(
    stubbed: tuple[Any, Stubber], idp: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    cognito = idp[0]
    # Created by an earlier version (its client was a template resource): workforce only.
    stubber.add_response("delete_workforce", {}, {"WorkforceName": "default"})
    event = {"RequestType": "Delete", "ResourceProperties": PROPS}
    pw.handle({**event, "PhysicalResourceId": "created:default"}, client, cognito)
    # A reused workforce: no call at all (the Stubbers fail on any unexpected call).
    pw.handle({**event, "PhysicalResourceId": "reused:corp"}, client, cognito)
    # A failed create that never got a physical ID: nothing to delete either.
    pw.handle({**event, "PhysicalResourceId": "PrivateWorkforce"}, client, cognito)


def test_delete_tolerates_a_workforce_and_client_already_gone(
    stubbed: tuple[Any, Stubber], idp: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    cognito, idp_stubber = idp
    stubber.add_client_error("delete_workforce", service_error_code="ResourceNotFound")
    idp_stubber.add_client_error(
        "delete_user_pool_client",
        service_error_code="ResourceNotFoundException",
        expected_params=DELETE_CLIENT,
    )
    event = {"RequestType": "Delete", "PhysicalResourceId": "created:default:newclient"}
    pw.handle({**event, "ResourceProperties": PROPS}, client, cognito)


def test_handler_reports_failure_to_cloudformation(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, str]] = []

    def boom(_event: dict[str, Any], _client: Any, _idp: Any) -> tuple[str, dict[str, str]]:
        raise pw.WorkforceError("no")

    monkeypatch.setattr(pw, "handle", boom)
    monkeypatch.setattr(pw, "_sagemaker", lambda: None)
    monkeypatch.setattr(pw, "_cognito", lambda: None)
    monkeypatch.setattr(
        pw, "_send", lambda _e, status, _p, _d, reason: sent.append((status, reason))
    )
    pw.handler({"RequestType": "Create"}, None)
    assert sent == [("FAILED", "WorkforceError: no")]
