"""Trust and grant rules for the roles a state machine hands to a service or acts with: the
SageMaker processing-job role (the adapter merge), the Bedrock model-import role, and the
workflow role that records a model in a model package group.

Each rule starts from the state that uses the role (a Task state's ``Parameters``), so it
checks the role that is really passed, not every role that happens to trust a service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id
from cdk_llm_training.checks.render import UNKNOWN, render
from cdk_llm_training.checks.state_machines import (
    integration_tasks,
    placeholder_id,
    role_allow_statements,
)

_PROCESSING_JOB = ("sagemaker:createProcessingJob", "aws-sdk:sagemaker:createProcessingJob")
_IMPORT_JOB = ("bedrock:createModelImportJob", "aws-sdk:bedrock:createModelImportJob")
_CREATE_MODEL_PACKAGE = ("sagemaker:createModelPackage", "aws-sdk:sagemaker:createModelPackage")
_ROLE_TYPE = "AWS::IAM::Role"
_GROUP_TYPE = "AWS::SageMaker::ModelPackageGroup"
_PSEUDO = re.compile(r"\$\{AWS::(\w+)\}")
_PSEUDO_BACK = re.compile(r"\$\{AWS_(\w+)\}")


def _passed_role(view: TemplateView, parameters: Mapping[str, Any], *keys: str) -> str | None:
    """The logical ID of the role of this template named by the first of ``keys``."""
    for key in keys:
        if key in parameters:
            role_id = placeholder_id(render(parameters[key]))
            return role_id if view.type_of(role_id) == _ROLE_TYPE else None
    return None


def _trust_problems(view: TemplateView, role_id: str, service: str, arn_part: str) -> list[str]:
    """What the trust of ``role_id`` lacks for ``service`` acting for ``arn_part`` only."""
    document = view.properties(role_id).get("AssumeRolePolicyDocument") or {}
    statements = [
        s
        for s in as_list(document.get("Statement"))
        if isinstance(s, Mapping)
        and s.get("Effect") == "Allow"
        and isinstance(s.get("Principal"), Mapping)
        and service in [render(p) for p in as_list(s["Principal"].get("Service"))]
    ]
    if not statements:
        return [f"does not trust {service}"]
    problems = []
    for statement in statements:
        conditions: dict[str, list[str]] = {}
        for block in (statement.get("Condition") or {}).values():
            if isinstance(block, Mapping):
                for key, value in block.items():
                    conditions.setdefault(str(key).lower(), []).extend(
                        render(v) for v in as_list(value)
                    )
        if "aws:sourceaccount" not in conditions:
            problems.append(f"trusts {service} without an aws:SourceAccount condition")
        source_arns = conditions.get("aws:sourcearn", [])
        if not source_arns:
            problems.append(f"trusts {service} without an aws:SourceArn condition")
        elif not all(arn_part in arn for arn in source_arns):
            problems.append(
                f"trusts {service} with aws:SourceArn {', '.join(source_arns)}, not limited to "
                f"{arn_part}* resources"
            )
    return problems


def _check_trust(
    view: TemplateView,
    integrations: tuple[str, ...],
    keys: tuple[str, ...],
    service: str,
    arn_part: str,
) -> list[tuple[str, str, str]]:
    findings = []
    seen: set[str] = set()
    for _, _, _, parameters in integration_tasks(view, integrations):
        role_id = _passed_role(view, parameters, *keys)
        if role_id is None or role_id in seen:
            continue  # a role from outside the template, or already reported
        seen.add(role_id)
        findings += [
            (
                role_id,
                f"role passed to {integrations[0]} {problem} (confused deputy).",
                "Properties/AssumeRolePolicyDocument",
            )
            for problem in _trust_problems(view, role_id, service, arn_part)
        ]
    return findings


def _check_processing_role_trust(view: TemplateView) -> list[tuple[str, str, str]]:
    return _check_trust(
        view, _PROCESSING_JOB, ("RoleArn",), "sagemaker.amazonaws.com", ":processing-job/"
    )


def _check_import_role_trust(view: TemplateView) -> list[tuple[str, str, str]]:
    return _check_trust(
        view, _IMPORT_JOB, ("roleArn", "RoleArn"), "bedrock.amazonaws.com", ":model-import-job/"
    )


# -- createModelPackage grants --------------------------------------------------------------


def _group_name(view: TemplateView, parameters: Mapping[str, Any]) -> str | None:
    """The model package group a state records in, as rendered text (a name the template
    builds from references keeps their placeholders), or None when it is chosen at run time
    (``ModelPackageGroupName.$``) or has no text."""
    if "ModelPackageGroupName" not in parameters:
        return None
    text = render(parameters["ModelPackageGroupName"])
    group_id = placeholder_id(text)
    if group_id is not None and view.type_of(group_id) == _GROUP_TYPE:
        text = render(view.properties(group_id).get("ModelPackageGroupName"))
    return None if text in (UNKNOWN, "") else text


def _resource_path(view: TemplateView, text: str) -> str | None:
    """``model-package-group/x`` of a SageMaker ARN (placeholders kept; a group of this
    template referenced by its ARN attribute becomes its name), ``*`` for ``*``."""
    if text == "*":
        return "*"
    group_id = placeholder_id(text)
    if group_id is not None and view.type_of(group_id) == _GROUP_TYPE:
        return (
            f"model-package-group/{render(view.properties(group_id).get('ModelPackageGroupName'))}"
        )
    # Pseudo parameters (${AWS::Region}) hold colons: hide them before splitting the ARN.
    parts = _PSEUDO.sub(r"${AWS_\1}", text).split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] in ("sagemaker", "*"):
        return _PSEUDO_BACK.sub(r"${AWS::\1}", parts[5])
    return None


def _grants_create_on(view: TemplateView, statements: list[Mapping[str, Any]], group: str) -> bool:
    target = f"model-package-group/{group}"
    for statement in statements:
        actions = [str(a).lower() for a in as_list(statement.get("Action"))]
        if not any(fnmatchcase("sagemaker:createmodelpackage", a) for a in actions):
            continue
        for resource in as_list(statement.get("Resource")):
            path = _resource_path(view, render(resource))
            if path is not None and fnmatchcase(target, path):
                return True
    return False


def _check_create_model_package_grant(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for machine_id, location, props, parameters in integration_tasks(view, _CREATE_MODEL_PACKAGE):
        role_id = referenced_id(props.get("RoleArn"))
        group = _group_name(view, parameters)
        if role_id is None or view.type_of(role_id) != _ROLE_TYPE or group is None:
            continue  # an imported role, or a group chosen at run time: not checkable here
        if not _grants_create_on(view, role_allow_statements(view, role_id), group):
            findings.append(
                (
                    machine_id,
                    f"a state records a model in model package group {group!r}, but role "
                    f"{role_id} does not allow sagemaker:CreateModelPackage on "
                    f"model-package-group/{group}.",
                    location,
                )
            )
    return findings


TRUST_GRANT_RULES = [
    Rule(
        "LLM-TG1",
        "A role a state machine passes to a SageMaker processing job (such as the adapter "
        "merge of BedrockModelImport) trusts sagemaker.amazonaws.com only with aws:SourceAccount "
        "and an aws:SourceArn on processing-job/ resources (SageMaker AI developer guide, "
        "Cross-service confused deputy prevention).",
        Severity.ERROR,
        "Without the conditions, a processing job of another account that can name the role "
        "could act with its permissions on your data and models (confused deputy).",
        "Add StringEquals aws:SourceAccount = your account and ArnLike aws:SourceArn = "
        "arn:<partition>:sagemaker:<region>:<account>:processing-job/<prefix>* to the trust.",
        _check_processing_role_trust,
    ),
    Rule(
        "LLM-TG2",
        "The role a state machine passes to bedrock:createModelImportJob trusts "
        "bedrock.amazonaws.com only with aws:SourceAccount and an aws:SourceArn on "
        "model-import-job/ resources (Amazon Bedrock user guide, Create a service role for "
        "model import, Trust relationship).",
        Severity.ERROR,
        "The import role reads the model weights; without the conditions any Bedrock import "
        "job that can name the role could read them (confused deputy).",
        "Add StringEquals aws:SourceAccount = your account and ArnEquals/ArnLike aws:SourceArn "
        "= arn:<partition>:bedrock:<region>:<account>:model-import-job/* to the trust.",
        _check_import_role_trust,
    ),
    Rule(
        "LLM-TG3",
        "A state that calls sagemaker:createModelPackage into a model package group the "
        "template names has sagemaker:CreateModelPackage on that group in the state "
        "machine's role (Service Authorization Reference, Amazon SageMaker AI, "
        "CreateModelPackage; SageMaker AI developer guide, Register a model version).",
        Severity.ERROR,
        "Without it the registry record fails with AccessDenied at the end of a run, after "
        "the paid job: the model exists but is never recorded for approval.",
        "Grant sagemaker:CreateModelPackage on arn:<partition>:sagemaker:<region>:<account>:"
        "model-package-group/<group> (and its versions model-package/<group>/*) to the state "
        "machine's role.",
        _check_create_model_package_grant,
    ),
]
