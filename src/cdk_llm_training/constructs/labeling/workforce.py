"""LabelingWorkforce: a Ground Truth private workforce (Cognito or OIDC) and its work teams."""

from __future__ import annotations

from aws_cdk import Annotations, Aws, CustomResource, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_llm_training.config.labeling_workforce import (
    LabelingOptions,
    WorkforceMode,
    team_identity_problem,
)
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.labeling.identity import (
    create_user_pool,
    reuse_or_create_workforce,
)
from cdk_llm_training.constructs.labeling.team_ref import WorkTeamRef
from cdk_llm_training.constructs.labeling.teams import CognitoMembers, create_team
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs

SOURCE_IP_IGNORED_WARNING = "cdk-llm-training/labeling-workforce:sourceIpCidrsIgnored"
"""``source_ip_cidrs`` is set for a workforce this construct imports (it cannot apply them)."""


class LabelingWorkforce(Construct):
    """A Ground Truth private workforce and its work teams.

    Defaults (``LabelingOptions()``): the account's existing private workforce named
    ``default`` is imported, because AWS allows one private workforce per account and Region
    (two stacks that both create one collide at deploy time). With
    ``WorkforceOptions(mode=WorkforceMode.COGNITO)`` the construct creates a hardened Cognito
    user pool (no self sign-up, 14-character passwords with all character classes, TOTP MFA
    required, Plus feature plan with threat protection enforced) and its domain, and a
    ``Custom::PrivateWorkforce`` resource that, at deploy time, reuses the account's
    private workforce when the Region has one and creates it (backed by that pool and an
    app client the resource creates and owns) when it has none; ``workforce_outcome``
    (``created`` or ``reused``) says which happened, and the work teams use the pool and
    client behind the workforce either way (``user_pool_client`` is that client). The app
    client is not a CloudFormation resource, so no stack update resets the OAuth settings
    Ground Truth writes on it. ``OIDC`` works the same way with your identity provider (the
    function reads the client secret from Secrets Manager); an existing workforce of the
    other kind fails the deploy with a message saying what to set instead.

    Always created: one work team per ``teams`` entry (default ``llm-labelers``) with a
    KMS-encrypted, TLS-only SNS topic for task notifications. Hand the teams to a
    :class:`~cdk_llm_training.LabelingWorkflow` with :attr:`team_refs`.

    An imported Cognito workforce needs ``user_pool`` and ``user_pool_client`` (the pool
    behind it, or ``WorkforceOptions.cognito_user_pool_id`` and ``cognito_client_id``) so
    teams can be built from Cognito groups; an OIDC one needs ``oidc_groups`` on every team.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: LabelingOptions | None = None,
        user_pool: cognito.IUserPool | None = None,
        user_pool_client: cognito.IUserPoolClient | None = None,
        notification_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the workforce (or import it) and its teams.

        :param options: plain-data settings (this construct reads ``workforce``, ``teams``
            and ``log_retention_days``). Default: ``LabelingOptions()``.
        :param user_pool: the Cognito user pool behind an imported workforce. Default: none;
            with ``mode=cognito`` a new pool is created and this must be left out.
        :param user_pool_client: the app client of ``user_pool`` the workforce uses.
        :param notification_key: KMS key of the team topics and the workforce function's log
            group (its policy gets the SageMaker and CloudWatch Logs statements). Default: a
            new key with rotation.
        :param removal_policy: for the user pool, its domain, the workforce (with the app
            client its custom resource owns), the notification key and the log group.
            Default ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "LabelingWorkforce")
        self.options = options or LabelingOptions()
        self.removal_policy = removal_policy
        workforce_opts = self.options.workforce
        if workforce_opts.cognito_user_pool_id and workforce_opts.cognito_client_id:
            if user_pool is not None or user_pool_client is not None:
                raise ValueError(
                    "Give the imported workforce's Cognito pool once: either user_pool and "
                    "user_pool_client, or options.workforce.cognito_user_pool_id and "
                    "cognito_client_id, not both."
                )
            user_pool = cognito.UserPool.from_user_pool_id(
                self, "ImportedUserPool", workforce_opts.cognito_user_pool_id
            )
            user_pool_client = cognito.UserPoolClient.from_user_pool_client_id(
                self, "ImportedPortalClient", workforce_opts.cognito_client_id
            )
        self._validate_identity(user_pool, user_pool_client)

        self.user_pool: cognito.IUserPool | None = user_pool
        self.user_pool_client: cognito.IUserPoolClient | None = user_pool_client
        self.user_pool_domain: cognito.UserPoolDomain | None = None
        self.workforce_name: str = workforce_opts.name
        self._team_pool_id = user_pool.user_pool_id if user_pool else None
        self._team_client_id = user_pool_client.user_pool_client_id if user_pool_client else None

        self.notification_key: kms.IKey = notification_key or kms.Key(
            self,
            "NotificationKey",
            description="Encrypts Ground Truth work-team notification topics and labeling logs.",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.notification_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSageMakerToPublishEncryptedNotifications",
                principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        # The same key encrypts the log groups (a workflow given this key logs with it too).
        allow_cloudwatch_logs(self.notification_key)

        self.workforce_resource: CustomResource | None = None
        self.workforce_outcome: str | None = None
        if workforce_opts.mode is not WorkforceMode.IMPORT:
            self._reuse_or_create(removal_policy)
        elif workforce_opts.source_ip_cidrs:
            Annotations.of(self).add_warning_v2(
                SOURCE_IP_IGNORED_WARNING,
                "source_ip_cidrs apply only when this stack creates the workforce; the "
                f"imported workforce '{workforce_opts.name}' keeps its own IP restrictions.",
            )

        self.topics: dict[str, sns.Topic] = {}
        self.workteams: dict[str, sagemaker.CfnWorkteam] = {}
        members = None
        if self._team_pool_id is not None and workforce_opts.mode is not WorkforceMode.OIDC:
            assert self._team_client_id is not None
            members = CognitoMembers(self._team_pool_id, self._team_client_id)
        for team in self.options.teams:
            topic, workteam = create_team(
                self,
                team,
                workforce_name=self.workforce_name,
                key=self.notification_key,
                cognito_members=members,
            )
            self.topics[team.name] = topic
            self.workteams[team.name] = workteam

    def _reuse_or_create(self, removal_policy: RemovalPolicy) -> None:
        workforce_opts = self.options.workforce
        if workforce_opts.mode is WorkforceMode.COGNITO:
            self.user_pool, self.user_pool_domain = create_user_pool(
                self, workforce_opts, removal_policy
            )
        resource = reuse_or_create_workforce(
            self,
            workforce_opts,
            user_pool=self.user_pool,
            user_pool_domain=self.user_pool_domain,
            log_retention_days=self.options.log_retention_days,
            key=self.notification_key,
            removal_policy=removal_policy,
        )
        self.workforce_resource = resource
        self.workforce_name = resource.get_att_string("WorkforceName")
        self.workforce_outcome = resource.get_att_string("Outcome")
        if workforce_opts.mode is WorkforceMode.COGNITO:
            # The teams must use the pool and client behind the workforce, which is
            # another pool's when an existing workforce is reused.
            self._team_pool_id = resource.get_att_string("UserPoolId")
            self._team_client_id = resource.get_att_string("ClientId")
            # The custom resource owns the app client (no CloudFormation resource, so
            # no stack update resets the OAuth settings Ground Truth writes on it).
            self.user_pool_client = cognito.UserPoolClient.from_user_pool_client_id(
                self, "PortalClient", self._team_client_id
            )

    # -- accessors -----------------------------------------------------------------------

    @property
    def workforce_user_pool_id(self) -> str | None:
        """The Cognito pool behind the workforce the teams use (a reused workforce's pool
        when the account already had one), or None for an OIDC workforce."""
        return self._team_pool_id

    @property
    def default_workteam(self) -> sagemaker.CfnWorkteam:
        """The first team of ``options.teams``."""
        return self.workteams[self.options.teams[0].name]

    @property
    def team_refs(self) -> list[WorkTeamRef]:
        """Every team as a :class:`~cdk_llm_training.WorkTeamRef`, in ``options.teams``
        order (the first is a workflow's default team)."""
        return [self.team_ref(team.name) for team in self.options.teams]

    def team_ref(self, name: str) -> WorkTeamRef:
        """The team ``name`` (one of ``options.teams``) as a
        :class:`~cdk_llm_training.WorkTeamRef`, with its notification topic."""
        if name not in self.workteams:
            raise ValueError(
                f"team {name!r} is not one of this workforce's teams ({', '.join(self.workteams)})."
            )
        return WorkTeamRef.from_cfn_workteam(
            self.workteams[name], notification_topic=self.topics[name]
        )

    # -- validation ----------------------------------------------------------------------

    def _validate_identity(
        self,
        user_pool: cognito.IUserPool | None,
        user_pool_client: cognito.IUserPoolClient | None,
    ) -> None:
        mode = self.options.workforce.mode
        if mode is not WorkforceMode.IMPORT and (user_pool or user_pool_client):
            raise ValueError(
                f"user_pool and user_pool_client are for an imported workforce; workforce "
                f"mode {mode.value!r} creates its own identity, so leave them out (allowed "
                "with mode 'import' only)."
            )
        if (user_pool is None) != (user_pool_client is None):
            raise ValueError(
                "user_pool and user_pool_client go together: pass both (the Cognito pool "
                "behind the imported workforce and its app client), or neither."
            )
        # The same rule the tier configs apply, so `validate` and synth agree.
        problem = team_identity_problem(
            self.options, user_pool_given=user_pool is not None, construct=True
        )
        if problem is not None:
            raise ValueError(f"{problem}.")
