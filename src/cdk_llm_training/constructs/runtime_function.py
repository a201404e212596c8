"""RuntimeFunction: one handler of the library's Lambda runtime, with its own role and log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_llm_training.assets import asset_path
from cdk_llm_training.constructs._compliance import (
    NO_VPC_REASON,
    acknowledge_synchronous_function,
)

RUNTIME_SOURCE = asset_path("runtime")
"""The folder every runtime function is packaged from (one asset, shared by all of them)."""

RUNTIME_CODE_EXCLUDE = ("__pycache__", "*.pyc")


def runtime_code() -> lambda_.Code:
    """The library's Lambda runtime (``runtime/``) as one code asset."""
    return lambda_.Code.from_asset(str(RUNTIME_SOURCE), exclude=list(RUNTIME_CODE_EXCLUDE))


class RuntimeFunction(lambda_.Function):
    """A Lambda function that runs ``handler`` from the library's runtime package.

    Beside itself in ``scope`` it creates the two resources it owns, so that each keeps the
    logical ID it would have as a sibling: ``<id>Role`` (assumed by Lambda; allowed to write
    to its own log group only, plus ``statements`` and, when ``data_key`` is given,
    ``kms:Decrypt`` and ``kms:GenerateDataKey`` on it) and ``<id>Logs`` (a log group encrypted
    with ``log_key``, keeping events ``log_retention``, removed by ``removal_policy``).

    Defaults: Python 3.14 on arm64 (no native code in the runtime), 1024 MiB, 15 minutes, no
    VPC. The function is invoked synchronously (by a workflow task or CloudFormation), so the
    compliance controls that only apply to asynchronous invocations are acknowledged with
    ``invoked_by`` as the reason.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        description: str | None,
        invoked_by: str,
        log_retention: logs.RetentionDays,
        log_key: kms.IKey | None,
        removal_policy: RemovalPolicy,
        role_description: str | None = None,
        statements: Sequence[iam.PolicyStatement] = (),
        data_key: kms.IKey | None = None,
        environment: Mapping[str, str] | None = None,
        memory_mib: int = 1024,
        timeout: Duration | None = None,
        outside_vpc_reason: str = NO_VPC_REASON,
    ) -> None:
        log_group = logs.LogGroup(
            scope,
            f"{id}Logs",
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=removal_policy,
        )
        role = iam.Role(
            scope,
            f"{id}Role",
            description=role_description,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        for statement in statements:
            role.add_to_policy(statement)
        if data_key is not None:
            data_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")
        super().__init__(
            scope,
            id,
            description=description,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=runtime_code(),
            memory_size=memory_mib,
            timeout=timeout or Duration.minutes(15),
            role=role,
            log_group=log_group,
            environment=dict(environment) if environment else None,
        )
        self.execution_role = role
        """The function's own role (``<id>Role``)."""
        acknowledge_synchronous_function(
            self, invoked_by=invoked_by, outside_vpc_reason=outside_vpc_reason
        )
