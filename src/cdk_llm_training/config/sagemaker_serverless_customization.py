"""Options of :class:`cdk_llm_training.SageMakerServerlessCustomization`: SageMaker AI
serverless model customization (``CreateTrainingJob`` with ``ServerlessJobConfig``).

Pure Python (no aws_cdk import). Member names, enums and patterns are the botocore
``sagemaker`` model's: ``ServerlessJobConfig`` = ``BaseModelArn`` (a SageMaker hub-content
ARN, how public hub and JumpStart models are named), ``JobType`` (FineTuning, Evaluation),
``CustomizationTechnique`` (SFT, DPO, RLVR, RLAIF), ``Peft`` (LORA), ``EvaluatorArn``,
``SequenceLength`` (``<n>K``), ``AcceptEula``.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.sagemaker_serverless_evaluation import ServerlessEvaluationOptions
from cdk_llm_training.config.types import LOG_RETENTION_DAYS

HUB_CONTENT_ARN = re.compile(
    r"^arn:[a-z0-9-\.]{1,63}:sagemaker:\w+(?:-\w+)+:(\d{12}|aws):hub-content/"
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/Model/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}"
    r"(/\d{1,4}\.\d{1,4}\.\d{1,4})?$"
)
"""``ServerlessJobBaseModelArn`` of the API model (anchored; its ``.`` before the version
parts made literal)."""


class CustomizationTechnique(StrEnum):
    """``CustomizationTechnique`` of the API."""

    SFT = "SFT"
    DPO = "DPO"
    RLVR = "RLVR"
    RLAIF = "RLAIF"


RECORD_FORMATS: dict[CustomizationTechnique, str] = {
    CustomizationTechnique.SFT: "chat",
    CustomizationTechnique.DPO: "json_object",
    CustomizationTechnique.RLVR: "rft_prompts",
    CustomizationTechnique.RLAIF: "json_object",
}
"""Record format the validator applies per technique. Unverified against AWS's dataset-format
pages for serverless customization (SFT: chat messages; RLVR: messages plus a reference
answer; DPO and RLAIF: any JSON object, the service checks the schema); override with
``record_format``."""


class SageMakerServerlessOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.SageMakerServerlessCustomization`."""

    base_model_arn: str = Field(min_length=1, max_length=2048)
    """Hub-content ARN of the base model, e.g.
    ``arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/<model-id>/1.0.0``."""
    technique: CustomizationTechnique = CustomizationTechnique.SFT
    """SFT (default), DPO, RLVR or RLAIF."""
    lora: bool = True
    """Train LoRA adapters (``Peft=LORA``, default) or, when false, all weights."""
    evaluator_arn: str | None = Field(default=None, min_length=1, max_length=2048)
    """The reward function (RLVR) or judge (RLAIF) evaluator ARN; required for those two,
    rejected for SFT and DPO (which evaluator kinds each accepts: unverified)."""
    sequence_length: str | None = Field(default=None, pattern=r"^\d+K$")
    """Maximum sequence length, e.g. ``8K``. Default: the service default."""
    accept_eula: bool = False
    """Accept the base model's end-user license agreement (gated models need it)."""
    record_format: str | None = None
    """Record format the validator checks. Default: by technique (``RECORD_FORMATS``)."""
    dataset_prefix: str = "serverless/"
    """Curated-zone prefix the datasets live under."""
    output_prefix: str = "sagemaker/serverless-output/"
    """Artifacts-zone prefix of the job output."""
    report_prefix: str = "sagemaker/serverless-reports/"
    """Artifacts-zone prefix of dataset validation reports."""
    job_name_prefix: str = Field(default="serverless", min_length=1, max_length=30)
    """Training job names are ``<prefix>-<suffix>``."""
    model_package_group_name: str | None = Field(default=None, max_length=63)
    """Name of the created model package group. Default: a stack-unique name."""
    poll_interval_minutes: int = Field(default=5, ge=1, le=60)
    """How often the workflow asks DescribeTrainingJob for the job's status. Default 5."""
    max_polls: int = Field(default=2016, ge=1, le=100000)
    """Give up (stop the job and fail) after this many polls. Default 2016 (7 days at 5)."""
    evaluation: ServerlessEvaluationOptions | None = None
    """Evaluate the registered model with serverless evaluation jobs and gate its approval
    on the thresholds. Default: off (the package stays pending manual approval)."""
    validator_memory_mib: int = Field(default=1024, ge=256, le=10240)
    validator_timeout_minutes: int = Field(default=15, ge=1, le=15)
    log_retention_days: int = 365

    @field_validator("base_model_arn")
    @classmethod
    def _hub_content(cls, value: str) -> str:
        if not HUB_CONTENT_ARN.match(value):
            raise ValueError(
                f"base_model_arn {value!r} must be a SageMaker hub-content model ARN "
                "(arn:<partition>:sagemaker:<region>:aws:hub-content/<hub>/Model/<name>[/x.y.z])"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention")
        return value

    @model_validator(mode="after")
    def _evaluator(self) -> SageMakerServerlessOptions:
        needs = self.technique in (CustomizationTechnique.RLVR, CustomizationTechnique.RLAIF)
        if needs and self.evaluator_arn is None:
            raise ValueError(
                f"technique {self.technique.value} needs evaluator_arn (the reward function "
                "or judge)"
            )
        if not needs and self.evaluator_arn is not None:
            raise ValueError(
                f"evaluator_arn is set but technique is {self.technique.value}; it applies "
                "to RLVR and RLAIF only"
            )
        return self

    @model_validator(mode="after")
    def _judge_dataset(self) -> SageMakerServerlessOptions:
        judge = self.evaluation.judge if self.evaluation else None
        if judge is not None and not judge.dataset_key.startswith(self.dataset_prefix):
            raise ValueError(
                f"evaluation.judge.dataset_key {judge.dataset_key!r} must be under "
                f"dataset_prefix {self.dataset_prefix!r} (the only prefix jobs may read)"
            )
        return self

    @property
    def effective_record_format(self) -> str:
        return self.record_format or RECORD_FORMATS[self.technique]
