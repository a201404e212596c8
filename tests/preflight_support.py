"""Offline AWS accounts for the preflight tests: real boto3 clients behind botocore Stubbers
(every stubbed response is validated against the service model, like AWS would shape it)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from cdk_llm_training.tools.preflight._aws import Context

ACCOUNT = "111122223333"
REGION = "us-east-1"


class StubbedAccount:
    """A client factory (``clients(service, region)``) whose clients are stubbed."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}
        self._stubs: dict[tuple[str, str], Stubber] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        key = (service, region or REGION)
        if key not in self._clients:
            client: Any = boto3.client(  # type: ignore[call-overload]
                service,
                region_name=key[1],
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            stub = Stubber(client)
            stub.activate()
            self._clients[key] = client
            self._stubs[key] = stub
        return self._clients[key]

    def stub(self, service: str, region: str | None = None) -> Stubber:
        self(service, region)
        return self._stubs[(service, region or REGION)]

    def respond(
        self, service: str, operation: str, response: dict[str, Any], **params: Any
    ) -> None:
        """Queue ``response`` for ``operation``; ``params``, when given, must match exactly."""
        self.stub(service, params.pop("region", None)).add_response(
            operation, response, params or None
        )

    def fail(
        self,
        service: str,
        operation: str,
        code: str,
        message: str = "",
        *,
        status: int = 400,
        region: str | None = None,
    ) -> None:
        self.stub(service, region).add_client_error(
            operation, service_error_code=code, service_message=message, http_status_code=status
        )

    def assert_done(self) -> None:
        for stub in self._stubs.values():
            stub.assert_no_pending_responses()

    def context(self, **kwargs: Any) -> Context:
        return Context(clients=self, account=ACCOUNT, region=REGION, **kwargs)


def quota(service: str, code: str, name: str, value: float) -> dict[str, Any]:
    return {
        "ServiceCode": service,
        "QuotaCode": code,
        "QuotaName": name,
        "Value": value,
        "Adjustable": True,
        "GlobalQuota": False,
    }


def availability(
    model_id: str,
    *,
    region: str = "AVAILABLE",
    entitlement: str = "AVAILABLE",
    authorization: str = "AUTHORIZED",
    agreement: str = "AVAILABLE",
) -> dict[str, Any]:
    return {
        "modelId": model_id,
        "agreementAvailability": {"status": agreement},
        "authorizationStatus": authorization,
        "entitlementAvailability": entitlement,
        "regionAvailability": region,
    }


def model_summary(model_id: str, customizations: list[str]) -> dict[str, Any]:
    return {
        "modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}",
        "modelId": model_id,
        "customizationsSupported": customizations,
    }


def identity() -> dict[str, Any]:
    return {
        "UserId": "AIDAEXAMPLE",
        "Account": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
    }
