"""Reinforcement fine-tuning pieces of :class:`BedrockFineTuneJob`: the grader Lambda the
library deploys (``Grader``), the probe that tries it before the paid job (``GraderProbe``),
their workflow states and the job's ``customizationConfig.rftConfig``.

Both functions are built in the job construct's scope (``Grader``, ``GraderRole``,
``GraderLogs``, ``GraderProbe``, ...), like the dataset validator.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_llm_training.config.bedrock_fine_tune_job import RftOptions
from cdk_llm_training.constructs._workflow import notify_and_fail
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.runtime_function import RuntimeFunction

GRADER_HANDLER = "rft_grader.handler"
PROBE_HANDLER = "rft_grader_probe.handler"


def create_grader(
    scope: Construct,
    *,
    rft: RftOptions,
    dataset_bucket: s3.IBucket,
    data_key: kms.IKey | None,
    log_key: kms.IKey,
    log_retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
) -> RuntimeFunction:
    """``Grader``: a built-in verifiable grader, or one that loads the user's Python file
    from the curated zone (it may read that one object, nothing else)."""
    grader = rft.grader
    environment: dict[str, str] = {
        "GRADER_KIND": grader.builtin.value if grader.builtin else "python",
        "GRADER_CASE_SENSITIVE": "true" if grader.case_sensitive else "false",
    }
    statements: list[iam.PolicyStatement] = []
    if grader.pattern is not None:
        environment["GRADER_PATTERN"] = grader.pattern
    if grader.json_schema is not None:
        environment["GRADER_JSON_SCHEMA"] = json.dumps(grader.json_schema, sort_keys=True)
    if grader.python_source_key is not None:
        environment["GRADER_SOURCE_BUCKET"] = dataset_bucket.bucket_name
        environment["GRADER_SOURCE_KEY"] = grader.python_source_key
        statements.append(
            iam.PolicyStatement(
                sid="ReadGraderSource",
                actions=["s3:GetObject"],
                resources=[dataset_bucket.arn_for_objects(grader.python_source_key)],
            )
        )
    return RuntimeFunction(
        scope,
        "Grader",
        handler=GRADER_HANDLER,
        description="Scores model responses for the reinforcement fine-tuning job (reward).",
        role_description="Runs the reinforcement fine-tuning grader Lambda.",
        invoked_by="Amazon Bedrock's reinforcement fine-tuning job and the workflow's probe",
        log_retention=log_retention,
        log_key=log_key,
        removal_policy=removal_policy,
        statements=statements,
        data_key=data_key if grader.python_source_key is not None else None,
        environment=environment,
        memory_mib=grader.memory_mib,
        timeout=Duration.seconds(grader.timeout_seconds),
    )


def create_grader_probe(
    scope: Construct,
    *,
    rft: RftOptions,
    grader: RuntimeFunction,
    dataset_bucket: s3.IBucket,
    dataset_prefix: str,
    data_key: kms.IKey | None,
    log_key: kms.IKey,
    log_retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
) -> RuntimeFunction:
    """``GraderProbe``: reads the first records of the training file and invokes ``grader``
    with them; may read the dataset prefix and invoke that one function."""
    probe = RuntimeFunction(
        scope,
        "GraderProbe",
        handler=PROBE_HANDLER,
        description="Tries the RFT grader on a few training records before the paid job.",
        role_description="Runs the RFT grader probe Lambda.",
        invoked_by="the workflow's lambda:invoke task",
        log_retention=log_retention,
        log_key=log_key,
        removal_policy=removal_policy,
        statements=[
            iam.PolicyStatement(
                sid="ReadDatasets",
                actions=["s3:GetObject"],
                resources=[dataset_bucket.arn_for_objects(f"{dataset_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="InvokeGrader",
                actions=["lambda:InvokeFunction"],
                resources=[grader.function_arn],
            ),
        ],
        data_key=data_key,
        memory_mib=512,
        timeout=Duration.seconds(min(900, rft.grader.timeout_seconds + 60)),
        environment={
            "GRADER_FUNCTION": grader.function_name,
            "PROBE_RECORDS": str(rft.grader.probe_records),
        },
    )
    acknowledge_wildcards(
        probe.execution_role,
        "Object reads are limited to the dataset key prefix (prefix*), the only way to name "
        "the training files of future executions.",
    )
    return probe


def create_rft_functions(
    scope: Construct,
    *,
    rft: RftOptions,
    job_role: iam.IRole,
    dataset_bucket: s3.IBucket,
    dataset_prefix: str,
    data_key: kms.IKey | None,
    log_key: kms.IKey,
    log_retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
) -> tuple[RuntimeFunction, RuntimeFunction]:
    """``Grader`` and ``GraderProbe``; ``job_role`` may invoke the grader."""
    shared: dict[str, Any] = {
        "data_key": data_key,
        "log_key": log_key,
        "log_retention": log_retention,
        "removal_policy": removal_policy,
    }
    grader = create_grader(scope, rft=rft, dataset_bucket=dataset_bucket, **shared)
    probe = create_grader_probe(
        scope,
        rft=rft,
        grader=grader,
        dataset_bucket=dataset_bucket,
        dataset_prefix=dataset_prefix,
        **shared,
    )
    allow_job_to_invoke(job_role, grader)
    return grader, probe


def grader_probe_states(
    scope: Construct,
    *,
    probe: RuntimeFunction,
    topic: sns.ITopic,
    on_probe_error: sfn.IChainable,
    job: sfn.IChainable,
) -> sfn.IChainable:
    """``ProbeGrader`` (result in ``$.graderProbe``; a crash goes to ``on_probe_error``) ->
    ``GraderWorks?``: no -> ``NotifyGraderFailed`` -> ``GraderFailed`` before the paid job;
    yes -> ``job``."""
    probe_task = tasks.LambdaInvoke(
        scope,
        "ProbeGrader",
        comment="Send a few training records to the grader; check its answers' shape.",
        lambda_function=probe,
        payload=sfn.TaskInput.from_object(
            {"trainingDataS3Uri": sfn.JsonPath.string_at("$.validation.trainingDataS3Uri")}
        ),
        payload_response_only=True,
        result_path="$.graderProbe",
        retry_on_service_exceptions=True,
    )
    probe_task.add_catch(on_probe_error, errors=["States.ALL"], result_path="$.error")
    failed = notify_and_fail(
        scope,
        "NotifyGraderFailed",
        topic=topic,
        subject="Bedrock RFT: the grader failed its probe, no job started",
        message={
            "result": "GRADER_FAILED",
            "execution": sfn.JsonPath.execution_id,
            "jobName": sfn.JsonPath.string_at("$.validation.jobName"),
            "problems": sfn.JsonPath.object_at("$.graderProbe.problems"),
        },
        fail_id="GraderFailed",
        error="GraderFailed",
        cause="The grader errored or answered in the wrong shape; see the notification.",
    )
    works = sfn.Choice(scope, "GraderWorks?").when(
        sfn.Condition.boolean_equals("$.graderProbe.works", True), job
    )
    return probe_task.next(works.otherwise(failed))


def rft_customization_config(rft: RftOptions, grader: RuntimeFunction) -> dict[str, Any]:
    """``CustomizationConfig`` of the request (Step Functions' PascalCase member names)."""
    config: dict[str, Any] = {"GraderConfig": {"LambdaGrader": {"LambdaArn": grader.function_arn}}}
    hyperparameters = rft.hyperparameters.api()
    if hyperparameters:
        config["HyperParameters"] = {k[:1].upper() + k[1:]: v for k, v in hyperparameters.items()}
    return {"RftConfig": config}


def allow_job_to_invoke(job_role: iam.IRole, grader: RuntimeFunction) -> None:
    """The service role invokes the grader ("Reinforcement fine-tuning access and security":
    ``lambda:InvokeFunction`` on the reward function)."""
    job_role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="InvokeGrader",
            actions=["lambda:InvokeFunction"],
            resources=[grader.function_arn],
        )
    )
