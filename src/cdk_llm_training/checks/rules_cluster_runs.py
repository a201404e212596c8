"""Deploy-time contracts of the cluster-tier run workflow: the EKS access entry of the run
controller and the rule that cancels stopped runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id


def _check_namespace_scopes(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for entry_id, props in view.of_type("AWS::EKS::AccessEntry"):
        for index, policy in enumerate(as_list(props.get("AccessPolicies"))):
            if not isinstance(policy, Mapping):
                continue
            scope = policy.get("AccessScope", {})
            if not isinstance(scope, Mapping) or scope.get("Type") != "namespace":
                continue
            if not as_list(scope.get("Namespaces")):
                findings.append(
                    (
                        entry_id,
                        f"access policy {index} has a namespace access scope without "
                        "namespaces; EKS refuses it.",
                        f"Properties/AccessPolicies/{index}/AccessScope",
                    )
                )
    return findings


def _is_execution_status_rule(props: Mapping[str, Any]) -> bool:
    pattern = props.get("EventPattern")
    return isinstance(pattern, Mapping) and "Step Functions Execution Status Change" in as_list(
        pattern.get("detail-type")
    )


def _lambda_permitted(view: TemplateView, function_id: str, rule_id: str) -> bool:
    for _, permission in view.of_type("AWS::Lambda::Permission"):
        if (
            referenced_id(permission.get("FunctionName")) == function_id
            and permission.get("Principal") == "events.amazonaws.com"
            and referenced_id(permission.get("SourceArn")) == rule_id
        ):
            return True
    return False


def _check_cancel_targets(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for rule_id, props in view.of_type("AWS::Events::Rule"):
        if not _is_execution_status_rule(props):
            continue
        for index, target in enumerate(as_list(props.get("Targets"))):
            function_id = referenced_id(target.get("Arn")) if isinstance(target, Mapping) else None
            if view.type_of(function_id) != "AWS::Lambda::Function":
                continue
            assert function_id is not None
            if not _lambda_permitted(view, function_id, rule_id):
                findings.append(
                    (
                        rule_id,
                        f"target {index} ({function_id}) has no AWS::Lambda::Permission for "
                        "events.amazonaws.com with this rule as SourceArn; EventBridge cannot "
                        "invoke it, so stopped executions leave their cluster jobs running.",
                        f"Properties/Targets/{index}",
                    )
                )
    return findings


CLUSTER_RUN_RULES: tuple[Rule, ...] = (
    Rule(
        "LLM-RUN1",
        "EKS access entry whose namespace access scope lists no namespace (Amazon EKS API "
        "Reference, AccessScope).",
        Severity.ERROR,
        "An access policy associated with a namespace scope must name the namespaces; "
        "CloudFormation fails to create the access entry otherwise.",
        "List the namespaces in AccessScope.Namespaces (ClusterTrainingRun uses the FSx "
        "volume's namespace), or use a cluster scope.",
        _check_namespace_scopes,
    ),
    Rule(
        "LLM-RUN2",
        "Step Functions execution-status rule targeting a Lambda function EventBridge may not "
        "invoke (Amazon EventBridge User Guide, 'Using resource-based policies for Amazon "
        "EventBridge': Lambda permissions).",
        Severity.ERROR,
        "EventBridge invokes a Lambda target through the function's resource-based policy; "
        "without a permission for events.amazonaws.com scoped to the rule, the cancel of a "
        "stopped or timed-out run never reaches the controller.",
        "Add an AWS::Lambda::Permission (lambda:InvokeFunction, principal "
        "events.amazonaws.com, SourceArn the rule); CDK's LambdaFunction target adds it.",
        _check_cancel_targets,
    ),
)
