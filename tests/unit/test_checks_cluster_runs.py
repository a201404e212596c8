"""LLM-RUN1 (namespace access scope without namespaces) and LLM-RUN2 (execution-status rule
whose Lambda target EventBridge may not invoke): a compliant and a non-compliant raw
CloudFormation fixture each, and the ready tiers' run workflow passes both."""

from __future__ import annotations

import copy
import json
from typing import Any

from aws_cdk.assertions import Template

from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.config import StackName


def _findings(rule_id: str, resources: dict[str, Any]) -> list[tuple[str, str]]:
    template = {"Resources": resources}
    return [(f.logical_id, f.location) for f in check_template(template, [RULES_BY_ID[rule_id]])]


def _entry(scope: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::EKS::AccessEntry",
        "Properties": {
            "ClusterName": {"Ref": "Eks"},
            "PrincipalArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "AccessPolicies": [
                {
                    "PolicyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
                    "AccessScope": scope,
                }
            ],
        },
    }


def test_run1_namespace_scope_needs_namespaces() -> None:
    assert _findings("LLM-RUN1", {"Entry": _entry({"Type": "namespace"})}) == [
        ("Entry", "Properties/AccessPolicies/0/AccessScope")
    ]
    assert _findings("LLM-RUN1", {"Entry": _entry({"Type": "namespace", "Namespaces": []})})
    assert not _findings(
        "LLM-RUN1", {"Entry": _entry({"Type": "namespace", "Namespaces": ["default"]})}
    )
    assert not _findings("LLM-RUN1", {"Entry": _entry({"Type": "cluster"})})


RULE: dict[str, Any] = {
    "Type": "AWS::Events::Rule",
    "Properties": {
        "EventPattern": {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"status": ["ABORTED"]},
        },
        "Targets": [{"Arn": {"Fn::GetAtt": ["Controller", "Arn"]}, "Id": "Target0"}],
    },
}
FUNCTION: dict[str, Any] = {"Type": "AWS::Lambda::Function", "Properties": {}}
PERMISSION: dict[str, Any] = {
    "Type": "AWS::Lambda::Permission",
    "Properties": {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": ["Controller", "Arn"]},
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": ["Cancel", "Arn"]},
    },
}


def test_run2_cancel_target_needs_a_lambda_permission() -> None:
    base = {"Cancel": RULE, "Controller": FUNCTION}
    assert _findings("LLM-RUN2", base) == [("Cancel", "Properties/Targets/0")]
    assert not _findings("LLM-RUN2", {**base, "Allow": PERMISSION})
    other_rule = copy.deepcopy(PERMISSION)
    other_rule["Properties"]["SourceArn"] = {"Fn::GetAtt": ["Other", "Arn"]}
    assert _findings("LLM-RUN2", {**base, "Allow": other_rule})
    unrelated = copy.deepcopy(RULE)
    unrelated["Properties"]["EventPattern"]["detail-type"] = ["Object Created"]
    assert not _findings("LLM-RUN2", {"Cancel": unrelated, "Controller": FUNCTION})


def test_ready_medium_tier_passes_both(tier_templates: dict[StackName, Template]) -> None:
    template = tier_templates[StackName.MEDIUM_FINE_TUNE].to_json()
    rules = [RULES_BY_ID["LLM-RUN1"], RULES_BY_ID["LLM-RUN2"]]
    assert check_template(template, rules) == []
    status_rules = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        and "Step Functions Execution Status Change" in json.dumps(r)
    ]
    assert len(status_rules) == 1
