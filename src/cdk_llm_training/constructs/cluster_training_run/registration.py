"""What a successful cluster run does after its report, opt-in (``ClusterRunOptions``
``evaluation`` and ``registry_group_name``): find the model folder the job wrote, score it with
the small tier's task-metrics job and gate, and record it in a SageMaker model package group.

The model folder is ``<checkpoint_prefix><output_name>/model/`` in the artifacts zone (the job
saves its final model to ``$CHECKPOINT_DIR/model/``; the checkpoint link exports it).

States (children of the run): ``LocateModel`` (``aws-sdk:s3:listObjectsV2``, one key) ->
``ModelFound?`` (none: ``NotifyModelMissing`` -> ``ModelMissing``) -> ``ModelFolder`` -> with
evaluation the :class:`TaskMetricsSteps` fragment (missed threshold: ``NotifyEvaluationFailed``;
job or report error: ``NotifyEvaluationError``; both -> ``EvaluationFailed``) -> with a group
``RegisterModel`` (``sagemaker:createModelPackage``, PendingManualApproval; error:
``NotifyRegistrationFailed`` -> ``RegistrationFailed``) -> the run's ``NotifySucceeded``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import Aws
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from cdk_llm_training.config.cluster_training_run import MODEL_FOLDER
from cdk_llm_training.constructs._workflow import (
    caught_error_message,
    list_statement,
    notify,
    notify_and_fail,
)
from cdk_llm_training.constructs.fine_tune.bedrock_registry import registry_package_arns
from cdk_llm_training.constructs.fine_tune.sagemaker_evidence import (
    EVALUATION_PASSED,
    NOT_EVALUATED,
)

if TYPE_CHECKING:
    from cdk_llm_training.constructs.cluster_training_run.run import ClusterTrainingRun

LISTING_PATH = "$.modelListing"
"""Where ``LocateModel`` puts the ListObjectsV2 answer."""
MODEL_PATH = "$.model"
"""Where ``ModelFolder`` puts ``s3Uri`` (the model folder)."""
PACKAGE_PATH = "$.modelPackage"


def after_report(run: ClusterTrainingRun, on_done: sfn.IChainable) -> sfn.IChainable:
    """``on_done`` itself when neither option is set; else the states of the module doc."""
    opts = run.options
    if run.task_metrics is None and opts.registry_group_name is None:
        return on_done
    then: sfn.IChainable = on_done
    if opts.registry_group_name is not None:
        then = _register(run, opts.registry_group_name, then)
    if run.task_metrics is not None:
        then = _evaluate(run, then)
    return _locate_model(run, then)


def succeeded_fields(run: ClusterTrainingRun) -> dict[str, Any]:
    """What the success notification adds with the options: the model folder, the package
    ARN, the task-metrics summary."""
    fields: dict[str, Any] = {}
    if run.task_metrics is None and run.options.registry_group_name is None:
        return fields
    fields["model"] = sfn.JsonPath.string_at(f"{MODEL_PATH}.s3Uri")
    if run.task_metrics is not None:
        fields["taskMetrics"] = sfn.JsonPath.object_at("$.taskMetrics.result.report.summary")
    if run.options.registry_group_name is not None:
        fields["modelPackageArn"] = sfn.JsonPath.string_at(f"{PACKAGE_PATH}.ModelPackageArn")
    return fields


def _model_prefix(run: ClusterTrainingRun) -> str:
    return f"{run.options.checkpoint_prefix}{{}}/{MODEL_FOLDER}"


def _locate_model(run: ClusterTrainingRun, then: sfn.IChainable) -> sfn.IChainable:
    bucket = run.artifacts_bucket
    prefix = _model_prefix(run)
    # CallAwsService would grant s3:ListBucket on the whole bucket; the grant below is limited
    # to the checkpoint prefix (the only keys this state lists).
    locate = sfn.CustomState(
        run,
        "LocateModel",
        state_json={
            "Type": "Task",
            "Comment": "Is there a model folder (<checkpoint prefix><output name>/"
            f"{MODEL_FOLDER})?",
            "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:s3:listObjectsV2",
            "Parameters": {
                "Bucket": bucket.bucket_name,
                "Prefix.$": f"States.Format('{prefix}', $.run.outputName)",
                "MaxKeys": 1,
            },
            # The whole answer (MaxKeys 1: at most one object): a ResultSelector reading
            # members the API model marks optional would fail where a Choice can test them.
            "ResultPath": LISTING_PATH,
        },
    )
    locate.add_catch(run.notify_failed, errors=["States.ALL"], result_path="$.error")
    missing = notify_and_fail(
        run,
        "NotifyModelMissing",
        topic=run.topic,
        subject="Training run: no model folder",
        message={
            "result": "MODEL_MISSING",
            "execution": sfn.JsonPath.execution_id,
            "jobId": sfn.JsonPath.string_at("$.report.jobId"),
            "report": sfn.JsonPath.string_at("$.report.reportS3Uri"),
            "expected": sfn.JsonPath.format(
                f"s3://{bucket.bucket_name}/{prefix}", sfn.JsonPath.string_at("$.run.outputName")
            ),
            "message": "The job succeeded but wrote no model folder: save the final model to "
            f"$CHECKPOINT_DIR/{MODEL_FOLDER} so the checkpoint link exports it; nothing was "
            "evaluated or registered.",
        },
        fail_id="ModelMissing",
        error="ModelFolderMissing",
        cause=f"No objects under <checkpoint prefix><output name>/{MODEL_FOLDER}; see the "
        "notification.",
    )
    found = (
        sfn.Choice(run, "ModelFound?")
        .when(
            # KeyCount is optional in the API model: test that it is there first.
            sfn.Condition.and_(
                sfn.Condition.is_present(f"{LISTING_PATH}.KeyCount"),
                sfn.Condition.number_greater_than(f"{LISTING_PATH}.KeyCount", 0),
            ),
            sfn.Pass(
                run,
                "ModelFolder",
                comment="The model folder's S3 URI, for the evaluation and the registry.",
                parameters={
                    "s3Uri": sfn.JsonPath.format(
                        f"s3://{bucket.bucket_name}/{prefix}",
                        sfn.JsonPath.string_at("$.run.outputName"),
                    )
                },
                result_path=MODEL_PATH,
            ).next(then),
        )
        .otherwise(missing)
    )
    return locate.next(found)


def _evaluate(run: ClusterTrainingRun, on_passed: sfn.IChainable) -> sfn.IChainable:
    task_metrics = run.task_metrics
    assert task_metrics is not None
    report_key = f"{task_metrics.options.report_prefix}{{}}/report.json"
    failed = sfn.Fail(
        run,
        "EvaluationFailed",
        error="EvaluationFailed",
        cause="The run succeeded but its model was not registered: the task-metrics job failed "
        "or a threshold was not met; see the notification and the report.",
    )
    below_threshold = notify(
        run,
        "NotifyEvaluationFailed",
        topic=run.topic,
        subject="Training run: model below the evaluation thresholds",
        message={
            "result": "EVALUATION_FAILED",
            "execution": sfn.JsonPath.execution_id,
            "model": sfn.JsonPath.string_at(f"{MODEL_PATH}.s3Uri"),
            "taskMetrics": sfn.JsonPath.object_at("$.taskMetrics.result.report.summary"),
            "failures": sfn.JsonPath.list_at("$.taskMetrics.result.report.failures"),
            "reportKey": sfn.JsonPath.format(report_key, sfn.JsonPath.execution_name),
        },
    ).next(failed)
    job_failed = notify(
        run,
        "NotifyEvaluationError",
        topic=run.topic,
        subject="Training run: evaluation failed to run",
        message={
            "result": "EVALUATION_ERROR",
            "execution": sfn.JsonPath.execution_id,
            "model": sfn.JsonPath.string_at(f"{MODEL_PATH}.s3Uri"),
            "error": sfn.JsonPath.string_at("$.taskMetricsError.Error"),
            "cause": sfn.JsonPath.string_at("$.taskMetricsError.Cause"),
        },
    ).next(failed)
    on_failed = (
        sfn.Choice(run, "EvaluationReportRead?")
        .when(sfn.Condition.is_present("$.taskMetrics.result.report"), below_threshold)
        .otherwise(job_failed)
    )
    return task_metrics.chain(
        predictions_s3_uri_path=f"{MODEL_PATH}.s3Uri",
        model_name_path="$.run.outputName",
        on_passed=on_passed,
        on_failed=on_failed,
    )


def package_metadata(run: ClusterTrainingRun) -> dict[str, Any]:
    """``CustomerMetadataProperties`` of the package (JSONPath keys end in ``.$``): the run
    report, job, model folder and figures (numbers as text: the API takes strings of letters,
    numbers, spaces and ``_.:/=+-@``, so the report's free-form ``finalMetrics`` stay in the
    report), the evaluation verdict, report and gated scores. 11 + one per gated metric, far
    below the API's 50 entries."""
    metadata: dict[str, Any] = {
        "source": "cluster-training-run",
        "runReport.$": "$.report.reportS3Uri",
        "jobId.$": "$.report.jobId",
        "outputName.$": "$.run.outputName",
        "modelArtifact.$": f"{MODEL_PATH}.s3Uri",
        "instanceType.$": "$.report.instanceType",
        "nodes.$": "States.Format('{}', $.report.nodes)",
        "nodeHours.$": "States.Format('{}', $.report.nodeHours)",
        "durationSeconds.$": "States.Format('{}', $.report.durationSeconds)",
    }
    task_metrics = run.task_metrics
    if task_metrics is None:
        metadata["evaluationVerdict"] = NOT_EVALUATED
        return metadata
    # Only a passed gate reaches the registration; the report holds the scores behind it.
    metadata["evaluationVerdict"] = EVALUATION_PASSED
    metadata["evaluationReport.$"] = _evaluation_report_uri(run)
    for name in sorted(task_metrics.options.min_scores):
        metadata[f"score.{name}.$"] = (
            f"States.Format('{{}}', $.taskMetrics.result.report.summary.metrics.{name})"
        )
    return metadata


def _evaluation_report_uri(run: ClusterTrainingRun) -> str:
    assert run.task_metrics is not None
    bucket = run.task_metrics.output_bucket.bucket_name
    prefix = run.task_metrics.options.report_prefix
    return f"States.Format('s3://{bucket}/{prefix}{{}}/report.json', $$.Execution.Name)"


def _register(run: ClusterTrainingRun, group_name: str, then: sfn.IChainable) -> sfn.IChainable:
    parameters: dict[str, Any] = {
        "ModelPackageGroupName": group_name,
        "ModelPackageDescription": sfn.JsonPath.format(
            "Model of cluster training run {} ({})",
            sfn.JsonPath.string_at("$.report.jobId"),
            sfn.JsonPath.string_at("$.run.outputName"),
        ),
        "ModelApprovalStatus": "PendingManualApproval",
        "CustomerMetadataProperties": package_metadata(run),
    }
    if run.task_metrics is not None:
        # As the small tier: the evaluation report is the version's model-quality statistics.
        parameters["ModelMetrics"] = {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri.$": _evaluation_report_uri(run),
                }
            }
        }
    failed = notify_and_fail(
        run,
        "NotifyRegistrationFailed",
        topic=run.topic,
        subject="Training run: recording the model in the registry failed",
        message=caught_error_message(
            "REGISTRATION_FAILED",
            model=sfn.JsonPath.string_at(f"{MODEL_PATH}.s3Uri"),
            report=sfn.JsonPath.string_at("$.report.reportS3Uri"),
        ),
        fail_id="RegistrationFailed",
        error="RegistrationFailed",
        cause="The run succeeded but its model was not recorded in the registry; see the "
        "notification.",
    )
    register = tasks.CallAwsService(
        run,
        "RegisterModel",
        comment="Record the model as a new version of the group, pending manual approval.",
        service="sagemaker",
        action="createModelPackage",
        iam_action="sagemaker:CreateModelPackage",
        iam_resources=registry_package_arns(group_name),
        parameters=parameters,
        result_selector={"ModelPackageArn.$": "$.ModelPackageArn"},
        result_path=PACKAGE_PATH,
    )
    register.add_retry(errors=["SageMaker.ThrottlingException"], max_attempts=3, backoff_rate=2)
    register.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    return register.next(then)


def grant_workflow(run: ClusterTrainingRun) -> None:
    """What the states need besides the task's own grants: list the checkpoint prefix (only),
    run the task-metrics job. Nothing without the options."""
    if run.task_metrics is None and run.options.registry_group_name is None:
        return
    run.state_machine.add_to_role_policy(
        list_statement(run.artifacts_bucket, run.options.checkpoint_prefix, "ListModelFolder")
    )
    if run.task_metrics is not None:
        run.task_metrics.grant_workflow(run.state_machine)
