"""Training-network rules: endpoint policies and what each engine needs without internet."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, as_list
from cdk_llm_training.checks.render import render

_ENDPOINT = "AWS::EC2::VPCEndpoint"
_PCLUSTER_TYPES = ("Custom::PclusterCluster", "AWS::CloudFormation::CustomResource")


def endpoint_service(value: Any) -> str | None:
    """The service of an endpoint ``ServiceName`` (``com.amazonaws.<region>.ecr.api`` or its
    ``Fn::Join`` / ``Fn::Sub`` form, the Region a ``${AWS::Region}`` placeholder): ``ecr.api``."""
    parts = render(value).split(".", 3)
    return parts[3] if len(parts) == 4 else None


def _endpoints(view: TemplateView) -> Iterator[tuple[str, str | None, str, Mapping[str, Any]]]:
    """(logical ID, service, type, properties) of every VPC endpoint."""
    for logical_id, props in view.of_type(_ENDPOINT):
        kind = str(props.get("VpcEndpointType", "Gateway"))
        yield logical_id, endpoint_service(props.get("ServiceName")), kind, props


def _closed(view: TemplateView) -> bool:
    """A VPC with no route to the internet: a VPC, and neither NAT nor internet gateway."""
    return (
        any(True for _ in view.of_type("AWS::EC2::VPC"))
        and not any(True for _ in view.of_type("AWS::EC2::NatGateway"))
        and not any(True for _ in view.of_type("AWS::EC2::InternetGateway"))
    )


def _open_statement(statement: Mapping[str, Any]) -> bool:
    """An Allow on every S3 resource with no condition."""
    if statement.get("Effect") != "Allow" or statement.get("Condition"):
        return False
    resources = as_list(statement.get("Resource"))
    return any(r in ("*", "arn:aws:s3:::*", "arn:aws:s3:::*/*") for r in resources)


def _check_s3_policy(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, service, kind, props in _endpoints(view):
        if service != "s3" or kind != "Gateway":
            continue
        policy = props.get("PolicyDocument")
        if not isinstance(policy, Mapping):
            findings.append(
                (
                    logical_id,
                    "S3 gateway endpoint without a policy: it reaches every bucket of the "
                    "Region, any account's, the usual exfiltration path.",
                    "Properties/PolicyDocument",
                )
            )
            continue
        if any(_open_statement(s) for s in as_list(policy.get("Statement"))):
            findings.append(
                (
                    logical_id,
                    "S3 gateway endpoint policy allows every bucket without a condition.",
                    "Properties/PolicyDocument/Statement",
                )
            )
    return findings


def _services(view: TemplateView) -> set[tuple[str | None, str]]:
    return {(service, kind) for _, service, kind, _ in _endpoints(view)}


def _check_parallelcluster_closed(view: TemplateView) -> list[tuple[str, str, str]]:
    if not _closed(view):
        return []
    findings = []
    services = _services(view)
    for logical_id, props in view.of_type(*_PCLUSTER_TYPES):
        config = props.get("ClusterConfiguration")
        if not isinstance(config, Mapping):
            continue
        for service, kind in (("cloudformation", "Interface"), ("dynamodb", "Gateway")):
            if (service, kind) not in services:
                findings.append(
                    (
                        logical_id,
                        f"ParallelCluster in a VPC without internet needs a {service} {kind} "
                        "endpoint; the cluster's nodes cannot reach the service otherwise.",
                        "Properties/ClusterConfiguration",
                    )
                )
        dns = config.get("Scheduling", {}).get("SlurmSettings", {}).get("Dns", {})
        if dns.get("DisableManagedDns") is not True or dns.get("UseEc2Hostnames") is not True:
            findings.append(
                (
                    logical_id,
                    "ParallelCluster in a VPC without internet needs Scheduling/SlurmSettings/"
                    "Dns DisableManagedDns: true and UseEc2Hostnames: true (no Route 53).",
                    "Properties/ClusterConfiguration/Scheduling/SlurmSettings/Dns",
                )
            )
        findings.extend(_neuron_install_findings(logical_id, config))
    return findings


def _neuron_install_findings(
    logical_id: str, config: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """The packaged Neuron install (``--release`` argument) without ``--mirror`` downloads
    from the internet."""
    findings = []
    for index, queue in enumerate(as_list(config.get("Scheduling", {}).get("SlurmQueues"))):
        action = queue.get("CustomActions", {}).get("OnNodeConfigured", {})
        steps = as_list(action.get("Sequence")) if "Sequence" in action else [action]
        for step in steps:
            args = [str(a) for a in as_list(step.get("Args"))]
            if "--release" in args and "--mirror" not in args:
                findings.append(
                    (
                        logical_id,
                        f"queue '{queue.get('Name')}' installs the Neuron SDK from the "
                        "internet, which this VPC cannot reach: use a Neuron custom AMI "
                        "(Image.CustomAmi, no install action) or an in-VPC mirror (--mirror).",
                        f"Properties/ClusterConfiguration/Scheduling/SlurmQueues/{index}/"
                        "CustomActions",
                    )
                )
    return findings


def _check_hyperpod_closed(view: TemplateView) -> list[tuple[str, str, str]]:
    if not _closed(view):
        return []
    if ("sagemaker.api", "Interface") in _services(view):
        return []
    return [
        (
            logical_id,
            "HyperPod in a VPC without internet needs a sagemaker.api interface endpoint: the "
            "training operator on the private nodes calls the SageMaker API.",
            "Properties/VpcConfig",
        )
        for logical_id, props in view.of_type("AWS::SageMaker::Cluster")
        if "Eks" in (props.get("Orchestrator") or {})
    ]


NETWORK_RULES = [
    Rule(
        "LLM-NET1",
        "The S3 gateway endpoint has a policy that limits it to named buckets or this account "
        "(Amazon VPC User Guide: Control access to VPC endpoints using endpoint policies).",
        Severity.ERROR,
        "Without a policy the endpoint reaches any bucket in the Region, of any account: a "
        "node can copy training data to a bucket outside the organization.",
        "Attach a PolicyDocument: this account's buckets (aws:ResourceAccount) plus the "
        "AWS-owned buckets the nodes need, each named (TrainingNetwork does).",
        _check_s3_policy,
    ),
    Rule(
        "LLM-NET2",
        "ParallelCluster without internet has the cloudformation and dynamodb endpoints, EC2 "
        "host names instead of Route 53, and no Neuron download (AWS ParallelCluster User "
        "Guide: AWS ParallelCluster in a single subnet with no internet access).",
        Severity.ERROR,
        "The head node signals CloudFormation and keeps cluster state in DynamoDB; managed DNS "
        "needs Route 53; the Neuron install script reads the Neuron and PyPI repositories.",
        "Add the endpoints, set Scheduling/SlurmSettings/Dns DisableManagedDns and "
        "UseEc2Hostnames to true, and use a Neuron custom AMI or a mirror.",
        _check_parallelcluster_closed,
    ),
    Rule(
        "LLM-NET3",
        "HyperPod on EKS without internet has a sagemaker.api interface endpoint (Amazon "
        "SageMaker AI Developer Guide: Connect to SageMaker AI within your VPC).",
        Severity.ERROR,
        "The HyperPod training operator on private nodes calls the SageMaker API.",
        "Add com.amazonaws.<region>.sagemaker.api to the closed network's interface endpoints.",
        _check_hyperpod_closed,
    ),
]
