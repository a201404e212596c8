"""LabelingWorkforce: workforce modes, teams, Cognito hardening, validation; and the
workforce with its LabelingWorkflow composed as SmallLoRAStack composes them (the workflow as
the workforce's ``Default`` child): workflow definition and IAM."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import CfnResource, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk.assertions import Match, Template
from cdk_support import cfn_lint_findings, new_app, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    LabelingOptions,
    LabelingWorkflow,
    LabelingWorkforce,
    MfaMode,
    OidcOptions,
    SmallLoRAConfig,
    SmallLoRAStack,
    TrainingDataLake,
    WorkforceMode,
    WorkforceOptions,
    WorkteamOptions,
)
from cdk_llm_training.assets.labeling_templates import template_text
from cdk_llm_training.config import LabelingJobDefaults, StackName

COGNITO = LabelingOptions(workforce=WorkforceOptions(mode=WorkforceMode.COGNITO))
OIDC = OidcOptions(
    issuer="https://idp.example.com",
    authorization_endpoint="https://idp.example.com/authorize",
    token_endpoint="https://idp.example.com/token",
    user_info_endpoint="https://idp.example.com/userinfo",
    logout_endpoint="https://idp.example.com/logout",
    jwks_uri="https://idp.example.com/jwks",
    client_id="labelingportal",
    client_secret_name="labeling/oidc-client-secret",
)


def _compose(
    stack: Stack, options: LabelingOptions | None = None, **kwargs: Any
) -> tuple[LabelingWorkforce, LabelingWorkflow]:
    """The workforce and its workflow, composed as SmallLoRAStack composes them."""
    lake = TrainingDataLake(stack, "Lake")
    workforce = LabelingWorkforce(stack, "Labeling", options=options, **kwargs)
    workflow = LabelingWorkflow(
        workforce,
        "Default",
        data_lake=lake,
        work_teams=workforce.team_refs,
        options=workforce.options.workflow_options(),
        notification_key=workforce.notification_key,
    )
    return workforce, workflow


def _build(options: LabelingOptions | None = None, **kwargs: Any) -> tuple[Stack, Template]:
    stack = new_stack()
    _compose(stack, options, **kwargs)
    return stack, template_of(stack)


def _one(template: Template, type_name: str) -> dict[str, Any]:
    (resource,) = resources_of_type(template, type_name).values()
    return resource  # type: ignore[no-any-return]


def _definition(template: Template) -> str:
    """The state machine definition with every CloudFormation token shown as JSON."""
    machine = _one(template, "AWS::StepFunctions::StateMachine")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)


def _statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    return [
        s
        for logical_id, p in resources_of_type(template, "AWS::IAM::Policy").items()
        if logical_id.startswith(role_prefix)
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


@pytest.fixture(scope="module")
def cognito_template() -> Template:
    """Cognito workforce, defaults otherwise, in a cdk-nag-checked app (building it proves
    the hardened defaults pass AwsSolutions)."""
    return _build(COGNITO)[1]


# -- Cognito workforce -------------------------------------------------------------------


def test_cognito_mode_reuses_or_creates_the_workforce_after_the_domain(
    cognito_template: Template,
) -> None:
    """One private workforce per account and Region: no AWS::SageMaker::Workforce, but a
    custom resource that reuses the account's workforce or creates it (and its app client)
    on the new pool, ordered after the pool's domain, under the pool's removal policy."""
    cognito_template.resource_count_is("AWS::SageMaker::Workforce", 0)
    workforce = _one(cognito_template, "Custom::PrivateWorkforce")
    pool_id = next(iter(resources_of_type(cognito_template, "AWS::Cognito::UserPool")))
    domain_id = next(iter(resources_of_type(cognito_template, "AWS::Cognito::UserPoolDomain")))
    props = dict(workforce["Properties"])
    props.pop("ServiceToken")
    assert props == {
        "WorkforceName": "default",
        "IdentityProvider": "cognito",
        "UserPoolId": {"Ref": pool_id},
    }
    assert domain_id in workforce["DependsOn"]
    for type_name in (
        "Custom::PrivateWorkforce",
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolDomain",
    ):
        assert _one(cognito_template, type_name)["DeletionPolicy"] == "RetainExceptOnCreate"


def test_the_custom_resource_owns_the_portal_client(cognito_template: Template) -> None:
    """Ground Truth writes the client's OAuth settings; a template client would have them
    reset by the next stack update, so the client is not a CloudFormation resource and the
    construct's client is the one behind the workforce."""
    cognito_template.resource_count_is("AWS::Cognito::UserPoolClient", 0)
    pool_id = next(iter(resources_of_type(cognito_template, "AWS::Cognito::UserPool")))
    statements = _statements(cognito_template, "LabelingWorkforceProviderRole")
    own = next(s for s in statements if s.get("Sid") == "OwnPortalClient")
    assert sorted(_actions(own)) == [
        "cognito-idp:CreateUserPoolClient",
        "cognito-idp:DeleteUserPoolClient",
        "cognito-idp:DescribeUserPoolClient",
    ]
    assert own["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]}
    # Every Cognito action of the function is scoped to the construct's own pool.
    for statement in statements:
        if any(a.startswith("cognito-idp:") for a in _actions(statement)):
            assert statement["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]}


def test_user_pool_client_is_the_client_behind_the_workforce() -> None:
    stack = new_stack()
    labeling = LabelingWorkforce(stack, "Labeling", options=COGNITO)
    assert labeling.user_pool_client is not None
    assert labeling.workforce_resource is not None
    client_id = stack.resolve(labeling.user_pool_client.user_pool_client_id)
    child = labeling.workforce_resource.node.default_child
    assert isinstance(child, CfnResource)
    workforce_id = stack.get_logical_id(child)
    assert client_id == {"Fn::GetAtt": [workforce_id, "ClientId"]}


def test_cognito_pool_is_hardened(cognito_template: Template) -> None:
    pool = _one(cognito_template, "AWS::Cognito::UserPool")
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["MfaConfiguration"] == "ON"
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert props["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 14,
        "RequireLowercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "RequireUppercase": True,
        "TemporaryPasswordValidityDays": 7,
    }
    assert props["UserPoolTier"] == "PLUS"
    assert props["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert props["DeletionProtection"] == "ACTIVE"
    assert pool["DeletionPolicy"] == "RetainExceptOnCreate"


def test_cognito_pool_has_a_domain(cognito_template: Template) -> None:
    domain = _one(cognito_template, "AWS::Cognito::UserPoolDomain")
    joined = domain["Properties"]["Domain"]["Fn::Join"]
    assert joined[0] == "-"
    assert joined[1][:2] == ["llm-labeling", {"Ref": "AWS::AccountId"}]
    # The stack's UUID prefix: a domain retained by an earlier stack never blocks a redeploy.
    assert "AWS::StackId" in json.dumps(joined[1][3])


def test_cognito_team_is_a_group_with_an_encrypted_topic(cognito_template: Template) -> None:
    team = _one(cognito_template, "AWS::SageMaker::Workteam")
    group_id = next(iter(resources_of_type(cognito_template, "AWS::Cognito::UserPoolGroup")))
    topic_id, topic = next(iter(resources_of_type(cognito_template, "AWS::SNS::Topic").items()))
    workforce_id = next(iter(resources_of_type(cognito_template, "Custom::PrivateWorkforce")))
    props = team["Properties"]
    assert props["WorkteamName"] == "llm-labelers"
    assert props["WorkforceName"] == {"Fn::GetAtt": [workforce_id, "WorkforceName"]}
    member = props["MemberDefinitions"][0]["CognitoMemberDefinition"]
    assert member["CognitoUserGroup"] == {"Ref": group_id}
    # The pool and client behind the workforce (another pool's when one is reused).
    assert member["CognitoUserPool"] == {"Fn::GetAtt": [workforce_id, "UserPoolId"]}
    assert member["CognitoClientId"] == {"Fn::GetAtt": [workforce_id, "ClientId"]}
    assert props["NotificationConfiguration"] == {"NotificationTopicArn": {"Ref": topic_id}}
    assert "KmsMasterKeyId" in topic["Properties"]
    _, policy = next(iter(resources_of_type(cognito_template, "AWS::SNS::TopicPolicy").items()))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    publish = next(s for s in statements if s.get("Sid") == "AllowGroundTruthNotifications")
    assert publish["Principal"] == {"Service": "sagemaker.amazonaws.com"}


def test_cognito_template_is_cfn_lint_clean(cognito_template: Template) -> None:
    assert cfn_lint_findings(cognito_template.to_json()) == []


def test_mfa_optional_and_threat_protection_off_are_acknowledged_not_hidden() -> None:
    options = LabelingOptions(
        workforce=WorkforceOptions(
            mode=WorkforceMode.COGNITO,
            mfa=MfaMode.OPTIONAL,
            threat_protection=False,
            password_minimum_length=10,
        )
    )
    stack, template = _build(options)  # nag-checked: COG2 and COG8 must be acknowledged
    props = _one(template, "AWS::Cognito::UserPool")["Properties"]
    assert props["MfaConfiguration"] == "OPTIONAL"
    assert props["UserPoolTier"] == "ESSENTIALS"
    assert "UserPoolAddOns" not in props
    assert props["Policies"]["PasswordPolicy"]["MinimumLength"] == 10
    pool = stack.node.find_child("Labeling").node.find_child("UserPool")
    metadata = json.dumps([m.data for m in pool.node.metadata])
    assert "AwsSolutions-COG2" in metadata
    assert "AwsSolutions-COG8" in metadata


def test_source_ip_restriction() -> None:
    options = LabelingOptions(
        workforce=WorkforceOptions(
            mode=WorkforceMode.COGNITO, source_ip_cidrs=("203.0.113.0/24", "198.51.100.0/24")
        )
    )
    _, template = _build(options)
    template.has_resource_properties(
        "Custom::PrivateWorkforce",
        {"SourceIpConfig": {"Cidrs": ["203.0.113.0/24", "198.51.100.0/24"]}},
    )


def test_several_teams_each_get_group_topic_and_workteam() -> None:
    options = COGNITO.model_copy(
        update={"teams": (WorkteamOptions(name="sft-writers"), WorkteamOptions(name="judges"))}
    )
    _, template = _build(options)
    names = sorted(
        t["Properties"]["WorkteamName"]
        for t in resources_of_type(template, "AWS::SageMaker::Workteam").values()
    )
    assert names == ["judges", "sft-writers"]
    template.resource_count_is("AWS::Cognito::UserPoolGroup", 2)
    template.resource_count_is("AWS::SNS::Topic", 3)  # two team topics, one workflow topic
    team_arns = [
        lid
        for lid in resources_of_type(template, "AWS::SageMaker::Workteam")
        if "sftwriters" in lid
    ]
    assert f'"Fn::GetAtt": ["{team_arns[0]}", "WorkteamArn"]' in _definition(template)


def test_workforce_alone_has_no_workflow() -> None:
    """Identity and teams only: no state machine, no task functions, one log group (the
    workforce function's)."""
    stack = new_stack()
    LabelingWorkforce(stack, "Labeling", options=COGNITO)
    template = template_of(stack)
    template.resource_count_is("AWS::StepFunctions::StateMachine", 0)
    functions = resources_of_type(template, "AWS::Lambda::Function")
    assert [lid for lid in functions if not lid.startswith("LabelingWorkforceProvider")] == []
    template.resource_count_is("AWS::Logs::LogGroup", 1)
    template.resource_count_is("AWS::SageMaker::Workteam", 1)


def test_team_refs_follow_the_teams_order_with_their_topics() -> None:
    stack = new_stack(nag=False)
    options = COGNITO.model_copy(
        update={"teams": (WorkteamOptions(name="sft-writers"), WorkteamOptions(name="judges"))}
    )
    workforce = LabelingWorkforce(stack, "Labeling", options=options)
    refs = workforce.team_refs
    assert [r.workteam_name for r in refs] == ["sft-writers", "judges"]
    for ref, name in zip(refs, ("sft-writers", "judges"), strict=True):
        assert stack.resolve(ref.workteam_arn) == stack.resolve(
            workforce.workteams[name].attr_workteam_arn
        )
        assert ref.notification_topic is workforce.topics[name]
    assert workforce.team_ref("judges") == refs[1]
    with pytest.raises(ValueError, match=r"^team 'raters' is not one of this workforce's teams"):
        workforce.team_ref("raters")


# -- imported and OIDC workforces ----------------------------------------------------------


def test_import_mode_with_pool_ids_creates_no_workforce_or_pool() -> None:
    options = LabelingOptions(
        workforce=WorkforceOptions(
            cognito_user_pool_id="us-east-1_AbCdEf123", cognito_client_id="4example1client2id3"
        )
    )
    _, template = _build(options)
    template.resource_count_is("AWS::SageMaker::Workforce", 0)
    template.resource_count_is("AWS::Cognito::UserPool", 0)
    template.has_resource_properties(
        "AWS::SageMaker::Workteam",
        {
            "WorkforceName": "default",
            "MemberDefinitions": [
                {
                    "CognitoMemberDefinition": {
                        "CognitoUserPool": "us-east-1_AbCdEf123",
                        "CognitoClientId": "4example1client2id3",
                        "CognitoUserGroup": Match.any_value(),
                    }
                }
            ],
        },
    )
    template.has_resource_properties(
        "AWS::Cognito::UserPoolGroup",
        {"GroupName": "llm-labelers", "UserPoolId": "us-east-1_AbCdEf123"},
    )


def test_import_mode_with_user_pool_constructs() -> None:
    stack = new_stack()
    pool = cognito.UserPool.from_user_pool_id(stack, "Pool", "eu-west-1_Pool12345")
    client = cognito.UserPoolClient.from_user_pool_client_id(stack, "Client", "clientid123")
    labeling = LabelingWorkforce(
        stack,
        "Labeling",
        options=LabelingOptions(workforce=WorkforceOptions(name="corp-labelers")),
        user_pool=pool,
        user_pool_client=client,
    )
    template = template_of(stack)
    assert labeling.workforce_resource is None
    assert labeling.workforce_outcome is None
    template.has_resource_properties("AWS::SageMaker::Workteam", {"WorkforceName": "corp-labelers"})


def test_import_mode_with_oidc_groups_and_ignored_source_ips() -> None:
    options = LabelingOptions(
        workforce=WorkforceOptions(source_ip_cidrs=("203.0.113.0/24",)),
        teams=(WorkteamOptions(name="raters", oidc_groups=("ml-raters",)),),
    )
    stack, template = _build(options)
    template.has_resource_properties(
        "AWS::SageMaker::Workteam",
        {"MemberDefinitions": [{"OidcMemberDefinition": {"OidcGroups": ["ml-raters"]}}]},
    )
    template.resource_count_is("AWS::Cognito::UserPoolGroup", 0)
    messages = [
        m.data
        for m in stack.node.find_child("Labeling").node.metadata
        if m.type == "aws:cdk:warning"
    ]
    assert any("source_ip_cidrs apply only when this stack creates" in str(m) for m in messages)
    assert any(
        "cdk-llm-training/labeling-workforce:sourceIpCidrsIgnored" in str(m) for m in messages
    )


def test_oidc_mode_reuses_or_creates_and_reads_the_secret_at_deploy_time() -> None:
    options = LabelingOptions(
        workforce=WorkforceOptions(mode=WorkforceMode.OIDC, oidc=OIDC),
        teams=(WorkteamOptions(name="raters", oidc_groups=("ml-raters", "ml-leads")),),
    )
    _, template = _build(options)
    template.resource_count_is("AWS::SageMaker::Workforce", 0)
    props = _one(template, "Custom::PrivateWorkforce")["Properties"]
    assert props["IdentityProvider"] == "oidc"
    assert props["OidcConfig"]["Issuer"] == "https://idp.example.com"
    # The secret never enters the template: the provider reads it by name (CloudFormation
    # does not resolve secret references in custom resource properties).
    assert "ClientSecret" not in props["OidcConfig"]
    assert props["ClientSecretName"] == "labeling/oidc-client-secret"
    statements = _statements(template, "LabelingWorkforceProviderRole")
    (read,) = [s for s in statements if "secretsmanager:GetSecretValue" in _actions(s)]
    assert "labeling/oidc-client-secret" in json.dumps(read["Resource"])
    team = _one(template, "AWS::SageMaker::Workteam")["Properties"]
    assert team["MemberDefinitions"] == [
        {"OidcMemberDefinition": {"OidcGroups": ["ml-raters", "ml-leads"]}}
    ]
    template.resource_count_is("AWS::Cognito::UserPool", 0)
    assert cfn_lint_findings(template.to_json()) == []


# -- workflow ------------------------------------------------------------------------------


def test_workflow_is_standard_logged_and_traced(cognito_template: Template) -> None:
    machine = _one(cognito_template, "AWS::StepFunctions::StateMachine")["Properties"]
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is True


def test_workflow_runs_the_labeling_job_sync_with_the_task_lambdas(
    cognito_template: Template,
) -> None:
    definition = _definition(cognito_template)
    functions = resources_of_type(cognito_template, "AWS::Lambda::Function")
    pre = next(lid for lid in functions if lid.startswith("LabelingPreAnnotation"))
    consolidation = next(lid for lid in functions if lid.startswith("LabelingConsolidation"))
    assert ":states:::sagemaker:createLabelingJob.sync" in definition
    assert '"LabelAttributeName":"llm-labels"' in definition
    assert f'"PreHumanTaskLambdaArn":"{{"Fn::GetAtt": ["{pre}", "Arn"]}}"' in definition
    assert f'"AnnotationConsolidationLambdaArn":"{{"Fn::GetAtt": ["{consolidation}", "Arn"]}}"' in (
        definition
    )
    assert '"NumberOfHumanWorkersPerDataObject.$":"$.args.workers_per_object"' in definition
    assert "/labeling/templates/{}.html', $.args.task_type)" in definition
    assert '"S3OutputPath":"s3://' in definition
    assert "/labeling/output/" in definition
    assert '"string_matches"' not in definition
    assert '"StringMatches":"labeling/input/*"' in definition


def test_workflow_writes_each_shipped_template_before_the_job(cognito_template: Template) -> None:
    definition = _definition(cognito_template)
    for task in ("sft", "preference", "rating"):
        assert f'"Key":"labeling/templates/{task}.html"' in definition
        assert json.dumps(template_text(task))[1:-1] in definition


def test_workflow_defaults_come_from_the_options() -> None:
    options = COGNITO.model_copy(
        update={"jobs": LabelingJobDefaults(workers_per_object=5, task_time_limit_seconds=900)}
    )
    definition = _definition(_build(options)[1])
    assert '"workers_per_object":5' in definition
    assert '"task_time_limit_seconds":900' in definition


def test_converter_writes_datasets_under_the_dataset_prefix(cognito_template: Template) -> None:
    converter = next(
        f
        for lid, f in resources_of_type(cognito_template, "AWS::Lambda::Function").items()
        if lid.startswith("LabelingConverter")
    )
    props = converter["Properties"]
    assert props["Handler"] == "labeling_postprocess.convert_handler"
    assert props["Runtime"] == "python3.14"
    assert props["Environment"]["Variables"]["DATASET_PREFIX"] == "labeling/datasets/"
    assert props["MemorySize"] == 1024
    assert props["Timeout"] == 900


def test_lambdas_log_to_retained_groups_without_managed_policies(
    cognito_template: Template,
) -> None:
    for role in resources_of_type(cognito_template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    groups = resources_of_type(cognito_template, "AWS::Logs::LogGroup")
    assert len(groups) == 5  # three task Lambdas, the workforce provider, the workflow
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 365
        assert group["DeletionPolicy"] == "RetainExceptOnCreate"


# -- IAM -----------------------------------------------------------------------------------


def _object_resources(statements: list[dict[str, Any]], action: str) -> list[str]:
    return [
        json.dumps(r)
        for s in statements
        if action in _actions(s)
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]


def test_labeling_role_reads_manifests_and_templates_writes_output_only(
    cognito_template: Template,
) -> None:
    statements = _statements(cognito_template, "LabelingLabelingJobRole")
    reads = " ".join(_object_resources(statements, "s3:GetObject*"))
    writes = " ".join(_object_resources(statements, "s3:PutObject"))
    assert "/labeling/input/*" in reads
    assert "/labeling/templates/*" in reads
    assert "/labeling/output/*" in reads
    assert "/labeling/output/*" in writes
    assert "/labeling/input/" not in writes
    assert "/labeling/templates/" not in writes
    assert "/labeling/datasets/" not in reads + writes
    invoked = " ".join(_object_resources(statements, "lambda:InvokeFunction"))
    assert "LabelingPreAnnotation" in invoked
    assert "LabelingConsolidation" in invoked
    assert "LabelingConverter" not in invoked
    assert any("kms:Decrypt" in _actions(s) for s in statements)


def test_labeling_role_trusts_sagemaker_for_this_account_only(cognito_template: Template) -> None:
    role = next(
        r
        for lid, r in resources_of_type(cognito_template, "AWS::IAM::Role").items()
        if lid.startswith("LabelingLabelingJobRole")
    )
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    # aws:SourceAccount only: Ground Truth is not documented to send aws:SourceArn, and a
    # condition on a key the request lacks would make the role unassumable.
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


def test_workflow_role_runs_jobs_and_passes_only_the_labeling_role(
    cognito_template: Template,
) -> None:
    statements = _statements(cognito_template, "LabelingWorkflowRole")
    create = next(s for s in statements if s.get("Sid") == "CreateLabelingJobsForOwnTeams")
    assert _actions(create) == ["sagemaker:CreateLabelingJob"]
    assert "labeling-job/*" in json.dumps(create["Resource"])
    team_arns = create["Condition"]["ArnEquals"]["sagemaker:WorkteamArn"]
    assert '"WorkteamArn"' in json.dumps(team_arns)  # only this construct's teams
    track = next(s for s in statements if s.get("Sid") == "TrackLabelingJobs")
    assert sorted(_actions(track)) == [
        "sagemaker:DescribeLabelingJob",
        "sagemaker:StopLabelingJob",
    ]
    passes = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert len(passes) == 1
    role_id = next(
        lid
        for lid in resources_of_type(cognito_template, "AWS::IAM::Role")
        if lid.startswith("LabelingLabelingJobRole")
    )
    assert passes[0]["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert passes[0]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    rule = next(s for s in statements if s.get("Sid") == "SyncIntegrationRule")
    assert "rule/StepFunctionsGetEventsForSageMaker*" in json.dumps(rule["Resource"])
    put = sorted(_object_resources(statements, "s3:putObject"))
    assert len(put) == 3
    for resource, task in zip(put, ("preference", "rating", "sft"), strict=True):
        assert resource.endswith(f'"/labeling/templates/{task}.html"]]}}')


def test_grant_start_execution() -> None:
    stack = new_stack(nag=False)
    _, workflow = _compose(stack, COGNITO)
    from aws_cdk import aws_iam as iam

    user = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    grant = workflow.grant_start_execution(user)
    assert grant.success
    statements = _statements(template_of(stack), "Operator")
    assert any("states:StartExecution" in _actions(s) for s in statements)


# -- SmallLoRAStack --------------------------------------------------------------------------


def test_small_lora_stack_holds_workforce_team_workflow_and_converter(
    tier_templates: dict[StackName, Template],
) -> None:
    template = tier_templates[StackName.SMALL_LORA]
    template.resource_count_is("AWS::SageMaker::Workforce", 0)
    template.resource_count_is("Custom::PrivateWorkforce", 1)
    # The custom resource owns the portal client: no stack update resets its OAuth settings.
    template.resource_count_is("AWS::Cognito::UserPoolClient", 0)
    pool_id = next(iter(resources_of_type(template, "AWS::Cognito::UserPool")))
    cognito_statements = [
        s
        for s in _statements(template, "LabelingWorkforceProviderRole")
        if any(a.startswith("cognito-idp:") for a in _actions(s))
    ]
    assert {s.get("Sid") for s in cognito_statements} == {"OwnPortalClient", "UseWorkforcePool"}
    for statement in cognito_statements:
        assert statement["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]}
    template.resource_count_is("AWS::SageMaker::Workteam", 1)
    machines = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    assert len([m for m in machines if m.startswith("Labeling")]) == 1
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "labeling_postprocess.convert_handler"}
    )
    outputs = template.to_json()["Outputs"]
    assert {"LabelingWorkflowArn", "LabelingUserPoolId", "LabelingWorkforce"} <= set(outputs)
    workforce_id = next(iter(resources_of_type(template, "Custom::PrivateWorkforce")))
    assert outputs["LabelingWorkforce"]["Value"] == {"Fn::GetAtt": [workforce_id, "Outcome"]}


def test_small_lora_stack_keeps_the_workflow_ids_of_one_construct(
    tier_stacks: dict[StackName, Stack], tier_templates: dict[StackName, Template]
) -> None:
    """The workflow sits in the workforce as "Default", which logical IDs leave out: its
    resources keep the IDs LabelingWorkforce gave them when it built the workflow itself."""
    stack = tier_stacks[StackName.SMALL_LORA]
    workflow = stack.labeling_workflow  # type: ignore[attr-defined]
    assert isinstance(workflow, LabelingWorkflow)
    assert workflow.node.path == f"{stack.stack_name}/Labeling/Default"
    machine = workflow.state_machine.node.default_child
    assert isinstance(machine, CfnResource)
    assert stack.get_logical_id(machine).startswith("LabelingWorkflow")
    functions = resources_of_type(tier_templates[StackName.SMALL_LORA], "AWS::Lambda::Function")
    for name in ("PreAnnotation", "Consolidation", "Converter"):
        assert any(lid.startswith(f"Labeling{name}") for lid in functions), name


def test_small_lora_stack_labeling_off_switch() -> None:
    stack = SmallLoRAStack(new_app(), "NoLabeling", config=SmallLoRAConfig(labeling=None))
    template = template_of(stack)
    assert stack.labeling is None
    assert stack.labeling_workflow is None
    template.resource_count_is("AWS::SageMaker::Workforce", 0)
    template.resource_count_is("AWS::SageMaker::Workteam", 0)
    machines = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    assert [m for m in machines if m.startswith("Labeling")] == []


# -- validation ----------------------------------------------------------------------------


def test_fails_default_import_without_team_identity() -> None:
    stack = new_stack(nag=False)
    with pytest.raises(
        ValueError,
        match=r"^teams llm-labelers: oidc_groups is empty; with imported workforce 'default' "
        r"without user_pool/user_pool_client every team needs oidc_groups \(for a "
        r"Cognito-backed workforce, give its pool: cognito_user_pool_id and "
        r"cognito_client_id, or user_pool and user_pool_client\)\.$",
    ):
        LabelingWorkforce(stack, "Labeling")


def test_fails_oidc_team_without_groups() -> None:
    stack = new_stack(nag=False)
    options = LabelingOptions(workforce=WorkforceOptions(mode=WorkforceMode.OIDC, oidc=OIDC))
    with pytest.raises(ValueError, match=r"^teams llm-labelers: oidc_groups is empty; with an "):
        LabelingWorkforce(stack, "Labeling", options=options)


def test_fails_user_pool_with_a_created_workforce() -> None:
    stack = new_stack(nag=False)
    pool = cognito.UserPool.from_user_pool_id(stack, "Pool", "us-east-1_Pool12345")
    client = cognito.UserPoolClient.from_user_pool_client_id(stack, "Client", "clientid123")
    with pytest.raises(
        ValueError,
        match=r"^user_pool and user_pool_client are for an imported workforce; workforce mode "
        r"'cognito' creates its own identity, so leave them out \(allowed with mode 'import' "
        r"only\)\.$",
    ):
        LabelingWorkforce(stack, "L", options=COGNITO, user_pool=pool, user_pool_client=client)


def test_fails_user_pool_without_client() -> None:
    stack = new_stack(nag=False)
    pool = cognito.UserPool.from_user_pool_id(stack, "Pool", "us-east-1_Pool12345")
    with pytest.raises(ValueError, match=r"^user_pool and user_pool_client go together: pass both"):
        LabelingWorkforce(stack, "L", user_pool=pool)


def test_fails_pool_given_twice() -> None:
    stack = new_stack(nag=False)
    pool = cognito.UserPool.from_user_pool_id(stack, "Pool", "us-east-1_Pool12345")
    client = cognito.UserPoolClient.from_user_pool_client_id(stack, "Client", "clientid123")
    options = LabelingOptions(
        workforce=WorkforceOptions(cognito_user_pool_id="us-east-1_X1", cognito_client_id="c1")
    )
    with pytest.raises(ValueError, match=r"^Give the imported workforce's Cognito pool once"):
        LabelingWorkforce(stack, "L", options=options, user_pool=pool, user_pool_client=client)


@pytest.mark.parametrize(
    ("data", "location", "message"),
    [
        (
            {"workforce": {"mode": "oidc"}},
            ("workforce",),
            "Value error, mode 'oidc' needs the 'oidc' settings of your identity provider",
        ),
        (
            {"workforce": {"mode": "cognito", "oidc": OIDC.model_dump()}},
            ("workforce",),
            "Value error, 'oidc' settings are only used with mode 'oidc', not 'cognito'",
        ),
        (
            {"workforce": {"mode": "cognito", "cognito_user_pool_id": "us-east-1_X1",
                           "cognito_client_id": "c1"}},
            ("workforce",),
            "Value error, cognito_user_pool_id and cognito_client_id are only used with mode "
            "'import', not 'cognito'",
        ),
        (
            {"workforce": {"cognito_user_pool_id": "us-east-1_X1"}},
            ("workforce",),
            "Value error, cognito_user_pool_id and cognito_client_id go together: set both",
        ),
        (
            {"workforce": {"source_ip_cidrs": ["10.0.0.1/8"]}},
            ("workforce", "source_ip_cidrs"),
            "Value error, source_ip_cidrs entry '10.0.0.1/8' is not an IPv4 CIDR block such "
            "as '203.0.113.0/24'",
        ),
        (
            {"teams": [{"name": "a"}, {"name": "a"}]},
            ("teams",),
            "Value error, team names must be unique; repeated: a",
        ),
        (
            {"output_prefix": "labeling/input/results/"},
            (),
            "Value error, manifest_prefix 'labeling/input/' and output_prefix "
            "'labeling/input/results/' overlap; each curated-zone prefix must be separate so "
            "IAM grants stay separate",
        ),
        (
            {"log_retention_days": 10},
            ("log_retention_days",),
            "Value error, log_retention_days 10 is not a CloudWatch Logs retention period; "
            "allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, "
            "1827, 2192, 2557, 2922, 3288, 3653",
        ),
        (
            {"jobs": {"workers_per_object": 10}},
            ("jobs", "workers_per_object"),
            "Input should be less than or equal to 9",
        ),
        (
            {"teams": [{"name": "good"}, {"name": "bad_name"}]},
            ("teams", 1, "name"),
            "String should match pattern '^[a-zA-Z0-9]([a-zA-Z0-9\\-]){0,62}$'",
        ),
        (
            {"manifest_prefix": "/abs/"},
            ("manifest_prefix",),
            "Value error, manifest_prefix '/abs/' must not start with '/'; S3 keys have no "
            "leading slash",
        ),
        (
            {"dataset_prefix": "labeling/data sets"},
            ("dataset_prefix",),
            "Value error, dataset_prefix 'labeling/data sets/' is not a folder of the curated "
            "or artifacts zone; allowed: one or more names of letters, digits and !_.- "
            "separated by '/'",
        ),
    ],
)  # fmt: skip
def test_fails_invalid_options(
    data: dict[str, Any], location: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as error:
        LabelingOptions.model_validate(data)
    (item,) = error.value.errors()
    assert (item["loc"], item["msg"]) == (location, message)


def test_small_lora_config_creates_a_cognito_workforce_by_default() -> None:
    config = SmallLoRAConfig()
    assert config.labeling is not None
    assert config.labeling.workforce.mode is WorkforceMode.COGNITO
    assert SmallLoRAConfig.model_validate({"labeling": None}).labeling is None
