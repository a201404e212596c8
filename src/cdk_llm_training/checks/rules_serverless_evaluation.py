"""Rules for SageMaker AI serverless jobs a state machine starts through the AWS SDK
integration (``aws-sdk:sagemaker:createTrainingJob`` with ``ServerlessJobConfig``): what the
API rejects for evaluation jobs, and the permissions the polled workflow needs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id
from cdk_llm_training.checks.state_machines import named_states, parsed_definition

EVALUATION_TYPES = ("LLMAJEvaluation", "CustomScorerEvaluation", "BenchmarkEvaluation")
"""``EvaluationType`` of the API (ServerlessJobConfig)."""
SDK_ACTIONS = {
    "aws-sdk:sagemaker:createTrainingJob": "sagemaker:CreateTrainingJob",
    "aws-sdk:sagemaker:describeTrainingJob": "sagemaker:DescribeTrainingJob",
    "aws-sdk:sagemaker:stopTrainingJob": "sagemaker:StopTrainingJob",
    "aws-sdk:sagemaker:updateModelPackage": "sagemaker:UpdateModelPackage",
}
"""AWS SDK integrations of the serverless workflow -> the IAM action each call needs."""


def _sdk_tasks(
    view: TemplateView,
) -> Iterator[tuple[str, Mapping[str, Any], str, Mapping[str, Any]]]:
    """(machine logical ID, its properties, state name, state) of every AWS SDK Task."""
    for logical_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        for name, state in named_states(parsed_definition(props)):
            resource = state.get("Resource")
            if isinstance(resource, str) and ":states:::aws-sdk:" in resource:
                yield logical_id, props, name, state


def _check_evaluation_type(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, _, name, state in _sdk_tasks(view):
        if not str(state["Resource"]).endswith("aws-sdk:sagemaker:createTrainingJob"):
            continue
        config = (state.get("Parameters") or {}).get("ServerlessJobConfig")
        if not isinstance(config, Mapping) or config.get("JobType") != "Evaluation":
            continue
        if "EvaluationType.$" in config:
            continue  # chosen at run time: cannot be checked here
        value = config.get("EvaluationType")
        if value not in EVALUATION_TYPES:
            findings.append(
                (
                    logical_id,
                    f"state {name} starts a serverless Evaluation job with EvaluationType "
                    f"{value!r}; allowed: {', '.join(EVALUATION_TYPES)}.",
                    f"Properties/DefinitionString/States/{name}",
                )
            )
    return findings


def _role_actions(view: TemplateView, role_id: str) -> list[str]:
    statements: list[Any] = []
    for policy in as_list(view.properties(role_id).get("Policies")):
        statements += as_list((policy or {}).get("PolicyDocument", {}).get("Statement"))
    for _, props in view.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        if role_id in {referenced_id(r) for r in as_list(props.get("Roles"))}:
            statements += as_list(props.get("PolicyDocument", {}).get("Statement"))
    return [
        str(action)
        for s in statements
        if isinstance(s, Mapping) and s.get("Effect") == "Allow"
        for action in as_list(s.get("Action"))
    ]


def _check_sdk_permissions(view: TemplateView) -> list[tuple[str, str, str]]:
    needed: dict[str, tuple[Mapping[str, Any], set[str]]] = {}
    for logical_id, props, _, state in _sdk_tasks(view):
        integration = str(state["Resource"]).split(":states:::", 1)[1]
        if integration in SDK_ACTIONS:
            needed.setdefault(logical_id, (props, set()))[1].add(SDK_ACTIONS[integration])
    findings = []
    for logical_id, (props, actions) in sorted(needed.items()):
        role_id = referenced_id(props.get("RoleArn"))
        if role_id is None or view.type_of(role_id) != "AWS::IAM::Role":
            continue  # an imported role: its policies are not in this template
        granted = _role_actions(view, role_id)
        missing = sorted(
            a for a in actions if not any(fnmatchcase(a.lower(), g.lower()) for g in granted)
        )
        if missing:
            findings.append(
                (
                    logical_id,
                    f"calls SageMaker through the AWS SDK integration but role {role_id} lacks "
                    f"{', '.join(missing)}.",
                    "Properties/RoleArn",
                )
            )
    return findings


SERVERLESS_EVALUATION_RULES = [
    Rule(
        "LLM-SLE1",
        "A serverless job with JobType Evaluation names an EvaluationType the API knows "
        "(SageMaker API reference, ServerlessJobConfig: EvaluationType is required when the "
        "serverless job type is Evaluation; LLMAJEvaluation, CustomScorerEvaluation, "
        "BenchmarkEvaluation).",
        Severity.ERROR,
        "CreateTrainingJob rejects the request at run time, after the customization job has "
        "been paid for: the model is registered but never evaluated.",
        "Set ServerlessJobConfig.EvaluationType; SageMakerServerlessCustomization sets it from "
        "options.evaluation (benchmarks: BenchmarkEvaluation, judge: LLMAJEvaluation).",
        _check_evaluation_type,
    ),
    Rule(
        "LLM-SLE2",
        "A state machine that starts, polls, stops or approves SageMaker serverless jobs "
        "through the AWS SDK integration has the IAM action of each call "
        "(Step Functions developer guide, AWS SDK service integrations: the execution role "
        "needs the permissions of every API it calls).",
        Severity.ERROR,
        "A missing action fails the call with AccessDenied at run time: a polled job left "
        "running unwatched, or an evaluation gate whose verdict is never recorded.",
        "Grant sagemaker:CreateTrainingJob, DescribeTrainingJob, StopTrainingJob and "
        "UpdateModelPackage (on the workflow's jobs and model packages) to the state "
        "machine's role.",
        _check_sdk_permissions,
    ),
]
