"""LabelingWorkflow: Ground Truth labeling jobs over manifests in the data lake, for any work
team, turned into training-ready JSONL in the curated zone."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.labeling_workforce import LabelingWorkflowOptions
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.labeling.functions import create_task_functions
from cdk_llm_training.constructs.labeling.job_role import create_labeling_job_role
from cdk_llm_training.constructs.labeling.state_machine import create_state_machine
from cdk_llm_training.constructs.labeling.team_ref import WorkTeamRef
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.runtime_function import RuntimeFunction
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake


class LabelingWorkflow(Construct):
    """A Step Functions Standard workflow that labels a manifest with any work team and
    writes the result as training data.

    An execution names a task type (``sft``, ``preference``, ``rating``), a job name and a
    manifest under ``manifest_prefix`` in the curated zone; every input field is type- and
    bound-checked before anything costs money (an execution may lower the job settings of
    ``options.jobs``, never raise them). The workflow writes the shipped task template to
    the artifacts zone, runs ``sagemaker:createLabelingJob.sync`` with the first of
    ``work_teams`` (or the one the input names, which must be one of them), converts the
    output manifest into JSONL under ``dataset_prefix`` with a Lambda, and notifies
    ``workflow_topic`` (KMS-encrypted, TLS-only) of success or failure. Logging ALL with
    execution data, X-Ray tracing, 30-day timeout.

    Also created: a pre-annotation Lambda (manifest line to the templates' ``task.input``)
    and an annotation-consolidation Lambda (keeps every worker's answer, so the converter
    can vote and report disagreement), each with its own role and log group; a labeling-job
    role that can read only the manifest and template prefixes and write only the output
    prefix. Creating a labeling job is allowed for the ARNs of ``work_teams`` only (IAM
    condition ``sagemaker:WorkteamArn``).

    The teams can come from a :class:`~cdk_llm_training.LabelingWorkforce`
    (``workforce.team_refs``), from your own ``CfnWorkteam``
    (``WorkTeamRef.from_cfn_workteam``) or from an existing team's ARN
    (``WorkTeamRef.from_workteam_arn``: another stack's team, a vendor team).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        data_lake: TrainingDataLake,
        work_teams: Sequence[WorkTeamRef],
        options: LabelingWorkflowOptions | None = None,
        notification_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the functions, the labeling-job role and the workflow.

        :param data_lake: the lake that holds manifests (curated zone), templates (artifacts
            zone) and results (curated zone).
        :param work_teams: the teams executions may send tasks to (at least one); the first
            is the default.
        :param options: plain-data settings. Default: ``LabelingWorkflowOptions()``; the
            tier configs pass ``LabelingOptions.workflow_options()``.
        :param notification_key: KMS key of the workflow topic and the log groups (its
            policy gets the CloudWatch Logs statement). Default: a new key with rotation.
        :param removal_policy: for the log groups and a key this construct creates. Default
            ``RETAIN_ON_UPDATE_OR_DELETE``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "LabelingWorkflow")
        self.options = options or LabelingWorkflowOptions()
        self.data_lake = data_lake
        self.work_teams: tuple[WorkTeamRef, ...] = _checked_teams(work_teams)
        self.notification_key: kms.IKey = notification_key or kms.Key(
            self,
            "NotificationKey",
            description="Encrypts the labeling workflow's topic and log groups.",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        allow_cloudwatch_logs(self.notification_key)

        functions = create_task_functions(
            self,
            self.options,
            data_lake=data_lake,
            log_key=self.notification_key,
            removal_policy=removal_policy,
        )
        self.pre_annotation_function: RuntimeFunction = functions.pre_annotation
        self.consolidation_function: RuntimeFunction = functions.consolidation
        self.converter_function: RuntimeFunction = functions.converter
        self.labeling_role: iam.Role = create_labeling_job_role(
            self, self.options, data_lake=data_lake, functions=functions
        )
        parts = create_state_machine(
            self,
            self.options,
            data_lake=data_lake,
            key=self.notification_key,
            labeling_role=self.labeling_role,
            functions=functions,
            workteam_arns=self.allowed_workteam_arns,
            removal_policy=removal_policy,
        )
        self.state_machine: sfn.StateMachine = parts.state_machine
        self.workflow_role: iam.Role = parts.role
        self.workflow_topic: sns.Topic = parts.topic

    @property
    def default_work_team(self) -> WorkTeamRef:
        """The team an execution uses unless its input names another (the first)."""
        return self.work_teams[0]

    @property
    def allowed_workteam_arns(self) -> list[str]:
        """The work teams an execution may send data to (``work_teams``); anything else is
        refused before a job starts."""
        return [team.workteam_arn for team in self.work_teams]

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start the workflow (``states:StartExecution``)."""
        return self.state_machine.grant_start_execution(grantee)


def _checked_teams(work_teams: Sequence[WorkTeamRef]) -> tuple[WorkTeamRef, ...]:
    teams = tuple(work_teams)
    if not teams:
        raise ValueError(
            "work_teams is empty; give at least one team (LabelingWorkforce.team_refs, "
            "WorkTeamRef.from_workteam_arn or WorkTeamRef.from_cfn_workteam)."
        )
    for team in teams:
        if not isinstance(team, WorkTeamRef):
            raise ValueError(
                f"work_teams entry {team!r} is not a WorkTeamRef; wrap a team with "
                "WorkTeamRef.from_workteam_arn(arn) or WorkTeamRef.from_cfn_workteam(team)."
            )
    literal = [t.workteam_arn for t in teams if not Token.is_unresolved(t.workteam_arn)]
    repeated = sorted({arn for arn in literal if literal.count(arn) > 1})
    if repeated:
        raise ValueError(f"work_teams repeats {', '.join(repeated)}; give each team once.")
    return teams
