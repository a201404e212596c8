"""The HyperPod run controller's Kubernetes client: the request it sends (endpoint, method,
bearer token from the EKS token, JSON body, the cluster CA as trust anchor) and how it reads
answers and API errors. The network is faked at ``urllib.request.urlopen``."""

from __future__ import annotations

import base64
import io
import json
import ssl
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from cdk_llm_training.assets.runtime import cluster_run


class _Response(io.BytesIO):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body).encode())
        self.status = status


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = []
    monkeypatch.setenv("CLUSTER_ENDPOINT", "https://abc.gr7.us-east-1.eks.amazonaws.com")
    monkeypatch.setenv("CLUSTER_CA", base64.b64encode(b"PEM OF THE CLUSTER CA").decode())
    monkeypatch.setenv("CLUSTER_NAME", "training")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setattr(cluster_run, "eks_token", lambda name, region: f"k8s-aws-v1.{name}")

    def context(*, cafile: str) -> str:
        requests.append({"ca": Path(cafile).read_bytes()})
        return "context"

    def urlopen(request: Any, *, context: str, timeout: int) -> _Response:
        requests.append(
            {
                "url": request.full_url,
                "method": request.get_method(),
                "authorization": request.get_header("Authorization"),
                "body": json.loads(request.data) if request.data else None,
                "context": context,
            }
        )
        if request.get_method() == "DELETE":
            raise urllib.error.HTTPError(
                request.full_url,
                404,
                "Not Found",
                Message(),
                io.BytesIO(b'{"kind":"Status","code":404}'),
            )
        return _Response(201, {"kind": "Job"})

    monkeypatch.setattr(ssl, "create_default_context", context)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return requests


def test_requests_carry_the_eks_token_and_trust_the_cluster_ca(sent: list[dict[str, Any]]) -> None:
    request = cluster_run.open_cluster()
    assert request("POST", "/apis/batch/v1/namespaces/default/jobs", {"kind": "Job"}) == (
        201,
        {"kind": "Job"},
    )
    assert sent[0] == {"ca": b"PEM OF THE CLUSTER CA"}
    assert sent[1] == {
        "url": "https://abc.gr7.us-east-1.eks.amazonaws.com/apis/batch/v1/namespaces/default/jobs",
        "method": "POST",
        "authorization": "Bearer k8s-aws-v1.training",
        "body": {"kind": "Job"},
        "context": "context",
    }


def test_api_errors_are_answers_not_exceptions(sent: list[dict[str, Any]]) -> None:
    request = cluster_run.open_cluster()
    assert request("DELETE", "/apis/batch/v1/namespaces/default/jobs/x", None) == (
        404,
        {"kind": "Status", "code": 404},
    )
