"""The labeling workflow's three Lambda functions (pre-annotation, annotation consolidation,
conversion to training data), each with its own role and log group, created in the workflow
construct's scope."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_llm_training.config.labeling_workforce import LabelingWorkflowOptions
from cdk_llm_training.config.training_data_lake import DataZone
from cdk_llm_training.constructs._workflow import RETENTION
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.runtime_function import RuntimeFunction
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake


@dataclass(frozen=True)
class TaskFunctions:
    """The functions Ground Truth (pre-annotation, consolidation) and the workflow
    (converter) invoke."""

    pre_annotation: RuntimeFunction
    consolidation: RuntimeFunction
    converter: RuntimeFunction


def create_task_functions(
    scope: Construct,
    opts: LabelingWorkflowOptions,
    *,
    data_lake: TrainingDataLake,
    log_key: kms.IKey,
    removal_policy: RemovalPolicy,
) -> TaskFunctions:
    """``PreAnnotation`` (manifest line to the templates' ``task.input``), ``Consolidation``
    (keeps every worker's answer; reads the output prefix) and ``Converter`` (reads the
    output prefix, writes the dataset prefix)."""

    def function(
        id: str, handler: str, description: str, memory: int, timeout: Duration
    ) -> RuntimeFunction:
        return RuntimeFunction(
            scope,
            id,
            handler=f"labeling_postprocess.{handler}",
            description=description,
            role_description=f"{description} (logs to its own log group only).",
            invoked_by="Ground Truth or the labeling workflow",
            log_retention=RETENTION[opts.log_retention_days],
            log_key=log_key,
            removal_policy=removal_policy,
            memory_mib=memory,
            timeout=timeout,
        )

    pre_annotation = function(
        "PreAnnotation",
        "pre_annotation_handler",
        "Ground Truth pre-annotation: manifest line to task input",
        128,
        Duration.seconds(30),
    )
    consolidation = function(
        "Consolidation",
        "consolidation_handler",
        "Ground Truth annotation consolidation: keeps every worker's answer",
        512,
        Duration.minutes(5),
    )
    data_lake.grant_read(consolidation, zone=DataZone.CURATED, key_prefix=opts.output_prefix)
    converter = function(
        "Converter",
        "convert_handler",
        "Turns a Ground Truth output manifest into training JSONL and a report",
        opts.jobs.converter_memory_mib,
        Duration.minutes(15),
    )
    converter.add_environment("DATASET_BUCKET", data_lake.curated_bucket.bucket_name)
    converter.add_environment("DATASET_PREFIX", opts.dataset_prefix)
    data_lake.grant_read(converter, zone=DataZone.CURATED, key_prefix=opts.output_prefix)
    data_lake.grant_write(converter, zone=DataZone.CURATED, key_prefix=opts.dataset_prefix)
    for granted, prefixes in (
        (consolidation, opts.output_prefix),
        (converter, f"{opts.output_prefix} and {opts.dataset_prefix}"),
    ):
        assert isinstance(granted.role, iam.Role)
        acknowledge_wildcards(
            granted.role,
            f"Object-level S3 grants scoped to the curated-zone prefixes {prefixes} (the "
            "wildcard is the object key under the prefix) and the lake key actions CDK's "
            "bucket grants need (kms:GenerateDataKey*, kms:ReEncrypt*).",
        )
    return TaskFunctions(pre_annotation, consolidation, converter)
