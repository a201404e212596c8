"""Which rules are acknowledged on which resource, read from the synthesized cloud assembly.

``Validations.acknowledge`` records an ``aws:cdk:acknowledged-rules`` metadata entry on the
construct, and synthesis writes every construct's metadata of a stack (with each
``CfnElement``'s resolved ``aws:cdk:logicalId``) next to its template before validation
plugins run. Reading those files costs milliseconds; asking the construct tree over jsii for
the same facts costs one round trip per construct and scope (about two seconds for the ready
app). Only the few constructs above the stacks (the app, stages) are still read over jsii:
their metadata belongs to no stack.

:func:`acknowledged_rules_from_assembly` returns None when the assembly is not laid out as
expected (for instance nested stacks, whose resources share a stack's metadata file); the
plugin then falls back to walking the construct tree.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aws_cdk import Stack, Validations
from constructs import IConstruct

Acknowledgements = dict[tuple[str, str], set[str]]
"""(template file name, logical ID) -> acknowledged rule ids."""

_ACKNOWLEDGED = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
_LOGICAL_ID = "aws:cdk:logicalId"
_TEMPLATE_FILE = "aws:cdk:templateFile"
_STACK_ARTIFACT = "aws:cloudformation:stack"


def rule_ids_of(entries: Iterable[Any]) -> set[str]:
    """Rule ids acknowledged by metadata ``entries`` (jsii ``MetadataEntry`` objects or the
    dicts of a metadata file). Keys look like "Annotation::LLM-GT1" or
    "LlmTrainingChecks::LLM-GT1"; the id is the part after the last "::"."""
    rule_ids: set[str] = set()
    for entry in entries:
        kind, data = (
            (entry.get("type"), entry.get("data"))
            if isinstance(entry, Mapping)
            else (entry.type, entry.data)
        )
        if kind == _ACKNOWLEDGED and isinstance(data, dict):
            rule_ids.update(str(key).rsplit("::", 1)[-1] for key in data)
    return rule_ids


def acknowledged_rules_from_assembly(
    root: IConstruct, template_paths: Sequence[str]
) -> Acknowledgements | None:
    """The acknowledgements for the resources of ``template_paths`` (templates in a cloud
    assembly synthesized from ``root``), or None when the assembly cannot answer exactly."""
    scope_rules = _rules_above_stacks(root)
    resources: list[tuple[str, str, str]] = []  # (template file, logical ID, construct path)
    for template_path in template_paths:
        metadata = _stack_metadata(template_path)
        if metadata is None:
            return None
        template_file = os.path.basename(template_path)
        owners = [path for path, entries in metadata.items() if _has_type(entries, _TEMPLATE_FILE)]
        if len(owners) != 1:
            return None  # nested stacks: several templates' resources in one metadata file
        with open(template_path, encoding="utf-8") as stream:
            resource_ids = set(json.load(stream).get("Resources", {}))
        seen: set[str] = set()
        for path, entries in metadata.items():
            construct_path = path.lstrip("/")
            rule_ids = rule_ids_of(entries)
            if rule_ids:
                scope_rules.setdefault(construct_path, set()).update(rule_ids)
            for entry in entries:
                if entry.get("type") == _LOGICAL_ID and entry.get("data") in resource_ids:
                    logical_id = str(entry["data"])
                    if logical_id in seen:
                        return None  # two constructs claim one resource: let the tree decide
                    seen.add(logical_id)
                    resources.append((template_file, logical_id, construct_path))
    result: Acknowledgements = {}
    for template_file, logical_id, construct_path in resources:
        rule_ids = set().union(
            *(scope_rules.get(scope, set()) for scope in _scopes_of(construct_path))
        )
        if rule_ids:
            result[(template_file, logical_id)] = rule_ids
    return result


def _scopes_of(construct_path: str) -> list[str]:
    """The paths of a construct and every scope above it, the root ("") included."""
    parts = construct_path.split("/")
    return ["", *("/".join(parts[: index + 1]) for index in range(len(parts)))]


def _rules_above_stacks(root: IConstruct) -> dict[str, set[str]]:
    """Rule ids acknowledged on the constructs that hold stacks (the app, stages) and on any
    other construct outside a stack, by construct path: the only jsii reads left."""
    result: dict[str, set[str]] = {}
    pending = [root]
    while pending:
        construct = pending.pop()
        if Stack.is_stack(construct):
            continue
        rule_ids = rule_ids_of(construct.node.metadata)
        if rule_ids:
            result[construct.node.path] = rule_ids
        pending.extend(construct.node.children)
    return result


def _stack_metadata(template_path: str) -> dict[str, list[dict[str, Any]]] | None:
    """The construct metadata of the stack whose template is ``template_path``, by construct
    path, from the manifest next to it (inline or in its additional metadata file)."""
    directory, template_file = os.path.split(template_path)
    try:
        with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as stream:
            manifest = json.load(stream)
    except (OSError, ValueError):
        return None
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") != _STACK_ARTIFACT:
            continue
        if artifact.get("properties", {}).get("templateFile") != template_file:
            continue
        metadata: dict[str, list[dict[str, Any]]] = {}
        for path, entries in artifact.get("metadata", {}).items():
            metadata.setdefault(path, []).extend(entries)
        extra = artifact.get("additionalMetadataFile")
        if extra:
            try:
                with open(os.path.join(directory, extra), encoding="utf-8") as stream:
                    extra_metadata = json.load(stream)
            except (OSError, ValueError):
                return None
            for path, entries in extra_metadata.items():
                metadata.setdefault(path, []).extend(entries)
        return metadata
    return None


def _has_type(entries: Iterable[Mapping[str, Any]], kind: str) -> bool:
    return any(entry.get("type") == kind for entry in entries)
