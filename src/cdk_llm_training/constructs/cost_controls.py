"""CostControls: a monthly AWS Budgets budget with alerts, and the stack's cost tags."""

from __future__ import annotations

import re

from aws_cdk import Annotations, Aws, Fn, Stack, Tags, Token
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_llm_training.config.cost_controls import ObservabilityOptions
from cdk_llm_training.constructs._bring_your_own import not_both
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.training_alarms import TrainingAlarms

BUDGETS_SERVICE = "budgets.amazonaws.com"
TAG_PROJECT = "project"
TAG_TIER = "tier"
TAG_STACK = "stack"
TAG_OWNER = "owner"
_BUDGET_NAME_MAX = 100
"""AWS Budgets' maximum budget-name length (``BudgetName`` in the Budgets API model)."""
_TIER = re.compile(r"^[a-z0-9][a-z0-9\-]{0,62}$")


class CostControls(Construct):
    """Cost-allocation tags on every taggable resource of the stack, and a monthly cost
    budget whose alerts go to the alarm topic.

    Tags (applied once, with ``Tags.of(stack)``): ``project`` and ``owner`` from
    ``options.tags``, ``tier`` (this argument), ``stack`` (the stack name), plus
    ``options.tags.extra``. Activate them as cost-allocation tags in the Billing console so
    Cost Explorer and the budget can filter on them.

    Budget (``options.budget``; default USD 100 a month): actual-spend alerts at 80 % and
    100 %, a forecast alert at 100 %, counting only costs tagged ``stack=<stack name>``
    unless ``scope_to_stack_tag`` is off. Alerts go to ``alarms.topic`` (its topic and key
    policies then let ``budgets.amazonaws.com`` publish, for this account only) or to
    ``topic`` (not both); with neither, to ``options.alarms.email``; with no address at all
    the budget has no alerts (a warning says so).

    Example::

        CostControls(self, "CostControls", tier="small-lora", alarms=alarms)
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        tier: str,
        options: ObservabilityOptions | None = None,
        alarms: TrainingAlarms | None = None,
        topic: sns.ITopic | None = None,
    ) -> None:
        """Tag the stack and create the budget.

        :param tier: value of the ``tier`` tag (lower-case letters, digits and ``-``).
        :param options: budget and tags. Default ``ObservabilityOptions()``.
        :param alarms: whose topic gets the alerts. Default None.
        :param topic: a topic of your own for the alerts (allow ``budgets.amazonaws.com`` in
            its key policy if it is encrypted). Default: ``alarms.topic``. Not with
            ``alarms``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "CostControls")
        not_both(
            "CostControls",
            ("alarms", alarms),
            ("topic", topic),
            because="the alerts go to one topic: the alarms' or yours",
        )
        if not Token.is_unresolved(tier) and not _TIER.match(tier):
            raise ValueError(
                f"tier {tier!r} is not valid; allowed: 1-63 lower-case letters, digits and -, "
                "starting with a letter or digit"
            )
        self.options = opts = options or ObservabilityOptions()
        stack = Stack.of(self)
        self.tags: dict[str, str] = {
            TAG_PROJECT: opts.tags.project,
            TAG_TIER: tier,
            TAG_STACK: stack.stack_name,
            TAG_OWNER: opts.tags.owner,
            **opts.tags.extra,
        }
        for key, value in self.tags.items():
            Tags.of(stack).add(key, value)

        self.topic: sns.ITopic | None = topic or (alarms.topic if alarms else None)
        if topic is not None:
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowBudgetsPublish",
                    principals=[iam.ServicePrincipal(BUDGETS_SERVICE)],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                )
            )
        elif alarms is not None:
            alarms.allow_publish_from(BUDGETS_SERVICE)

        self.budget: budgets.CfnBudget | None = None
        if opts.budget.enabled:
            self.budget = self._create_budget(stack)

    def _subscribers(self) -> list[budgets.CfnBudget.SubscriberProperty]:
        if self.topic is not None:
            return [
                budgets.CfnBudget.SubscriberProperty(
                    address=self.topic.topic_arn, subscription_type="SNS"
                )
            ]
        if self.options.alarms.email is not None:
            return [
                budgets.CfnBudget.SubscriberProperty(
                    address=self.options.alarms.email, subscription_type="EMAIL"
                )
            ]
        Annotations.of(self).add_warning_v2(
            "cdk-llm-training/cost-controls:budgetWithoutAlerts",
            "The budget has no alerts: give CostControls alarms= or topic=, or set "
            "observability.alarms.email.",
        )
        return []

    @staticmethod
    def _budget_name(stack: Stack) -> str | None:
        """``<stack name>-<Region>-monthly``, or None (CloudFormation then generates one).

        Budgets are account-wide, not regional: a budget name must be unique in the account,
        so the same stack deployed in two Regions needs the Region in its budget name. A
        name is at most 100 characters; a stack name too long for that gets a generated
        budget name instead.
        """
        longest_region = 14  # e.g. ap-southeast-5
        if Token.is_unresolved(stack.stack_name) or (
            len(stack.stack_name) + longest_region + len("--monthly") > _BUDGET_NAME_MAX
        ):
            return None
        return Fn.join("-", [stack.stack_name, Aws.REGION, "monthly"])

    def _create_budget(self, stack: Stack) -> budgets.CfnBudget:
        opts = self.options.budget
        subscribers = self._subscribers()
        notifications: list[budgets.CfnBudget.NotificationWithSubscribersProperty] = []
        if subscribers:
            thresholds = [("ACTUAL", p) for p in opts.actual_alert_percents]
            if opts.forecast_alert_percent is not None:
                thresholds.append(("FORECASTED", opts.forecast_alert_percent))
            notifications = [
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        comparison_operator="GREATER_THAN",
                        notification_type=kind,
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for kind, percent in thresholds
            ]
        cost_filters = None
        if opts.scope_to_stack_tag:
            cost_filters = {"TagKeyValue": [f"user:{TAG_STACK}${stack.stack_name}"]}
        budget = budgets.CfnBudget(
            self,
            "Resource",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=self._budget_name(stack),
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(
                    amount=opts.monthly_limit_usd, unit="USD"
                ),
                cost_filters=cost_filters,
            ),
            notifications_with_subscribers=notifications or None,
        )
        if self.topic is not None:
            # The topic policy must exist before Budgets validates the subscriber.
            for child in self.topic.node.children:
                if isinstance(child, sns.TopicPolicy):
                    budget.node.add_dependency(child)
        return budget
