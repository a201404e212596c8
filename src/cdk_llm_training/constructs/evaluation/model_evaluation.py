"""ModelEvaluation: the resources of Bedrock model evaluation (LLM-as-a-judge + built-in
metrics, a JSON report and a threshold gate) to run after a Bedrock fine-tune; its states are
the :class:`ModelEvaluationSteps` fragment.
"""

from __future__ import annotations

import re

from aws_cdk import Aws, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.catalogs.custom_model_deployment import (
    PRECOMPUTED_SOURCE_IDENTIFIER,
    EvaluationInference,
    resolve_inference,
)
from cdk_llm_training.config.model_evaluation import ModelEvaluationOptions
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs._workflow import lake_buckets
from cdk_llm_training.constructs.acknowledgements import acknowledge_wildcards
from cdk_llm_training.constructs.evaluation._arns import bedrock_arn, model_arns
from cdk_llm_training.constructs.evaluation._grants import grant_statement
from cdk_llm_training.constructs.evaluation.model_evaluation_steps import ModelEvaluationSteps
from cdk_llm_training.constructs.notification_key import allow_cloudwatch_logs
from cdk_llm_training.constructs.runtime_function import RuntimeFunction
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake

PREPARE_HANDLER = "evaluation_prompts.prepare_handler"
REPORT_HANDLER = "evaluation_report.bedrock_report_handler"
RESPONSES_HANDLER = "evaluation_responses.handler"
RESPONSES_FOLDER = "responses/"
"""Under ``input_prefix``: the on-demand route's answers (the evaluation role reads there)."""
_CONTEXT_SUFFIX = re.compile(r":\d+k$")


def on_demand_model_id(base_model_id: str) -> str:
    """The invocable id of a customizable base model: ``amazon.nova-micro-v1:0:128k`` ->
    ``amazon.nova-micro-v1:0`` (the context-length suffix names the customization variant)."""
    return _CONTEXT_SUFFIX.sub("", base_model_id)


class ModelEvaluation(Construct):
    """Evaluation resources; their states are :class:`ModelEvaluationSteps` (see :meth:`chain`).

    Creates: a Bedrock evaluation service role (trusts ``bedrock.amazonaws.com`` only for
    ``evaluation-job/*`` of this account: ``aws:SourceAccount`` + ``aws:SourceArn``) that
    reads only the prepared prompt set, writes only the output prefix and invokes only the
    foundation models, provisioned models and inference profiles of this account/Region; a
    prepare Lambda (validates the prompt catalog with the streaming validator and writes it
    in Bedrock's dataset format); a report Lambda (reads the evaluation output, compares with
    the base model, applies the thresholds, writes ``<report_prefix><execution>/report.json``
    to the artifacts zone).

    Embed the states in a workflow with :meth:`chain` (or build
    :class:`ModelEvaluationSteps` yourself) and give its state machine :meth:`grant_workflow`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        base_model_id: str,
        topic: sns.ITopic,
        options: ModelEvaluationOptions | None = None,
        data_lake: TrainingDataLake | None = None,
        catalog_bucket: s3.IBucket | None = None,
        output_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
        log_key: kms.IKey | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the role and Lambdas.

        :param base_model_id: the base model the candidate is compared with (its on-demand id
            is derived with :func:`on_demand_model_id` unless ``options.baseline_model_id``).
        :param topic: topic for the evaluation notifications.
        :param options: Default ``ModelEvaluationOptions()``.
        :param data_lake: catalog in the curated zone, output and reports in the artifacts
            zone. Either this or ``catalog_bucket`` + ``output_bucket``.
        :param data_key: KMS key of those buckets. Default: the lake key, or none.
        :param log_key: KMS key for the Lambda log groups (its policy gets the CloudWatch Logs
            statement). Default: none (AWS-managed).
        :param removal_policy: for the log groups. Default RETAIN_ON_UPDATE_OR_DELETE.
        """
        super().__init__(scope, id)
        record_construct_type(self, "ModelEvaluation")
        self.options = opts = options or ModelEvaluationOptions()
        self.topic = topic
        self.base_model_id = base_model_id
        self.baseline_model_id = opts.baseline_model_id or on_demand_model_id(base_model_id)
        self.catalog_bucket, self.output_bucket, self.data_key = lake_buckets(
            "ModelEvaluation",
            data_lake=data_lake,
            data_key=data_key,
            inputs=("catalog_bucket", catalog_bucket),
            outputs=("output_bucket", output_bucket),
        )
        self._log_key = log_key
        if log_key is not None:
            allow_cloudwatch_logs(log_key)
        self._log_retention = log_retention
        self._removal_policy = removal_policy
        region = Stack.of(self).region
        self.inference: EvaluationInference | None = (
            resolve_inference(
                opts.evaluation_inference,
                base_model_id=base_model_id,
                region=None if Token.is_unresolved(region) else region,
                algorithmic_metrics=bool(opts.algorithmic_metrics),
            )
            if opts.provision_throughput
            else None
        )
        """How the evaluation invokes a new custom model (None: a given model ARN)."""
        self.evaluation_role = self._create_evaluation_role()
        self.prepare_function = self._function(
            "PrepareFunction",
            PREPARE_HANDLER,
            "Validates the evaluation prompt catalog and writes Bedrock's dataset format.",
            environment={
                "CATALOG_BUCKET": self.catalog_bucket.bucket_name,
                "CATALOG_PREFIX": opts.prompt_catalog_key,
                "OUTPUT_BUCKET": self.output_bucket.bucket_name,
                "INPUT_PREFIX": opts.input_prefix,
            },
            statements=[
                iam.PolicyStatement(
                    sid="ReadCatalog",
                    actions=["s3:GetObject"],
                    resources=[self.catalog_bucket.arn_for_objects(opts.prompt_catalog_key)],
                ),
                iam.PolicyStatement(
                    sid="WritePreparedPrompts",
                    actions=["s3:PutObject"],
                    resources=[self.output_bucket.arn_for_objects(f"{opts.input_prefix}*")],
                ),
            ],
        )
        self.report_function = self._function(
            "ReportFunction",
            REPORT_HANDLER,
            "Turns Bedrock evaluation output into the JSON evaluation report and gate.",
            environment={
                "REPORT_BUCKET": self.output_bucket.bucket_name,
                "REPORT_PREFIX": opts.report_prefix,
                "THRESHOLDS": opts.thresholds.model_dump_json(),
            },
            statements=[
                iam.PolicyStatement(
                    sid="ReadEvaluationOutput",
                    actions=["s3:GetObject"],
                    resources=[self.output_bucket.arn_for_objects(f"{opts.output_prefix}*")],
                ),
                iam.PolicyStatement(
                    sid="ListEvaluationOutput",
                    actions=["s3:ListBucket"],
                    resources=[self.output_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{opts.output_prefix}*"]}},
                ),
                iam.PolicyStatement(
                    sid="WriteReports",
                    actions=["s3:PutObject"],
                    resources=[self.output_bucket.arn_for_objects(f"{opts.report_prefix}*")],
                ),
            ],
        )

        self.responses_function: RuntimeFunction | None = None
        if self.inference is EvaluationInference.ON_DEMAND:
            self.responses_function = self._create_responses_function()

    # -- resources ---------------------------------------------------------------------------

    def _create_responses_function(self) -> RuntimeFunction:
        opts = self.options
        responses = f"{opts.input_prefix}{RESPONSES_FOLDER}"
        return self._function(
            "ResponsesFunction",
            RESPONSES_HANDLER,
            "Answers the evaluation prompts through the custom model deployment.",
            environment={
                "OUTPUT_BUCKET": self.output_bucket.bucket_name,
                "RESPONSES_PREFIX": responses,
                "BATCH_SIZE": str(opts.invoke_batch_size),
                "MAX_TOKENS": str(opts.inference_max_tokens),
                "SOURCE_IDENTIFIER": PRECOMPUTED_SOURCE_IDENTIFIER,
            },
            statements=[
                iam.PolicyStatement(
                    sid="ReadPreparedPrompts",
                    actions=["s3:GetObject"],
                    resources=[self.output_bucket.arn_for_objects(f"{opts.input_prefix}*")],
                ),
                iam.PolicyStatement(
                    sid="WriteResponses",
                    actions=["s3:PutObject"],
                    resources=[self.output_bucket.arn_for_objects(f"{responses}*")],
                ),
                iam.PolicyStatement(
                    sid="ListResponseParts",
                    actions=["s3:ListBucket"],
                    resources=[self.output_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{responses}*"]}},
                ),
                # Converse is authorized as bedrock:InvokeModel; a deployment ARN is the
                # modelId (bedrock-runtime ConversationalModelId pattern).
                iam.PolicyStatement(
                    sid="InvokeDeployment",
                    actions=["bedrock:InvokeModel"],
                    resources=[bedrock_arn("custom-model-deployment/*")],
                ),
            ],
        )

    def _create_evaluation_role(self) -> iam.Role:
        opts = self.options
        role = iam.Role(
            self,
            "EvaluationRole",
            description="Assumed by Amazon Bedrock to run this workflow's evaluation jobs.",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": bedrock_arn("evaluation-job/*")},
                },
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadPromptSet",
                actions=["s3:GetObject"],
                resources=[self.output_bucket.arn_for_objects(f"{opts.input_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteResults",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[self.output_bucket.arn_for_objects(f"{opts.output_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListPromptsAndResults",
                actions=["s3:ListBucket"],
                resources=[self.output_bucket.bucket_arn],
                conditions={
                    "StringLike": {"s3:prefix": [f"{opts.input_prefix}*", f"{opts.output_prefix}*"]}
                },
            )
        )
        # GetBucketLocation requests carry no s3:prefix key, so a prefix condition would
        # deny them: the bucket ARN alone scopes this statement.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LocateBucket",
                actions=["s3:GetBucketLocation"],
                resources=[self.output_bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeEvaluatedAndJudgeModels",
                actions=["bedrock:InvokeModel", "bedrock:CreateModelInvocationJob"],
                resources=model_arns(),
            )
        )
        if self.data_key is not None:
            self.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        acknowledge_wildcards(
            role,
            "Bedrock evaluation reads the prepared prompt prefix and writes under the output "
            "prefix (prefix*); models are named per run (provisioned-model/*) and the judge and "
            "base models are foundation models or inference profiles of this Region.",
        )
        return role

    def _function(
        self,
        id: str,
        handler: str,
        description: str,
        *,
        environment: dict[str, str],
        statements: list[iam.PolicyStatement],
    ) -> RuntimeFunction:
        function = RuntimeFunction(
            self,
            id,
            handler=handler,
            description=description,
            role_description=description,
            invoked_by="the evaluation workflow's lambda:invoke task",
            log_retention=self._log_retention,
            log_key=self._log_key,
            removal_policy=self._removal_policy,
            statements=statements,
            data_key=self.data_key,
            environment=environment,
        )
        acknowledge_wildcards(
            function.execution_role,
            "Object access is limited to the evaluation prefixes (prefix*), the only way to "
            "name the objects of future runs.",
        )
        return function

    # -- states and grants --------------------------------------------------------------------

    def chain(
        self,
        *,
        on_passed: sfn.IChainable | None = None,
        custom_model_name_path: str | None = None,
        custom_model_arn_path: str | None = None,
        candidate_model_path: str = "$.evaluationModelArn",
    ) -> ModelEvaluationSteps:
        """The evaluation states as the fragment ``<this construct>/Steps`` (call once).

        Same arguments as :class:`ModelEvaluationSteps`.
        """
        return ModelEvaluationSteps(
            self,
            "Steps",
            evaluation=self,
            on_passed=on_passed,
            custom_model_name_path=custom_model_name_path,
            custom_model_arn_path=custom_model_arn_path,
            candidate_model_path=candidate_model_path,
        )

    def grant_workflow(self, grantee: iam.IGrantable) -> iam.Grant:
        """What the workflow role (``grantee``, e.g. the state machine) needs beyond CDK's task
        grants: pass the evaluation role to Bedrock."""
        return grant_statement(
            grantee,
            "PassEvaluationRole",
            ["iam:PassRole"],
            [self.evaluation_role.role_arn],
            {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
        )
