"""How a :class:`BedrockFineTuneJob` execution starts: the input check in front of the
workflow and the EventBridge rule that starts it when a ready marker lands.

Both build their resources in the job's own scope, so their construct paths (and logical IDs)
are the job's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Annotations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.bedrock import BedrockFineTuneJob
    from cdk_llm_training.constructs.model_evaluation import ModelEvaluation
    from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

READY_MARKER_NEEDS_EVENTS_WARNING = "cdk-llm-training/bedrock-fine-tune-job:readyMarkerNeedsEvents"


def check_input(
    job: BedrockFineTuneJob, evaluation: ModelEvaluation | None, validate: sfn.IChainable
) -> sfn.IChainable:
    """The first state. The validator checks the dataset fields of the input; with an
    evaluation of a given model (``provision_throughput=False``), ``evaluationModelArn``
    is checked here, before the paid customization job, not after it."""
    if evaluation is None or evaluation.options.provision_throughput:
        return validate
    path = "$.evaluationModelArn"
    invalid = job._notify_failed(
        "NotifyInvalidInput",
        subject="Bedrock customization: invalid input, no job started",
        message={
            "result": "INVALID_INPUT",
            "execution": sfn.JsonPath.execution_id,
            # Not the input itself: one near the 256 KiB payload quota would push the
            # message over SNS's limit. The execution ID leads to it.
            "reason": "evaluationModelArn is missing, empty or not a string.",
        },
        fail_id="InvalidInput",
        cause="The input needs evaluationModelArn (the ARN or id of the model to evaluate).",
    )
    return (
        sfn.Choice(job, "CheckInput", comment="evaluationModelArn before any cost.")
        .when(
            sfn.Condition.and_(
                sfn.Condition.is_present(path),
                sfn.Condition.is_string(path),
                # An ARN or a model / inference-profile id: both are valid evaluation
                # model identifiers (the API pattern); an empty string is not.
                sfn.Condition.not_(sfn.Condition.string_equals(path, "")),
            ),
            validate,
        )
        .otherwise(invalid)
    )


def create_ready_marker_rule(
    job: BedrockFineTuneJob, data_lake: TrainingDataLake | None
) -> events.Rule:
    """``ReadyMarkerRule`` (and its target role) starting ``job`` when
    ``<dataset_prefix>*/<ready_marker_name>`` is created in the dataset bucket."""
    opts = job.options
    if data_lake is not None and not data_lake.options.event_bridge_enabled:
        Annotations.of(job).add_warning_v2(
            READY_MARKER_NEEDS_EVENTS_WARNING,
            "start_on_ready_marker is on but the data lake does not send S3 events to "
            "EventBridge (DataLakeOptions.event_bridge_enabled=False): the rule never fires.",
        )
    pattern = f"{opts.dataset_prefix}*/{opts.ready_marker_name}"
    rule = events.Rule(
        job,
        "ReadyMarkerRule",
        description=f"Start the Bedrock fine-tune workflow when {pattern} lands.",
        event_pattern=events.EventPattern(
            source=["aws.s3"],
            detail_type=["Object Created"],
            detail={
                "bucket": {"name": [job.dataset_bucket.bucket_name]},
                "object": {"key": events.Match.wildcard(pattern)},
            },
        ),
    )
    # CDK's default target role trusts events.amazonaws.com unconditioned; EventBridge sends
    # the rule's ARN as aws:SourceArn ("Cross-service confused deputy prevention in Amazon
    # EventBridge"). rule/* of this account and Region: naming the rule itself would
    # make the role and the rule depend on each other.
    role = iam.Role(
        job,
        "ReadyMarkerRole",
        description="Assumed by EventBridge to start the fine-tune workflow.",
        assumed_by=service_principal_from(
            "events.amazonaws.com", this_account_arn("events", "rule/*")
        ),
    )
    rule.add_target(
        targets.SfnStateMachine(
            job.state_machine,
            role=role,
            input=events.RuleTargetInput.from_object(
                {
                    "readyMarker": {
                        "bucket": events.EventField.from_path("$.detail.bucket.name"),
                        "key": events.EventField.from_path("$.detail.object.key"),
                    }
                }
            ),
        )
    )
    return rule
