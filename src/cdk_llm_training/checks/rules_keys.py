"""KMS key-policy and confused-deputy rules: a key that encrypts a log group or a
service-published topic must let that service use it; a service-principal statement must name
the source account or resource where the service sends those keys."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id
from cdk_llm_training.checks.render import render

_KEY = "AWS::KMS::Key"
_LOGS_SERVICE = re.compile(r"^logs\.[^.]+\.amazonaws\.com(\.cn)?$")
_LOGS_CONTEXT_KEY = "kms:encryptioncontext:aws:logs:arn"
_SOURCE_KEYS = frozenset(
    {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}
)

POLICY_LOCATIONS: Mapping[str, tuple[str, str]] = {
    _KEY: ("key", "KeyPolicy"),
    "AWS::SNS::TopicPolicy": ("topic", "PolicyDocument"),
    "AWS::S3::BucketPolicy": ("bucket", "PolicyDocument"),
    "AWS::SQS::QueuePolicy": ("queue", "PolicyDocument"),
    "AWS::IAM::Role": ("trust", "AssumeRolePolicyDocument"),
}
"""Resource type -> (policy kind, property) of the policies LLM-SRC1 reads."""

SOURCE_CONDITION_EXEMPTIONS: Mapping[tuple[str, str], str] = {
    ("trust", "lambda.amazonaws.com"): (
        "Lambda documents no aws:SourceArn / aws:SourceAccount when it assumes an execution "
        "role; a condition on a key it does not send would make the role unassumable."
    ),
    ("trust", "pods.eks.amazonaws.com"): (
        "EKS Pod Identity documents session-tag conditions (aws:RequestTag/eks-cluster-arn, "
        "kubernetes-namespace, ...) for its trust policy, not the source keys."
    ),
    ("trust", "ec2.amazonaws.com"): (
        "EC2 documents no source keys when it assumes an instance-profile role."
    ),
    ("key", "events.amazonaws.com"): (
        "Amazon SNS (Key management, event sources and encrypted topics): aws:SourceAccount and "
        "aws:SourceArn are not supported in a KMS key policy for EventBridge-to-encrypted "
        "topics; condition the topic policy on the rule ARN and use a key for notifications "
        "only."
    ),
}
"""(policy kind, service principal) pairs exempt from LLM-SRC1, with the reason: services that
do not send the source keys for that request, where a condition would break the service."""


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def _services(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return []
    return [render(s) for s in as_list(principal.get("Service"))]


def _is_logs(service: str) -> bool:
    return bool(_LOGS_SERVICE.match(service.replace("${AWS::Region}", "region")))


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    keys: set[str] = set()
    for block in (statement.get("Condition") or {}).values():
        if isinstance(block, Mapping):
            keys.update(str(k).lower() for k in block)
    return keys


def _allows(statement: Mapping[str, Any], action: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    return any(
        fnmatchcase(action.lower(), str(a).lower()) for a in as_list(statement.get("Action"))
    )


def _key_statements(view: TemplateView, key_ref: Any) -> list[Mapping[str, Any]] | None:
    """The key policy statements of the template key ``key_ref`` points at (None when the key
    is not in this template: an imported key is checked where it is defined)."""
    key_id = referenced_id(key_ref)
    if key_id is None or view.type_of(key_id) != _KEY:
        return None
    return _statements(view.properties(key_id).get("KeyPolicy"))


# -- LLM-KEY1: log groups ----------------------------------------------------------------------


def _check_log_group_keys(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for group_id, props in view.of_type("AWS::Logs::LogGroup"):
        statements = _key_statements(view, props.get("KmsKeyId"))
        if statements is None:
            continue
        key_id = referenced_id(props.get("KmsKeyId"))
        for_logs = [
            s
            for s in statements
            if any(_is_logs(svc) for svc in _services(s))
            and _allows(s, "kms:GenerateDataKey")
            and _allows(s, "kms:Decrypt")
        ]
        if not for_logs:
            findings.append(
                (
                    group_id,
                    f"log group is encrypted with key {key_id}, whose key policy has no "
                    "statement letting logs.<region>.amazonaws.com use it (GenerateDataKey, "
                    "Decrypt): CreateLogGroup is denied.",
                    "Properties/KmsKeyId",
                )
            )
        elif not any(_LOGS_CONTEXT_KEY in _condition_keys(s) for s in for_logs):
            findings.append(
                (
                    group_id,
                    f"key {key_id} lets CloudWatch Logs use it without a "
                    "kms:EncryptionContext:aws:logs:arn condition: any log group of any "
                    "account could be encrypted with it.",
                    "Properties/KmsKeyId",
                )
            )
    return findings


# -- LLM-KEY2: topics published to by a service ------------------------------------------------


def _topic_publishers(view: TemplateView, topic_id: str) -> set[str]:
    """Service principals a topic policy in this template lets publish to ``topic_id``."""
    services: set[str] = set()
    for _, props in view.of_type("AWS::SNS::TopicPolicy"):
        if topic_id not in {referenced_id(t) for t in as_list(props.get("Topics"))}:
            continue
        for statement in _statements(props.get("PolicyDocument")):
            if _allows(statement, "sns:Publish"):
                services.update(_services(statement))
    return services


def _check_topic_keys(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for topic_id, props in view.of_type("AWS::SNS::Topic"):
        statements = _key_statements(view, props.get("KmsMasterKeyId"))
        if statements is None:
            continue
        key_id = referenced_id(props.get("KmsMasterKeyId"))
        for service in sorted(_topic_publishers(view, topic_id)):
            usable = any(
                service in _services(s)
                and _allows(s, "kms:GenerateDataKey")
                and _allows(s, "kms:Decrypt")
                for s in statements
            )
            if not usable:
                findings.append(
                    (
                        topic_id,
                        f"{service} may publish to this topic, but the topic's key {key_id} "
                        "does not let it use the key (kms:GenerateDataKey*, kms:Decrypt): its "
                        "messages are dropped.",
                        "Properties/KmsMasterKeyId",
                    )
                )
    return findings


# -- LLM-SRC1: source conditions on service principals ------------------------------------------


def _service_statements(
    view: TemplateView,
) -> Iterator[tuple[str, str, str, str, Mapping[str, Any]]]:
    """(logical ID, policy kind, property, service, statement) of every Allow statement naming
    a service principal in a key, topic, bucket or queue policy or a role trust."""
    for type_name, (kind, prop) in POLICY_LOCATIONS.items():
        for logical_id, props in view.of_type(type_name):
            for statement in _statements(props.get(prop)):
                if statement.get("Effect") != "Allow":
                    continue
                for service in _services(statement):
                    yield logical_id, kind, prop, service, statement


def _exempt(kind: str, service: str, statement: Mapping[str, Any]) -> bool:
    if (kind, service) in SOURCE_CONDITION_EXEMPTIONS:
        return True
    # CloudWatch Logs' documented key-policy condition names the log group's ARN.
    return kind == "key" and _is_logs(service) and _LOGS_CONTEXT_KEY in _condition_keys(statement)


def _check_source_conditions(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, kind, prop, service, statement in _service_statements(view):
        if _exempt(kind, service, statement) or _condition_keys(statement) & _SOURCE_KEYS:
            continue
        findings.append(
            (
                logical_id,
                f"{kind} policy lets {service} act without an aws:SourceAccount or "
                "aws:SourceArn condition: any account's resources could use it through the "
                "service (confused deputy).",
                f"Properties/{prop}",
            )
        )
    return findings


KEY_RULES = [
    Rule(
        "LLM-KEY1",
        "A KMS key that encrypts a log group lets CloudWatch Logs use it in its key policy "
        '(CloudWatch Logs: "Encrypt log data in CloudWatch Logs using AWS KMS").',
        Severity.ERROR,
        "CloudWatch Logs checks the key policy itself (IAM delegation is not enough), so "
        "CreateLogGroup is denied and the stack rolls back; without the encryption-context "
        "condition the key serves any log group.",
        "Add a key-policy statement for logs.<region>.amazonaws.com (Encrypt*, Decrypt*, "
        "ReEncrypt*, GenerateDataKey*, Describe*) with ArnLike "
        "kms:EncryptionContext:aws:logs:arn = arn:<partition>:logs:<region>:<account>:"
        "log-group:*; NotificationKey and allow_cloudwatch_logs() do.",
        _check_log_group_keys,
    ),
    Rule(
        "LLM-KEY2",
        "A KMS key that encrypts an SNS topic lets each service allowed to publish to the "
        'topic use it (Amazon SNS: "Key management", compatibility with AWS event sources).',
        Severity.ERROR,
        "A service (CloudWatch, EventBridge, Budgets, SageMaker) that may publish but cannot "
        "use the topic's key has every message dropped, silently.",
        "Add a key-policy statement for that service principal with kms:GenerateDataKey* and "
        "kms:Decrypt (TrainingAlarms.allow_publish_from does).",
        _check_topic_keys,
    ),
    Rule(
        "LLM-SRC1",
        "Service-principal statements in key, topic, bucket and queue policies and in role "
        'trusts carry aws:SourceAccount or aws:SourceArn (IAM user guide: "The confused '
        'deputy problem"; each service\'s "Cross-service confused deputy prevention" page).',
        Severity.ERROR,
        "Without them the service acts for any account that names your resource or role: a "
        "confused deputy. Exempt, with reasons in SOURCE_CONDITION_EXEMPTIONS: services that "
        "do not send the keys for that request (Lambda, EKS Pod Identity and EC2 role "
        "trusts, EventBridge in key policies) and CloudWatch Logs key statements with the "
        "log-group encryption-context condition.",
        "Add StringEquals aws:SourceAccount = your account and ArnLike aws:SourceArn = the "
        "resources that may act; where the service is documented not to send them, "
        "acknowledge LLM-SRC1 on that construct with the documentation's reason.",
        _check_source_conditions,
    ),
]
