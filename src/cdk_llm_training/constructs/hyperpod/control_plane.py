"""The EKS orchestrator of a new HyperPodEksCluster: control plane, access entries, add-ons.

Every function creates its resources directly in the construct passed as ``scope`` (the
HyperPodEksCluster itself), so construct paths and logical IDs are those of one flat construct.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Annotations, Aws, CfnResource, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_llm_training.config.hyperpod import EndpointAccess, HyperPodClusterOptions
from cdk_llm_training.constructs._trust import (
    service_principal_from,
    source_conditions,
    this_account_arn,
)
from cdk_llm_training.constructs.acknowledgements import acknowledge
from cdk_llm_training.constructs.hyperpod.manifests import FSX_CSI_CONTROLLER_SERVICE_ACCOUNT

_CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
EARLY_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
"""DaemonSet add-ons: healthy without nodes, installed before the HyperPod cluster."""
LATE_ADDONS = ("coredns", "aws-fsx-csi-driver")
"""Add-ons with Deployments: they need nodes, so they follow the HyperPod cluster."""


def create_eks_cluster(
    scope: Construct,
    opts: HyperPodClusterOptions,
    *,
    vpc: ec2.IVpc,
    security_groups: Sequence[ec2.ISecurityGroup],
    secrets_key: kms.IKey,
    control_plane_subnets: ec2.SubnetSelection | None,
) -> eks.CfnCluster:
    """The control-plane role (``ClusterRole``) and the L1 EKS cluster (``Cluster``)."""
    eks_opts = opts.eks
    cluster_arns = this_account_arn("eks", "cluster/*")
    role = iam.Role(
        scope,
        "ClusterRole",
        # EKS sends aws:SourceArn / aws:SourceAccount when it assumes the cluster role
        # ("Cross-service confused deputy prevention in Amazon EKS").
        assumed_by=service_principal_from("eks.amazonaws.com", cluster_arns),
        description="EKS control-plane role of the HyperPod orchestrator cluster.",
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSClusterPolicy")],
    )
    role.assume_role_policy.add_statements(  # type: ignore[union-attr]
        iam.PolicyStatement(
            actions=["sts:TagSession"],
            principals=[iam.ServicePrincipal("eks.amazonaws.com")],
            conditions=source_conditions(cluster_arns),
        )
    )
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSClusterPolicy]",
        "AmazonEKSClusterPolicy is the AWS-maintained policy for the EKS service role; "
        "EKS adds permissions to it as the control plane gains features.",
    )
    selection = control_plane_subnets or ec2.SubnetSelection(
        subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
        if vpc.private_subnets
        else ec2.SubnetType.PRIVATE_ISOLATED
    )
    subnet_ids = vpc.select_subnets(**selection._values).subnet_ids
    if len(subnet_ids) < 2:
        raise ValueError(
            f"control_plane_subnets: EKS needs subnets in at least two AZs; the selection "
            f"gave {len(subnet_ids)} subnet(s)"
        )
    public = eks_opts.endpoint_access is EndpointAccess.PUBLIC_AND_PRIVATE
    cluster = eks.CfnCluster(
        scope,
        "Cluster",
        role_arn=role.role_arn,
        version=eks_opts.kubernetes_version,
        resources_vpc_config=eks.CfnCluster.ResourcesVpcConfigProperty(
            subnet_ids=subnet_ids,
            security_group_ids=[sg.security_group_id for sg in security_groups],
            endpoint_private_access=True,
            endpoint_public_access=public,
            public_access_cidrs=list(eks_opts.public_access_cidrs) if public else None,
        ),
        access_config=eks.CfnCluster.AccessConfigProperty(
            authentication_mode=eks_opts.authentication_mode,
            bootstrap_cluster_creator_admin_permissions=False,
        ),
        logging=eks.CfnCluster.LoggingProperty(
            cluster_logging=eks.CfnCluster.ClusterLoggingProperty(
                enabled_types=[
                    eks.CfnCluster.LoggingTypeConfigProperty(type=log_type)
                    for log_type in eks_opts.logging_types
                ]
            )
        ),
        encryption_config=[
            eks.CfnCluster.EncryptionConfigProperty(
                provider=eks.CfnCluster.ProviderProperty(key_arn=secrets_key.key_arn),
                resources=["secrets"],
            )
        ],
    )
    if public:
        acknowledge(
            cluster,
            "AwsSolutions-EKS1",
            "Public endpoint access was requested in config (endpoint_access="
            "public_and_private) and is limited to public_access_cidrs "
            f"{list(eks_opts.public_access_cidrs)}.",
        )
    return cluster


def create_access_entries(
    scope: Construct,
    opts: HyperPodClusterOptions,
    *,
    cluster: eks.CfnCluster,
    admin_roles: Sequence[iam.IRole],
) -> list[CfnResource]:
    """Cluster-admin access entries ``Admin<n>`` (config ARNs), ``AdminRole<n>`` (roles)."""
    principals: list[tuple[str, str]] = [
        (f"Admin{index}", arn) for index, arn in enumerate(opts.eks.admin_role_arns)
    ]
    principals += [(f"AdminRole{index}", role.role_arn) for index, role in enumerate(admin_roles)]
    if not principals:
        Annotations.of(scope).add_warning_v2(
            "cdk-llm-training/hyperpod-eks-cluster:noEksAdmin",
            "No EKS admin: set options.eks.admin_role_arns (or admin_roles) so someone can "
            "run kubectl against the cluster (the stack installs the HyperPod dependency "
            "chart itself).",
        )
    policy_arn = Fn.join(
        "",
        ["arn:", Aws.PARTITION, f":eks::aws:cluster-access-policy/{_CLUSTER_ADMIN_POLICY}"],
    )
    entries: list[CfnResource] = []
    for entry_id, principal in principals:
        entries.append(
            eks.CfnAccessEntry(
                scope,
                entry_id,
                cluster_name=cluster.ref,
                principal_arn=principal,
                type="STANDARD",
                access_policies=[
                    eks.CfnAccessEntry.AccessPolicyProperty(
                        policy_arn=policy_arn,
                        access_scope=eks.CfnAccessEntry.AccessScopeProperty(type="cluster"),
                    )
                ],
            )
        )
    return entries


class ManagedAddons:
    """Creates the EKS managed add-ons in ``scope`` and records them by name in ``addons``."""

    def __init__(
        self,
        scope: Construct,
        opts: HyperPodClusterOptions,
        *,
        cluster: eks.CfnCluster,
        addons: dict[str, eks.CfnAddon],
    ) -> None:
        self._scope = scope
        self._opts = opts
        self._cluster = cluster
        self.addons = addons

    def _addon(self, name: str, **extra: Any) -> eks.CfnAddon:
        construct_id = "Addon" + "".join(part.capitalize() for part in name.split("-"))
        addon = eks.CfnAddon(
            self._scope,
            construct_id,
            addon_name=name,
            cluster_name=self._cluster.ref,
            addon_version=self._opts.eks.addon_versions.get(name),
            resolve_conflicts="OVERWRITE",
            **extra,
        )
        self.addons[name] = addon
        return addon

    def create_early(self) -> list[CfnResource]:
        """The DaemonSet add-ons (:data:`EARLY_ADDONS`), before the HyperPod cluster."""
        return [self._addon(name) for name in EARLY_ADDONS]

    def create_late(self, hyperpod_cluster: CfnResource) -> iam.Role:
        """coredns and the FSx CSI driver after ``hyperpod_cluster``; returns the driver's
        Pod Identity role (``FsxCsiDriverRole``)."""
        fsx_csi_role = iam.Role(
            self._scope,
            "FsxCsiDriverRole",
            assumed_by=iam.ServicePrincipal("pods.eks.amazonaws.com"),
            description="EKS Pod Identity role of the FSx for Lustre CSI controller.",
        )
        fsx_csi_role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(
                actions=["sts:TagSession"],
                principals=[iam.ServicePrincipal("pods.eks.amazonaws.com")],
            )
        )
        late = [
            self._addon("coredns"),
            self._addon(
                "aws-fsx-csi-driver",
                pod_identity_associations=[
                    eks.CfnAddon.PodIdentityAssociationProperty(
                        role_arn=fsx_csi_role.role_arn,
                        service_account=FSX_CSI_CONTROLLER_SERVICE_ACCOUNT,
                    )
                ],
            ),
        ]
        for addon in late:
            addon.node.add_dependency(hyperpod_cluster)
        assert self.addons["aws-fsx-csi-driver"] is late[1]
        assert tuple(self.addons)[-2:] == LATE_ADDONS
        return fsx_csi_role
