"""Options of the evaluation step of :class:`cdk_llm_training.SageMakerServerlessCustomization`:
SageMaker AI serverless evaluation jobs (``CreateTrainingJob`` with ``ServerlessJobConfig``
``JobType=Evaluation``) gated by the library's evaluation thresholds.

Pure Python (no aws_cdk import). From the botocore ``sagemaker`` model: ``JobType``
(``FineTuning``, ``Evaluation``), ``EvaluationType`` (``BenchmarkEvaluation``,
``LLMAJEvaluation``, ``CustomScorerEvaluation``; required when ``JobType`` is Evaluation),
``ModelPackageConfig.SourceModelPackageArn`` (the model package a custom-model evaluation
reads). The API model has no member naming the benchmark or the judge: the benchmark list,
its metric and strategy come from the "Evaluation types and Job Submission" page of the
SageMaker AI developer guide (model-customize-evaluation-types); the hyperparameter names
that carry them (``task``, ``strategy``, ``evaluation_metric``, ``subtask``; for the judge
``judge_model_id``, ``llmaj_metrics``, ``inference_data_s3_path``) are those AWS's SageMaker
Python SDK sends, not an API reference (unverified).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.model_evaluation import JUDGE_METRICS, EvaluationThresholds
from cdk_llm_training.config.types import S3Key, S3Prefix


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
    max_new_tokens: int = Field(default=2048, ge=1, le=32768)
    """Longest answer the model may write per prompt. Default 2048."""

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
