"""The workforce's identity: the hardened Cognito user pool and its domain, and the
``Custom::PrivateWorkforce`` resource that reuses the account's private workforce or creates
it. Every resource is created in the workforce construct's own scope (same logical IDs as
when one module built them)."""

from __future__ import annotations

import hashlib
from typing import Any

from aws_cdk import Aws, CustomResource, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_llm_training.config.labeling_workforce import MfaMode, WorkforceMode, WorkforceOptions
from cdk_llm_training.constructs._compliance import acknowledge_synchronous_function
from cdk_llm_training.constructs._names import stack_id_suffix
from cdk_llm_training.constructs.acknowledgements import acknowledge, acknowledge_wildcards
from cdk_llm_training.constructs.labeling.log_groups import encrypted_log_group
from cdk_llm_training.constructs.runtime_function import runtime_code

WORKFORCE_RESOURCE_TYPE = "Custom::PrivateWorkforce"
"""The custom resource that reuses the account's private workforce or creates it."""

_MFA = {
    MfaMode.REQUIRED: cognito.Mfa.REQUIRED,
    MfaMode.OPTIONAL: cognito.Mfa.OPTIONAL,
    MfaMode.OFF: cognito.Mfa.OFF,
}


def create_user_pool(
    scope: Construct, opts: WorkforceOptions, removal_policy: RemovalPolicy
) -> tuple[cognito.UserPool, cognito.UserPoolDomain]:
    """The hardened pool (``UserPool``) and its Cognito domain (``UserPool/Domain``)."""
    mfa = _MFA[opts.mfa]
    protection: dict[str, Any] = (
        {
            "feature_plan": cognito.FeaturePlan.PLUS,
            "standard_threat_protection_mode": (cognito.StandardThreatProtectionMode.FULL_FUNCTION),
        }
        if opts.threat_protection
        else {"feature_plan": cognito.FeaturePlan.ESSENTIALS}
    )
    pool = cognito.UserPool(
        scope,
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
        ["llm-labeling", Aws.ACCOUNT_ID, _path_hash(scope.node.path), stack_id_suffix()],
    )
    domain = pool.add_domain(
        "Domain",
        cognito_domain=cognito.CognitoDomainOptions(domain_prefix=prefix),
    )
    # The portal's app client is not created here: the PrivateWorkforce custom resource
    # creates it together with the workforce, because Ground Truth then writes the
    # client's OAuth settings (portal callback URL, flows, scopes) itself, and any
    # CloudFormation update of an AWS::Cognito::UserPoolClient would send the
    # template's settings (OAuth off) over them and lock the workers out.
    # The pool, its domain and the workforce (with its client) share one removal policy.
    domain.apply_removal_policy(removal_policy)
    return pool, domain


def reuse_or_create_workforce(
    scope: Construct,
    opts: WorkforceOptions,
    *,
    user_pool: cognito.IUserPool | None,
    user_pool_domain: cognito.UserPoolDomain | None,
    log_retention_days: int,
    key: kms.IKey,
    removal_policy: RemovalPolicy,
) -> CustomResource:
    """The custom resource that reuses the account's private workforce or creates it
    (backed by ``user_pool`` and an app client the function creates and owns, after the
    domain exists; or by the OIDC identity provider of ``opts``)."""
    log_group = encrypted_log_group(
        scope,
        "WorkforceProviderLogs",
        days=log_retention_days,
        key=key,
        removal_policy=removal_policy,
    )
    role = iam.Role(
        scope,
        "WorkforceProviderRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Finds the account's private workforce, or creates it.",
    )
    log_group.grant_write(role)
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
                Stack.of(scope).format_arn(
                    service="sagemaker", resource="workforce", resource_name="*"
                )
            ],
        )
    )
    properties: dict[str, Any] = {"WorkforceName": opts.name}
    if opts.source_ip_cidrs:
        properties["SourceIpConfig"] = {"Cidrs": list(opts.source_ip_cidrs)}
    if opts.mode is WorkforceMode.COGNITO:
        assert user_pool is not None
        properties |= {"IdentityProvider": "cognito", "UserPoolId": user_pool.user_pool_id}
        _allow_cognito(role, user_pool)
    else:
        properties |= _oidc_properties(scope, opts, role)
    function = lambda_.Function(
        scope,
        "WorkforceProvider",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="private_workforce.handler",
        code=runtime_code(),
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
        scope,
        "PrivateWorkforce",
        service_token=function.function_arn,
        resource_type=WORKFORCE_RESOURCE_TYPE,
        properties=properties,
        removal_policy=removal_policy,
    )
    # Ordered after everything the workforce signs in with (not in parallel with the
    # domain), and after the function's log group and policy.
    resource.node.add_dependency(role)
    if user_pool_domain is not None:
        resource.node.add_dependency(user_pool_domain)
    return resource


def _allow_cognito(role: iam.Role, user_pool: cognito.IUserPool) -> None:
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
            resources=[user_pool.user_pool_arn],
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
            resources=[user_pool.user_pool_arn],
        )
    )


def _oidc_properties(scope: Construct, opts: WorkforceOptions, role: iam.Role) -> dict[str, Any]:
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
    name = oidc.client_secret_name
    secret = (
        secretsmanager.Secret.from_secret_complete_arn(scope, "OidcClientSecret", name)
        if name.startswith("arn:")
        else secretsmanager.Secret.from_secret_name_v2(scope, "OidcClientSecret", name)
    )
    secret.grant_read(role)
    # CloudFormation does not resolve Secrets Manager references in custom resource
    # properties: the function reads the client secret itself, by name.
    return {
        "IdentityProvider": "oidc",
        "OidcConfig": oidc_config,
        "ClientSecretName": name,
    }


def _path_hash(path: str) -> str:
    """Eight hex characters that tell construct paths apart in a Cognito domain prefix."""
    return hashlib.sha256(path.encode()).hexdigest()[:8]
