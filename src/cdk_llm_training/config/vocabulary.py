"""The words the config, the constructs and the tools share: one enum per concept.

* :class:`Tier`: the ready app's three tiers. The value is the tier stack's name (what the
  config file's ``stacks:`` list holds and CloudFormation shows); the planner's short name
  (``small``), the config file section (``small_lora``) and the ``tier`` cost-allocation tag
  (``small-lora``) are properties of the one member.
* :class:`TrainingMethod`: how a model is trained, from pre-training to a Bedrock
  customization. The SageMaker fine-tune job accepts the adapter methods only.
* :class:`Engine`: what runs the training; :class:`LargeEngine` is the large tier's choice
  among its cluster engines, each member the set of engines it builds.

Pure Python, imports nothing of the package: every floor may use it.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    """The tier stacks the ready app can build; the value is the CloudFormation stack name."""

    SMALL_LORA = "SmallLoRAStack"
    """LoRA / QLoRA and managed fine-tunes: no VPC, near-zero idle cost."""
    MEDIUM_FINE_TUNE = "MediumFineTuneStack"
    """Full fine-tunes and continued pre-training on HyperPod (2-16 GPU nodes)."""
    LARGE_PRETRAIN = "LargePretrainStack"
    """Pre-training on Trainium ParallelCluster and/or HyperPod (16-256+ nodes)."""

    @property
    def short_name(self) -> str:
        """The planner's name of the tier: ``small``, ``medium`` or ``large``."""
        return _SHORT_NAMES[self]

    @property
    def config_section(self) -> str:
        """The tier's section of the app config file: ``small_lora``, ..."""
        return _SHORT_NAMES[self] + "_" + _PURPOSES[self].replace("-", "_")

    @property
    def cost_tag(self) -> str:
        """Value of the stack's ``tier`` cost-allocation tag: ``small-lora``, ..."""
        return _SHORT_NAMES[self] + "-" + _PURPOSES[self]


_SHORT_NAMES = {
    Tier.SMALL_LORA: "small",
    Tier.MEDIUM_FINE_TUNE: "medium",
    Tier.LARGE_PRETRAIN: "large",
}
_PURPOSES = {
    Tier.SMALL_LORA: "lora",
    Tier.MEDIUM_FINE_TUNE: "fine-tune",
    Tier.LARGE_PRETRAIN: "pretrain",
}


class TrainingMethod(StrEnum):
    """How the model is trained."""

    PRETRAIN = "pretrain"
    """Pre-training from scratch: every weight trained, Adam in mixed precision."""
    CPT = "cpt"
    """Continued pre-training of an existing model: same arithmetic as pre-training."""
    FULL = "full"
    """Full fine-tune: every weight trained, Adam in mixed precision."""
    LORA = "lora"
    """LoRA: frozen BF16 base weights plus small trained adapters."""
    QLORA = "qlora"
    """QLoRA: frozen 4-bit (NF4) base weights (bitsandbytes, GPU only) plus LoRA adapters."""
    BEDROCK = "bedrock"
    """Managed customization in Amazon Bedrock: no instances to size."""

    @property
    def trains_all_weights(self) -> bool:
        """True when gradients and optimizer state exist for every weight."""
        return self in (TrainingMethod.PRETRAIN, TrainingMethod.CPT, TrainingMethod.FULL)

    @property
    def trains_adapters(self) -> bool:
        """True for LoRA and QLoRA: what the SageMaker fine-tune job (``train_lora.py``) runs."""
        return self in ADAPTER_METHODS


ADAPTER_METHODS: tuple[TrainingMethod, ...] = (TrainingMethod.LORA, TrainingMethod.QLORA)
"""The adapter methods, the only ones the SageMaker fine-tune job accepts."""


class Engine(StrEnum):
    """What runs the training."""

    BEDROCK = "bedrock"
    """Amazon Bedrock model customization (small tier)."""
    SAGEMAKER_SINGLE_NODE = "sagemaker-training-job"
    """One SageMaker training job on one GPU (small tier)."""
    HYPERPOD_EKS = "hyperpod-eks"
    """SageMaker HyperPod on EKS (medium and large tiers)."""
    PARALLELCLUSTER_TRAINIUM = "parallelcluster-trainium"
    """AWS ParallelCluster (Slurm) with Trainium queues (large tier)."""


class LargeEngine(StrEnum):
    """What trains in :class:`LargePretrainStack`."""

    TRAINIUM = "trainium"
    """AWS ParallelCluster (Slurm) with Trainium queues. The default."""
    NVIDIA = "nvidia"
    """SageMaker HyperPod on EKS with p5-class GPU groups."""
    BOTH = "both"
    """Both clusters in one network, sharing the data lake and the file system."""

    @property
    def engines(self) -> frozenset[Engine]:
        """The cluster :class:`Engine` members this choice builds."""
        return _LARGE_ENGINES[self]

    @property
    def uses_trainium(self) -> bool:
        """Whether the engine builds the Trainium ParallelCluster."""
        return Engine.PARALLELCLUSTER_TRAINIUM in self.engines

    @property
    def uses_hyperpod(self) -> bool:
        """Whether the engine builds the HyperPod EKS cluster."""
        return Engine.HYPERPOD_EKS in self.engines

    @classmethod
    def running(cls, engine: Engine) -> LargeEngine:
        """The large tier's choice that builds exactly ``engine``.

        Raises ``ValueError`` for an engine the large tier does not run (Bedrock, a single
        SageMaker job).
        """
        for choice in cls:
            if choice.engines == {engine}:
                return choice
        allowed = ", ".join(sorted(e.value for e in _CLUSTER_ENGINES))
        raise ValueError(
            f"engine {engine.value!r} does not run in the large tier; allowed: {allowed}"
        )


_CLUSTER_ENGINES = frozenset({Engine.PARALLELCLUSTER_TRAINIUM, Engine.HYPERPOD_EKS})
_LARGE_ENGINES: dict[LargeEngine, frozenset[Engine]] = {
    LargeEngine.TRAINIUM: frozenset({Engine.PARALLELCLUSTER_TRAINIUM}),
    LargeEngine.NVIDIA: frozenset({Engine.HYPERPOD_EKS}),
    LargeEngine.BOTH: _CLUSTER_ENGINES,
}
