"""Options of :class:`cdk_llm_training.SageMakerServerlessCustomization`: SageMaker AI
serverless model customization (``CreateTrainingJob`` with ``ServerlessJobConfig``).

Pure Python (no aws_cdk import). Member names, enums and patterns are the botocore
``sagemaker`` model's: ``ServerlessJobConfig`` = ``BaseModelArn`` (a SageMaker hub-content
ARN, how public hub and JumpStart models are named), ``JobType`` (FineTuning, Evaluation),
``CustomizationTechnique`` (SFT, DPO, RLVR, RLAIF), ``Peft`` (LORA), ``EvaluatorArn``,
``SequenceLength`` (``<n>K``), ``AcceptEula``.

Evaluation (``options.evaluation``: serverless jobs with ``JobType=Evaluation``, gated by the
library's evaluation thresholds): from the botocore model, ``EvaluationType``
(``BenchmarkEvaluation``, ``LLMAJEvaluation``, ``CustomScorerEvaluation``; required when
``JobType`` is Evaluation),
``ModelPackageConfig.SourceModelPackageArn`` (the model package a custom-model evaluation
reads). The API model has no member naming the benchmark or the judge: the benchmark list,
its metric and strategy come from the "Evaluation types and Job Submission" page of the
SageMaker AI developer guide (model-customize-evaluation-types); the hyperparameter names
that carry them (``task``, ``strategy``, ``evaluation_metric``, ``subtask``; for the judge
``judge_model_id``, ``llmaj_metrics``, ``inference_data_s3_path``) are those AWS's SageMaker
Python SDK sends, not an API reference (unverified).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.model_evaluation import JUDGE_METRICS, EvaluationThresholds
from cdk_llm_training.config.types import LOG_RETENTION_DAYS, S3Key, S3Prefix

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


# -- evaluation (JobType=Evaluation) -------------------------------------------------------


class ServerlessBenchmark(StrEnum):
    """The text benchmarks AWS lists for serverless evaluation of open-weight models."""

    MMLU = "mmlu"
    MMLU_PRO = "mmlu_pro"
    BBH = "bbh"
    GPQA = "gpqa"
    MATH = "math"
    STRONG_REJECT = "strong_reject"
    IFEVAL = "ifeval"


@dataclass(frozen=True)
class BenchmarkSpec:
    """A benchmark's metric and prompting strategy as AWS's benchmark table lists them."""

    metric: str
    strategy: str
    has_subtasks: bool


BENCHMARKS: dict[ServerlessBenchmark, BenchmarkSpec] = {
    ServerlessBenchmark.MMLU: BenchmarkSpec("accuracy", "zs_cot", has_subtasks=True),
    ServerlessBenchmark.MMLU_PRO: BenchmarkSpec("accuracy", "zs_cot", has_subtasks=False),
    ServerlessBenchmark.BBH: BenchmarkSpec("accuracy", "fs_cot", has_subtasks=True),
    ServerlessBenchmark.GPQA: BenchmarkSpec("accuracy", "zs_cot", has_subtasks=False),
    ServerlessBenchmark.MATH: BenchmarkSpec("exact_match", "zs_cot", has_subtasks=True),
    ServerlessBenchmark.STRONG_REJECT: BenchmarkSpec("deflection", "zs", has_subtasks=True),
    ServerlessBenchmark.IFEVAL: BenchmarkSpec("accuracy", "zs", has_subtasks=False),
}
"""Metric, strategy and subtask support per benchmark (the developer guide's table)."""

JUDGE_MODEL_IDS = (
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-opus-4-5-20251101-v1:0",
    "amazon.nova-micro-v1:0",
    "amazon.nova-pro-v1:0",
    "amazon.nova-2-lite-v1:0",
    "amazon.nova-premier-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "mistral.mistral-large-2402-v1:0",
)
"""Judge models the SageMaker Python SDK accepts for serverless LLM-as-a-judge (its allow
list; Regions vary, and AWS's page was not found to list them: unverified)."""


def benchmark_metric_name(benchmark: ServerlessBenchmark) -> str:
    """The report's name of a benchmark's score, e.g. ``mmlu/accuracy``."""
    return f"{benchmark.value}/{BENCHMARKS[benchmark].metric}"


class ServerlessJudgeOptions(FrozenModel):
    """LLM-as-a-judge: the model answers the prompts of ``dataset_key`` (an inference job),
    then a judge model scores the answers (an ``LLMAJEvaluation`` job, run by Amazon Bedrock
    evaluations, billed as such)."""

    dataset_key: S3Key = Field(min_length=1)
    """Curated-zone key (under the workflow's ``dataset_prefix``) of the prompt dataset."""
    judge_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    """Judge model. Default Claude 3 Haiku, the cheapest of :data:`JUDGE_MODEL_IDS`."""
    metrics: tuple[str, ...] = ("Builtin.Correctness", "Builtin.Helpfulness")
    """Bedrock's built-in judge metrics. Default correctness and helpfulness."""
    max_new_tokens: int = Field(default=8192, ge=1, le=32768)
    """``max_new_tokens`` of the judge job (with temperature 0, top_k -1, top_p 1.0), the
    value AWS's SDK sends; what it bounds exactly is not documented (unverified).
    Default 8192."""

    @field_validator("judge_model_id")
    @classmethod
    def _judge(cls, value: str) -> str:
        if value not in JUDGE_MODEL_IDS:
            raise ValueError(
                f"judge_model_id {value!r} is not a serverless evaluation judge; allowed: "
                f"{', '.join(JUDGE_MODEL_IDS)}"
            )
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in value if m not in JUDGE_METRICS]
        if unknown or not value:
            raise ValueError(
                f"metrics {list(value)!r}: {', '.join(unknown) or 'empty'} not allowed; "
                f"allowed (at least one): {', '.join(JUDGE_METRICS)}"
            )
        return value


class ServerlessEvaluationOptions(FrozenModel):
    """Evaluate every model the workflow registers (or a given model package) with serverless
    evaluation jobs, write the library's JSON evaluation report, and let the same threshold
    gate as the other workflows approve or reject the model package."""

    benchmarks: tuple[ServerlessBenchmark, ...] = (ServerlessBenchmark.MMLU,)
    """Benchmarks, one evaluation job each, run one after another. Default MMLU only."""
    subtasks: dict[ServerlessBenchmark, tuple[str, ...]] = Field(default_factory=dict)
    """Benchmark -> subtasks to run (fewer subtasks: a cheaper job). Default: all."""
    judge: ServerlessJudgeOptions | None = None
    """LLM-as-a-judge on your prompts. Default off (it adds an inference job and a
    Bedrock judge job)."""
    thresholds: EvaluationThresholds = EvaluationThresholds()
    """The gate. ``min_scores`` names ``<benchmark>/<metric>`` (e.g. ``mmlu/accuracy``) or a
    judge metric (e.g. ``Builtin.Correctness``; maxima for lower-is-better metrics).
    ``min_improvement`` is rejected: no base-model job runs. Default: none (report only,
    the gate passes)."""
    approve_on_pass: bool = True
    """Passed: set the model package to ``Approved``; false: leave it pending manual
    approval. A failed gate always sets ``Rejected``. Default true."""
    output_prefix: S3Prefix = "sagemaker/serverless-evaluation/"
    """Artifacts-zone prefix of the evaluation jobs' output."""
    report_prefix: S3Prefix = "evaluation/serverless-reports/"
    """Artifacts-zone prefix of the JSON reports (``<prefix><execution>/report.json``)."""
    poll_interval_minutes: int = Field(default=5, ge=1, le=60)
    """How often each evaluation job's status is read. Default 5."""
    max_polls: int = Field(default=288, ge=1, le=100000)
    """Stop an evaluation job and fail after this many polls. Default 288 (24 h at 5)."""
    max_runtime_hours: int = Field(default=24, ge=1, le=672)
    """``StoppingCondition.MaxRuntimeInSeconds`` of each job. Default 24 hours."""

    @field_validator("benchmarks")
    @classmethod
    def _unique(cls, value: tuple[ServerlessBenchmark, ...]) -> tuple[ServerlessBenchmark, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"benchmarks {[b.value for b in value]} lists a benchmark twice")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServerlessEvaluationOptions:
        if not self.benchmarks and self.judge is None:
            raise ValueError("benchmarks is empty and judge is None; set one")
        for benchmark, names in self.subtasks.items():
            if benchmark not in self.benchmarks:
                raise ValueError(
                    f"subtasks names {benchmark.value}, which is not in benchmarks "
                    f"({', '.join(b.value for b in self.benchmarks)})"
                )
            if not BENCHMARKS[benchmark].has_subtasks:
                allowed = [b.value for b, s in BENCHMARKS.items() if s.has_subtasks]
                raise ValueError(
                    f"subtasks for {benchmark.value}: it has none; benchmarks with subtasks: "
                    f"{', '.join(allowed)}"
                )
            if not names or any(not n or "," in n for n in names):
                raise ValueError(
                    f"subtasks[{benchmark.value}] = {list(names)!r}: give at least one "
                    "non-empty name without commas"
                )
        if self.thresholds.min_improvement:
            raise ValueError(
                "thresholds.min_improvement is not supported by serverless evaluation (no "
                "base-model job runs); allowed: thresholds.min_scores"
            )
        computed = set(self.metric_names)
        unknown = sorted(set(self.thresholds.min_scores) - computed)
        if unknown:
            raise ValueError(
                f"thresholds.min_scores names {', '.join(unknown)}, which this evaluation does "
                f"not compute; computed: {', '.join(sorted(computed))}"
            )
        return self

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric the report carries."""
        judged = self.judge.metrics if self.judge else ()
        return (*(benchmark_metric_name(b) for b in self.benchmarks), *judged)


# -- customization -----------------------------------------------------------------------


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
