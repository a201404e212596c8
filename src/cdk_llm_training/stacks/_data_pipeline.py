"""The data pipeline workflows every tier adds by config (``data_pipeline``)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms

from cdk_llm_training.config.data_curation import DataPipelineOptions
from cdk_llm_training.constructs.data_curation import DataCuration
from cdk_llm_training.constructs.synthetic_data import SyntheticData
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake


@dataclass(frozen=True)
class DataPipeline:
    """What :func:`add_data_pipeline` created (None: not configured)."""

    curation: DataCuration | None
    synthetic: SyntheticData | None


def add_data_pipeline(
    stack: Stack, *, options: DataPipelineOptions, data_lake: TrainingDataLake, key: kms.IKey
) -> DataPipeline:
    """``DataCuration`` and ``SyntheticData`` on the tier's lake when configured, notifying
    on topics encrypted with the tier's ``key``, each with its state machine ARN as an
    output."""
    curation = synthetic = None
    if options.curation is not None:
        curation = DataCuration(
            stack, "DataCuration", options=options.curation, data_lake=data_lake, key=key
        )
        CfnOutput(
            stack,
            "CurationStateMachineArn",
            value=curation.state_machine.state_machine_arn,
            description="Raw -> curated workflow: start an execution with a rawPrefix.",
        )
    if options.synthetic is not None:
        synthetic = SyntheticData(
            stack, "SyntheticData", options=options.synthetic, data_lake=data_lake, key=key
        )
        CfnOutput(
            stack,
            "SyntheticDataStateMachineArn",
            value=synthetic.state_machine.state_machine_arn,
            description="Teacher-model data workflow: start an execution with a promptsKey.",
        )
    return DataPipeline(curation, synthetic)
