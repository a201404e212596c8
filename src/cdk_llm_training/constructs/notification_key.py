"""NotificationKey: the KMS key of a stack's SNS topics and CloudWatch Logs log groups, kept
apart from the data-lake key; and the key-policy statements AWS services need to use a key."""

from __future__ import annotations

from aws_cdk import Annotations, Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_llm_training.constructs._metadata import record_construct_type

LOGS_STATEMENT_SID = "AllowCloudWatchLogsOfThisAccount"
"""Sid of the key-policy statement that lets CloudWatch Logs use a key for log groups."""

LOGS_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)
"""What CloudWatch Logs needs on a log group's key ("Encrypt log data in CloudWatch Logs using
AWS Key Management Service", CloudWatch Logs user guide)."""


def allow_cloudwatch_logs(key: kms.IKey) -> bool:
    """Let CloudWatch Logs of this account and Region use ``key`` for log groups.

    CloudWatch Logs checks the KEY POLICY (IAM delegation does not cover it), so a log group
    whose key lacks this statement fails ``CreateLogGroup``. The statement is conditioned on
    ``kms:EncryptionContext:aws:logs:arn`` (log groups of this account and Region). Adding it
    twice to the same key is a no-op.

    :returns: True when the key policy holds the statement; False for an imported key (whose
        policy this app cannot change: a warning on the key says what to add).
    """
    if not isinstance(key, kms.Key):
        Annotations.of(key).add_warning_v2(
            "cdk-llm-training/notification-key:importedLogKey",
            "This imported KMS key encrypts log groups: its key policy must allow "
            f"logs.<region>.amazonaws.com ({', '.join(LOGS_KEY_ACTIONS)}) with an ArnLike "
            "kms:EncryptionContext:aws:logs:arn condition, or CreateLogGroup is denied.",
        )
        return False
    if not _mark_once(key):
        return True
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=LOGS_STATEMENT_SID,
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=list(LOGS_KEY_ACTIONS),
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                    )
                }
            },
        )
    )
    return True


def _mark_once(key: kms.Key) -> bool:
    """True the first time for ``key``: an empty marker construct under the key (no template
    output) remembers that the statement was added."""
    if key.node.try_find_child(_MARKER) is not None:
        return False
    Construct(key, _MARKER)
    return True


_MARKER = "CloudWatchLogsStatement"


class NotificationKey(Construct):
    """A customer-managed KMS key (yearly rotation) for a stack's SNS topics and log groups,
    so that the data-lake key's policy names no notification or logging service.

    Its key policy lets CloudWatch Logs of this account and Region use it for log groups
    (conditioned on ``kms:EncryptionContext:aws:logs:arn``). Constructs that publish to a
    topic encrypted with it add the statement for their publishing service themselves
    (``TrainingAlarms.allow_publish_from``, ``LabelingWorkforce``). Pass ``key`` to any
    construct's ``key=`` / ``log_key=`` / ``notification_key=``.

    Example::

        notifications = NotificationKey(self, "NotificationKey")
        alarms = TrainingAlarms(self, "Alarms", key=notifications.key)
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        description: str = "Encrypts the training stack's SNS topics and CloudWatch log groups.",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the key.

        :param description: of the key. Default: names topics and log groups.
        :param removal_policy: of the key. Default ``RETAIN_ON_UPDATE_OR_DELETE`` (kept when
            the stack is deleted, not left behind by a failed first create).
        """
        super().__init__(scope, id)
        record_construct_type(self, "NotificationKey")
        self.key = kms.Key(
            self,
            "Resource",
            description=description,
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        allow_cloudwatch_logs(self.key)
