"""CloudFormation custom resource: install the SageMaker HyperPod dependency Helm chart.

Runs in a Lambda function inside the training VPC (the EKS endpoint may be private), under a
role that has an EKS access entry. Standard library plus boto3/botocore only; ``helm`` comes
from a Lambda layer (``/opt/helm/helm``) or, in connected mode without a layer, from the Helm
release archive downloaded at deploy time and checked against its published SHA-256.

Resource properties (strings, as CloudFormation passes them):

- ``ClusterName``, ``ClusterEndpoint``, ``ClusterCertificateAuthority``: the EKS cluster.
- ``Release``, ``Namespace``: the Helm release.
- ``ChartRepository``, ``ChartRevision``, ``ChartPath``: the chart on GitHub; the archive of
  ``ChartRevision`` is downloaded and its embedded commit ID must equal ``ChartRevision``.
- ``ChartS3Uri``: instead, a packaged chart (``.tgz``, sub-charts vendored) in S3; the function
  then never reaches the internet.
- ``Values``: JSON object of extra Helm values.
- ``Manifests``: instead of a chart, a JSON list of Kubernetes objects installed as the
  release (:mod:`manifest_chart`).

The same function serves ``Custom::KubernetesManifests`` (:mod:`kubernetes_apply`): Kubernetes
objects the stack applies with the same access.

Create and Update run ``helm upgrade --install`` (idempotent: a retried or repeated event
converges on the same release); Delete runs ``helm uninstall`` and treats a missing release as
done. A Delete that follows a failed Create does nothing (the physical ID records the failure).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session

if TYPE_CHECKING or __package__:  # the installed package (tests, tools)
    from cdk_llm_training.assets.runtime.manifest_chart import write_manifest_chart
else:  # in Lambda, this folder is the code root
    from manifest_chart import write_manifest_chart

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

LAYER_HELM = "/opt/helm/helm"
"""Where the aws-cdk kubectl/helm Lambda layers put ``helm``."""
FAILED_CREATE_PREFIX = "failed-create:"
"""Physical-ID prefix of a Create that failed: its Delete has nothing to remove."""
TOKEN_PREFIX = "k8s-aws-v1."
LOG_STREAM_VARIABLE = "AWS_LAMBDA_LOG_STREAM_NAME"
_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPOSITORY_LINE = re.compile(r"^\s*repository:\s*[\"']?(https://[^\"'\s]+)", re.MULTILINE)
_HTTP_TIMEOUT_S = 120

Runner = Callable[[Sequence[str], Mapping[str, str]], str]


class ChartError(RuntimeError):
    """A problem with the chart source or the Helm run; the message goes to CloudFormation."""


# -- entry point ---------------------------------------------------------------------------


MANIFESTS_RESOURCE_TYPE = "Custom::KubernetesManifests"
"""Events of this resource type go to :mod:`kubernetes_apply` (same function, same access)."""


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: do the request, then always answer CloudFormation."""
    if event.get("ResourceType") == MANIFESTS_RESOURCE_TYPE:
        # Imported here: kubernetes_apply imports this module's EKS token and response code.
        if __package__:
            from cdk_llm_training.assets.runtime import kubernetes_apply
        else:  # in Lambda, this folder is the code root
            import kubernetes_apply  # type: ignore[import-not-found,no-redef]
        kubernetes_apply.handler(event, context)
        return
    request = event["RequestType"]
    props = event["ResourceProperties"]
    physical_id = event.get("PhysicalResourceId") or physical_id_of(props)
    LOGGER.info("request %s for %s", request, physical_id)
    try:
        data = process(request, props, physical_id)
        send_response(event, "SUCCESS", physical_id_of(props), data=data)
    except Exception as error:
        LOGGER.exception("%s failed", request)
        failed_id = (
            f"{FAILED_CREATE_PREFIX}{event['RequestId']}" if request == "Create" else physical_id
        )
        send_response(event, "FAILED", failed_id, reason=str(error)[:1000])


def process(
    request: str,
    props: Mapping[str, Any],
    physical_id: str,
    *,
    run: Runner | None = None,
    workdir: Path | None = None,
) -> dict[str, str]:
    """Install (Create, Update) or uninstall (Delete) the release; returns response data."""
    runner = run or run_command
    if request == "Delete" and physical_id.startswith(FAILED_CREATE_PREFIX):
        LOGGER.info("the Create failed; nothing to uninstall")
        return {}
    if request not in ("Create", "Update", "Delete"):
        raise ChartError(f"unknown RequestType {request!r}")
    with tempfile.TemporaryDirectory(dir=workdir) as temporary:
        root = Path(temporary)
        env = helm_environment(root)
        kubeconfig = write_kubeconfig(
            root / "kubeconfig",
            endpoint=str(props["ClusterEndpoint"]),
            certificate_authority=str(props["ClusterCertificateAuthority"]),
            token=eks_token(str(props["ClusterName"]), region_of(env)),
        )
        helm = ensure_helm(root)
        release, namespace = str(props["Release"]), str(props["Namespace"])
        base = [helm, "--kubeconfig", str(kubeconfig), "--namespace", namespace]
        if request == "Delete":
            uninstall(runner, base, release, env)
            return {}
        if "Manifests" in props:  # objects the stack renders, as a release of their own
            chart = write_manifest_chart(root, release, str(props["Manifests"]))
        else:
            chart = fetch_chart(props, root, runner, helm, env)
        values = root / "values.json"
        values.write_text(json.dumps(helm_values(props, region_of(env))), encoding="utf-8")
        runner([*base, "upgrade", "--install", release, str(chart), "--values", str(values)], env)
        return {"Release": release, "Revision": str(props.get("ChartRevision", ""))}


def physical_id_of(props: Mapping[str, Any]) -> str:
    """``<cluster>/<namespace>/<release>``: stable across updates of the chart itself."""
    return f"{props['ClusterName']}/{props['Namespace']}/{props['Release']}"


def region_of(env: Mapping[str, str]) -> str:
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise ChartError("AWS_REGION is not set")
    return region


# -- EKS authentication --------------------------------------------------------------------


def eks_token(cluster_name: str, region: str) -> str:
    """A bearer token for the EKS API: a presigned STS GetCallerIdentity URL carrying the
    ``x-k8s-aws-id`` header (what ``aws eks get-token`` returns), valid for 15 minutes."""
    session = botocore.session.get_session()
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    sts = session.create_client(
        "sts", region_name=region, endpoint_url=f"https://sts.{region}.{suffix}"
    )

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers["x-k8s-aws-id"] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url: str = sts.generate_presigned_url(  # type: ignore[attr-defined]
        "get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET"
    )
    encoded = base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")
    return TOKEN_PREFIX + encoded


def write_kubeconfig(path: Path, *, endpoint: str, certificate_authority: str, token: str) -> Path:
    """A kubeconfig (JSON is YAML) with one cluster, one user holding ``token``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "eks",
                "cluster": {
                    "server": endpoint,
                    "certificate-authority-data": certificate_authority,
                },
            }
        ],
        "users": [{"name": "installer", "user": {"token": token}}],
        "contexts": [{"name": "eks", "context": {"cluster": "eks", "user": "installer"}}],
        "current-context": "eks",
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    path.chmod(0o600)
    return path


# -- helm ----------------------------------------------------------------------------------


def helm_environment(root: Path) -> dict[str, str]:
    """The process environment with Helm's home, cache and config under ``root`` (the only
    writable place in Lambda is /tmp)."""
    env = dict(os.environ)
    for name in ("HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        folder = root / name.lower()
        folder.mkdir(exist_ok=True)
        env[name] = str(folder)
    return env


def ensure_helm(root: Path) -> str:
    """``helm`` from the layer, else the pinned release archive (``HELM_DOWNLOAD_URL`` with
    ``HELM_SHA256``), else an error naming both."""
    if Path(LAYER_HELM).is_file():
        return LAYER_HELM
    url, digest = os.environ.get("HELM_DOWNLOAD_URL"), os.environ.get("HELM_SHA256")
    if not url or not digest:
        raise ChartError(
            f"no helm: {LAYER_HELM} is missing (no kubectl/helm layer) and HELM_DOWNLOAD_URL "
            "/ HELM_SHA256 are not set"
        )
    archive = root / "helm.tar.gz"
    download(url, archive)
    check_sha256(archive, digest)
    with tarfile.open(archive) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/helm")), None)
        if member is None or not member.isfile():
            raise ChartError(f"{url} has no helm binary")
        target = root / "helm"
        with tar.extractfile(member) as source, target.open("wb") as sink:  # type: ignore[union-attr]
            shutil.copyfileobj(source, sink)
    target.chmod(0o755)
    return str(target)


def uninstall(runner: Runner, base: Sequence[str], release: str, env: Mapping[str, str]) -> None:
    """``helm uninstall``; a release that is not there is already uninstalled."""
    try:
        runner([*base, "uninstall", release], env)
    except ChartError as error:
        if "not found" in str(error):
            LOGGER.info("release %s is not installed", release)
            return
        raise


def helm_values(props: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The user's values with ``health-monitoring-agent.region`` set to ``region`` (the
    agent reports to the Region's SageMaker endpoints)."""
    raw = props.get("Values") or "{}"
    values = json.loads(raw) if isinstance(raw, str) else dict(raw)
    if not isinstance(values, dict):
        raise ChartError(f"Values must be a JSON object; got {type(values).__name__}")
    agent = values.setdefault("health-monitoring-agent", {})
    if not isinstance(agent, dict):
        raise ChartError("Values['health-monitoring-agent'] must be an object")
    agent.setdefault("region", region)
    return values


# -- the chart -----------------------------------------------------------------------------


def fetch_chart(
    props: Mapping[str, Any], root: Path, runner: Runner, helm: str, env: Mapping[str, str]
) -> Path:
    """The chart to install: the S3 package as is, or the GitHub chart directory at the
    verified commit with its sub-charts resolved."""
    s3_uri = props.get("ChartS3Uri")
    if s3_uri:
        bucket, key = parse_s3_uri(str(s3_uri))
        target = root / "chart.tgz"
        boto3.client("s3").download_file(bucket, key, str(target))
        return target
    repository = str(props["ChartRepository"])
    revision = str(props["ChartRevision"])
    chart_path = str(props["ChartPath"])
    if not _SHA.match(revision):
        raise ChartError(f"ChartRevision {revision!r} is not a 40-character commit SHA")
    archive = root / "source.tar.gz"
    download(f"https://github.com/{repository}/archive/{revision}.tar.gz", archive)
    chart = extract_chart(archive, revision, chart_path, root / "source")
    for index, url in enumerate(remote_repositories(chart / "Chart.yaml")):
        runner([helm, "repo", "add", f"dependency{index}", url, "--force-update"], env)
    runner([helm, "dependency", "update", str(chart)], env)
    return chart


def parse_s3_uri(uri: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)/(.+)$", uri)
    if match is None:
        raise ChartError(f"ChartS3Uri {uri!r} is not s3://bucket/key")
    return match.group(1), match.group(2)


def archive_commit(tar: tarfile.TarFile) -> str | None:
    """The commit ID ``git archive`` stores in the archive's pax global header (what
    ``git get-tar-commit-id`` prints)."""
    comment = tar.pax_headers.get("comment")
    return comment.strip() if comment else None


def extract_chart(archive: Path, revision: str, chart_path: str, destination: Path) -> Path:
    """Extract ``chart_path`` from a ``git archive`` tarball after checking that the
    archive is of ``revision``. Refuses links and paths outside the chart directory."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        commit = archive_commit(tar)
        if commit != revision:
            raise ChartError(
                f"the downloaded archive is of commit {commit!r}, not the pinned {revision!r}"
            )
        wanted = PurePosixPath(chart_path)
        selected: list[tarfile.TarInfo] = []
        for member in members:
            parts = PurePosixPath(member.name).parts
            relative = PurePosixPath(*parts[1:]) if len(parts) > 1 else PurePosixPath()
            if relative == wanted or wanted in relative.parents:
                if member.issym() or member.islnk() or ".." in relative.parts:
                    raise ChartError(f"refusing archive member {member.name!r}")
                selected.append(member)
        if not selected:
            raise ChartError(f"{chart_path!r} is not in the archive of {revision}")
        destination.mkdir(parents=True, exist_ok=True)
        for member in selected:
            relative = PurePosixPath(*PurePosixPath(member.name).parts[1:])
            target = destination.joinpath(*relative.parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, target.open("wb") as sink:  # type: ignore[union-attr]
                    shutil.copyfileobj(source, sink)
    chart = destination.joinpath(*wanted.parts)
    if not (chart / "Chart.yaml").is_file():
        raise ChartError(f"{chart_path!r} at {revision} has no Chart.yaml")
    return chart


def remote_repositories(chart_yaml: Path) -> list[str]:
    """The https repositories of the chart's dependencies (``helm dependency update`` needs
    them added; ``oci://`` and ``file://`` need nothing)."""
    found = _REPOSITORY_LINE.findall(chart_yaml.read_text(encoding="utf-8"))
    return list(dict.fromkeys(found))


# -- plumbing ------------------------------------------------------------------------------


def download(url: str, target: Path) -> None:
    if not url.startswith("https://"):
        raise ChartError(f"refusing to download from {url!r}: https only")
    LOGGER.info("downloading %s", url)
    response = urllib.request.urlopen(url, timeout=_HTTP_TIMEOUT_S)
    with response, target.open("wb") as sink:
        shutil.copyfileobj(response, sink)


def check_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected.lower():
        raise ChartError(f"{path.name}: SHA-256 {digest} does not match the pinned {expected}")


def run_command(command: Sequence[str], env: Mapping[str, str]) -> str:
    """Run ``command``; on failure raise :class:`ChartError` with the tail of its output."""
    LOGGER.info("running %s", " ".join(command[:4]))
    result = subprocess.run(
        list(command), env=dict(env), capture_output=True, text=True, timeout=780, check=False
    )
    LOGGER.info("%s", result.stdout[-4000:])
    if result.returncode != 0:
        raise ChartError(
            f"{' '.join(command[1:4]) if len(command) > 1 else command[0]} failed "
            f"({result.returncode}): {result.stderr.strip()[-800:]}"
        )
    return result.stdout


def send_response(
    event: Mapping[str, Any],
    status: str,
    physical_id: str,
    *,
    data: Mapping[str, str] | None = None,
    reason: str | None = None,
) -> None:
    """PUT the custom-resource response to CloudFormation's presigned URL."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason
            or f"See CloudWatch log stream {os.environ.get('AWS_LAMBDA_LOG_STREAM_NAME', '')}",
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": dict(data or {}),
        }
    ).encode("utf-8")
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as response:
        LOGGER.info("CloudFormation answered %s", response.status)
