"""Runs every check family for the selected stacks of a config and collects the report."""

from __future__ import annotations

from pathlib import Path

from cdk_llm_training.config.tiers import AppConfig
from cdk_llm_training.config.vocabulary import Tier
from cdk_llm_training.tools.preflight import (
    bedrock,
    bedrock_quotas,
    bootstrap,
    cost_tags,
    emr_serverless,
    network,
    quotas,
    workforce,
)
from cdk_llm_training.tools.preflight._aws import ClientFactory, Context
from cdk_llm_training.tools.preflight.model import Finding, Report, sorted_findings
from cdk_llm_training.tools.preflight.requirements import derive_needs

CHECK_ORDER = (
    bootstrap.CHECK,
    network.AZ_CHECK,
    network.OFFERING_CHECK,
    quotas.SAGEMAKER_CHECK,
    quotas.EC2_CHECK,
    emr_serverless.CHECK,
    bedrock.CHECK,
    bedrock_quotas.EVALUATION_CHECK,
    bedrock_quotas.BATCH_CHECK,
    workforce.CHECK,
    cost_tags.CHECK,
)
"""Families in report order: what fails a deploy first comes first."""


def caller_account(clients: ClientFactory, region: str) -> tuple[str, str]:
    """``(account id, partition)`` of the credentials (sts:GetCallerIdentity needs no
    permission)."""
    identity = clients("sts", region).get_caller_identity()
    arn = str(identity["Arn"])
    return str(identity["Account"]), arn.split(":")[1] if arn.startswith("arn:") else "aws"


def run_preflight(
    config: AppConfig,
    stacks: tuple[Tier, ...],
    *,
    clients: ClientFactory,
    region: str,
    cdk_out: Path | None = None,
) -> Report:
    """Check the account behind ``clients`` in ``region`` for ``stacks`` of ``config``.

    Read-only API calls only. API failures inside a check become warnings that name the
    permission preflight needs; they never stop the other checks.
    """
    account, partition = caller_account(clients, region)
    context = Context(
        clients=clients, account=account, region=region, partition=partition, cdk_out=cdk_out
    )
    needs = derive_needs(config, stacks)
    findings: list[Finding] = []
    findings += bootstrap.check_bootstrap(context, needs.stacks)
    findings += network.check_availability_zones(context, needs.availability_zones)
    findings += network.check_instance_offerings(context, needs.ec2_instances)
    findings += quotas.check_sagemaker_quotas(context, needs.sagemaker_quotas)
    findings += quotas.check_ec2_quotas(context, needs.ec2_instances)
    findings += emr_serverless.check_emr_serverless(context, needs.emr_serverless)
    findings += bedrock.check_bedrock_models(context, needs.bedrock_models)
    findings += bedrock_quotas.check_evaluation_inference(context, needs.custom_model_inference)
    findings += bedrock_quotas.check_bedrock_batch(context, needs.bedrock_batch)
    findings += workforce.check_workforces(context, needs.workforces)
    findings += cost_tags.check_cost_tags(context, needs.cost_tags)
    return Report(
        account=account,
        region=region,
        stacks=needs.stacks,
        findings=sorted_findings(findings, CHECK_ORDER),
    )
