"""Grant rules for a state that lists objects itself (``aws-sdk:s3:listObjectsV2``), such as
ClusterTrainingRun's ``LocateModel`` looking for a run's model folder before it evaluates and
registers it.

The rule starts from the state (its ``Bucket`` and the fixed head of its ``Prefix``) and
reads the state machine's role, so it checks the listing that really happens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id
from cdk_llm_training.checks.render import render
from cdk_llm_training.checks.state_machines import (
    integration_tasks,
    placeholder_id,
    role_allow_statements,
)

_LIST_OBJECTS = ("aws-sdk:s3:listObjectsV2",)
_BUCKET_TYPE = "AWS::S3::Bucket"
_FORMAT_HEAD = re.compile(r"States\.Format\('([^'{]*)")


def listed_prefix(parameters: Mapping[str, Any]) -> str:
    """The fixed head of the prefix a state lists: ``Prefix`` as written, or the text of a
    ``States.Format`` ``Prefix.$`` up to its first placeholder; ``""`` (the whole bucket)
    when there is none or it is chosen from the state input."""
    if "Prefix" in parameters:
        return render(parameters["Prefix"])
    match = _FORMAT_HEAD.match(str(parameters.get("Prefix.$", "")))
    return match.group(1) if match else ""


def _prefix_patterns(statement: Mapping[str, Any]) -> list[str] | None:
    """The ``s3:prefix`` values of a statement's conditions, or None without one."""
    patterns: list[str] | None = None
    for block in (statement.get("Condition") or {}).values():
        if not isinstance(block, Mapping):
            continue
        for key, value in block.items():
            if str(key).lower() == "s3:prefix":
                patterns = (patterns or []) + [render(v) for v in as_list(value)]
    return patterns


def grants_listing(statements: list[Mapping[str, Any]], bucket_id: str, head: str) -> bool:
    """Whether an Allow statement lets the role list ``bucket_id`` under ``head``: the
    ``s3:ListBucket`` action on the bucket's ARN (or ``*``) and, when it has an ``s3:prefix``
    condition, a value covering every prefix that starts with ``head``."""
    arn = f"${{{bucket_id}.Arn}}"
    for statement in statements:
        actions = [str(a).lower() for a in as_list(statement.get("Action"))]
        if not any(fnmatchcase("s3:listbucket", a) for a in actions):
            continue
        if not any(render(r) in ("*", arn) for r in as_list(statement.get("Resource"))):
            continue
        patterns = _prefix_patterns(statement)
        # ``head*`` as literal text matches a pattern only if the pattern covers all of it.
        if patterns is None or any(fnmatchcase(f"{head}*", p) for p in patterns):
            return True
    return False


def _check_list_grant(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for machine_id, location, props, parameters in integration_tasks(view, _LIST_OBJECTS):
        role_id = referenced_id(props.get("RoleArn"))
        bucket_id = placeholder_id(render(parameters.get("Bucket")))
        if (
            role_id is None
            or bucket_id is None
            or view.type_of(role_id) != "AWS::IAM::Role"
            or view.type_of(bucket_id) != _BUCKET_TYPE
        ):
            continue  # an imported role or bucket: not checkable here
        head = listed_prefix(parameters)
        if not grants_listing(role_allow_statements(view, role_id), bucket_id, head):
            findings.append(
                (
                    machine_id,
                    f"a state lists bucket {bucket_id} under {head or '(the whole bucket)'!r}, "
                    f"but role {role_id} has no s3:ListBucket on it covering that prefix.",
                    location,
                )
            )
    return findings


MODEL_LISTING_RULES = [
    Rule(
        "LLM-LIST1",
        "A state that calls aws-sdk:s3:listObjectsV2 on a bucket of the template has "
        "s3:ListBucket on that bucket in the state machine's role, with any s3:prefix "
        "condition covering the prefix it lists (Amazon S3 API Reference, ListObjectsV2, "
        "Permissions; Amazon S3 user guide, condition keys for Amazon S3: s3:prefix).",
        Severity.ERROR,
        "Without it the listing fails with AccessDenied after the paid run, so the run's model "
        "is neither evaluated nor registered (ClusterTrainingRun's LocateModel).",
        "Grant s3:ListBucket on the bucket ARN to the state machine's role, limited with "
        "StringLike s3:prefix = <listed prefix>*.",
        _check_list_grant,
    ),
]
