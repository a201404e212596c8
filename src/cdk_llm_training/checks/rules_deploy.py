"""Deploy-time contracts: what CloudFormation and the services check only when a stack deploys
(retained names, account singletons, `.sync` permissions, wait conditions, model packages)."""

from __future__ import annotations

import json
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
from cdk_llm_training.config.sagemaker_fine_tune_job import TRAINING_IMAGE_REPOSITORY

_RETAINING = ("Retain", "RetainExceptOnCreate")
_STABLE_PSEUDO = {
    "AWS::Region",
    "AWS::AccountId",
    "AWS::StackName",
    "AWS::Partition",
    "AWS::URLSuffix",
}
"""Pseudo parameters that are the same for every deployment of one stack (AWS::StackId is
not: it changes each time the stack is created)."""

PHYSICAL_NAME_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::SageMaker::ModelPackageGroup": ("ModelPackageGroupName",),
    "AWS::SageMaker::Workforce": ("WorkforceName",),
    "AWS::SageMaker::Workteam": ("WorkteamName",),
    "AWS::SageMaker::Cluster": ("ClusterName",),
    "AWS::KMS::Alias": ("AliasName",),
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::ECR::Repository": ("RepositoryName",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::SSM::Parameter": ("Name",),
    "AWS::EKS::Cluster": ("Name",),
    "AWS::Cognito::UserPoolDomain": ("Domain",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::StepFunctions::StateMachine": ("StateMachineName",),
    "AWS::Budgets::Budget": ("Budget", "BudgetName"),
}
"""Where each resource type takes a physical name that must be unique in the account (and
Region): a property path from ``Properties``."""


def is_fixed(value: Any) -> bool:  # noqa: PLR0911 (one return per intrinsic)
    """Whether ``value`` resolves to the same text on every deployment of the stack: a literal,
    or literals joined with stable pseudo parameters (Region, account, stack name)."""
    if isinstance(value, (str, int, float)):
        return True
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    ((function, argument),) = value.items()
    if function == "Ref":
        return argument in _STABLE_PSEUDO
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        return all(is_fixed(part) for part in as_list(argument[1]))
    if function == "Fn::Sub":
        text = argument[0] if isinstance(argument, list) else argument
        variables = argument[1] if isinstance(argument, list) and len(argument) > 1 else {}
        names = {part.split("}", 1)[0] for part in str(text).split("${")[1:]}
        return all(
            (name in _STABLE_PSEUDO) or (name in variables and is_fixed(variables[name]))
            for name in names
        )
    if function in ("Fn::Select", "Fn::Split"):
        return all(is_fixed(part) for part in as_list(argument))
    return False


def _property(props: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _check_retained_fixed_names(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, resource in view.resources.items():
        path = PHYSICAL_NAME_PROPERTIES.get(str(resource.get("Type")))
        policy = resource.get("DeletionPolicy")
        if path is None or policy not in _RETAINING:
            continue
        name = _property(resource.get("Properties") or {}, path)
        if name is not None and is_fixed(name):
            findings.append(
                (
                    logical_id,
                    f"DeletionPolicy {policy} with the fixed name {render(name)!r} "
                    f"({'.'.join(path)}): the kept resource holds the name, so the next deploy "
                    "of this stack (after a delete"
                    + (", or after a failed first create" if policy == "Retain" else "")
                    + ") fails with 'already exists'.",
                    "Properties/" + "/".join(path),
                )
            )
    return findings


def _check_workforce_in_stack(view: TemplateView) -> list[tuple[str, str, str]]:
    return [
        (
            logical_id,
            "creates the account's private workforce: SageMaker allows one per account and "
            "Region, so this stack fails in any account that already has one (console, Amazon "
            "A2I, another stack).",
            "Type",
        )
        for logical_id, _ in view.of_type("AWS::SageMaker::Workforce")
    ]


# -- .sync integrations ---------------------------------------------------------------------

_EVENTS_ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")


def _sagemaker_job(kind: str) -> tuple[str, ...]:
    return (
        f"sagemaker:Create{kind}",
        f"sagemaker:Describe{kind}",
        f"sagemaker:Stop{kind}",
        "iam:PassRole",
        *_EVENTS_ACTIONS,
    )


SYNC_REQUIREMENTS: Mapping[str, tuple[str, ...]] = {
    "sagemaker:createTrainingJob.sync": _sagemaker_job("TrainingJob"),
    "sagemaker:createProcessingJob.sync": _sagemaker_job("ProcessingJob"),
    "sagemaker:createLabelingJob.sync": _sagemaker_job("LabelingJob"),
    "sagemaker:createTransformJob.sync": _sagemaker_job("TransformJob"),
    "sagemaker:createHyperParameterTuningJob.sync": _sagemaker_job("HyperParameterTuningJob"),
    "bedrock:createModelCustomizationJob.sync": (
        "bedrock:CreateModelCustomizationJob",
        "bedrock:GetModelCustomizationJob",
        "iam:PassRole",
        *_EVENTS_ACTIONS,
    ),
    "states:startExecution.sync": (
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        *_EVENTS_ACTIONS,
    ),
    "states:startExecution.sync:2": (
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        *_EVENTS_ACTIONS,
    ),
}
"""Actions each optimized ``.sync`` integration needs on the state machine's role, from the
Step Functions developer guide's IAM policy pages (and CDK's task constructs)."""

SAGEMAKER_LIST_TAGS = "sagemaker:ListTags"
"""Every SageMaker ``.sync`` policy of the guide also lists ``sagemaker:ListTags`` on ``*``."""


def _check_sync_permissions(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for machine_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        role_id = referenced_id(props.get("RoleArn"))
        if role_id is None or view.type_of(role_id) != "AWS::IAM::Role":
            continue  # an imported role: its policies are not in this template
        statements = role_allow_statements(view, role_id)
        integrations = sorted(
            {name for name, _ in optimized_integrations(parsed_definition(props))}
        )
        for integration in integrations:
            required = SYNC_REQUIREMENTS.get(integration)
            if required is None:
                continue
            missing = [a for a in required if not statements_allow(statements, a)]
            if integration.startswith("sagemaker:") and not statements_allow(
                statements, SAGEMAKER_LIST_TAGS, on_any=True
            ):
                missing.append(f"{SAGEMAKER_LIST_TAGS} on *")
            if missing:
                findings.append(
                    (
                        machine_id,
                        f"runs {integration} but role {role_id} lacks {', '.join(missing)} "
                        "(the Step Functions developer guide's policy for this integration).",
                        "Properties/RoleArn",
                    )
                )
    return findings


# -- wait conditions ------------------------------------------------------------------------


def _references(value: Any, logical_id: str) -> bool:
    if isinstance(value, Mapping):
        if referenced_id(value) == logical_id:
            return True
        sub = value.get("Fn::Sub")
        if sub is not None and "${" + logical_id in json.dumps(sub):
            return True
        return any(_references(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(_references(v, logical_id) for v in value)
    return False


def _check_unsignalled_wait_conditions(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for wait_id, resource in view.resources.items():
        if resource.get("Type") != "AWS::CloudFormation::WaitCondition":
            continue
        props = resource.get("Properties") or {}
        handle_id = referenced_id(props.get("Handle"))
        targets = {wait_id} | ({handle_id} if handle_id else set())
        signalled = any(
            _references(other, target)
            for other_id, other in view.resources.items()
            if other_id not in targets
            for target in targets
        )
        if not signalled:
            findings.append(
                (
                    wait_id,
                    "nothing in the stack references this wait condition or its handle, so "
                    "nothing can signal it: the deploy waits for the timeout "
                    f"({props.get('Timeout', '?')} s) and then rolls back.",
                    "Properties/Handle",
                )
            )
    return findings


# -- model packages ---------------------------------------------------------------------------


def _training_images(containers: Any) -> list[str]:
    images = [render((c or {}).get("Image", "")) for c in as_list(containers)]
    return [image for image in images if TRAINING_IMAGE_REPOSITORY.search(image)]


def _check_model_package_images(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    message = (
        "registers a model package whose inference image {} is a training image "
        "(repository *-training, no model server): approving and deploying it fails."
    )
    for logical_id, props in view.of_type("AWS::SageMaker::ModelPackage"):
        spec = props.get("InferenceSpecification") or {}
        for image in _training_images(spec.get("Containers")):
            findings.append(
                (logical_id, message.format(repr(image)), "Properties/InferenceSpecification")
            )
    for machine_id, props in view.of_type("AWS::StepFunctions::StateMachine"):
        for integration, state in optimized_integrations(parsed_definition(props)):
            if not integration.lower().endswith("sagemaker:createmodelpackage"):
                continue
            spec = (state.get("Parameters") or {}).get("InferenceSpecification") or {}
            for image in _training_images(spec.get("Containers")):
                findings.append((machine_id, message.format(repr(image)), "Properties/Definition"))
    return findings


DEPLOY_RULES = [
    Rule(
        "LLM-DEP1",
        "Retained resources do not have fixed physical names.",
        Severity.ERROR,
        "DeletionPolicy Retain keeps the resource when the stack is deleted and also when its "
        "first create rolls back; RetainExceptOnCreate still keeps it on delete. A kept "
        "resource keeps its name, so redeploying the stack fails with 'already exists'. "
        "Source: AWS CloudFormation User Guide, 'DeletionPolicy attribute'.",
        "Leave the name out so CloudFormation generates one, or make it unique per stack "
        "instance (for example with part of AWS::StackId); use RemovalPolicy."
        "RETAIN_ON_UPDATE_OR_DELETE (RetainExceptOnCreate) for retained resources.",
        _check_retained_fixed_names,
    ),
    Rule(
        "LLM-DEP2",
        "The stack does not create the account's private workforce.",
        Severity.WARNING,
        "SageMaker allows one private workforce per account and Region: the stack deploys "
        "only where none exists yet. Source: Amazon SageMaker API Reference, "
        "'DescribeWorkforce' / 'CreateWorkforce', and SageMaker Developer Guide, 'Create a "
        "Private Workforce'.",
        "Use LabelingWorkforce with mode 'cognito' (reuses the account's workforce or "
        "creates it at deploy time) or 'import'; or acknowledge LLM-DEP2 with the reason "
        "this stack owns the account's workforce.",
        _check_workforce_in_stack,
    ),
    Rule(
        "LLM-DEP3",
        "State machine roles hold the documented permissions of every .sync integration.",
        Severity.ERROR,
        "A Run a Job (.sync) task calls the service's Create, Describe and Stop actions, "
        "passes the job's role and manages an EventBridge rule "
        "(StepFunctionsGetEventsFor...); SageMaker ones also call sagemaker:ListTags on '*'. "
        "Missing any fails the execution at run time. Source: AWS Step Functions Developer "
        "Guide, 'IAM policies for integrated services' (per-service policy pages).",
        "Add the missing actions to the state machine's role (Create/Describe/Stop on the "
        "job ARNs, iam:PassRole with iam:PassedToService, events:PutTargets/PutRule/"
        "DescribeRule on the managed rule, sagemaker:ListTags on '*').",
        _check_sync_permissions,
    ),
    Rule(
        "LLM-DEP4",
        "Every CloudFormation wait condition can be signalled by something in the stack.",
        Severity.WARNING,
        "A wait condition completes only when its handle URL receives a signal; if no "
        "resource gets the handle (user data, a custom resource, a script), the stack waits "
        "for the full timeout and rolls back, unless a person finds the handle URL and "
        "signals it by hand (which the template cannot show: hence a warning). Source: AWS "
        "CloudFormation User Guide, 'Create wait conditions in a CloudFormation template'.",
        "Pass the handle (Ref of the AWS::CloudFormation::WaitConditionHandle) to whatever "
        "signals completion, or remove the wait condition.",
        _check_unsignalled_wait_conditions,
    ),
    Rule(
        "LLM-DEP5",
        "Model packages are not registered with a training image as inference container.",
        Severity.ERROR,
        "A training Deep Learning Container has no model server; a model package that names "
        "one cannot be deployed to an endpoint. Source: Amazon SageMaker Developer Guide, "
        "'Register a Model Version' (InferenceSpecification) and 'Available Deep Learning "
        "Containers Images'.",
        "Give a serving image that can load the model (for an adapter: one that loads the "
        "base model plus the adapter), or register without an inference specification.",
        _check_model_package_images,
    ),
]
