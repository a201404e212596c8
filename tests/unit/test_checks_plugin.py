"""LlmTrainingChecks as a CDK validation plugin: findings fail synthesis, acknowledgements
(the same mechanism as cdk-nag) silence them, warnings report without failing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk.assertions import Template
from cdk_support import cdk_context
from constructs import Construct

from cdk_llm_training.checks import LlmTrainingChecks


def _app(**plugin_kwargs: object) -> cdk.App:
    app = cdk.App(context=cdk_context())
    cdk.Validations.of(app).add_plugins(LlmTrainingChecks(**plugin_kwargs))  # type: ignore[arg-type]
    return app


def _users_stack(scope: Construct) -> tuple[cdk.Stack, fsx.CfnFileSystem, ec2.CfnSecurityGroup]:
    """What a user might write by hand: FSx without KMS, an EFA group without egress."""
    stack = cdk.Stack(scope, "UserStack")
    group = ec2.CfnSecurityGroup(
        stack, "EfaGroup", group_description="EFA between trainers", vpc_id="vpc-0123456789abcdef0"
    )
    ec2.CfnSecurityGroupIngress(
        stack,
        "EfaIngress",
        group_id=group.attr_group_id,
        ip_protocol="-1",
        source_security_group_id=group.attr_group_id,
    )
    file_system = fsx.CfnFileSystem(
        stack,
        "Lustre",
        file_system_type="LUSTRE",
        file_system_type_version="2.15",
        storage_capacity=1200,
        subnet_ids=["subnet-0123456789abcdef0"],
        security_group_ids=[group.attr_group_id],
        lustre_configuration=fsx.CfnFileSystem.LustreConfigurationProperty(
            deployment_type="PERSISTENT_2",
            per_unit_storage_throughput=250,
            metadata_configuration=fsx.CfnFileSystem.MetadataConfigurationProperty(
                mode="AUTOMATIC"
            ),
        ),
    )
    return stack, file_system, group


def test_users_stack_gets_two_findings_with_rule_ids() -> None:
    app = _app()
    stack, _, _ = _users_stack(app)
    with pytest.raises(Exception) as error:  # noqa: PT011 - jsii raises a plain RuntimeError
        Template.from_stack(stack)
    message = str(error.value)
    assert "LLM-FSX1" in message
    assert "LLM-EFA1" in message
    assert "Lustre" in message
    assert "EfaGroup" in message


def test_acknowledged_findings_do_not_fail() -> None:
    app = _app()
    stack, file_system, group = _users_stack(app)
    cdk.Validations.of(file_system).acknowledge(
        cdk.Acknowledgment(id="LLM-FSX1", reason="Test data only, AWS-managed key is enough.")
    )
    cdk.Validations.of(group).acknowledge(
        cdk.Acknowledgment(id="LLM-EFA1", reason="Egress rule is added by another stack.")
    )
    Template.from_stack(stack)


def test_acknowledgement_is_narrow() -> None:
    app = _app()
    stack, file_system, _ = _users_stack(app)
    cdk.Validations.of(file_system).acknowledge(
        cdk.Acknowledgment(id="LLM-FSX1", reason="Test data only.")
    )
    with pytest.raises(Exception, match="LLM-EFA1"):
        Template.from_stack(stack)


def test_warnings_do_not_fail_unless_asked() -> None:
    app = _app()
    stack = cdk.Stack(app, "Labeling")
    sagemaker.CfnWorkforce(stack, "Workforce", workforce_name="w")
    Template.from_stack(stack)

    strict_app = _app(fail_on_warnings=True)
    strict_stack = cdk.Stack(strict_app, "Labeling")
    sagemaker.CfnWorkforce(strict_stack, "Workforce", workforce_name="w")
    with pytest.raises(Exception, match="LLM-GT1"):
        Template.from_stack(strict_stack)


def test_rule_selection() -> None:
    app = _app(rule_ids=["LLM-FSX1"])
    stack, _, _ = _users_stack(app)
    with pytest.raises(Exception) as error:  # noqa: PT011
        Template.from_stack(stack)
    assert "LLM-EFA1" not in str(error.value)
    with pytest.raises(ValueError, match=r"^unknown rule id\(s\) LLM-NOPE; known: LLM-FSX1, "):
        LlmTrainingChecks(rule_ids=["LLM-NOPE"])


def test_tier_stack_templates_have_no_findings(tier_stacks: dict[object, cdk.Stack]) -> None:
    """Every tier stack passes the whole pack, warnings included, once acknowledgements on
    their constructs are applied (the session app synthesized them with the plugin)."""
    from cdk_llm_training.checks import check_template
    from cdk_llm_training.checks.plugin import _acknowledged_rules

    for stack in tier_stacks.values():
        template = Template.from_stack(stack).to_json()
        acks = _acknowledged_rules(stack)
        unacknowledged = [
            f
            for f in check_template(template)
            if f.rule_id not in acks.get((stack.template_file, f.logical_id), set())
        ]
        assert unacknowledged == [], stack.stack_name


def test_acknowledgements_read_from_the_assembly_match_the_construct_tree(
    tier_templates: dict[object, Template], tier_stacks: dict[object, cdk.Stack]
) -> None:
    """The plugin reads acknowledgements from the synthesized metadata files (fast); walking
    the construct tree over jsii (slow, the fallback) must give the same answer."""
    from cdk_llm_training.checks.acknowledgements import acknowledged_rules_from_assembly
    from cdk_llm_training.checks.plugin import _acknowledged_rules

    app = cdk.App.of(next(iter(tier_stacks.values())))
    assert app is not None
    directory = app.synth().directory  # cached: the session synth, nothing rebuilt
    paths = [os.path.join(directory, stack.template_file) for stack in tier_stacks.values()]
    from_assembly = acknowledged_rules_from_assembly(app, paths)
    from_tree = _acknowledged_rules(app)
    assert from_assembly is not None
    assert from_assembly == from_tree
    assert len(from_assembly) > 50  # the tier stacks acknowledge many findings


def test_an_acknowledgement_on_the_app_or_a_stage_reaches_its_stacks() -> None:
    """Scopes above the stacks write no stack metadata: they are still honoured."""
    app = _app()
    stage = cdk.Stage(app, "Prod")
    _users_stack(stage)
    cdk.Validations.of(app).acknowledge(cdk.Acknowledgment(id="LLM-FSX1", reason="Test data."))
    cdk.Validations.of(stage).acknowledge(cdk.Acknowledgment(id="LLM-EFA1", reason="Elsewhere."))
    # The app, not the stack: validation plugins run only when the app itself synthesizes.
    app.synth()


def test_an_assembly_without_a_manifest_is_not_guessed(tmp_path: Path) -> None:
    """No manifest next to the template: the fast route declines and the plugin walks the
    construct tree instead."""
    from cdk_llm_training.checks.acknowledgements import acknowledged_rules_from_assembly

    template = tmp_path / "Lonely.template.json"
    template.write_text(json.dumps({"Resources": {}}))
    assert acknowledged_rules_from_assembly(cdk.App(), [str(template)]) is None
