"""What SyntheticData's roles may do: the Bedrock batch service role, the runtime functions'
statements and the workflow role's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs._workflow import add_list_statement, list_statement

if TYPE_CHECKING:
    from cdk_llm_training.constructs.synthetic_data.construct import SyntheticData


def batch_job_arns() -> str:
    return this_account_arn("bedrock", "model-invocation-job/*")


def model_arn(model_id: str) -> str:
    return f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model_id}"


def teacher_arn(synthetic: SyntheticData) -> str:
    return model_arn(synthetic.options.teacher_model_id)


def invoked_model_arns(synthetic: SyntheticData) -> list[str]:
    """The teacher, and in preference mode the judge when it is another model."""
    opts = synthetic.options
    models = [opts.teacher_model_id]
    if opts.output == "preference" and opts.judge != opts.teacher_model_id:
        models.append(opts.judge)
    return [model_arn(m) for m in models]


def create_batch_role(synthetic: SyntheticData) -> iam.Role:
    """``BatchRole``: assumed by Bedrock for this account's batch inference jobs only
    (``aws:SourceAccount``, ``aws:SourceArn``, as the Bedrock user guide's batch inference
    service role shows; unverified in this change); reads the job input, writes its output,
    invokes the teacher."""
    opts = synthetic.options
    role = iam.Role(
        synthetic,
        "BatchRole",
        description="Assumed by Bedrock to run this workflow's batch inference jobs.",
        assumed_by=service_principal_from("bedrock.amazonaws.com", batch_job_arns()),
    )
    work = synthetic.artifacts_bucket
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadBatchInput",
            actions=["s3:GetObject"],
            resources=[work.arn_for_objects(f"{opts.work_prefix}*")],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="WriteBatchOutput",
            actions=["s3:PutObject"],
            resources=[work.arn_for_objects(f"{opts.work_prefix}*")],
        )
    )
    add_list_statement(role, work, opts.work_prefix, "ListBatchData")
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="InvokeTeacher",
            actions=["bedrock:InvokeModel"],
            resources=invoked_model_arns(synthetic),
        )
    )
    if synthetic.data_key is not None:
        synthetic.data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
    return role


def batch_limit_statements() -> list[iam.PolicyStatement]:
    """Read the Bedrock batch quotas and count the batch jobs in flight, before a job is
    created. Both are list actions taken to have no resource-level permissions, hence ``*``
    (the Service Authorization Reference pages of Service Quotas and Amazon Bedrock were not
    re-read for this: unverified)."""
    return [
        iam.PolicyStatement(
            sid="ReadBatchQuotas", actions=["servicequotas:ListServiceQuotas"], resources=["*"]
        ),
        iam.PolicyStatement(
            sid="CountBatchJobs", actions=["bedrock:ListModelInvocationJobs"], resources=["*"]
        ),
    ]


def prepare_statements(synthetic: SyntheticData) -> list[iam.PolicyStatement]:
    opts = synthetic.options
    return [
        *batch_limit_statements(),
        iam.PolicyStatement(
            sid="ReadPrompts",
            actions=["s3:GetObject"],
            resources=[synthetic.curated_bucket.arn_for_objects(f"{opts.prompt_prefix}*")],
        ),
        iam.PolicyStatement(
            sid="WriteBatchInput",
            actions=["s3:PutObject"],
            resources=[synthetic.artifacts_bucket.arn_for_objects(f"{opts.work_prefix}*")],
        ),
    ]


def convert_statements(synthetic: SyntheticData) -> list[iam.PolicyStatement]:
    opts = synthetic.options
    return [
        iam.PolicyStatement(
            sid="ReadBatchOutput",
            actions=["s3:GetObject"],
            resources=[synthetic.artifacts_bucket.arn_for_objects(f"{opts.work_prefix}*")],
        ),
        list_statement(synthetic.artifacts_bucket, opts.work_prefix, "ListBatchOutput"),
        iam.PolicyStatement(
            sid="WriteDataset",
            actions=["s3:PutObject"],
            resources=[synthetic.curated_bucket.arn_for_objects(f"{opts.dataset_prefix}*")],
        ),
    ]


def judge_statements(synthetic: SyntheticData) -> list[iam.PolicyStatement]:
    """Pair the samples (read the batch output, write pairs and the judge input) and, under
    the batch minimum, invoke the judge directly."""
    opts = synthetic.options
    work = synthetic.artifacts_bucket
    return [
        iam.PolicyStatement(
            sid="ReadWriteBatchData",
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[work.arn_for_objects(f"{opts.work_prefix}*")],
        ),
        list_statement(work, opts.work_prefix, "ListBatchOutput"),
        iam.PolicyStatement(
            sid="InvokeJudge", actions=["bedrock:InvokeModel"], resources=[model_arn(opts.judge)]
        ),
        *batch_limit_statements(),
    ]
