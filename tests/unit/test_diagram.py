"""Architecture pictures from templates: grouping, kept resources, data-flow edges."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aws_cdk.assertions import Template
from cdk_support import REPO_ROOT

from cdk_llm_training.config import StackName
from cdk_llm_training.tools.diagram import build_model, load_model, main, render


def _paths(template: dict[str, object]) -> dict[str, object]:
    return template


def test_model_of_small_stack_groups_the_data_lake(
    tier_templates: dict[StackName, Template],
) -> None:
    full = tier_templates[StackName.SMALL_LORA].to_json()
    template = {
        "Resources": {k: v for k, v in full["Resources"].items() if k.startswith("DataLake")}
    }
    for logical_id, resource in template["Resources"].items():
        resource.setdefault("Metadata", {})["aws:cdk:path"] = (
            f"SmallLoRAStack/DataLake/{logical_id}/Resource"
        )
    model = build_model(template, "SmallLoRAStack", {"DataLake": "TrainingDataLake"})
    types = sorted(n.type_name for n in model.nodes.values())
    assert types == ["AWS::KMS::Key"] + ["AWS::S3::Bucket"] * 4
    assert model.group_labels == {"DataLake": "DataLake (TrainingDataLake)"}
    assert not any(n.type_name.startswith("AWS::IAM") for n in model.nodes.values())


def test_data_repository_association_becomes_an_s3_to_fsx_edge() -> None:
    def meta(path: str) -> dict[str, object]:
        return {"aws:cdk:path": f"S/{path}/Resource"}

    template = {
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "Metadata": meta("Lake/Curated")},
            "Fs": {"Type": "AWS::FSx::FileSystem", "Metadata": meta("Fsx/Fs")},
            "Dra": {
                "Type": "AWS::FSx::DataRepositoryAssociation",
                "Properties": {
                    "FileSystemId": {"Ref": "Fs"},
                    "FileSystemPath": "/data",
                    "DataRepositoryPath": {"Fn::Join": ["", ["s3://", {"Ref": "Bucket"}, "/"]]},
                },
            },
            "Role": {"Type": "AWS::IAM::Role"},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Metadata": meta("Job/Validator"),
                "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}},
            },
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [{"Ref": "Role"}],
                    "PolicyDocument": {
                        "Statement": [{"Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}}]
                    },
                },
            },
        }
    }
    model = build_model(template, "S")
    assert model.edges[("Bucket", "Fs")] == ("/data", "bold")
    assert model.edges[("Fn", "Bucket")] == ("", "dashed")
    assert set(model.nodes) == {"Bucket", "Fs", "Fn"}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
def test_render_writes_svg_and_png(tmp_path: Path) -> None:
    cdk_out = tmp_path / "cdk.out"
    cdk_out.mkdir()
    (cdk_out / "S.template.json").write_text(
        '{"Resources": {"B": {"Type": "AWS::S3::Bucket", '
        '"Metadata": {"aws:cdk:path": "S/Lake/Raw/Resource"}}}}'
    )
    files = render(cdk_out, "S", tmp_path / "out")
    assert [f.suffix for f in files] == [".svg", ".png"]
    assert "S3 bucket" in files[0].read_text()
    assert load_model(cdk_out, "S").nodes["B"].name == "Raw"


def test_missing_stack_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["Nope", "--cdk-out", str(tmp_path)]) == 2
    assert capsys.readouterr().out.strip() == (
        f"error: no template for stack 'Nope' in {tmp_path}; run `make synth` first. "
        "Stacks there: none."
    )
    assert REPO_ROOT.exists()
