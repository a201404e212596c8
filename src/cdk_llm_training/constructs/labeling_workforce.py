"""LabelingWorkforce: a Ground Truth private workforce, work teams, task templates and the
workflow that turns a manifest in the data lake into training-ready JSONL."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aws_cdk import (
    Annotations,
    ArnFormat,
    Aws,
    CustomResource,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.labeling_workforce import (
    LabelingOptions,
    LabelingTaskType,
    MfaMode,
    WorkforceMode,
    WorkteamOptions,
    team_identity_problem,
)
from cdk_llm_training.config.training_data_lake import DataZone
from cdk_llm_training.constructs._acknowledge import acknowledge, acknowledge_wildcards
from cdk_llm_training.constructs._compliance import (
    NO_VPC_REASON,
    acknowledge_synchronous_function,
)
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._names import stack_id_suffix
from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs._workflow import caught_error_message, notify, notify_and_fail
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.labeling_templates import template_text

RUNTIME_DIR = Path(__file__).resolve().parents[1] / "runtime"
WORKFORCE_RESOURCE_TYPE = "Custom::PrivateWorkforce"
"""The custom resource that reuses the account's private workforce or creates it."""
SFT_FORMATS = ("prompt_completion", "conversation")
"""``sft_format`` values the converter (``runtime/labeling_postprocess.py``) accepts."""
LABEL_ATTRIBUTE_NAME = "llm-labels"
"""The label attribute of every job the workflow starts (its output-manifest key)."""

_TASK_TEXT: dict[LabelingTaskType, tuple[str, str]] = {
    LabelingTaskType.SFT_DEMONSTRATION: (
        "Write the ideal assistant response",
        "Read a prompt and write the response an excellent assistant would give.",
    ),
    LabelingTaskType.PAIRWISE_PREFERENCE: (
        "Pick the better of two responses",
        "Compare two responses to a prompt, pick A, B or tie, and give a short reason.",
    ),
    LabelingTaskType.RESPONSE_RATING: (
        "Rate a model response from 1 to 5",
        "Score a response against the stated criteria, from 1 (unusable) to 5 (excellent).",
    ),
}


class LabelingWorkforce(Construct):
    """Ground Truth private workforce, work teams and a labeling-to-training-data workflow.

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
    Ground Truth writes on it. Pool, domain and workforce (with its client) share
    ``removal_policy``. ``OIDC`` works the same way with your identity
    provider (the function reads the client secret from Secrets Manager); an existing
    workforce of the other kind fails the deploy with a message saying what to set instead.

    Always created: one work team per ``teams`` entry (default ``llm-labelers``) with a
    KMS-encrypted, TLS-only SNS topic for task notifications; a Step Functions Standard
    workflow (logging ALL, X-Ray tracing) that writes the task template to the artifacts
    zone, runs ``sagemaker:createLabelingJob.sync`` over a manifest in the curated zone, then
    converts the output into training data with a Lambda; a pre-annotation Lambda (manifest
    line to the templates' ``task.input``) and an annotation-consolidation Lambda (keeps every
    worker's answer, so the converter can vote and report disagreement); a labeling-job role
    that can read only the manifest and template prefixes and write only the output prefix.

    An imported Cognito workforce needs ``user_pool`` and ``user_pool_client`` (the pool
    behind it, or ``WorkforceOptions.cognito_user_pool_id`` and ``cognito_client_id``) so
    teams can be built from Cognito groups; an OIDC one needs ``oidc_groups`` on every team.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        data_lake: TrainingDataLake,
        options: LabelingOptions | None = None,
        user_pool: cognito.IUserPool | None = None,
        user_pool_client: cognito.IUserPoolClient | None = None,
        notification_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the workforce (or import it), teams, templates and workflow.

        :param data_lake: the lake that holds manifests (curated zone), templates (artifacts
            zone) and results (curated zone).
        :param options: plain-data settings. Default: ``LabelingOptions()``.
        :param user_pool: the Cognito user pool behind an imported workforce. Default: none;
            with ``mode=cognito`` a new pool is created and this must be left out.
        :param user_pool_client: the app client of ``user_pool`` the workforce uses.
        :param notification_key: KMS key of the notification topics and the log groups (its
            policy gets the SageMaker and CloudWatch Logs statements). Default: a new key with
            rotation.
        :param removal_policy: for the user pool, its domain, the workforce (with the app
            client its custom resource owns) and the notification key.
            Default ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "LabelingWorkforce")
        self.options = options or LabelingOptions()
        self.data_lake = data_lake
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
        # The same key encrypts the Lambda and workflow log groups (execution data at level ALL).
        allow_cloudwatch_logs(self.notification_key)

        self.workforce_resource: CustomResource | None = None
        self.workforce_outcome: str | None = None
        if workforce_opts.mode is not WorkforceMode.IMPORT:
            if workforce_opts.mode is WorkforceMode.COGNITO:
                self.user_pool = self._create_user_pool(removal_policy)
            self.workforce_resource = self._reuse_or_create_workforce(removal_policy)
            self.workforce_name = self.workforce_resource.get_att_string("WorkforceName")
            self.workforce_outcome = self.workforce_resource.get_att_string("Outcome")
            if workforce_opts.mode is WorkforceMode.COGNITO:
                # The teams must use the pool and client behind the workforce, which is
                # another pool's when an existing workforce is reused.
                self._team_pool_id = self.workforce_resource.get_att_string("UserPoolId")
                self._team_client_id = self.workforce_resource.get_att_string("ClientId")
                # The custom resource owns the app client (no CloudFormation resource, so
                # no stack update resets the OAuth settings Ground Truth writes on it).
                self.user_pool_client = cognito.UserPoolClient.from_user_pool_client_id(
                    self, "PortalClient", self._team_client_id
                )
        elif workforce_opts.source_ip_cidrs:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training:labeling-source-ip-ignored",
                "source_ip_cidrs apply only when this stack creates the workforce; the "
                f"imported workforce '{workforce_opts.name}' keeps its own IP restrictions.",
            )

        self.topics: dict[str, sns.Topic] = {}
        self.workteams: dict[str, sagemaker.CfnWorkteam] = {}
        for team in self.options.teams:
            self._create_team(team)

        self._create_lambdas()
        self.labeling_role = self._create_labeling_role()
        self.state_machine = self._create_state_machine()

    # -- accessors -----------------------------------------------------------------------

    @property
    def workforce_user_pool_id(self) -> str | None:
        """The Cognito pool behind the workforce the teams use (a reused workforce's pool
        when the account already had one), or None for an OIDC workforce."""
        return self._team_pool_id

    @property
    def default_workteam(self) -> sagemaker.CfnWorkteam:
        """The first team: the one the workflow uses unless a run names another."""
        return self.workteams[self.options.teams[0].name]

    def grant_start_labeling(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start the labeling workflow (``states:StartExecution``)."""
        return self.state_machine.grant_start_execution(grantee)

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

    # -- identity and workforce ----------------------------------------------------------

    def _create_user_pool(self, removal_policy: RemovalPolicy) -> cognito.UserPool:
        opts = self.options.workforce
        mfa = {
            MfaMode.REQUIRED: cognito.Mfa.REQUIRED,
            MfaMode.OPTIONAL: cognito.Mfa.OPTIONAL,
            MfaMode.OFF: cognito.Mfa.OFF,
        }[opts.mfa]
        protection: dict[str, Any] = (
            {
                "feature_plan": cognito.FeaturePlan.PLUS,
                "standard_threat_protection_mode": (
                    cognito.StandardThreatProtectionMode.FULL_FUNCTION
                ),
            }
            if opts.threat_protection
            else {"feature_plan": cognito.FeaturePlan.ESSENTIALS}
        )
        pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=opts.password_minimum_length,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(7),
            ),
            mfa=mfa,
            mfa_second_factor=(
                cognito.MfaSecondFactor(otp=True, sms=False) if mfa is not cognito.Mfa.OFF else None
            ),
            deletion_protection=removal_policy
            in (RemovalPolicy.RETAIN, RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE),
            removal_policy=removal_policy,
            user_invitation=cognito.UserInvitationConfig(
                email_subject="You are invited to label LLM training data",
                email_body=(
                    "Your labeling portal user name is {username} and your temporary "
                    "password is {####}. Ask your labeling admin for the portal link."
                ),
            ),
            **protection,
        )
        if opts.mfa is not MfaMode.REQUIRED:
            acknowledge(
                pool,
                "AwsSolutions-COG2",
                f"MFA is '{opts.mfa.value}' by configuration (WorkforceOptions.mfa); the "
                "default is required.",
            )
        if not opts.threat_protection:
            acknowledge(
                pool,
                "AwsSolutions-COG8",
                "Threat protection (Plus feature plan) is turned off by configuration "
                "(WorkforceOptions.threat_protection); the default is on.",
            )
        # Cognito domain prefixes are global per Region: account ID, a hash of the path and
        # the stack's UUID prefix, so a domain retained by an earlier stack never blocks it.
        prefix = Fn.join(
            "-",
            ["llm-labeling", Aws.ACCOUNT_ID, _path_hash(self.node.path), stack_id_suffix()],
        )
        self.user_pool_domain = pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=prefix),
        )
        # The portal's app client is not created here: the PrivateWorkforce custom resource
        # creates it together with the workforce, because Ground Truth then writes the
        # client's OAuth settings (portal callback URL, flows, scopes) itself, and any
        # CloudFormation update of an AWS::Cognito::UserPoolClient would send the
        # template's settings (OAuth off) over them and lock the workers out.
        # The pool, its domain and the workforce (with its client) share one removal policy.
        self.user_pool_domain.apply_removal_policy(removal_policy)
        return pool

    def _reuse_or_create_workforce(self, removal_policy: RemovalPolicy) -> CustomResource:
        """The custom resource that reuses the account's private workforce or creates it
        (backed by this construct's pool and an app client the function creates and owns,
        after the domain exists; or by the OIDC identity provider of the options)."""
        opts = self.options.workforce
        log_group = _log_group(
            self, "WorkforceProviderLogs", self.options.log_retention_days, self.notification_key
        )
        role = iam.Role(
            self,
            "WorkforceProviderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Finds the account's private workforce, or creates it.",
        )
        log_group.grant_write(role)
        stack = Stack.of(self)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="FindWorkforce",
                actions=["sagemaker:ListWorkforces"],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageWorkforce",
                actions=[
                    "sagemaker:DescribeWorkforce",
                    "sagemaker:CreateWorkforce",
                    "sagemaker:UpdateWorkforce",
                    "sagemaker:DeleteWorkforce",
                ],
                resources=[
                    stack.format_arn(service="sagemaker", resource="workforce", resource_name="*")
                ],
            )
        )
        properties: dict[str, Any] = {"WorkforceName": opts.name}
        if opts.source_ip_cidrs:
            properties["SourceIpConfig"] = {"Cidrs": list(opts.source_ip_cidrs)}
        if opts.mode is WorkforceMode.COGNITO:
            assert self.user_pool is not None
            properties |= {
                "IdentityProvider": "cognito",
                "UserPoolId": self.user_pool.user_pool_id,
            }
            # The function owns the portal's app client: it creates it only when it creates
            # the workforce and deletes it only after deleting that workforce.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="OwnPortalClient",
                    actions=[
                        "cognito-idp:CreateUserPoolClient",
                        "cognito-idp:DeleteUserPoolClient",
                        "cognito-idp:DescribeUserPoolClient",
                    ],
                    resources=[self.user_pool.user_pool_arn],
                )
            )
            # CreateWorkforce reads the pool and client and sets the portal's OAuth settings
            # on the client with the caller's permissions (unverified which of these it
            # needs: the set is limited to this construct's pool).
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="UseWorkforcePool",
                    actions=[
                        "cognito-idp:DescribeUserPool",
                        "cognito-idp:UpdateUserPool",
                        "cognito-idp:UpdateUserPoolClient",
                    ],
                    resources=[self.user_pool.user_pool_arn],
                )
            )
        else:
            oidc = opts.oidc
            assert oidc is not None
            oidc_config = {
                "ClientId": oidc.client_id,
                "Issuer": oidc.issuer,
                "AuthorizationEndpoint": oidc.authorization_endpoint,
                "TokenEndpoint": oidc.token_endpoint,
                "UserInfoEndpoint": oidc.user_info_endpoint,
                "LogoutEndpoint": oidc.logout_endpoint,
                "JwksUri": oidc.jwks_uri,
            }
            if oidc.scope:
                oidc_config["Scope"] = oidc.scope
            # CloudFormation does not resolve Secrets Manager references in custom resource
            # properties: the function reads the client secret itself, by name.
            properties |= {
                "IdentityProvider": "oidc",
                "OidcConfig": oidc_config,
                "ClientSecretName": oidc.client_secret_name,
            }
            name = oidc.client_secret_name
            secret = (
                secretsmanager.Secret.from_secret_complete_arn(self, "OidcClientSecret", name)
                if name.startswith("arn:")
                else secretsmanager.Secret.from_secret_name_v2(self, "OidcClientSecret", name)
            )
            secret.grant_read(role)
        function = lambda_.Function(
            self,
            "WorkforceProvider",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="private_workforce.handler",
            code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["__pycache__", "*.pyc"]),
            description="Reuses the account's private workforce, or creates it.",
            memory_size=128,
            timeout=Duration.minutes(12),
            role=role,
            log_group=log_group,
        )
        acknowledge_synchronous_function(
            function,
            invoked_by="CloudFormation (the PrivateWorkforce custom resource)",
            outside_vpc_reason="Calls only the SageMaker, Cognito and Secrets Manager APIs over "
            "TLS, authorised by IAM; the small tier has no VPC by design.",
        )
        acknowledge_wildcards(
            role,
            "ListWorkforces has no resource type; the workforce name is the account's (one "
            "per Region), found at deploy time (workforce/*).",
        )
        # Not "Resource": the logical ID of an earlier AWS::SageMaker::Workforce cannot change
        # type in place; under a new ID the old one is left retained and then reused.
        resource = CustomResource(
            self,
            "PrivateWorkforce",
            service_token=function.function_arn,
            resource_type=WORKFORCE_RESOURCE_TYPE,
            properties=properties,
            removal_policy=removal_policy,
        )
        # Ordered after everything the workforce signs in with (not in parallel with the
        # domain), and after the function's log group and policy.
        resource.node.add_dependency(role)
        if opts.mode is WorkforceMode.COGNITO:
            resource.node.add_dependency(self.user_pool_domain)
        return resource

    # -- teams ---------------------------------------------------------------------------

    def _create_team(self, team: WorkteamOptions) -> None:
        topic = sns.Topic(
            self,
            f"Notifications-{team.name}",
            display_name=f"Labeling tasks for {team.name}",
            master_key=self.notification_key,
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
        self.topics[team.name] = topic
        if self._team_pool_id is not None and self.options.workforce.mode is not WorkforceMode.OIDC:
            assert self._team_client_id is not None
            group = cognito.CfnUserPoolGroup(
                self,
                f"Group-{team.name}",
                user_pool_id=self._team_pool_id,
                group_name=team.name,
                description=f"Members of work team {team.name}",
            )
            member: Any = sagemaker.CfnWorkteam.MemberDefinitionProperty(
                cognito_member_definition=sagemaker.CfnWorkteam.CognitoMemberDefinitionProperty(
                    cognito_client_id=self._team_client_id,
                    cognito_user_group=group.ref,
                    cognito_user_pool=self._team_pool_id,
                )
            )
        else:
            member = sagemaker.CfnWorkteam.MemberDefinitionProperty(
                oidc_member_definition=sagemaker.CfnWorkteam.OidcMemberDefinitionProperty(
                    oidc_groups=list(team.oidc_groups)
                )
            )
        workteam = sagemaker.CfnWorkteam(
            self,
            f"Team-{team.name}",
            workteam_name=team.name,
            description=team.description,
            workforce_name=self.workforce_name,
            member_definitions=[member],
            notification_configuration=sagemaker.CfnWorkteam.NotificationConfigurationProperty(
                notification_topic_arn=topic.topic_arn
            ),
        )
        self.workteams[team.name] = workteam

    # -- Lambdas -------------------------------------------------------------------------

    def _function(
        self, id: str, handler: str, description: str, memory: int, timeout: Duration
    ) -> lambda_.Function:
        log_group = _log_group(
            self, f"{id}Logs", self.options.log_retention_days, self.notification_key
        )
        role = iam.Role(
            self,
            f"{id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{description} (logs to its own log group only).",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            id,
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler=f"labeling_postprocess.{handler}",
            code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["__pycache__", "*.pyc"]),
            description=description,
            memory_size=memory,
            timeout=timeout,
            role=role,
            log_group=log_group,
        )
        acknowledge_synchronous_function(
            function,
            invoked_by="Ground Truth or the labeling workflow",
            outside_vpc_reason=NO_VPC_REASON,
        )
        return function

    def _create_lambdas(self) -> None:
        opts = self.options
        lake = self.data_lake
        self.pre_annotation_function = self._function(
            "PreAnnotation",
            "pre_annotation_handler",
            "Ground Truth pre-annotation: manifest line to task input",
            128,
            Duration.seconds(30),
        )
        self.consolidation_function = self._function(
            "Consolidation",
            "consolidation_handler",
            "Ground Truth annotation consolidation: keeps every worker's answer",
            512,
            Duration.minutes(5),
        )
        lake.grant_read(
            self.consolidation_function, zone=DataZone.CURATED, key_prefix=opts.output_prefix
        )
        self.converter_function = self._function(
            "Converter",
            "convert_handler",
            "Turns a Ground Truth output manifest into training JSONL and a report",
            opts.jobs.converter_memory_mib,
            Duration.minutes(15),
        )
        self.converter_function.add_environment("DATASET_BUCKET", lake.curated_bucket.bucket_name)
        self.converter_function.add_environment("DATASET_PREFIX", opts.dataset_prefix)
        lake.grant_read(
            self.converter_function, zone=DataZone.CURATED, key_prefix=opts.output_prefix
        )
        lake.grant_write(
            self.converter_function, zone=DataZone.CURATED, key_prefix=opts.dataset_prefix
        )
        for function, prefixes in (
            (self.consolidation_function, opts.output_prefix),
            (self.converter_function, f"{opts.output_prefix} and {opts.dataset_prefix}"),
        ):
            assert isinstance(function.role, iam.Role)
            acknowledge_wildcards(
                function.role,
                f"Object-level S3 grants scoped to the curated-zone prefixes {prefixes} (the "
                "wildcard is the object key under the prefix) and the lake key actions CDK's "
                "bucket grants need (kms:GenerateDataKey*, kms:ReEncrypt*).",
            )

    # -- labeling-job role -----------------------------------------------------------------

    def _create_labeling_role(self) -> iam.Role:
        opts = self.options
        lake = self.data_lake
        role = iam.Role(
            self,
            "LabelingJobRole",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                # aws:SourceAccount only: SageMaker's confused-deputy page does not list
                # Ground Truth labeling jobs among the features that send aws:SourceArn, and
                # a condition on a key the request lacks would make the role unassumable.
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="Ground Truth labeling jobs: read manifests and templates, write "
            "output, use the lake key, invoke the task Lambdas.",
        )
        lake.grant_read(role, zone=DataZone.CURATED, key_prefix=opts.manifest_prefix)
        lake.grant_read(role, zone=DataZone.ARTIFACTS, key_prefix=opts.template_prefix)
        lake.grant_read_write(role, zone=DataZone.CURATED, key_prefix=opts.output_prefix)
        self.pre_annotation_function.grant_invoke(role)
        self.consolidation_function.grant_invoke(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LabelingJobLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    Stack.of(self).format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws/sagemaker/LabelingJobs:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LabelingJobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "AWS/SageMaker"}},
            )
        )
        acknowledge_wildcards(
            role,
            "Object-level S3 grants scoped to the manifest, template and output prefixes; "
            "Ground Truth's own log group /aws/sagemaker/LabelingJobs (log streams are per "
            "job); cloudwatch:PutMetricData has no resource type and is limited to the "
            "AWS/SageMaker namespace; lake key actions from CDK's bucket grants.",
        )
        return role

    # -- workflow --------------------------------------------------------------------------

    def _create_state_machine(self) -> sfn.StateMachine:
        opts = self.options
        lake = self.data_lake
        curated = lake.curated_bucket.bucket_name
        artifacts = lake.artifacts_bucket
        role = iam.Role(
            self,
            "WorkflowRole",
            # Step Functions sends aws:SourceArn / aws:SourceAccount: this account's state
            # machines only, as CDK's own state-machine roles.
            assumed_by=service_principal_from(
                "states.amazonaws.com", this_account_arn("states", "stateMachine:*")
            ),
            description="Labeling workflow: start and watch labeling jobs, write templates.",
        )

        self.workflow_topic = sns.Topic(
            self,
            "WorkflowTopic",
            display_name="Labeling workflow notifications",
            master_key=self.notification_key,
            enforce_ssl=True,
        )
        check = sfn.Choice(
            self,
            "CheckInput",
            comment="Every input field typed and bounded before anything that costs money.",
        )
        bad_input = notify_and_fail(
            self,
            "NotifyInvalidInput",
            topic=self.workflow_topic,
            subject="Labeling workflow: invalid input, no job started",
            message={
                "result": "INVALID_INPUT",
                "execution": sfn.JsonPath.execution_id,
                # Not the input itself: one near the 256 KiB payload quota would push the
                # message over SNS's limit. The execution ID leads to it.
                "allowed": self._input_rules_text(),
            },
            fail_id="InvalidInput",
            error="InvalidInput",
            cause=self._input_rules_text(),
        )
        notify_failed = notify_and_fail(
            self,
            "NotifyFailed",
            topic=self.workflow_topic,
            subject="Labeling workflow failed",
            message=caught_error_message(),
            fail_id="Failed",
            error="LabelingFailed",
            cause="The template write, the labeling job or the conversion failed; see the "
            "notification.",
        )
        pick_task = sfn.Choice(self, "TaskType")

        job_state = self._labeling_job_state(curated, artifacts.bucket_name, role)
        job_state.add_catch(notify_failed, errors=["States.ALL"], result_path="$.error")
        convert = tasks.LambdaInvoke(
            self,
            "ConvertToTrainingData",
            lambda_function=self.converter_function,
            payload=sfn.TaskInput.from_object(
                {
                    "task_type.$": "$.args.task_type",
                    "job_name.$": "$.args.job_name",
                    "sft_format.$": "$.args.sft_format",
                    "output_manifest_uri.$": "$.labeling_job.output_manifest_uri",
                    "label_attribute_name.$": "$.labeling_job.label_attribute_name",
                }
            ),
            result_selector={"result.$": "$.Payload"},
            result_path="$.dataset",
        )
        convert.add_catch(notify_failed, errors=["States.ALL"], result_path="$.error")
        notify_done = notify(
            self,
            "NotifySucceeded",
            topic=self.workflow_topic,
            subject="Labeling workflow: training data written",
            message={
                "result": "SUCCEEDED",
                "execution": sfn.JsonPath.execution_id,
                "jobName": sfn.JsonPath.string_at("$.args.job_name"),
                "dataset": sfn.JsonPath.object_at("$.dataset.result"),
            },
        )
        done = sfn.Succeed(self, "Done")
        job_state.next(convert).next(notify_done).next(done)

        for task in LabelingTaskType:
            title, description = _TASK_TEXT[task]
            key = f"{opts.template_prefix}{task.value}.html"
            defaults = sfn.Pass(
                self,
                f"Defaults-{task.value}",
                result=sfn.Result.from_object(
                    {
                        "title": title,
                        "description": description,
                        "workteam_arn": self.default_workteam.attr_workteam_arn,
                        "workers_per_object": opts.jobs.workers_per_object,
                        "task_time_limit_seconds": opts.jobs.task_time_limit_seconds,
                        "task_availability_lifetime_seconds": (
                            opts.jobs.task_availability_lifetime_seconds
                        ),
                        "max_concurrent_tasks": opts.jobs.max_concurrent_tasks,
                        "sft_format": "prompt_completion",
                    }
                ),
                result_path="$.defaults",
            )
            merge = sfn.Pass(
                self,
                f"Merge-{task.value}",
                parameters={
                    "args.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)",
                },
            )
            write = tasks.CallAwsService(
                self,
                f"WriteTemplate-{task.value}",
                service="s3",
                action="putObject",
                parameters={
                    "Bucket": artifacts.bucket_name,
                    "Key": key,
                    "Body": template_text(task.value),
                    "ContentType": "text/html; charset=utf-8",
                },
                iam_resources=[artifacts.arn_for_objects(key)],
                result_path=sfn.JsonPath.DISCARD,
            )
            write.add_catch(notify_failed, errors=["States.ALL"], result_path="$.error")
            defaults.next(merge).next(write).next(job_state)
            pick_task.when(sfn.Condition.string_equals("$.task_type", task.value), defaults)
        pick_task.otherwise(bad_input)

        check.when(self._input_is_valid(), pick_task).otherwise(bad_input)

        log_group = _log_group(self, "WorkflowLogs", opts.log_retention_days, self.notification_key)
        machine = sfn.StateMachine(
            self,
            "Workflow",
            definition_body=sfn.DefinitionBody.from_chainable(check),
            state_machine_type=sfn.StateMachineType.STANDARD,
            role=role,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            timeout=Duration.days(30),
            comment="Labeling job over a curated-zone manifest, then conversion to JSONL.",
        )
        # Publishing to the encrypted workflow topic needs the notification key.
        self.notification_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey*")
        # The template write needs the lake key to encrypt (SSE-KMS default on the bucket).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EncryptTemplates",
                actions=["kms:GenerateDataKey"],
                resources=[lake.key.key_arn],
            )
        )
        acknowledge_wildcards(
            role,
            "Labeling job names are chosen per run (labeling-job/*); the .sync integration's "
            "EventBridge managed rule (StepFunctionsGetEventsForSageMaker*); CDK's Lambda "
            "invoke grant includes the function's versions (:*); X-Ray and log-delivery "
            "actions have no resource type.",
        )
        return machine

    def _cost_bounds(self) -> dict[str, tuple[int, int]]:
        """Input field -> (API minimum, configured default): an execution may lower a
        cost-driving setting, never raise it above the configuration."""
        jobs = self.options.jobs
        return {
            "workers_per_object": (1, jobs.workers_per_object),
            "task_time_limit_seconds": (30, jobs.task_time_limit_seconds),
            "task_availability_lifetime_seconds": (60, jobs.task_availability_lifetime_seconds),
            "max_concurrent_tasks": (1, jobs.max_concurrent_tasks),
        }

    def _input_rules_text(self) -> str:
        bounds = ", ".join(f"{k} {lo}-{hi}" for k, (lo, hi) in self._cost_bounds().items())
        return (
            f"Input needs task_type ({', '.join(t.value for t in LabelingTaskType)}), job_name "
            f"(string) and manifest_key (string under '{self.options.manifest_prefix}' in the "
            "curated zone); optional: title and description (strings), sft_format "
            f"({', '.join(SFT_FORMATS)}), workteam_arn (one of this construct's work teams), "
            f"and integers within {bounds}."
        )

    def _input_is_valid(self) -> sfn.Condition:
        """The whole execution input checked in the first state: types, the manifest prefix,
        the work-team allow-list and the bounds of the cost-driving fields."""

        def optional(name: str, *conditions: sfn.Condition) -> sfn.Condition:
            path = f"$.{name}"
            present = [sfn.Condition.is_present(path), *conditions]
            return sfn.Condition.or_(
                sfn.Condition.not_(sfn.Condition.is_present(path)), sfn.Condition.and_(*present)
            )

        def one_of(path: str, values: list[str]) -> sfn.Condition:
            equals = [sfn.Condition.string_equals(path, v) for v in values]
            return equals[0] if len(equals) == 1 else sfn.Condition.or_(*equals)

        rules = [
            sfn.Condition.is_present("$.task_type"),
            sfn.Condition.is_string("$.task_type"),
            sfn.Condition.is_present("$.job_name"),
            sfn.Condition.is_string("$.job_name"),
            sfn.Condition.is_present("$.manifest_key"),
            sfn.Condition.is_string("$.manifest_key"),
            sfn.Condition.string_matches("$.manifest_key", f"{self.options.manifest_prefix}*"),
            optional("title", sfn.Condition.is_string("$.title")),
            optional("description", sfn.Condition.is_string("$.description")),
            optional(
                "sft_format",
                sfn.Condition.is_string("$.sft_format"),
                one_of("$.sft_format", list(SFT_FORMATS)),
            ),
            optional(
                "workteam_arn",
                sfn.Condition.is_string("$.workteam_arn"),
                one_of("$.workteam_arn", self.allowed_workteam_arns),
            ),
        ]
        for name, (low, high) in self._cost_bounds().items():
            path = f"$.{name}"
            rules.append(
                optional(
                    name,
                    sfn.Condition.is_numeric(path),
                    sfn.Condition.number_greater_than_equals(path, low),
                    sfn.Condition.number_less_than_equals(path, high),
                )
            )
        return sfn.Condition.and_(*rules)

    @property
    def allowed_workteam_arns(self) -> list[str]:
        """The work teams an execution may send data to: this construct's teams (from
        ``LabelingOptions.teams``); anything else is refused before a job starts."""
        return [team.attr_workteam_arn for team in self.workteams.values()]

    def _labeling_job_state(
        self, curated: str, artifacts_bucket_name: str, role: iam.Role
    ) -> sfn.CustomState:
        opts = self.options
        lake = self.data_lake
        stack = Stack.of(self)
        job_arn = stack.format_arn(service="sagemaker", resource="labeling-job", resource_name="*")
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CreateLabelingJobsForOwnTeams",
                actions=["sagemaker:CreateLabelingJob"],
                resources=[job_arn],
                # Condition key listed for CreateLabelingJob in the Service Authorization
                # Reference (ARN condition operators).
                conditions={"ArnEquals": {"sagemaker:WorkteamArn": self.allowed_workteam_arns}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TrackLabelingJobs",
                actions=["sagemaker:DescribeLabelingJob", "sagemaker:StopLabelingJob"],
                resources=[job_arn],
            )
        )
        # The Step Functions developer guide's policies for SageMaker .sync integrations
        # list sagemaker:ListTags on '*' (the integration reads the job's tags).
        role.add_to_policy(
            iam.PolicyStatement(sid="ListJobTags", actions=["sagemaker:ListTags"], resources=["*"])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassLabelingRole",
                actions=["iam:PassRole"],
                resources=[self.labeling_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SyncIntegrationRule",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name="StepFunctionsGetEventsForSageMaker*",
                    )
                ],
            )
        )
        state = sfn.CustomState(
            self,
            "RunLabelingJob",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createLabelingJob.sync",
                "Parameters": {
                    "LabelingJobName.$": "$.args.job_name",
                    "LabelAttributeName": LABEL_ATTRIBUTE_NAME,
                    "RoleArn": self.labeling_role.role_arn,
                    "InputConfig": {
                        "DataSource": {
                            "S3DataSource": {
                                "ManifestS3Uri.$": Fn.join(
                                    "",
                                    ["States.Format('s3://", curated, "/{}', $.args.manifest_key)"],
                                )
                            }
                        }
                    },
                    "OutputConfig": {
                        "S3OutputPath": Fn.join("", ["s3://", curated, "/", opts.output_prefix]),
                        "KmsKeyId": lake.key.key_arn,
                    },
                    "HumanTaskConfig": {
                        "WorkteamArn.$": "$.args.workteam_arn",
                        "UiConfig": {
                            "UiTemplateS3Uri.$": Fn.join(
                                "",
                                [
                                    "States.Format('s3://",
                                    artifacts_bucket_name,
                                    f"/{opts.template_prefix}{{}}.html', $.args.task_type)",
                                ],
                            )
                        },
                        "PreHumanTaskLambdaArn": self.pre_annotation_function.function_arn,
                        "AnnotationConsolidationConfig": {
                            "AnnotationConsolidationLambdaArn": (
                                self.consolidation_function.function_arn
                            )
                        },
                        "TaskTitle.$": "$.args.title",
                        "TaskDescription.$": "$.args.description",
                        "TaskKeywords": ["LLM", "text", "labeling"],
                        "NumberOfHumanWorkersPerDataObject.$": "$.args.workers_per_object",
                        "TaskTimeLimitInSeconds.$": "$.args.task_time_limit_seconds",
                        "TaskAvailabilityLifetimeInSeconds.$": (
                            "$.args.task_availability_lifetime_seconds"
                        ),
                        "MaxConcurrentTaskCount.$": "$.args.max_concurrent_tasks",
                    },
                },
                "ResultSelector": {
                    "status.$": "$.LabelingJobStatus",
                    "output_manifest_uri.$": "$.LabelingJobOutput.OutputDatasetS3Uri",
                    "label_attribute_name.$": "$.LabelAttributeName",
                    "counters.$": "$.LabelCounters",
                },
                "ResultPath": "$.labeling_job",
            },
        )
        return state


def _log_group(scope: Construct, id: str, days: int, key: kms.IKey) -> logs.LogGroup:
    """A retained log group encrypted with ``key``, keeping events ``days`` days (a
    CloudWatch-allowed value)."""
    group = logs.LogGroup(
        scope,
        id,
        retention=logs.RetentionDays.ONE_YEAR,
        encryption_key=key,
        removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    )
    cfn = group.node.default_child
    assert isinstance(cfn, logs.CfnLogGroup)
    cfn.retention_in_days = days
    return group


def _path_hash(path: str) -> str:
    """Eight hex characters that tell construct paths apart in a Cognito domain prefix."""
    return hashlib.sha256(path.encode()).hexdigest()[:8]
