"""The serverless evaluation jobs of :class:`SageMakerServerlessCustomization` (what each
job asks for) and the resources the evaluation step adds (job role grants, report Lambda)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from cdk_llm_training.config.sagemaker_serverless_customization import (
    BENCHMARKS,
    ServerlessEvaluationOptions,
)
from cdk_llm_training.constructs._workflow import add_list_statement
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.runtime_function import RuntimeFunction

if TYPE_CHECKING:
    from cdk_llm_training.constructs.fine_tune.sagemaker_serverless import (
        SageMakerServerlessCustomization,
    )

REPORT_HANDLER = "serverless_evaluation_report.handler"
JOB_FAILED_STATUSES = ("Failed", "Stopped")
JUDGE_INFERENCE_NAME = "inference"
"""The inference job's ``name`` hyperparameter: its answers land under this folder."""


@dataclass(frozen=True)
class EvaluationJob:
    """One serverless evaluation job of the chain."""

    suffix: str
    """Appended to the customization job's name (``<job>-<suffix>``)."""
    evaluation_type: str
    hyper_parameters: dict[str, Any]
    report_entry: dict[str, Any] | None
    """What the report Lambda reads from this job (None: nothing, e.g. judge inference)."""
    dataset_uri: str | None = None


def evaluation_jobs(
    options: ServerlessEvaluationOptions, *, output_uri: str, dataset_uri: str | None
) -> list[EvaluationJob]:
    """The jobs, in order: one per benchmark, then judge inference and judging."""
    jobs = []
    for index, benchmark in enumerate(options.benchmarks, start=1):
        spec = BENCHMARKS[benchmark]
        hyper: dict[str, Any] = {
            "task": benchmark.value,
            "strategy": spec.strategy,
            "evaluation_metric": spec.metric,
        }
        if benchmark in options.subtasks:
            hyper["subtask"] = ",".join(options.subtasks[benchmark])
        jobs.append(
            EvaluationJob(
                suffix=f"eval{index}",
                evaluation_type="BenchmarkEvaluation",
                hyper_parameters=hyper,
                report_entry={
                    "kind": "benchmark",
                    "benchmark": benchmark.value,
                    "metric": spec.metric,
                },
            )
        )
    judge = options.judge
    if judge is not None:
        jobs.append(
            EvaluationJob(
                suffix="judgeinf",
                evaluation_type="BenchmarkEvaluation",
                hyper_parameters={"name": JUDGE_INFERENCE_NAME, "task": "inference_only"},
                report_entry=None,
                dataset_uri=dataset_uri,
            )
        )
        answers = (
            f"{output_uri}{{}}-judgeinf/output/output/{JUDGE_INFERENCE_NAME}/"
            "eval_results/inference_output.jsonl"
        )
        jobs.append(
            EvaluationJob(
                suffix="judge",
                evaluation_type="LLMAJEvaluation",
                hyper_parameters={
                    "name": "judge",
                    "judge_model_id": judge.judge_model_id,
                    "inference_data_s3_path.$": (
                        f"States.Format('{answers}', $.evaluation.baseName)"
                    ),
                    "output_path": output_uri,
                    "llmaj_metrics": json.dumps(
                        [m.removeprefix("Builtin.") for m in judge.metrics]
                    ),
                    # Generation settings as AWS's SDK sends them (greedy decoding).
                    "max_new_tokens": str(judge.max_new_tokens),
                    "temperature": "0",
                    "top_k": "-1",
                    "top_p": "1.0",
                },
                report_entry={
                    "kind": "judge",
                    "metrics": list(judge.metrics),
                    "dataset": judge.dataset_key,
                },
            )
        )
    return jobs


def grant_training_role(
    workflow: SageMakerServerlessCustomization, options: ServerlessEvaluationOptions
) -> None:
    """Let the job role write the evaluation output (and invoke the judge model)."""
    role = workflow.training_role
    bucket = workflow.output_bucket
    prefix = options.output_prefix
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteEvaluationOutput",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        )
    )
    add_list_statement(role, bucket, prefix, "ListEvaluationOutput")
    if options.judge is not None:
        # The judge runs through Bedrock evaluations; which principal invokes it for a
        # serverless job is not documented in the pages checked (unverified): the job
        # role may invoke only the chosen judge model.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeJudgeModel",
                actions=["bedrock:InvokeModel"],
                resources=[
                    f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/"
                    f"{options.judge.judge_model_id}"
                ],
            )
        )


def create_report_function(
    workflow: SageMakerServerlessCustomization, options: ServerlessEvaluationOptions
) -> RuntimeFunction:
    """``EvaluationReportFunction``: reads the evaluation output, writes the report."""
    opts = options
    bucket = workflow.output_bucket
    function = RuntimeFunction(
        workflow,
        "EvaluationReportFunction",
        handler=REPORT_HANDLER,
        description="Turns serverless evaluation results into the evaluation report.",
        role_description="Runs the serverless evaluation report Lambda.",
        invoked_by="the serverless customization workflow's lambda:invoke task",
        log_retention=workflow._log_retention,
        log_key=workflow.key,
        removal_policy=workflow._removal_policy,
        data_key=workflow.data_key,
        environment={
            "REPORT_BUCKET": bucket.bucket_name,
            "REPORT_PREFIX": opts.report_prefix,
            "THRESHOLDS": opts.thresholds.model_dump_json(),
        },
        statements=[
            iam.PolicyStatement(
                sid="ReadEvaluationOutput",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{opts.output_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="ListEvaluationOutput",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{opts.output_prefix}*"]}},
            ),
            iam.PolicyStatement(
                sid="WriteEvaluationReports",
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{opts.report_prefix}*")],
            ),
        ],
    )
    acknowledge_wildcards(
        function.execution_role,
        "Object access is limited to the evaluation output and report prefixes (prefix*), "
        "the only way to name the objects of future runs.",
    )
    return function


def success_fields() -> dict[str, Any]:
    """What ``NotifySucceeded`` carries after a passed gate (both entry paths)."""
    return {
        "modelPackageArn": sfn.JsonPath.string_at("$.evaluation.modelPackageArn"),
        "metrics": sfn.JsonPath.object_at("$.evaluationReport.summary.metrics"),
        "report": sfn.JsonPath.string_at("$.evaluationReport.reportS3Uri"),
    }
