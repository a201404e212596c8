"""Options of :class:`cdk_llm_training.SageMakerFineTuneJob` (pure Python, no aws_cdk or torch
import): the methods, tunings and record formats of the training script, its hyperparameters
and metric definitions, and the options model.

The source of truth of methods and tunings is the script's own method table,
:mod:`cdk_llm_training.assets.training.methods` (shipped to the job with the script): the
enums below name the same members, and tests keep them equal.

The default training image is in :mod:`cdk_llm_training.config.catalogs.training_images`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema, field_validator, model_validator

from cdk_llm_training.assets.training import methods as script_methods
from cdk_llm_training.assets.training.args import ARGUMENT_NAMES
from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.bedrock_fine_tune_job import JOB_NAME_PREFIX_PATTERN
from cdk_llm_training.config.catalogs.instances import (
    AcceleratorFamily,
    InstanceCatalog,
    InstanceSpec,
    default_instance_catalog,
)
from cdk_llm_training.config.sizing.gpu_memory import GIB, memory_per_accelerator
from cdk_llm_training.config.sizing.method_cost import generation_kv_bytes, reference_copy_bytes
from cdk_llm_training.config.task_metrics_evaluation import TaskMetricsOptions
from cdk_llm_training.config.types import LogRetentionDays, S3Key, S3Prefix
from cdk_llm_training.config.vocabulary import TrainingMethod


class FineTuneMethod(StrEnum):
    """The objective of a SageMaker fine-tune job (``training.methods.METHODS``)."""

    SFT = "sft"
    """Supervised fine-tuning on chat, instruction or prompt-completion records."""
    DPO = "dpo"
    """Direct preference optimization on ``{prompt, chosen, rejected}`` records."""
    KTO = "kto"
    """Kahneman-Tversky optimization on ``{prompt, completion, label}`` records."""
    GRPO = "grpo"
    """Group relative policy optimization against verifiable or user-defined rewards."""
    DISTILL = "distill"
    """Supervised fine-tuning on a teacher model's answers."""
    CPT = "cpt"
    """Continued pre-training on raw ``{text}`` records."""

    @property
    def script_method(self) -> script_methods.Method:
        """The script's table entry of this method."""
        return script_methods.method(self.value)


class FineTuneTuning(StrEnum):
    """Which weights a SageMaker fine-tune job changes (``training.methods.TUNINGS``)."""

    LORA = "lora"
    """LoRA adapters on frozen 16-bit base weights."""
    QLORA = "qlora"
    """LoRA adapters on frozen 4-bit NF4 base weights (bitsandbytes, GPU only)."""
    FULL = "full"
    """Every weight is trained (the output is a full model folder)."""

    @property
    def adapter(self) -> bool:
        """Whether the job trains adapters (and its output is an adapter folder)."""
        return script_methods.tuning(self.value).adapter


class GrpoReward(StrEnum):
    """Built-in verifiable rewards of ``grpo`` (``training.args.REWARD_NAMES``)."""

    EXACT_MATCH = "exact_match"
    """1 when the completion equals the record's ``answer``."""
    REGEX = "regex"
    """1 when the completion matches the record's ``pattern`` (or ``reward_pattern``)."""
    JSON_SCHEMA = "json_schema"
    """1 when the completion is JSON valid against the record's ``schema``."""


class DistributedMode(StrEnum):
    """How the script uses the GPUs of its instances (``training.args.DISTRIBUTED_MODES``)."""

    AUTO = "auto"
    """One process per GPU on every instance (torchrun): DDP, or FSDP with ``fsdp``."""
    OFF = "off"
    """One process on GPU 0 of one instance."""


class OpenModelRecordFormat(StrEnum):
    """JSONL record formats the validator checks and the training script reads
    (``training.methods.RECORD_FORMATS``)."""

    CHAT = "chat"
    """``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}``"""
    INSTRUCTION = "instruction"
    """``{"instruction": "...", "input": "...", "output": "..."}`` (``input`` optional)."""
    PROMPT_COMPLETION = "prompt_completion"
    """``{"prompt": "...", "completion": "..."}``"""
    PREFERENCE = "preference"
    """``{"prompt": "...", "chosen": "...", "rejected": "..."}`` (dpo; the labeling
    converter's preference output)."""
    KTO = "kto"
    """``{"prompt": "...", "completion": "...", "label": true|false}`` (kto)."""
    GRPO = "grpo"
    """``{"prompt": "...", "answer"|"pattern"|"schema": ...}`` (grpo; reward fields optional)."""
    TEXT = "text"
    """``{"text": "..."}`` (cpt)."""


LEGACY_METHODS: dict[str, tuple[FineTuneMethod, FineTuneTuning]] = {
    name: (FineTuneMethod(objective), FineTuneTuning(tuning))
    for name, (objective, tuning) in script_methods.LEGACY_METHODS.items()
}
"""``method`` values of configs written for the LoRA-only job: ``lora``, ``qlora`` (and
``full``) load as ``method: sft`` with that ``tuning``."""

MethodOrLegacy = Annotated[
    FineTuneMethod,
    WithJsonSchema(
        {
            "enum": [*(m.value for m in FineTuneMethod), *LEGACY_METHODS],
            "title": "FineTuneMethod",
            "description": "The objective; lora, qlora and full mean sft with that tuning.",
            "type": "string",
        }
    ),
]
"""A :class:`FineTuneMethod`; the schema also offers the legacy values the options accept."""

OPTION_ARGUMENTS = (
    "method", "tuning", "record_format", "model_id", "max_seq_length", "packing", "beta",
    "rewards", "reward_file", "reward_function", "reward_pattern", "num_generations",
    "max_completion_length", "temperature", "fsdp", "distributed",
)  # fmt: skip
"""Script arguments set by options of their own (never through ``hyperparameters``)."""

SCRIPT_HYPERPARAMETERS: tuple[str, ...] = tuple(
    name for name in ARGUMENT_NAMES if name not in OPTION_ARGUMENTS
)
"""Arguments of the training script that ``hyperparameters`` may set (every argument the
script parses, less those in :data:`OPTION_ARGUMENTS`)."""

GRPO_OPTIONS = (
    "rewards", "reward_file", "reward_function", "reward_pattern", "num_generations",
    "max_completion_length", "temperature",
)  # fmt: skip
"""Options only ``method: grpo`` reads."""

_NUMBER = "([0-9.eE+-]+)"
METRIC_DEFINITIONS: tuple[dict[str, str], ...] = (
    {"Name": "train_loss", "Regex": rf"train_loss={_NUMBER}"},
    {"Name": "eval_loss", "Regex": rf"eval_loss={_NUMBER}"},
    {"Name": "tokens_per_second", "Regex": rf"tokens_per_second={_NUMBER}"},
    {"Name": "learning_rate", "Regex": rf"learning_rate={_NUMBER}"},
    *(
        {"Name": name, "Regex": rf"[ ]{name}={_NUMBER}"}
        for name in ("grad_norm", "reward_margin", "reward_accuracy", "reward", "reward_std", "kl")
    ),
)
"""What the job's metric definitions capture from the script's ``[metrics]`` lines: losses,
learning rate, throughput, gradient norm, DPO/KTO reward margin and accuracy, GRPO reward,
its spread within a group and the KL to the reference. The leading space of the later
patterns keeps ``reward=`` from matching inside ``eval_reward=``-like names. CreateTrainingJob
allows at most 40 definitions with regexes of at most 500 characters."""

MAX_METRIC_DEFINITIONS = 40
MAX_METRIC_REGEX_LENGTH = 500

__all__ = [
    "GRPO_OPTIONS",
    "IMAGE_URI_PATTERN",
    "LEGACY_METHODS",
    "MAX_METRIC_DEFINITIONS",
    "MAX_METRIC_REGEX_LENGTH",
    "MAX_RUNTIME_HOURS",
    "METRIC_DEFINITIONS",
    "NVME_INSTANCE_FAMILIES",
    "OPTION_ARGUMENTS",
    "SCRIPT_HYPERPARAMETERS",
    "DistributedMode",
    "FineTuneMethod",
    "FineTuneTuning",
    "GrpoReward",
    "OpenModelRecordFormat",
    "SageMakerFineTuneOptions",
    "check_training_instance",
]

MODEL_PACKAGE_GROUP_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
IMAGE_URI_PATTERN = re.compile(r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/.+")
TRAINING_IMAGE_REPOSITORY = re.compile(r"/(?:[^/:@]+/)*[^/:@]*-training(?:[:@]|$)")
"""An image whose repository name ends in ``-training``: AWS Deep Learning Containers name
their training images so (``pytorch-training``, ``huggingface-pytorch-training``,
``tensorflow-training``); they hold no model server and cannot serve a model package."""
MAX_RUNTIME_HOURS = 28 * 24
"""CreateTrainingJob allows at most 28 days of MaxRuntimeInSeconds."""

NVME_INSTANCE_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en")
"""Instance families with local NVMe instance storage: SageMaker encrypts it in hardware and
rejects ``ResourceConfig.VolumeKmsKeyId`` on them (CreateTrainingJob API reference)."""


class SageMakerFineTuneOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.SageMakerFineTuneJob`. Every field has
    a default that deploys as-is: LoRA of an 8B model whose weights sit in the artifacts zone
    under ``base-models/llama-3.1-8b-instruct/``, on one ml.g5.2xlarge with managed spot."""

    method: MethodOrLegacy = FineTuneMethod.SFT
    """The objective: ``sft`` (default), ``dpo``, ``kto``, ``grpo``, ``distill`` or ``cpt``
    (the training script's method table). ``lora`` and ``qlora`` (the values of the LoRA-only
    job) still load: they mean ``sft`` with that ``tuning``, and an explicit ``tuning`` must
    then agree."""
    tuning: FineTuneTuning = FineTuneTuning.LORA
    """Which weights change: ``lora`` (default), ``qlora`` (4-bit base, GPU only) or ``full``
    (every weight; the output is a whole model, registered like an adapter)."""
    record_format: OpenModelRecordFormat = OpenModelRecordFormat.CHAT
    """Dataset record format, checked by the validator and read by the script; one of the
    method's formats. Default: the method's first (``chat`` for sft, ``preference`` for dpo,
    ``kto``, ``grpo``, ``prompt_completion`` for distill, ``text`` for cpt)."""
    packing: bool = False
    """sft, distill, cpt: pack several records into each sequence. Default off."""
    beta: float | None = Field(default=None, ge=0)
    """dpo, kto, grpo: weight of the KL term to the reference model. Default: TRL's."""
    rewards: tuple[GrpoReward, ...] = (GrpoReward.EXACT_MATCH,)
    """grpo: built-in verifiable rewards, summed. Default ``(exact_match,)``; may be empty
    with ``reward_file``."""
    reward_file: S3Key | None = None
    """grpo: curated-zone key of a Python file defining a reward function (the job's
    ``reward`` channel, mounted at ``/opt/ml/input/data/reward``). Default none."""
    reward_function: str = Field(default="reward", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """grpo: name of the function in ``reward_file``. Default ``reward``."""
    reward_pattern: str = Field(default="", max_length=1000)
    """grpo ``regex`` reward: a pattern for every record (instead of each record's
    ``pattern``). Default none."""
    num_generations: int = Field(default=8, ge=2, le=256)
    """grpo: completions sampled per prompt (rewards are compared within the group).
    Default 8."""
    max_completion_length: int = Field(default=256, ge=1, le=131072)
    """grpo: longest sampled completion, tokens. Default 256."""
    temperature: float = Field(default=1.0, gt=0, le=10)
    """grpo: sampling temperature. Default 1.0."""
    fsdp: bool = False
    """``tuning: full`` only: shard weights, gradients and optimizer state over every GPU
    (FSDP) instead of replicating them (DDP). Default off."""
    distributed: DistributedMode = DistributedMode.AUTO
    """``auto`` (default): one process per GPU on every instance (torchrun), so every GPU
    trains; ``off``: one process on one GPU of one instance."""
    instance_count: int = Field(default=1, ge=1, le=64)
    """Training instances (``ResourceConfig.InstanceCount``). Above 1 the script runs one
    process per GPU on every instance; EFA carries the traffic where the instance supports it
    (in a VPC the job's security group must allow all traffic within itself). Default 1."""
    base_model_prefix: S3Prefix | None = "base-models/llama-3.1-8b-instruct/"
    """Artifacts-zone prefix holding the base model folder (``config.json``, weights,
    tokenizer), given to the job as its ``model`` channel: works in closed networks.
    Default ``base-models/llama-3.1-8b-instruct/``. Exactly one of this and
    ``base_model_id``."""
    base_model_id: str | None = None
    """Hugging Face hub model id, downloaded by the job (needs internet access and, for gated
    models, a token in the environment). Default none."""
    base_model_parameters: float | None = Field(default=8e9, gt=0)
    """Parameter count of the base model, for the memory check. Default 8e9; ``None`` skips
    the check."""
    instance_type: str = "ml.g5.2xlarge"
    """Training instance (an NVIDIA instance of the instance catalog). Default
    ``ml.g5.2xlarge`` (1 x A10G 24 GiB). With ``distributed: auto`` the script trains on
    every GPU of the instance."""
    volume_size_gib: int = Field(default=100, ge=1, le=16384)
    """ML storage volume (base model copy, checkpoints). Default 100."""
    max_seq_length: int = Field(default=2048, ge=16, le=131072)
    """Longest tokenized record; longer ones are truncated. Default 2048."""
    hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Extra ``train_lora.py`` arguments (names in ``SCRIPT_HYPERPARAMETERS``). Default none:
    the script's defaults (1 epoch, learning rate 2e-4, LoRA r 16 / alpha 32, ...)."""
    use_spot: bool = True
    """Managed spot training. Default on (checkpoints make interruptions cheap)."""
    max_runtime_hours: int = Field(default=24, ge=1, le=MAX_RUNTIME_HOURS)
    """Training time limit (``StoppingCondition.MaxRuntimeInSeconds``). Default 24."""
    max_wait_hours: int = Field(default=48, ge=1, le=MAX_RUNTIME_HOURS)
    """Spot only: training plus waiting for capacity (``MaxWaitTimeInSeconds``); at least
    ``max_runtime_hours``. Default 48."""
    retry_attempts: int | None = Field(default=None, ge=1, le=30)
    """``RetryStrategy.MaximumRetryAttempts`` on internal errors. Default none."""
    keep_alive_minutes: int = Field(default=0, ge=0, le=360)
    """Warm pool: keep the instance this long after the job for the next one
    (``KeepAlivePeriodInSeconds``; the API allows up to 6 hours, the SageMaker guide states
    60 minutes: longer values get a synth warning). Billable. Default 0 (off)."""
    inference_image_uri: str | None = None
    """Serving image recorded in each registered model package's inference specification
    (one that can load the base model plus this LoRA adapter). Default: none, and the
    adapter is registered without an inference specification: approve it, then deploy it
    with a serving image of your choice. A training image (``*-training``) is rejected: it
    cannot serve the adapter."""
    image_uri: str | None = None
    """Full training image URI. Default: the pinned Hugging Face PyTorch training image of
    the stack's Region."""
    dataset_prefix: S3Prefix = "finetune/"
    """Curated-zone prefix the datasets live under (the only prefix the job may read)."""
    output_prefix: S3Prefix = "sagemaker/output/"
    """Artifacts-zone prefix of job output (``<prefix><job>/output/model.tar.gz``)."""
    checkpoint_prefix: S3Prefix = "checkpoints/sagemaker/"
    """Artifacts-zone prefix of checkpoints (``<prefix><job>/``); under ``checkpoints/`` so the
    lake's checkpoint expiration applies."""
    report_prefix: S3Prefix = "sagemaker/validation-reports/"
    """Artifacts-zone prefix of dataset validation reports."""
    job_name_prefix: str = Field(default="lora", min_length=1, max_length=40)
    """Training job names are ``<prefix>-<suffix>``. Default ``lora``."""
    model_package_group_name: str | None = None
    """Model Registry group of the adapters. Default: a name derived from the construct path."""
    evaluation: TaskMetricsOptions | None = None
    """Score every adapter on a labelled set before it is registered (opt-in). The labelled
    set (curated ``evaluation.labelled_set_key``) becomes the job's ``evaluation`` channel;
    the training script writes its greedy answers to ``/opt/ml/output/data/predictions.jsonl``
    (uploaded as ``<output_prefix><job>/output/output.tar.gz``); a SageMaker processing job
    (:class:`cdk_llm_training.TaskMetricsEvaluation`) computes exact match / token F1 /
    ROUGE-L and the ``min_scores`` gate decides: register the adapter, or notify and fail
    without registering. ``predictions_prefix`` defaults to ``output_prefix`` here;
    ``generate_predictions`` must stay off. Default: ``None`` (no evaluation)."""
    enable_network_isolation: bool = False
    """No network access for the training container. Default off: the container installs
    ``requirements.txt`` from PyPI (use a custom ``image_uri`` with peft and bitsandbytes
    baked in to turn it on)."""
    validator_memory_mib: int = Field(default=1024, ge=256, le=10240)
    """Memory of the validator Lambda. Default 1024."""
    validator_timeout_minutes: int = Field(default=15, ge=1, le=15)
    """Timeout of the validator Lambda. Default 15."""
    max_record_bytes: int = Field(default=1_048_576, ge=1, le=16_777_216)
    """Longest dataset record (one JSONL line) the validator accepts, in bytes; a longer line
    is reported without being read into memory. Default 1,048,576 (1 MiB, the largest
    per-record limit of the Bedrock models in the catalog); at most 16 MiB."""
    log_retention_days: LogRetentionDays = 365
    """Retention of the workflow and validator log groups. Default 365."""

    @field_validator("base_model_prefix")
    @classmethod
    def _model_prefix(cls, value: str | None) -> str | None:
        if value == "":
            raise ValueError("must not be empty (that would expose the whole artifacts zone)")
        return value

    @field_validator("job_name_prefix")
    @classmethod
    def _name_prefix(cls, value: str) -> str:
        if not JOB_NAME_PREFIX_PATTERN.match(value):
            raise ValueError(
                f"{value!r} must be letters, digits and single hyphens, starting and ending "
                "with a letter or digit"
            )
        return value

    @field_validator("model_package_group_name")
    @classmethod
    def _group_name(cls, value: str | None) -> str | None:
        if value is not None and not MODEL_PACKAGE_GROUP_PATTERN.match(value):
            raise ValueError(
                f"{value!r} must be 1-63 letters, digits and hyphens, starting and ending with "
                "a letter or digit"
            )
        return value

    @field_validator("image_uri", "inference_image_uri")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not IMAGE_URI_PATTERN.match(value):
            raise ValueError(
                f"{value!r} is not an ECR image URI "
                "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)"
            )
        return value

    @field_validator("inference_image_uri")
    @classmethod
    def _serving_image(cls, value: str | None) -> str | None:
        if value is not None and TRAINING_IMAGE_REPOSITORY.search(value):
            raise ValueError(
                f"inference_image_uri {value!r} is a training image (repository *-training), "
                "which has no model server; allowed: a serving image (for example an "
                "inference DLC or an LLM serving container), or leave it unset to register "
                "the adapter without an inference specification"
            )
        return value

    @field_validator("hyperparameters")
    @classmethod
    def _known_hyperparameters(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        unknown = sorted(set(value) - set(SCRIPT_HYPERPARAMETERS))
        if unknown:
            raise ValueError(
                f"unknown train_lora.py hyperparameters {', '.join(unknown)}; allowed: "
                + ", ".join(SCRIPT_HYPERPARAMETERS)
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _legacy_method(cls, data: Any) -> Any:
        """``method: lora|qlora|full`` -> ``method: sft`` with that tuning; a missing
        ``record_format`` -> the method's first format."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        method = data.get("method")
        if isinstance(method, str) and method in LEGACY_METHODS:
            objective, implied = LEGACY_METHODS[method]
            tuning = data.get("tuning")
            if tuning is not None and str(tuning) != implied.value:
                raise ValueError(
                    f"method {method!r} means method 'sft' with tuning {implied.value!r}, but "
                    f"tuning {str(tuning)!r} was given; allowed: method 'sft' with tuning "
                    f"{str(tuning)!r}, or drop tuning"
                )
            data["method"], data["tuning"] = objective.value, implied.value
        if data.get("record_format") is None:
            data.pop("record_format", None)
            try:
                objective = FineTuneMethod(data.get("method", FineTuneMethod.SFT))
            except ValueError:
                return data  # the field validator names the bad method
            data["record_format"] = objective.script_method.record_formats[0]
        return data

    @model_validator(mode="after")
    def _method_options(self) -> SageMakerFineTuneOptions:
        """The method, tuning and method options fit together, by the script's method table."""
        method = self.method.script_method
        if self.record_format.value not in method.record_formats:
            raise ValueError(
                f"record_format {self.record_format.value!r} does not fit method "
                f"{self.method.value!r}; allowed: {', '.join(method.record_formats)}"
            )
        if self.fsdp and self.tuning.adapter:
            raise ValueError(
                f"fsdp=True shards full fine-tuning only, but tuning is {self.tuning.value!r} "
                "(adapters train data-parallel, with DDP); allowed: tuning 'full' with fsdp, "
                "or fsdp=False"
            )
        if not method.generates:
            stray = sorted(set(GRPO_OPTIONS) & self.model_fields_set)
            if stray:
                raise ValueError(
                    f"{', '.join(stray)} apply to method 'grpo' only; method is "
                    f"{self.method.value!r}: remove them"
                )
        elif not self.rewards and self.reward_file is None:
            raise ValueError(
                "method 'grpo' needs a reward: rewards is empty and reward_file is unset; "
                f"allowed: rewards from {', '.join(r.value for r in GrpoReward)} and/or a "
                "reward_file"
            )
        if self.beta is not None and not (method.reference_model or method.generates):
            raise ValueError(
                f"beta={self.beta} weighs the KL term of dpo, kto and grpo; method "
                f"{self.method.value!r} has none: remove beta"
            )
        if self.packing and method.trainer != "SFTTrainer":
            raise ValueError(
                f"packing=True packs records of sft, distill and cpt; method "
                f"{self.method.value!r} trains on pairs or groups: set packing=False"
            )
        if self.instance_count > 1 and self.distributed is DistributedMode.OFF:
            raise ValueError(
                f"instance_count={self.instance_count} with distributed='off' would train "
                "on one GPU of one instance and leave the others idle; allowed: "
                "distributed='auto', or instance_count=1"
            )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> SageMakerFineTuneOptions:
        if (self.base_model_prefix is None) == (self.base_model_id is None):
            raise ValueError(
                "set exactly one of base_model_prefix (weights in the data lake) and "
                f"base_model_id (hub download); got base_model_prefix={self.base_model_prefix!r}"
                f", base_model_id={self.base_model_id!r}"
            )
        if self.use_spot and self.max_wait_hours < self.max_runtime_hours:
            raise ValueError(
                f"max_wait_hours ({self.max_wait_hours}) must be at least max_runtime_hours "
                f"({self.max_runtime_hours}) with managed spot"
            )
        if self.base_model_id is not None and self.enable_network_isolation:
            raise ValueError(
                "base_model_id needs a hub download but enable_network_isolation=True blocks "
                "it; put the weights in the data lake and use base_model_prefix"
            )
        evaluation = self.evaluation
        if evaluation is not None:
            if evaluation.generate_predictions:
                raise ValueError(
                    "evaluation.generate_predictions must be false: the training script writes "
                    "the predictions for the labelled set (output.tar.gz of the job); got true"
                )
            prefix = evaluation.predictions_prefix
            explicit = "predictions_prefix" in evaluation.model_fields_set
            if explicit and not self.output_prefix.startswith(prefix):
                raise ValueError(
                    f"evaluation.predictions_prefix {prefix!r} must contain output_prefix "
                    f"{self.output_prefix!r} (the predictions are job output); allowed: "
                    f"{self.output_prefix!r} or a prefix of it, or leave it unset"
                )
        return self

    def task_metrics_options(self) -> TaskMetricsOptions | None:
        """``evaluation`` with ``predictions_prefix`` defaulted to ``output_prefix``."""
        evaluation = self.evaluation
        if evaluation is None or "predictions_prefix" in evaluation.model_fields_set:
            return evaluation
        return evaluation.model_copy(update={"predictions_prefix": self.output_prefix})

    @property
    def sizing_method(self) -> TrainingMethod:
        """The planner's :class:`TrainingMethod` of the tuning (its memory arithmetic)."""
        return TrainingMethod(self.tuning.value)

    def gpus_used(self, spec: InstanceSpec) -> int:
        """GPUs the script trains on with ``spec``: every GPU of every instance with
        ``distributed: auto``, one with ``off``."""
        if self.distributed is DistributedMode.OFF:
            return 1
        return spec.accelerator_count * self.instance_count

    def script_hyperparameters(self) -> dict[str, str]:
        """The job's hyperparameters for the training script (strings, as the API wants);
        method options at their defaults are left to the script."""
        method = self.method.script_method
        values: dict[str, Any] = {
            "method": self.method.value,
            "tuning": self.tuning.value,
            "record_format": self.record_format.value,
            "max_seq_length": self.max_seq_length,
            **self.hyperparameters,
        }
        if self.base_model_id is not None:
            values["model_id"] = self.base_model_id
        if self.packing:
            values["packing"] = True
        if self.beta is not None:
            values["beta"] = self.beta
        if self.fsdp:
            values["fsdp"] = True
        if self.distributed is not DistributedMode.AUTO:
            values["distributed"] = self.distributed.value
        if method.generates:
            values.update(
                rewards=",".join(r.value for r in self.rewards),
                reward_function=self.reward_function,
                num_generations=self.num_generations,
                max_completion_length=self.max_completion_length,
                temperature=self.temperature,
            )
            if self.reward_file is not None:
                values["reward_file"] = self.reward_file.rsplit("/", 1)[-1]
            if self.reward_pattern:
                values["reward_pattern"] = self.reward_pattern
        return {key: _as_text(value) for key, value in sorted(values.items())}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_training_instance(
    options: SageMakerFineTuneOptions, catalog: InstanceCatalog | None = None
) -> InstanceSpec:
    """The catalog entry of ``options.instance_type`` after the rules the shipped script sets:
    an NVIDIA GPU instance of the catalog (the image is built for CUDA) whose GPUs hold the
    run's memory when ``base_model_parameters`` is given: the tuning's weights, gradients and
    optimizer state (sharded over every GPU used with ``fsdp``, else on each GPU), a
    full-weight reference copy for dpo / kto with ``tuning: full``, and the KV cache of a
    GRPO group. Raises ``ValueError`` naming the value and what fits.

    :param catalog: instance catalog. Default: the shipped one.
    """
    catalog = catalog or default_instance_catalog()
    gpus = sorted(
        spec.sagemaker_instance_type
        for spec in catalog
        if spec.accelerator_family is AcceleratorFamily.NVIDIA
    )
    spec = catalog.find(options.instance_type)
    if (
        not options.instance_type.startswith("ml.")
        or spec is None
        or spec.accelerator_family is not AcceleratorFamily.NVIDIA
    ):
        raise ValueError(
            f"instance_type {options.instance_type!r} is not an NVIDIA GPU instance of the "
            f"instance catalog (the training image is built for CUDA); allowed: "
            f"{', '.join(gpus)}."
        )
    if options.base_model_parameters is None:
        return spec
    params = options.base_model_parameters

    def need_on(gpu: InstanceSpec) -> tuple[float, float]:
        shards = options.gpus_used(gpu) if options.fsdp else 1
        need = memory_per_accelerator(
            params,
            options.sizing_method,
            seq_len=options.max_seq_length,
            shard_degree=shards,
            accelerator_memory_gib=gpu.accelerator_memory_gib,
        )
        extra = reference_copy_bytes(
            params, options.method.value, adapter=options.tuning.adapter
        ) / shards + generation_kv_bytes(
            params,
            options.method.value,
            num_generations=options.num_generations,
            tokens_per_sequence=options.max_seq_length + options.max_completion_length,
        )
        return need.total_gib + extra / GIB, need.available_gib

    total, available = need_on(spec)
    if total <= available:
        return spec
    by_size = sorted(
        catalog, key=lambda s: (s.accelerator_count, s.accelerator_memory_gib, s.vcpus)
    )
    fits = [
        s.sagemaker_instance_type
        for s in by_size
        if s.accelerator_family is AcceleratorFamily.NVIDIA and need_on(s)[0] <= need_on(s)[1]
    ]
    hint = (
        f"instances whose GPUs fit it: {', '.join(fits[:4])}"
        if fits
        else "no GPU of the catalog fits it"
    )
    other = " or tuning=qlora" if options.tuning is FineTuneTuning.LORA else ""
    if options.tuning is FineTuneTuning.FULL and not options.fsdp:
        other = " or fsdp=True (shard over every GPU)"
    raise ValueError(
        f"instance_type {options.instance_type}: {options.method.value} with tuning "
        f"{options.tuning.value} of a {params / 1e9:g}B-parameter model at max_seq_length "
        f"{options.max_seq_length} needs about {total:.1f} GiB per GPU, but one "
        f"{spec.accelerator} offers {available:.1f} GiB "
        f"({spec.accelerator_memory_gib:g} GiB less 10% headroom): "
        f"{total - available:.1f} GiB short. Use a larger GPU{other}; {hint}."
    )
