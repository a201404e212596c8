"""Synth-time checks of :class:`SageMakerFineTuneJob`: errors for what SageMaker would
reject, warnings (with their ids) for what works but wastes money or time."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Annotations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_llm_training.config.catalogs.instances import InstanceCatalog, InstanceSpec
from cdk_llm_training.config.sagemaker_fine_tune_job import (
    NVME_INSTANCE_FAMILIES,
    SageMakerFineTuneOptions,
    check_training_instance,
)

WARM_POOL_GUIDE_MINUTES = 60
"""The SageMaker developer guide's maximum KeepAlivePeriodInSeconds (3600 s)."""
ONE_GPU_USED_WARNING = "cdk-llm-training/sagemaker-fine-tune-job:oneGpuUsed"
MULTI_NODE_WITHOUT_EFA_WARNING = "cdk-llm-training/sagemaker-fine-tune-job:multiNodeWithoutEfa"
WARM_POOL_PERIOD_WARNING = "cdk-llm-training/sagemaker-fine-tune-job:warmPoolPeriod"
WARM_POOL_WITH_SPOT_WARNING = "cdk-llm-training/sagemaker-fine-tune-job:warmPoolWithSpot"


def check_instance(
    scope: Construct,
    options: SageMakerFineTuneOptions,
    catalog: InstanceCatalog,
    *,
    volume_key: kms.IKey | None,
) -> InstanceSpec:
    """The instance of ``options.instance_type``, checked by the rules the small tier's
    config applies (so `validate` and synth agree); a warning when GPUs would stay idle
    (``distributed: off`` on a multi-GPU instance: the script then trains on GPU 0 only);
    an error for ``volume_key`` on an instance with local NVMe storage."""
    spec = check_training_instance(options, catalog)
    idle = spec.accelerator_count * options.instance_count - options.gpus_used(spec)
    if idle > 0:
        Annotations.of(scope).add_warning_v2(
            ONE_GPU_USED_WARNING,
            f"{options.instance_type} has {spec.accelerator_count} GPUs but distributed='off' "
            f"trains on one: {idle} stay idle. Set distributed='auto' to train on every GPU, "
            "or pick a single-GPU instance with the same GPU, which costs less.",
        )
    if options.instance_count > 1 and not spec.efa_supported:
        # SageMaker uses EFA by itself on instances that have it; others talk over TCP.
        Annotations.of(scope).add_warning_v2(
            MULTI_NODE_WITHOUT_EFA_WARNING,
            f"instance_count={options.instance_count} on {options.instance_type}, which has no "
            "EFA (instance catalog): gradients cross instances over TCP, and scaling beyond "
            "one instance is slow. Prefer one larger instance, or an EFA instance "
            "(g5.8xlarge and up, p4d, p5).",
        )
    if volume_key is not None and spec.instance_type.split(".")[0] in NVME_INSTANCE_FAMILIES:
        raise ValueError(
            f"volume_key cannot be used with instance_type {options.instance_type}: it has "
            "local NVMe storage, which SageMaker encrypts in hardware and for which it "
            "rejects VolumeKmsKeyId. Leave volume_key unset, or pick an EBS-only instance."
        )
    return spec


def check_warm_pool(scope: Construct, options: SageMakerFineTuneOptions) -> None:
    """Warnings for a warm pool longer than the guide's maximum, or on managed spot."""
    if options.keep_alive_minutes > WARM_POOL_GUIDE_MINUTES:
        Annotations.of(scope).add_warning_v2(
            WARM_POOL_PERIOD_WARNING,
            f"keep_alive_minutes={options.keep_alive_minutes}: the CreateTrainingJob API "
            f"accepts up to 360 minutes, but the SageMaker guide states a maximum of "
            f"{WARM_POOL_GUIDE_MINUTES}; expect a rejected job unless your account's limit "
            "was raised.",
        )
    if options.keep_alive_minutes and options.use_spot:
        Annotations.of(scope).add_warning_v2(
            WARM_POOL_WITH_SPOT_WARNING,
            "keep_alive_minutes asks for a warm pool on a managed spot job: spot capacity "
            "can be reclaimed at any time, so the pool may not survive until the next job. "
            "Use use_spot=False for fast iteration on a kept instance.",
        )


def check_network(
    subnets: Sequence[ec2.ISubnet], security_groups: Sequence[ec2.ISecurityGroup]
) -> None:
    """1 to 16 subnets and 1 to 5 security groups, as CreateTrainingJob's VpcConfig allows."""
    if not 1 <= len(subnets) <= 16:
        raise ValueError(f"vpc_subnets selects {len(subnets)} subnets; allowed: 1 to 16.")
    if not 1 <= len(security_groups) <= 5:
        raise ValueError(
            f"security_groups has {len(security_groups)} security groups; allowed: 1 to 5."
        )
