"""Options of :class:`cdk_llm_training.SageMakerFineTuneJob` (pure Python, no aws_cdk import).

The default training image is in :mod:`cdk_llm_training.config.catalogs.training_images`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.bedrock_fine_tune_job import JOB_NAME_PREFIX_PATTERN
from cdk_llm_training.config.catalogs.instances import (
    AcceleratorFamily,
    InstanceCatalog,
    InstanceSpec,
    default_instance_catalog,
)
from cdk_llm_training.config.sizing.gpu_memory import memory_per_accelerator
from cdk_llm_training.config.task_metrics_evaluation import TaskMetricsOptions
from cdk_llm_training.config.types import AdapterMethod, LogRetentionDays, S3Prefix
from cdk_llm_training.config.vocabulary import TrainingMethod

MODEL_PACKAGE_GROUP_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
IMAGE_URI_PATTERN = re.compile(r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/.+")
TRAINING_IMAGE_REPOSITORY = re.compile(r"/(?:[^/:@]+/)*[^/:@]*-training(?:[:@]|$)")
"""An image whose repository name ends in ``-training``: AWS Deep Learning Containers name
their training images so (``pytorch-training``, ``huggingface-pytorch-training``,
``tensorflow-training``); they hold no model server and cannot serve a model package."""
SCRIPT_GPUS = 1
"""GPUs the shipped ``train_lora.py`` trains on (it puts the model on device 0). The planner
times and prices the small tier's jobs on this many GPUs."""
MAX_RUNTIME_HOURS = 28 * 24
"""CreateTrainingJob allows at most 28 days of MaxRuntimeInSeconds."""

NVME_INSTANCE_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en")
"""Instance families with local NVMe instance storage: SageMaker encrypts it in hardware and
rejects ``ResourceConfig.VolumeKmsKeyId`` on them (CreateTrainingJob API reference)."""

METRIC_DEFINITIONS: tuple[dict[str, str], ...] = (
    {"Name": "train_loss", "Regex": r"train_loss=([0-9.eE+-]+)"},
    {"Name": "eval_loss", "Regex": r"eval_loss=([0-9.eE+-]+)"},
    {"Name": "tokens_per_second", "Regex": r"tokens_per_second=([0-9.eE+-]+)"},
    {"Name": "learning_rate", "Regex": r"learning_rate=([0-9.eE+-]+)"},
)
"""What the job's metric definitions capture from the shipped script's ``[metrics]`` lines."""

SCRIPT_HYPERPARAMETERS = (
    "epochs", "max_steps", "learning_rate", "weight_decay", "warmup_ratio",
    "per_device_batch_size", "gradient_accumulation_steps", "lora_r", "lora_alpha",
    "lora_dropout", "target_modules", "gradient_checkpointing", "logging_steps", "eval_steps",
    "save_steps", "save_total_limit", "seed", "trust_remote_code", "max_new_tokens",
)  # fmt: skip
"""Arguments of ``train_lora.py`` that ``hyperparameters`` may set. ``method``,
``record_format``, ``model_id`` and ``max_seq_length`` come from their own options."""


class OpenModelRecordFormat(StrEnum):
    """JSONL record formats the validator checks and ``train_lora.py`` reads."""

    CHAT = "chat"
    """``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}``"""
    INSTRUCTION = "instruction"
    """``{"instruction": "...", "input": "...", "output": "..."}`` (``input`` optional)."""
    PROMPT_COMPLETION = "prompt_completion"
    """``{"prompt": "...", "completion": "..."}``"""


class SageMakerFineTuneOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.SageMakerFineTuneJob`. Every field has
    a default that deploys as-is: LoRA of an 8B model whose weights sit in the artifacts zone
    under ``base-models/llama-3.1-8b-instruct/``, on one ml.g5.2xlarge with managed spot."""

    method: AdapterMethod = TrainingMethod.LORA
    """``lora`` (default) or ``qlora``."""
    record_format: OpenModelRecordFormat = OpenModelRecordFormat.CHAT
    """Dataset record format, checked by the validator and read by the script. Default chat."""
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
    ``ml.g5.2xlarge`` (1 x A10G 24 GiB). The shipped script trains on one GPU."""
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

    def script_hyperparameters(self) -> dict[str, str]:
        """The job's hyperparameters for ``train_lora.py`` (strings, as the API wants)."""
        values: dict[str, Any] = {
            "method": self.method.value,
            "record_format": self.record_format.value,
            "max_seq_length": self.max_seq_length,
            **self.hyperparameters,
        }
        if self.base_model_id is not None:
            values["model_id"] = self.base_model_id
        return {key: _as_text(value) for key, value in sorted(values.items())}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_training_instance(
    options: SageMakerFineTuneOptions, catalog: InstanceCatalog | None = None
) -> InstanceSpec:
    """The catalog entry of ``options.instance_type`` after the rules the shipped script sets:
    an NVIDIA GPU instance of the catalog (the image is built for CUDA) whose ONE GPU holds
    the method's memory (``train_lora.py`` trains on one GPU) when ``base_model_parameters``
    is given. Raises ``ValueError`` naming the value and what fits.

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
    method = options.method

    def need_on(gpu: InstanceSpec) -> tuple[float, float]:
        need = memory_per_accelerator(
            options.base_model_parameters or 0.0,
            method,
            seq_len=options.max_seq_length,
            shard_degree=1,
            accelerator_memory_gib=gpu.accelerator_memory_gib,
        )
        return need.total_gib, need.available_gib

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
        f"instances whose GPU fits it: {', '.join(fits[:4])}"
        if fits
        else "no single GPU of the catalog fits it"
    )
    other = " or method=qlora" if method is TrainingMethod.LORA else ""
    raise ValueError(
        f"instance_type {options.instance_type}: {options.method.value} of a "
        f"{options.base_model_parameters / 1e9:g}B-parameter model at max_seq_length "
        f"{options.max_seq_length} needs about {total:.1f} GiB on one GPU, but one "
        f"{spec.accelerator} offers {available:.1f} GiB "
        f"({spec.accelerator_memory_gib:g} GiB less 10% headroom): "
        f"{total - available:.1f} GiB short. Use a larger GPU{other}; {hint}."
    )
