"""HyperPodEksCluster: SageMaker HyperPod with Amazon EKS as orchestrator."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import (
    Annotations,
    ArnFormat,
    Aws,
    CfnResource,
    Fn,
    Names,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_eks_v2 as eks_v2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from cdk_llm_training.config.hyperpod import (
    DependencyInstall,
    EndpointAccess,
    HyperPodClusterOptions,
    ResolvedInstanceGroup,
    validate_instance_groups,
)
from cdk_llm_training.config.instances import InstanceCatalog
from cdk_llm_training.constructs._acknowledge import acknowledge
from cdk_llm_training.constructs._compliance import (
    acknowledge_lifecycle_bucket_controls,
    acknowledge_synchronous_function,
)
from cdk_llm_training.constructs._hyperpod_addons import HyperPodAddons, add_hyperpod_addons
from cdk_llm_training.constructs._hyperpod_chart_install import HyperPodDependencyChart
from cdk_llm_training.constructs._hyperpod_manifests import (
    FSX_CSI_CONTROLLER_SERVICE_ACCOUNT,
    fsx_volume_manifests,
)
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._trust import (
    service_principal_from,
    source_conditions,
    this_account_arn,
)
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.lifecycle_scripts import HYPERPOD_LIFECYCLE_DIR, HYPERPOD_ON_CREATE

LIFECYCLE_PREFIX = "hyperpod/lifecycle/"
"""Key prefix of the lifecycle scripts in the lifecycle bucket."""

ESTIMATED_IPS_PER_ACCELERATED_NODE = 81
"""VPC CNI addresses a p5-class node takes under EKS (warm pool across its ENIs)."""
ESTIMATED_IPS_PER_CPU_NODE = 30
"""Addresses a general-purpose system node takes (system pods and warm pool)."""

_CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
SSM_MESSAGES_SID = "SessionManager"
SSM_MESSAGES_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
"""The Session Manager actions of AmazonSageMakerClusterInstanceRolePolicy (nodes' SSM access)."""
_EARLY_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
"""DaemonSet add-ons: healthy without nodes, installed before the HyperPod cluster."""
_LATE_ADDONS = ("coredns", "aws-fsx-csi-driver")
"""Add-ons with Deployments: they need nodes, so they follow the HyperPod cluster."""


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
    ``helm upgrade --install`` before the HyperPod cluster is created (no manual step). The
    optional HyperPod add-ons (``options.addons``) follow the HyperPod cluster.

    Example::

        hyperpod = HyperPodEksCluster(
            self, "HyperPod",
            vpc=network.vpc, subnet=network.compute_subnet,
            security_group=network.efa_security_group,
            fsx_file_system_id=fs.file_system_id, fsx_dns_name=fs.dns_name,
            fsx_mount_name=fs.mount_name,
        )
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        subnet: ec2.ISubnet,
        security_group: ec2.ISecurityGroup | Sequence[ec2.ISecurityGroup],
        options: HyperPodClusterOptions | None = None,
        control_plane_subnets: ec2.SubnetSelection | None = None,
        cluster: eks.ICluster | eks_v2.ICluster | None = None,
        key: kms.IKey | None = None,
        admin_roles: Sequence[iam.IRole] = (),
        fsx_file_system_id: str | None = None,
        fsx_dns_name: str | None = None,
        fsx_mount_name: str | None = None,
        fsx_subnet: ec2.ISubnet | None = None,
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
        :param security_group: the EFA security group (all-traffic self-referencing ingress
            and egress), or up to 5 groups. Also attached to the EKS control plane so nodes
            and API server can talk.
        :param options: plain-data settings. Default: ``HyperPodClusterOptions()``.
        :param control_plane_subnets: subnets (two or more AZs) for the EKS control-plane
            ENIs. Default: the VPC's private subnets, else its isolated subnets.
        :param cluster: an existing EKS cluster to orchestrate with. Default: a new one. With
            an existing cluster you own its add-ons and access entries.
        :param key: KMS key for Kubernetes secrets encryption. Default: a new key with
            rotation, retained.
        :param admin_roles: IAM roles in the app that get cluster-admin access entries
            (in addition to ``options.eks.admin_role_arns``).
        :param fsx_file_system_id: FSx for Lustre file system ID for the static volume.
            With ``fsx_dns_name`` and ``fsx_mount_name``. Default: no volume.
        :param fsx_dns_name: DNS name of the file system.
        :param fsx_mount_name: Lustre mount name of the file system.
        :param fsx_subnet: the file system's subnet, to check it shares the compute AZ.
        :param lifecycle_bucket: bucket for the lifecycle scripts. Default: a new bucket
            named ``sagemaker-hp-...``.
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
        self.options = options or HyperPodClusterOptions()
        opts = self.options
        self._stack = Stack.of(self)
        self._security_groups: list[ec2.ISecurityGroup] = (
            list(security_group) if isinstance(security_group, list | tuple) else [security_group]  # type: ignore[list-item]
        )
        self.vpc = vpc
        self.subnet = subnet
        self._ecr_repository_arns = list(ecr_repository_arns)

        self.instance_groups, warnings = self._validate(
            instance_catalog=instance_catalog,
            fsx_values=(fsx_file_system_id, fsx_dns_name, fsx_mount_name),
            fsx_subnet=fsx_subnet,
        )
        for warning in warnings:
            Annotations.of(self).add_warning_v2("cdk-llm-training:hyperpod", warning)

        self._connections = ec2.Connections(security_groups=self._security_groups)

        # -- EKS control plane -------------------------------------------------------------
        self.secrets_key: kms.IKey | None = None
        self._early_dependencies: list[CfnResource] = []
        self.addons: dict[str, eks.CfnAddon] = {}
        self.fsx_csi_role: iam.Role | None = None
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
            self.eks_cluster = self._create_eks_cluster(control_plane_subnets)
            self.cluster_name = self.eks_cluster.ref
            self.cluster_arn = self.eks_cluster.attr_arn
            self._create_access_entries(admin_roles)
            self._create_early_addons()

        # -- lifecycle scripts -------------------------------------------------------------
        if log_key is not None:
            allow_cloudwatch_logs(log_key)
        self.lifecycle_bucket = lifecycle_bucket or self._create_lifecycle_bucket(
            access_logs_bucket, removal_policy
        )
        self._scripts = s3deploy.BucketDeployment(
            self,
            "LifecycleScripts",
            sources=[s3deploy.Source.asset(str(HYPERPOD_LIFECYCLE_DIR))],
            destination_bucket=self.lifecycle_bucket,
            destination_key_prefix=LIFECYCLE_PREFIX,
            prune=True,
            retain_on_delete=False,
            log_group=logs.LogGroup(
                self,
                "LifecycleScriptsLogs",
                retention=logs.RetentionDays.ONE_MONTH,
                encryption_key=log_key,
                removal_policy=RemovalPolicy.DESTROY,
            ),
        )
        self._acknowledge_bucket_deployment()

        # -- execution role ----------------------------------------------------------------
        self.execution_role = self._create_execution_role()

        # -- dependency chart --------------------------------------------------------------
        self.dependency_chart: HyperPodDependencyChart | None = None
        chart_opts = opts.dependency_chart
        if self.eks_cluster is not None and chart_opts.install is DependencyInstall.IN_STACK:
            self.dependency_chart = HyperPodDependencyChart(
                self,
                "DependencyChart",
                cluster=self.eks_cluster,
                kubernetes_version=opts.eks.kubernetes_version,
                options=chart_opts,
                vpc=vpc,
                subnets=[subnet],
                security_groups=self._security_groups,
                closed_network=closed_network,
                kubectl_layer=kubectl_layer,
                depends_on=[*self._early_dependencies, *install_dependencies_after],
                log_key=log_key,
            )
        elif cluster is not None and chart_opts.install is DependencyInstall.IN_STACK:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:hyperpod-byo-chart",
                "An existing EKS cluster: the construct installs no dependency chart on it. "
                "Install helm_chart/HyperPodHelmChart of aws/sagemaker-hyperpod-cli at "
                f"{chart_opts.revision} before deploying, and set "
                "dependency_chart.install='preinstalled' to silence this warning.",
            )
        elif chart_opts.install is DependencyInstall.PREINSTALLED and cluster is None:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:hyperpod-preinstalled",
                "dependency_chart.install=preinstalled with a new EKS cluster: nothing can have "
                "installed the HyperPod dependency chart before the HyperPod cluster is "
                "created; use in_stack unless the EKS cluster already exists.",
            )

        # -- HyperPod cluster --------------------------------------------------------------
        self.resource = self._create_hyperpod_cluster()
        self.hyperpod_cluster_arn: str = self.resource.attr_cluster_arn
        if cluster is None:
            self._create_late_addons()
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

        # -- FSx volume for pods -----------------------------------------------------------
        self.fsx_volume_manifest: str | None = None
        if fsx_file_system_id and fsx_dns_name and fsx_mount_name:
            manifest = fsx_volume_manifests(
                file_system_id=fsx_file_system_id,
                dns_name=fsx_dns_name,
                mount_name=fsx_mount_name,
                options=opts.fsx_volume,
            )
            self.fsx_volume_manifest = self._stack.to_json_string(manifest)
            if self.fsx_csi_role is not None:
                self.fsx_csi_role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["fsx:DescribeFileSystems"],
                        resources=[
                            self._stack.format_arn(
                                service="fsx",
                                resource="file-system",
                                resource_name=fsx_file_system_id,
                            )
                        ],
                    )
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

    # -- validation ------------------------------------------------------------------------

    def _validate(
        self,
        *,
        instance_catalog: InstanceCatalog | None,
        fsx_values: tuple[str | None, str | None, str | None],
        fsx_subnet: ec2.ISubnet | None,
    ) -> tuple[list[ResolvedInstanceGroup], list[str]]:
        opts = self.options
        if not 1 <= len(self._security_groups) <= 5:
            raise ValueError(
                f"security_group: got {len(self._security_groups)} security groups; "
                "HyperPod accepts 1 to 5"
            )
        groups, warnings = validate_instance_groups(opts, instance_catalog)

        given = [value is not None for value in fsx_values]
        if any(given) and not all(given):
            raise ValueError(
                "fsx_file_system_id, fsx_dns_name and fsx_mount_name go together; got "
                f"file_system_id={fsx_values[0]!r}, dns_name={fsx_values[1]!r}, "
                f"mount_name={fsx_values[2]!r}"
            )

        compute_az = self.subnet.availability_zone
        if fsx_subnet is not None:
            fsx_az = fsx_subnet.availability_zone
            if (
                not Token.is_unresolved(compute_az)
                and not Token.is_unresolved(fsx_az)
                and compute_az != fsx_az
            ):
                raise ValueError(
                    f"fsx_subnet is in {fsx_az!r} but the compute subnet is in "
                    f"{compute_az!r}: put the file system in the compute subnet's AZ (Lustre "
                    "and EFA traffic should not cross AZs)"
                )

        cidr = self.subnet.ipv4_cidr_block
        if not Token.is_unresolved(cidr):
            network = ipaddress.ip_network(cidr, strict=False)
            usable = network.num_addresses - 5  # AWS reserves 5 addresses per subnet
            # Sized for each group's maximum: scaling within it must fit without replacement.
            needed = sum(
                group.options.resolved_max_instance_count
                * (
                    ESTIMATED_IPS_PER_ACCELERATED_NODE
                    if group.accelerated
                    else ESTIMATED_IPS_PER_CPU_NODE
                )
                for group in groups
            )
            if needed > usable:
                raise ValueError(
                    f"subnet {cidr} has {usable} usable addresses but the instance groups at "
                    f"max_instance_count ({opts.max_total_instance_count} nodes) need about "
                    f"{needed} under EKS "
                    f"({ESTIMATED_IPS_PER_ACCELERATED_NODE} per accelerated node, "
                    f"{ESTIMATED_IPS_PER_CPU_NODE} per CPU node): use a larger compute subnet "
                    "or fewer nodes"
                )
            if needed > usable * 0.8:
                warnings.append(
                    f"subnet {cidr}: the instance groups need about {needed} of {usable} "
                    "usable addresses; node replacement and scaling may run out"
                )
        return groups, warnings

    # -- EKS -------------------------------------------------------------------------------

    def _create_eks_cluster(
        self, control_plane_subnets: ec2.SubnetSelection | None
    ) -> eks.CfnCluster:
        eks_opts = self.options.eks
        cluster_arns = this_account_arn("eks", "cluster/*")
        role = iam.Role(
            self,
            "ClusterRole",
            # EKS sends aws:SourceArn / aws:SourceAccount when it assumes the cluster role
            # ("Cross-service confused deputy prevention in Amazon EKS").
            assumed_by=service_principal_from("eks.amazonaws.com", cluster_arns),
            description="EKS control-plane role of the HyperPod orchestrator cluster.",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSClusterPolicy")
            ],
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
            if self.vpc.private_subnets
            else ec2.SubnetType.PRIVATE_ISOLATED
        )
        subnet_ids = self.vpc.select_subnets(**selection._values).subnet_ids
        if len(subnet_ids) < 2:
            raise ValueError(
                f"control_plane_subnets: EKS needs subnets in at least two AZs; the selection "
                f"gave {len(subnet_ids)} subnet(s)"
            )
        public = eks_opts.endpoint_access is EndpointAccess.PUBLIC_AND_PRIVATE
        assert self.secrets_key is not None
        cluster = eks.CfnCluster(
            self,
            "Cluster",
            role_arn=role.role_arn,
            version=eks_opts.kubernetes_version,
            resources_vpc_config=eks.CfnCluster.ResourcesVpcConfigProperty(
                subnet_ids=subnet_ids,
                security_group_ids=[sg.security_group_id for sg in self._security_groups],
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
                    provider=eks.CfnCluster.ProviderProperty(key_arn=self.secrets_key.key_arn),
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

    def _create_access_entries(self, admin_roles: Sequence[iam.IRole]) -> None:
        assert self.eks_cluster is not None
        principals: list[tuple[str, str]] = [
            (f"Admin{index}", arn) for index, arn in enumerate(self.options.eks.admin_role_arns)
        ]
        principals += [
            (f"AdminRole{index}", role.role_arn) for index, role in enumerate(admin_roles)
        ]
        if not principals:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:hyperpod-no-admin",
                "No EKS admin: set options.eks.admin_role_arns (or admin_roles) so someone can "
                "run kubectl against the cluster (the stack installs the HyperPod dependency "
                "chart itself).",
            )
        policy_arn = Fn.join(
            "",
            ["arn:", Aws.PARTITION, f":eks::aws:cluster-access-policy/{_CLUSTER_ADMIN_POLICY}"],
        )
        for entry_id, principal in principals:
            entry = eks.CfnAccessEntry(
                self,
                entry_id,
                cluster_name=self.eks_cluster.ref,
                principal_arn=principal,
                type="STANDARD",
                access_policies=[
                    eks.CfnAccessEntry.AccessPolicyProperty(
                        policy_arn=policy_arn,
                        access_scope=eks.CfnAccessEntry.AccessScopeProperty(type="cluster"),
                    )
                ],
            )
            self._early_dependencies.append(entry)

    def _addon(self, name: str, **extra: Any) -> eks.CfnAddon:
        assert self.eks_cluster is not None
        construct_id = "Addon" + "".join(part.capitalize() for part in name.split("-"))
        addon = eks.CfnAddon(
            self,
            construct_id,
            addon_name=name,
            cluster_name=self.eks_cluster.ref,
            addon_version=self.options.eks.addon_versions.get(name),
            resolve_conflicts="OVERWRITE",
            **extra,
        )
        self.addons[name] = addon
        return addon

    def _create_early_addons(self) -> None:
        for name in _EARLY_ADDONS:
            self._early_dependencies.append(self._addon(name))

    def _create_late_addons(self) -> None:
        self.fsx_csi_role = iam.Role(
            self,
            "FsxCsiDriverRole",
            assumed_by=iam.ServicePrincipal("pods.eks.amazonaws.com"),
            description="EKS Pod Identity role of the FSx for Lustre CSI controller.",
        )
        self.fsx_csi_role.assume_role_policy.add_statements(  # type: ignore[union-attr]
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
                        role_arn=self.fsx_csi_role.role_arn,
                        service_account=FSX_CSI_CONTROLLER_SERVICE_ACCOUNT,
                    )
                ],
            ),
        ]
        for addon in late:
            addon.node.add_dependency(self.resource)
        assert self.addons["aws-fsx-csi-driver"] is late[1]
        assert tuple(self.addons)[-2:] == _LATE_ADDONS

    # -- lifecycle bucket ------------------------------------------------------------------

    def _create_lifecycle_bucket(
        self, access_logs_bucket: s3.IBucket | None, removal_policy: RemovalPolicy
    ) -> s3.Bucket:
        # sagemaker- prefix: the HyperPod managed instance policy reads only such buckets.
        # Globally unique and immutable: a 4-hex construct hash (several clusters per stack),
        # the first block of the stack's UUID (a re-created stack never collides with a
        # retained bucket), account and Region. At most 10+3+5+9+12+1+14 = 54 characters.
        construct_hash = hashlib.sha256(Names.unique_id(self).encode()).hexdigest()[:4]
        stack_uuid_head = Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))
        bucket_name = Fn.join(
            "-",
            ["sagemaker-hp", construct_hash, stack_uuid_head, Aws.ACCOUNT_ID, Aws.REGION],
        )
        bucket = s3.Bucket(
            self,
            "LifecycleBucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            removal_policy=removal_policy,
        )
        if access_logs_bucket is not None:
            self._log_to(bucket, access_logs_bucket, construct_hash)
        else:
            acknowledge(
                bucket,
                "AwsSolutions-S1",
                "Holds only the lifecycle scripts shipped in this package, written by the "
                "deployment; pass access_logs_bucket to log access anyway.",
            )
        acknowledge_lifecycle_bucket_controls(bucket)
        return bucket

    def _log_to(self, bucket: s3.Bucket, logs: s3.IBucket, construct_hash: str) -> None:
        """Server access logging through a bucket policy for the S3 logging service.

        Not ``server_access_logs_bucket=``: without the
        ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`` feature flag that prop switches the
        log bucket to ACLs, which fails on buckets with ACLs disabled (the data lake's log
        bucket); the construct must work in any app.
        """
        prefix = "hyperpod-lifecycle/"
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=logs.bucket_name, log_file_prefix=prefix
        )
        result = logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"S3ServerAccessLogsHyperPod{construct_hash}",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[logs.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        if not result.statement_added:
            Annotations.of(self).add_info(
                "access_logs_bucket is imported: allow logging.s3.amazonaws.com s3:PutObject "
                f"on {prefix}* in its bucket policy."
            )

    def _acknowledge_bucket_deployment(self) -> None:
        bucket_arn = self._nag_ref(self.lifecycle_bucket.bucket_arn)
        reason_iam5 = (
            "CDK's BucketDeployment provider (uploads the packaged lifecycle scripts) reads "
            "the CDK asset objects and replaces the objects of the lifecycle bucket: "
            "action and object wildcards generated by aws-cdk-lib."
        )
        findings_iam5 = [
            "Action::s3:Abort*",
            "Action::s3:DeleteObject*",
            "Action::s3:GetBucket*",
            "Action::s3:GetObject*",
            "Action::s3:List*",
            f"Resource::{bucket_arn}/*",
            "Resource::arn:<AWS::Partition>:s3:::"
            "cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
        ]
        # The provider Lambda is a stack-level singleton; its role is the narrowest scope.
        handler_role = self._scripts.handler_role
        acknowledge(
            handler_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "service-role/AWSLambdaBasicExecutionRole]",
            "CDK's BucketDeployment provider Lambda uses the AWS-managed basic execution "
            "policy; aws-cdk-lib owns that role.",
        )
        for finding in findings_iam5:
            acknowledge(handler_role, f"AwsSolutions-IAM5[{finding}]", reason_iam5)
        for child in self._stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge(
                    child,
                    "AwsSolutions-L1",
                    "The BucketDeployment provider's Lambda runtime is pinned by aws-cdk-lib.",
                )
                acknowledge_synchronous_function(
                    child,
                    invoked_by="CloudFormation (CDK's BucketDeployment custom resource)",
                    outside_vpc_reason="Copies the packaged lifecycle scripts between S3 "
                    "buckets through the S3 API only; it never reaches the cluster network.",
                )

    def _nag_ref(self, value: str) -> str:
        """How cdk-nag spells ``value`` in finding evidence (``<LogicalId.Arn>``)."""
        return _nag_spelling(self._stack.resolve(value))

    # -- execution role --------------------------------------------------------------------

    def _create_execution_role(self) -> iam.Role:
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Instance role of the HyperPod nodes (EKS orchestrator).",
        )
        acknowledge(
            role,
            "LLM-SRC1",
            "HyperPod is not among the SageMaker features documented to send aws:SourceArn / "
            "aws:SourceAccount when assuming a role (SageMaker 'Cross-service confused deputy "
            "prevention'); a condition on an unsent key would stop the nodes from starting.",
        )
        stack = self._stack
        role.add_to_policy(
            iam.PolicyStatement(
                sid="NodeNetworkInterfaces",
                actions=[
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:AttachNetworkInterface",
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "ec2:DetachNetworkInterface",
                    "ec2:ModifyNetworkInterfaceAttribute",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
                # ec2:Vpc is a resource condition key of network interfaces, subnets and
                # security groups: writes stay inside the training VPC.
                conditions={"ArnEquals": {"ec2:Vpc": self._vpc_arn()}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeNetwork",
                actions=[
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeInstances",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeTags",
                    "ec2:DescribeVpcs",
                ],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TagNetworkInterfaces",
                actions=["ec2:CreateTags"],
                resources=[
                    stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RegistryLogin",
                # GetAuthorizationToken supports no resource scope.
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PullImages",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                resources=self._ecr_repository_arns
                # Default: any repository in the stack's Region. HyperPod's own images (the
                # health-monitoring agent), EKS add-on images and the Deep Learning Containers
                # are served from AWS-owned registries in the same Region.
                or [Fn.join("", ["arn:", Aws.PARTITION, ":ecr:", Aws.REGION, ":*:repository/*"])],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid=SSM_MESSAGES_SID,
                # Session Manager on the nodes (kept from AmazonSageMakerClusterInstanceRolePolicy,
                # which this role replaces); these actions support no resource scope.
                actions=list(SSM_MESSAGES_ACTIONS),
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PodIdentity",
                actions=["eks-auth:AssumeRoleForPodIdentity"],
                resources=[self.cluster_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadLifecycleScripts",
                actions=["s3:GetObject"],
                resources=[self.lifecycle_bucket.arn_for_objects(f"{LIFECYCLE_PREFIX}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListLifecycleScripts",
                actions=["s3:ListBucket"],
                resources=[self.lifecycle_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{LIFECYCLE_PREFIX}*"]}},
            )
        )
        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/Clusters/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ClusterLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                resources=[log_group_arn, f"{log_group_arn}:log-stream:*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ClusterMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Clusters"}},
            )
        )
        reason = (
            "Node ENIs and pod IPs do not exist before the nodes do (ec2 network-interface "
            "writes are limited to the training VPC by ec2:Vpc, ec2:Describe*, ssmmessages:* and "
            "ecr:GetAuthorizationToken support no resource scope); images come from AWS-owned "
            "registries in other accounts (pass ecr_repository_arns to narrow); log groups "
            "and streams "
            "are scoped to /aws/sagemaker/Clusters/*, lifecycle objects to their prefix, "
            "metrics to the SageMaker cluster namespace."
        )
        bucket_arn = self._nag_ref(self.lifecycle_bucket.bucket_arn)
        logs_arn = "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
        for finding in (
            "Resource::*",
            "Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:*:repository/*",
            f"Resource::{bucket_arn}/{LIFECYCLE_PREFIX}*",
            "Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*",
            f"Resource::{logs_arn}/aws/sagemaker/Clusters/*",
            f"Resource::{logs_arn}/aws/sagemaker/Clusters/*:log-stream:*",
        ):
            acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
        return role

    def _vpc_arn(self) -> str:
        return self._stack.format_arn(service="ec2", resource="vpc", resource_name=self.vpc.vpc_id)

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


def _nag_spelling(resolved: Any) -> str:
    """cdk-nag's rendering of a resolved CloudFormation value: ``<Id.Attr>``, ``<Id>``,
    ``Fn::Join`` parts concatenated."""
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        logical_id, attribute = resolved["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return str(separator).join(_nag_spelling(part) for part in parts)
    return str(resolved)
