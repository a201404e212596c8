"""The ``Custom::KubernetesManifests`` handler (the FSx volume apply), offline: the Kubernetes
API server is faked in its shapes (server-side apply PATCH, DELETE, ``Status`` bodies), and
CloudFormation's response URL is captured."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import pytest

from cdk_llm_training.assets.runtime import hyperpod_dependency_chart, kubernetes_apply
from cdk_llm_training.assets.runtime.hyperpod_dependency_chart import FAILED_CREATE_PREFIX
from cdk_llm_training.assets.runtime.kubernetes_apply import (
    APPLY_CONTENT_TYPE,
    FIELD_MANAGER,
    RESOURCE_TYPE,
    ManifestError,
    process,
)
from cdk_llm_training.config.hyperpod import FsxVolumeOptions
from cdk_llm_training.constructs.hyperpod.manifests import fsx_volume_manifests
from cdk_llm_training.constructs.hyperpod.volume_apply import manifest_with_namespace


def _manifest(**options: Any) -> str:
    opts = FsxVolumeOptions(**options)
    manifest = fsx_volume_manifests(
        file_system_id="fs-0123456789abcdef0",
        dns_name="fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com",
        mount_name="abcdefgh",
        options=opts,
    )
    return json.dumps(manifest_with_namespace(manifest, opts))


def _props(**options: Any) -> dict[str, str]:
    return {
        "ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:chart",
        "ClusterName": "training-eks",
        "ClusterEndpoint": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
        "ClusterCertificateAuthority": "LS0tLS1CRUdJTg==",
        "Manifest": _manifest(**options),
    }


@dataclass
class FakeApiServer:
    """Namespaces, PersistentVolumes and claims of one cluster. ``refuse``: HTTP status and
    message of every PATCH (an immutable-field refusal); ``unreachable``: every request
    raises the ``URLError`` of a cluster that is gone."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    refuse: tuple[int, str] | None = None
    unreachable: bool = False

    def request(
        self, method: str, path: str, body: dict[str, Any] | None, content_type: str
    ) -> tuple[int, dict[str, Any]]:
        if self.unreachable:
            raise urllib.error.URLError("timed out")
        self.calls.append((method, path))
        url = urllib.parse.urlsplit(path)
        assert url.path.startswith("/api/v1/"), path
        if method == "PATCH":
            assert content_type == APPLY_CONTENT_TYPE
            assert urllib.parse.parse_qs(url.query) == {
                "fieldManager": [FIELD_MANAGER],
                "force": ["true"],
            }
            assert body is not None
            assert url.path.rsplit("/", 1)[1] == body["metadata"]["name"]
            if "namespaces/" in url.path and "/persistentvolumeclaims/" in url.path:
                namespace = url.path.split("/")[4]
                assert namespace == body["metadata"]["namespace"]
                # A claim needs its namespace (the API answers 404 otherwise).
                if f"/api/v1/namespaces/{namespace}" not in self.objects and namespace != "default":
                    return 404, _status(404, f'namespaces "{namespace}" not found')
            if self.refuse is not None:
                return self.refuse[0], _status(*self.refuse)
            created = url.path not in self.objects
            self.objects[url.path] = body
            return (201 if created else 200), body
        if method == "DELETE":
            if self.objects.pop(url.path, None) is None:
                return 404, _status(404, "not found")
            return 200, _status(200, "deleted")
        raise AssertionError(method)


def _status(code: int, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }


PV = "/api/v1/persistentvolumes/fsx-pv"
PV_DATA = "/api/v1/persistentvolumes/fsx-pv-data"


def test_create_applies_namespace_then_volumes_and_claims() -> None:
    api = FakeApiServer()
    data = process("Create", _props(namespace="training"), "", lambda: api.request)
    assert [path for _, path in api.calls] == [
        "/api/v1/namespaces/training?fieldManager=cdk-llm-training&force=true",
        f"{PV}?fieldManager=cdk-llm-training&force=true",
        "/api/v1/namespaces/training/persistentvolumeclaims/fsx-claim?fieldManager=cdk-llm-training&force=true",
        f"{PV_DATA}?fieldManager=cdk-llm-training&force=true",
        "/api/v1/namespaces/training/persistentvolumeclaims/fsx-claim-data?fieldManager=cdk-llm-training&force=true",
    ]
    assert data["Applied"].split(",")[0] == "Namespace/training"
    assert api.objects[PV]["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert api.objects[PV]["spec"]["csi"]["volumeHandle"] == "fs-0123456789abcdef0"
    assert api.objects[PV_DATA]["spec"]["csi"]["readOnly"] is True


def test_default_namespace_is_never_applied() -> None:
    api = FakeApiServer()
    process("Create", _props(), "", lambda: api.request)
    assert not [p for p in api.objects if p == "/api/v1/namespaces/default"]
    assert set(api.objects) == {
        PV,
        PV_DATA,
        "/api/v1/namespaces/default/persistentvolumeclaims/fsx-claim",
        "/api/v1/namespaces/default/persistentvolumeclaims/fsx-claim-data",
    }


def test_apply_is_idempotent() -> None:
    api = FakeApiServer()
    process("Create", _props(), "", lambda: api.request)
    before = json.dumps(api.objects, sort_keys=True)
    process("Update", _props(), "training-eks/kubernetes-manifests", lambda: api.request)
    assert json.dumps(api.objects, sort_keys=True) == before


def test_update_removes_what_the_new_manifest_no_longer_has() -> None:
    api = FakeApiServer()
    old = _props()
    process("Create", old, "", lambda: api.request)
    new = _props(persistent_volume_name="lustre", read_only_data_directory=None)
    data = process(
        "Update", new, "training-eks/kubernetes-manifests", lambda: api.request, old_props=old
    )
    assert set(api.objects) == {
        "/api/v1/persistentvolumes/lustre",
        "/api/v1/namespaces/default/persistentvolumeclaims/fsx-claim",
    }
    assert data["Deleted"] == (
        "PersistentVolumeClaim/default/fsx-claim-data,PersistentVolume/fsx-pv,"
        "PersistentVolume/fsx-pv-data"
    )


def test_delete_removes_claims_then_volumes_and_keeps_the_namespace() -> None:
    api = FakeApiServer()
    props = _props(namespace="training")
    process("Create", props, "", lambda: api.request)
    api.calls.clear()
    process("Delete", props, "training-eks/kubernetes-manifests", lambda: api.request)
    assert [(m, p.rsplit("/", 2)[-2]) for m, p in api.calls] == [
        ("DELETE", "persistentvolumeclaims"),
        ("DELETE", "persistentvolumeclaims"),
        ("DELETE", "persistentvolumes"),
        ("DELETE", "persistentvolumes"),
    ]
    assert set(api.objects) == {"/api/v1/namespaces/training"}
    # Deleting again (a retried event) finds nothing and succeeds.
    assert process("Delete", props, "x", lambda: api.request) == {"Deleted": ""}


def test_delete_of_a_gone_cluster_or_a_failed_create_succeeds() -> None:
    gone = FakeApiServer(unreachable=True)
    assert process("Delete", _props(), "x", lambda: gone.request) == {"Deleted": ""}

    def never() -> Any:
        raise AssertionError("a failed Create leaves nothing to connect to")

    assert process("Delete", _props(), f"{FAILED_CREATE_PREFIX}req-1", never) == {}


def test_refusals_name_the_object_and_the_api_message() -> None:
    api = FakeApiServer(refuse=(422, "spec.persistentvolumesource: Forbidden: is immutable"))
    with pytest.raises(
        ManifestError, match=r"applying PersistentVolume/fsx-pv: HTTP 422 .*immutable"
    ):
        process("Create", _props(), "", lambda: api.request)


def test_unsupported_kinds_are_refused() -> None:
    props = {
        **_props(),
        "Manifest": json.dumps(
            {
                "kind": "List",
                "items": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}
                ],
            }
        ),
    }
    with pytest.raises(ManifestError, match="apps/v1/Deployment is not one of v1"):
        process("Create", props, "", lambda: FakeApiServer().request)


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def capture(event: Any, status: str, physical_id: str, **kwargs: Any) -> None:
        sent.append({"Status": status, "PhysicalResourceId": physical_id, **kwargs})

    monkeypatch.setattr(kubernetes_apply, "send_response", capture)
    monkeypatch.setattr(kubernetes_apply, "eks_token", lambda name, region: "k8s-aws-v1.x")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return sent


def _event(request_type: str, props: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResourceType": RESOURCE_TYPE,
        "ResourceProperties": props,
        "RequestId": "req-1",
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/Medium/1",
        "LogicalResourceId": "HyperPodFsxVolume",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/",
        **extra,
    }


def test_the_chart_function_routes_manifest_events_here(
    responses: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeApiServer()
    monkeypatch.setattr(kubernetes_apply, "connect", lambda *args: api.request)
    hyperpod_dependency_chart.handler(_event("Create", _props()), None)
    (answer,) = responses
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "training-eks/kubernetes-manifests"
    assert PV in api.objects


def test_a_failed_create_answers_failed_with_a_marked_physical_id(
    responses: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeApiServer(refuse=(403, "forbidden"))
    monkeypatch.setattr(kubernetes_apply, "connect", lambda *args: api.request)
    hyperpod_dependency_chart.handler(_event("Create", _props()), None)
    (answer,) = responses
    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == f"{FAILED_CREATE_PREFIX}req-1"
    assert "HTTP 403 forbidden" in answer["reason"]
