"""TrainingAlarms: encrypted topic and its policies, one alarm or rule per signal, options,
validation."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from observability_cases import EMAIL, EXTERNAL_FS_ID, HYPERPOD, PREFIX, Full, state_machine
from pydantic import ValidationError

from cdk_llm_training import (
    AlarmOptions,
    MonitoredFileSystem,
    MonitoredHyperPodCluster,
    TrainingAlarms,
)
from cdk_llm_training.constructs.training_alarms import monitored_file_system

GIB = 1024**3


@pytest.fixture(scope="module")
def full() -> Full:
    return Full()


def _alarm(full: Full, prefix: str) -> dict[str, Any]:
    logical_id = full.logical_id("AWS::CloudWatch::Alarm", prefix)
    return dict(full.of_type("AWS::CloudWatch::Alarm")[logical_id])


def _statements(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    document = resource["Properties"].get("PolicyDocument") or resource["Properties"]["KeyPolicy"]
    return {s["Sid"]: s for s in document["Statement"] if "Sid" in s}


def test_topic_is_encrypted_with_a_rotating_key_and_refuses_plain_http(full: Full) -> None:
    key_id = full.logical_id("AWS::KMS::Key", "AlarmsKey")
    full.template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    assert full.of_type("AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    assert full.of_type("AWS::KMS::Key")[key_id]["DeletionPolicy"] == "RetainExceptOnCreate"
    (policy,) = [
        p for lid, p in full.of_type("AWS::SNS::TopicPolicy").items() if lid.startswith("Alarms")
    ]
    deny = _statements(policy)["AllowPublishThroughSSLOnly"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_cloudwatch_events_and_budgets_may_publish_and_use_the_key(full: Full) -> None:
    (policy,) = [
        p for lid, p in full.of_type("AWS::SNS::TopicPolicy").items() if lid.startswith("Alarms")
    ]
    topic_statements = _statements(policy)
    key = full.of_type("AWS::KMS::Key")[full.logical_id("AWS::KMS::Key", "AlarmsKey")]
    key_statements = _statements(key)
    account = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    alarms = {
        **account,
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":cloudwatch:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":alarm:*",
                    ],
                ]
            }
        },
    }
    for service, sid, condition in [
        ("cloudwatch.amazonaws.com", "Cloudwatch", alarms),
        ("budgets.amazonaws.com", "Budgets", account),
    ]:
        publish = topic_statements[f"Allow{sid}Publish"]
        assert publish["Principal"] == {"Service": service}
        assert publish["Action"] == "sns:Publish"
        assert publish["Condition"] == condition
        use_key = key_statements[f"Allow{sid}ToUseAlarmTopicKey"]
        assert use_key["Principal"] == {"Service": service}
        assert sorted(use_key["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert use_key["Condition"] == account
    # EventBridge: one publish statement per rule, conditioned on the rule's ARN; the key
    # statement without condition (SNS supports no source keys there for EventBridge).
    events = {
        sid: s
        for sid, s in topic_statements.items()
        if s["Principal"] == {"Service": "events.amazonaws.com"}
    }
    rules = full.of_type("AWS::Events::Rule")
    assert len(events) == len(rules) > 0
    assert {
        s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0] for s in events.values()
    } == set(rules)
    use_key = key_statements["AllowEventsToUseAlarmTopicKey"]
    assert "Condition" not in use_key


def test_email_subscription_from_options(full: Full) -> None:
    full.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": EMAIL}
    )


def test_workflow_failed_alarm(full: Full) -> None:
    alarm = _alarm(full, "AlarmsFineTuneWorkflowFailed")["Properties"]
    machine = full.logical_id("AWS::StepFunctions::StateMachine", "FineTune")
    assert alarm["Namespace"] == "AWS/States"
    assert alarm["MetricName"] == "ExecutionsFailed"
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    topic = full.logical_id("AWS::SNS::Topic", "Alarms")
    assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_fsx_free_capacity_alarm_threshold_is_a_share_of_capacity(full: Full) -> None:
    alarm = _alarm(full, "AlarmsFsxFreeCapacityLow")["Properties"]
    fs = full.logical_id("AWS::FSx::FileSystem", "Fsx")
    assert alarm["MetricName"] == "FreeDataStorageCapacity"
    assert alarm["Dimensions"] == [{"Name": "FileSystemId", "Value": {"Ref": fs}}]
    assert alarm["Statistic"] == "Minimum"
    # Hand calculation: 10 % of 2400 GiB = 240 GiB = 240 * 1024**3 = 257,698,037,760 bytes.
    assert alarm["Threshold"] == 257_698_037_760
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["EvaluationPeriods"] == 2
    external = _alarm(full, "AlarmsSharedFreeCapacityLow")["Properties"]
    assert external["Dimensions"] == [{"Name": "FileSystemId", "Value": EXTERNAL_FS_ID}]
    assert external["Threshold"] == 1200 * GIB // 10


def test_fsx_throughput_alarm_is_metric_math_against_the_baseline(full: Full) -> None:
    alarm = _alarm(full, "AlarmsFsxThroughputSaturated")["Properties"]
    expression, read, write = alarm["Metrics"]
    # Baseline: 2400 GiB / 1024 * 250 MB/s/TiB = 585.9375 MB/s = 585,937,500 bytes/s.
    assert expression["Expression"] == (
        "100 * (FILL(datareadbytes, 0) + FILL(datawritebytes, 0)) / PERIOD(datareadbytes) "
        "/ 585937500"
    )
    assert expression["ReturnData"] is True
    assert read["MetricStat"]["Metric"]["MetricName"] == "DataReadBytes"
    assert write["MetricStat"]["Metric"]["MetricName"] == "DataWriteBytes"
    assert read["MetricStat"]["Stat"] == "Sum"
    assert read["MetricStat"]["Period"] == 300
    assert alarm["Threshold"] == 90
    assert alarm["EvaluationPeriods"] == 6  # 30 minutes of 5-minute periods
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    # Shared: 1200 / 1024 * 125 = 146.484375 MB/s.
    shared = _alarm(full, "AlarmsSharedThroughputSaturated")["Properties"]
    assert shared["Metrics"][0]["Expression"].endswith("/ 146484375")


def test_hyperpod_rules_on_node_health_and_cluster_status(full: Full) -> None:
    rules = full.of_type("AWS::Events::Rule")
    topic = full.logical_id("AWS::SNS::Topic", "Alarms")
    health = rules[full.logical_id("AWS::Events::Rule", "AlarmsHyperPodNodeHealthRule")]
    assert health["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker HyperPod Cluster Node Health Event"],
        "detail": {
            "ClusterName": [HYPERPOD],
            "HealthSummary": {"HealthStatus": [{"anything-but": "Healthy"}]},
        },
    }
    assert health["Properties"]["Targets"][0]["Arn"] == {"Ref": topic}
    status = rules[full.logical_id("AWS::Events::Rule", "AlarmsHyperPodClusterFailedRule")]
    assert status["Properties"]["EventPattern"]["detail"] == {
        "ClusterName": [HYPERPOD],
        "ClusterStatus": ["Failed", "RollingBack"],
    }


def test_hyperpod_rules_send_undeliverable_events_to_an_encrypted_queue(full: Full) -> None:
    rules = full.of_type("AWS::Events::Rule")
    queue_id = full.logical_id("AWS::SQS::Queue", "AlarmsHyperPodAlertsDeadLetterQueue")
    queue = full.of_type("AWS::SQS::Queue")[queue_id]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    for prefix in ("AlarmsHyperPodNodeHealthRule", "AlarmsHyperPodClusterFailedRule"):
        (target,) = rules[full.logical_id("AWS::Events::Rule", prefix)]["Properties"]["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    job_rule = rules[full.logical_id("AWS::Events::Rule", "AlarmsTrainingJobFailedRule")]
    assert "DeadLetterConfig" not in job_rule["Properties"]["Targets"][0]
    (policy,) = full.of_type("AWS::SQS::QueuePolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    sends = [s for s in statements if s.get("Action") == "sqs:SendMessage"]
    assert len(sends) == 2
    assert all(s["Principal"] == {"Service": "events.amazonaws.com"} for s in sends)
    assert all("aws:SourceArn" in s["Condition"]["ArnEquals"] for s in sends)


def test_training_job_rule_on_failed_or_stopped_jobs_with_the_prefix(full: Full) -> None:
    rules = full.of_type("AWS::Events::Rule")
    rule = rules[full.logical_id("AWS::Events::Rule", "AlarmsTrainingJobFailedRule")]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Training Job State Change"],
        "detail": {
            "TrainingJobStatus": ["Failed", "Stopped"],
            "TrainingJobName": [{"prefix": PREFIX}],
        },
    }


def test_full_stack_counts_and_lint(full: Full) -> None:
    alarms = full.alarms
    # 1 workflow + 2 file systems x (free capacity, throughput)
    assert len(alarms.alarms) == 5
    assert len(alarms.rules) == 3
    assert cfn_lint_findings(full.json) == []


def test_builds_only_what_it_was_given() -> None:
    stack = new_stack()
    alarms = TrainingAlarms(stack, "Alarms")
    template = template_of(stack)
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::Events::Rule", 0)
    template.resource_count_is("AWS::SNS::Subscription", 0)
    assert alarms.alarms == []
    assert alarms.rules == []
    statements = template.to_json()["Resources"]
    key = next(r for r in statements.values() if r["Type"] == "AWS::KMS::Key")
    assert "AllowEventsToUseAlarmTopicKey" not in str(key)


def test_options_change_thresholds_and_every_job_rule() -> None:
    stack = new_stack()
    TrainingAlarms(
        stack,
        "Alarms",
        options=AlarmOptions(
            fsx_free_capacity_percent=25,
            fsx_throughput_percent=75,
            fsx_throughput_sustained_minutes=60,
            workflow_failures=False,
        ),
        file_systems=[MonitoredFileSystem(file_system_id="fs-1", storage_capacity_gib=4800)],
        state_machines={"Labeling": state_machine(stack, "Labeling")},
        training_job_name_prefix="",
    )
    template = template_of(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 2)  # no workflow alarm
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "FreeDataStorageCapacity", "Threshold": 4800 * GIB // 4},
    )
    # SCRATCH_2 default tier: 4800 / 1024 * 200 = 937.5 MB/s.
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Threshold": 75,
            "EvaluationPeriods": 12,
            "Metrics": Match.array_with(
                [Match.object_like({"Expression": Match.string_like_regexp("/ 937500000$")})]
            ),
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Training Job State Change"],
                "detail": {"TrainingJobStatus": ["Failed", "Stopped"]},
            }
        },
    )


def test_bring_your_own_topic() -> None:
    stack = new_stack()
    topic = sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:us-east-1:111122223333:ops")
    alarms = TrainingAlarms(
        stack, "Alarms", topic=topic, state_machines={"Wf": state_machine(stack, "Wf")}
    )
    template = template_of(stack)
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.resource_count_is("AWS::KMS::Key", 0)
    assert alarms.key is None
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"AlarmActions": ["arn:aws:sns:us-east-1:111122223333:ops"]}
    )


def test_reads_capacity_and_tier_from_an_fsx_l2() -> None:
    stack = Stack()
    vpc = ec2.Vpc(stack, "Vpc")
    l2 = fsx.LustreFileSystem(
        stack,
        "Lustre",
        vpc=vpc,
        vpc_subnet=vpc.private_subnets[0],
        storage_capacity_gib=2400,
        lustre_configuration=fsx.LustreConfiguration(
            deployment_type=fsx.LustreDeploymentType.PERSISTENT_2,
            per_unit_storage_throughput=500,
        ),
    )
    monitored = monitored_file_system(l2)
    assert (monitored.storage_capacity_gib, monitored.throughput_mb_per_s_per_tib) == (2400, 500)
    assert monitored.label == "Lustre"
    assert monitored.baseline_mb_per_s == 1171.875


def test_fails_invalid_email() -> None:
    with pytest.raises(ValidationError) as error:
        AlarmOptions(email="oncall")
    assert "email 'oncall' is not an e-mail address; allowed: name@domain" in str(error.value)


def test_fails_sustained_minutes_not_a_multiple_of_five() -> None:
    with pytest.raises(ValidationError) as error:
        AlarmOptions(fsx_throughput_sustained_minutes=12)
    assert (
        "fsx_throughput_sustained_minutes 12 is not a multiple of 5; allowed: 5, 10, 15, ... 1440"
        in str(error.value)
    )


def test_fails_invalid_label() -> None:
    stack = new_stack(nag=False)
    with pytest.raises(ValueError, match="label") as error:
        TrainingAlarms(stack, "Alarms", state_machines={"fine/tune": state_machine(stack, "Wf")})
    assert str(error.value) == (
        "state_machines: label 'fine/tune' is not valid; allowed: 1-64 letters, digits, "
        "spaces, _ and -, starting with a letter or digit"
    )


def test_resources_of_type_helper_sees_the_alarms(full: Full) -> None:
    assert len(resources_of_type(full.template, "AWS::CloudWatch::Alarm")) == 5


def test_hyperpod_rules_by_arn() -> None:
    stack = new_stack()
    arn = "arn:aws:sagemaker:us-east-1:111122223333:cluster/abcdef123456"
    alarms = TrainingAlarms(
        stack, "Alarms", hyperpod_clusters=[MonitoredHyperPodCluster(cluster_arn=arn)]
    )
    template = template_of(stack)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker HyperPod Cluster Node Health Event"],
                "resources": [arn],
                "detail": {"HealthSummary": {"HealthStatus": [{"anything-but": "Healthy"}]}},
            }
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {"detail": {"ClusterStatus": ["Failed", "RollingBack"]}}
            )
        },
    )
    assert [rule.node.id for rule in alarms.rules] == [
        "HyperPodNodeHealthByArnRule",
        "HyperPodClusterFailedByArnRule",
    ]
