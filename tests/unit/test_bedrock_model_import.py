"""BedrockModelImport: the import role's trust and reach, the workflow's IAM, validation."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_support import new_stack, resources_of_type

from cdk_llm_training import BedrockModelImport, SageMakerFineTuneJob, TrainingDataLake


@pytest.fixture(scope="module")
def built() -> tuple[cdk.Stack, BedrockModelImport, Template]:
    stack = new_stack()  # cdk-nag and LlmTrainingChecks run on synth
    job = SageMakerFineTuneJob(stack, "Lora", data_lake=TrainingDataLake(stack, "Lake"))
    importer = BedrockModelImport(stack, "Import", job=job)
    return stack, importer, Template.from_stack(stack)


def _statements(template: Template) -> list[dict[str, Any]]:
    return [
        s
        for p in resources_of_type(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_bedrock_assumes_the_import_role_for_this_account_import_jobs_only(built: Any) -> None:
    stack, importer, template = built
    role = template.to_json()["Resources"][
        stack.get_logical_id(importer.import_role.node.default_child)
    ]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }
    source_arn = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":model-import-job/*" in source_arn


def test_the_import_role_reads_only_the_models_prefix(built: Any) -> None:
    _, _, template = built
    listing = [s for s in _statements(template) if s.get("Sid") == "ListModels"]
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": ["merged-models/*"]}}
    reads = [
        s
        for s in _statements(template)
        if "s3:GetObject*" in json.dumps(s.get("Action")) and "merged-models/*" in json.dumps(s)
    ]
    assert reads


def test_workflow_passes_the_role_to_bedrock_only(built: Any) -> None:
    _, _, template = built
    (passing,) = [s for s in _statements(template) if s.get("Sid") == "PassImportRole"]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}
    }
    (imports,) = [s for s in _statements(template) if s.get("Sid") == "ImportModels"]
    assert imports["Action"] == ["bedrock:CreateModelImportJob", "bedrock:GetModelImportJob"]


@pytest.mark.parametrize("prefix", ["merged", "/merged/"])
def test_models_prefix_is_a_folder(prefix: str) -> None:
    stack = new_stack(nag=False)
    job = SageMakerFineTuneJob(stack, "Lora", data_lake=TrainingDataLake(stack, "Lake"))
    with pytest.raises(ValueError, match=r"models_prefix: .* must be a key prefix ending in '/'"):
        BedrockModelImport(stack, "Import", job=job, models_prefix=prefix)


def test_template_passes_cfn_lint(built: Any) -> None:
    from cdk_support import cfn_lint_findings

    assert cfn_lint_findings(built[2].to_json()) == []
