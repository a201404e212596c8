"""A stack holding every kind of resource the observability constructs watch, shared by the
TrainingAlarms, TrainingDashboard and CostControls tests (built once per test module)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from cdk_support import new_stack, template_of

from cdk_llm_training import (
    AlarmOptions,
    CostControls,
    CostTagOptions,
    FileSystemOptions,
    MonitoredFileSystem,
    MonitoredHyperPodCluster,
    NetworkOptions,
    ObservabilityOptions,
    TrainingAlarms,
    TrainingDashboard,
    TrainingDataLake,
    TrainingFileSystem,
    TrainingNetwork,
)
from cdk_llm_training.constructs.acknowledgements import acknowledge

EMAIL = "ml-oncall@example.com"
EXTERNAL_FS_ID = "fs-0123456789abcdef0"
HYPERPOD = "llm-hyperpod"
EKS = "llm-eks"
PREFIX = "llm-"


def state_machine(stack: Stack, id: str) -> sfn.StateMachine:
    """A minimal workflow with logging and tracing (cdk-nag SF1/SF2)."""
    machine = sfn.StateMachine(
        stack,
        id,
        definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, f"{id}Start")),
        logs=sfn.LogOptions(
            destination=logs.LogGroup(stack, f"{id}Logs", removal_policy=RemovalPolicy.DESTROY),
            level=sfn.LogLevel.ALL,
        ),
        tracing_enabled=True,
    )
    acknowledge(
        machine.role.node.find_child("DefaultPolicy"),
        "AwsSolutions-IAM5[Resource::*]",
        "Log delivery and X-Ray APIs take no resource ARN (test workflow).",
    )
    return machine


class Full:
    """Network + lake + FSx (2400 GiB at 250 MB/s/TiB) + an external file system + a
    workflow, watched by alarms, a dashboard and cost controls."""

    def __init__(self) -> None:
        self.stack = new_stack(stack_id="ObservedStack")
        network = TrainingNetwork(
            self.stack, "Network", options=NetworkOptions(availability_zone_id="use1-az4")
        )
        lake = TrainingDataLake(self.stack, "Lake")
        self.fs = TrainingFileSystem(
            self.stack,
            "Fsx",
            options=FileSystemOptions(storage_capacity_gib=2400, throughput_mb_per_s_per_tib=250),
            network=network,
            data_lake=lake,
        )
        self.machine = state_machine(self.stack, "FineTune")
        self.external = MonitoredFileSystem(
            file_system_id=EXTERNAL_FS_ID,
            storage_capacity_gib=1200,
            throughput_mb_per_s_per_tib=125,
            label="Shared",
        )
        resources: dict[str, Any] = {
            "file_systems": [self.fs, self.external],
            "state_machines": {"Fine-tune": self.machine},
            "hyperpod_clusters": [
                MonitoredHyperPodCluster(cluster_name=HYPERPOD, eks_cluster_name=EKS)
            ],
            "training_job_name_prefix": PREFIX,
        }
        self.alarms = TrainingAlarms(
            self.stack, "Alarms", options=AlarmOptions(email=EMAIL), **resources
        )
        self.dashboard = TrainingDashboard(self.stack, "Dashboard", alarms=self.alarms, **resources)
        self.costs = CostControls(
            self.stack,
            "CostControls",
            tier="medium-fine-tune",
            options=ObservabilityOptions(
                tags=CostTagOptions(owner="ml-platform", extra={"cost-center": "42"})
            ),
            alarms=self.alarms,
        )
        self.template = template_of(self.stack)
        self.json = self.template.to_json()

    def of_type(self, type_name: str) -> dict[str, Any]:
        return dict(self.template.find_resources(type_name))

    def logical_id(self, type_name: str, prefix: str) -> str:
        return next(lid for lid in self.of_type(type_name) if lid.startswith(prefix))


def flatten(value: Any) -> str:
    """A DashboardBody ``Fn::Join`` as text, each intrinsic replaced by ``<Ref>`` or
    ``<LogicalId.Attr>``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flatten(part) for part in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    raise AssertionError(f"unexpected intrinsic {value}")


def dashboard_body(template_json: Mapping[str, Any]) -> dict[str, Any]:
    """The parsed DashboardBody of the template's only dashboard."""
    (dashboard,) = [
        r for r in template_json["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body: dict[str, Any] = json.loads(flatten(dashboard["Properties"]["DashboardBody"]))
    return body


def words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_]+", text))
