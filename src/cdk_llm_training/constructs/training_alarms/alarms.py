"""TrainingAlarms: an encrypted SNS topic and the alarms and event rules that feed it."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.training_alarms import FSX_METRIC_PERIOD_MINUTES, AlarmOptions
from cdk_llm_training.constructs._bring_your_own import not_both
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.acknowledgements import acknowledge
from cdk_llm_training.constructs.training_alarms.monitored import (
    GIB,
    FileSystemLike,
    HyperPodClusterLike,
    MonitoredFileSystem,
    check_labels,
    cluster_identifiers,
    fsx_metric,
    fsx_throughput_percent,
    monitored_file_system,
    monitored_hyperpod_cluster,
)

HYPERPOD_NODE_HEALTH_EVENT = "SageMaker HyperPod Cluster Node Health Event"
"""EventBridge detail-type of the HyperPod health-monitoring agent's node events."""
HYPERPOD_CLUSTER_STATE_CHANGE = "SageMaker HyperPod Cluster State Change"
"""EventBridge detail-type of HyperPod cluster status transitions."""
TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"
"""EventBridge detail-type of SageMaker training job status changes."""
EVENTS_SERVICE = "events.amazonaws.com"
"""EventBridge's service principal (the rules' publisher)."""


class TrainingAlarms(Construct):
    """An encrypted SNS topic (optional e-mail subscription) and, for each resource it is
    given, the signal that something went wrong.

    - ``state_machines``: a CloudWatch alarm on ``ExecutionsFailed`` >= 1 in 5 minutes.
    - ``file_systems``: free capacity below ``fsx_free_capacity_percent`` of capacity
      (two 5-minute periods); read + write throughput above ``fsx_throughput_percent`` of
      the baseline (capacity x tier) for ``fsx_throughput_sustained_minutes``.
    - ``hyperpod_cluster_names`` / ``hyperpod_cluster_arns``: EventBridge rules on the
      health-monitoring agent's node events (any status but Healthy) and on the cluster
      entering Failed or RollingBack.
      HyperPod publishes no per-node CloudWatch metric by default, so events are the signal.
      Events these rules cannot deliver to the topic go to an encrypted (SQS-managed) dead-letter
      queue, :attr:`dead_letter_queue`, kept 14 days.
    - ``training_job_name_prefix``: an EventBridge rule on training jobs whose name starts
      with the prefix ending Failed or Stopped (a managed-spot job past its wait time stops).

    The topic is encrypted with ``key`` or a new customer-managed key (rotation on). The topic
    policy lets CloudWatch publish for this account's alarms and EventBridge for each rule
    (``aws:SourceArn`` = the rule), and, through :meth:`allow_publish_from`, any other
    service for this account only; the key policy lets the same services use the key (the
    EventBridge statement without condition: SNS does not support source keys there, so give
    the topic a key that protects notifications only); the topic refuses non-TLS publishers.

    Example::

        alarms = TrainingAlarms(self, "Alarms", state_machines={"Labeling": sm},
                                options=AlarmOptions(email="ml-oncall@example.com"))
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: AlarmOptions | None = None,
        file_systems: Sequence[FileSystemLike] = (),
        state_machines: Mapping[str, sfn.IStateMachine] | None = None,
        hyperpod_clusters: Sequence[HyperPodClusterLike] = (),
        training_job_name_prefix: str | None = None,
        topic: sns.ITopic | None = None,
        key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the topic, the alarms and the event rules.

        :param options: thresholds and e-mail. Default ``AlarmOptions()``.
        :param file_systems: FSx for Lustre file systems to watch. Default none.
        :param state_machines: workflows to watch, by label (``{"Labeling": sm}``).
        :param hyperpod_clusters: HyperPod clusters to watch: :class:`HyperPodEksCluster`
            objects (matched by ARN on the events' ``resources``) or
            :class:`MonitoredHyperPodCluster` (by ARN, else by name on
            ``detail.ClusterName``). Default none.
        :param training_job_name_prefix: watch SageMaker training jobs whose name starts with
            this ("" for every job in the account and Region). Default None: no rule.
        :param topic: bring your own topic (its key policy is then yours to manage).
            Default: a new encrypted topic. Not with ``key``.
        :param key: KMS key of the new topic. Default: a new key with rotation.
        :param removal_policy: of a new key. Default ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "TrainingAlarms")
        not_both(
            "TrainingAlarms",
            ("topic", topic),
            ("key", key),
            because="the key encrypts a new topic; your own topic keeps its own key",
        )
        self.options = opts = options or AlarmOptions()
        state_machines = dict(state_machines or {})
        check_labels(list(state_machines), "state_machines")
        self.file_systems = [monitored_file_system(fs) for fs in file_systems]
        check_labels([fs.label for fs in self.file_systems if fs.label], "file_systems")
        self.hyperpod_clusters = [monitored_hyperpod_cluster(c) for c in hyperpod_clusters]
        names, arns = cluster_identifiers(self.hyperpod_clusters)

        self.key: kms.IKey | None = None
        if topic is None:
            self.key = key or kms.Key(
                self,
                "Key",
                description="Encrypts the training alarm topic.",
                enable_key_rotation=True,
                removal_policy=removal_policy,
            )
            self.topic: sns.ITopic = sns.Topic(
                self,
                "Resource",
                display_name="Training alarms",
                master_key=self.key,
                enforce_ssl=True,
            )
        else:
            self.topic = topic
        self._allowed: set[tuple[str, str | None]] = set()
        self._key_users: set[str] = set()
        self.allow_publish_from(
            "cloudwatch.amazonaws.com",
            source_arn=f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*",
        )
        # Rule targets publish through a read-only view of the topic: CDK's SnsTopic target
        # would otherwise add an unconditioned events.amazonaws.com statement to the topic
        # policy; _rule adds one per rule, conditioned on the rule's ARN.
        self._target_topic = sns.Topic.from_topic_arn(self, "RuleTarget", self.topic.topic_arn)
        if opts.email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(opts.email))

        self.alarms: list[cloudwatch.Alarm] = []
        self.rules: list[events.Rule] = []
        self.dead_letter_queue: sqs.Queue | None = None
        """Undeliverable HyperPod alert events (created with the first HyperPod rule)."""
        self._action = cw_actions.SnsAction(self.topic)
        if opts.workflow_failures:
            for label, machine in state_machines.items():
                self._workflow_alarm(label, machine)
        for index, file_system in enumerate(self.file_systems):
            self._file_system_alarms(file_system, file_system.label or f"FileSystem{index}")
        if names:
            self._hyperpod_rules("", names=names)
        if arns:
            self._hyperpod_rules("ByArn", arns=arns)
        if training_job_name_prefix is not None:
            self._training_job_rule(training_job_name_prefix)

    # -- public API ----------------------------------------------------------------------

    def allow_publish_from(self, service: str, *, source_arn: str | None = None) -> None:
        """Let the AWS service principal ``service`` publish to the topic and use its key,
        for this account's resources only: ``aws:SourceAccount``, plus ``aws:SourceArn``
        ArnLike ``source_arn`` when given. Topic statements are a no-op for an imported topic.

        EventBridge is the exception on the key: SNS documents that ``aws:SourceAccount`` /
        ``aws:SourceArn`` are not supported in a KMS key policy for EventBridge-to-encrypted
        topics, so its key statement has no condition; keep this key for notifications only.
        The construct's own rules get a topic statement each, on the rule's ARN.
        """
        if (service, source_arn) in self._allowed:
            return
        self._allowed.add((service, source_arn))
        conditions: dict[str, dict[str, str]] = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}
        }
        if source_arn is not None:
            conditions["ArnLike"] = {"aws:SourceArn": source_arn}
        earlier = sum(1 for allowed, _ in self._allowed if allowed == service) - 1
        suffix = str(earlier + 1) if earlier else ""
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Allow{_sid(service)}Publish{suffix}",
                principals=[iam.ServicePrincipal(service)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=conditions,
            )
        )
        # On the key, the account only: the topic statement above already names the source;
        # which services send aws:SourceArn to KMS as well is not documented (unverified).
        self._allow_key_use(service, {"StringEquals": conditions["StringEquals"]})

    def _allow_key_use(self, service: str, conditions: dict[str, dict[str, str]]) -> None:
        """The key statement of ``service`` (once per service; none for an imported topic)."""
        if self.key is None or service in self._key_users:
            return
        self._key_users.add(service)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Allow{_sid(service)}ToUseAlarmTopicKey",
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions=None if service == EVENTS_SERVICE else conditions,
            )
        )

    # -- alarms --------------------------------------------------------------------------

    def _register(self, alarm: cloudwatch.Alarm) -> None:
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)

    def _workflow_alarm(self, label: str, machine: sfn.IStateMachine) -> None:
        alarm = cloudwatch.Alarm(
            self,
            f"{_id(label)}WorkflowFailed",
            metric=machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"The {label} workflow has a failed execution.",
        )
        self._register(alarm)

    def _file_system_alarms(self, file_system: MonitoredFileSystem, label: str) -> None:
        opts = self.options
        free_bytes = file_system.storage_capacity_gib * GIB * opts.fsx_free_capacity_percent / 100
        free = cloudwatch.Alarm(
            self,
            f"{_id(label)}FreeCapacityLow",
            metric=fsx_metric(file_system.file_system_id, "FreeDataStorageCapacity", "Minimum"),
            threshold=math.floor(free_bytes),
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
            alarm_description=(
                f"FSx {label}: less than {opts.fsx_free_capacity_percent:g} % of "
                f"{file_system.storage_capacity_gib} GiB free."
            ),
        )
        self._register(free)
        periods = opts.fsx_throughput_sustained_minutes // FSX_METRIC_PERIOD_MINUTES
        saturated = cloudwatch.Alarm(
            self,
            f"{_id(label)}ThroughputSaturated",
            metric=fsx_throughput_percent(file_system),
            threshold=opts.fsx_throughput_percent,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=(
                f"FSx {label}: read + write above {opts.fsx_throughput_percent:g} % of the "
                f"{file_system.baseline_mb_per_s:.0f} MB/s baseline for "
                f"{opts.fsx_throughput_sustained_minutes} minutes."
            ),
        )
        self._register(saturated)

    # -- event rules ---------------------------------------------------------------------

    def _rule(
        self,
        id: str,
        description: str,
        pattern: events.EventPattern,
        *,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        self._allow_key_use(EVENTS_SERVICE, {})
        rule = events.Rule(self, id, description=description, event_pattern=pattern)
        rule.add_target(targets.SnsTopic(self._target_topic, dead_letter_queue=dead_letter_queue))
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"AllowEvents{id}Publish",
                principals=[iam.ServicePrincipal(EVENTS_SERVICE)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                # The EventBridge user guide's SNS topic policy: aws:SourceArn = the rule.
                conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
            )
        )
        self.rules.append(rule)

    def _hyperpod_dead_letter_queue(self) -> sqs.Queue:
        """One queue for every HyperPod rule; EventBridge's target adds the queue policy
        (``events.amazonaws.com`` limited to each rule's ARN)."""
        if self.dead_letter_queue is None:
            self.dead_letter_queue = sqs.Queue(
                self,
                "HyperPodAlertsDeadLetterQueue",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
            acknowledge(
                self.dead_letter_queue,
                "AwsSolutions-SQS3",
                "This queue is itself the dead-letter queue of the HyperPod alert rules' "
                "targets (EventBridge target DLQ, which the rule cannot see).",
            )
        return self.dead_letter_queue

    def _hyperpod_rules(
        self, suffix: str, *, names: list[str] | None = None, arns: list[str] | None = None
    ) -> None:
        """Node-health and cluster-status rules for the clusters named (``detail.ClusterName``)
        or given by ARN (``resources``)."""
        by_name: dict[str, object] = {"ClusterName": names} if names else {}
        queue = self._hyperpod_dead_letter_queue()
        self._rule(
            f"HyperPodNodeHealth{suffix}Rule",
            "HyperPod node reported unhealthy (health-monitoring agent).",
            events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[HYPERPOD_NODE_HEALTH_EVENT],
                resources=arns,
                detail={
                    **by_name,
                    "HealthSummary": {"HealthStatus": [{"anything-but": "Healthy"}]},
                },
            ),
            dead_letter_queue=queue,
        )
        self._rule(
            f"HyperPodClusterFailed{suffix}Rule",
            "HyperPod cluster entered Failed or RollingBack.",
            events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[HYPERPOD_CLUSTER_STATE_CHANGE],
                resources=arns,
                detail={**by_name, "ClusterStatus": ["Failed", "RollingBack"]},
            ),
            dead_letter_queue=queue,
        )

    def _training_job_rule(self, prefix: str) -> None:
        detail: dict[str, object] = {"TrainingJobStatus": ["Failed", "Stopped"]}
        if prefix:
            detail["TrainingJobName"] = [{"prefix": prefix}]
        self._rule(
            "TrainingJobFailedRule",
            "SageMaker training job failed or stopped.",
            events.EventPattern(
                source=["aws.sagemaker"], detail_type=[TRAINING_JOB_STATE_CHANGE], detail=detail
            ),
        )


def _id(label: str) -> str:
    """A construct-ID fragment from a label: words joined in CamelCase."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[ _\-]+", label) if part)


def _sid(service: str) -> str:
    return _id(service.split(".", maxsplit=1)[0])
