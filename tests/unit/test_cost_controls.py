"""CostControls: tags on every taggable resource, the budget and its alerts, options,
validation."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match
from cdk_support import cfn_lint_findings, new_stack, template_of
from observability_cases import EMAIL, Full
from pydantic import ValidationError

from cdk_llm_training import (
    AlarmOptions,
    BudgetOptions,
    ConfigError,
    CostControls,
    CostTagOptions,
    ObservabilityOptions,
    TrainingAlarms,
    parse_app_config,
)

EXPECTED_TAGS = {
    "project": "cdk-llm-training",
    "tier": "medium-fine-tune",
    "stack": "ObservedStack",
    "owner": "ml-platform",
    "cost-center": "42",
}


@pytest.fixture(scope="module")
def full() -> Full:
    return Full()


def _tags(resource: dict[str, Any]) -> dict[str, str] | None:
    props = resource.get("Properties") or {}
    tags = props.get("Tags", props.get("ResourceTags"))
    if tags is None:
        return None
    if isinstance(tags, dict):  # a few types (SSM, some EKS) use a map
        return dict(tags)
    return {tag["Key"]: tag["Value"] for tag in tags}


def test_every_taggable_resource_carries_the_cost_tags(full: Full) -> None:
    tagged = {}
    for logical_id, resource in full.json["Resources"].items():
        tags = _tags(resource)
        if tags is not None:
            tagged[logical_id] = resource["Type"]
            assert tags.items() >= EXPECTED_TAGS.items(), logical_id
    types = set(tagged.values())
    assert types >= {
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::SNS::Topic",
        "AWS::CloudWatch::Alarm",
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::SecurityGroup",
        "AWS::FSx::FileSystem",
        "AWS::StepFunctions::StateMachine",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
        "AWS::Budgets::Budget",
    }
    assert full.costs.tags == EXPECTED_TAGS


def test_budget_with_actual_and_forecast_alerts_to_the_topic(full: Full) -> None:
    (budget_id, budget) = next(iter(full.of_type("AWS::Budgets::Budget").items()))
    topic = full.logical_id("AWS::SNS::Topic", "Alarms")
    data = budget["Properties"]["Budget"]
    assert data["BudgetType"] == "COST"
    assert data["TimeUnit"] == "MONTHLY"
    assert data["BudgetLimit"] == {"Amount": 100, "Unit": "USD"}
    # Budget names are account-wide: the Region keeps two deployments of one stack apart.
    assert data["BudgetName"] == {
        "Fn::Join": ["-", ["ObservedStack", {"Ref": "AWS::Region"}, "monthly"]]
    }
    assert data["CostFilters"] == {"TagKeyValue": ["user:stack$ObservedStack"]}
    notifications = [
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
        for n in budget["Properties"]["NotificationsWithSubscribers"]
    ]
    assert notifications == [("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)]
    for entry in budget["Properties"]["NotificationsWithSubscribers"]:
        assert entry["Notification"]["ComparisonOperator"] == "GREATER_THAN"
        assert entry["Notification"]["ThresholdType"] == "PERCENTAGE"
        assert entry["Subscribers"] == [{"Address": {"Ref": topic}, "SubscriptionType": "SNS"}]
    policy = full.logical_id("AWS::SNS::TopicPolicy", "Alarms")
    assert policy in budget["DependsOn"]
    assert budget_id.startswith("CostControls")


def test_budget_options() -> None:
    stack = new_stack()
    alarms = TrainingAlarms(stack, "Alarms")
    CostControls(
        stack,
        "Costs",
        tier="large-pretrain",
        alarms=alarms,
        options=ObservabilityOptions(
            budget=BudgetOptions(
                monthly_limit_usd=25000,
                actual_alert_percents=(50,),
                forecast_alert_percent=None,
                scope_to_stack_tag=False,
            )
        ),
    )
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::Budgets::Budget",
        {
            "Budget": {
                "BudgetLimit": {"Amount": 25000, "Unit": "USD"},
                "CostFilters": Match.absent(),
            },
            "NotificationsWithSubscribers": [
                Match.object_like(
                    {"Notification": Match.object_like({"NotificationType": "ACTUAL"})}
                )
            ],
        },
    )
    assert cfn_lint_findings(template.to_json()) == []


def test_budget_disabled_keeps_the_tags() -> None:
    stack = new_stack()
    costs = CostControls(
        stack,
        "Costs",
        tier="small-lora",
        options=ObservabilityOptions(budget=BudgetOptions(enabled=False)),
    )
    TrainingAlarms(stack, "Alarms")
    template = template_of(stack)
    template.resource_count_is("AWS::Budgets::Budget", 0)
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {"Tags": Match.array_with([{"Key": "tier", "Value": "small-lora"}])},
    )
    assert costs.budget is None


def test_own_topic_gets_the_budgets_statement() -> None:
    stack = new_stack()
    topic = sns.Topic(stack, "Ops", enforce_ssl=True, master_key=None)
    CostControls(stack, "Costs", tier="small-lora", topic=topic)
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowBudgetsPublish",
                                "Principal": {"Service": "budgets.amazonaws.com"},
                                "Action": "sns:Publish",
                            }
                        )
                    ]
                )
            }
        },
    )


def test_email_subscriber_without_a_topic() -> None:
    stack = new_stack()
    CostControls(
        stack,
        "Costs",
        tier="small-lora",
        options=ObservabilityOptions(alarms=AlarmOptions(email=EMAIL)),
    )
    template_of(stack).has_resource_properties(
        "AWS::Budgets::Budget",
        {
            "NotificationsWithSubscribers": Match.array_with(
                [
                    Match.object_like(
                        {"Subscribers": [{"Address": EMAIL, "SubscriptionType": "EMAIL"}]}
                    )
                ]
            )
        },
    )


def test_warns_when_the_budget_has_no_alerts() -> None:
    stack = new_stack()
    CostControls(stack, "Costs", tier="small-lora")
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::Budgets::Budget", {"NotificationsWithSubscribers": Match.absent()}
    )
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Costs", Match.string_like_regexp("The budget has no alerts")
    )


def test_fails_invalid_tier() -> None:
    stack = new_stack(nag=False)
    with pytest.raises(ValueError, match="tier") as error:
        CostControls(stack, "Costs", tier="Small LoRA")
    assert str(error.value) == (
        "tier 'Small LoRA' is not valid; allowed: 1-63 lower-case letters, digits and -, "
        "starting with a letter or digit"
    )


def test_fails_invalid_tag_value() -> None:
    with pytest.raises(ValidationError) as error:
        CostTagOptions(owner="team#1")
    assert (
        "tag value 'team#1' is not valid; allowed: 1-256 letters, digits, spaces and "
        "_ . : / = + - @" in str(error.value)
    )


def test_fails_reserved_tag_key() -> None:
    with pytest.raises(ValidationError) as error:
        CostTagOptions(extra={"aws:owner": "x"})
    assert "tag key 'aws:owner' is not valid" in str(error.value)
    assert "not starting with 'aws:'" in str(error.value)


def test_fails_non_positive_alert_percent() -> None:
    with pytest.raises(ValidationError) as error:
        BudgetOptions(actual_alert_percents=(0, 100))
    assert "actual_alert_percents [0.0, 100.0] must all be > 0" in str(error.value)


def test_fails_non_positive_budget() -> None:
    with pytest.raises(ValidationError) as error:
        BudgetOptions(monthly_limit_usd=0)
    assert "monthly_limit_usd" in str(error.value)
    assert "greater than 0" in str(error.value)


def test_tier_config_file_section() -> None:
    config = parse_app_config(
        {
            "small_lora": {
                "observability": {
                    "alarms": {"email": EMAIL},
                    "budget": {"monthly_limit_usd": 50},
                    "tags": {"owner": "ml-platform"},
                }
            }
        }
    )
    obs = config.small_lora.observability
    assert (obs.alarms.email, obs.budget.monthly_limit_usd, obs.tags.owner) == (
        EMAIL,
        50,
        "ml-platform",
    )
    assert obs.dashboard is True
    with pytest.raises(ConfigError) as error:
        parse_app_config({"small_lora": {"observability": {"alarms": {"email": "x"}}}})
    assert "field 'small_lora.observability.alarms.email' = 'x'" in str(error.value)
