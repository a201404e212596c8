"""LabelingWorkflow on its own: a team brought by ARN (no workforce in the stack), teams from
CfnWorkteam, its own key, WorkTeamRef validation and LabelingWorkflowOptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk.assertions import Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    LabelingOptions,
    LabelingWorkflow,
    LabelingWorkflowOptions,
    TrainingDataLake,
    WorkTeamRef,
)
from cdk_llm_training.config import LabelingJobDefaults

VENDOR_TEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/vendor-crowd/acme-labeling"
OTHER_STACK_TEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/reviewers"


def _definition(template: Template) -> str:
    (machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)


def _workflow_statements(template: Template) -> list[dict[str, Any]]:
    return [
        s
        for logical_id, p in resources_of_type(template, "AWS::IAM::Policy").items()
        if logical_id.startswith("LabelingWorkflowRole")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.fixture(scope="module")
def byo() -> tuple[Stack, LabelingWorkflow, Template]:
    """A vendor team brought by ARN, in a cdk-nag- and LlmTrainingChecks-checked app."""
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake")
    workflow = LabelingWorkflow(
        stack,
        "Labeling",
        data_lake=lake,
        work_teams=[WorkTeamRef.from_workteam_arn(VENDOR_TEAM)],
    )
    return stack, workflow, template_of(stack)


def test_byo_team_needs_no_workforce_in_the_stack(
    byo: tuple[Stack, LabelingWorkflow, Template],
) -> None:
    _, _, template = byo
    for type_name in (
        "AWS::SageMaker::Workteam",
        "Custom::PrivateWorkforce",
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolGroup",
    ):
        template.resource_count_is(type_name, 0)
    template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    template.resource_count_is("AWS::Lambda::Function", 3)
    assert cfn_lint_findings(template.to_json()) == []


def test_byo_team_is_the_default_and_the_only_allowed_team(
    byo: tuple[Stack, LabelingWorkflow, Template],
) -> None:
    _, workflow, template = byo
    assert workflow.default_work_team.workteam_arn == VENDOR_TEAM
    assert workflow.allowed_workteam_arns == [VENDOR_TEAM]
    create = next(
        s for s in _workflow_statements(template) if s.get("Sid") == "CreateLabelingJobsForOwnTeams"
    )
    assert create["Condition"] == {"ArnEquals": {"sagemaker:WorkteamArn": [VENDOR_TEAM]}}
    definition = _definition(template)
    assert f'"workteam_arn":"{VENDOR_TEAM}"' in definition
    assert f'"Variable":"$.workteam_arn","StringEquals":"{VENDOR_TEAM}"' in definition


def test_own_key_encrypts_topic_and_log_groups(
    byo: tuple[Stack, LabelingWorkflow, Template],
) -> None:
    _, _, template = byo
    keys = resources_of_type(template, "AWS::KMS::Key")
    (own_id,) = [lid for lid in keys if lid.startswith("LabelingNotificationKey")]
    own = keys[own_id]
    assert own["Properties"]["EnableKeyRotation"] is True
    assert own["DeletionPolicy"] == "RetainExceptOnCreate"
    sids = [s.get("Sid") for s in own["Properties"]["KeyPolicy"]["Statement"]]
    assert "AllowCloudWatchLogsOfThisAccount" in sids
    groups = resources_of_type(template, "AWS::Logs::LogGroup")
    assert len(groups) == 4  # three task functions and the workflow
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [own_id, "Arn"]}
    (topic,) = resources_of_type(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [own_id, "Arn"]}


def test_grant_start_execution(byo: tuple[Stack, LabelingWorkflow, Template]) -> None:
    stack, workflow, _ = byo
    operator = iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal())
    grant = workflow.grant_start_execution(operator)
    assert isinstance(grant, iam.Grant)
    assert grant.success
    statements = stack.resolve(operator.node.find_child("DefaultPolicy").document)["Statement"]  # type: ignore[attr-defined]
    assert [s["Action"] for s in statements] == ["states:StartExecution"]


def test_teams_from_cfn_workteam_and_arn_are_all_allowed() -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    team = sagemaker.CfnWorkteam(
        stack,
        "OwnTeam",
        workteam_name="own-team",
        description="Own team.",
        workforce_name="default",
        member_definitions=[
            sagemaker.CfnWorkteam.MemberDefinitionProperty(
                oidc_member_definition=sagemaker.CfnWorkteam.OidcMemberDefinitionProperty(
                    oidc_groups=["labelers"]
                )
            )
        ],
    )
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    workflow = LabelingWorkflow(
        stack,
        "Labeling",
        data_lake=lake,
        work_teams=[
            WorkTeamRef.from_cfn_workteam(team),
            WorkTeamRef.from_workteam_arn(OTHER_STACK_TEAM),
        ],
        options=LabelingWorkflowOptions(jobs=LabelingJobDefaults(workers_per_object=1)),
        notification_key=key,
        removal_policy=RemovalPolicy.DESTROY,
    )
    template = template_of(stack)
    assert workflow.work_teams[0].workteam_name == "own-team"
    create = next(
        s for s in _workflow_statements(template) if s.get("Sid") == "CreateLabelingJobsForOwnTeams"
    )
    own_arn = {"Fn::GetAtt": ["OwnTeam", "WorkteamArn"]}
    assert create["Condition"]["ArnEquals"]["sagemaker:WorkteamArn"] == [
        own_arn,
        OTHER_STACK_TEAM,
    ]
    definition = _definition(template)
    assert '"workteam_arn":"{"Fn::GetAtt": ["OwnTeam", "WorkteamArn"]}"' in definition
    assert f'"StringEquals":"{OTHER_STACK_TEAM}"' in definition
    assert '"workers_per_object":1' in definition
    # The given key: none created; removal_policy reaches the log groups.
    template.resource_count_is("AWS::KMS::Key", 2)  # the lake's and the given one
    for group in resources_of_type(template, "AWS::Logs::LogGroup").values():
        assert group["DeletionPolicy"] == "Delete"


# -- WorkTeamRef ---------------------------------------------------------------------------


def test_from_workteam_arn_names_the_team() -> None:
    ref = WorkTeamRef.from_workteam_arn(OTHER_STACK_TEAM)
    assert (ref.workteam_arn, ref.workteam_name, ref.notification_topic) == (
        OTHER_STACK_TEAM,
        "reviewers",
        None,
    )


def test_token_arn_is_accepted_unchecked() -> None:
    stack = new_stack(nag=False)
    team = sagemaker.CfnWorkteam(stack, "T", description="d", member_definitions=[])
    ref = WorkTeamRef.from_workteam_arn(team.attr_workteam_arn)
    assert ref.workteam_name is None


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        (
            "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/x",
            r"^workteam_arn 'arn:aws:sagemaker:us-east-1:111122223333:labeling-job/x' is not a "
            r"work team ARN; expected arn:<partition>:sagemaker:<region>:<account>:workteam/",
        ),
        (
            "my-team",
            r"^workteam_arn 'my-team' is not a work team ARN",
        ),
        (
            "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default",
            r"^workteam_arn 'arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/"
            r"default' is the Amazon Mechanical Turk \(public\) team; the labeling workflow "
            r"sends training data to private and vendor teams only",
        ),
    ],
    ids=["other-resource", "bare-name", "mechanical-turk"],
)
def test_workteam_arn_is_checked(arn: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkTeamRef.from_workteam_arn(arn)
    with pytest.raises(ValueError, match=message):
        WorkTeamRef(workteam_arn=arn)


@pytest.mark.parametrize(
    ("teams", "message"),
    [
        ([], r"^work_teams is empty; give at least one team"),
        (
            [WorkTeamRef.from_workteam_arn(VENDOR_TEAM), WorkTeamRef(workteam_arn=VENDOR_TEAM)],
            rf"^work_teams repeats {VENDOR_TEAM}; give each team once\.$",
        ),
        ([VENDOR_TEAM], r"^work_teams entry '.*' is not a WorkTeamRef; wrap a team with "),
    ],
    ids=["empty", "repeated", "plain-string"],
)
def test_work_teams_are_checked(teams: list[Any], message: str) -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    with pytest.raises(ValueError, match=message):
        LabelingWorkflow(stack, "Labeling", data_lake=lake, work_teams=teams)


# -- LabelingWorkflowOptions ------------------------------------------------------------------


def test_labeling_options_carry_the_workflow_options() -> None:
    assert LabelingOptions().workflow_options() == LabelingWorkflowOptions()
    custom = LabelingOptions(manifest_prefix="in/", log_retention_days=30)
    assert custom.workflow_options() == LabelingWorkflowOptions(
        manifest_prefix="in/", log_retention_days=30
    )
    # The same declaration in both models: YAML keys and checks cannot drift apart.
    for name, field in LabelingWorkflowOptions.model_fields.items():
        twin = LabelingOptions.model_fields[name]
        assert (twin.annotation, twin.default, repr(twin.metadata)) == (
            field.annotation,
            field.default,
            repr(field.metadata),
        ), name


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"dataset_prefix": "labeling/output/sets/"},
            "Value error, dataset_prefix 'labeling/output/sets/' and output_prefix "
            "'labeling/output/' overlap; each curated-zone prefix must be separate so IAM "
            "grants stay separate",
        ),
        (
            {"log_retention_days": 2},
            "Value error, log_retention_days 2 is not a CloudWatch Logs retention period; "
            "allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, "
            "2192, 2557, 2922, 3288, 3653",
        ),
        ({"workforce": {"mode": "cognito"}}, "Extra inputs are not permitted"),
    ],
    ids=["overlap", "retention", "workforce-is-not-a-workflow-setting"],
)
def test_workflow_options_are_validated(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        LabelingWorkflowOptions.model_validate(data)
    (item,) = error.value.errors()
    assert item["msg"] == message


def test_labeling_modules_stay_small() -> None:
    import cdk_llm_training.constructs.labeling as package

    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in Path(package.__file__).parent.glob("*.py")
    }
    assert len(sizes) >= 10
    assert max(sizes.values()) <= 400, sizes
