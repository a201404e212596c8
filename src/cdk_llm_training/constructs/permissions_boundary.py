"""One call that puts a permissions boundary on every IAM role a scope creates, including the
roles AWS ParallelCluster creates for a ``TrainiumParallelCluster``."""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from aws_cdk import Annotations, Aspects, CfnResource, IAspect
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from cdk_llm_training.config.permissions_boundary import PermissionsBoundaryOptions
from cdk_llm_training.constructs.trainium_parallel_cluster import (
    CLUSTER_RESOURCE_TYPE,
    TrainiumParallelCluster,
)

PROVIDER_ROLE_WARNING = "cdk-llm-training/permissions-boundary:providerRoleNotBounded"


def apply_permissions_boundary(
    scope: Construct,
    policy: str | iam.IManagedPolicy | PermissionsBoundaryOptions,
    *,
    parallel_cluster_resource_prefix: str | None = None,
) -> iam.IManagedPolicy:
    """Apply ``policy`` as the permissions boundary of every role under ``scope``.

    - Roles in the CloudFormation templates (``AWS::IAM::Role``, custom-resource provider roles
      included): CDK's :class:`aws_cdk.aws_iam.PermissionsBoundary` aspect.
    - Roles AWS ParallelCluster creates (head node, compute nodes, its Lambda functions): the
      cluster configuration's ``Iam.PermissionsBoundary`` (and ``Iam.ResourcePrefix`` when
      ``parallel_cluster_resource_prefix`` is given) on every ``Custom::PclusterCluster``.
    - The ParallelCluster provider's own Lambda role is created by AWS's provider template,
      which takes no boundary: a :class:`TrainiumParallelCluster` without ``provider_role``
      gets a warning saying so (pass a role you create, which then gets the boundary).

    :param policy: managed policy, its ARN or name (resolved in the stack's account), or
        :class:`PermissionsBoundaryOptions`.
    :param parallel_cluster_resource_prefix: ParallelCluster ``Iam.ResourcePrefix``. Default:
        the options' value, else none.
    :returns: the boundary policy.

    Example::

        stack = LargePretrainStack(app, "LargePretrainStack")
        apply_permissions_boundary(stack, "TeamBoundary")
    """
    if isinstance(policy, PermissionsBoundaryOptions):
        parallel_cluster_resource_prefix = (
            parallel_cluster_resource_prefix or policy.parallel_cluster_resource_prefix
        )
        policy = policy.policy
    if isinstance(policy, str):
        options = PermissionsBoundaryOptions(policy=policy)  # validates the ARN or name
        if options.policy.startswith("arn:"):
            policy = iam.ManagedPolicy.from_managed_policy_arn(
                scope, "PermissionsBoundary", options.policy
            )
        else:
            policy = iam.ManagedPolicy.from_managed_policy_name(
                scope, "PermissionsBoundary", options.policy
            )
    iam.PermissionsBoundary.of(scope).apply(policy)
    Aspects.of(scope).add(
        _ParallelClusterBoundary(policy.managed_policy_arn, parallel_cluster_resource_prefix)
    )
    return policy


@jsii.implements(IAspect)
class _ParallelClusterBoundary:
    """Sets ``Iam.PermissionsBoundary`` (and ``Iam.ResourcePrefix``) in every ParallelCluster
    cluster configuration under the scope (AWS ParallelCluster 3 ``Iam`` section)."""

    def __init__(self, policy_arn: str, resource_prefix: str | None) -> None:
        self._policy_arn = policy_arn
        self._resource_prefix = resource_prefix

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource) and node.cfn_resource_type == CLUSTER_RESOURCE_TYPE:
            node.add_property_override(
                "ClusterConfiguration.Iam.PermissionsBoundary", self._policy_arn
            )
            if self._resource_prefix is not None:
                node.add_property_override(
                    "ClusterConfiguration.Iam.ResourcePrefix", self._resource_prefix
                )
        elif isinstance(node, TrainiumParallelCluster):
            parameters = node.provider.parameters
            if not isinstance(parameters, Mapping) or "CustomLambdaRole" not in parameters:
                Annotations.of(node).add_warning_v2(
                    PROVIDER_ROLE_WARNING,
                    "The ParallelCluster provider's Lambda role is created by AWS's provider "
                    "template, which takes no permissions boundary; pass provider_role= (a "
                    "role created in this stack gets the boundary) if every role must carry it.",
                )
