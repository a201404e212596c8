"""ModelPromotion and ModelPromotionTarget: the cross-account grants, asserted exactly."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from cdk_support import new_app, resources_of_type
from pydantic import ValidationError

from cdk_llm_training import (
    ModelPromotion,
    ModelPromotionOptions,
    ModelPromotionTarget,
    ModelPromotionTargetOptions,
    SageMakerFineTuneJob,
    TrainingDataLake,
)

DEV, PROD, STAGE = "111111111111", "222222222222", "333333333333"
ENV = {"region": "eu-west-1"}


@pytest.fixture(scope="module")
def source() -> tuple[cdk.Stack, ModelPromotion, Template]:
    app = new_app()
    stack = cdk.Stack(app, "Dev", env=cdk.Environment(account=DEV, **ENV))
    lake = TrainingDataLake(stack, "Lake")
    job = SageMakerFineTuneJob(stack, "Lora", data_lake=lake)
    promotion = ModelPromotion(
        stack, "Promotion", job=job, options=ModelPromotionOptions(target_accounts=(PROD, STAGE))
    )
    return stack, promotion, Template.from_stack(stack)


@pytest.fixture(scope="module")
def target() -> tuple[cdk.Stack, ModelPromotionTarget, Template]:
    app = new_app()
    stack = cdk.Stack(app, "Prod", env=cdk.Environment(account=PROD, **ENV))
    consumer = ModelPromotionTarget(
        stack,
        "Promoted",
        options=ModelPromotionTargetOptions(
            source_account=DEV, source_model_package_group_name="Dev-Lora-Adapters"
        ),
    )
    return stack, consumer, Template.from_stack(stack)


def _roots(*accounts: str) -> list[str]:
    return [f"arn:aws:iam::{a}:root" for a in accounts]


def _regional(service: str, account: str, resource: str) -> dict[str, Any]:
    """An ARN CDK renders with the partition and Region pseudo parameters."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                f":{service}:",
                {"Ref": "AWS::Region"},
                f":{account}:{resource}",
            ],
        ]
    }


def _statement(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements if s.get("Sid") == sid]
    return found


def test_bucket_policy_opens_only_tagged_artifacts_to_the_targets(source: Any) -> None:
    stack, promotion, template = source
    sid = "PromotionPromotionReadApprovedArtifacts"
    (policy,) = [
        p
        for p in resources_of_type(template, "AWS::S3::BucketPolicy").values()
        if sid in json.dumps(p)
    ]
    statement = _statement(policy["Properties"]["PolicyDocument"]["Statement"], sid)
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": _roots(PROD, STAGE)}
    assert statement["Action"] == "s3:GetObject"
    assert statement["Condition"] == {
        "StringEquals": {"s3:ExistingObjectTag/cdk-llm-training-promoted": "true"}
    }
    resource = json.dumps(statement["Resource"])
    assert "/sagemaker/output/*" in resource
    bucket_id = stack.get_logical_id(promotion.job.artifacts_bucket.node.default_child)
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}


def test_key_policy_lets_the_targets_decrypt_through_s3_only(source: Any) -> None:
    stack, promotion, template = source
    key_id = stack.get_logical_id(promotion.job.data_key.node.default_child)
    statements = template.to_json()["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    statement = _statement(statements, "PromotionPromotionDecryptApprovedArtifacts")
    assert statement == {
        "Sid": "PromotionPromotionDecryptApprovedArtifacts",
        "Effect": "Allow",
        "Principal": {"AWS": _roots(PROD, STAGE)},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "kms:ViaService": {
                    "Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
                }
            }
        },
    }


def test_group_policy_shares_describe_and_list_only(source: Any) -> None:
    stack, promotion, template = source
    definition = _definition(template, stack, promotion)
    params = definition["States"]["ShareGroup"]["Parameters"]
    policy = json.loads(params["ResourcePolicy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {
        "AWS": [f"arn:aws:iam::{PROD}:root", f"arn:aws:iam::{STAGE}:root"]
    }
    assert statement["Action"] == [
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    ]
    group, packages = statement["Resource"]
    assert group.startswith(f"arn:aws:sagemaker:eu-west-1:{DEV}:model-package-group/")
    assert packages == (
        f"arn:aws:sagemaker:eu-west-1:{DEV}:model-package/{params['ModelPackageGroupName']}/*"
    )


def test_approval_rule_matches_the_group_approved_or_rejected(source: Any) -> None:
    _stack, _promotion, template = source
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {
                    "ModelPackageGroupName": [Match.any_value()],
                    "ModelApprovalStatus": ["Approved", "Rejected"],
                },
            },
            "Targets": [Match.object_like({"Arn": {"Ref": Match.any_value()}})],
        },
    )


def test_forward_rule_targets_each_account_default_bus(source: Any) -> None:
    stack, promotion, template = source
    rule = promotion.forward_rule.node.default_child
    rules = template.to_json()["Resources"]
    arns = [t["Arn"] for t in rules[stack.get_logical_id(rule)]["Properties"]["Targets"]]
    assert arns == [_regional("events", a, "event-bus/default") for a in (PROD, STAGE)]


def test_target_bus_admits_the_source_account_and_event_source_only(target: Any) -> None:
    _stack, _consumer, template = target
    (policy,) = resources_of_type(template, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Principal"] == {
        "AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{DEV}:root"]]}
    }
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {
        "StringEquals": {"events:source": "cdk-llm-training.promotion"}
    }
    assert policy["Properties"]["EventBusName"] == "default"


def test_target_reads_only_the_source_group_and_writes_only_its_own(target: Any) -> None:
    stack, consumer, template = target
    policies = resources_of_type(template, "AWS::IAM::Policy")
    statements = [
        s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    describe = _statement(statements, "DescribeSourcePackages")
    assert describe["Action"] == "sagemaker:DescribeModelPackage"
    assert describe["Resource"] == _regional("sagemaker", DEV, "model-package/dev-lora-adapters/*")
    register = _statement(statements, "RegisterPromotedPackages")
    assert register["Action"] == "sagemaker:CreateModelPackage"
    own_group, own_packages = register["Resource"]
    assert own_group == {
        "Fn::GetAtt": [stack.get_logical_id(consumer.model_package_group), "ModelPackageGroupArn"]
    }
    parts = own_packages["Fn::Join"][1]
    assert {"Ref": "AWS::AccountId"} in parts
    assert DEV not in json.dumps(parts)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": Match.object_like({"account": [DEV]})},
    )
    (group,) = resources_of_type(template, "AWS::SageMaker::ModelPackageGroup").values()
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    assert group["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_accounts": ("1234",)}, "target_accounts: '1234' is not an AWS account id"),
        ({"target_accounts": (PROD, PROD)}, "lists an account twice"),
        ({"target_accounts": ()}, "at least 1"),
        ({"target_accounts": (PROD,), "log_retention_days": 2}, "log_retention_days: 2"),
    ],
)
def test_promotion_options_name_the_field(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelPromotionOptions(**kwargs)


def test_target_options_name_the_field() -> None:
    with pytest.raises(ValidationError, match="source_account: 'x' is not an AWS account id"):
        ModelPromotionTargetOptions(source_account="x", source_model_package_group_name="g")


def _definition(template: Template, stack: cdk.Stack, promotion: ModelPromotion) -> dict[str, Any]:
    child: Any = promotion.state_machine.node.default_child
    machine = template.to_json()["Resources"][stack.get_logical_id(child)]
    body = machine["Properties"]["DefinitionString"]
    definition: dict[str, Any] = json.loads(_join(stack.resolve(body)))
    return definition


def _join(node: Any) -> str:  # noqa: PLR0911 - one per intrinsic
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "Fn::Join" in node:
        return str(node["Fn::Join"][0]).join(_join(p) for p in node["Fn::Join"][1])
    if node == {"Ref": "AWS::Partition"}:
        return "aws"
    if node == {"Ref": "AWS::Region"}:
        return "eu-west-1"
    if node == {"Ref": "AWS::AccountId"}:
        return DEV
    if isinstance(node, dict) and "Ref" in node:
        return f"<{node['Ref']}>"
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        return f"arn:aws:sagemaker:eu-west-1:{DEV}:model-package-group/<{node['Fn::GetAtt'][0]}>"
    if isinstance(node, dict) and "Fn::Select" in node:
        return "abcd1234"
    raise AssertionError(node)


def test_small_tier_wires_promotion_by_config_and_passes_the_checks() -> None:
    from cdk_llm_training import SmallLoRAConfig, SmallLoRAStack

    app = new_app()  # cdk-nag AwsSolutions and LlmTrainingChecks run on synth
    stack = SmallLoRAStack(
        app,
        "Small",
        config=SmallLoRAConfig(promotion=ModelPromotionOptions(target_accounts=(PROD,))),
    )
    assert stack.promotion is not None
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": Match.object_like({"source": ["aws.sagemaker"]})},
    )
    assert SmallLoRAStack(cdk.App(), "Off").promotion is None


def test_promotion_without_the_sagemaker_workflow_is_rejected() -> None:
    from cdk_llm_training import SmallLoRAConfig

    with pytest.raises(ValidationError, match="promotion: set, but sagemaker_fine_tune is null"):
        SmallLoRAConfig.model_validate(
            {"promotion": {"target_accounts": [PROD]}, "sagemaker_fine_tune": None}
        )


def test_both_templates_pass_cfn_lint(source: Any, target: Any) -> None:
    from cdk_support import cfn_lint_findings

    assert cfn_lint_findings(source[2].to_json()) == []
    assert cfn_lint_findings(target[2].to_json()) == []


def test_target_without_a_group_accepts_any_group_of_the_source_account() -> None:
    stack = cdk.Stack(new_app(), "ProdAny", env=cdk.Environment(account=PROD, **ENV))
    consumer = ModelPromotionTarget(
        stack, "Promoted", options=ModelPromotionTargetOptions(source_account=DEV)
    )
    template = Template.from_stack(stack)
    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["account"] == [DEV]
    assert "detail" not in pattern
    assert consumer.source_packages_arn.endswith(f":{DEV}:model-package/*")
