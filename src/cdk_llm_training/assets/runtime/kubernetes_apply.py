"""CloudFormation custom resource ``Custom::KubernetesManifests``: apply Kubernetes objects to
the EKS cluster at deploy time (the FSx for Lustre PersistentVolumes and claims pods mount,
and their namespace).

Served by the function that installs the HyperPod dependency chart (inside the training VPC,
with a cluster-scoped admin access entry): its handler passes events of this resource type
here. Standard library plus botocore only.

Resource properties (strings, as CloudFormation passes them): ``ClusterName``,
``ClusterEndpoint``, ``ClusterCertificateAuthority`` (base64 PEM) and ``Manifest`` (a JSON
``v1`` ``List``; supported kinds: :data:`OBJECT_PATHS`).

- Create and Update: server-side apply of every item in order (``PATCH`` with
  ``application/apply-patch+yaml``, field manager :data:`FIELD_MANAGER`, ``force=true``):
  creates what is missing, updates what differs, and converges when retried. A change the API
  refuses (the volume source of a bound PersistentVolume is immutable) fails the update with
  the API server's message. An Update then deletes the claims and volumes the previous
  manifest had and the new one has not (a renamed volume).
- Delete: deletes the claims and volumes (claims first), never a namespace; a missing object
  is already deleted, and an unreachable API server (the cluster is gone) leaves nothing to
  delete. Volumes have ``persistentVolumeReclaimPolicy: Retain``: deleting them leaves the
  file system and its data alone. A Delete that follows a failed Create does nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # imported from the installed package (tests, tools)
    from cdk_llm_training.assets.runtime.hyperpod_dependency_chart import (
        FAILED_CREATE_PREFIX,
        eks_token,
        region_of,
        send_response,
    )
else:  # in Lambda, this folder is the code root
    from hyperpod_dependency_chart import (
        FAILED_CREATE_PREFIX,
        eks_token,
        region_of,
        send_response,
    )

LOGGER = logging.getLogger()

RESOURCE_TYPE = "Custom::KubernetesManifests"
"""CloudFormation type of the resource (the construct and the rule pack use it)."""
FIELD_MANAGER = "cdk-llm-training"
"""Server-side apply field manager: the owner of the fields this resource sets."""
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
"""Server-side apply's content type (JSON is YAML)."""
OBJECT_PATHS: dict[str, str] = {
    "Namespace": "/api/v1/namespaces/{name}",
    "PersistentVolume": "/api/v1/persistentvolumes/{name}",
    "PersistentVolumeClaim": "/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}",
}
"""REST path of each supported ``v1`` kind."""
DELETED_KINDS = ("PersistentVolumeClaim", "PersistentVolume")
"""Kinds a Delete removes, in this order (a namespace may hold more than this stack's)."""
_HTTP_TIMEOUT_S = 30

Request = Callable[[str, str, dict[str, Any] | None, str], tuple[int, dict[str, Any]]]
"""(method, path with query, body, content type) -> (HTTP status, JSON body)."""


class ManifestError(RuntimeError):
    """A manifest the resource cannot apply, or an API refusal; goes to CloudFormation."""


def connect(endpoint: str, certificate_authority: str, token: str) -> Request:
    """A request function for the API server at ``endpoint`` with a bearer ``token``."""
    ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)  # noqa: SIM115
    with ca_file:
        ca_file.write(base64.b64decode(certificate_authority))
    context = ssl.create_default_context(cafile=ca_file.name)

    def request(
        method: str, path: str, body: dict[str, Any] | None, content_type: str
    ) -> tuple[int, dict[str, Any]]:
        http = urllib.request.Request(
            f"{endpoint}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(http, context=context, timeout=_HTTP_TIMEOUT_S) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            text = error.read() or b"{}"
            try:
                return error.code, json.loads(text)
            except json.JSONDecodeError:
                return error.code, {"message": text.decode(errors="replace")[:500]}

    return request


def objects_of(manifest: str) -> list[dict[str, Any]]:
    """The items of the ``List`` in ``manifest``, each checked to be a supported kind."""
    document = json.loads(manifest)
    if not isinstance(document, dict) or document.get("kind") != "List":
        raise ManifestError("Manifest must be a JSON Kubernetes List")
    items: list[dict[str, Any]] = document.get("items", [])
    for item in items:
        kind = item.get("kind")
        if item.get("apiVersion") != "v1" or kind not in OBJECT_PATHS:
            raise ManifestError(
                f"Manifest item {item.get('apiVersion')}/{kind} is not one of v1 "
                f"{sorted(OBJECT_PATHS)}"
            )
    return items


def object_path(item: Mapping[str, Any]) -> str:
    """The REST path of ``item`` (without query)."""
    metadata = item["metadata"]
    return OBJECT_PATHS[item["kind"]].format(
        name=metadata["name"], namespace=metadata.get("namespace", "")
    )


def reference(item: Mapping[str, Any]) -> str:
    """``Kind/namespace/name`` (``Kind/name`` for cluster-scoped objects)."""
    metadata = item["metadata"]
    parts = [item["kind"], metadata.get("namespace"), metadata["name"]]
    return "/".join(p for p in parts if p)


def apply(items: list[dict[str, Any]], request: Request) -> list[str]:
    """Server-side apply every item in order; returns their references."""
    query = urllib.parse.urlencode({"fieldManager": FIELD_MANAGER, "force": "true"})
    applied = []
    for item in items:
        status, answer = request("PATCH", f"{object_path(item)}?{query}", item, APPLY_CONTENT_TYPE)
        if status not in (200, 201):
            raise ManifestError(
                f"applying {reference(item)}: HTTP {status} {answer.get('message', answer)}"
            )
        applied.append(reference(item))
        LOGGER.info("applied %s", reference(item))
    return applied


def delete(items: list[dict[str, Any]], request: Request) -> list[str]:
    """Delete the claims, then the volumes, of ``items``; returns what was deleted."""
    deleted = []
    for kind in DELETED_KINDS:
        for item in (i for i in items if i["kind"] == kind):
            status, answer = request("DELETE", object_path(item), None, "application/json")
            if status in (200, 202):
                deleted.append(reference(item))
            elif status != 404:
                raise ManifestError(
                    f"deleting {reference(item)}: HTTP {status} {answer.get('message', answer)}"
                )
    return deleted


def physical_id_of(props: Mapping[str, Any]) -> str:
    """``<cluster>/kubernetes-manifests``: stable across changes of the objects, so renaming
    one is an Update (which removes the old object), not a replacement."""
    return f"{props['ClusterName']}/kubernetes-manifests"


def stale(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects of ``old`` that ``new`` no longer has."""
    kept = {reference(i) for i in new}
    return [i for i in old if reference(i) not in kept]


def process(
    request_type: str,
    props: Mapping[str, Any],
    physical_id: str,
    open_api: Callable[[], Request],
    old_props: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Apply (Create, Update: then delete what the old manifest had and the new one has not)
    or delete (Delete) the manifest's objects."""
    if request_type == "Delete" and physical_id.startswith(FAILED_CREATE_PREFIX):
        LOGGER.info("the Create failed; nothing to delete")
        return {}
    if request_type not in ("Create", "Update", "Delete"):
        raise ManifestError(f"unknown RequestType {request_type!r}")
    items = objects_of(str(props["Manifest"]))
    request = open_api()
    if request_type == "Delete":
        try:
            return {"Deleted": ",".join(delete(items, request))}
        except OSError as error:  # URLError, timeouts: the cluster is already gone
            LOGGER.warning("the API server is unreachable (%s); nothing left to delete", error)
            return {"Deleted": ""}
    data = {"Applied": ",".join(apply(items, request))}
    if request_type == "Update" and old_props is not None and old_props.get("Manifest"):
        removed = delete(stale(objects_of(str(old_props["Manifest"])), items), request)
        data["Deleted"] = ",".join(removed)
    return data


def handler(event: dict[str, Any], _context: Any) -> None:
    """Do the request, then always answer CloudFormation."""
    request_type = event["RequestType"]
    props = event["ResourceProperties"]
    physical_id = event.get("PhysicalResourceId") or physical_id_of(props)

    def open_api() -> Request:
        token = eks_token(str(props["ClusterName"]), region_of(os.environ))
        return connect(
            str(props["ClusterEndpoint"]), str(props["ClusterCertificateAuthority"]), token
        )

    try:
        data = process(
            request_type, props, physical_id, open_api, event.get("OldResourceProperties")
        )
        new_id = physical_id if request_type == "Delete" else physical_id_of(props)
        send_response(event, "SUCCESS", new_id, data=data)
    except Exception as error:
        LOGGER.exception("%s failed", request_type)
        failed_id = (
            f"{FAILED_CREATE_PREFIX}{event['RequestId']}"
            if request_type == "Create"
            else physical_id
        )
        send_response(event, "FAILED", failed_id, reason=str(error)[:1000])
