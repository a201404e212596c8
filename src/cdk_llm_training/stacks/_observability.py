"""The observability every tier stack gets: alarms, a dashboard, a budget and cost tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Aspects, CfnOutput, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn

from cdk_llm_training.config.cost_controls import ObservabilityOptions
from cdk_llm_training.constructs._compliance import GrantPolicyAcknowledgements
from cdk_llm_training.constructs.cost_controls import TAG_STACK, CostControls
from cdk_llm_training.constructs.hyperpod import HyperPodEksCluster
from cdk_llm_training.constructs.training_alarms import TrainingAlarms
from cdk_llm_training.constructs.training_dashboard import TrainingDashboard
from cdk_llm_training.constructs.training_file_system import TrainingFileSystem


@dataclass(frozen=True)
class TierMonitoring:
    """What :func:`monitor_tier` added to a stack."""

    alarms: TrainingAlarms
    dashboard: TrainingDashboard | None
    cost_controls: CostControls


def monitor_tier(
    stack: Stack,
    *,
    tier: str,
    options: ObservabilityOptions,
    key: kms.IKey,
    state_machines: Mapping[str, sfn.IStateMachine] | None = None,
    file_systems: Sequence[TrainingFileSystem] = (),
    hyperpods: Sequence[HyperPodEksCluster] = (),
) -> TierMonitoring:
    """Alarms on an SNS topic encrypted with ``key``, a dashboard (unless turned off), the
    budget and the cost-allocation tags, for the resources a tier stack holds; plus the
    ``AlarmTopicArn`` output and the :class:`GrantPolicyAcknowledgements` aspect."""
    # NIST 800-53 / HIPAA: CDK's per-role grant policies are not "inline policies" to avoid.
    Aspects.of(stack).add(GrantPolicyAcknowledgements())
    alarms = TrainingAlarms(
        stack,
        "Alarms",
        options=options.alarms,
        state_machines=state_machines,
        file_systems=file_systems,
        hyperpod_clusters=hyperpods,
        key=key,
    )
    dashboard = None
    if options.dashboard:
        dashboard = TrainingDashboard(
            stack,
            "Dashboard",
            state_machines=state_machines,
            file_systems=file_systems,
            hyperpod_clusters=hyperpods,
            alarms=alarms,
        )
    cost_controls = CostControls(stack, "CostControls", tier=tier, options=options, alarms=alarms)
    CfnOutput(
        stack,
        "AlarmTopicArn",
        value=alarms.topic.topic_arn,
        description="Alarms and budget alerts: subscribe here (encrypted SNS topic).",
    )
    if cost_controls.budget is not None:
        budget_output(stack, cost_controls)
    return TierMonitoring(alarms, dashboard, cost_controls)


def budget_output(stack: Stack, cost_controls: CostControls) -> None:
    """The ``BudgetName`` and ``CostAllocationTagToActivate`` outputs: the budget filters on
    the ``stack`` tag, which AWS Billing ignores until the tag key is activated as a
    cost-allocation tag, so the budget tracks nothing before that."""
    assert cost_controls.budget is not None
    CfnOutput(
        stack,
        "BudgetName",
        value=cost_controls.budget.ref,
        description="Monthly AWS Budgets budget of this stack (budget names are account-wide).",
    )
    if cost_controls.options.budget.scope_to_stack_tag:
        CfnOutput(
            stack,
            "CostAllocationTagToActivate",
            value=TAG_STACK,
            description="ACTION NEEDED: activate this tag key under Billing > Cost allocation "
            "tags (user-defined); until then the budget counts no costs.",
        )
