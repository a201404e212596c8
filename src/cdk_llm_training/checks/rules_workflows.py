"""Rules for the Step Functions workflows: what an execution input can make AWS do."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list

_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
_CREATE_LABELING_JOB = "sagemaker:createlabelingjob"
_WORKTEAM_KEY = "sagemaker:workteamarn"


def _statements(view: TemplateView) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(logical ID, location, statement) of every identity-policy statement."""
    for logical_id, props in view.of_type(*_POLICY_TYPES):
        for statement in as_list(props.get("PolicyDocument", {}).get("Statement")):
            yield logical_id, "Properties/PolicyDocument", statement
    for logical_id, props in view.of_type("AWS::IAM::Role"):
        for policy in as_list(props.get("Policies")):
            document = policy.get("PolicyDocument", {}) if isinstance(policy, Mapping) else {}
            for statement in as_list(document.get("Statement")):
                yield logical_id, "Properties/Policies", statement


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    keys: set[str] = set()
    for block in (statement.get("Condition") or {}).values():
        if isinstance(block, Mapping):
            keys.update(str(k).lower() for k in block)
    return keys


def _check_labeling_workteam_condition(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, location, statement in _statements(view):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a).lower() for a in as_list(statement.get("Action"))]
        if _CREATE_LABELING_JOB not in actions:
            continue
        if _WORKTEAM_KEY not in _condition_keys(statement):
            findings.append(
                (
                    logical_id,
                    "allows sagemaker:CreateLabelingJob without a sagemaker:WorkteamArn "
                    "condition: whoever starts the workflow can send the data to any work "
                    "team, public crowd or vendor included.",
                    location,
                )
            )
    return findings


WORKFLOW_RULES = [
    Rule(
        "LLM-GT2",
        "Permissions to create labeling jobs name the allowed work teams "
        "(sagemaker:WorkteamArn condition; SageMaker AI developer guide, Workforce "
        "Authentication and Restrictions; Service Authorization Reference, CreateLabelingJob).",
        Severity.ERROR,
        "A labeling job shows its data to the work team in the request; without the condition "
        "an execution input (or any caller of the role) can pick a public or vendor work team.",
        "Split sagemaker:CreateLabelingJob into its own statement with ArnEquals "
        "sagemaker:WorkteamArn = the ARNs of the work teams you allow (LabelingWorkflow does "
        "this for its work_teams).",
        _check_labeling_workteam_condition,
    ),
]
