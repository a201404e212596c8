"""What a config asks of the account: derived from the validated tier configs only.

Pure data (no AWS calls): each check module receives the needs that concern it, each need
names the config field it comes from so a finding can say which setting to change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from cdk_llm_training.config.bedrock_fine_tune_job import BedrockFineTuneOptions
from cdk_llm_training.config.catalogs.custom_model_deployment import EvaluationInference
from cdk_llm_training.config.cost_controls import ObservabilityOptions
from cdk_llm_training.config.data_curation import DataPipelineOptions
from cdk_llm_training.config.hyperpod import HyperPodClusterOptions
from cdk_llm_training.config.labeling_workforce import LabelingOptions
from cdk_llm_training.config.sagemaker_fine_tune_job import SageMakerFineTuneOptions
from cdk_llm_training.config.tiers import (
    AppConfig,
    LargePretrainConfig,
    MediumFineTuneConfig,
    SmallLoRAConfig,
)
from cdk_llm_training.config.training_network import NetworkOptions
from cdk_llm_training.config.trainium_parallel_cluster import (
    QueueCapacityType,
    TrainiumClusterOptions,
)
from cdk_llm_training.config.vocabulary import Tier

_CONTEXT_SUFFIX = re.compile(r":\d+k$")


class SageMakerUsage(StrEnum):
    """The SageMaker quota family an instance counts against (the end of the quota name)."""

    CLUSTER = "cluster usage"
    """HyperPod instance groups: ``<type> for cluster usage``."""
    TRAINING = "training job usage"
    """On-demand training jobs: ``<type> for training job usage``."""
    SPOT_TRAINING = "spot training job usage"
    """Managed spot training jobs: ``<type> for spot training job usage``."""
    PROCESSING = "processing job usage"
    """Processing jobs: ``<type> for processing job usage``."""

    def quota_name(self, instance_type: str) -> str:
        return f"{instance_type} for {self.value}"


@dataclass(frozen=True)
class SageMakerQuotaNeed:
    """Instances of one type a config runs at deploy (``count``) and may scale to
    (``max_count``, HyperPod groups' ``max_instance_count``; default ``count``)."""

    instance_type: str
    usage: SageMakerUsage
    count: int
    source: str
    max_count: int | None = None


@dataclass(frozen=True)
class Ec2InstanceNeed:
    """EC2 instances ParallelCluster launches: ``min_count`` at cluster creation (head node,
    static nodes), up to ``max_count`` when the queue scales out."""

    instance_type: str
    min_count: int
    max_count: int
    capacity_type: QueueCapacityType
    source: str
    availability_zone_id: str | None = None


class ModelRole(StrEnum):
    BASE = "base model"
    TEACHER = "teacher model"
    JUDGE = "judge model"
    BASELINE = "baseline model"


@dataclass(frozen=True)
class BedrockModelNeed:
    model_id: str
    role: ModelRole
    source: str
    customization_type: str | None = None
    """The customization the job runs on this model (base models only)."""


@dataclass(frozen=True)
class WorkforceNeed:
    mode: str
    """``import`` needs the named workforce; ``cognito`` / ``oidc`` create one (AWS allows one
    private workforce per account and Region); other modes are reported as configured."""
    name: str
    source: str


@dataclass(frozen=True)
class AvailabilityZoneNeed:
    zone_id: str
    source: str


@dataclass(frozen=True)
class CostTagNeed:
    tag_key: str
    stack: str
    source: str


@dataclass(frozen=True)
class EmrServerlessNeed:
    """An EMR Serverless application that may run ``maximum_vcpu`` vCPUs at once."""

    maximum_vcpu: int
    source: str


@dataclass(frozen=True)
class BedrockBatchNeed:
    """Bedrock batch inference jobs of one model; ``quota_model_name`` is the model's name in
    the batch quota names (None: not known, the limits cannot be read by name)."""

    model_id: str
    quota_model_name: str | None
    max_records: int
    source: str


@dataclass(frozen=True)
class CustomModelInferenceNeed:
    """How the evaluation invokes a new custom model of ``base_model_id``: ``route`` as
    configured (``auto`` is resolved against the Region by the check)."""

    base_model_id: str
    route: EvaluationInference
    model_units: int
    source: str
    algorithmic_metrics: bool = False
    """Algorithmic metrics need provisioned throughput (``auto`` picks it)."""


@dataclass
class Needs:
    """Everything the selected stacks of a config ask of the account and Region."""

    stacks: tuple[str, ...] = ()
    sagemaker_quotas: list[SageMakerQuotaNeed] = field(default_factory=list)
    ec2_instances: list[Ec2InstanceNeed] = field(default_factory=list)
    bedrock_models: list[BedrockModelNeed] = field(default_factory=list)
    workforces: list[WorkforceNeed] = field(default_factory=list)
    availability_zones: list[AvailabilityZoneNeed] = field(default_factory=list)
    cost_tags: list[CostTagNeed] = field(default_factory=list)
    emr_serverless: list[EmrServerlessNeed] = field(default_factory=list)
    bedrock_batch: list[BedrockBatchNeed] = field(default_factory=list)
    custom_model_inference: list[CustomModelInferenceNeed] = field(default_factory=list)


def on_demand_model_id(base_model_id: str) -> str:
    """``amazon.nova-micro-v1:0:128k`` -> ``amazon.nova-micro-v1:0`` (the context-length suffix
    names the customization variant; evaluation invokes the model without it)."""
    return _CONTEXT_SUFFIX.sub("", base_model_id)


def select_stacks(config: AppConfig, names: Iterable[str] | None) -> tuple[Tier, ...]:
    """The stacks to check: ``names`` (each must be a tier stack) or the config's ``stacks``.

    Raises ``ValueError`` naming the allowed stack names.
    """
    if not names:
        return tuple(config.stacks)
    selected: list[Tier] = []
    for name in names:
        try:
            selected.append(Tier(name))
        except ValueError:
            allowed = ", ".join(s.value for s in Tier)
            raise ValueError(f"--stack {name!r} is not a tier stack; allowed: {allowed}") from None
    return tuple(dict.fromkeys(selected))


def derive_needs(config: AppConfig, stacks: Iterable[Tier]) -> Needs:
    """The needs of ``stacks`` as ``config`` configures them."""
    needs = Needs()
    for stack in stacks:
        needs.stacks += (stack.value,)
        if stack is Tier.SMALL_LORA:
            _small(needs, config.small_lora, "small_lora")
        elif stack is Tier.MEDIUM_FINE_TUNE:
            _medium(needs, config.medium_fine_tune, "medium_fine_tune")
        else:
            _large(needs, config.large_pretrain, "large_pretrain")
    return needs


def _small(needs: Needs, config: SmallLoRAConfig, prefix: str) -> None:
    if config.sagemaker_fine_tune is not None:
        _sagemaker_training(needs, config.sagemaker_fine_tune, f"{prefix}.sagemaker_fine_tune")
    if config.bedrock_fine_tune is not None:
        _bedrock(needs, config.bedrock_fine_tune, f"{prefix}.bedrock_fine_tune")
    if config.labeling is not None:
        _labeling(needs, config.labeling, f"{prefix}.labeling")
    _data_pipeline(needs, config.data_pipeline, f"{prefix}.data_pipeline")
    _budget(needs, config.observability, Tier.SMALL_LORA, prefix)


def _medium(needs: Needs, config: MediumFineTuneConfig, prefix: str) -> None:
    _network(needs, config.network, f"{prefix}.network", control_plane=True)
    _hyperpod(needs, config.hyperpod, f"{prefix}.hyperpod")
    _data_pipeline(needs, config.data_pipeline, f"{prefix}.data_pipeline")
    _budget(needs, config.observability, Tier.MEDIUM_FINE_TUNE, prefix)


def _large(needs: Needs, config: LargePretrainConfig, prefix: str) -> None:
    engine = config.engine
    _network(needs, config.network, f"{prefix}.network", control_plane=engine.uses_hyperpod)
    if engine.uses_hyperpod:
        _hyperpod(needs, config.hyperpod, f"{prefix}.hyperpod")
    if engine.uses_trainium:
        _trainium(needs, config.trainium, f"{prefix}.trainium", config.network.availability_zone_id)
    _data_pipeline(needs, config.data_pipeline, f"{prefix}.data_pipeline")
    _budget(needs, config.observability, Tier.LARGE_PRETRAIN, prefix)


def _sagemaker_training(needs: Needs, options: SageMakerFineTuneOptions, source: str) -> None:
    usage = SageMakerUsage.SPOT_TRAINING if options.use_spot else SageMakerUsage.TRAINING
    needs.sagemaker_quotas.append(
        SageMakerQuotaNeed(
            options.instance_type, usage, options.instance_count, f"{source}.instance_type"
        )
    )
    if options.evaluation is not None:
        needs.sagemaker_quotas.append(
            SageMakerQuotaNeed(
                options.evaluation.instance_type,
                SageMakerUsage.PROCESSING,
                1,
                f"{source}.evaluation.instance_type",
            )
        )


def _hyperpod(needs: Needs, options: HyperPodClusterOptions, source: str) -> None:
    totals: dict[str, tuple[int, int]] = {}
    fields: dict[str, list[str]] = {}
    for index, group in enumerate(options.instance_groups):
        maximum = max(group.max_instance_count or 0, group.instance_count)
        if maximum == 0:
            continue
        count, most = totals.get(group.instance_type, (0, 0))
        totals[group.instance_type] = (count + group.instance_count, most + maximum)
        fields.setdefault(group.instance_type, []).append(f"{source}.instance_groups[{index}]")
    for instance_type, (count, most) in totals.items():
        needs.sagemaker_quotas.append(
            SageMakerQuotaNeed(
                instance_type,
                SageMakerUsage.CLUSTER,
                count,
                ", ".join(fields[instance_type]),
                max_count=most,
            )
        )


def _trainium(
    needs: Needs, options: TrainiumClusterOptions, source: str, zone_id: str | None
) -> None:
    needs.ec2_instances.append(
        Ec2InstanceNeed(
            options.head_node.instance_type,
            1,
            1,
            QueueCapacityType.ONDEMAND,
            f"{source}.head_node.instance_type",
            zone_id,
        )
    )
    for q_index, queue in enumerate(options.queues):
        for c_index, resource in enumerate(queue.compute_resources):
            needs.ec2_instances.append(
                Ec2InstanceNeed(
                    resource.instance_type,
                    resource.min_count,
                    resource.max_count,
                    queue.capacity_type,
                    f"{source}.queues[{q_index}].compute_resources[{c_index}]",
                    zone_id,
                )
            )


def _bedrock(needs: Needs, options: BedrockFineTuneOptions, source: str) -> None:
    needs.bedrock_models.append(
        BedrockModelNeed(
            options.base_model_id,
            ModelRole.BASE,
            f"{source}.base_model_id",
            options.customization_type.value,
        )
    )
    if options.distillation is not None:
        needs.bedrock_models.append(
            BedrockModelNeed(
                options.distillation.teacher_model_id,
                ModelRole.TEACHER,
                f"{source}.distillation.teacher_model_id",
            )
        )
    evaluation = options.evaluation
    if evaluation is not None and evaluation.provision_throughput:
        needs.custom_model_inference.append(
            CustomModelInferenceNeed(
                options.base_model_id,
                evaluation.evaluation_inference,
                evaluation.model_units,
                f"{source}.evaluation.evaluation_inference",
                bool(evaluation.algorithmic_metrics),
            )
        )
    if evaluation is not None:
        needs.bedrock_models.append(
            BedrockModelNeed(
                evaluation.judge_model_id, ModelRole.JUDGE, f"{source}.evaluation.judge_model_id"
            )
        )
        if evaluation.compare_with_base_model:
            baseline = evaluation.baseline_model_id or on_demand_model_id(options.base_model_id)
            needs.bedrock_models.append(
                BedrockModelNeed(
                    baseline, ModelRole.BASELINE, f"{source}.evaluation.baseline_model_id"
                )
            )


def _data_pipeline(needs: Needs, options: DataPipelineOptions, source: str) -> None:
    curation = options.curation
    if curation is not None and curation.engine == "emr-serverless":
        needs.emr_serverless.append(
            EmrServerlessNeed(curation.emr.maximum_vcpu, f"{source}.curation.emr.maximum_vcpu")
        )
    elif curation is not None:
        needs.sagemaker_quotas.append(
            SageMakerQuotaNeed(
                curation.instance_type,
                SageMakerUsage.PROCESSING,
                1,
                f"{source}.curation.instance_type",
            )
        )
    synthetic = options.synthetic
    if synthetic is not None:
        names = synthetic.quota_names
        for model_id, field_name in (
            (synthetic.teacher_model_id, "teacher_model_id"),
            (synthetic.judge, "judge_model_id"),
        ):
            if field_name == "judge_model_id" and synthetic.output != "preference":
                continue  # only preference output runs a judge batch job
            needs.bedrock_batch.append(
                BedrockBatchNeed(
                    model_id,
                    names.get(model_id),
                    synthetic.max_records,
                    f"{source}.synthetic.{field_name}",
                )
            )


def _labeling(needs: Needs, options: LabelingOptions, source: str) -> None:
    workforce = options.workforce
    needs.workforces.append(
        WorkforceNeed(workforce.mode.value, workforce.name, f"{source}.workforce")
    )


def _network(needs: Needs, network: NetworkOptions, source: str, *, control_plane: bool) -> None:
    needs.availability_zones.append(
        AvailabilityZoneNeed(network.availability_zone_id, f"{source}.availability_zone_id")
    )
    if control_plane and network.control_plane_availability_zone_id is not None:
        needs.availability_zones.append(
            AvailabilityZoneNeed(
                network.control_plane_availability_zone_id,
                f"{source}.control_plane_availability_zone_id",
            )
        )


def _budget(needs: Needs, observability: ObservabilityOptions, stack: Tier, prefix: str) -> None:
    budget = observability.budget
    if budget.enabled and budget.scope_to_stack_tag:
        needs.cost_tags.append(
            CostTagNeed("stack", stack.value, f"{prefix}.observability.budget.scope_to_stack_tag")
        )
