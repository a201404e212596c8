"""How :class:`ModelEvaluationSteps` makes a new custom model invocable and removes it again.

Two routes (``ModelEvaluationOptions.evaluation_inference``):

* provisioned: ``createProvisionedModelThroughput`` (no commitment), polled until InService;
  the evaluation jobs invoke the provisioned model; removed with
  ``deleteProvisionedModelThroughput``.
* on-demand: ``createCustomModelDeployment``, polled until Active (statuses Creating, Active,
  Failed); Bedrock evaluation jobs do not take a deployment ARN as the evaluated model, so a
  Lambda answers the prompts through the deployment (``Converse``) and the candidate's job
  evaluates those answers ("bring your own inference responses"); removed with
  ``deleteCustomModelDeployment``.

Every state here is built in the fragment's scope, so its id is its state name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.catalogs.custom_model_deployment import (
    ON_DEMAND_PRICING,
    PROVISIONED_PRICING,
    EvaluationInference,
)
from cdk_llm_training.constructs.evaluation._arns import bedrock_arn

if TYPE_CHECKING:
    from cdk_llm_training.constructs.evaluation.model_evaluation import ModelEvaluation

DEPLOYMENT_PATH = "$.evaluation.deployment"
"""Where the on-demand route keeps the custom model deployment's ARN."""
THROUGHPUT_PATH = "$.evaluation.candidateModel"
"""Where the provisioned route keeps the provisioned model's ARN."""
DELETE_RETRY_ERRORS = ["Bedrock.ThrottlingException", "Bedrock.ConflictException"]
"""Delete again after these: a resource still changing state answers ConflictException."""


def delete_task(scope: Construct, id: str, route: EvaluationInference) -> tasks.CallAwsService:
    """A state deleting what ``route`` created (its ARN at :data:`DEPLOYMENT_PATH` or
    :data:`THROUGHPUT_PATH`); throttling and conflicts are retried."""
    if route is EvaluationInference.ON_DEMAND:
        task = tasks.CallAwsService(
            scope,
            id,
            comment="Delete the evaluation's custom model deployment.",
            service="bedrock",
            action="deleteCustomModelDeployment",
            parameters={"CustomModelDeploymentIdentifier.$": DEPLOYMENT_PATH},
            iam_resources=[bedrock_arn("custom-model-deployment/*")],
            result_path=sfn.JsonPath.DISCARD,
        )
    else:
        task = tasks.CallAwsService(
            scope,
            id,
            comment="Delete the evaluation's provisioned throughput.",
            service="bedrock",
            action="deleteProvisionedModelThroughput",
            parameters={"ProvisionedModelId.$": THROUGHPUT_PATH},
            iam_resources=[bedrock_arn("provisioned-model/*")],
            result_path=sfn.JsonPath.DISCARD,
        )
    task.add_retry(
        errors=DELETE_RETRY_ERRORS,
        interval=Duration.seconds(30),
        backoff_rate=2,
        max_attempts=5,
    )
    return task


def _poll(
    scope: Construct,
    evaluation: ModelEvaluation,
    *,
    noun: str,
    get: tasks.CallAwsService,
    ready_status: str,
    then: sfn.IChainable,
    on_error: sfn.IChainable,
    failed_error: str,
    failed_cause: str,
) -> sfn.Wait:
    """``EvalWait<noun>`` -> ``get`` -> ``Eval<noun>Ready?``: ready -> ``then``; Failed or
    ``max_polls`` -> ``Eval<noun>Failed`` -> ``on_error``; else count and wait again."""
    opts = evaluation.options
    wait = sfn.Wait(
        scope,
        f"EvalWait{noun}",
        time=sfn.WaitTime.duration(Duration.seconds(opts.poll_interval_seconds)),
    )
    get.add_retry(errors=["Bedrock.ThrottlingException"], interval=Duration.seconds(10))
    get.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")
    count = sfn.Pass(
        scope,
        f"EvalCount{noun}Poll",
        parameters={"polls.$": "States.MathAdd($.evaluation.polls, 1)"},
        result_path="$.evaluation.counter",
    )
    keep_count = sfn.Pass(
        scope,
        f"EvalKeep{noun}PollCount",
        input_path="$.evaluation.counter.polls",
        result_path="$.evaluation.polls",
    )
    status = f"$.evaluation.{noun[0].lower()}{noun[1:]}Status.status"
    not_ready = sfn.Pass(
        scope,
        f"Eval{noun}Failed",
        parameters={
            "Error": failed_error,
            "Cause": failed_cause,
        },
        result_path="$.evaluationError",
    ).next(on_error)
    ready = (
        sfn.Choice(scope, f"Eval{noun}Ready?")
        .when(sfn.Condition.string_equals(status, ready_status), then)
        .when(
            sfn.Condition.or_(
                sfn.Condition.string_equals(status, "Failed"),
                sfn.Condition.number_greater_than_equals("$.evaluation.polls", opts.max_polls),
            ),
            not_ready,
        )
        .otherwise(count)
    )
    count.next(keep_count).next(wait)
    wait.next(get).next(ready)
    return wait


def provision_throughput(
    scope: Construct,
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
        scope,
        "EvalProvisionThroughput",
        comment="No-commitment provisioned throughput so the custom model can be invoked.",
        service="bedrock",
        action="createProvisionedModelThroughput",
        parameters={
            "ModelId.$": custom_model_name_path,
            "ModelUnits": opts.model_units,
            "ProvisionedModelName.$": "States.Format('eval-{}', States.UUID())",
        },
        iam_resources=[bedrock_arn("custom-model/*"), bedrock_arn("provisioned-model/*")],
        result_selector={"arn.$": "$.ProvisionedModelArn"},
        result_path="$.evaluation.throughput",
    )
    create.add_catch(on_create_error, errors=["States.ALL"], result_path="$.evaluationError")
    remember = sfn.Pass(
        scope,
        "EvalRememberModel",
        parameters={
            "runId.$": "$$.Execution.Name",
            "polls": 0,
            "candidateModel.$": "$.evaluation.throughput.arn",
        },
        result_path="$.evaluation",
    )
    get = tasks.CallAwsService(
        scope,
        "EvalGetThroughput",
        service="bedrock",
        action="getProvisionedModelThroughput",
        parameters={"ProvisionedModelId.$": THROUGHPUT_PATH},
        iam_resources=[bedrock_arn("provisioned-model/*")],
        result_selector={"status.$": "$.Status"},
        result_path="$.evaluation.throughputStatus",
    )
    wait = _poll(
        scope,
        evaluation,
        noun="Throughput",
        get=get,
        ready_status="InService",
        then=then,
        on_error=on_error,
        failed_error="ProvisionedThroughputFailed",
        failed_cause="The provisioned throughput did not reach InService.",
    )
    create.next(remember).next(wait)
    return create


def deploy_on_demand(
    scope: Construct,
    evaluation: ModelEvaluation,
    *,
    custom_model_arn_path: str,
    then: sfn.IChainable,
    on_create_error: sfn.IChainable,
    on_error: sfn.IChainable,
) -> sfn.State:
    """``EvalDeploy`` (a custom model deployment of the model at ``custom_model_arn_path``),
    then poll it every ``poll_interval_seconds`` until Active (-> ``then``), Failed or
    ``max_polls`` (-> ``EvalDeploymentFailed`` -> ``on_error``, which deletes it)."""
    create = tasks.CallAwsService(
        scope,
        "EvalDeploy",
        comment="Deploy the custom model for on-demand (per-token) inference.",
        service="bedrock",
        action="createCustomModelDeployment",
        parameters={
            # ModelDeploymentName: ([0-9a-zA-Z][_-]?){1,63}; 'eval-' + a UUID is 41 characters.
            "ModelDeploymentName.$": "States.Format('eval-{}', States.UUID())",
            "ModelArn.$": custom_model_arn_path,
            "Description": "Created by the fine-tune workflow's evaluation; deleted after it.",
            "ClientRequestToken.$": "States.UUID()",
        },
        iam_resources=[bedrock_arn("custom-model/*"), bedrock_arn("custom-model-deployment/*")],
        result_selector={"arn.$": "$.CustomModelDeploymentArn"},
        result_path="$.evaluation.created",
    )
    create.add_retry(errors=["Bedrock.ThrottlingException"], interval=Duration.seconds(30))
    create.add_catch(on_create_error, errors=["States.ALL"], result_path="$.evaluationError")
    remember = sfn.Pass(
        scope,
        "EvalRememberDeployment",
        parameters={
            "runId.$": "$$.Execution.Name",
            "polls": 0,
            "deployment.$": "$.evaluation.created.arn",
            "responses": {"next": 0, "inputTokens": 0, "outputTokens": 0, "done": False},
        },
        result_path="$.evaluation",
    )
    get = tasks.CallAwsService(
        scope,
        "EvalGetDeployment",
        service="bedrock",
        action="getCustomModelDeployment",
        parameters={"CustomModelDeploymentIdentifier.$": DEPLOYMENT_PATH},
        iam_resources=[bedrock_arn("custom-model-deployment/*")],
        result_selector={"status.$": "$.Status"},
        result_path="$.evaluation.deploymentStatus",
    )
    wait = _poll(
        scope,
        evaluation,
        noun="Deployment",
        get=get,
        ready_status="Active",
        then=then,
        on_error=on_error,
        failed_error="CustomModelDeploymentFailed",
        failed_cause="The custom model deployment did not reach Active.",
    )
    create.next(remember).next(wait)
    return create


def generate_responses(
    scope: Construct, evaluation: ModelEvaluation, *, then: sfn.IChainable, on_error: sfn.IChainable
) -> sfn.State:
    """``EvalGenerateResponses`` (the responses Lambda, one batch of prompts per run) ->
    ``EvalResponsesDone?``: again from where it stopped until done, then ``then``. The
    Lambda answers at least one prompt per run or fails, and a catalog holds at most 1000
    prompts, so the loop ends."""
    function = evaluation.responses_function
    assert function is not None, "the on-demand route needs ModelEvaluation.responses_function"
    generate = tasks.LambdaInvoke(
        scope,
        "EvalGenerateResponses",
        comment="Answer the next prompts through the custom model deployment.",
        lambda_function=function,
        payload=sfn.TaskInput.from_object(
            {
                "runId": sfn.JsonPath.string_at("$.evaluation.runId"),
                "datasetS3Uri": sfn.JsonPath.string_at("$.evaluation.prompts.datasetS3Uri"),
                "deploymentArn": sfn.JsonPath.string_at(DEPLOYMENT_PATH),
                "next": sfn.JsonPath.number_at("$.evaluation.responses.next"),
                "inputTokens": sfn.JsonPath.number_at("$.evaluation.responses.inputTokens"),
                "outputTokens": sfn.JsonPath.number_at("$.evaluation.responses.outputTokens"),
            }
        ),
        payload_response_only=True,
        result_path="$.evaluation.responses",
        retry_on_service_exceptions=True,
    )
    generate.add_catch(on_error, errors=["States.ALL"], result_path="$.evaluationError")
    done = (
        sfn.Choice(scope, "EvalResponsesDone?")
        .when(sfn.Condition.boolean_equals("$.evaluation.responses.done", True), then)
        .otherwise(generate)
    )
    generate.next(done)
    return generate


def inference_summary(
    evaluation: ModelEvaluation, route: EvaluationInference, resource_path: str
) -> dict[str, Any]:
    """The ``inference`` part of the report notification: the route, the resource the
    evaluation created, what happens to it after a passed gate and how it is billed (with the
    token counts of the on-demand answers)."""
    opts = evaluation.options
    summary: dict[str, Any] = {
        "route": route.value,
        "resource": sfn.JsonPath.string_at(resource_path),
        "afterPassedGate": "kept" if opts.keep_deployment else "deleted",
    }
    if route is EvaluationInference.ON_DEMAND:
        summary["billing"] = ON_DEMAND_PRICING
        summary["inputTokens"] = sfn.JsonPath.number_at("$.evaluation.responses.inputTokens")
        summary["outputTokens"] = sfn.JsonPath.number_at("$.evaluation.responses.outputTokens")
    else:
        summary["billing"] = PROVISIONED_PRICING
        summary["modelUnits"] = opts.model_units
    return summary
