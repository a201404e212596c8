"""One work team of the workforce: its encrypted notification topic, its Cognito group (or
OIDC groups) and the ``AWS::SageMaker::Workteam``, created in the workforce's own scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_llm_training.config.labeling_workforce import WorkteamOptions


@dataclass(frozen=True)
class CognitoMembers:
    """The pool and app client behind the workforce, whose groups form the teams."""

    user_pool_id: str
    client_id: str


def create_team(
    scope: Construct,
    team: WorkteamOptions,
    *,
    workforce_name: str,
    key: kms.IKey,
    cognito_members: CognitoMembers | None,
) -> tuple[sns.Topic, sagemaker.CfnWorkteam]:
    """``Notifications-<name>`` (KMS-encrypted, TLS-only, SageMaker of this account may
    publish), ``Group-<name>`` when ``cognito_members`` is given (otherwise the team is the
    members of ``team.oidc_groups``) and ``Team-<name>``."""
    topic = sns.Topic(
        scope,
        f"Notifications-{team.name}",
        display_name=f"Labeling tasks for {team.name}",
        master_key=key,
        enforce_ssl=True,
    )
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowGroundTruthNotifications",
            principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )
    if cognito_members is not None:
        group = cognito.CfnUserPoolGroup(
            scope,
            f"Group-{team.name}",
            user_pool_id=cognito_members.user_pool_id,
            group_name=team.name,
            description=f"Members of work team {team.name}",
        )
        member: Any = sagemaker.CfnWorkteam.MemberDefinitionProperty(
            cognito_member_definition=sagemaker.CfnWorkteam.CognitoMemberDefinitionProperty(
                cognito_client_id=cognito_members.client_id,
                cognito_user_group=group.ref,
                cognito_user_pool=cognito_members.user_pool_id,
            )
        )
    else:
        member = sagemaker.CfnWorkteam.MemberDefinitionProperty(
            oidc_member_definition=sagemaker.CfnWorkteam.OidcMemberDefinitionProperty(
                oidc_groups=list(team.oidc_groups)
            )
        )
    workteam = sagemaker.CfnWorkteam(
        scope,
        f"Team-{team.name}",
        workteam_name=team.name,
        description=team.description,
        workforce_name=workforce_name,
        member_definitions=[member],
        notification_configuration=sagemaker.CfnWorkteam.NotificationConfigurationProperty(
            notification_topic_arn=topic.topic_arn
        ),
    )
    return topic, workteam
