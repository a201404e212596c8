"""How the constructs hand each other resources: one "not both" rule for bring-your-own
arguments, ``grant_*`` methods that take an ``IGrantable`` and return an ``iam.Grant``, and one
warning-id style across the package.

No test here synthesizes: constructors fail before synth, grants are read off the objects.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from cdk_support import new_stack

import cdk_llm_training
from cdk_llm_training import (
    BedrockFineTuneJob,
    BedrockGuardrail,
    CostControls,
    DataZone,
    HyperPodEksCluster,
    NetworkOptions,
    TrainingAlarms,
    TrainingDataLake,
    TrainingFileSystem,
    TrainingNetwork,
    TrainiumParallelCluster,
)
from cdk_llm_training.constructs._bring_your_own import is_given, not_both
from cdk_llm_training.constructs.training_file_system import LustreFileSystemAttributes

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
AZ_ID = "use1-az4"

# -- the helper ---------------------------------------------------------------------------


def test_not_both_names_both_fields_and_the_reason() -> None:
    with pytest.raises(ValueError, match=r"\S") as error:  # exact text asserted below
        not_both("Owner", ("first", object()), ("second", [1]), because="why")
    assert str(error.value) == (
        "Owner: first= and second= were both given; allowed: one of them, not both (why)"
    )


@pytest.mark.parametrize("value", [None, (), [], {}])
def test_empty_defaults_are_not_given(value: object) -> None:
    assert not is_given(value)
    not_both("Owner", ("first", object()), ("second", value))


@pytest.mark.parametrize("value", ["", 0, False, "text", [None]])
def test_anything_else_is_given(value: object) -> None:
    assert is_given(value)


# -- every bring-your-own pair of the constructs ------------------------------------------


def _network(stack: cdk.Stack) -> TrainingNetwork:
    return TrainingNetwork(stack, "Network", options=NetworkOptions(availability_zone_id=AZ_ID))


def _plain_vpc(stack: cdk.Stack) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack,
        "Existing",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a"],
        private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa"],
        private_subnet_route_table_ids=["rtb-0aaaaaaaaaaaaaaaa"],
    )


def _key(stack: cdk.Stack) -> kms.IKey:
    return kms.Key.from_key_arn(stack, "ByoKey", KEY_ARN)


def _file_system_with_network_and_vpc(stack: cdk.Stack) -> None:
    TrainingFileSystem(stack, "Fsx", network=_network(stack), vpc=_plain_vpc(stack))


def _file_system_with_lake_and_buckets(stack: cdk.Stack) -> None:
    lake = TrainingDataLake(stack, "Lake")
    bucket = s3.Bucket.from_bucket_name(stack, "Own", "corp-curated")
    TrainingFileSystem(
        stack,
        "Fsx",
        network=_network(stack),
        data_lake=lake,
        zone_buckets={DataZone.CURATED: bucket},
    )


def _network_with_vpc_and_log_key(stack: cdk.Stack) -> None:
    vpc = _plain_vpc(stack)
    TrainingNetwork(
        stack,
        "Network",
        options=NetworkOptions(availability_zone_id=AZ_ID),
        vpc=vpc,
        compute_subnet=vpc.private_subnets[0],
        log_key=_key(stack),
    )


def _alarms_with_topic_and_key(stack: cdk.Stack) -> None:
    topic = sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:us-east-1:111122223333:t")
    TrainingAlarms(stack, "Alarms", topic=topic, key=_key(stack))


def _costs_with_alarms_and_topic(stack: cdk.Stack) -> None:
    alarms = TrainingAlarms(stack, "Alarms")
    topic = sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:us-east-1:111122223333:t")
    CostControls(stack, "Costs", tier="small-lora", alarms=alarms, topic=topic)


def _hyperpod(stack: cdk.Stack, **kwargs: object) -> None:
    vpc = _plain_vpc(stack)
    sg = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    HyperPodEksCluster(
        stack,
        "HyperPod",
        vpc=vpc,
        subnet=vpc.private_subnets[0],
        security_groups=[sg],
        **kwargs,  # type: ignore[arg-type]
    )


def _hyperpod_with_cluster_and_key(stack: cdk.Stack) -> None:
    cluster = eks.Cluster.from_cluster_attributes(stack, "Eks", cluster_name="corp-eks")
    _hyperpod(stack, cluster=cluster, key=_key(stack))


def _hyperpod_with_both_buckets(stack: cdk.Stack) -> None:
    scripts = s3.Bucket.from_bucket_name(stack, "Scripts", "sagemaker-corp-scripts")
    logs = s3.Bucket.from_bucket_name(stack, "Logs", "corp-logs")
    _hyperpod(stack, lifecycle_bucket=scripts, access_logs_bucket=logs)


def _trainium_with_role_and_policies(stack: cdk.Stack) -> None:
    vpc = _plain_vpc(stack)
    sg = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    role = iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::111122223333:role/provider")
    policy = iam.ManagedPolicy.from_managed_policy_name(stack, "Policy", "extra")
    TrainiumParallelCluster(
        stack,
        "Trainium",
        vpc=vpc,
        subnet=vpc.private_subnets[0],
        security_groups=[sg],
        file_system=LustreFileSystemAttributes(
            file_system_id="fs-0123456789abcdef0", dns_name="fs.example", mount_name="abc"
        ),
        provider_role=role,
        provider_policies=[policy],
    )


def _fine_tune_with_lake_and_bucket(stack: cdk.Stack) -> None:
    lake = TrainingDataLake(stack, "Lake")
    bucket = s3.Bucket.from_bucket_name(stack, "Datasets", "corp-datasets")
    BedrockFineTuneJob(stack, "Job", data_lake=lake, dataset_bucket=bucket)


NOT_BOTH_CASES: dict[str, tuple[Callable[[cdk.Stack], None], str, str]] = {
    "file system: network and vpc": (_file_system_with_network_and_vpc, "network", "vpc"),
    "file system: lake and own buckets (merged before)": (
        _file_system_with_lake_and_buckets,
        "data_lake",
        "zone_buckets",
    ),
    "network: own vpc and flow-log key": (_network_with_vpc_and_log_key, "vpc", "log_key"),
    "alarms: own topic and key": (_alarms_with_topic_and_key, "topic", "key"),
    "cost controls: alarms and topic (topic won before)": (
        _costs_with_alarms_and_topic,
        "alarms",
        "topic",
    ),
    "hyperpod: own EKS cluster and secrets key": (_hyperpod_with_cluster_and_key, "cluster", "key"),
    "hyperpod: own lifecycle bucket and its access logs": (
        _hyperpod_with_both_buckets,
        "lifecycle_bucket",
        "access_logs_bucket",
    ),
    "trainium: provider role and provider policies": (
        _trainium_with_role_and_policies,
        "provider_role",
        "provider_policies",
    ),
    "fine-tune: lake and dataset bucket (the lake won before)": (
        _fine_tune_with_lake_and_bucket,
        "data_lake",
        "dataset_bucket",
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_BOTH_CASES))
def test_bring_your_own_and_its_alternative_is_an_error(case: str) -> None:
    build, first, second = NOT_BOTH_CASES[case]
    with pytest.raises(ValueError, match=r"\S") as error:  # exact shape asserted below
        build(new_stack(nag=False))
    message = str(error.value)
    assert f"{first}= and {second}= were both given; allowed: one of them, not both" in message


# -- grants -------------------------------------------------------------------------------


def _grants(stack: cdk.Stack, grantee: iam.IGrantable) -> dict[str, iam.Grant]:
    lake = TrainingDataLake(stack, "Lake")
    guardrail = BedrockGuardrail(stack, "Guardrail")
    keyed = BedrockGuardrail(stack, "KeyedGuardrail", key=kms.Key(stack, "GuardrailKey"))
    return {
        "TrainingDataLake.grant_read": lake.grant_read(grantee, zone=DataZone.CURATED),
        "TrainingDataLake.grant_write": lake.grant_write(grantee, zone=DataZone.ARTIFACTS),
        "TrainingDataLake.grant_read_write": lake.grant_read_write(grantee, zone=DataZone.RAW),
        "BedrockGuardrail.grant_apply": guardrail.grant_apply(grantee),
        "BedrockGuardrail.grant_apply (with key)": keyed.grant_apply(grantee),
    }


def test_grants_take_a_grantable_and_return_a_successful_grant() -> None:
    stack = new_stack(nag=False)
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    grants = _grants(stack, role)
    for name, grant in grants.items():
        assert isinstance(grant, iam.Grant), name
        assert grant.success, name
    # The key grant is part of the returned grant, not a side effect.
    keyed = grants["BedrockGuardrail.grant_apply (with key)"]
    actions = {action for statement in keyed.principal_statements for action in statement.actions}
    assert {"bedrock:ApplyGuardrail", "kms:Decrypt"} <= actions


# -- warning ids ---------------------------------------------------------------------------

PACKAGE_DIR = Path(cdk_llm_training.__file__).parent
WARNING_ID = re.compile(r"^cdk-llm-training/[a-z0-9]+(?:-[a-z0-9]+)*:[a-z][A-Za-z0-9]*$")
"""``cdk-llm-training/<construct docs page>:<condition in lowerCamelCase>``: aws-cdk-lib's
``@aws-cdk/<module>:<condition>`` shape with the package's name."""


def _string_constants() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((str(path.relative_to(PACKAGE_DIR)), node.value))
    return found


def _warning_calls() -> list[tuple[str, ast.Call]]:
    calls: list[tuple[str, ast.Call]] = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"add_warning", "add_warning_v2"}
            ):
                calls.append((str(path.relative_to(PACKAGE_DIR)), node))
    return calls


def test_warnings_carry_an_id() -> None:
    plain = [
        path
        for path, call in _warning_calls()
        if isinstance(call.func, ast.Attribute) and call.func.attr == "add_warning"
    ]
    assert plain == [], "use add_warning_v2 with an id, so users can acknowledge the warning"


def test_warning_ids_have_one_style_and_one_condition_each() -> None:
    ids = [
        (path, value)
        for path, value in _string_constants()
        if value.startswith("cdk-llm-training/")
    ]
    assert ids, "no warning id found"
    assert [value for _, value in ids if not WARNING_ID.match(value)] == []
    values = [value for _, value in ids]
    assert sorted({v for v in values if values.count(v) > 1}) == []
    # The old styles are gone (the construct metadata type is not a warning id).
    old = [
        (path, value)
        for path, value in _string_constants()
        if re.match(r"^cdk-llm-training:[A-Za-z-]+$", value)
        and value != "cdk-llm-training:construct"
    ]
    assert old == []


def test_literal_ids_passed_to_add_warning_v2_have_the_style() -> None:
    literal = [
        call.args[0].value
        for _, call in _warning_calls()
        if call.args
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    ]
    assert literal
    assert [value for value in literal if not WARNING_ID.match(value)] == []
