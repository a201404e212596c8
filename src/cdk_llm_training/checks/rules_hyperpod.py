"""SageMaker HyperPod (`AWS::SageMaker::Cluster`) rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list, referenced_id

_CLUSTER = "AWS::SageMaker::Cluster"
_ACCELERATED_PREFIXES = ("ml.p", "ml.g", "ml.trn", "ml.inf")


def _literal_bucket(view: TemplateView, uri: Any) -> tuple[str | None, str | None]:
    """(literal bucket name, bucket logical ID) of an S3 URI that may use intrinsics."""
    if isinstance(uri, str):
        return uri.removeprefix("s3://").split("/", 1)[0], None
    if isinstance(uri, Mapping) and "Fn::Join" in uri:
        parts = uri["Fn::Join"][1]
        for part in parts:
            bucket_id = referenced_id(part)
            if bucket_id and view.type_of(bucket_id) == "AWS::S3::Bucket":
                name = view.properties(bucket_id).get("BucketName")
                literal = name if isinstance(name, str) else _joined_literal(name)
                return literal, bucket_id
        text = "".join(p for p in parts if isinstance(p, str))
        return text.removeprefix("s3://").split("/", 1)[0] or None, None
    return None, None


def _joined_literal(value: Any) -> str | None:
    """The literal leading text of a Fn::Join bucket name (``sagemaker-...-<acct>``)."""
    if isinstance(value, Mapping) and "Fn::Join" in value:
        parts = value["Fn::Join"][1]
        if parts and isinstance(parts[0], str):
            return str(parts[0])
    return None


def _role_grants_bucket(view: TemplateView, role: Any, bucket_id: str | None) -> bool:
    role_id = referenced_id(role)
    if role_id is None or bucket_id is None:
        return False
    for _, props in view.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        attached = [referenced_id(r) for r in as_list(props.get("Roles"))]
        if role_id not in attached:
            continue
        for statement in as_list(props.get("PolicyDocument", {}).get("Statement")):
            actions = [str(a) for a in as_list(statement.get("Action"))]
            if statement.get("Effect") == "Allow" and any(
                a in {"s3:GetObject", "s3:GetObject*", "s3:*"} for a in actions
            ):
                resources = as_list(statement.get("Resource"))
                if any(bucket_id in repr(resource) for resource in resources):
                    return True
    return False


def _check_lifecycle_bucket(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for cluster_id, props in view.of_type(_CLUSTER):
        for index, group in enumerate(as_list(props.get("InstanceGroups"))):
            uri = group.get("LifeCycleConfig", {}).get("SourceS3Uri")
            bucket, bucket_id = _literal_bucket(view, uri)
            if bucket and bucket.startswith("sagemaker-"):
                continue
            if _role_grants_bucket(view, group.get("ExecutionRole"), bucket_id):
                continue
            findings.append(
                (
                    cluster_id,
                    f"instance group '{group.get('InstanceGroupName')}' reads lifecycle scripts "
                    f"from bucket {bucket or '(unresolved)'!r}, which neither starts with "
                    "'sagemaker-' nor is granted to its execution role.",
                    f"Properties/InstanceGroups/{index}/LifeCycleConfig/SourceS3Uri",
                )
            )
    return findings


def _check_node_recovery(view: TemplateView) -> list[tuple[str, str, str]]:
    return [
        (
            cluster_id,
            f"NodeRecovery is {props.get('NodeRecovery', 'unset')!r}; faulty nodes are then "
            "not replaced automatically.",
            "Properties/NodeRecovery",
        )
        for cluster_id, props in view.of_type(_CLUSTER)
        if props.get("NodeRecovery") != "Automatic"
    ]


def _check_deep_health(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for cluster_id, props in view.of_type(_CLUSTER):
        for index, group in enumerate(as_list(props.get("InstanceGroups"))):
            instance_type = str(group.get("InstanceType", ""))
            if not instance_type.startswith(_ACCELERATED_PREFIXES):
                continue
            checks = set(as_list(group.get("OnStartDeepHealthChecks")))
            missing = sorted({"InstanceStress", "InstanceConnectivity"} - checks)
            if missing:
                findings.append(
                    (
                        cluster_id,
                        f"accelerator group '{group.get('InstanceGroupName')}' "
                        f"({instance_type}) has no deep health checks {missing}.",
                        f"Properties/InstanceGroups/{index}/OnStartDeepHealthChecks",
                    )
                )
    return findings


def _subnet_is_public(view: TemplateView, subnet_id: str) -> bool:
    if view.properties(subnet_id).get("MapPublicIpOnLaunch") is True:
        return True
    tables = {
        referenced_id(props.get("RouteTableId"))
        for _, props in view.of_type("AWS::EC2::SubnetRouteTableAssociation")
        if referenced_id(props.get("SubnetId")) == subnet_id
    }
    for _, props in view.of_type("AWS::EC2::Route"):
        if referenced_id(props.get("RouteTableId")) in tables:
            gateway = referenced_id(props.get("GatewayId"))
            if view.type_of(gateway) == "AWS::EC2::InternetGateway":
                return True
    return False


def _check_private_subnets(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for cluster_id, props in view.of_type(_CLUSTER):
        subnets = list(as_list(props.get("VpcConfig", {}).get("Subnets")))
        for group in as_list(props.get("InstanceGroups")):
            subnets += as_list(group.get("OverrideVpcConfig", {}).get("Subnets"))
        for subnet in subnets:
            subnet_id = referenced_id(subnet)
            is_subnet = subnet_id and view.type_of(subnet_id) == "AWS::EC2::Subnet"
            if subnet_id and is_subnet and _subnet_is_public(view, subnet_id):
                findings.append(
                    (
                        cluster_id,
                        f"subnet {subnet_id} is public (public IPs or a route to an "
                        "internet gateway); HyperPod nodes must be in private subnets.",
                        "Properties/VpcConfig/Subnets",
                    )
                )
    return findings


def _check_ml_types(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for cluster_id, props in view.of_type(_CLUSTER):
        for index, group in enumerate(as_list(props.get("InstanceGroups"))):
            instance_type = group.get("InstanceType")
            if isinstance(instance_type, str) and not instance_type.startswith("ml."):
                findings.append(
                    (
                        cluster_id,
                        f"instance group '{group.get('InstanceGroupName')}' uses "
                        f"{instance_type!r}; HyperPod takes SageMaker names "
                        f"('ml.{instance_type}').",
                        f"Properties/InstanceGroups/{index}/InstanceType",
                    )
                )
    return findings


HYPERPOD_RULES = [
    Rule(
        "LLM-HP1",
        "HyperPod lifecycle scripts live in a 'sagemaker-' bucket or are granted explicitly.",
        Severity.ERROR,
        "The HyperPod managed policy only reaches buckets whose names start with 'sagemaker-'; "
        "elsewhere node creation fails when the lifecycle script cannot be downloaded.",
        "Put the scripts in a bucket named 'sagemaker-...' (HyperPodEksCluster does) or grant "
        "s3:GetObject on the bucket to every instance group's execution role.",
        _check_lifecycle_bucket,
    ),
    Rule(
        "LLM-HP2",
        "HyperPod clusters recover faulty nodes automatically.",
        Severity.ERROR,
        "With NodeRecovery None a failed GPU stops the whole job until someone replaces the node "
        "by hand; large runs lose hours of accelerator time.",
        "Set NodeRecovery: Automatic.",
        _check_node_recovery,
    ),
    Rule(
        "LLM-HP3",
        "Accelerator instance groups run deep health checks on start.",
        Severity.ERROR,
        "Deep health checks (InstanceStress, InstanceConnectivity) catch bad GPUs and EFA links "
        "before a job lands on them.",
        "Set OnStartDeepHealthChecks: [InstanceStress, InstanceConnectivity] on every p/g/trn "
        "instance group.",
        _check_deep_health,
    ),
    Rule(
        "LLM-HP4",
        "HyperPod clusters use private subnets only.",
        Severity.ERROR,
        "HyperPod fails to create nodes in subnets with public IPs, and nodes must not be "
        "reachable from the internet.",
        "Place the cluster in a private subnet (TrainingNetwork's compute subnet) with egress "
        "through a NAT gateway or VPC endpoints.",
        _check_private_subnets,
    ),
    Rule(
        "LLM-HP5",
        "HyperPod instance types use the SageMaker 'ml.' names.",
        Severity.ERROR,
        "AWS::SageMaker::Cluster rejects EC2 instance type names at deploy time.",
        "Write ml.p5.48xlarge, not p5.48xlarge.",
        _check_ml_types,
    ),
]
