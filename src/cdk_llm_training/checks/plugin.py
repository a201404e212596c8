"""LlmTrainingChecks as an AWS CDK policy-validation plugin (the way cdk-nag 3 packs run)."""

from __future__ import annotations

import os
from collections.abc import Iterable

import jsii
from aws_cdk import (
    CfnResource,
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Stack,
)
from constructs import IConstruct

from cdk_llm_training._version import __version__
from cdk_llm_training.checks.acknowledgements import (
    Acknowledgements,
    acknowledged_rules_from_assembly,
    rule_ids_of,
)
from cdk_llm_training.checks.engine import check_template_file, select_rules
from cdk_llm_training.checks.model import Finding, Severity


@jsii.implements(IPolicyValidationPlugin)
class LlmTrainingChecks:
    """The library's rule pack for LLM training infrastructure (FSx for Lustre, EFA, HyperPod,
    ParallelCluster, Bedrock customization, Ground Truth).

    Usage::

        Validations.of(app).add_plugins(LlmTrainingChecks())

    Error findings fail synthesis; warnings are reported without failing (unless
    ``fail_on_warnings``). Acknowledge a finding on the narrowest construct, with a reason::

        Validations.of(workforce).acknowledge(
            Acknowledgment(id="LLM-GT1", reason="Contractors label from home networks.")
        )

    :param rule_ids: run only these rules. Default: every rule.
    :param fail_on_warnings: make warnings fail synthesis too. Default: False.
    """

    def __init__(
        self, *, rule_ids: Iterable[str] | None = None, fail_on_warnings: bool = False
    ) -> None:
        self._rules = select_rules(rule_ids)
        self._fail_on_warnings = fail_on_warnings

    @property
    def name(self) -> str:
        return "LlmTrainingChecks"

    @property
    def version(self) -> str:
        return __version__

    @property
    def rule_ids(self) -> list[str]:
        return [rule.rule_id for rule in self._rules]

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        acknowledged = acknowledged_rules_from_assembly(
            context.app_construct, context.template_paths
        )
        if acknowledged is None:
            acknowledged = _acknowledged_rules(context.app_construct)
        violations: dict[str, list[tuple[Finding, str]]] = {}
        for path in context.template_paths:
            for finding in check_template_file(path, self._rules):
                acks = acknowledged.get((os.path.basename(path), finding.logical_id), set())
                if finding.rule_id not in acks:
                    violations.setdefault(finding.rule_id, []).append((finding, path))
        failing = {Severity.ERROR} | ({Severity.WARNING} if self._fail_on_warnings else set())
        rules = {rule.rule_id: rule for rule in self._rules}
        return PolicyValidationPluginReport(
            success=not any(
                f.severity in failing for items in violations.values() for f, _ in items
            ),
            plugin_version=__version__,
            violations=[
                PolicyViolation(
                    rule_name=rule_id,
                    description=f"{rules[rule_id].description} "
                    + " | ".join(f"{f.logical_id}: {f.message}" for f, _ in items),
                    fix=rules[rule_id].fix,
                    severity=rules[rule_id].severity.value,
                    violating_resources=[
                        PolicyViolatingResource(
                            resource_logical_id=f.logical_id,
                            template_path=path,
                            locations=[f.location],
                        )
                        for f, path in items
                    ],
                )
                for rule_id, items in violations.items()
            ],
        )


def _acknowledged_rules(root: IConstruct) -> Acknowledgements:
    """(template file name, logical ID) -> rule ids acknowledged on the resource or any of its
    scopes, read over jsii from the metadata that ``Validations.acknowledge`` records (one
    round trip per construct and scope: the slow route, for assemblies that
    :func:`acknowledged_rules_from_assembly` cannot read)."""
    result: Acknowledgements = {}
    for construct in root.node.find_all():
        if not CfnResource.is_cfn_resource(construct):
            continue
        rule_ids: set[str] = set()
        for scope in construct.node.scopes:
            rule_ids.update(rule_ids_of(scope.node.metadata))
        if rule_ids:
            stack = Stack.of(construct)
            logical_id = stack.resolve(construct.logical_id)  # type: ignore[attr-defined]
            result[(stack.template_file, str(logical_id))] = rule_ids
    return result
