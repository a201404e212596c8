"""ClusterTrainingRun: the access entry and the IAM of the run controller and the workflow,
exactly; the cluster tiers wire it by config; the rendered Kubernetes objects against the
Kubernetes API's required fields and known members."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Template
from cdk_support import new_app
from pydantic import ValidationError

from cdk_llm_training import ClusterTrainingRun, MediumFineTuneStack
from cdk_llm_training.assets.runtime import cluster_run
from cdk_llm_training.config import ClusterRunOptions, LargeEngine, StackName
from cdk_llm_training.config.tiers import LargePretrainConfig, MediumFineTuneConfig
from cdk_llm_training.stacks.large_pretrain import LargePretrainStack


@pytest.fixture(scope="module")
def template(tier_templates: dict[StackName, Template]) -> Template:
    return tier_templates[StackName.MEDIUM_FINE_TUNE]


def _one(template: Template, kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = [
        (k, v) for k, v in template.find_resources(kind).items() if k.startswith(prefix)
    ]
    return logical_id, dict(resource)


def _statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    (policy,) = [
        resource
        for key, resource in template.find_resources("AWS::IAM::Policy").items()
        if key.startswith(role_prefix)
    ]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_access_entry_is_the_controller_roles_edit_policy_on_the_volume_namespace(
    template: Template,
) -> None:
    role_id, _ = _one(template, "AWS::IAM::Role", "RunsControllerFunctionServiceRole")
    eks_id, _ = _one(template, "AWS::EKS::Cluster", "HyperPodCluster")
    _, entry = _one(template, "AWS::EKS::AccessEntry", "RunsControllerAccessEntry")
    assert entry["Properties"] == {
        "ClusterName": {"Ref": eks_id},
        "PrincipalArn": {"Fn::GetAtt": [role_id, "Arn"]},
        "Type": "STANDARD",
        # Recipe runs: the group a Role for pytorchjobs is bound to (the recipe RBAC release).
        "KubernetesGroups": ["llm-training-run-recipes"],
        "AccessPolicies": [
            {
                "PolicyArn": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
                        ],
                    ]
                },
                "AccessScope": {"Type": "namespace", "Namespaces": ["default"]},
            }
        ],
        "Tags": entry["Properties"]["Tags"],
    }


def test_controller_role_reads_checkpoints_writes_reports_and_nothing_else(
    template: Template,
) -> None:
    by_sid = {
        s.get("Sid", s["Action"] if isinstance(s["Action"], str) else s["Action"][0]): s
        for s in _statements(template, "RunsControllerFunctionServiceRoleDefaultPolicy")
    }
    assert set(by_sid) == {
        "ReadCheckpoints",
        "WriteReports",
        "ListCheckpoints",
        "ReadRecipeCatalog",
        "kms:Decrypt",
    }
    assert by_sid["ReadRecipeCatalog"]["Action"] == "s3:GetObject"
    assert by_sid["ReadRecipeCatalog"]["Resource"]["Fn::Join"][1][-1] == (
        "/recipes/hyperpod/v2.0.9/*"
    )
    assert by_sid["ReadCheckpoints"]["Action"] == "s3:GetObject"
    assert by_sid["ReadCheckpoints"]["Resource"]["Fn::Join"][1][-1] == "/checkpoints/*"
    assert by_sid["WriteReports"]["Action"] == "s3:PutObject"
    assert by_sid["WriteReports"]["Resource"]["Fn::Join"][1][-1] == "/runs/reports/*"
    assert by_sid["ListCheckpoints"]["Condition"] == {
        "StringLike": {"s3:prefix": ["checkpoints/*"]}
    }
    assert by_sid["kms:Decrypt"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_workflow_role_invokes_only_the_controller_and_publishes_to_its_topic(
    template: Template,
) -> None:
    function_id, _ = _one(template, "AWS::Lambda::Function", "RunsControllerFunction")
    topic_id, _ = _one(template, "AWS::SNS::Topic", "RunsTopic")
    actions: dict[str, Any] = {}
    for statement in _statements(template, "RunsRoleDefaultPolicy"):
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        ):
            actions[action] = statement["Resource"]
    assert actions["lambda:InvokeFunction"] == [
        {"Fn::GetAtt": [function_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [function_id, "Arn"]}, ":*"]]},
    ]
    assert actions["sns:Publish"] == {"Ref": topic_id}
    assert not [a for a in actions if a.startswith(("eks:", "s3:", "iam:"))]


def test_cancel_rule_sends_stopped_and_timed_out_executions_of_this_workflow(
    template: Template,
) -> None:
    machine_id, _ = _one(template, "AWS::StepFunctions::StateMachine", "Runs")
    function_id, _ = _one(template, "AWS::Lambda::Function", "RunsControllerFunction")
    _, rule = _one(template, "AWS::Events::Rule", "RunsControllerCancelRule")
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["ABORTED", "TIMED_OUT"], "stateMachineArn": [{"Ref": machine_id}]},
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["InputTransformer"] == {
        "InputPathsMap": {"detail-name": "$.detail.name"},
        "InputTemplate": '{"action":"cancel","executionName":<detail-name>}',
    }


def test_state_machine_times_out_after_the_longest_run(template: Template) -> None:
    _, machine = _one(template, "AWS::StepFunctions::StateMachine", "Runs")
    definition = "".join(
        part if isinstance(part, str) else "?"
        for part in machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    )
    assert '"TimeoutSeconds":1216800' in definition  # (336 + 2) hours


def test_tiers_wire_the_workflow_by_config() -> None:
    off = MediumFineTuneConfig(runs=ClusterRunOptions(enabled=False))
    stack = MediumFineTuneStack(new_app(), "Off", config=off)
    assert stack.runs is None
    assert not [c for c in stack.node.find_all() if isinstance(c, ClusterTrainingRun)]
    trainium = LargePretrainStack(
        new_app(), "Trn", config=LargePretrainConfig(engine=LargeEngine.TRAINIUM)
    )
    assert trainium.runs is None
    assert trainium.slurm_runs is not None


def test_large_nvidia_has_the_workflow(large_nvidia_stack: LargePretrainStack) -> None:
    assert large_nvidia_stack.runs is not None
    assert large_nvidia_stack.runs.namespace == "default"


def test_construct_needs_a_file_system_on_the_cluster() -> None:
    stack = MediumFineTuneStack(new_app(), "NoFs")
    hyperpod: Any = stack.hyperpod
    hyperpod.file_system = None
    with pytest.raises(ValueError, match="offers no file system to pods"):
        ClusterTrainingRun(
            stack,
            "More",
            hyperpod=stack.hyperpod,
            data_lake=stack.data_lake,
            key=stack.data_lake.key,
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"default_run_hours": 48, "max_run_hours": 24}, "default_run_hours 48 exceeds"),
        ({"report_prefix": "/reports/"}, "must be an S3 key prefix ending in '/'"),
        ({"checkpoint_prefix": "checkpoints"}, "must be an S3 key prefix ending in '/'"),
        ({"log_retention_days": 2}, "log_retention_days 2 is not one of"),
        ({"poll_interval_seconds": 5}, "greater than or equal to 30"),
    ],
)
def test_options_are_validated(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ClusterRunOptions.model_validate(options)


# -- rendered manifests against the Kubernetes API ----------------------------------------

# Members of the Kubernetes types the controller renders, and their required members, from
# the Kubernetes API reference (v1.34: batch/v1 Job, JobSpec, PodTemplateSpec, PodSpec,
# Container, EnvVar, Volume, VolumeMount, v1 Service, ServiceSpec, ServicePort); checked
# against the strict JSON schema of Job in yannh/kubernetes-json-schema
# (master-standalone-strict/job-batch-v1.json, commit 65d12579e6c8baebbbb212d26cac4b039ab1a626).
KUBERNETES_TYPES: dict[str, tuple[set[str], set[str]]] = {
    "Job": ({"apiVersion", "kind", "metadata", "spec", "status"}, set()),
    "Service": ({"apiVersion", "kind", "metadata", "spec", "status"}, set()),
    "ObjectMeta": ({"name", "namespace", "labels", "annotations", "generateName"}, set()),
    "JobSpec": (
        {
            "activeDeadlineSeconds",
            "backoffLimit",
            "backoffLimitPerIndex",
            "completionMode",
            "completions",
            "managedBy",
            "manualSelector",
            "maxFailedIndexes",
            "parallelism",
            "podFailurePolicy",
            "podReplacementPolicy",
            "selector",
            "successPolicy",
            "suspend",
            "template",
            "ttlSecondsAfterFinished",
        },
        {"template"},
    ),
    "PodTemplateSpec": ({"metadata", "spec"}, set()),
    "PodSpec": (
        {
            "containers",
            "volumes",
            "restartPolicy",
            "nodeSelector",
            "subdomain",
            "hostname",
            "serviceAccountName",
            "tolerations",
            "affinity",
            "initContainers",
        },
        {"containers"},
    ),
    "Container": (
        {"name", "image", "command", "args", "env", "resources", "volumeMounts", "workingDir"},
        {"name"},
    ),
    "EnvVar": ({"name", "value", "valueFrom"}, {"name"}),
    "Volume": ({"name", "persistentVolumeClaim", "emptyDir"}, {"name"}),
    "VolumeMount": ({"name", "mountPath", "readOnly", "subPath"}, {"name", "mountPath"}),
    "ServiceSpec": ({"clusterIP", "selector", "ports", "publishNotReadyAddresses", "type"}, set()),
    "ServicePort": ({"name", "port", "protocol", "targetPort"}, {"port"}),
}


def _check(kind: str, value: dict[str, Any], where: str) -> list[str]:
    known, required = KUBERNETES_TYPES[kind]
    problems = [f"{where}: unknown member {m}" for m in set(value) - known]
    problems += [f"{where}: missing {m}" for m in required - set(value)]
    return problems


def kubernetes_problems(job: dict[str, Any], service: dict[str, Any]) -> list[str]:
    """Unknown or missing members of the rendered Job and Service."""
    problems = _check("Job", job, "Job") + _check("Service", service, "Service")
    for name, obj in (("Job", job), ("Service", service)):
        problems += _check("ObjectMeta", obj["metadata"], f"{name}.metadata")
    problems += _check("JobSpec", job["spec"], "Job.spec")
    template = job["spec"]["template"]
    problems += _check("PodTemplateSpec", template, "Job.spec.template")
    pod = template["spec"]
    problems += _check("PodSpec", pod, "pod")
    for container in pod["containers"]:
        problems += _check("Container", container, "container")
        problems += [p for e in container["env"] for p in _check("EnvVar", e, "env")]
        problems += [
            p for m in container["volumeMounts"] for p in _check("VolumeMount", m, "mount")
        ]
    problems += [p for v in pod["volumes"] for p in _check("Volume", v, "volume")]
    problems += _check("ServiceSpec", service["spec"], "Service.spec")
    problems += [
        p for port in service["spec"]["ports"] for p in _check("ServicePort", port, "port")
    ]
    if job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] is None:
        problems.append("Indexed Jobs need completions")
    if pod["restartPolicy"] not in ("Never", "OnFailure"):
        problems.append("a Job's pods restart Never or OnFailure")
    return problems


@pytest.fixture
def controller_environment(template: Template) -> Iterator[None]:
    _, function = _one(template, "AWS::Lambda::Function", "RunsControllerFunction")
    variables = function["Properties"]["Environment"]["Variables"]
    concrete = {k: v for k, v in variables.items() if isinstance(v, str)}
    saved = dict(os.environ)
    os.environ.update(concrete)
    groups = json.loads(concrete["INSTANCE_GROUPS"])
    groups["gpu-workers"]["count"] = 4  # the default group's ceiling is 2
    os.environ["INSTANCE_GROUPS"] = json.dumps(groups)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_rendered_job_and_service_use_known_kubernetes_members(
    controller_environment: None,
) -> None:
    run = cluster_run.validate(
        {
            "job": {"image": "public.ecr.aws/x/trainer:1", "command": ["torchrun", "t.py"]},
            "nodes": 4,
            "dataset": "d/",
            "output_name": "out",
        },
        "Execution-1",
    )
    assert kubernetes_problems(run["job"], run["service"]) == []
    assert run["job"]["metadata"]["name"] == run["service"]["metadata"]["name"]
    assert run["job"]["spec"]["template"]["spec"]["subdomain"] == run["service"]["metadata"]["name"]
    broken = json.loads(json.dumps(run["job"]))
    broken["spec"]["template"]["spec"]["containers"][0]["comand"] = ["typo"]
    assert kubernetes_problems(broken, run["service"]) == ["container: unknown member comand"]


# -- Slurm (LargePretrainStack, engine trainium) -------------------------------------------


@pytest.fixture(scope="module")
def large(tier_templates: dict[StackName, Template]) -> Template:
    return tier_templates[StackName.LARGE_PRETRAIN]


def test_slurm_controller_sends_run_shell_script_only_to_the_clusters_instances(
    large: Template,
) -> None:
    statements = {
        s["Sid"]: s
        for s in _statements(large, "SlurmRunsControllerFunctionRoleDefaultPolicy")
        if "Sid" in s
    }
    assert set(statements) == {
        "WriteOwnLogs",
        "FindHeadNode",
        "RunShellScriptDocument",
        "OnThisClustersInstances",
        "ReadCommandResults",
        "ReadCheckpoints",
        "WriteReports",
        "ListCheckpoints",
    }
    assert statements["FindHeadNode"]["Action"] == "ec2:DescribeInstances"
    document = statements["RunShellScriptDocument"]
    assert document["Action"] == "ssm:SendCommand"
    assert document["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ssm:",
                {"Ref": "AWS::Region"},
                "::document/AWS-RunShellScript",
            ],
        ]
    }
    assert "Condition" not in document
    instances = statements["OnThisClustersInstances"]
    assert instances["Action"] == "ssm:SendCommand"
    assert instances["Condition"] == {
        "StringEquals": {"ssm:resourceTag/parallelcluster:cluster-name": "trainium-pretrain"}
    }
    assert instances["Resource"]["Fn::Join"][1][-1] == ":instance/*"
    assert statements["ReadCommandResults"]["Action"] == "ssm:GetCommandInvocation"
    every_action = {
        a
        for s in _statements(large, "SlurmRunsControllerFunctionRoleDefaultPolicy")
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not [a for a in every_action if a.startswith(("ssm:Start", "ssm:CreateDoc", "eks:"))]


def test_large_trainium_has_the_slurm_workflow_and_outputs(large: Template) -> None:
    outputs = large.to_json()["Outputs"]
    assert {"SlurmRunWorkflowArn", "SlurmRunTopicArn"} <= set(outputs)
    assert "RunWorkflowArn" not in outputs
    assert not large.find_resources("AWS::EKS::AccessEntry")
