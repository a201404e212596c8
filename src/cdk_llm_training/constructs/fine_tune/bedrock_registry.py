"""Record a Bedrock custom model in a SageMaker Model Registry group (opt-in).

The same registry view as :class:`cdk_llm_training.BedrockModelImport`: a model package version
without an inference specification (``CreateModelPackage`` has no required members), pending
manual approval, whose customer metadata says where the model is served
(``servingTarget=bedrock``) and which custom model, base model and job it came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import Aws
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.constructs._workflow import caught_error_message, notify_and_fail

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.bedrock import BedrockFineTuneJob

RECORD_STATE_ID = "RecordInRegistry"


def registry_package_arns(group_name: str) -> list[str]:
    """The group and its versions: the only resources ``sagemaker:CreateModelPackage`` may
    name (the same pair BedrockModelImport grants)."""
    sagemaker = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    return [
        f"{sagemaker}:model-package/{group_name}/*",
        f"{sagemaker}:model-package-group/{group_name}",
    ]


def record_in_registry_state(
    scope: Construct,
    *,
    group_name: str,
    customization_type: str,
    gated: bool,
    on_recorded: sfn.IChainable,
    on_failure: sfn.IChainable,
) -> sfn.IChainable:
    """``RecordInRegistry`` (``sagemaker:createModelPackage``) -> ``on_recorded``; any error
    (after retries on throttling) -> ``on_failure`` with the error in ``$.error``.

    Reads the ``.sync`` job result in ``$.job`` (``OutputModelArn``, ``BaseModelArn``,
    ``JobArn``) and, when ``gated``, the evaluation report in ``$.evaluation.report``.
    """
    metadata: dict[str, Any] = {
        "servingTarget": "bedrock",
        "customModelArn": sfn.JsonPath.string_at("$.job.OutputModelArn"),
        "baseModel": sfn.JsonPath.string_at("$.job.BaseModelArn"),
        "customizationType": customization_type,
        "jobArn": sfn.JsonPath.string_at("$.job.JobArn"),
    }
    if gated:
        # Only a passed gate reaches this state; the report holds the scores behind it.
        metadata["evaluationVerdict"] = "PASSED"
        metadata["evaluationReport"] = sfn.JsonPath.string_at("$.evaluation.report.reportS3Uri")
    record = tasks.CallAwsService(
        scope,
        RECORD_STATE_ID,
        comment="List the Bedrock custom model in the registry group, pending approval.",
        service="sagemaker",
        action="createModelPackage",
        iam_action="sagemaker:CreateModelPackage",
        iam_resources=registry_package_arns(group_name),
        parameters={
            "ModelPackageGroupName": group_name,
            "ModelPackageDescription": sfn.JsonPath.format(
                "Bedrock custom model {}", sfn.JsonPath.string_at("$.job.OutputModelName")
            ),
            "ModelApprovalStatus": "PendingManualApproval",
            "CustomerMetadataProperties": metadata,
        },
        result_selector={"ModelPackageArn.$": "$.ModelPackageArn"},
        result_path="$.modelPackage",
    )
    record.add_retry(errors=["SageMaker.ThrottlingException"], max_attempts=3, backoff_rate=2)
    record.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")
    return record.next(on_recorded)


def registration_failed_message() -> dict[str, Any]:
    """The notification of a failed registration: the job succeeded, the package is missing."""
    return caught_error_message(
        "REGISTRATION_FAILED", customModelArn=sfn.JsonPath.string_at("$.job.OutputModelArn")
    )


def then_record(job: BedrockFineTuneJob, on_recorded: sfn.IChainable) -> sfn.IChainable:
    """``on_recorded`` itself without ``options.registry_group_name``; else ``RecordInRegistry``
    -> ``on_recorded``, a failed registration -> ``NotifyRegistrationFailed`` ->
    ``RegistrationFailed`` (the custom model exists; only its registry entry is missing)."""
    group_name = job.options.registry_group_name
    if group_name is None:
        return on_recorded
    failed = notify_and_fail(
        job,
        "NotifyRegistrationFailed",
        topic=job.topic,
        subject="Bedrock customization: recording the model in the registry failed",
        message=registration_failed_message(),
        fail_id="RegistrationFailed",
        error="RegistrationFailed",
        cause="The custom model was created but not recorded in the registry; see the "
        "notification.",
    )
    return record_in_registry_state(
        job,
        group_name=group_name,
        customization_type=job.options.customization_type.value,
        gated=job.evaluation is not None,
        on_recorded=on_recorded,
        on_failure=failed,
    )
