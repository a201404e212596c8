"""HyperPodEksCluster: the construct and its ``AWS::SageMaker::Cluster``.

The parts live in sibling modules (see the package docstring); each creates its resources
directly in this construct, so construct paths and logical IDs are those of one construct.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Annotations, Aws, CfnResource, CustomResource, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_eks_v2 as eks_v2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from cdk_llm_training.assets.lifecycle_scripts import HYPERPOD_ON_CREATE
from cdk_llm_training.config.catalogs.instances import InstanceCatalog
from cdk_llm_training.config.hyperpod import HyperPodClusterOptions
from cdk_llm_training.constructs._bring_your_own import none_with, not_both
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.hyperpod.addons import HyperPodAddons, add_hyperpod_addons
from cdk_llm_training.constructs.hyperpod.chart_install import HyperPodDependencyChart
from cdk_llm_training.constructs.hyperpod.control_plane import (
    ManagedAddons,
    create_access_entries,
    create_eks_cluster,
)
from cdk_llm_training.constructs.hyperpod.dependency_chart import install_dependency_chart
from cdk_llm_training.constructs.hyperpod.execution_role import create_execution_role
from cdk_llm_training.constructs.hyperpod.fsx_volume import fsx_volume_manifest
from cdk_llm_training.constructs.hyperpod.lifecycle import (
    LIFECYCLE_PREFIX,
    create_lifecycle_bucket,
    deploy_lifecycle_scripts,
)
from cdk_llm_training.constructs.hyperpod.validation import validate_cluster_inputs
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.training_file_system.reference import LustreFileSystemLike


@jsii.implements(ec2.IConnectable)
class HyperPodEksCluster(Construct):
    """A SageMaker HyperPod cluster (``AWS::SageMaker::Cluster``) orchestrated by EKS.

    Creates (unless you bring your own EKS cluster): an EKS control plane (L1
    ``AWS::EKS::Cluster``: no kubectl Lambda) with API authentication, a private endpoint,
    every control-plane log type, secrets encrypted with KMS; the add-ons HyperPod needs
    (vpc-cni, kube-proxy, eks-pod-identity-agent, coredns, aws-fsx-csi-driver with a Pod
    Identity role); cluster-admin access entries for ``options.eks.admin_role_arns`` and
    ``admin_roles``. Always: a ``sagemaker-``-prefixed bucket holding the packaged lifecycle
    scripts, a least-privilege execution role, the HyperPod cluster with
    ``NodeRecovery=Automatic``, ``ThreadsPerCore=1``, deep health checks on accelerator groups,
    and (for a new EKS cluster) an in-stack install of the HyperPod dependency Helm chart: a
    Lambda-backed custom resource in the VPC with its own EKS access entry that runs
    ``helm upgrade --install`` before the HyperPod cluster is created (no manual step); with a
    ``file_system``, the same function then applies the FSx PersistentVolumes and claims (and
    their namespace) after the FSx CSI driver add-on (``FsxVolume``). The optional HyperPod
    add-ons (``options.addons``) follow the HyperPod cluster.

    Example::

        hyperpod = HyperPodEksCluster(
            self, "HyperPod",
            vpc=network.vpc, subnet=network.compute_subnet,
            security_groups=network.security_groups, file_system=fs,
        )
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        subnet: ec2.ISubnet,
        security_groups: Sequence[ec2.ISecurityGroup],
        options: HyperPodClusterOptions | None = None,
        control_plane_subnets: ec2.SubnetSelection | None = None,
        cluster: eks.ICluster | eks_v2.ICluster | None = None,
        key: kms.IKey | None = None,
        admin_roles: Sequence[iam.IRole] = (),
        file_system: LustreFileSystemLike | None = None,
        lifecycle_bucket: s3.IBucket | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        instance_catalog: InstanceCatalog | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        log_key: kms.IKey | None = None,
        closed_network: bool = False,
        kubectl_layer: lambda_.ILayerVersion | None = None,
        install_dependencies_after: Sequence[Any] = (),
        ecr_repository_arns: Sequence[str] = (),
    ) -> None:
        """Create the cluster.

        :param vpc: the training VPC.
        :param subnet: the single-AZ private compute subnet every HyperPod node uses.
        :param security_groups: the EFA security group (all-traffic self-referencing ingress
            and egress) and up to 4 more. Also attached to the EKS control plane so nodes and
            API server can talk.
        :param options: plain-data settings. Default: ``HyperPodClusterOptions()``.
        :param control_plane_subnets: subnets (two or more AZs) for the EKS control-plane
            ENIs. Default: the VPC's private subnets, else its isolated subnets.
        :param cluster: an existing EKS cluster to orchestrate with. Default: a new one. With
            an existing cluster you own its add-ons and access entries: not with
            ``control_plane_subnets``, ``key`` or ``admin_roles``.
        :param key: KMS key for Kubernetes secrets encryption of a new EKS cluster. Default:
            a new key with rotation, retained.
        :param admin_roles: IAM roles in the app that get cluster-admin access entries on a
            new EKS cluster (in addition to ``options.eks.admin_role_arns``).
        :param file_system: the FSx for Lustre file system pods mount through a static
            volume (:class:`TrainingFileSystem`, ``fsx.LustreFileSystem`` or
            :class:`LustreFileSystemAttributes`); its subnet, when known, is checked to share
            the compute AZ and its capacity is the volume's. Default: no volume.
        :param lifecycle_bucket: bucket for the lifecycle scripts. Default: a new bucket
            named ``sagemaker-hp-...``. Not with ``access_logs_bucket``.
        :param access_logs_bucket: server-access-log destination of the new lifecycle
            bucket. Default: none (acknowledged: the bucket holds only packaged scripts).
        :param instance_catalog: catalog to check instance types against. Default: shipped.
        :param removal_policy: for the lifecycle bucket and the secrets key. Default:
            RETAIN_ON_UPDATE_OR_DELETE.
        :param log_key: KMS key of the lifecycle-scripts deployment's log group (its policy gets
            the CloudWatch Logs statement). Default: none (CloudWatch Logs' own encryption).
        :param closed_network: the VPC has no internet path: the dependency chart must come
            from ``options.dependency_chart.chart_s3_uri`` and helm from ``kubectl_layer``.
            Default: False.
        :param kubectl_layer: a Lambda layer with ``helm`` at ``/opt/helm/helm`` for the chart
            install. Default: ``KubectlV<minor>Layer`` of the installed
            ``aws-cdk.lambda-layer-kubectl-v<minor>`` package matching the Kubernetes version;
            without it (connected mode only) the install function downloads a pinned Helm
            release and checks its SHA-256.
        :param install_dependencies_after: constructs the chart install must wait for (for
            example the network's NAT route: the function needs egress when it runs).
        :param ecr_repository_arns: ECR repositories (ARNs, wildcards allowed) the nodes pull
            images from. Default: any repository of any account in the stack's Region
            (``arn:<partition>:ecr:<region>:*:repository/*``): HyperPod, EKS add-on and AWS
            Deep Learning Container images live in AWS-owned accounts of that Region.
        """
        super().__init__(scope, id)
        record_construct_type(self, "HyperPodEksCluster")
        none_with(
            "HyperPodEksCluster",
            ("cluster", cluster),
            {
                "control_plane_subnets": control_plane_subnets,
                "key": key,
                "admin_roles": admin_roles,
            },
            because="they configure a new EKS cluster",
        )
        not_both(
            "HyperPodEksCluster",
            ("lifecycle_bucket", lifecycle_bucket),
            ("access_logs_bucket", access_logs_bucket),
            because="access logging is set up on a new lifecycle bucket only",
        )
        self.options = options or HyperPodClusterOptions()
        opts = self.options
        self._stack = Stack.of(self)
        self._security_groups: list[ec2.ISecurityGroup] = list(security_groups)
        self.vpc = vpc
        self.subnet = subnet
        self.file_system = file_system

        self.instance_groups, warnings = validate_cluster_inputs(
            opts,
            security_groups=self._security_groups,
            subnet=subnet,
            instance_catalog=instance_catalog,
            file_system=file_system,
        )
        for warning_id, message in warnings:
            Annotations.of(self).add_warning_v2(warning_id, message)

        self._connections = ec2.Connections(security_groups=self._security_groups)

        # -- EKS control plane (control_plane.py) ------------------------------------------
        self.secrets_key: kms.IKey | None = None
        self._early_dependencies: list[CfnResource] = []
        self.addons: dict[str, eks.CfnAddon] = {}
        self.fsx_csi_role: iam.Role | None = None
        managed_addons: ManagedAddons | None = None
        if cluster is not None:
            self.cluster_name: str = cluster.cluster_name
            self.cluster_arn: str = cluster.cluster_arn
            self.eks_cluster: eks.CfnCluster | None = None
        else:
            self.secrets_key = key or kms.Key(
                self,
                "SecretsKey",
                description="Encrypts Kubernetes secrets of the HyperPod EKS cluster.",
                enable_key_rotation=True,
                removal_policy=removal_policy,
            )
            self.eks_cluster = create_eks_cluster(
                self,
                opts,
                vpc=vpc,
                security_groups=self._security_groups,
                secrets_key=self.secrets_key,
                control_plane_subnets=control_plane_subnets,
            )
            self.cluster_name = self.eks_cluster.ref
            self.cluster_arn = self.eks_cluster.attr_arn
            self._early_dependencies += create_access_entries(
                self, opts, cluster=self.eks_cluster, admin_roles=admin_roles
            )
            managed_addons = ManagedAddons(self, opts, cluster=self.eks_cluster, addons=self.addons)
            self._early_dependencies += managed_addons.create_early()

        # -- lifecycle scripts (lifecycle.py) ----------------------------------------------
        if log_key is not None:
            allow_cloudwatch_logs(log_key)
        self.lifecycle_bucket = lifecycle_bucket or create_lifecycle_bucket(
            self, access_logs_bucket, removal_policy
        )
        self._scripts = deploy_lifecycle_scripts(self, self.lifecycle_bucket, log_key)

        # -- execution role (execution_role.py) --------------------------------------------
        self.execution_role = create_execution_role(
            self,
            vpc=vpc,
            cluster_arn=self.cluster_arn,
            lifecycle_bucket=self.lifecycle_bucket,
            ecr_repository_arns=ecr_repository_arns,
        )

        # -- dependency chart (dependency_chart.py) ----------------------------------------
        self.dependency_chart: HyperPodDependencyChart | None = install_dependency_chart(
            self,
            opts,
            eks_cluster=self.eks_cluster,
            vpc=vpc,
            subnet=subnet,
            security_groups=self._security_groups,
            closed_network=closed_network,
            kubectl_layer=kubectl_layer,
            depends_on=[*self._early_dependencies, *install_dependencies_after],
            log_key=log_key,
        )

        # -- HyperPod cluster --------------------------------------------------------------
        self.resource = self._create_hyperpod_cluster()
        self.hyperpod_cluster_arn: str = self.resource.attr_cluster_arn
        if managed_addons is not None:
            self.fsx_csi_role = managed_addons.create_late(self.resource)
        self.hyperpod_addons: HyperPodAddons = add_hyperpod_addons(
            self,
            options=opts.addons,
            cluster_name=self.cluster_name,
            cluster_arn=self.cluster_arn,
            hyperpod_cluster=self.resource,
        )
        if cluster is None:
            for addon in self.hyperpod_addons.addons.values():
                addon.node.add_dependency(self.addons["coredns"])

        # -- FSx volume for pods (fsx_volume.py) -------------------------------------------
        self.fsx_volume_manifest: str | None = None
        self.fsx_volume_resource: CustomResource | None = None
        """Applies the volume manifest at deploy time (None: the manifest is the user's)."""
        if file_system is not None:
            self.fsx_volume_manifest, self.fsx_volume_resource = fsx_volume_manifest(
                self._stack,
                file_system=file_system,
                options=opts.fsx_volume,
                fsx_csi_role=self.fsx_csi_role,
                chart=self.dependency_chart,
                cluster=self.eks_cluster,
                apply_after=[self.addons["aws-fsx-csi-driver"]] if self.addons else [],
            )

    # -- public API ------------------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """The node security groups (the EFA group): allow the file system or peers here."""
        return self._connections

    @property
    def update_kubeconfig_command(self) -> str:
        """``aws eks update-kubeconfig ...`` for this cluster (a CloudFormation string)."""
        return Fn.join(
            "",
            ["aws eks update-kubeconfig --region ", Aws.REGION, " --name ", self.cluster_name],
        )

    @property
    def lifecycle_scripts_uri(self) -> str:
        """``s3://<bucket>/hyperpod/lifecycle/``: the ``SourceS3Uri`` of every group."""
        return f"s3://{self.lifecycle_bucket.bucket_name}/{LIFECYCLE_PREFIX}"

    # -- HyperPod cluster ------------------------------------------------------------------

    def _create_hyperpod_cluster(self) -> sagemaker.CfnCluster:
        opts = self.options
        groups = []
        for group in self.instance_groups:
            group_opts = group.options
            groups.append(
                sagemaker.CfnCluster.ClusterInstanceGroupProperty(
                    instance_group_name=group_opts.name,
                    instance_type=group_opts.instance_type,
                    instance_count=group_opts.instance_count,
                    execution_role=self.execution_role.role_arn,
                    life_cycle_config=sagemaker.CfnCluster.ClusterLifeCycleConfigProperty(
                        source_s3_uri=self.lifecycle_scripts_uri,
                        on_create=HYPERPOD_ON_CREATE,
                    ),
                    threads_per_core=group_opts.threads_per_core,
                    instance_storage_configs=[
                        sagemaker.CfnCluster.ClusterInstanceStorageConfigProperty(
                            ebs_volume_config=sagemaker.CfnCluster.ClusterEbsVolumeConfigProperty(
                                volume_size_in_gb=group_opts.ebs_volume_size_gb
                            )
                        )
                    ],
                    on_start_deep_health_checks=[c.value for c in group.deep_health_checks] or None,
                    training_plan_arn=group_opts.training_plan_arn,
                )
            )
        cluster = sagemaker.CfnCluster(
            self,
            "Resource",
            cluster_name=opts.cluster_name,
            instance_groups=groups,
            node_recovery=opts.node_recovery,
            orchestrator=sagemaker.CfnCluster.OrchestratorProperty(
                eks=sagemaker.CfnCluster.ClusterOrchestratorEksConfigProperty(
                    cluster_arn=self.cluster_arn
                )
            ),
            vpc_config=sagemaker.CfnCluster.VpcConfigProperty(
                security_group_ids=[sg.security_group_id for sg in self._security_groups],
                subnets=[self.subnet.subnet_id],
            ),
        )
        cluster.node.add_dependency(self._scripts)
        cluster.node.add_dependency(self.execution_role)
        if self.dependency_chart is not None:
            cluster.node.add_dependency(self.dependency_chart.resource)
        for dependency in self._early_dependencies:
            cluster.node.add_dependency(dependency)
        return cluster
