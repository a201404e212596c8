"""Options of a SageMaker HyperPod cluster orchestrated by Amazon EKS (plain data).

Pure Python (no aws_cdk import): the planner and the CLI can read and validate these models.
Rules that need the instance catalog (accelerator counts, EFA, Trainium vs NVIDIA mixes) are
checked by :func:`validate_instance_groups`, which the construct calls at synth time.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.instances import (
    InstanceCatalog,
    InstanceSpec,
    default_instance_catalog,
)

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

DEFAULT_HELM_CHART_REVISION = "bb6a9f9534217c55a5806ae968e1dd8b285d4b8c"
"""Commit of aws/sagemaker-hyperpod-cli whose ``helm_chart/HyperPodHelmChart`` AWS's own
HyperPod CloudFormation templates install (pinned so a deploy is repeatable)."""

_INSTANCE_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ML_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$")
_ADDON_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-eksbuild\.\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_TRAINING_PLAN_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:training-plan/[a-zA-Z0-9-]+$"
)


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

    WAIT_FOR_SIGNAL = "wait_for_signal"
    """The stack waits (a CloudFormation wait condition) until the shipped command has
    installed the chart and signalled. Default."""
    PREINSTALLED = "preinstalled"
    """The chart is already installed (an existing EKS cluster, or a later deploy)."""


class InstanceGroupOptions(FrozenModel):
    """One HyperPod instance group.

    ``instance_type`` uses SageMaker naming (``ml.p5.48xlarge``). Accelerated types must be in
    the instance catalog unless ``allow_uncataloged_instance_type`` is set; general-purpose
    types (``ml.m5.2xlarge``) are not in the catalog and form CPU groups (system pods).
    """

    name: str
    instance_type: str
    instance_count: int = Field(ge=0, le=4096)
    ebs_volume_size_gb: int = Field(default=500, ge=1, le=16384)
    """Extra EBS volume per instance, mounted by HyperPod at /opt/sagemaker (GB)."""
    threads_per_core: Literal[1, 2] = 1
    deep_health_checks: tuple[DeepHealthCheck, ...] | None = None
    """Default: both checks on accelerator groups, none on CPU groups."""
    training_plan_arn: str | None = None
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

    @field_validator("instance_type")
    @classmethod
    def _check_instance_type(cls, value: str) -> str:
        if not _ML_INSTANCE_TYPE.match(value):
            raise ValueError(
                f"instance_type {value!r} must use SageMaker naming 'ml.<family>.<size>', "
                "for example 'ml.p5.48xlarge'"
            )
        return value

    @field_validator("training_plan_arn")
    @classmethod
    def _check_training_plan(cls, value: str | None) -> str | None:
        if value is not None and not _TRAINING_PLAN_ARN.match(value):
            raise ValueError(
                f"training_plan_arn {value!r} must look like "
                "'arn:aws:sagemaker:<region>:<account>:training-plan/<name>'"
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
            instance_count=2,
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
    admin_role_arns: tuple[str, ...] = ()
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

    @field_validator("admin_role_arns")
    @classmethod
    def _check_admins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _ROLE_ARN.match(arn):
                raise ValueError(
                    f"admin_role_arns entry {arn!r} must be an IAM role ARN "
                    "'arn:aws:iam::<account>:role/<name>'"
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
    storage_capacity_gib: int = Field(default=1200, ge=1200)
    """Capacity written into the PersistentVolume (informational for static volumes)."""
    mount_path: str = "/fsx"
    """Where training pods mount the volume; data under /fsx/data, checkpoints under
    /fsx/checkpoints."""

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

    Defaults: one ``ml.m5.2xlarge`` system node plus 2 x ``ml.p5.48xlarge`` GPU workers,
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
    dependency_install: DependencyInstall = DependencyInstall.WAIT_FOR_SIGNAL
    dependency_timeout_minutes: int = Field(default=120, ge=10, le=720)
    """How long the stack waits for the dependency-chart signal (CloudFormation max 12 h)."""
    helm_chart_revision: str = DEFAULT_HELM_CHART_REVISION
    """Commit of the HyperPod dependency Helm chart the install command checks out."""
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

    @field_validator("helm_chart_revision")
    @classmethod
    def _check_revision(cls, value: str) -> str:
        if not re.match(r"^[0-9a-f]{40}$", value):
            raise ValueError(
                f"helm_chart_revision {value!r} must be a full 40-character git commit SHA"
            )
        return value

    @model_validator(mode="after")
    def _check_unique_group_names(self) -> HyperPodClusterOptions:
        names = [group.name for group in self.instance_groups]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"instance group names must be unique; repeated: {duplicates}")
        return self

    @property
    def total_instance_count(self) -> int:
        """Instances across every group."""
        return sum(group.instance_count for group in self.instance_groups)


class ResolvedInstanceGroup(FrozenModel):
    """An instance group with the catalog facts the construct needs."""

    options: InstanceGroupOptions
    spec: InstanceSpec | None
    accelerated: bool
    deep_health_checks: tuple[DeepHealthCheck, ...]


@cache
def hyperpod_instance_types() -> frozenset[str]:
    """Instance types a HyperPod instance group accepts (the SageMaker API's
    ``ClusterInstanceType`` values, shipped in ``data/hyperpod_instance_types.json``)."""
    text = (
        resources.files("cdk_llm_training.config")
        .joinpath("data/hyperpod_instance_types.json")
        .read_text()
    )
    return frozenset(json.loads(text)["instance_types"])


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
