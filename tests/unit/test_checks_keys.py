"""The key-policy and confused-deputy rules (LLM-KEY1, LLM-KEY2, LLM-SRC1): a compliant and a
non-compliant raw CloudFormation fixture each, and the tier stacks and constructs they guard."""

from __future__ import annotations

import copy
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from cdk_support import new_stack, template_of

from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.config import BedrockFineTuneOptions, ModelEvaluationOptions, StackName
from cdk_llm_training.constructs.bedrock_fine_tune_job import BedrockFineTuneJob
from cdk_llm_training.constructs.notification_key import NotificationKey, allow_cloudwatch_logs
from cdk_llm_training.constructs.training_alarms import TrainingAlarms
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

_REGION_JOIN = {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
_LOGS_CONTEXT = {
    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111122223333:*"}
}


def _findings(rule_id: str, template: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.logical_id, f.message) for f in check_template(template, [RULES_BY_ID[rule_id]])]


def _key(*statements: dict[str, Any]) -> dict[str, Any]:
    root = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return {
        "Type": "AWS::KMS::Key",
        "Properties": {"KeyPolicy": {"Statement": [root, *statements]}},
    }


def _logs_statement(**overrides: Any) -> dict[str, Any]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": _REGION_JOIN},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": _LOGS_CONTEXT,
    }
    statement.update(overrides)
    return statement


def _log_group() -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}, "RetentionInDays": 30},
    }


# -- LLM-KEY1 ---------------------------------------------------------------------------------


def test_key1_log_group_key_with_the_logs_statement_passes() -> None:
    template = {"Resources": {"Key": _key(_logs_statement()), "Logs": _log_group()}}
    assert _findings("LLM-KEY1", template) == []


def test_key1_log_group_key_without_the_logs_statement_fails() -> None:
    template = {"Resources": {"Key": _key(), "Logs": _log_group()}}
    [(logical_id, message)] = _findings("LLM-KEY1", template)
    assert logical_id == "Logs"
    assert "CreateLogGroup is denied" in message


def test_key1_logs_statement_without_the_encryption_context_fails() -> None:
    statement = _logs_statement()
    del statement["Condition"]
    template = {"Resources": {"Key": _key(statement), "Logs": _log_group()}}
    [(_, message)] = _findings("LLM-KEY1", template)
    assert "kms:EncryptionContext:aws:logs:arn" in message


# -- LLM-KEY2 ---------------------------------------------------------------------------------


def _topic_template(*key_statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "Key": _key(*key_statements),
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}},
            },
            "TopicPolicy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {
                    "Topics": [{"Ref": "Topic"}],
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Resource": {"Ref": "Topic"},
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": "111122223333"}
                                },
                            }
                        ]
                    },
                },
            },
        }
    }


def test_key2_topic_key_usable_by_its_publisher_passes() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
    }
    assert _findings("LLM-KEY2", _topic_template(statement)) == []


def test_key2_topic_key_unusable_by_its_publisher_fails() -> None:
    [(logical_id, message)] = _findings("LLM-KEY2", _topic_template())
    assert logical_id == "Topic"
    assert "cloudwatch.amazonaws.com" in message


# -- LLM-SRC1 ---------------------------------------------------------------------------------


def _role(service: str, condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {"Statement": [statement]}},
    }


_SOURCE = {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_dep1_trust_with_a_source_condition_passes() -> None:
    template = {"Resources": {"Role": _role("sagemaker.amazonaws.com", _SOURCE)}}
    assert _findings("LLM-SRC1", template) == []


def test_dep1_trust_without_a_source_condition_fails() -> None:
    template = {"Resources": {"Role": _role("states.amazonaws.com", None)}}
    [(logical_id, message)] = _findings("LLM-SRC1", template)
    assert logical_id == "Role"
    assert "states.amazonaws.com" in message


def test_dep1_exempts_services_that_send_no_source_keys() -> None:
    template = {
        "Resources": {
            "Fn": _role("lambda.amazonaws.com", None),
            "Pod": _role("pods.eks.amazonaws.com", None),
            "Key": _key(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                    "Resource": "*",
                },
                _logs_statement(),
            ),
        }
    }
    assert _findings("LLM-SRC1", template) == []


def test_dep1_reads_topic_bucket_and_key_policies() -> None:
    template = _topic_template(
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
        }
    )
    bare = copy.deepcopy(template)
    del bare["Resources"]["TopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0][
        "Condition"
    ]
    bare["Resources"]["BucketPolicy"] = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": "b",
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::b/*",
                    }
                ]
            },
        },
    }
    assert {logical_id for logical_id, _ in _findings("LLM-SRC1", template)} == {"Key"}
    assert {logical_id for logical_id, _ in _findings("LLM-SRC1", bare)} == {
        "Key",
        "TopicPolicy",
        "BucketPolicy",
    }


# -- the tier stacks and the constructs --------------------------------------------------------


@pytest.mark.parametrize("name", list(StackName))
def test_tier_stacks_have_no_key_or_deputy_findings(
    tier_templates: dict[StackName, Template], name: StackName
) -> None:
    rules = [RULES_BY_ID[r] for r in ("LLM-KEY1", "LLM-KEY2", "LLM-SRC1")]
    findings = check_template(tier_templates[name].to_json(), rules)
    # The HyperPod execution role is acknowledged (HyperPod does not document source keys).
    assert [f.logical_id for f in findings if "ExecutionRole" not in f.logical_id] == []


def _key_policy_services(template: Template, logical_id: str) -> set[str]:
    statements = template.to_json()["Resources"][logical_id]["Properties"]["KeyPolicy"]["Statement"]
    return {str(s["Principal"].get("Service")) for s in statements if "Service" in s["Principal"]}


def test_small_tier_lake_key_names_no_service(tier_templates: dict[StackName, Template]) -> None:
    """Issue 16 item 1 / issue 19 item 4: every log group and topic of the small tier uses the
    notification key (with the CloudWatch Logs statement); the lake key serves data only."""
    template = tier_templates[StackName.SMALL_LORA]
    resources = template.to_json()["Resources"]
    lake_key = next(i for i in resources if i.startswith("DataLakeKey"))
    assert _key_policy_services(template, lake_key) == set()
    note_key = next(i for i in resources if i.startswith("NotificationKey"))
    encrypted = [
        r["Properties"].get("KmsKeyId") or r["Properties"].get("KmsMasterKeyId")
        for r in resources.values()
        if r["Type"] in ("AWS::Logs::LogGroup", "AWS::SNS::Topic")
    ]
    assert len(encrypted) >= 8
    assert all(ref == {"Fn::GetAtt": [note_key, "Arn"]} for ref in encrypted)


def test_alarm_rules_publish_with_the_rule_arn_only() -> None:
    """Issue 19 item 3: no unconditioned events.amazonaws.com statement on the alarm topic."""
    stack = cdk.Stack(cdk.App(), "Alarms")
    TrainingAlarms(stack, "Alarms", training_job_name_prefix="llm-")
    resources = Template.from_stack(stack).to_json()["Resources"]
    [policy] = [r for r in resources.values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    events = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if isinstance(s.get("Principal"), dict)
        and s["Principal"].get("Service") == "events.amazonaws.com"
    ]
    assert len(events) == 1
    assert list(events[0]["Condition"]) == ["ArnEquals"]
    assert check_template({"Resources": resources}, [RULES_BY_ID["LLM-SRC1"]]) == []


def test_a_key_passed_in_learns_the_logs_statement_once() -> None:
    stack = cdk.Stack(cdk.App(), "Keys")
    key = kms.Key(stack, "Mine")
    assert allow_cloudwatch_logs(key)
    assert allow_cloudwatch_logs(key)
    note = NotificationKey(stack, "Notes")
    TrainingDataLake(stack, "Lake")
    template = Template.from_stack(stack).to_json()["Resources"]
    for logical_id, resource in template.items():
        if resource["Type"] != "AWS::KMS::Key":
            continue
        sids = [s.get("Sid") for s in resource["Properties"]["KeyPolicy"]["Statement"]]
        expected = 0 if logical_id.startswith("LakeKey") else 1
        assert sids.count("AllowCloudWatchLogsOfThisAccount") == expected, logical_id
    assert note.key.node.try_find_child("CloudWatchLogsStatement") is not None


def test_an_imported_key_gets_a_warning_instead() -> None:
    stack = cdk.Stack(cdk.App(), "Imported")
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    assert allow_cloudwatch_logs(key) is False


def test_a_fine_tune_job_given_the_lake_key_makes_it_usable_by_its_log_groups() -> None:
    """Issue 16 item 1 as it was wired before: the lake key passed as ``key=`` to the Bedrock
    job with evaluation on (validator, workflow and evaluation function log groups). The job
    adds the CloudWatch Logs statement to the key it is given, so LLM-KEY1 has nothing to say
    (``new_stack`` would also fail synthesis on an error finding)."""
    stack = new_stack()
    lake = TrainingDataLake(stack, "Lake")
    BedrockFineTuneJob(
        stack,
        "FineTune",
        data_lake=lake,
        key=lake.key,
        options=BedrockFineTuneOptions(
            evaluation=ModelEvaluationOptions(algorithmic_metrics=("Builtin.Accuracy",))
        ),
    )
    template = template_of(stack).to_json()
    groups = [r for r in template["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(groups) >= 3
    assert check_template(template, [RULES_BY_ID["LLM-KEY1"]]) == []


def test_cdk_provider_function_log_group_is_created_first(
    tier_templates: dict[StackName, Template],
) -> None:
    """Issue 19 item 5: the VPC default-security-group provider's function logs to a group the
    stack created (retention, the notification key) before the custom resource invokes it."""
    resources = tier_templates[StackName.MEDIUM_FINE_TUNE].to_json()["Resources"]
    handler = next(
        i for i, r in resources.items() if r["Type"] == "AWS::Lambda::Function" and "SG" in i
    )
    [(group_id, group)] = [
        (i, r)
        for i, r in resources.items()
        if r["Type"] == "AWS::Logs::LogGroup"
        and r["Properties"].get("LogGroupName")
        == {"Fn::Join": ["", ["/aws/lambda/", {"Ref": handler}]]}
    ]
    note_key = next(i for i in resources if i.startswith("NotificationKey"))
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [note_key, "Arn"]}
    assert group["Properties"]["RetentionInDays"] == 365
    [custom] = [r for r in resources.values() if r["Type"] == "Custom::VpcRestrictDefaultSG"]
    assert group_id in custom["DependsOn"]


def test_a_service_allowed_from_outside_gets_a_conditioned_topic_statement() -> None:
    stack = cdk.Stack(cdk.App(), "Outside")
    alarms = TrainingAlarms(stack, "Alarms")
    rule_arn = "arn:aws:events:eu-west-1:111122223333:rule/my-rule"
    alarms.allow_publish_from("events.amazonaws.com", source_arn=rule_arn)
    resources = Template.from_stack(stack).to_json()["Resources"]
    [policy] = [r for r in resources.values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    [statement] = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "AllowEventsPublish"
    ]
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": rule_arn}
    assert check_template({"Resources": resources}, [RULES_BY_ID["LLM-SRC1"]]) == []
