"""ClusterTrainingRun: the run workflow of a HyperPod EKS cluster."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.cluster_training_run import ClusterRunOptions
from cdk_llm_training.constructs._bring_your_own import not_both
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._workflow import (
    RETENTION,
    caught_error_message,
    notify,
    notify_and_fail,
)
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.cluster_training_run.controller import (
    RunController,
    add_cancel_rule,
)
from cdk_llm_training.constructs.cluster_training_run.recipes import (
    RecipeCatalog,
    add_recipe_support,
)
from cdk_llm_training.constructs.cluster_training_run.registration import (
    after_report,
    grant_workflow,
    succeeded_fields,
)
from cdk_llm_training.constructs.cluster_training_run.slurm_controller import SlurmRunController
from cdk_llm_training.constructs.evaluation.task_metrics_evaluation import TaskMetricsEvaluation
from cdk_llm_training.constructs.hyperpod.cluster import HyperPodEksCluster
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.constructs.trainium_parallel_cluster import TrainiumParallelCluster

TIMEOUT_MARGIN_HOURS = 2
"""The state machine times out this long after the longest run an input may ask for."""


class ClusterTrainingRun(Construct):
    """Start a multi-node training run on a HyperPod EKS cluster the way the small tier starts
    a fine-tune: start an execution with the run input, get a notification and a report.

    States: ``ValidateRun`` (the controller checks the input and renders an Indexed Job and a
    headless Service) -> ``SubmitJob`` -> ``WaitForJob`` -> ``ReadJobStatus`` -> ``JobDone?``
    (running: wait again; failed: ``NotifyJobFailed`` -> ``JobFailed``) -> ``WriteRunReport``
    (duration, node-hours, cost estimate, exported checkpoints, final metrics) ->
    ``NotifySucceeded``. Any other error: ``NotifyFailed`` -> ``Failed``. With
    ``options.evaluation`` or ``options.registry_group_name`` the model folder
    (``<checkpoint_prefix><output_name>/model/``) is located, scored by the small tier's
    task-metrics gate and recorded in the model package group between the report and
    ``NotifySucceeded`` (see ``registration.py``). A stopped or
    timed-out execution cancels its run through the controller's ``CancelRule``.

    A HyperPod run may instead name a recipe of the pinned aws/sagemaker-hyperpod-recipes
    release (``options.recipes``): ``RecipeCatalog`` fetches and converts it at deploy time and
    ``RecipeRbac`` lets the controller drive Kubeflow PyTorchJobs (see ``recipes.py``).

    Creates: ``Controller`` (a Lambda function in the compute subnet, its EKS access entry with
    ``AmazonEKSEditPolicy`` scoped to the FSx volume's namespace, the cancel rule), ``Topic``
    (encrypted with ``key``), ``Resource`` (Standard state machine, X-Ray, logs to
    ``WorkflowLogs``).

    Example::

        run = ClusterTrainingRun(
            self, "Runs", hyperpod=hyperpod, data_lake=lake, key=notification_key.key
        )
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        hyperpod: HyperPodEksCluster | None = None,
        parallel_cluster: TrainiumParallelCluster | None = None,
        data_lake: TrainingDataLake,
        key: kms.IKey,
        options: ClusterRunOptions | None = None,
        topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the workflow.

        :param hyperpod: the HyperPod EKS cluster runs go to; it must create its EKS cluster
            and offer the file system to pods (``file_system=``). Not with
            ``parallel_cluster``.
        :param parallel_cluster: instead, the Trainium ParallelCluster runs go to (Slurm,
            driven through SSM Run Command on its head node).
        :param data_lake: the lake whose artifacts zone gets reports and receives the
            checkpoint export.
        :param key: encrypts the topic and the log groups (its policy must let CloudWatch Logs
            use it, as :class:`NotificationKey`'s does).
        :param options: plain-data settings. Default: ``ClusterRunOptions()``.
        :param topic: where to notify. Default: a new topic encrypted with ``key``.
        :param removal_policy: of the log groups. Default: RETAIN_ON_UPDATE_OR_DELETE.
        """
        super().__init__(scope, id)
        record_construct_type(self, "ClusterTrainingRun")
        not_both(
            "ClusterTrainingRun",
            ("hyperpod", hyperpod),
            ("parallel_cluster", parallel_cluster),
            because="a workflow drives one cluster",
        )
        self.options = opts = options or ClusterRunOptions()
        retention = RETENTION[opts.log_retention_days]
        self.controller: RunController | SlurmRunController
        self.recipe_catalog: RecipeCatalog | None = None
        if parallel_cluster is not None:
            self.controller = SlurmRunController(
                self,
                "Controller",
                cluster=parallel_cluster,
                artifacts_bucket=data_lake.artifacts_bucket,
                data_key=data_lake.key,
                log_key=key,
                options=opts,
                log_retention=retention,
                removal_policy=removal_policy,
            )
        elif hyperpod is not None:
            if hyperpod.file_system is None:
                raise ValueError(
                    "ClusterTrainingRun hyperpod: the cluster offers no file system to pods "
                    "(HyperPodEksCluster file_system= is None); runs read data and write "
                    "checkpoints on FSx for Lustre"
                )
            self.controller = RunController(
                self,
                "Controller",
                hyperpod=hyperpod,
                artifacts_bucket=data_lake.artifacts_bucket,
                curated_bucket=data_lake.curated_bucket,
                data_key=data_lake.key,
                log_key=key,
                options=opts,
                log_retention=retention,
                removal_policy=removal_policy,
            )
            if opts.recipes is not None:  # form 2 of the input: HyperPod recipes (recipes.py)
                self.recipe_catalog = add_recipe_support(
                    self,
                    controller=self.controller,
                    hyperpod=hyperpod,
                    options=opts.recipes,
                    bucket=data_lake.artifacts_bucket,
                    data_key=data_lake.key,
                    log_key=key,
                    log_retention=retention,
                    removal_policy=removal_policy,
                )
        else:
            raise ValueError(
                "ClusterTrainingRun needs hyperpod= (HyperPod EKS) or parallel_cluster= "
                "(Slurm); got neither"
            )
        self.artifacts_bucket = data_lake.artifacts_bucket
        self.task_metrics: TaskMetricsEvaluation | None = None
        task_metrics_options = opts.task_metrics_options()
        if task_metrics_options is not None:  # opt-in: evaluate the model folder (registration.py)
            self.task_metrics = TaskMetricsEvaluation(
                self,
                "TaskMetrics",
                options=task_metrics_options,
                labelled_bucket=data_lake.curated_bucket,
                output_bucket=data_lake.artifacts_bucket,
                data_key=data_lake.key,
            )
        self.topic = topic or sns.Topic(
            self, "Topic", display_name="Training runs", master_key=key, enforce_ssl=True
        )
        self.state_machine = sfn.StateMachine(
            self,
            "Resource",
            comment="Runs a multi-node training job on HyperPod EKS and reports it.",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.hours(opts.max_run_hours + TIMEOUT_MARGIN_HOURS),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(
                    self,
                    "WorkflowLogs",
                    retention=retention,
                    encryption_key=key,
                    removal_policy=removal_policy,
                ),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        key.grant(self.state_machine, "kms:Decrypt", "kms:GenerateDataKey*")
        grant_workflow(self)
        self.cancel_rule = add_cancel_rule(
            self.controller, self.controller.function, self.state_machine
        )
        acknowledge_wildcards(
            self.state_machine.role,
            "Lambda invoke grants cover the function's versions (<arn>:*); X-Ray and log "
            "delivery actions have no resource-level permissions.",
        )
        acknowledge_wildcards(
            self.controller.role,
            "Checkpoints and reports are named at run time (<prefix>*); the VPC network "
            "interface actions Lambda needs have no resource-level permissions.",
        )

    # -- public API ------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The Kubernetes namespace runs go to (the FSx volume claim's), or on Slurm the
        default queue."""
        return self.controller.namespace

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start runs."""
        return self.state_machine.grant_start_execution(grantee)

    # -- definition ------------------------------------------------------------------------

    def _invoke(
        self, id: str, comment: str, payload: dict[str, Any], result_path: str | None
    ) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            id,
            comment=comment,
            lambda_function=self.controller.function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            result_path=result_path if result_path is not None else sfn.JsonPath.DISCARD,
            retry_on_service_exceptions=True,
        )

    def _definition(self) -> sfn.IChainable:
        run = sfn.JsonPath.object_at("$.run")
        self.notify_failed = failed = notify_and_fail(
            self,
            "NotifyFailed",
            topic=self.topic,
            subject="Training run failed",
            message=caught_error_message(),
            fail_id="Failed",
            error="TrainingRunFailed",
            cause="The input, the submission, the status read or the report failed; see the "
            "notification.",
        )
        validate = self._invoke(
            "ValidateRun",
            "Check the input and render the job (nothing is submitted on a bad input).",
            {
                "action": "validate",
                "input": sfn.JsonPath.entire_payload,
                "executionName": sfn.JsonPath.execution_name,
            },
            "$.run",
        )
        submit = self._invoke(
            "SubmitJob",
            "Submit the job (Kubernetes Job and Service, or sbatch on the head node).",
            {"action": "submit", "run": run},
            "$.submitted",
        )
        wait = sfn.Wait(
            self,
            "WaitForJob",
            time=sfn.WaitTime.duration(Duration.seconds(self.options.poll_interval_seconds)),
        )
        read = self._invoke(
            "ReadJobStatus",
            "Read the job's state (Job conditions, or sacct).",
            {"action": "status", "run": run, "submitted": sfn.JsonPath.object_at("$.submitted")},
            "$.status",
        )
        report = self._invoke(
            "WriteRunReport",
            "Duration, node-hours, cost estimate, exported checkpoints, final metrics.",
            {"action": "report", "run": run, "status": sfn.JsonPath.object_at("$.status")},
            "$.report",
        )
        succeeded = notify(
            self,
            "NotifySucceeded",
            topic=self.topic,
            subject="Training run succeeded",
            message={
                "result": "SUCCEEDED",
                "execution": sfn.JsonPath.execution_id,
                "report": sfn.JsonPath.object_at("$.report"),
                **succeeded_fields(self),
            },
        )
        job_failed = notify_and_fail(
            self,
            "NotifyJobFailed",
            topic=self.topic,
            subject="Training run failed",
            message={
                "result": "JOB_FAILED",
                "execution": sfn.JsonPath.execution_id,
                "jobId": sfn.JsonPath.string_at("$.run.jobName"),
                "namespace": sfn.JsonPath.string_at("$.run.namespace"),
                "reason": sfn.JsonPath.string_at("$.status.reason"),
                "message": sfn.JsonPath.string_at("$.status.message"),
            },
            fail_id="JobFailed",
            error="TrainingJobFailed",
            cause="The Kubernetes Job failed; see the notification and the pods' logs.",
        )
        for state in (validate, submit, read, report):
            state.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        report.next(after_report(self, succeeded))
        done = (
            sfn.Choice(self, "JobDone?")
            .when(sfn.Condition.string_equals("$.status.phase", "SUCCEEDED"), report)
            .when(sfn.Condition.string_equals("$.status.phase", "FAILED"), job_failed)
            .otherwise(wait)
        )
        return validate.next(submit).next(wait).next(read).next(done)
