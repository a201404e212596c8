"""LLM-SMJ1 and LLM-SMJ2 on raw CloudFormation: compliant and non-compliant fixtures."""

from __future__ import annotations

import json
from typing import Any

from cdk_llm_training.checks import RULES_BY_ID, check_template

GROUP = "JobSecurityGroup"


def _machine(parameters: dict[str, Any]) -> dict[str, Any]:
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": parameters,
                "End": True,
            }
        },
    }
    text = json.dumps(definition)
    # The group ID as a reference inside the definition, as CDK renders it.
    before, after = text.split('"<GROUP>"') if '"<GROUP>"' in text else (text, None)
    body: Any = text
    if after is not None:
        body = {"Fn::Join": ["", [before + '"', {"Fn::GetAtt": [GROUP, "GroupId"]}, '"' + after]]}
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/r", "DefinitionString": body},
    }


def _findings(rule: str, resources: dict[str, Any]) -> list[str]:
    template = {"Resources": resources}
    return [f.logical_id for f in check_template(template, [RULES_BY_ID[rule]])]


def _metrics(count: int, regex: str = "loss=([0-9.]+)") -> dict[str, Any]:
    return {
        "AlgorithmSpecification": {
            "TrainingImage": "img",
            "MetricDefinitions": [{"Name": f"m{i}", "Regex": regex} for i in range(count)],
        }
    }


def test_smj1_metric_definitions_within_the_api_limits() -> None:
    assert _findings("LLM-SMJ1", {"Workflow": _machine(_metrics(40))}) == []
    assert _findings("LLM-SMJ1", {"Workflow": _machine(_metrics(41))}) == ["Workflow"]
    assert _findings("LLM-SMJ1", {"Workflow": _machine(_metrics(1, "x" * 501))}) == ["Workflow"]


def _group(ingress: list[dict[str, Any]], egress: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {
            "GroupDescription": "job",
            "VpcId": "vpc-1",
            "SecurityGroupIngress": ingress,
            "SecurityGroupEgress": egress,
        },
    }


ALL_OUT = [{"CidrIp": "0.0.0.0/0", "IpProtocol": "-1"}]
SELF_IN = {
    "Type": "AWS::EC2::SecurityGroupIngress",
    "Properties": {
        "IpProtocol": "-1",
        "GroupId": {"Fn::GetAtt": [GROUP, "GroupId"]},
        "SourceSecurityGroupId": {"Fn::GetAtt": [GROUP, "GroupId"]},
    },
}


def _job(count: int) -> dict[str, Any]:
    return {
        "ResourceConfig": {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": count},
        "VpcConfig": {"Subnets": ["subnet-1"], "SecurityGroupIds": ["<GROUP>"]},
    }


def test_smj2_multi_node_job_needs_traffic_within_its_group() -> None:
    closed = {"Workflow": _machine(_job(2)), GROUP: _group([], ALL_OUT)}
    assert _findings("LLM-SMJ2", closed) == ["Workflow"]
    open_ = {**closed, "SelfIngress": SELF_IN}
    assert _findings("LLM-SMJ2", open_) == []
    no_egress = {**open_, GROUP: _group([], [{"CidrIp": "10.0.0.0/8", "IpProtocol": "tcp"}])}
    assert _findings("LLM-SMJ2", no_egress) == ["Workflow"]


def test_smj2_ignores_single_node_jobs_and_outside_groups() -> None:
    assert _findings("LLM-SMJ2", {"Workflow": _machine(_job(1)), GROUP: _group([], [])}) == []
    outside = _job(2)
    outside["VpcConfig"]["SecurityGroupIds"] = ["sg-0123456789abcdef0"]
    assert _findings("LLM-SMJ2", {"Workflow": _machine(outside)}) == []
