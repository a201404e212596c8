"""The evaluation step of :class:`SageMakerServerlessCustomization` (``options.evaluation``):
serverless evaluation jobs on the registered model package, the JSON evaluation report, the
threshold gate, and the package's approval following the gate.

States (children of the workflow, numbered per job ``n``): ``ReadTrainedModel``
(DescribeTrainingJob) -> ``ModelRegistered?`` -> ``EvaluationInput`` -> per job
``Eval<n>Create`` -> ``Eval<n>StartPolling`` -> ``Eval<n>Wait`` -> ``Eval<n>Describe`` ->
``Eval<n>Done?`` (Completed: next job; Failed / Stopped: ``Eval<n>Ended``; ``max_polls``:
``Eval<n>Stop`` -> ``Eval<n>Exhausted``; otherwise ``Eval<n>Count`` -> ``Eval<n>Wait``) ->
``ReadEvaluation`` (the report Lambda) -> ``EvaluationGate``: passed -> ``ApproveModel``
(when ``approve_on_pass``) -> ``NotifySucceeded``; failed -> ``RejectModel`` ->
``NotifyEvaluationFailed`` -> ``EvaluationFailed``. A job that fails, polls that run out, a
missing model package or unreadable results -> ``NotifyEvaluationError`` ->
``EvaluationError`` (the package stays pending manual approval).

The jobs are polled with ``DescribeTrainingJob`` like the customization job (see the
workflow's module docstring for why not ``.sync``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from cdk_llm_training.config.sagemaker_serverless_customization import ServerlessEvaluationOptions
from cdk_llm_training.constructs._workflow import notify
from cdk_llm_training.constructs.fine_tune.sagemaker_serverless_eval_jobs import (
    JOB_FAILED_STATUSES,
    EvaluationJob,
    create_report_function,
    evaluation_jobs,
    grant_training_role,
)

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.sagemaker_serverless import (
        SageMakerServerlessCustomization,
    )


class ServerlessEvaluationSteps:
    """Builds the evaluation states and resources in ``workflow``'s scope (so their IDs are
    the workflow's children)."""

    def __init__(
        self, workflow: SageMakerServerlessCustomization, options: ServerlessEvaluationOptions
    ) -> None:
        self.workflow = workflow
        self.options = options
        bucket = workflow.output_bucket
        self.output_uri = f"s3://{bucket.bucket_name}/{options.output_prefix}"
        judge = options.judge
        self.jobs = evaluation_jobs(
            options,
            output_uri=self.output_uri,
            dataset_uri=(
                f"s3://{workflow.dataset_bucket.bucket_name}/{judge.dataset_key}" if judge else None
            ),
        )
        self.name_reserve = max(len(f"-{job.suffix}") for job in self.jobs)
        """Characters the evaluation jobs append to the customization job's name."""
        self.first_job: sfn.IChainable
        """The first evaluation job's start state (set by :meth:`chain`)."""
        grant_training_role(workflow, options)
        self.report_function = create_report_function(workflow, options)

    # -- resources ---------------------------------------------------------------------------

    def workflow_statements(self, package_arns: str) -> list[iam.PolicyStatement]:
        """What the state machine needs beyond the customization job's grants."""
        return [
            iam.PolicyStatement(
                sid="GateModelApproval",
                actions=["sagemaker:UpdateModelPackage"],
                resources=[package_arns],
            )
        ]

    # -- states ------------------------------------------------------------------------------

    def chain(self, succeeded: sfn.IChainable) -> sfn.IChainable:
        """``ReadTrainedModel`` ... ``EvaluationGate``; ``succeeded`` after a passed gate."""
        wf = self.workflow
        error = notify(
            wf,
            "NotifyEvaluationError",
            topic=wf.topic,
            subject="SageMaker serverless: evaluation failed to run",
            message={
                "result": "EVALUATION_ERROR",
                "execution": sfn.JsonPath.execution_id,
                "jobName": sfn.JsonPath.string_at("$.validation.jobName"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
        ).next(
            sfn.Fail(
                wf,
                "EvaluationError",
                error="EvaluationError",
                cause="The model was trained and registered but could not be evaluated; it "
                "stays pending manual approval. See the notification.",
            )
        )
        read_model = wf._service_task(
            "ReadTrainedModel",
            comment="The completed job's description names the registered model package.",
            integration="aws-sdk:sagemaker:describeTrainingJob",
            parameters={"TrainingJobName.$": "$.validation.jobName"},
            result_path="$.trained",
            on_failure=error,
        )
        no_package = sfn.Pass(
            wf,
            "NoModelPackage",
            parameters={
                "Error": "NoModelPackage",
                "Cause": "DescribeTrainingJob returned no OutputModelPackageArn",
            },
            result_path="$.error",
        ).next(error)
        start = sfn.Pass(
            wf,
            "EvaluationInput",
            parameters={
                "modelPackageArn.$": "$.trained.OutputModelPackageArn",
                "baseName.$": "$.validation.jobName",
            },
            result_path="$.evaluation",
        )
        read_model.next(
            sfn.Choice(wf, "ModelRegistered?")
            .when(sfn.Condition.is_present("$.trained.OutputModelPackageArn"), start)
            .otherwise(no_package)
        )
        report = self._report_state(error)
        previous: sfn.Choice | None = None
        for index, job in enumerate(self.jobs, start=1):
            first, completed = self._polled_job(index, job, error)
            if previous is None:
                start.next(first)
                self.first_job = first
            else:
                previous.otherwise(first)
            previous = completed
        assert previous is not None  # the options demand a benchmark or a judge
        previous.otherwise(report)
        report.next(self._gate(succeeded))
        return read_model

    def entry(self, train: sfn.IChainable) -> sfn.IChainable:
        """The start state: ``EvaluateOnly?`` -- an input naming ``modelPackageArn`` (a version
        of this workflow's group) skips validation and training (``EvaluateGivenPackage``);
        otherwise ``train``. Call after :meth:`chain`."""
        wf = self.workflow
        name = f"States.Format('{wf.options.job_name_prefix}-{{}}', $.jobNameSuffix)"
        given = sfn.Pass(
            wf,
            "EvaluateGivenPackage",
            comment="Evaluate a registered package: name the jobs after jobNameSuffix.",
            parameters={"jobName.$": name},
            result_path="$.validation",
        ).next(
            sfn.Pass(
                wf,
                "GivenPackageInput",
                parameters={
                    "modelPackageArn.$": "$.modelPackageArn",
                    "baseName.$": "$.validation.jobName",
                },
                result_path="$.evaluation",
            ).next(self.first_job)
        )
        return (
            sfn.Choice(wf, "EvaluateOnly?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.modelPackageArn"),
                    sfn.Condition.is_present("$.jobNameSuffix"),
                ),
                given,
            )
            .otherwise(train)
        )

    def _request(self, job: EvaluationJob) -> dict[str, Any]:
        wf = self.workflow
        base = wf.options
        request: dict[str, Any] = {
            "TrainingJobName.$": f"States.Format('{{}}-{job.suffix}', $.evaluation.baseName)",
            "RoleArn": wf.training_role.role_arn,
            "ServerlessJobConfig": {
                "BaseModelArn": base.base_model_arn,
                "JobType": "Evaluation",
                "EvaluationType": job.evaluation_type,
                "AcceptEula": base.accept_eula,
            },
            "ModelPackageConfig": {
                "ModelPackageGroupArn": wf.model_package_group_arn,
                "SourceModelPackageArn.$": "$.evaluation.modelPackageArn",
            },
            "HyperParameters": job.hyper_parameters,
            "OutputDataConfig": {"S3OutputPath": self.output_uri, "CompressionType": "NONE"},
            "StoppingCondition": {"MaxRuntimeInSeconds": self.options.max_runtime_hours * 3600},
        }
        if job.dataset_uri is not None:
            request["InputDataConfig"] = [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": job.dataset_uri}
                    },
                }
            ]
        return request

    def _polled_job(
        self, index: int, job: EvaluationJob, error: sfn.IChainable
    ) -> tuple[sfn.IChainable, sfn.Choice]:
        """Start ``job`` and poll it; returns (first state, the Choice whose Completed branch
        the caller continues with)."""
        wf = self.workflow
        opts = self.options
        name = f"States.Format('{{}}-{job.suffix}', $.evaluation.baseName)"
        create = wf._service_task(
            f"Eval{index}Create",
            comment=f"Start serverless evaluation job {index} ({job.evaluation_type}).",
            integration="aws-sdk:sagemaker:createTrainingJob",
            parameters=self._request(job),
            result_path=sfn.JsonPath.DISCARD,
            on_failure=error,
        )
        start_polls = sfn.Pass(
            wf, f"Eval{index}StartPolling", parameters={"count": 0}, result_path="$.polls"
        )
        wait = sfn.Wait(
            wf,
            f"Eval{index}Wait",
            time=sfn.WaitTime.duration(Duration.minutes(opts.poll_interval_minutes)),
        )
        describe = wf._service_task(
            f"Eval{index}Describe",
            comment="Read the evaluation job's status.",
            integration="aws-sdk:sagemaker:describeTrainingJob",
            parameters={"TrainingJobName.$": name},
            result_selector={"TrainingJobStatus.$": "$.TrainingJobStatus"},
            result_path="$.evaluationJob",
            on_failure=error,
        )
        ended = sfn.Pass(
            wf,
            f"Eval{index}Ended",
            parameters={
                "Error": "EvaluationJobFailed",
                "Cause.$": f"States.Format('evaluation job {index} ended {{}}', "
                "$.evaluationJob.TrainingJobStatus)",
            },
            result_path="$.error",
        ).next(error)
        stop = wf._service_task(
            f"Eval{index}Stop",
            comment="The evaluation job ran past max_polls: stop it.",
            integration="aws-sdk:sagemaker:stopTrainingJob",
            parameters={"TrainingJobName.$": name},
            result_path=sfn.JsonPath.DISCARD,
            on_failure=error,
        ).next(
            sfn.Pass(
                wf,
                f"Eval{index}Exhausted",
                parameters={"Error": "PollsExhausted", "Cause": "max_polls reached"},
                result_path="$.error",
            ).next(error)
        )
        count = sfn.Pass(
            wf,
            f"Eval{index}Count",
            parameters={"count.$": "States.MathAdd($.polls.count, 1)"},
            result_path="$.polls",
        )
        status = "$.evaluationJob.TrainingJobStatus"
        done = sfn.Choice(wf, f"Eval{index}Done?")
        done.when(
            sfn.Condition.or_(
                *(sfn.Condition.string_equals(status, s) for s in JOB_FAILED_STATUSES)
            ),
            ended,
        )
        done.when(sfn.Condition.number_greater_than_equals("$.polls.count", opts.max_polls), stop)
        done.when(
            sfn.Condition.not_(sfn.Condition.string_equals(status, "Completed")), count.next(wait)
        )
        create.next(start_polls).next(wait).next(describe).next(done)
        return create, done

    def _report_state(self, error: sfn.IChainable) -> tasks.LambdaInvoke:
        entries = [
            {
                **job.report_entry,
                "jobName.$": f"States.Format('{{}}-{job.suffix}', $.evaluation.baseName)",
            }
            for job in self.jobs
            if job.report_entry is not None
        ]
        state = tasks.LambdaInvoke(
            self.workflow,
            "ReadEvaluation",
            comment="Read the evaluation results; write the JSON report; apply the thresholds.",
            lambda_function=self.report_function,
            payload=sfn.TaskInput.from_object(
                {
                    "runId": sfn.JsonPath.execution_name,
                    "modelPackageArn": sfn.JsonPath.string_at("$.evaluation.modelPackageArn"),
                    "outputS3Uri": self.output_uri,
                    "jobs": entries,
                }
            ),
            payload_response_only=True,
            result_path="$.evaluationReport",
            retry_on_service_exceptions=True,
        )
        state.add_catch(error, errors=["States.ALL"], result_path="$.error")
        return state

    def _approval(self, id: str, status: str, error: sfn.IChainable) -> sfn.CustomState:
        return self.workflow._service_task(
            id,
            comment=f"The gate's verdict: set the model package to {status}.",
            integration="aws-sdk:sagemaker:updateModelPackage",
            parameters={
                "ModelPackageArn.$": "$.evaluation.modelPackageArn",
                "ModelApprovalStatus": status,
                "ApprovalDescription.$": "States.Format('Evaluation gate: see {}', "
                "$.evaluationReport.reportS3Uri)",
            },
            result_path=sfn.JsonPath.DISCARD,
            on_failure=error,
        )

    def _gate(self, succeeded: sfn.IChainable) -> sfn.Choice:
        wf = self.workflow
        failed = sfn.Fail(
            wf,
            "EvaluationFailed",
            error="EvaluationFailed",
            cause="The model did not meet the evaluation thresholds and was rejected; see the "
            "notification and the report.",
        )
        below = notify(
            wf,
            "NotifyEvaluationFailed",
            topic=wf.topic,
            subject="SageMaker serverless: model below the evaluation thresholds",
            message={
                "result": "EVALUATION_FAILED",
                "execution": sfn.JsonPath.execution_id,
                "modelPackageArn": sfn.JsonPath.string_at("$.evaluation.modelPackageArn"),
                "metrics": sfn.JsonPath.object_at("$.evaluationReport.summary.metrics"),
                "failures": sfn.JsonPath.list_at("$.evaluationReport.failures"),
                "report": sfn.JsonPath.string_at("$.evaluationReport.reportS3Uri"),
            },
        ).next(failed)
        approval_error = notify(
            wf,
            "NotifyApprovalError",
            topic=wf.topic,
            subject="SageMaker serverless: the gate's verdict could not be recorded",
            message={
                "result": "APPROVAL_ERROR",
                "execution": sfn.JsonPath.execution_id,
                "modelPackageArn": sfn.JsonPath.string_at("$.evaluation.modelPackageArn"),
                "report": sfn.JsonPath.string_at("$.evaluationReport.reportS3Uri"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
        ).next(
            sfn.Fail(
                wf,
                "ApprovalError",
                error="ApprovalError",
                cause="UpdateModelPackage failed; see the notification.",
            )
        )
        reject = self._approval("RejectModel", "Rejected", approval_error).next(below)
        on_pass: sfn.IChainable = succeeded
        if self.options.approve_on_pass:
            on_pass = self._approval("ApproveModel", "Approved", approval_error).next(succeeded)
        return (
            sfn.Choice(wf, "EvaluationGate", comment="Thresholds met?")
            .when(sfn.Condition.boolean_equals("$.evaluationReport.passed", True), on_pass)
            .otherwise(reject)
        )
