"""Test helpers shared by every suite: apps built like `cdk synth`, nag, cfn-lint, snapshots."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks

from cdk_llm_training.checks import LlmTrainingChecks
from cdk_llm_training.config import AppConfig, StackName

REPO_ROOT = Path(__file__).resolve().parents[1]
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


@cache
def cdk_context() -> dict[str, Any]:
    """The feature flags of cdk.json (`python app.py` alone would ignore them), and no
    construct stack traces in the metadata, as `cdk synth` runs the app unless ``--debug``
    (templates are the same either way; capturing a trace per construct costs time)."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    context["aws:cdk:disable-stack-trace"] = True
    return context


def new_app(*, nag: bool = True) -> cdk.App:
    """An App with cdk.json's context and, by default, cdk-nag AwsSolutions and the library's
    own LlmTrainingChecks as validation plugins: any unacknowledged error finding fails
    synthesis (and so `Template.from_stack`)."""
    app = cdk.App(context=cdk_context())
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), LlmTrainingChecks())
    return app


def compliance_app() -> cdk.App:
    """An app checked by every pack ``make test`` enforces: cdk-nag AwsSolutions, NIST 800-53
    R5 and HIPAA Security, and LlmTrainingChecks with warnings failing too (a shipped or
    documented configuration must not carry a rule-pack warning either). The session's tier
    stacks are built in such apps, so one synthesis serves the snapshot, assertion, nag and
    compliance tests."""
    app = cdk.App(context=cdk_context())
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app),
        NIST80053R5Checks(app),
        HIPAASecurityChecks(app),
        LlmTrainingChecks(fail_on_warnings=True),
    )
    return app


def new_stack(*, nag: bool = True, stack_id: str = "TestStack") -> cdk.Stack:
    """A fresh, env-agnostic stack in its own nag-checked app."""
    return cdk.Stack(new_app(nag=nag), stack_id)


NEURON_AMI = {"custom_ami_id": "ami-0123456789abcdef0", "install_neuron": False}
"""A prebuilt Neuron AMI: what a closed-network Trainium tier needs."""

CLOSED_CHART = {
    "dependency_chart": {
        "chart_s3_uri": "s3://my-artifacts/charts/hyperpod-dependencies.tgz",
        "kubectl_layer_arn": "arn:aws:lambda:us-east-1:111122223333:layer:kubectl-v34:1",
    }
}
"""Closed mode installs the HyperPod dependency chart from S3 with helm from a layer."""

MEDIUM_CLOSED = {"network": {"closed_network": True}, "hyperpod": CLOSED_CHART}
"""The closed-network medium tier the session builds (``medium_closed`` fixture)."""

LARGE_CLOSED = {
    "engine": "both",
    "network": {"closed_network": True},
    "trainium": NEURON_AMI,
    "hyperpod": CLOSED_CHART,
}
"""The closed-network large tier (both engines) the session builds (``large_closed``)."""


_YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def documented_configs() -> Iterator[tuple[str, AppConfig]]:
    """Every YAML app configuration shown in docs/, named by page and position."""
    import yaml

    from cdk_llm_training.config.tiers import parse_app_config

    for page in sorted((REPO_ROOT / "docs").rglob("*.md")):
        for index, match in enumerate(_YAML_BLOCK.finditer(page.read_text())):
            data = yaml.safe_load(match.group(1))
            if isinstance(data, dict) and data and set(data) <= set(AppConfig.model_fields):
                yield f"{page.relative_to(REPO_ROOT)}#{index}", parse_app_config(data)


def tier_section(config: AppConfig, name: StackName) -> Any:
    """The part of ``config`` that stack ``name`` is built from."""
    if name is StackName.SMALL_LORA:
        return config.small_lora
    if name is StackName.MEDIUM_FINE_TUNE:
        return config.medium_fine_tune
    return config.large_pretrain


def stack_key(config: AppConfig, name: StackName) -> tuple[StackName, str]:
    """What makes a tier stack distinct: its name and its tier configuration (a tier stack is
    built from its section of the app config alone)."""
    return name, tier_section(config, name).model_dump_json()


def template_of(stack: cdk.Stack) -> Template:
    """Synthesize ``stack`` (running the app's validation plugins) and return its template."""
    return Template.from_stack(stack)


def normalized(template: Mapping[str, Any]) -> dict[str, Any]:
    """A template without what changes between CDK versions or asset builds."""
    data: dict[str, Any] = json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))
    data.get("Parameters", {}).pop("BootstrapVersion", None)
    data.get("Rules", {}).pop("CheckBootstrapVersion", None)
    data.get("Resources", {}).pop("CDKMetadata", None)
    data.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    for section in ("Parameters", "Rules", "Conditions"):
        if section in data and not data[section]:
            del data[section]
    return data


def cfn_lint_findings(template: Mapping[str, Any]) -> list[str]:
    """cfn-lint errors and warnings for ``template`` (W3005, redundant DependsOn, ignored).

    Several modules lint the same session template: each distinct template is linted once."""
    return list(_cfn_lint_findings(json.dumps(template)))


@cache
def _cfn_lint_findings(template_json: str) -> tuple[str, ...]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(
        template_json,
        config=ManualArgs(regions=["us-east-1"], ignore_checks=["W3005"]),
    )
    return tuple(f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches)


def resources_of_type(template: Template, type_name: str) -> dict[str, Any]:
    """The resources of one CloudFormation type, by logical ID."""
    return dict(template.find_resources(type_name))


def flow_log_options(scope: cdk.Stack) -> dict[str, Any]:
    """``flow_logs=`` for a test VPC: all traffic to a new log group, through a role that VPC
    Flow Logs may assume for this account's flow logs only (CDK's default role has no source
    condition, which LLM-SRC1 reports)."""
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_iam as iam

    role = iam.Role(
        scope,
        "FlowLogRole",
        assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com").with_conditions(
            {
                "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{cdk.Aws.PARTITION}:ec2:{cdk.Aws.REGION}:"
                    f"{cdk.Aws.ACCOUNT_ID}:vpc-flow-log/*"
                },
            }
        ),
    )
    destination = ec2.FlowLogDestination.to_cloud_watch_logs(iam_role=role)
    return {"all": ec2.FlowLogOptions(destination=destination)}
