"""HyperPodEksCluster: EKS control plane, add-ons, HyperPod cluster, roles, FSx wiring,
validation failures and the shipped lifecycle scripts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template
from cdk_support import (
    cfn_lint_findings,
    flow_log_options,
    new_stack,
    resources_of_type,
    template_of,
)
from pydantic import ValidationError

from cdk_llm_training import (
    DeepHealthCheck,
    DependencyChartOptions,
    DependencyInstall,
    EksControlPlaneOptions,
    EndpointAccess,
    FsxVolumeOptions,
    HyperPodClusterOptions,
    HyperPodEksCluster,
    InstanceGroupOptions,
    fsx_pod_volume,
    fsx_volume_manifests,
)
from cdk_llm_training.assets.lifecycle_scripts import HYPERPOD_LIFECYCLE_DIR, HYPERPOD_ON_CREATE
from cdk_llm_training.config.hyperpod import DEFAULT_HELM_CHART_REVISION
from cdk_llm_training.constructs.hyperpod.chart_install import (
    CHART_INSTALL_RESOURCE_TYPE,
    HELM_SHA256,
)
from cdk_llm_training.constructs.training_file_system import LustreFileSystemAttributes

ADMIN_ARN = "arn:aws:iam::111122223333:role/PlatformAdmin"
FS_ID = "fs-0123456789abcdef0"
FS_DNS = f"{FS_ID}.fsx.us-east-1.amazonaws.com"
FS_MOUNT = "abcdefgh"
SAGEMAKER_CLUSTER = "AWS::SageMaker::Cluster"


@dataclass
class Network:
    vpc: ec2.Vpc
    subnet: ec2.ISubnet
    security_group: ec2.SecurityGroup


def _network(stack: cdk.Stack) -> Network:
    """A small env-agnostic training network: two AZs, private compute subnets with egress,
    flow logs, and an EFA security group (all traffic to and from itself)."""
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(
                name="compute", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
            ),
        ],
        flow_logs=flow_log_options(stack),
    )
    sg = ec2.SecurityGroup(stack, "Efa", vpc=vpc, allow_all_outbound=False)
    sg.add_ingress_rule(sg, ec2.Port.all_traffic(), "EFA and node traffic from the group")
    sg.add_egress_rule(sg, ec2.Port.all_traffic(), "EFA and node traffic to the group")
    return Network(vpc=vpc, subnet=vpc.private_subnets[0], security_group=sg)


def _build(
    *, nag: bool = True, with_fsx: bool = True, **kwargs: Any
) -> tuple[cdk.Stack, HyperPodEksCluster]:
    stack = new_stack(nag=nag)
    net = _network(stack)
    fsx: dict[str, Any] = (
        {
            "file_system": LustreFileSystemAttributes(
                file_system_id=FS_ID, dns_name=FS_DNS, mount_name=FS_MOUNT
            )
        }
        if with_fsx
        else {}
    )
    params: dict[str, Any] = {
        "vpc": net.vpc,
        "subnet": net.subnet,
        "security_groups": [net.security_group],
        **fsx,
        **kwargs,
    }
    hyperpod = HyperPodEksCluster(stack, "HyperPod", **params)
    return stack, hyperpod


def _options(**kwargs: Any) -> HyperPodClusterOptions:
    eks_options = kwargs.pop("eks", EksControlPlaneOptions(admin_role_arns=(ADMIN_ARN,)))
    return HyperPodClusterOptions(eks=eks_options, **kwargs)


@pytest.fixture(scope="module")
def default_build() -> tuple[cdk.Stack, HyperPodEksCluster, Template]:
    """Defaults plus an admin role and FSx inputs, in a cdk-nag-checked app: building it at
    all proves the default is AwsSolutions-clean."""
    stack, hyperpod = _build(options=_options())
    return stack, hyperpod, template_of(stack)


@pytest.fixture(scope="module")
def template(default_build: tuple[cdk.Stack, HyperPodEksCluster, Template]) -> Template:
    return default_build[2]


def _one(template: Template, type_name: str) -> tuple[str, dict[str, Any]]:
    (item,) = resources_of_type(template, type_name).items()
    return item


def _logical_id(template: Template, type_name: str, prefix: str) -> str:
    return next(lid for lid in resources_of_type(template, type_name) if lid.startswith(prefix))


def _statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    role_id = _logical_id(template, "AWS::IAM::Role", role_prefix)
    return [
        statement
        for policy in resources_of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


# -- HyperPod cluster -------------------------------------------------------------------


def test_hyperpod_cluster_uses_eks_orchestrator_with_automatic_recovery(
    template: Template,
) -> None:
    _, cluster = _one(template, SAGEMAKER_CLUSTER)
    eks_id = _logical_id(template, "AWS::EKS::Cluster", "HyperPodCluster")
    props = cluster["Properties"]
    assert props["NodeRecovery"] == "Automatic"
    assert props["Orchestrator"] == {"Eks": {"ClusterArn": {"Fn::GetAtt": [eks_id, "Arn"]}}}
    subnet_id = _logical_id(template, "AWS::EC2::Subnet", "VpccomputeSubnet1")
    sg_id = _logical_id(template, "AWS::EC2::SecurityGroup", "Efa")
    assert props["VpcConfig"] == {
        "SecurityGroupIds": [{"Fn::GetAtt": [sg_id, "GroupId"]}],
        "Subnets": [{"Ref": subnet_id}],
    }
    assert "ClusterName" not in props


def test_default_instance_groups(template: Template) -> None:
    _, cluster = _one(template, SAGEMAKER_CLUSTER)
    role_id = _logical_id(template, "AWS::IAM::Role", "HyperPodExecutionRole")
    bucket_id = _logical_id(template, "AWS::S3::Bucket", "HyperPodLifecycleBucket")
    lifecycle = {
        "OnCreate": "on_create.sh",
        "SourceS3Uri": {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/hyperpod/lifecycle/"]]},
    }
    system, workers = cluster["Properties"]["InstanceGroups"]
    assert system == {
        "ExecutionRole": {"Fn::GetAtt": [role_id, "Arn"]},
        "InstanceCount": 1,
        "InstanceGroupName": "system",
        "InstanceStorageConfigs": [{"EbsVolumeConfig": {"VolumeSizeInGB": 100}}],
        "InstanceType": "ml.m5.2xlarge",
        "LifeCycleConfig": lifecycle,
        "ThreadsPerCore": 1,
    }
    assert workers == {
        "ExecutionRole": {"Fn::GetAtt": [role_id, "Arn"]},
        "InstanceCount": 0,  # no accelerator runs until the count is raised
        "InstanceGroupName": "gpu-workers",
        "InstanceStorageConfigs": [{"EbsVolumeConfig": {"VolumeSizeInGB": 500}}],
        "InstanceType": "ml.p5.48xlarge",
        "LifeCycleConfig": lifecycle,
        "OnStartDeepHealthChecks": ["InstanceStress", "InstanceConnectivity"],
        "ThreadsPerCore": 1,
    }


def test_hyperpod_cluster_waits_for_scripts_role_addons_and_dependency_chart(
    template: Template,
) -> None:
    _, cluster = _one(template, SAGEMAKER_CLUSTER)
    depends_on = set(cluster["DependsOn"])
    for prefix in (
        "HyperPodAddonVpcCni",
        "HyperPodAddonKubeProxy",
        "HyperPodAddonEksPodIdentityAgent",
        "HyperPodAdmin0",
        "HyperPodDependencyChart",
        "HyperPodExecutionRoleDefaultPolicy",
        "HyperPodLifecycleScriptsCustomResource",
    ):
        assert any(dep.startswith(prefix) for dep in depends_on), prefix


def test_no_wait_condition_and_the_chart_install_precedes_the_cluster(
    template: Template,
) -> None:
    template.resource_count_is("AWS::CloudFormation::WaitCondition", 0)
    template.resource_count_is("AWS::CloudFormation::WaitConditionHandle", 0)
    install_id, install = _one(template, CHART_INSTALL_RESOURCE_TYPE)
    _, cluster = _one(template, SAGEMAKER_CLUSTER)
    assert install_id in cluster["DependsOn"]
    eks_id = _logical_id(template, "AWS::EKS::Cluster", "HyperPodCluster")
    assert install["Properties"]["ClusterName"] == {"Ref": eks_id}
    assert install["Properties"]["ClusterEndpoint"] == {"Fn::GetAtt": [eks_id, "Endpoint"]}
    assert install["Properties"]["ChartRevision"] == DEFAULT_HELM_CHART_REVISION
    assert install["Properties"]["ChartRepository"] == "aws/sagemaker-hyperpod-cli"
    assert install["Properties"]["ChartPath"] == "helm_chart/HyperPodHelmChart"
    assert "ChartS3Uri" not in install["Properties"]
    for prefix in (
        "HyperPodDependencyChartAccessEntry",
        "HyperPodAddonVpcCni",
        "HyperPodAddonKubeProxy",
        "HyperPodAdmin0",
    ):
        assert any(dep.startswith(prefix) for dep in install["DependsOn"]), prefix


def test_the_pinned_chart_commit_is_the_one_aws_template_installs() -> None:
    assert DEFAULT_HELM_CHART_REVISION == "f57185916d4f7d2fa85caf6a03c04fd17172d330"


def test_chart_install_runs_in_the_vpc_under_an_access_entry_of_its_own_role(
    template: Template,
) -> None:
    function_id = _logical_id(template, "AWS::Lambda::Function", "HyperPodDependencyChartFunction")
    function = resources_of_type(template, "AWS::Lambda::Function")[function_id]
    props = function["Properties"]
    subnet_id = _logical_id(template, "AWS::EC2::Subnet", "VpccomputeSubnet1")
    sg_id = _logical_id(template, "AWS::EC2::SecurityGroup", "Efa")
    egress_id = _logical_id(
        template, "AWS::EC2::SecurityGroup", "HyperPodDependencyChartEgressSecurityGroup"
    )
    assert props["VpcConfig"] == {
        "SecurityGroupIds": [
            {"Fn::GetAtt": [sg_id, "GroupId"]},
            {"Fn::GetAtt": [egress_id, "GroupId"]},
        ],
        "SubnetIds": [{"Ref": subnet_id}],
    }
    egress = resources_of_type(template, "AWS::EC2::SecurityGroup")[egress_id]
    assert egress["Properties"]["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to the EKS API, S3 and chart sources",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    assert props["Handler"] == "hyperpod_dependency_chart.handler"
    assert props["Timeout"] == 900
    # No kubectl layer package installed here: connected mode downloads the pinned Helm.
    assert props["Environment"]["Variables"]["HELM_SHA256"] == HELM_SHA256
    role_arn = props["Role"]
    entries = [
        entry["Properties"]
        for lid, entry in resources_of_type(template, "AWS::EKS::AccessEntry").items()
        if lid.startswith("HyperPodDependencyChartAccessEntry")
    ]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["PrincipalArn"] == role_arn
    (policy,) = entry["AccessPolicies"]
    assert policy["AccessScope"] == {"Type": "cluster"}
    assert "AmazonEKSClusterAdminPolicy" in json.dumps(policy["PolicyArn"])
    role_id = role_arn["Fn::GetAtt"][0]
    statements = [
        statement
        for p in resources_of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for statement in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements == [], "the install role needs no IAM permission beyond Lambda's"


def test_update_kubeconfig_command(
    default_build: tuple[cdk.Stack, HyperPodEksCluster, Template],
) -> None:
    stack, hyperpod, template = default_build
    kubeconfig = stack.resolve(hyperpod.update_kubeconfig_command)
    eks_id = _logical_id(template, "AWS::EKS::Cluster", "HyperPodCluster")
    assert kubeconfig == {
        "Fn::Join": [
            "",
            [
                "aws eks update-kubeconfig --region ",
                {"Ref": "AWS::Region"},
                " --name ",
                {"Ref": eks_id},
            ],
        ]
    }


def test_eks_cluster_private_api_auth_logging_and_secrets_encryption(
    template: Template,
) -> None:
    _, cluster = _one(template, "AWS::EKS::Cluster")
    key_id, _ = _one(template, "AWS::KMS::Key")
    props = cluster["Properties"]
    assert props["Version"] == "1.34"
    assert props["AccessConfig"] == {
        "AuthenticationMode": "API",
        "BootstrapClusterCreatorAdminPermissions": False,
    }
    assert props["Logging"] == {
        "ClusterLogging": {
            "EnabledTypes": [
                {"Type": t}
                for t in ("api", "audit", "authenticator", "controllerManager", "scheduler")
            ]
        }
    }
    assert props["EncryptionConfig"] == [
        {"Provider": {"KeyArn": {"Fn::GetAtt": [key_id, "Arn"]}}, "Resources": ["secrets"]}
    ]
    vpc_config = props["ResourcesVpcConfig"]
    assert vpc_config["EndpointPrivateAccess"] is True
    assert vpc_config["EndpointPublicAccess"] is False
    assert "PublicAccessCidrs" not in vpc_config
    assert len(vpc_config["SubnetIds"]) == 2
    sg_id = _logical_id(template, "AWS::EC2::SecurityGroup", "Efa")
    assert vpc_config["SecurityGroupIds"] == [{"Fn::GetAtt": [sg_id, "GroupId"]}]


def test_secrets_key_rotates_and_is_retained(template: Template) -> None:
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": Match.object_like({"EnableKeyRotation": True}),
            "DeletionPolicy": "RetainExceptOnCreate",
        },
    )


def test_addons_and_their_order(template: Template) -> None:
    addons = resources_of_type(template, "AWS::EKS::Addon")
    by_name = {addon["Properties"]["AddonName"]: addon for addon in addons.values()}
    assert sorted(by_name) == [
        "aws-fsx-csi-driver",
        "coredns",
        "eks-pod-identity-agent",
        "kube-proxy",
        "vpc-cni",
    ]
    hyperpod_id, _ = _one(template, SAGEMAKER_CLUSTER)
    for name in ("coredns", "aws-fsx-csi-driver"):
        assert by_name[name]["DependsOn"] == [hyperpod_id]
    for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert "DependsOn" not in by_name[name]
    for addon in by_name.values():
        assert addon["Properties"]["ResolveConflicts"] == "OVERWRITE"
        assert "AddonVersion" not in addon["Properties"]
    role_id = _logical_id(template, "AWS::IAM::Role", "HyperPodFsxCsiDriverRole")
    assert by_name["aws-fsx-csi-driver"]["Properties"]["PodIdentityAssociations"] == [
        {"RoleArn": {"Fn::GetAtt": [role_id, "Arn"]}, "ServiceAccount": "fsx-csi-controller-sa"}
    ]


def test_admin_access_entry(template: Template) -> None:
    entries = resources_of_type(template, "AWS::EKS::AccessEntry")
    entry = entries[_logical_id(template, "AWS::EKS::AccessEntry", "HyperPodAdmin0")]
    assert entry["Properties"]["PrincipalArn"] == ADMIN_ARN
    assert entry["Properties"]["Type"] == "STANDARD"
    assert entry["Properties"]["AccessPolicies"] == [
        {
            "AccessScope": {"Type": "cluster"},
            "PolicyArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                    ],
                ]
            },
        }
    ]


# -- roles ------------------------------------------------------------------------------


def test_execution_role_trusts_sagemaker_and_has_no_wildcard_actions(template: Template) -> None:
    role_id = _logical_id(template, "AWS::IAM::Role", "HyperPodExecutionRole")
    role = resources_of_type(template, "AWS::IAM::Role")[role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
        }
    ]
    assert "ManagedPolicyArns" not in role["Properties"]
    statements = _statements(template, "HyperPodExecutionRole")
    actions = [a for s in statements for a in _as_list(s["Action"])]
    assert all("*" not in action for action in actions)
    for required in (
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ecr:BatchGetImage",
        "ecr:GetAuthorizationToken",
        "eks-auth:AssumeRoleForPodIdentity",
        "s3:GetObject",
        "s3:ListBucket",
    ):
        assert required in actions


def test_execution_role_scopes(template: Template) -> None:
    statements = {s["Sid"]: s for s in _statements(template, "HyperPodExecutionRole")}
    eks_id = _logical_id(template, "AWS::EKS::Cluster", "HyperPodCluster")
    bucket_id = _logical_id(template, "AWS::S3::Bucket", "HyperPodLifecycleBucket")
    assert statements["PodIdentity"]["Resource"] == {"Fn::GetAtt": [eks_id, "Arn"]}
    assert statements["TagNetworkInterfaces"]["Action"] == "ec2:CreateTags"
    assert statements["TagNetworkInterfaces"]["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ec2:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":network-interface/*",
            ],
        ]
    }
    assert statements["ReadLifecycleScripts"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/hyperpod/lifecycle/*"]]
    }
    assert statements["ListLifecycleScripts"]["Condition"] == {
        "StringLike": {"s3:prefix": ["hyperpod/lifecycle/*"]}
    }
    assert statements["ClusterMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Clusters"}
    }
    vpc_id = _logical_id(template, "AWS::EC2::VPC", "Vpc")
    assert statements["NodeNetworkInterfaces"]["Condition"] == {
        "ArnEquals": {
            "ec2:Vpc": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":ec2:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":vpc/",
                        {"Ref": vpc_id},
                    ],
                ]
            }
        }
    }
    assert statements["RegistryLogin"]["Action"] == "ecr:GetAuthorizationToken"
    assert statements["RegistryLogin"]["Resource"] == "*"
    assert "ecr:GetAuthorizationToken" not in statements["PullImages"]["Action"]
    assert statements["PullImages"]["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ecr:",
                {"Ref": "AWS::Region"},
                ":*:repository/*",
            ],
        ]
    }


def test_execution_role_keeps_session_manager_messages(template: Template) -> None:
    statements = {s["Sid"]: s for s in _statements(template, "HyperPodExecutionRole")}
    assert sorted(statements["SessionManager"]["Action"]) == [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ]
    assert statements["SessionManager"]["Resource"] == "*"


def test_ecr_pulls_can_be_narrowed_to_named_repositories() -> None:
    repo = "arn:aws:ecr:us-east-1:111122223333:repository/llm-training"
    stack, _ = _build(nag=False, options=_options(), ecr_repository_arns=[repo])
    statements = {s["Sid"]: s for s in _statements(template_of(stack), "HyperPodExecutionRole")}
    assert statements["PullImages"]["Resource"] == repo


def test_fsx_csi_role_uses_pod_identity_and_reads_only_its_file_system(
    template: Template,
) -> None:
    role_id = _logical_id(template, "AWS::IAM::Role", "HyperPodFsxCsiDriverRole")
    role = resources_of_type(template, "AWS::IAM::Role")[role_id]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert {a for s in trust for a in _as_list(s["Action"])} == {
        "sts:AssumeRole",
        "sts:TagSession",
    }
    assert all(s["Principal"] == {"Service": "pods.eks.amazonaws.com"} for s in trust)
    (statement,) = _statements(template, "HyperPodFsxCsiDriverRole")
    assert statement["Action"] == "fsx:DescribeFileSystems"
    assert statement["Resource"]["Fn::Join"][1][-1] == f":file-system/{FS_ID}"


# -- lifecycle bucket -------------------------------------------------------------------


def test_lifecycle_bucket_name_starts_with_sagemaker_and_fits(template: Template) -> None:
    _, bucket = _one(template, "AWS::S3::Bucket")
    separator, parts = bucket["Properties"]["BucketName"]["Fn::Join"]
    assert separator == "-"
    assert re.fullmatch(r"sagemaker-hp-[0-9a-f]{4}", parts[0])
    assert parts[1]["Fn::Select"][0] == 0  # first block of the stack UUID (8 hex digits)
    assert parts[2:] == [{"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}]
    longest = "-".join([parts[0], "0" * 8, "1" * 12, "ap-southeast-5"])
    assert len(longest) <= 63
    assert bucket["DeletionPolicy"] == "RetainExceptOnCreate"
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


def test_lifecycle_scripts_are_uploaded_to_the_prefix(template: Template) -> None:
    _, deployment = _one(template, "Custom::CDKBucketDeployment")
    assert deployment["Properties"]["DestinationBucketKeyPrefix"] == "hyperpod/lifecycle/"
    assert deployment["Properties"]["Prune"] is True


def test_default_template_is_cfn_lint_clean(template: Template) -> None:
    assert cfn_lint_findings(template.to_json()) == []


# -- FSx for pods -----------------------------------------------------------------------


def test_fsx_manifest_is_a_static_volume_and_claim(
    default_build: tuple[cdk.Stack, HyperPodEksCluster, Template],
) -> None:
    stack, hyperpod, _ = default_build
    assert hyperpod.fsx_volume_manifest is not None
    rendered = stack.resolve(hyperpod.fsx_volume_manifest)
    manifest = json.loads(rendered) if isinstance(rendered, str) else None
    assert manifest == fsx_volume_manifests(
        file_system_id=FS_ID, dns_name=FS_DNS, mount_name=FS_MOUNT
    )


def test_fsx_manifest_contents() -> None:
    manifest = fsx_volume_manifests(
        file_system_id=FS_ID,
        dns_name=FS_DNS,
        mount_name=FS_MOUNT,
        options=FsxVolumeOptions(namespace="training", storage_capacity_gib=2400),
    )
    volume, claim = manifest["items"][:2]
    assert volume["spec"]["csi"] == {
        "driver": "fsx.csi.aws.com",
        "volumeHandle": FS_ID,
        "volumeAttributes": {"dnsname": FS_DNS, "mountname": FS_MOUNT},
    }
    assert volume["spec"]["capacity"] == {"storage": "2400Gi"}
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert claim["metadata"] == {"name": "fsx-claim", "namespace": "training"}
    assert claim["spec"]["volumeName"] == "fsx-pv"
    assert claim["spec"]["storageClassName"] == ""
    assert fsx_pod_volume(FsxVolumeOptions(read_only_data_directory=None)) == {
        "volumes": [{"name": "fsx", "persistentVolumeClaim": {"claimName": "fsx-claim"}}],
        "volumeMounts": [{"name": "fsx", "mountPath": "/fsx"}],
    }


def test_fsx_volume_states_the_capacity_of_the_file_system() -> None:
    stack, hyperpod = _build(
        nag=False,
        with_fsx=False,
        options=_options(),
        file_system=LustreFileSystemAttributes(
            file_system_id=FS_ID, dns_name=FS_DNS, mount_name=FS_MOUNT, storage_capacity_gib=4800
        ),
    )
    assert hyperpod.fsx_volume_manifest is not None
    manifest = json.loads(stack.resolve(hyperpod.fsx_volume_manifest))
    assert {item["spec"]["capacity"]["storage"] for item in manifest["items"][::2]} == {"4800Gi"}


def test_without_fsx_inputs_there_is_no_manifest_and_no_fsx_grant() -> None:
    stack, hyperpod = _build(nag=False, with_fsx=False, options=_options())
    assert hyperpod.fsx_volume_manifest is None
    assert _statements(template_of(stack), "HyperPodFsxCsiDriverRole") == []


# -- options ----------------------------------------------------------------------------


def test_options_public_endpoint_versions_plan_and_preinstalled() -> None:
    plan = "arn:aws:sagemaker:us-east-1:111122223333:training-plan/p5-week"
    options = HyperPodClusterOptions(
        cluster_name="llm-medium",
        node_recovery="None",
        dependency_chart=DependencyChartOptions(install=DependencyInstall.PREINSTALLED),
        eks=EksControlPlaneOptions(
            kubernetes_version="1.32",
            authentication_mode="API_AND_CONFIG_MAP",
            endpoint_access=EndpointAccess.PUBLIC_AND_PRIVATE,
            public_access_cidrs=("203.0.113.0/24",),
            admin_role_arns=(ADMIN_ARN,),
            addon_versions={"vpc-cni": "v1.19.2-eksbuild.1"},
        ),
        instance_groups=(
            InstanceGroupOptions(
                name="workers",
                instance_type="ml.p4d.24xlarge",
                instance_count=4,
                ebs_volume_size_gb=1000,
                threads_per_core=2,
                deep_health_checks=(DeepHealthCheck.INSTANCE_STRESS,),
                training_plan_arn=plan,
            ),
        ),
    )
    stack, hyperpod = _build(options=options)
    # Node recovery off and one health check are deliberate here: users who choose them must
    # acknowledge the rule pack's findings, as this test does.
    for rule_id in ("LLM-HP2", "LLM-HP3"):
        cdk.Validations.of(hyperpod).acknowledge(
            cdk.Acknowledgment(id=rule_id, reason="Test of non-default options.")
        )
    template = template_of(stack)
    template.resource_count_is("AWS::CloudFormation::WaitCondition", 0)
    template.resource_count_is(CHART_INSTALL_RESOURCE_TYPE, 0)
    assert any(
        "dependency_chart.install=preinstalled with a new EKS cluster" in w
        for w in _warnings(stack)
    )
    _, cluster = _one(template, SAGEMAKER_CLUSTER)
    props = cluster["Properties"]
    assert props["ClusterName"] == "llm-medium"
    assert props["NodeRecovery"] == "None"
    (group,) = props["InstanceGroups"]
    assert group["TrainingPlanArn"] == plan
    assert group["ThreadsPerCore"] == 2
    assert group["OnStartDeepHealthChecks"] == ["InstanceStress"]
    assert group["InstanceStorageConfigs"] == [{"EbsVolumeConfig": {"VolumeSizeInGB": 1000}}]
    _, eks_cluster = _one(template, "AWS::EKS::Cluster")
    eks_props = eks_cluster["Properties"]
    assert eks_props["Version"] == "1.32"
    assert eks_props["AccessConfig"]["AuthenticationMode"] == "API_AND_CONFIG_MAP"
    assert eks_props["ResourcesVpcConfig"]["EndpointPublicAccess"] is True
    assert eks_props["ResourcesVpcConfig"]["PublicAccessCidrs"] == ["203.0.113.0/24"]
    template.has_resource_properties(
        "AWS::EKS::Addon", {"AddonName": "vpc-cni", "AddonVersion": "v1.19.2-eksbuild.1"}
    )


def test_bring_your_own_cluster_key_roles_and_buckets() -> None:
    stack = new_stack()
    net = _network(stack)
    cluster = eks.Cluster.from_cluster_attributes(stack, "Existing", cluster_name="corp-eks")
    logs_bucket = s3.Bucket.from_bucket_name(stack, "Logs", "corp-access-logs")
    HyperPodEksCluster(
        stack,
        "HyperPod",
        vpc=net.vpc,
        subnet=net.subnet,
        security_groups=[net.security_group],
        cluster=cluster,
        access_logs_bucket=logs_bucket,
    )
    template = template_of(stack)
    for type_name in ("AWS::EKS::Cluster", "AWS::EKS::Addon", "AWS::EKS::AccessEntry"):
        template.resource_count_is(type_name, 0)
    template.resource_count_is("AWS::KMS::Key", 0)
    _, hyperpod = _one(template, SAGEMAKER_CLUSTER)
    assert hyperpod["Properties"]["Orchestrator"]["Eks"]["ClusterArn"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":eks:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":cluster/corp-eks",
            ],
        ]
    }
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LoggingConfiguration": {
                "DestinationBucketName": "corp-access-logs",
                "LogFilePrefix": "hyperpod-lifecycle/",
            }
        },
    )


def test_bring_your_own_key_admin_roles_and_lifecycle_bucket() -> None:
    stack = new_stack()
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    admin = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    bucket = s3.Bucket.from_bucket_name(stack, "Scripts", "sagemaker-corp-lifecycle")
    net = _network(stack)
    hyperpod = HyperPodEksCluster(
        stack,
        "HyperPod",
        vpc=net.vpc,
        subnet=net.subnet,
        security_groups=[net.security_group],
        key=key,
        admin_roles=[admin],
        lifecycle_bucket=bucket,
    )
    template = template_of(stack)
    assert hyperpod.secrets_key is key
    assert hyperpod.lifecycle_scripts_uri == "s3://sagemaker-corp-lifecycle/hyperpod/lifecycle/"
    template.resource_count_is("AWS::S3::Bucket", 0)
    _, cluster = _one(template, "AWS::EKS::Cluster")
    assert cluster["Properties"]["EncryptionConfig"][0]["Provider"]["KeyArn"] == key.key_arn
    operator_id = _logical_id(template, "AWS::IAM::Role", "Operator")
    template.has_resource_properties(
        "AWS::EKS::AccessEntry", {"PrincipalArn": {"Fn::GetAtt": [operator_id, "Arn"]}}
    )


def test_connections_expose_the_node_security_groups(
    default_build: tuple[cdk.Stack, HyperPodEksCluster, Template],
) -> None:
    _, hyperpod, _ = default_build
    assert len(hyperpod.connections.security_groups) == 1


# -- warnings ---------------------------------------------------------------------------


def _warnings(stack: cdk.Stack) -> list[str]:
    found = Annotations.from_stack(stack).find_warning("*", Match.any_value())
    return [str(entry.entry.data) for entry in found]


def test_warns_without_admin_and_on_non_efa_multi_node_groups() -> None:
    groups = (InstanceGroupOptions(name="g5", instance_type="ml.g5.xlarge", instance_count=2),)
    stack, _ = _build(
        nag=False, options=HyperPodClusterOptions(instance_groups=groups), with_fsx=False
    )
    warnings = _warnings(stack)
    assert any(
        "No EKS admin" in w and "[ack: cdk-llm-training/hyperpod-eks-cluster:noEksAdmin]" in w
        for w in warnings
    )
    assert any(
        "instance_groups[0] ('g5'): ml.g5.xlarge has no EFA; multi-node training across 2 "
        "instances will use TCP only "
        "[ack: cdk-llm-training/hyperpod-eks-cluster:instanceTypeWithoutEfa]" in w
        for w in warnings
    )


def test_warns_when_the_subnet_is_nearly_full() -> None:
    stack = new_stack(nag=False)
    net = _network(stack)
    subnet = ec2.Subnet.from_subnet_attributes(
        stack,
        "Small",
        subnet_id="subnet-0123456789abcdef0",
        availability_zone="us-east-1a",
        ipv4_cidr_block="10.0.0.0/24",
    )
    groups = (
        InstanceGroupOptions(name="sys", instance_type="ml.m5.2xlarge", instance_count=2),
        InstanceGroupOptions(name="gpu", instance_type="ml.p5.48xlarge", instance_count=2),
    )
    HyperPodEksCluster(
        stack,
        "HyperPod",
        vpc=net.vpc,
        subnet=subnet,
        security_groups=[net.security_group],
        options=_options(instance_groups=groups),
    )
    assert any(
        "subnet 10.0.0.0/24: the instance groups need about 222 of 251 usable addresses" in w
        and "[ack: cdk-llm-training/hyperpod-eks-cluster:subnetNearlyFull]" in w
        for w in _warnings(stack)
    )


# -- validation failures ----------------------------------------------------------------


def _single_error(model: type[Any], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    (item,) = error.value.errors()
    return str(item["msg"])


def test_fails_instance_group_name() -> None:
    message = _single_error(
        InstanceGroupOptions,
        {"name": "gpu_workers", "instance_type": "ml.p5.48xlarge", "instance_count": 1},
    )
    assert message == (
        "Value error, instance group name 'gpu_workers' must be 1-63 letters, digits and "
        "hyphens, starting and ending with a letter or digit"
    )


def test_fails_instance_type_without_ml_prefix() -> None:
    message = _single_error(
        InstanceGroupOptions, {"name": "w", "instance_type": "p5.48xlarge", "instance_count": 1}
    )
    assert message == (
        "Value error, instance_type 'p5.48xlarge' must use SageMaker naming "
        "'ml.<family>.<size>', for example 'ml.p5.48xlarge'"
    )


def test_fails_training_plan_arn() -> None:
    message = _single_error(
        InstanceGroupOptions,
        {
            "name": "w",
            "instance_type": "ml.p5.48xlarge",
            "instance_count": 1,
            "training_plan_arn": "plan-1",
        },
    )
    assert message == (
        "Value error, training_plan_arn 'plan-1' must look like "
        "'arn:aws:sagemaker:<region>:<account>:training-plan/<name>'"
    )


def test_fails_negative_instance_count() -> None:
    message = _single_error(
        InstanceGroupOptions, {"name": "w", "instance_type": "ml.p5.48xlarge", "instance_count": -1}
    )
    assert message == "Input should be greater than or equal to 0"


def test_fails_kubernetes_version() -> None:
    message = _single_error(EksControlPlaneOptions, {"kubernetes_version": "1.27"})
    assert message == (
        "Value error, kubernetes_version '1.27' is not supported by SageMaker HyperPod; "
        "allowed: 1.28, 1.29, 1.30, 1.31, 1.32, 1.33, 1.34"
    )


def test_fails_admin_role_arn() -> None:
    message = _single_error(EksControlPlaneOptions, {"admin_role_arns": ["admin"]})
    assert message == (
        "Value error, admin_role_arns 'admin' must be an IAM role ARN "
        "'arn:aws:iam::<account>:role/<name>'"
    )


def test_fails_unknown_addon_version_key() -> None:
    message = _single_error(
        EksControlPlaneOptions, {"addon_versions": {"metrics-server": "v0.7.2-eksbuild.1"}}
    )
    assert message == (
        "Value error, addon_versions key 'metrics-server' is not an add-on this cluster "
        "installs; allowed: vpc-cni, kube-proxy, eks-pod-identity-agent, coredns, "
        "aws-fsx-csi-driver"
    )


def test_fails_addon_version_format() -> None:
    message = _single_error(EksControlPlaneOptions, {"addon_versions": {"coredns": "1.11"}})
    assert message == (
        "Value error, addon_versions['coredns'] = '1.11' must look like 'v1.19.2-eksbuild.1'"
    )


def test_fails_vpc_cni_older_than_1_18_3() -> None:
    message = _single_error(
        EksControlPlaneOptions, {"addon_versions": {"vpc-cni": "v1.18.2-eksbuild.1"}}
    )
    assert message == (
        "Value error, addon_versions['vpc-cni'] = 'v1.18.2-eksbuild.1' is too old: SageMaker "
        "HyperPod needs VPC CNI 1.18.3 or later"
    )


def test_fails_public_endpoint_without_cidrs() -> None:
    message = _single_error(EksControlPlaneOptions, {"endpoint_access": "public_and_private"})
    assert message == (
        "Value error, endpoint_access 'public_and_private' needs public_access_cidrs (the CIDR "
        "blocks allowed to reach the public endpoint); 0.0.0.0/0 is not allowed"
    )


def test_fails_cidrs_with_private_endpoint() -> None:
    message = _single_error(EksControlPlaneOptions, {"public_access_cidrs": ["203.0.113.0/24"]})
    assert message == (
        "Value error, public_access_cidrs is only allowed with endpoint_access 'public_and_private'"
    )


def test_fails_public_endpoint_open_to_the_world() -> None:
    message = _single_error(
        EksControlPlaneOptions,
        {"endpoint_access": "public_and_private", "public_access_cidrs": ["0.0.0.0/0"]},
    )
    assert message == (
        "Value error, public_access_cidrs must not contain 0.0.0.0/0; list the networks of "
        "your operators instead"
    )


def test_fails_kubernetes_name_of_volume() -> None:
    message = _single_error(FsxVolumeOptions, {"claim_name": "FSx_Claim"})
    assert message == (
        "Value error, 'FSx_Claim' must be a Kubernetes name: lower-case letters, digits and "
        "hyphens, at most 63 characters"
    )


def test_fails_cluster_name() -> None:
    message = _single_error(HyperPodClusterOptions, {"cluster_name": "-bad"})
    assert message == (
        "Value error, cluster_name '-bad' must be 1-63 letters, digits and hyphens, starting "
        "and ending with a letter or digit"
    )


def test_fails_helm_chart_revision() -> None:
    message = _single_error(DependencyChartOptions, {"revision": "main"})
    assert message == (
        "Value error, dependency_chart.revision 'main' must be a full 40-character git commit "
        "SHA (lower-case hex)"
    )


def test_fails_chart_s3_uri_that_is_not_a_packaged_chart() -> None:
    message = _single_error(DependencyChartOptions, {"chart_s3_uri": "s3://bucket/chart/"})
    assert message == (
        "Value error, dependency_chart.chart_s3_uri 's3://bucket/chart/' must look like "
        "'s3://<bucket>/<key>.tgz' (a chart packaged with helm package)"
    )


def test_fails_chart_path_escaping_the_repository() -> None:
    message = _single_error(DependencyChartOptions, {"chart_path": "../etc"})
    assert "must be a relative path without '.' or '..' segments" in message


def test_fails_duplicate_group_names() -> None:
    group = {"name": "w", "instance_type": "ml.p5.48xlarge", "instance_count": 1}
    message = _single_error(HyperPodClusterOptions, {"instance_groups": [group, group]})
    assert message == "Value error, instance group names must be unique; repeated: ['w']"


def _build_groups(*groups: InstanceGroupOptions, **options: Any) -> None:
    _build(nag=False, with_fsx=False, options=_options(instance_groups=groups, **options))


def test_fails_accelerated_type_not_in_catalog() -> None:
    group = InstanceGroupOptions(
        name="b200", instance_type="ml.p6-b200.48xlarge", instance_count=2, accelerated=True
    )
    with pytest.raises(ValueError, match=r"^instance_groups\[0\] \('b200'\): instance_type "):
        _build_groups(group)
    with pytest.raises(ValueError, match=r"\S") as error:  # exact text asserted below
        _build_groups(group)
    message = str(error.value)
    assert "'ml.p6-b200.48xlarge' is not in the instance catalog; known accelerated types: " in (
        message
    )
    assert "ml.p5.48xlarge" in message
    assert message.endswith("Set allow_uncataloged_instance_type=true to use it anyway")


def test_uncataloged_type_allowed_with_override() -> None:
    group = InstanceGroupOptions(
        name="b200",
        instance_type="ml.p6-b200.48xlarge",
        instance_count=2,
        accelerated=True,
        allow_uncataloged_instance_type=True,
    )
    stack, _ = _build(nag=False, with_fsx=False, options=_options(instance_groups=(group,)))
    _, cluster = _one(template_of(stack), SAGEMAKER_CLUSTER)
    (rendered,) = cluster["Properties"]["InstanceGroups"]
    assert rendered["OnStartDeepHealthChecks"] == ["InstanceStress", "InstanceConnectivity"]


def test_fails_deep_health_checks_on_cpu_group() -> None:
    group = InstanceGroupOptions(
        name="sys",
        instance_type="ml.m5.2xlarge",
        instance_count=1,
        deep_health_checks=(DeepHealthCheck.INSTANCE_STRESS,),
    )
    with pytest.raises(ValueError, match=r"\S") as error:  # exact text asserted below
        _build_groups(group)
    assert str(error.value) == (
        "instance_groups[0] ('sys'): deep_health_checks ['InstanceStress'] need an accelerated "
        "instance type; 'ml.m5.2xlarge' has no GPU or Trainium accelerators"
    )


def test_fails_mixing_trainium_and_gpu_groups() -> None:
    gpu = InstanceGroupOptions(name="gpu", instance_type="ml.p5.48xlarge", instance_count=2)
    trn = InstanceGroupOptions(name="trn", instance_type="ml.trn1.32xlarge", instance_count=2)
    with pytest.raises(ValueError, match=r"\S") as error:  # exact text asserted below
        _build_groups(gpu, trn)
    assert str(error.value) == (
        "instance_groups mix accelerator families {'nvidia': ['gpu'], 'trainium': ['trn']}: "
        "NVIDIA GPU and Trainium groups need different device plugins, drivers and container "
        "images. Use one family per cluster, or set allow_mixed_accelerator_families=true"
    )
    _build_groups(gpu, trn, allow_mixed_accelerator_families=True)


def test_fails_too_many_nodes_for_the_subnet() -> None:
    stack = new_stack(nag=False)
    net = _network(stack)
    subnet = ec2.Subnet.from_subnet_attributes(
        stack,
        "Small",
        subnet_id="subnet-0123456789abcdef0",
        availability_zone="us-east-1a",
        ipv4_cidr_block="10.0.0.0/24",
    )
    groups = (InstanceGroupOptions(name="gpu", instance_type="ml.p5.48xlarge", instance_count=4),)
    with pytest.raises(ValueError, match=r"\S") as error:  # exact text asserted below
        HyperPodEksCluster(
            stack,
            "HyperPod",
            vpc=net.vpc,
            subnet=subnet,
            security_groups=[net.security_group],
            options=_options(instance_groups=groups),
        )
    assert str(error.value) == (
        "subnet 10.0.0.0/24 has 251 usable addresses but the instance groups at "
        "max_instance_count (4 nodes) need about 324 under EKS (81 per accelerated node, 30 "
        "per CPU node): use a larger compute subnet or fewer nodes"
    )


def test_fails_fsx_in_another_az() -> None:
    stack = new_stack(nag=False)
    net = _network(stack)
    compute = ec2.Subnet.from_subnet_attributes(
        stack, "Compute", subnet_id="subnet-0aaa", availability_zone="us-east-1a"
    )
    fsx_subnet = ec2.Subnet.from_subnet_attributes(
        stack, "Storage", subnet_id="subnet-0bbb", availability_zone="us-east-1b"
    )
    with pytest.raises(ValueError, match=r"\S") as error:  # exact text asserted below
        HyperPodEksCluster(
            stack,
            "HyperPod",
            vpc=net.vpc,
            subnet=compute,
            security_groups=[net.security_group],
            file_system=LustreFileSystemAttributes(
                file_system_id=FS_ID, dns_name=FS_DNS, mount_name=FS_MOUNT, subnet=fsx_subnet
            ),
        )
    assert str(error.value) == (
        "file_system's subnet is in 'us-east-1b' but the compute subnet is in 'us-east-1a': "
        "put the file system in the compute subnet's AZ (Lustre and EFA traffic should not "
        "cross AZs)"
    )


def test_fails_too_many_security_groups() -> None:
    stack = new_stack(nag=False)
    net = _network(stack)
    groups = [net.security_group] * 6
    with pytest.raises(ValueError, match=r"\S") as error:  # exact text asserted below
        HyperPodEksCluster(
            stack, "HyperPod", vpc=net.vpc, subnet=net.subnet, security_groups=groups
        )
    assert str(error.value) == "security_groups: got 6 security groups; HyperPod accepts 1 to 5"


def test_fails_control_plane_in_one_az() -> None:
    stack = new_stack(nag=False)
    net = _network(stack)
    with pytest.raises(ValueError, match=r"\S") as error:  # exact text asserted below
        HyperPodEksCluster(
            stack,
            "HyperPod",
            vpc=net.vpc,
            subnet=net.subnet,
            security_groups=[net.security_group],
            control_plane_subnets=ec2.SubnetSelection(subnets=[net.subnet]),
        )
    assert str(error.value) == (
        "control_plane_subnets: EKS needs subnets in at least two AZs; the selection gave "
        "1 subnet(s)"
    )


# -- shipped scripts --------------------------------------------------------------------


def _shipped_scripts() -> Iterator[Any]:
    yield from sorted(HYPERPOD_LIFECYCLE_DIR.glob("*.sh"))


def test_lifecycle_scripts_are_packaged_and_executable() -> None:
    names = sorted(path.name for path in HYPERPOD_LIFECYCLE_DIR.glob("*.sh"))
    assert names == [
        "configure_containerd.sh",
        "configure_storage.sh",
        "describe_node.sh",
        "lib.sh",
        "on_create.sh",
    ]
    assert HYPERPOD_ON_CREATE in names
    for path in _shipped_scripts():
        assert os.access(path, os.X_OK), path


@pytest.mark.parametrize("script", list(_shipped_scripts()), ids=lambda p: p.name)
def test_shipped_script_parses_with_bash(script: Any) -> None:
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_shipped_scripts_pass_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck to run this check)")
    result = subprocess.run(
        ["shellcheck", "-x", "-P", str(HYPERPOD_LIFECYCLE_DIR)]
        + [str(path) for path in _shipped_scripts()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_on_create_moves_containerd_after_preparing_the_volume() -> None:
    steps = [
        line.split("/")[-1].strip('"')
        for line in (HYPERPOD_LIFECYCLE_DIR / "on_create.sh").read_text().splitlines()
        if line.startswith("run_step")
    ]
    assert steps == ["configure_storage.sh", "configure_containerd.sh", "describe_node.sh"]


def test_containerd_stays_on_the_root_volume_without_the_secondary_mount(tmp_path: Any) -> None:
    env = {
        **os.environ,
        "SECONDARY_MOUNT": str(tmp_path / "not-a-mount"),
        "MOUNT_WAIT_SECONDS": "0",
    }
    result = subprocess.run(
        ["bash", str(HYPERPOD_LIFECYCLE_DIR / "configure_containerd.sh")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "is not mounted after 0s; containerd stays on the root volume" in result.stdout
    assert not (tmp_path / "not-a-mount").exists()


def test_containerd_script_uses_the_documented_paths() -> None:
    script = (HYPERPOD_LIFECYCLE_DIR / "configure_containerd.sh").read_text()
    for fact in (
        'SECONDARY_MOUNT="${SECONDARY_MOUNT:-/opt/sagemaker}"',
        "/etc/eks/containerd/containerd-config.toml",
        "/etc/systemd/system/containerd.service.d/",
        "systemctl daemon-reload",
        "ln -s",
    ):
        assert fact in script, fact
