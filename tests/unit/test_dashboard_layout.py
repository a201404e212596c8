"""The dashboard picture: DashboardBody back from the template, one box per widget."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from cdk_llm_training.config import StackName
from cdk_llm_training.tools.dashboard_layout import dashboard_bodies, flatten, layout_svg, main


def test_flatten_shows_references() -> None:
    value = {"Fn::Join": ["", ["a", {"Ref": "Topic"}, "b", {"Fn::GetAtt": ["Alarm", "Arn"]}]]}
    assert flatten(value) == "a<Topic>b<Alarm.Arn>"


def test_small_lora_dashboard_drawn_box_by_box(
    tier_templates: dict[StackName, Template], tmp_path: Path
) -> None:
    template = tier_templates[StackName.SMALL_LORA].to_json()
    (body,) = dashboard_bodies(template).values()
    svg = layout_svg(body, title="SmallLoRAStack")
    boxes = re.findall(r'<rect x="(\d+)" y="(\d+)" width="(\d+)"', svg)
    # header text, alarm status, the Bedrock, labeling and SageMaker workflows
    assert len(boxes) == len(body["widgets"]) == 5
    # The first workflow graph: x=0, 12 columns of 40 px, inside a 16 px margin.
    assert boxes[2][0] == "19"
    assert boxes[2][2] == str(12 * 40 - 6)
    assert "Workflow Labeling: executions" in svg
    assert "Workflow BedrockFineTune: executions" in svg
    assert "ExecutionsFailed (right)" in svg
    path = tmp_path / "SmallLoRAStack.template.json"
    path.write_text(json.dumps(template))
    out = tmp_path / "dashboard.svg"
    assert main(["--template", str(path), "--out", str(out)]) == 0
    assert out.read_text().startswith("<svg ")


def test_template_without_dashboard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"Resources": {}}')
    assert main(["--template", str(path), "--out", str(tmp_path / "x.svg")]) == 2
    assert "no AWS::CloudWatch::Dashboard" in capsys.readouterr().err
