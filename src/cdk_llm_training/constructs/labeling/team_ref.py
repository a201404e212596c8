"""WorkTeamRef: the work team a labeling workflow sends tasks to, wherever it was created."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Token
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

WORKTEAM_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:workteam/(?P<path>.+)$"
)
"""A work team ARN: the API's ``WorkteamArn`` pattern (botocore SageMaker model), with the
part after ``workteam/`` captured (``private-crowd/<name>`` for a private team)."""

PUBLIC_CROWD = "public-crowd/"
"""The crowd of the Amazon Mechanical Turk team (``workteam/public-crowd/default``, SageMaker
developer guide, "Amazon Mechanical Turk workforce")."""


@dataclass(frozen=True)
class WorkTeamRef:
    """A Ground Truth work team the labeling workflow may send tasks to.

    Build one with :meth:`from_workteam_arn` (a team created elsewhere: another stack, the
    console, an AWS Marketplace vendor), :meth:`from_cfn_workteam` (an
    ``AWS::SageMaker::Workteam`` of your own), or take them from
    :attr:`LabelingWorkforce.team_refs <cdk_llm_training.LabelingWorkforce.team_refs>`.
    """

    workteam_arn: str
    """The team's ARN (a token is fine)."""

    workteam_name: str | None = None
    """The team's name, when known. Default: none."""

    notification_topic: sns.ITopic | None = None
    """The SNS topic Ground Truth notifies the team's workers on, when known. Default: none."""

    def __post_init__(self) -> None:
        if Token.is_unresolved(self.workteam_arn):
            return
        match = WORKTEAM_ARN_PATTERN.match(self.workteam_arn)
        if match is None:
            raise ValueError(
                f"workteam_arn {self.workteam_arn!r} is not a work team ARN; expected "
                "arn:<partition>:sagemaker:<region>:<account>:workteam/..., e.g. "
                "'arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/my-team'."
            )
        if match["path"].startswith(PUBLIC_CROWD):
            raise ValueError(
                f"workteam_arn {self.workteam_arn!r} is the Amazon Mechanical Turk (public) "
                "team; the labeling workflow sends training data to private and vendor teams "
                "only (workteam/private-crowd/... or workteam/vendor-crowd/...)."
            )

    @classmethod
    def from_workteam_arn(
        cls, workteam_arn: str, *, notification_topic: sns.ITopic | None = None
    ) -> WorkTeamRef:
        """A team by ARN (bring your own: a private team of another stack or account
        setup, or a vendor team). Its name is the literal ARN's last part.

        :raises ValueError: for a literal ARN that is not a work team's, or that is the
            Amazon Mechanical Turk team's (the workflow shows training data to the team and
            sets no public task price).
        """
        name = None
        if not Token.is_unresolved(workteam_arn):
            name = workteam_arn.rsplit("/", 1)[-1]
        return cls(
            workteam_arn=workteam_arn, workteam_name=name, notification_topic=notification_topic
        )

    @classmethod
    def from_cfn_workteam(
        cls, workteam: sagemaker.CfnWorkteam, *, notification_topic: sns.ITopic | None = None
    ) -> WorkTeamRef:
        """A team created in your own CDK code as ``sagemaker.CfnWorkteam``."""
        return cls(
            workteam_arn=workteam.attr_workteam_arn,
            workteam_name=workteam.workteam_name,
            notification_topic=notification_topic,
        )
