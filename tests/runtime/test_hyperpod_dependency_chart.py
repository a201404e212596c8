"""The HyperPod dependency-chart custom resource handler, offline: Helm runs are recorded
(not executed), downloads are served from local archives built like ``git archive``'s."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from cdk_llm_training.assets.runtime import hyperpod_dependency_chart as chart_handler
from cdk_llm_training.assets.runtime.hyperpod_dependency_chart import (
    FAILED_CREATE_PREFIX,
    TOKEN_PREFIX,
    ChartError,
)

REVISION = "f57185916d4f7d2fa85caf6a03c04fd17172d330"
OTHER = "0" * 40
CHART_PATH = "helm_chart/HyperPodHelmChart"
CHART_YAML = """apiVersion: v2
name: hyperpod-helm-chart
dependencies:
  - name: cert-manager
    repository: oci://quay.io/jetstack/charts
  - name: training-operators
    repository: "file://charts/training-operators"
  - name: nvidia-device-plugin
    repository: https://nvidia.github.io/k8s-device-plugin
  - name: aws-efa-k8s-device-plugin
    repository: https://aws.github.io/eks-charts/
  - name: again
    repository: https://nvidia.github.io/k8s-device-plugin
"""


def _archive(
    path: Path,
    commit: str | None,
    files: Mapping[str, str],
    *,
    prefix: str = f"sagemaker-hyperpod-cli-{REVISION}",
    symlink: str | None = None,
) -> Path:
    """A tar.gz like ``git archive``'s: one top folder, the commit in the pax header."""
    headers = {"comment": commit} if commit else {}
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT, pax_headers=headers) as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{prefix}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if symlink is not None:
            info = tarfile.TarInfo(f"{prefix}/{symlink}")
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return path


CHART_FILES = {
    "README.md": "not part of the chart",
    f"{CHART_PATH}/Chart.yaml": CHART_YAML,
    f"{CHART_PATH}/values.yaml": "trainingOperators:\n  enabled: true\n",
    f"{CHART_PATH}/charts/training-operators/Chart.yaml": "name: training-operators\n",
    "helm_chart/HyperPodHelmChartOther/Chart.yaml": "name: other\n",
}


class Recorder:
    """Stands in for ``run_command``: records each command, fails the ones told to."""

    def __init__(self, fail_with: Mapping[str, str] | None = None) -> None:
        self.commands: list[list[str]] = []
        self.fail_with = dict(fail_with or {})

    def __call__(self, command: Sequence[str], env: Mapping[str, str]) -> str:
        self.commands.append(list(command))
        for word, message in self.fail_with.items():
            if word in command:
                raise ChartError(message)
        assert env["HELM_CACHE_HOME"].startswith(env["HOME"].rsplit("/", 1)[0])
        return ""


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """Region set, a layer helm 'present', downloads served from ``served``."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    helm = tmp_path / "layer-helm"
    helm.write_text("#!/bin/sh\n")
    monkeypatch.setattr(chart_handler, "LAYER_HELM", str(helm))
    served: dict[str, Path] = {}
    downloads: list[str] = []

    def fake_download(url: str, target: Path) -> None:
        downloads.append(url)
        target.write_bytes(served[url].read_bytes())

    monkeypatch.setattr(chart_handler, "download", fake_download)
    return {"served": served, "downloads": downloads, "helm": str(helm), "tmp": tmp_path}


def _props(**extra: str) -> dict[str, str]:
    return {
        "ClusterName": "hp-eks",
        "ClusterEndpoint": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
        "ClusterCertificateAuthority": "Q0VSVA==",
        "Release": "hyperpod-dependencies",
        "Namespace": "kube-system",
        "ChartRepository": "aws/sagemaker-hyperpod-cli",
        "ChartRevision": REVISION,
        "ChartPath": CHART_PATH,
        "Values": json.dumps({"mpi-operator": {"enabled": False}}),
        **extra,
    }


def _github_url(revision: str = REVISION) -> str:
    return f"https://github.com/aws/sagemaker-hyperpod-cli/archive/{revision}.tar.gz"


# -- create / update ------------------------------------------------------------------------


def test_create_installs_the_verified_chart_with_dependencies_and_region(
    fake_aws: dict[str, Any],
) -> None:
    fake_aws["served"][_github_url()] = _archive(fake_aws["tmp"] / "a.tgz", REVISION, CHART_FILES)
    runner = Recorder()
    seen: dict[str, Any] = {}

    def capture(command: Sequence[str], env: Mapping[str, str]) -> str:
        if "upgrade" in command:
            values = Path(command[command.index("--values") + 1])
            seen["values"] = json.loads(values.read_text())
            chart = Path(command[command.index("hyperpod-dependencies") + 1])
            seen["chart_files"] = sorted(
                str(p.relative_to(chart)) for p in chart.rglob("*") if p.is_file()
            )
            kubeconfig = Path(command[command.index("--kubeconfig") + 1])
            seen["kubeconfig"] = json.loads(kubeconfig.read_text())
        return runner(command, env)

    data = chart_handler.process("Create", _props(), "ignored", run=capture)
    assert data == {"Release": "hyperpod-dependencies", "Revision": REVISION}
    assert fake_aws["downloads"] == [_github_url()]
    helm = fake_aws["helm"]
    repo_adds = [c for c in runner.commands if c[1:3] == ["repo", "add"]]
    assert [c[4] for c in repo_adds] == [
        "https://nvidia.github.io/k8s-device-plugin",
        "https://aws.github.io/eks-charts/",
    ]
    assert runner.commands[len(repo_adds)][0:3] == [helm, "dependency", "update"]
    install = runner.commands[-1]
    assert install[0] == helm
    assert install[install.index("--namespace") + 1] == "kube-system"
    assert install[5:8] == ["upgrade", "--install", "hyperpod-dependencies"]
    assert seen["values"] == {
        "mpi-operator": {"enabled": False},
        "health-monitoring-agent": {"region": "us-east-1"},
    }
    assert seen["chart_files"] == [
        "Chart.yaml",
        "charts/training-operators/Chart.yaml",
        "values.yaml",
    ]
    (cluster,) = seen["kubeconfig"]["clusters"]
    assert cluster["cluster"]["server"] == "https://ABC.gr7.us-east-1.eks.amazonaws.com"
    token = seen["kubeconfig"]["users"][0]["user"]["token"]
    assert token.startswith(TOKEN_PREFIX)


def test_update_is_the_same_idempotent_upgrade_install(fake_aws: dict[str, Any]) -> None:
    fake_aws["served"][_github_url()] = _archive(fake_aws["tmp"] / "a.tgz", REVISION, CHART_FILES)
    runner = Recorder()
    chart_handler.process(
        "Update", _props(), "hp-eks/kube-system/hyperpod-dependencies", run=runner
    )
    assert runner.commands[-1][5:7] == ["upgrade", "--install"]


def test_archive_of_another_commit_is_refused(fake_aws: dict[str, Any]) -> None:
    fake_aws["served"][_github_url()] = _archive(fake_aws["tmp"] / "a.tgz", OTHER, CHART_FILES)
    runner = Recorder()
    with pytest.raises(ChartError, match=f"is of commit '{OTHER}', not the pinned '{REVISION}'"):
        chart_handler.process("Create", _props(), "x", run=runner)
    assert runner.commands == []


def test_archive_without_commit_id_is_refused(fake_aws: dict[str, Any]) -> None:
    fake_aws["served"][_github_url()] = _archive(fake_aws["tmp"] / "a.tgz", None, CHART_FILES)
    with pytest.raises(ChartError, match="is of commit None"):
        chart_handler.process("Create", _props(), "x", run=Recorder())


def test_links_inside_the_chart_are_refused(fake_aws: dict[str, Any]) -> None:
    fake_aws["served"][_github_url()] = _archive(
        fake_aws["tmp"] / "a.tgz", REVISION, CHART_FILES, symlink=f"{CHART_PATH}/evil"
    )
    with pytest.raises(ChartError, match="refusing archive member"):
        chart_handler.process("Create", _props(), "x", run=Recorder())


def test_missing_chart_path_is_an_error(fake_aws: dict[str, Any]) -> None:
    fake_aws["served"][_github_url()] = _archive(
        fake_aws["tmp"] / "a.tgz", REVISION, {"README.md": "x"}
    )
    with pytest.raises(ChartError, match="is not in the archive"):
        chart_handler.process("Create", _props(), "x", run=Recorder())


def test_s3_package_is_installed_without_internet(
    fake_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[tuple[str, str]] = []

    class FakeS3:
        def download_file(self, bucket: str, key: str, target: str) -> None:
            fetched.append((bucket, key))
            Path(target).write_bytes(b"packaged chart")

    monkeypatch.setattr("boto3.client", lambda service: FakeS3())
    runner = Recorder()
    props = _props(ChartS3Uri="s3://charts-bucket/hyperpod/chart-0.1.0.tgz")
    chart_handler.process("Create", props, "x", run=runner)
    assert fetched == [("charts-bucket", "hyperpod/chart-0.1.0.tgz")]
    assert fake_aws["downloads"] == []
    assert len(runner.commands) == 1
    assert runner.commands[0][5:8] == ["upgrade", "--install", "hyperpod-dependencies"]
    assert runner.commands[0][8].endswith("chart.tgz")


def test_values_must_be_an_object(fake_aws: dict[str, Any]) -> None:
    fake_aws["served"][_github_url()] = _archive(fake_aws["tmp"] / "a.tgz", REVISION, CHART_FILES)
    with pytest.raises(ChartError, match="Values must be a JSON object; got list"):
        chart_handler.process("Create", _props(Values="[1]"), "x", run=Recorder())


# -- delete -----------------------------------------------------------------------------


def test_delete_uninstalls(fake_aws: dict[str, Any]) -> None:
    runner = Recorder()
    chart_handler.process(
        "Delete", _props(), "hp-eks/kube-system/hyperpod-dependencies", run=runner
    )
    (command,) = runner.commands
    assert command[5:7] == ["uninstall", "hyperpod-dependencies"]
    assert fake_aws["downloads"] == []


def test_delete_of_a_missing_release_succeeds(fake_aws: dict[str, Any]) -> None:
    runner = Recorder(
        fail_with={"uninstall": "Error: uninstall: Release not loaded: release: not found"}
    )
    chart_handler.process(
        "Delete", _props(), "hp-eks/kube-system/hyperpod-dependencies", run=runner
    )
    assert len(runner.commands) == 1


def test_delete_fails_on_other_errors(fake_aws: dict[str, Any]) -> None:
    runner = Recorder(fail_with={"uninstall": "Kubernetes cluster unreachable"})
    with pytest.raises(ChartError, match="unreachable"):
        chart_handler.process("Delete", _props(), "hp-eks/kube-system/x", run=runner)


def test_delete_after_a_failed_create_does_nothing(fake_aws: dict[str, Any]) -> None:
    runner = Recorder()
    chart_handler.process("Delete", _props(), f"{FAILED_CREATE_PREFIX}req-1", run=runner)
    assert runner.commands == []


# -- helm binary ----------------------------------------------------------------------------


def test_helm_is_downloaded_and_checked_without_a_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "helm.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"#!/bin/sh\necho helm\n"
        info = tarfile.TarInfo("linux-amd64/helm")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    digest = __import__("hashlib").sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(chart_handler, "LAYER_HELM", str(tmp_path / "absent"))
    monkeypatch.setenv("HELM_DOWNLOAD_URL", "https://example.invalid/helm.tar.gz")
    monkeypatch.setenv("HELM_SHA256", digest)
    monkeypatch.setattr(
        chart_handler, "download", lambda url, target: target.write_bytes(archive.read_bytes())
    )
    work = tmp_path / "work"
    work.mkdir()
    helm = Path(chart_handler.ensure_helm(work))
    assert helm.read_bytes() == b"#!/bin/sh\necho helm\n"
    monkeypatch.setenv("HELM_SHA256", "0" * 64)
    with pytest.raises(ChartError, match="does not match the pinned"):
        chart_handler.ensure_helm(tmp_path)


def test_no_layer_and_no_download_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chart_handler, "LAYER_HELM", str(tmp_path / "absent"))
    monkeypatch.delenv("HELM_DOWNLOAD_URL", raising=False)
    with pytest.raises(ChartError, match="no helm"):
        chart_handler.ensure_helm(tmp_path)


# -- token and responses ----------------------------------------------------------------


def test_eks_token_is_a_presigned_get_caller_identity_for_the_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    token = chart_handler.eks_token("hp-eks", "eu-west-1")
    assert token.startswith(TOKEN_PREFIX)
    encoded = token[len(TOKEN_PREFIX) :]
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    parsed = urllib.parse.urlparse(url)
    query = urllib.parse.parse_qs(parsed.query)
    assert parsed.netloc == "sts.eu-west-1.amazonaws.com"
    assert query["Action"] == ["GetCallerIdentity"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")


def test_handler_answers_cloudformation_on_success_and_failure(
    fake_aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []

    def fake_send(event: Any, status: str, physical_id: str, **kwargs: Any) -> None:
        sent.append({"status": status, "id": physical_id, **kwargs})

    monkeypatch.setattr(chart_handler, "send_response", fake_send)
    monkeypatch.setattr(chart_handler, "run_command", Recorder())
    event = {
        "RequestType": "Delete",
        "RequestId": "req-9",
        "ResourceProperties": _props(),
        "PhysicalResourceId": "hp-eks/kube-system/hyperpod-dependencies",
    }
    chart_handler.handler(event, None)
    assert sent[-1] == {
        "status": "SUCCESS",
        "id": "hp-eks/kube-system/hyperpod-dependencies",
        "data": {},
    }
    fake_aws["served"][_github_url()] = _archive(fake_aws["tmp"] / "a.tgz", OTHER, CHART_FILES)
    chart_handler.handler({**event, "RequestType": "Create", "PhysicalResourceId": None}, None)
    assert sent[-1]["status"] == "FAILED"
    assert sent[-1]["id"] == f"{FAILED_CREATE_PREFIX}req-9"
    assert "not the pinned" in sent[-1]["reason"]


def test_a_real_git_archive_carries_the_commit_id(tmp_path: Path) -> None:
    """``git archive`` (what GitHub's archive endpoint serves) writes the commit ID into the
    pax header that :func:`archive_commit` reads."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "PATH": "/usr/bin:/bin",
    }
    (repo / CHART_PATH).mkdir(parents=True)
    (repo / CHART_PATH / "Chart.yaml").write_text("name: x\n")
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "c"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True, env=env)
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = tmp_path / "a.tar.gz"
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "archive",
            "--format=tar.gz",
            f"--prefix=repo-{commit}/",
            "-o",
            str(archive),
            commit,
        ],
        check=True,
        env=env,
    )
    chart = chart_handler.extract_chart(archive, commit, CHART_PATH, tmp_path / "out")
    assert (chart / "Chart.yaml").read_text() == "name: x\n"
