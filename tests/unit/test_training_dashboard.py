"""TrainingDashboard: the DashboardBody parsed back, section by section; only what it is given."""

from __future__ import annotations

from typing import Any

import pytest
from cdk_support import cfn_lint_findings, new_stack, template_of
from observability_cases import (
    EKS,
    EXTERNAL_FS_ID,
    HYPERPOD,
    PREFIX,
    Full,
    dashboard_body,
    state_machine,
)

from cdk_llm_training import TrainingDashboard


@pytest.fixture(scope="module")
def full() -> Full:
    return Full()


@pytest.fixture(scope="module")
def widgets(full: Full) -> list[dict[str, Any]]:
    body = dashboard_body(full.json)
    assert body["start"] == "-PT12H"
    result: list[dict[str, Any]] = body["widgets"]
    return result


def _titled(widgets: list[dict[str, Any]], start: str) -> dict[str, Any]:
    return next(w for w in widgets if w["properties"].get("title", "").startswith(start))


def _metric_names(widget: dict[str, Any]) -> list[str]:
    names = []
    for entry in widget["properties"]["metrics"]:
        if isinstance(entry[0], dict):
            continue  # a math expression
        names.append(entry[1])
    return names


def _expressions(widget: dict[str, Any]) -> list[str]:
    return [
        entry[0]["expression"]
        for entry in widget["properties"]["metrics"]
        if isinstance(entry[0], dict) and "expression" in entry[0]
    ]


def test_name_and_section_order(full: Full, widgets: list[dict[str, Any]]) -> None:
    full.template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": "ObservedStack-training"}
    )
    kinds = [(w["type"], w["properties"].get("title", "")) for w in widgets]
    assert kinds == [
        ("text", ""),
        ("alarm", "Alarms"),
        ("metric", "Workflow Fine-tune: executions"),
        ("metric", "FSx Fsx: throughput (MB/s)"),
        ("metric", "FSx Fsx: IOPS"),
        ("metric", "FSx Fsx: free GiB of 2400"),
        ("metric", "FSx Fsx: metadata operations/s"),
        ("metric", "FSx Shared: throughput (MB/s)"),
        ("metric", "FSx Shared: IOPS"),
        ("metric", "FSx Shared: free GiB of 1200"),
        ("metric", "FSx Shared: metadata operations/s"),
        ("metric", "Training jobs llm-*: GPU utilization"),
        ("metric", "Failure events (training jobs, HyperPod nodes and cluster)"),
        ("text", ""),
        ("metric", "EKS control plane: API requests"),
        ("metric", "EKS control plane: pending pods"),
    ]


def test_widgets_tile_a_24_column_grid(widgets: list[dict[str, Any]]) -> None:
    rows: dict[int, int] = {}
    for widget in widgets:
        assert widget["x"] + widget["width"] <= 24
        rows[widget["y"]] = rows.get(widget["y"], 0) + widget["width"]
    assert all(width <= 24 for width in rows.values())
    fsx_row = [w for w in widgets if w["properties"].get("title", "").startswith("FSx Fsx")]
    assert [w["x"] for w in fsx_row] == [0, 6, 12, 18]
    assert len({w["y"] for w in fsx_row}) == 1


def test_alarm_status_lists_every_alarm(full: Full, widgets: list[dict[str, Any]]) -> None:
    status = _titled(widgets, "Alarms")
    assert len(status["properties"]["alarms"]) == len(full.alarms.alarms) == 5


def test_workflow_widget(full: Full, widgets: list[dict[str, Any]]) -> None:
    widget = _titled(widgets, "Workflow Fine-tune")
    assert _metric_names(widget) == [
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    ]
    machine = full.logical_id("AWS::StepFunctions::StateMachine", "FineTune")
    assert all(entry[3] == f"<{machine}>" for entry in widget["properties"]["metrics"])


def test_fsx_throughput_iops_capacity_and_metadata(
    full: Full, widgets: list[dict[str, Any]]
) -> None:
    fs_ref = f"<{full.logical_id('AWS::FSx::FileSystem', 'Fsx')}>"
    throughput = _titled(widgets, "FSx Fsx: throughput")
    assert _expressions(throughput) == [
        "datareadbytes / PERIOD(datareadbytes) / 1000000",
        "datawritebytes / PERIOD(datawritebytes) / 1000000",
        "100 * (FILL(datareadbytes, 0) + FILL(datawritebytes, 0)) / PERIOD(datareadbytes) "
        "/ 585937500",
    ]
    annotation = throughput["properties"]["annotations"]["horizontal"][0]
    assert annotation["value"] == 585.9375
    hidden = [e for e in throughput["properties"]["metrics"] if not isinstance(e[0], dict)]
    assert {(e[0], e[1], e[2], e[3]) for e in hidden} == {
        ("AWS/FSx", "DataReadBytes", "FileSystemId", fs_ref),
        ("AWS/FSx", "DataWriteBytes", "FileSystemId", fs_ref),
    }
    assert _expressions(_titled(widgets, "FSx Fsx: IOPS")) == [
        "datareadoperations / PERIOD(datareadoperations)",
        "datawriteoperations / PERIOD(datawriteoperations)",
    ]
    free = _titled(widgets, "FSx Fsx: free GiB")
    assert _expressions(free) == ["freedatastoragecapacity / 1073741824"]
    # The alarm threshold drawn in GiB: 10 % of 2400.
    assert free["properties"]["annotations"]["horizontal"][0]["value"] == 240
    assert _expressions(_titled(widgets, "FSx Fsx: metadata")) == [
        "metadataoperations / PERIOD(metadataoperations)"
    ]
    shared = _titled(widgets, "FSx Shared: IOPS")
    assert {e[3] for e in shared["properties"]["metrics"] if not isinstance(e[0], dict)} == {
        EXTERNAL_FS_ID
    }


def test_sagemaker_and_hyperpod_section(widgets: list[dict[str, Any]]) -> None:
    gpu = _titled(widgets, "Training jobs")
    events = _titled(widgets, "Failure events")
    text = [w for w in widgets if w["type"] == "text"][1]
    # Three widgets share one row.
    assert [(w["x"], w["width"]) for w in (gpu, events, text)] == [(0, 8), (8, 8), (16, 8)]
    assert gpu["y"] == events["y"] == text["y"]
    assert _expressions(gpu) == [
        'SEARCH(\'{/aws/sagemaker/TrainingJobs,Host} MetricName="GPUUtilization" '
        f"{PREFIX}', 'Average', 300)"
    ]
    assert _metric_names(events) == ["MatchedEvents"] * 3
    assert [e[-1]["label"] for e in events["properties"]["metrics"]] == [
        "HyperPodNodeHealth",
        "HyperPodClusterFailed",
        "TrainingJobFailed",
    ]
    text = [w for w in widgets if w["type"] == "text"][1]
    assert (
        f"aws sagemaker list-cluster-nodes --cluster-name {HYPERPOD}"
        in (text["properties"]["markdown"])
    )


def test_eks_control_plane_section(widgets: list[dict[str, Any]]) -> None:
    requests = _titled(widgets, "EKS control plane: API requests")
    assert _metric_names(requests) == [
        "apiserver_request_total",
        "apiserver_request_total_5XX",
        "apiserver_request_total_429",
    ]
    assert {e[3] for e in requests["properties"]["metrics"]} == {EKS}
    assert _metric_names(_titled(widgets, "EKS control plane: pending")) == [
        "scheduler_pending_pods",
        "scheduler_pending_pods_UNSCHEDULABLE",
    ]


def test_empty_dashboard_has_only_its_header() -> None:
    stack = new_stack()
    dashboard = TrainingDashboard(stack, "Dashboard", dashboard_name="mine", title="Nothing yet")
    template_json = template_of(stack).to_json()
    body = dashboard_body(template_json)
    assert [w["type"] for w in body["widgets"]] == ["text"]
    assert body["widgets"][0]["properties"]["markdown"].startswith("# Nothing yet\n")
    assert dashboard.file_systems == []
    assert cfn_lint_findings(template_json) == []


def test_workflows_pair_up_two_per_row() -> None:
    stack = new_stack()
    TrainingDashboard(
        stack,
        "Dashboard",
        state_machines={name: state_machine(stack, name) for name in ("A", "B", "C")},
    )
    widgets = dashboard_body(template_of(stack).to_json())["widgets"][1:]
    assert [(w["x"], w["y"], w["width"]) for w in widgets] == [(0, 2, 12), (12, 2, 12), (0, 8, 12)]


def test_full_stack_is_cfn_lint_clean(full: Full) -> None:
    assert cfn_lint_findings(full.json) == []
