"""cdk-nag's NIST 800-53 R5 and HIPAA Security packs, beside AwsSolutions and the library's own
rule pack, on every tier stack in every engine mode and every configuration the docs show.

The default tier stacks, LargePretrainStack per engine and the closed-network tiers are the
session's fixtures, built in apps checked by these same packs (``cdk_support.compliance_app``):
their synthesis is this test. Every documented configuration that differs from the defaults
goes into ONE more app (the ``documented_stacks`` fixture, which the validate == synth test
shares), so every pack walks the tree once. Acknowledgements are made in the constructs (see
``constructs/_compliance.py``), each on the narrowest construct with the reason the control
does not apply.
"""

from __future__ import annotations

import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cdk_nag import HIPAASecurityChecks, NIST80053R5Checks
from cdk_support import cdk_context, documented_configs

from cdk_llm_training.config import LargeEngine, StackName


def test_the_docs_show_configurations() -> None:
    assert len(list(documented_configs())) >= 5


def test_every_stack_and_documented_config_passes_nist_and_hipaa(
    tier_templates: dict[StackName, Template],
    large_templates: dict[LargeEngine, Template],
    medium_closed: Template,
    large_closed: Template,
    documented_stacks: dict[tuple[StackName, str], cdk.Stack],
) -> None:
    """Each fixture above synthesized (and so passed every pack) in a session compliance app:
    a finding anywhere fails the fixture, listing every unacknowledged finding."""
    assert len(tier_templates) == len(StackName)
    assert set(large_templates) == set(LargeEngine)
    assert documented_stacks


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
