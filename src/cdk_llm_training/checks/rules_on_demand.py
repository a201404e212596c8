"""Rules for evaluating a custom model through an on-demand custom model deployment."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id
from cdk_llm_training.checks.rules_managed import _rendered, _states

_CREATE = "arn:aws:states:::aws-sdk:bedrock:createCustomModelDeployment"
_DELETE = "arn:aws:states:::aws-sdk:bedrock:deleteCustomModelDeployment"
_EVALUATION = "arn:aws:states:::aws-sdk:bedrock:createEvaluationJob"
_DELETE_ACTIONS = ("bedrock:deletecustommodeldeployment", "bedrock:*", "*")
_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def _machines(view: TemplateView) -> Iterator[tuple[str, Mapping[str, Any], list[Any]]]:
    """(logical ID, properties, states) of every state machine whose definition parses."""
    for logical_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        text = _rendered(props.get("DefinitionString"))
        if text is None:
            continue
        try:
            machine = json.loads(text)
        except ValueError:
            continue
        yield logical_id, props, list(_states(machine))


def _calls(states: list[Any], resource: str) -> bool:
    return any(state.get("Resource") == resource for state in states)


def _check_deployment_deleted(view: TemplateView) -> list[tuple[str, str, str]]:
    return [
        (
            logical_id,
            "creates a Bedrock custom model deployment (createCustomModelDeployment) but has no "
            "deleteCustomModelDeployment state: every deployment it creates is left behind.",
            "Properties/DefinitionString",
        )
        for logical_id, _, states in _machines(view)
        if _calls(states, _CREATE) and not _calls(states, _DELETE)
    ]


def _role_may_delete(view: TemplateView, role: str) -> bool:
    for _, props in view.of_type(*_POLICY_TYPES):
        if role not in {referenced_id(r) for r in as_list(props.get("Roles"))}:
            continue
        for statement in as_list((props.get("PolicyDocument") or {}).get("Statement")):
            if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
                continue
            actions = {str(a).lower() for a in as_list(statement.get("Action"))}
            if actions & set(_DELETE_ACTIONS):
                return True
    return False


def _check_role_may_delete(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, props, states in _machines(view):
        role = referenced_id(props.get("RoleArn"))
        if role is None or view.type_of(role) != "AWS::IAM::Role":
            continue  # a role from elsewhere: its policies are not in this template
        if _calls(states, _DELETE) and not _role_may_delete(view, role):
            findings.append(
                (
                    logical_id,
                    f"deletes custom model deployments but its role {role} is not allowed "
                    "bedrock:DeleteCustomModelDeployment: the delete fails and the deployment "
                    "stays.",
                    "Properties/RoleArn",
                )
            )
    return findings


def _check_no_deployment_as_evaluated_model(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, _, states in _machines(view):
        for state in states:
            if state.get("Resource") != _EVALUATION:
                continue
            models = ((state.get("Parameters") or {}).get("InferenceConfig") or {}).get("Models")
            for model in as_list(models):
                identifier = ((model or {}).get("BedrockModel") or {}).get("ModelIdentifier")
                if isinstance(identifier, str) and ":custom-model-deployment/" in identifier:
                    findings.append(
                        (
                            logical_id,
                            f"names the custom model deployment {identifier} as the evaluated "
                            "model; evaluation jobs refuse deployment ARNs. Answer the prompts "
                            "through the deployment and pass them as precomputed responses.",
                            "Properties/DefinitionString",
                        )
                    )
    return findings


ON_DEMAND_RULES = [
    Rule(
        "LLM-ODE1",
        "A workflow that creates a Bedrock custom model deployment also deletes it (Amazon "
        "Bedrock User Guide, 'Deploy a custom model for on-demand inference'; API Reference, "
        "DeleteCustomModelDeployment).",
        Severity.ERROR,
        "A custom model deployment lives until it is deleted; a workflow that creates one per "
        "run and never deletes it leaves one behind per run (and counts against the account's "
        "deployment quota). Source: Amazon Bedrock User Guide, Deploy a custom model for "
        "on-demand inference.",
        "Add a deleteCustomModelDeployment task on every path after the create (ModelEvaluation "
        "does this unless keep_deployment is set, and then only after a passed gate).",
        _check_deployment_deleted,
    ),
    Rule(
        "LLM-ODE2",
        "The role of a workflow that deletes custom model deployments is allowed "
        "bedrock:DeleteCustomModelDeployment (Service Authorization Reference, 'Actions "
        "defined by Amazon Bedrock').",
        Severity.ERROR,
        "Without the permission the delete state fails at run time, after the deployment "
        "exists. Source: Service Authorization Reference, Amazon Bedrock.",
        "Grant bedrock:DeleteCustomModelDeployment on "
        "arn:aws:bedrock:<region>:<account>:custom-model-deployment/* to the state machine role.",
        _check_role_may_delete,
    ),
    Rule(
        "LLM-ODE3",
        "An evaluation job does not name a custom model deployment as the evaluated model "
        "(Amazon Bedrock API Reference, EvaluationBedrockModel: the modelIdentifier pattern "
        "has no custom-model-deployment ARN).",
        Severity.ERROR,
        "CreateEvaluationJob rejects a deployment ARN in modelIdentifier, so the job fails at "
        "run time. Source: Amazon Bedrock API Reference, EvaluationBedrockModel.",
        "Invoke the deployment yourself and evaluate its answers with a "
        "precomputedInferenceSource (ModelEvaluation's on-demand route does this).",
        _check_no_deployment_as_evaluated_model,
    ),
]
