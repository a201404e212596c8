"""ModelEvaluationSteps: the states of :class:`ModelEvaluation` as a Step Functions fragment.

Bedrock evaluation jobs have no CloudFormation resource and no Step Functions ``.sync``
integration: the states call ``aws-sdk:bedrock:createEvaluationJob`` and poll
``getEvaluationJob`` in a Wait loop with a poll limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.catalogs.custom_model_deployment import EvaluationInference
from cdk_llm_training.constructs._workflow import notify
from cdk_llm_training.constructs.evaluation.model_evaluation_inference import (
    DEPLOYMENT_PATH,
    THROUGHPUT_PATH,
    delete_task,
    deploy_on_demand,
    generate_responses,
    inference_summary,
    provision_throughput,
)
from cdk_llm_training.constructs.evaluation.model_evaluation_jobs import evaluation_job_branch

if TYPE_CHECKING:
    from cdk_llm_training.constructs.evaluation.model_evaluation import ModelEvaluation


class ModelEvaluationSteps(sfn.StateMachineFragment):
    """The evaluation states of ``evaluation``: embed them in a workflow like one state.

    With ``options.provision_throughput`` and ``custom_model_name_path`` the states make the
    new custom model invocable by ``evaluation.inference``: provisioned throughput
    (``EvalProvisionThroughput``, polled until InService) or a custom model deployment for
    on-demand inference (``EvalDeploy``, polled until Active); otherwise ``EvalSetup``. Then
    ``EvalPreparePrompts`` -> (on-demand: ``EvalGenerateResponses``, looped until every prompt
    is answered) -> ``EvalRunJobs`` (a Parallel of evaluation jobs: candidate and, with
    ``compare_with_base_model``, base model; judge metrics and, when set, algorithmic metrics)
    -> ``EvalReport`` -> ``EvalNotifyReport`` -> ``EvalGate``. What the states created is
    deleted on every path (``EvalDelete<Throughput|Deployment>``, ``...AfterError``,
    ``...AfterPass``) except a passed gate with ``keep_deployment``; failures end in
    ``EvalThresholdNotMet`` or ``EvalFailed`` after the notification.

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
        custom_model_arn_path: str | None = None,
        candidate_model_path: str = "$.evaluationModelArn",
    ) -> None:
        """:param evaluation: the roles, functions, buckets and options the states use.
        :param on_passed: where to go when the gate passes; its end states are the
            fragment's. Default: an ``EvalPassed`` Pass state, to chain with ``.next()``.
        :param custom_model_name_path: JSON path of the new custom model's name. With
            ``options.provision_throughput`` the states make it invocable (see
            ``ModelEvaluation.inference``) and delete what they created.
        :param custom_model_arn_path: JSON path of the new custom model's ARN (a custom model
            deployment needs the ARN, not the name). Needed when the route is on-demand.
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
            custom_model_arn_path=custom_model_arn_path,
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
        custom_model_arn_path: str | None,
        candidate_model_path: str,
    ) -> sfn.State:
        opts = evaluation.options
        route = evaluation.inference if custom_model_name_path is not None else None
        if route is EvaluationInference.ON_DEMAND and custom_model_arn_path is None:
            raise ValueError(
                "on-demand evaluation (evaluation_inference resolved to 'on-demand') needs "
                "custom_model_arn_path, the JSON path of the new custom model's ARN"
            )
        candidate = {
            None: candidate_model_path,
            EvaluationInference.PROVISIONED: THROUGHPUT_PATH,
            EvaluationInference.ON_DEMAND: DEPLOYMENT_PATH,
        }[route]
        noun = "Deployment" if route is EvaluationInference.ON_DEMAND else "Throughput"

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
        if route is not None:
            # Every failure after the create deletes what it created, then notifies; a
            # failing delete still notifies.
            cleanup = delete_task(self, f"EvalDelete{noun}AfterError", route)
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
                            self,
                            evaluation,
                            role=role,
                            kind=kind,
                            model=model,
                            metrics=metrics,
                            precomputed=role == "candidate"
                            and route is EvaluationInference.ON_DEMAND,
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
        message: dict[str, Any] = {
            "result": "EVALUATED",
            "execution": sfn.JsonPath.execution_id,
            "passed": sfn.JsonPath.object_at("$.evaluation.report.passed"),
            "failures": sfn.JsonPath.object_at("$.evaluation.report.failures"),
            "reportS3Uri": sfn.JsonPath.string_at("$.evaluation.report.reportS3Uri"),
            "summary": sfn.JsonPath.object_at("$.evaluation.report.summary"),
            "delta": sfn.JsonPath.object_at("$.evaluation.report.delta"),
        }
        if route is not None:
            message["inference"] = inference_summary(evaluation, route, candidate)
        notify_report = self._notify("EvalNotifyReport", "Model evaluation report", message)
        threshold_fail = sfn.Fail(
            self,
            "EvalThresholdNotMet",
            error="EvaluationThresholdNotMet",
            cause="The evaluation did not meet the thresholds; see the report.",
        )
        not_met: sfn.IChainable = threshold_fail
        passed: sfn.IChainable = on_passed
        if route is not None:
            delete_on_fail = delete_task(self, f"EvalDelete{noun}", route)
            delete_on_fail.add_catch(
                threshold_fail, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD
            )
            not_met = delete_on_fail.next(threshold_fail)
            if not opts.keep_deployment:
                delete_on_pass = delete_task(self, f"EvalDelete{noun}AfterPass", route)
                delete_on_pass.add_catch(
                    on_error, errors=["States.ALL"], result_path="$.evaluationError"
                )
                passed = delete_on_pass.next(on_passed)
        gate = (
            sfn.Choice(self, "EvalGate", comment="Thresholds met?")
            .when(sfn.Condition.boolean_equals("$.evaluation.report.passed", True), passed)
            .otherwise(not_met)
        )
        jobs.next(report).next(notify_report).next(gate)
        after_prompts: sfn.IChainable = jobs
        if route is EvaluationInference.ON_DEMAND:
            after_prompts = generate_responses(self, evaluation, then=jobs, on_error=on_error)
        prompts_ok = (
            sfn.Choice(self, "EvalPromptsValid?")
            .when(
                sfn.Condition.boolean_equals("$.evaluation.prompts.valid", False), prompts_invalid
            )
            .otherwise(after_prompts)
        )
        prepare.next(prompts_ok)
        if route is None:
            setup = sfn.Pass(
                self,
                "EvalSetup",
                parameters={"runId.$": "$$.Execution.Name"},
                result_path="$.evaluation",
            )
            setup.next(prepare)
            return setup
        if route is EvaluationInference.ON_DEMAND:
            assert custom_model_arn_path is not None
            return deploy_on_demand(
                self,
                evaluation,
                custom_model_arn_path=custom_model_arn_path,
                then=prepare,
                on_create_error=failed,
                on_error=on_error,
            )
        assert custom_model_name_path is not None
        return provision_throughput(
            self,
            evaluation,
            custom_model_name_path=custom_model_name_path,
            then=prepare,
            on_create_error=failed,
            on_error=on_error,
        )

    def _notify(self, id: str, subject: str, message: dict[str, Any]) -> tasks.SnsPublish:
        return notify(self, id, topic=self._evaluation.topic, subject=subject, message=message)
