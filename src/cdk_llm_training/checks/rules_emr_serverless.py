"""Rules for EMR Serverless: the Step Functions ``startJobRun.sync`` integration, the job
runtime role it passes, and the application's idle cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id
from cdk_llm_training.checks.render import render
from cdk_llm_training.checks.state_machines import (
    optimized_integrations,
    parsed_definition,
    role_allow_statements,
    statements_allow,
)

EMR_SERVERLESS_SYNC = "emr-serverless:startJobRun.sync"
EMR_SERVERLESS_PRINCIPAL = "emr-serverless.amazonaws.com"
EMR_SERVERLESS_SYNC_RULE = "StepFunctionsGetEventsForEMRServerlessJobRule"
EMR_SERVERLESS_SYNC_ACTIONS = (
    "emr-serverless:StartJobRun",
    "emr-serverless:GetJobRun",
    "emr-serverless:CancelJobRun",
    "iam:PassRole",
)
"""What ``startJobRun.sync`` calls with the state machine's role: start the run, poll it,
cancel it when the execution stops, pass the job runtime role (AWS Step Functions Developer
Guide, 'IAM policies for Amazon EMR Serverless')."""
_EVENTS_ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")
_SOURCE_KEYS = {"aws:sourcearn", "aws:sourceaccount"}


def _sync_machines(view: TemplateView) -> list[tuple[str, Mapping[str, Any], list[Any]]]:
    """(state machine, properties, startJobRun.sync states) of every machine running one."""
    found = []
    for machine_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        states = [
            s
            for name, s in optimized_integrations(parsed_definition(props))
            if name == EMR_SERVERLESS_SYNC
        ]
        if states:
            found.append((machine_id, props, states))
    return found


def _allows_rule(statements: list[Mapping[str, Any]], action: str) -> bool:
    for statement in statements:
        actions = [str(a).lower() for a in as_list(statement.get("Action"))]
        if action.lower() not in actions and "events:*" not in actions:
            continue
        resources = [render(r) for r in as_list(statement.get("Resource"))]
        if any(r == "*" or r.endswith(f":rule/{EMR_SERVERLESS_SYNC_RULE}") for r in resources):
            return True
    return False


def _check_sync_role(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for machine_id, props, _ in _sync_machines(view):
        role_id = referenced_id(props.get("RoleArn"))
        if role_id is None or view.type_of(role_id) != "AWS::IAM::Role":
            continue  # an imported role: its policies are not in this template
        statements = role_allow_statements(view, role_id)
        missing = [a for a in EMR_SERVERLESS_SYNC_ACTIONS if not statements_allow(statements, a)]
        missing += [
            f"{a} on rule/{EMR_SERVERLESS_SYNC_RULE}"
            for a in _EVENTS_ACTIONS
            if not _allows_rule(statements, a)
        ]
        if missing:
            findings.append(
                (
                    machine_id,
                    f"runs {EMR_SERVERLESS_SYNC} but role {role_id} lacks "
                    f"{', '.join(missing)}: the execution fails when the job run starts or "
                    "is awaited.",
                    "Properties/RoleArn",
                )
            )
    return findings


def _trust_statements(view: TemplateView, role_id: str) -> list[Mapping[str, Any]]:
    document = view.properties(role_id).get("AssumeRolePolicyDocument") or {}
    return [
        s
        for s in as_list(document.get("Statement"))
        if isinstance(s, Mapping)
        and s.get("Effect") == "Allow"
        and EMR_SERVERLESS_PRINCIPAL
        in [render(p) for p in as_list((s.get("Principal") or {}).get("Service"))]
    ]


def _job_roles(view: TemplateView) -> list[tuple[str, str]]:
    """(state machine, job runtime role) of every startJobRun.sync state naming a role of
    this template as its ExecutionRoleArn."""
    pairs = []
    for machine_id, _, states in _sync_machines(view):
        for state in states:
            arn = (state.get("Parameters") or {}).get("ExecutionRoleArn")
            role_id = _role_in(view, arn)
            if role_id is not None:
                pairs.append((machine_id, role_id))
    return sorted(set(pairs))


def _role_in(view: TemplateView, arn: Any) -> str | None:
    """The template role whose ARN placeholder ``arn`` is (rendered definitions write
    ``${Role.Arn}``), or None."""
    if not isinstance(arn, str):
        return None
    for role_id, _ in view.of_type("AWS::IAM::Role"):
        if arn in (f"${{{role_id}.Arn}}", f"${{{role_id}}}"):
            return role_id
    return None


def _check_job_role_trust(view: TemplateView) -> list[tuple[str, str, str]]:
    return [
        (
            role_id,
            f"is the ExecutionRoleArn of {EMR_SERVERLESS_SYNC} in {machine_id} but does not "
            f"trust {EMR_SERVERLESS_PRINCIPAL}: every job run fails to start.",
            "Properties/AssumeRolePolicyDocument",
        )
        for machine_id, role_id in _job_roles(view)
        if not _trust_statements(view, role_id)
    ]


def _check_job_role_source(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for _, role_id in _job_roles(view):
        for statement in _trust_statements(view, role_id):
            keys = {
                str(k).lower()
                for block in (statement.get("Condition") or {}).values()
                if isinstance(block, Mapping)
                for k in block
            }
            if not keys & _SOURCE_KEYS:
                findings.append(
                    (
                        role_id,
                        f"trusts {EMR_SERVERLESS_PRINCIPAL} without an aws:SourceArn or "
                        "aws:SourceAccount condition: job runs of any account's application "
                        "could be given this role (confused deputy).",
                        "Properties/AssumeRolePolicyDocument",
                    )
                )
    return findings


def _check_idle_capacity(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for app_id, props in view.of_type("AWS::EMRServerless::Application"):
        stop = props.get("AutoStopConfiguration") or {}
        if props.get("InitialCapacity") and stop.get("Enabled") is False:
            findings.append(
                (
                    app_id,
                    "has pre-initialized capacity and auto-stop turned off: the initial "
                    "workers are billed from the application's start until someone stops it.",
                    "Properties/AutoStopConfiguration",
                )
            )
    return findings


EMR_SERVERLESS_RULES = [
    Rule(
        "LLM-EMR1",
        "State machines running emr-serverless:startJobRun.sync may start, get and cancel "
        "job runs, pass the job role and manage StepFunctionsGetEventsForEMRServerlessJobRule "
        "(AWS Step Functions Developer Guide, 'IAM policies for Amazon EMR Serverless').",
        Severity.ERROR,
        "The .sync integration starts the run, waits for it through a managed EventBridge "
        "rule, polls GetJobRun and cancels the run when the execution stops; any missing "
        "permission fails the execution at run time, after deployment succeeded.",
        "Grant emr-serverless:StartJobRun on the application, GetJobRun and CancelJobRun on "
        "its jobruns/*, iam:PassRole on the job role (iam:PassedToService emr-serverless."
        "amazonaws.com) and events:PutTargets/PutRule/DescribeRule on the managed rule "
        "(DataCuration with engine emr-serverless does).",
        _check_sync_role,
    ),
    Rule(
        "LLM-EMR2",
        "The job runtime role of an EMR Serverless job run trusts emr-serverless.amazonaws.com "
        "(Amazon EMR Serverless User Guide, 'Job runtime roles for Amazon EMR Serverless').",
        Severity.ERROR,
        "EMR Serverless assumes the ExecutionRoleArn for the job; a role that does not trust "
        "the service makes StartJobRun fail on every execution.",
        "Create the role with the service principal emr-serverless.amazonaws.com (and the "
        "aws:SourceArn / aws:SourceAccount conditions of LLM-EMR3).",
        _check_job_role_trust,
    ),
    Rule(
        "LLM-EMR3",
        "Job runtime roles trusted by emr-serverless.amazonaws.com limit the trust with "
        "aws:SourceArn or aws:SourceAccount (IAM User Guide, 'The confused deputy problem').",
        Severity.WARNING,
        "Without a source condition the service may assume the role for any application "
        "that names it, including another account's (a confused deputy).",
        "Add aws:SourceAccount = this account and aws:SourceArn ArnLike the application's "
        "ARN to the trust statement (DataCuration's SparkJobRole does).",
        _check_job_role_source,
    ),
    Rule(
        "LLM-EMR4",
        "EMR Serverless applications with pre-initialized capacity keep auto-stop on "
        "(Amazon EMR Serverless User Guide, 'Configuring an application' and 'Pre-initialized "
        "capacity').",
        Severity.WARNING,
        "Pre-initialized workers are billed while the application is started, jobs or not; "
        "with auto-stop off nothing stops them.",
        "Remove InitialCapacity (workers then start per job) or enable "
        "AutoStopConfiguration with an idle timeout.",
        _check_idle_capacity,
    ),
]
