"""ModelEvaluationSteps: the states of :class:`ModelEvaluation` as a Step Functions fragment.

Bedrock evaluation jobs have no CloudFormation resource and no Step Functions ``.sync``
integration: the states call ``aws-sdk:bedrock:createEvaluationJob`` and poll
``getEvaluationJob`` in a Wait loop with a poll limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.constructs._workflow import notify
from cdk_llm_training.constructs.evaluation._arns import bedrock_arn
from cdk_llm_training.constructs.evaluation.model_evaluation_jobs import evaluation_job_branch

if TYPE_CHECKING:
    from cdk_llm_training.constructs.evaluation.model_evaluation import ModelEvaluation


class ModelEvaluationSteps(sfn.StateMachineFragment):
    """The evaluation states of ``evaluation``: embed them in a workflow like one state.

    With ``options.provision_throughput`` and ``custom_model_name_path``: no-commitment
    provisioned throughput for the new custom model (``EvalProvisionThroughput``, polled until
    InService); otherwise ``EvalSetup``. Then ``EvalPreparePrompts`` -> ``EvalRunJobs`` (a
    Parallel of evaluation jobs: candidate and, with ``compare_with_base_model``, base model;
    judge metrics and, when set, algorithmic metrics) -> ``EvalReport`` ->
    ``EvalNotifyReport`` -> ``EvalGate``. A failed gate or a failed job deletes the
    provisioned throughput (the model stays unusable) and ends in the ``EvalThresholdNotMet``
    or ``EvalFailed`` Fail state.

    State names are the construct ids (no prefix), so a workflow holds one such fragment.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        evaluation: ModelEvaluation,
        on_passed: sfn.IChainable | None = None,
        custom_model_name_path: str | None = None,
        candidate_model_path: str = "$.evaluationModelArn",
    ) -> None:
        """:param evaluation: the roles, functions, buckets and options the states use.
        :param on_passed: where to go when the gate passes; its end states are the
            fragment's. Default: an ``EvalPassed`` Pass state, to chain with ``.next()``.
        :param custom_model_name_path: JSON path of the new custom model's name. With
            ``options.provision_throughput`` the states buy provisioned throughput for it.
        :param candidate_model_path: JSON path of the model ARN to evaluate when no
            throughput is provisioned (an existing provisioned model or inference profile).
            Default ``$.evaluationModelArn`` (from the execution input).
        """
        super().__init__(scope, id)
        self._evaluation = evaluation
        passed: sfn.IChainable = on_passed or sfn.Pass(self, "EvalPassed")
        self._end_states: list[sfn.INextable] = list(passed.end_states)
        self._start_state = self._build(
            evaluation,
            on_passed=passed,
            custom_model_name_path=custom_model_name_path,
            candidate_model_path=candidate_model_path,
        )

    @property
    def start_state(self) -> sfn.State:
        """The first state: ``EvalProvisionThroughput`` or ``EvalSetup``."""
        return self._start_state

    @property
    def end_states(self) -> list[sfn.INextable]:
        """The end states of ``on_passed`` (or ``EvalPassed``)."""
        return self._end_states

    def _build(
        self,
        evaluation: ModelEvaluation,
        *,
        on_passed: sfn.IChainable,
        custom_model_name_path: str | None,
        candidate_model_path: str,
    ) -> sfn.State:
        opts = evaluation.options
        provision = opts.provision_throughput and custom_model_name_path is not None
        candidate = "$.evaluation.candidateModel" if provision else candidate_model_path

        delete_throughput: tasks.CallAwsService | None = None
        if provision:
            delete_throughput = tasks.CallAwsService(
                self,
                "EvalDeleteThroughput",
                comment="Keep the model unusable: delete the evaluation throughput.",
                service="bedrock",
                action="deleteProvisionedModelThroughput",
                parameters={"ProvisionedModelId.$": "$.evaluation.candidateModel"},
                iam_resources=[bedrock_arn("provisioned-model/*")],
                result_path=sfn.JsonPath.DISCARD,
            )

        failed = self._notify(
            "EvalNotifyFailed",
            "Model evaluation failed",
            {
                "result": "EVALUATION_FAILED",
                "execution": sfn.JsonPath.execution_id,
                "error": sfn.JsonPath.string_at("$.evaluationError.Error"),
                "cause": sfn.JsonPath.string_at("$.evaluationError.Cause"),
            },
        ).next(
            sfn.Fail(self, "EvalFailed", error="EvaluationFailed", cause="See the notification.")
        )
        on_error: sfn.IChainable = failed
        if delete_throughput is not None:
            cleanup = tasks.CallAwsService(
                self,
                "EvalDeleteThroughputAfterError",
                service="bedrock",
                action="deleteProvisionedModelThroughput",
                parameters={"ProvisionedModelId.$": "$.evaluation.candidateModel"},
                iam_resources=[bedrock_arn("provisioned-model/*")],
                result_path=sfn.JsonPath.DISCARD,
            )
            cleanup.add_catch(failed, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
            cleanup.next(failed)
            on_error = cleanup

        prepare = tasks.LambdaInvoke(
            self,
            "EvalPreparePrompts",
            comment="Validate the prompt catalog; write it in Bedrock's dataset format.",
            lambda_function=evaluation.prepare_function,
            payload=sfn.TaskInput.from_object(
                {
                    "catalogKey": opts.prompt_catalog_key,
                    "runId": sfn.JsonPath.string_at("$.evaluation.runId"),
                }
            ),
            payload_response_only=True,
            result_path="$.evaluation.prompts",
            retry_on_service_exceptions=True,
        )
        prepare.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")
        prompts_invalid = sfn.Pass(
            self,
            "EvalPromptsInvalid",
            parameters={
                "Error": "EvaluationPromptsInvalid",
                "Cause.$": "States.JsonToString($.evaluation.prompts.errors)",
            },
            result_path="$.evaluationError",
        ).next(on_error)

        jobs = sfn.Parallel(
            self,
            "EvalRunJobs",
            comment="One evaluation job per model and metric kind, each polled to the end.",
            result_path="$.evaluation.jobs",
        )
        kinds = [("judge", opts.judge_metrics), ("builtin", opts.algorithmic_metrics)]
        roles = [("candidate", candidate)]
        if opts.compare_with_base_model:
            roles.append(("baseline", evaluation.baseline_model_id))
        for role, model in roles:
            for kind, metrics in kinds:
                if metrics:
                    jobs.branch(
                        evaluation_job_branch(
                            self, evaluation, role=role, kind=kind, model=model, metrics=metrics
                        )
                    )
        jobs.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")

        report = tasks.LambdaInvoke(
            self,
            "EvalReport",
            comment="Read the evaluation output; write the JSON report; apply thresholds.",
            lambda_function=evaluation.report_function,
            payload=sfn.TaskInput.from_object(
                {
                    "runId": sfn.JsonPath.string_at("$.evaluation.runId"),
                    "dataset": sfn.JsonPath.string_at("$.evaluation.prompts.datasetS3Uri"),
                    "jobs": sfn.JsonPath.list_at("$.evaluation.jobs"),
                }
            ),
            payload_response_only=True,
            result_path="$.evaluation.report",
            retry_on_service_exceptions=True,
        )
        report.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")
        notify_report = self._notify(
            "EvalNotifyReport",
            "Model evaluation report",
            {
                "result": "EVALUATED",
                "execution": sfn.JsonPath.execution_id,
                "passed": sfn.JsonPath.object_at("$.evaluation.report.passed"),
                "failures": sfn.JsonPath.object_at("$.evaluation.report.failures"),
                "reportS3Uri": sfn.JsonPath.string_at("$.evaluation.report.reportS3Uri"),
                "summary": sfn.JsonPath.object_at("$.evaluation.report.summary"),
                "delta": sfn.JsonPath.object_at("$.evaluation.report.delta"),
            },
        )
        threshold_fail = sfn.Fail(
            self,
            "EvalThresholdNotMet",
            error="EvaluationThresholdNotMet",
            cause="The evaluation did not meet the thresholds; see the report.",
        )
        not_met: sfn.IChainable = threshold_fail
        if delete_throughput is not None:
            delete_throughput.add_catch(
                threshold_fail, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD
            )
            not_met = delete_throughput.next(threshold_fail)
        gate = (
            sfn.Choice(self, "EvalGate", comment="Thresholds met?")
            .when(sfn.Condition.boolean_equals("$.evaluation.report.passed", True), on_passed)
            .otherwise(not_met)
        )
        prompts_ok = (
            sfn.Choice(self, "EvalPromptsValid?")
            .when(
                sfn.Condition.boolean_equals("$.evaluation.prompts.valid", False), prompts_invalid
            )
            .otherwise(jobs)
        )
        jobs.next(report).next(notify_report).next(gate)

        prepare.next(prompts_ok)
        if not provision:
            setup = sfn.Pass(
                self,
                "EvalSetup",
                parameters={"runId.$": "$$.Execution.Name"},
                result_path="$.evaluation",
            )
            setup.next(prepare)
            return setup
        assert custom_model_name_path is not None
        return self._provision_throughput(
            evaluation,
            custom_model_name_path=custom_model_name_path,
            then=prepare,
            on_create_error=failed,
            on_error=on_error,
        )

    def _provision_throughput(
        self,
        evaluation: ModelEvaluation,
        *,
        custom_model_name_path: str,
        then: sfn.IChainable,
        on_create_error: sfn.IChainable,
        on_error: sfn.IChainable,
    ) -> sfn.State:
        """``EvalProvisionThroughput`` for the custom model, then poll it every
        ``poll_interval_seconds`` until InService (-> ``then``), Failed or ``max_polls``
        (-> ``EvalThroughputFailed`` -> ``on_error``)."""
        opts = evaluation.options
        create = tasks.CallAwsService(
            self,
            "EvalProvisionThroughput",
            comment="No-commitment provisioned throughput so the custom model can be invoked.",
            service="bedrock",
            action="createProvisionedModelThroughput",
            parameters={
                "ModelId.$": custom_model_name_path,
                "ModelUnits": opts.model_units,
                "ProvisionedModelName.$": "States.Format('eval-{}', States.UUID())",
            },
            iam_resources=[
                bedrock_arn("custom-model/*"),
                bedrock_arn("provisioned-model/*"),
            ],
            result_selector={"arn.$": "$.ProvisionedModelArn"},
            result_path="$.evaluation.throughput",
        )
        create.add_catch(on_create_error, errors=["States.ALL"], result_path="$.evaluationError")
        remember = sfn.Pass(
            self,
            "EvalRememberModel",
            parameters={
                "runId.$": "$$.Execution.Name",
                "polls": 0,
                "candidateModel.$": "$.evaluation.throughput.arn",
            },
            result_path="$.evaluation",
        )
        wait = sfn.Wait(
            self,
            "EvalWaitThroughput",
            time=sfn.WaitTime.duration(Duration.seconds(opts.poll_interval_seconds)),
        )
        get = tasks.CallAwsService(
            self,
            "EvalGetThroughput",
            service="bedrock",
            action="getProvisionedModelThroughput",
            parameters={"ProvisionedModelId.$": "$.evaluation.candidateModel"},
            iam_resources=[bedrock_arn("provisioned-model/*")],
            result_selector={"status.$": "$.Status"},
            result_path="$.evaluation.throughputStatus",
        )
        get.add_retry(errors=["Bedrock.ThrottlingException"], interval=Duration.seconds(10))
        get.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")
        count = sfn.Pass(
            self,
            "EvalCountThroughputPoll",
            parameters={"polls.$": "States.MathAdd($.evaluation.polls, 1)"},
            result_path="$.evaluation.counter",
        )
        keep_count = sfn.Pass(
            self,
            "EvalKeepThroughputPollCount",
            input_path="$.evaluation.counter.polls",
            result_path="$.evaluation.polls",
        )
        throughput_failed = sfn.Pass(
            self,
            "EvalThroughputFailed",
            parameters={
                "Error": "ProvisionedThroughputFailed",
                "Cause": "The provisioned throughput did not reach InService.",
            },
            result_path="$.evaluationError",
        ).next(on_error)
        ready = (
            sfn.Choice(self, "EvalThroughputReady?")
            .when(
                sfn.Condition.string_equals("$.evaluation.throughputStatus.status", "InService"),
                then,
            )
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals("$.evaluation.throughputStatus.status", "Failed"),
                    sfn.Condition.number_greater_than_equals("$.evaluation.polls", opts.max_polls),
                ),
                throughput_failed,
            )
            .otherwise(count)
        )
        count.next(keep_count).next(wait)
        create.next(remember).next(wait).next(get).next(ready)
        return create

    def _notify(self, id: str, subject: str, message: dict[str, Any]) -> tasks.SnsPublish:
        return notify(self, id, topic=self._evaluation.topic, subject=subject, message=message)
