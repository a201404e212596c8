"""The optional SageMaker HyperPod EKS add-ons: training operator (with cert-manager), task
governance (with its cluster policy and team quotas) and observability."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Aws, CfnResource, Stack
from aws_cdk import aws_aps as aps
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from cdk_llm_training.config.hyperpod import HyperPodAddonOptions, TaskGovernanceOptions
from cdk_llm_training.constructs.acknowledgements import acknowledge

TRAINING_OPERATOR_ADDON = "amazon-sagemaker-hyperpod-training-operator"
TASK_GOVERNANCE_ADDON = "amazon-sagemaker-hyperpod-taskgovernance"
OBSERVABILITY_ADDON = "amazon-sagemaker-hyperpod-observability"
CERT_MANAGER_ADDON = "cert-manager"

TRAINING_OPERATOR_NAMESPACE = "aws-hyperpod"
TRAINING_OPERATOR_SERVICE_ACCOUNT = "hp-training-operator-controller-manager"
"""Namespace and service account of the training operator's controller (the Pod Identity
association AWS's install guide creates)."""
TRAINING_OPERATOR_POLICY = "AmazonSageMakerHyperPodTrainingOperatorAccess"
OBSERVABILITY_SERVICE_ACCOUNT = "hyperpod-observability-operator-otel-collector"
"""Service account of the observability add-on's collector (unverified against AWS docs;
taken from AWS's sample Terraform modules for HyperPod)."""
COMPUTE_QUOTA_TYPE = "AWS::SageMaker::ComputeQuota"
"""No L1 in aws-cdk-lib 2.275: a ``CfnResource``, checked by cfn-lint's resource schema."""


@dataclass
class HyperPodAddons:
    """What :func:`add_hyperpod_addons` created, by add-on name."""

    addons: dict[str, eks.CfnAddon] = field(default_factory=dict)
    roles: dict[str, iam.Role] = field(default_factory=dict)
    scheduler_config: sagemaker.CfnClusterSchedulerConfig | None = None
    compute_quotas: list[CfnResource] = field(default_factory=list)
    prometheus_workspace: aps.CfnWorkspace | None = None


def add_hyperpod_addons(
    scope: Construct,
    *,
    options: HyperPodAddonOptions,
    cluster_name: str,
    cluster_arn: str,
    hyperpod_cluster: sagemaker.CfnCluster,
) -> HyperPodAddons:
    """The add-ons ``options`` turn on, each created after the HyperPod cluster (their
    controllers are Deployments and need nodes)."""
    created = HyperPodAddons()

    def addon(name: str, **extra: object) -> eks.CfnAddon:
        construct_id = "Addon" + "".join(part.capitalize() for part in name.split("-"))
        resource = eks.CfnAddon(
            scope,
            construct_id,
            addon_name=name,
            cluster_name=cluster_name,
            addon_version=options.versions.get(name),
            resolve_conflicts="OVERWRITE",
            **extra,  # type: ignore[arg-type]
        )
        resource.node.add_dependency(hyperpod_cluster)
        created.addons[name] = resource
        return resource

    if options.training_operator:
        cert_manager = addon(CERT_MANAGER_ADDON)
        role = _pod_identity_role(
            scope,
            "TrainingOperatorRole",
            cluster_arn,
            "EKS Pod Identity role of the HyperPod training operator controller.",
        )
        role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name(TRAINING_OPERATOR_POLICY)
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            f"{TRAINING_OPERATOR_POLICY}]",
            "The AWS-managed policy AWS's training-operator install guide attaches; AWS "
            "extends it as the operator gains features.",
        )
        created.roles[TRAINING_OPERATOR_ADDON] = role
        # Standalone association, not the add-on's inline one: add-on v1.2.1 rejects the
        # inline form ("Pod Identity feature is not supported for addon version").
        association = eks.CfnPodIdentityAssociation(
            scope,
            "TrainingOperatorPodIdentity",
            cluster_name=cluster_name,
            namespace=TRAINING_OPERATOR_NAMESPACE,
            service_account=TRAINING_OPERATOR_SERVICE_ACCOUNT,
            role_arn=role.role_arn,
        )
        operator = addon(TRAINING_OPERATOR_ADDON)
        operator.node.add_dependency(association)
        operator.node.add_dependency(cert_manager)

    if options.task_governance is not None:
        governance = addon(TASK_GOVERNANCE_ADDON)
        _task_governance(scope, options.task_governance, hyperpod_cluster, governance, created)

    if options.observability is not None:
        obs = options.observability
        if obs.prometheus_workspace_arn is not None and obs.prometheus_endpoint is not None:
            workspace_arn, endpoint = obs.prometheus_workspace_arn, obs.prometheus_endpoint
        else:
            workspace = aps.CfnWorkspace(
                scope, "PrometheusWorkspace", alias=f"{Stack.of(scope).stack_name}-hyperpod"
            )
            created.prometheus_workspace = workspace
            workspace_arn = workspace.attr_arn
            endpoint = workspace.attr_prometheus_endpoint
        role = _pod_identity_role(
            scope,
            "ObservabilityRole",
            cluster_arn,
            "EKS Pod Identity role of the HyperPod observability collector.",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RemoteWrite", actions=["aps:RemoteWrite"], resources=[workspace_arn]
            )
        )
        created.roles[OBSERVABILITY_ADDON] = role
        addon(
            OBSERVABILITY_ADDON,
            configuration_values=Stack.of(scope).to_json_string(
                {"ampWorkspace": {"prometheusEndpoint": endpoint, "arn": workspace_arn}}
            ),
            pod_identity_associations=[
                eks.CfnAddon.PodIdentityAssociationProperty(
                    role_arn=role.role_arn, service_account=OBSERVABILITY_SERVICE_ACCOUNT
                )
            ],
        )
    return created


def _pod_identity_role(scope: Construct, id: str, cluster_arn: str, description: str) -> iam.Role:
    """A role EKS Pod Identity may assume for this cluster's pods only."""
    principal = iam.ServicePrincipal("pods.eks.amazonaws.com").with_conditions(
        {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnEquals": {"aws:SourceArn": cluster_arn},
        }
    )
    role = iam.Role(scope, id, assumed_by=principal, description=description)
    role.assume_role_policy.add_statements(  # type: ignore[union-attr]
        iam.PolicyStatement(
            actions=["sts:TagSession"],
            principals=[iam.ServicePrincipal("pods.eks.amazonaws.com")],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnEquals": {"aws:SourceArn": cluster_arn},
            },
        )
    )
    return role


def _task_governance(
    scope: Construct,
    options: TaskGovernanceOptions,
    hyperpod_cluster: sagemaker.CfnCluster,
    governance_addon: eks.CfnAddon,
    created: HyperPodAddons,
) -> None:
    enabled = {True: "Enabled", False: "Disabled"}
    scheduler = sagemaker.CfnClusterSchedulerConfig(
        scope,
        "ClusterSchedulerConfig",
        name=f"{Stack.of(scope).stack_name[:40]}-policy".lower().replace("_", "-"),
        cluster_arn=hyperpod_cluster.attr_cluster_arn,
        scheduler_config=sagemaker.CfnClusterSchedulerConfig.SchedulerConfigProperty(
            fair_share=enabled[options.fair_share],
            idle_resource_sharing=enabled[options.idle_resource_sharing],
            priority_classes=[
                sagemaker.CfnClusterSchedulerConfig.PriorityClassProperty(name=name, weight=weight)
                for name, weight in options.priority_classes.items()
            ],
        ),
    )
    scheduler.node.add_dependency(governance_addon)
    created.scheduler_config = scheduler
    for quota in options.teams:
        sharing: dict[str, object] = {"Strategy": quota.sharing}
        if quota.borrow_limit_percent is not None and quota.sharing == "LendAndBorrow":
            sharing["BorrowLimit"] = quota.borrow_limit_percent
        resource = CfnResource(
            scope,
            "Quota" + "".join(part.capitalize() for part in quota.team.split("-")),
            type=COMPUTE_QUOTA_TYPE,
            properties={
                "Name": quota.team,
                "ClusterArn": hyperpod_cluster.attr_cluster_arn,
                "ComputeQuotaConfig": {
                    "ComputeQuotaResources": [
                        {"InstanceType": quota.instance_type, "Count": quota.instance_count}
                    ],
                    "ResourceSharingConfig": sharing,
                    "PreemptTeamTasks": quota.preempt_team_tasks,
                },
                "ComputeQuotaTarget": {
                    "TeamName": quota.team,
                    "FairShareWeight": quota.fair_share_weight,
                },
            },
        )
        # aws-cdk-lib 2.275's built-in template validation has no schema for this type yet;
        # cfn-lint (in the test suite) validates it against CloudFormation's resource schema.
        acknowledge(
            resource,
            "CloudFormation-Validate::F3006",
            f"{COMPUTE_QUOTA_TYPE} is a CloudFormation type newer than aws-cdk-lib's schema "
            "list; cfn-lint checks it against CloudFormation's own schema.",
        )
        resource.node.add_dependency(scheduler)
        created.compute_quotas.append(resource)
