"""cdk-nag's NIST 800-53 R5 and HIPAA Security packs, beside AwsSolutions and the library's own
rule pack, on every tier stack in every engine mode and every configuration the docs show.

The default tier stacks, LargePretrainStack per engine and the closed-network tiers are the
session's fixtures, built in apps checked by these same packs (``cdk_support.compliance_app``):
their synthesis is this test for them. Every documented configuration that differs from those
goes into ONE more app, so every pack walks the tree once. Acknowledgements are made in the
constructs (see ``constructs/_compliance.py``), each on the narrowest construct with the reason
the control does not apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cdk_nag import HIPAASecurityChecks, NIST80053R5Checks
from cdk_support import REPO_ROOT, cdk_context, compliance_app

from cdk_llm_training.config import AppConfig, LargeEngine, StackName
from cdk_llm_training.config.tiers import parse_app_config
from cdk_llm_training.stacks import LargePretrainStack, MediumFineTuneStack, SmallLoRAStack

_YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def documented_configs() -> Iterator[tuple[str, AppConfig]]:
    """Every YAML app configuration shown in docs/, named by page and position."""
    for page in sorted((REPO_ROOT / "docs").rglob("*.md")):
        for index, match in enumerate(_YAML_BLOCK.finditer(page.read_text())):
            data = yaml.safe_load(match.group(1))
            if isinstance(data, dict) and data and set(data) <= set(AppConfig.model_fields):
                yield f"{page.relative_to(REPO_ROOT)}#{index}", parse_app_config(data)


def _configs_under_test() -> list[tuple[str, AppConfig]]:
    """The documented configurations, each with only the stacks the session fixtures do not
    already build with the same tier configuration (a documented stack equal to a default
    tier stack is the default stack)."""
    defaults = AppConfig()
    configs: list[tuple[str, AppConfig]] = []
    for label, config in documented_configs():
        stacks = [
            name for name in config.stacks if _section(config, name) != _section(defaults, name)
        ]
        if stacks:
            configs.append((label, config.model_copy(update={"stacks": stacks})))
    return configs


def _section(config: AppConfig, name: StackName) -> object:
    if name is StackName.SMALL_LORA:
        return config.small_lora
    if name is StackName.MEDIUM_FINE_TUNE:
        return config.medium_fine_tune
    return config.large_pretrain


def _add_stacks(app: cdk.App, label: str, config: AppConfig) -> None:
    prefix = re.sub(r"[^A-Za-z0-9]", "", label.title())
    for name in config.stacks:
        stack_id = f"{prefix}{name.value}"
        if name is StackName.SMALL_LORA:
            SmallLoRAStack(app, stack_id, config=config.small_lora)
        elif name is StackName.MEDIUM_FINE_TUNE:
            MediumFineTuneStack(app, stack_id, config=config.medium_fine_tune)
        else:
            LargePretrainStack(app, stack_id, config=config.large_pretrain)


def test_the_docs_show_configurations() -> None:
    assert len(list(documented_configs())) >= 5


def test_every_stack_and_documented_config_passes_nist_and_hipaa(
    tier_templates: dict[StackName, Template],
    large_templates: dict[LargeEngine, Template],
    medium_closed: Template,
    large_closed: Template,
) -> None:
    """The fixtures above synthesized (and so passed every pack) in the session's compliance
    apps; the documented configurations follow in one more."""
    assert len(tier_templates) == len(StackName)
    assert set(large_templates) == set(LargeEngine)
    app = compliance_app()
    configs = _configs_under_test()
    for label, config in configs:
        _add_stacks(app, label, config)
    # Raises ValidationFailed, listing every unacknowledged finding, on any finding.
    app.synth()


@pytest.mark.parametrize(
    ("pack", "rule"),
    [
        (NIST80053R5Checks, "NIST.800.53.R5-S3BucketReplicationEnabled"),
        (HIPAASecurityChecks, "HIPAA.Security-S3BucketReplicationEnabled"),
    ],
)
def test_the_packs_are_live(pack: type, rule: str) -> None:
    """A plain bucket fails each pack: a clean result above is a real result."""
    app = cdk.App(context=cdk_context(), outdir=None)
    cdk.Validations.of(app).add_plugins(pack(app))
    s3.Bucket(cdk.Stack(app, "Plain"), "Bucket")
    with pytest.raises(Exception, match=re.escape(rule)):
        app.synth()
