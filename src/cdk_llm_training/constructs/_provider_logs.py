"""Log groups for the Lambda functions of aws-cdk-lib's own custom-resource providers, created
in the stack (retention, key) before the first invoke would create them bare."""

from __future__ import annotations

from aws_cdk import CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs


def provider_log_group(
    custom_resource: IConstruct,
    *,
    provider_id: str,
    retention: logs.RetentionDays,
    key: kms.IKey | None,
    removal_policy: RemovalPolicy,
) -> logs.LogGroup | None:
    """``/aws/lambda/<handler>`` of the stack-level provider ``provider_id`` (one per stack,
    shared by every custom resource of its kind), and ``custom_resource`` made to wait for it.

    The name is known in advance (the handler's generated name) and unique to the stack; the
    group exists before the first invoke, so Lambda never creates it without retention or key.
    None when the stack has no such provider (another aws-cdk-lib version may name it
    differently): the function then logs as before.
    """
    stack = Stack.of(custom_resource)
    provider = stack.node.try_find_child(provider_id)
    handler = provider.node.try_find_child("Handler") if provider is not None else None
    resource = custom_resource.node.default_child
    if not isinstance(handler, CfnResource) or not isinstance(resource, CfnResource):
        return None
    assert isinstance(provider, Construct)
    group = provider.node.try_find_child("Logs")
    if not isinstance(group, logs.LogGroup):
        if key is not None:
            allow_cloudwatch_logs(key)
        group = logs.LogGroup(
            provider,
            "Logs",
            log_group_name=f"/aws/lambda/{handler.ref}",
            retention=retention,
            encryption_key=key,
            removal_policy=removal_policy,
        )
    resource.node.add_dependency(group)
    return group
