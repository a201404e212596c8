"""Whether and how a HyperPodEksCluster installs the HyperPod dependency Helm chart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Annotations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_llm_training.config.hyperpod import DependencyInstall, HyperPodClusterOptions
from cdk_llm_training.constructs.hyperpod.chart_install import HyperPodDependencyChart


def install_dependency_chart(
    scope: Construct,
    opts: HyperPodClusterOptions,
    *,
    eks_cluster: eks.CfnCluster | None,
    vpc: ec2.IVpc,
    subnet: ec2.ISubnet,
    security_groups: Sequence[ec2.ISecurityGroup],
    closed_network: bool,
    kubectl_layer: lambda_.ILayerVersion | None,
    depends_on: Sequence[Any],
    log_key: kms.IKey | None,
) -> HyperPodDependencyChart | None:
    """The in-stack chart install (``DependencyChart``) on a new EKS cluster, else None.

    ``eks_cluster`` is None with a brought EKS cluster: then the chart is the user's job
    (a warning says so unless ``install`` is ``preinstalled``).
    """
    chart_opts = opts.dependency_chart
    if eks_cluster is not None and chart_opts.install is DependencyInstall.IN_STACK:
        return HyperPodDependencyChart(
            scope,
            "DependencyChart",
            cluster=eks_cluster,
            kubernetes_version=opts.eks.kubernetes_version,
            options=chart_opts,
            vpc=vpc,
            subnets=[subnet],
            security_groups=security_groups,
            closed_network=closed_network,
            kubectl_layer=kubectl_layer,
            depends_on=depends_on,
            log_key=log_key,
        )
    if eks_cluster is None and chart_opts.install is DependencyInstall.IN_STACK:
        Annotations.of(scope).add_warning_v2(
            "cdk-llm-training/hyperpod-eks-cluster:noChartOnExistingCluster",
            "An existing EKS cluster: the construct installs no dependency chart on it. "
            "Install helm_chart/HyperPodHelmChart of aws/sagemaker-hyperpod-cli at "
            f"{chart_opts.revision} before deploying, and set "
            "dependency_chart.install='preinstalled' to silence this warning.",
        )
    elif chart_opts.install is DependencyInstall.PREINSTALLED and eks_cluster is not None:
        Annotations.of(scope).add_warning_v2(
            "cdk-llm-training/hyperpod-eks-cluster:preinstalledChartOnNewCluster",
            "dependency_chart.install=preinstalled with a new EKS cluster: nothing can have "
            "installed the HyperPod dependency chart before the HyperPod cluster is "
            "created; use in_stack unless the EKS cluster already exists.",
        )
    return None
