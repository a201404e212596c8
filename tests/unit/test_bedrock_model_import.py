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


# -- the merge step -------------------------------------------------------------------------

TOKEN = "<token>"


def _render(value: Any) -> str:
    """A CloudFormation string value with every token replaced by a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    return TOKEN


def _import_states(template: Template) -> dict[str, Any]:
    for machine in resources_of_type(template, "AWS::StepFunctions::StateMachine").values():
        rendered = json.loads(_render(machine["Properties"]["DefinitionString"]))
        if "MergeAdapter" in rendered["States"]:
            states: dict[str, Any] = rendered["States"]
            return states
    raise AssertionError("no state machine with a MergeAdapter state")


def test_the_merge_is_a_sync_processing_job_in_the_training_image(built: Any) -> None:
    _, importer, template = built
    merge = _import_states(template)["MergeAdapter"]
    assert merge["Resource"] == f"arn:{TOKEN}:states:::sagemaker:createProcessingJob.sync"
    request = merge["Parameters"]
    image = importer.job.image
    assert request["AppSpecification"]["ImageUri"].endswith(f"/{image.repository}:{image.tag}")
    command = request["AppSpecification"]["ContainerEntrypoint"]
    assert command[:2] == ["/bin/sh", "-c"]
    assert "pip install -q -r $d/requirements.txt" in command[2]
    assert 'exec python3 $d/merge_adapter.py "$@"' in command[2]
    arguments = request["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--adapter") + 1] == "/opt/ml/processing/input/adapter"
    assert arguments[arguments.index("--output") + 1] == "/opt/ml/processing/output/merged"
    # The default LoRA options keep the base model in the artifacts bucket: an input.
    assert arguments[arguments.index("--base") + 1] == "/opt/ml/processing/input/base"
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert set(inputs) == {"code", "adapter", "base"}
    assert inputs["base"]["S3Uri"] == f"s3://{TOKEN}/base-models/llama-3.1-8b-instruct/"
    assert inputs["adapter"]["S3Uri.$"] == "$.adapter.artifact"
    (output,) = request["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri.$"] == (
        f"States.Format('s3://{TOKEN}/merged-models/{{}}/', $.modelName)"
    )
    assert output["S3Output"]["S3UploadMode"] == "EndOfJob"
    assert request["ProcessingOutputConfig"]["KmsKeyId"] == TOKEN  # the lake's data key
    assert request["ProcessingResources"]["ClusterConfig"] == {
        "InstanceCount": 1,
        "InstanceType": "ml.m5.4xlarge",
        "VolumeSizeInGB": 100,
    }
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}
    assert request["ProcessingJobName.$"] == "States.Format('adapter-merge-{}', States.UUID())"


def test_the_report_verdict_gates_the_import(built: Any) -> None:
    _, _, template = built
    states = _import_states(template)
    assert states["ReadMergeReport"]["Next"] == "Importable?"
    (choice,) = states["Importable?"]["Choices"]
    assert choice == {
        "Variable": "$.merge.report.bedrockImportSupported",
        "BooleanEquals": True,
        "Next": "StartImport",
    }
    assert states["Importable?"]["Default"] == "NotifyNotImportable"
    (merge_first,) = states["MergeFirst?"]["Choices"]
    assert merge_first["Next"] == "DescribeAdapter"
    assert states["MergeFirst?"]["Default"] == "StartImport"  # an already merged prefix


def test_sagemaker_assumes_the_merge_role_for_merge_jobs_only(built: Any) -> None:
    stack, importer, template = built
    role = template.to_json()["Resources"][
        stack.get_logical_id(importer.merge.role.node.default_child)
    ]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    source_arn = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":processing-job/adapter-merge-*" in source_arn


def test_the_merge_role_reads_adapters_and_writes_only_merged_models(built: Any) -> None:
    _, _, template = built
    by_sid = {s.get("Sid"): s for s in _statements(template)}
    assert by_sid["ReadAdapters"]["Action"] == "s3:GetObject"
    assert "sagemaker/output/*" in json.dumps(by_sid["ReadAdapters"]["Resource"])
    writes = sorted(by_sid["WriteMergedModels"]["Action"])
    assert writes == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert "merged-models/*" in json.dumps(by_sid["WriteMergedModels"]["Resource"])
    assert "ReadMergeCode" in by_sid
    assert "PullTrainingImage" in by_sid
    assert by_sid["ListAdapters"]["Condition"] == {
        "StringLike": {"s3:prefix": ["sagemaker/output/*"]}
    }


def test_the_workflow_runs_tracks_and_passes_as_for_a_sync_job(built: Any) -> None:
    _, _, template = built
    by_sid = {s.get("Sid"): s for s in _statements(template)}
    assert sorted(by_sid["RunMergeJobs"]["Action"]) == [
        "sagemaker:AddTags",
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
    ]
    assert ":processing-job/adapter-merge-*" in json.dumps(by_sid["RunMergeJobs"]["Resource"])
    assert by_sid["ListMergeJobTags"]["Resource"] == "*"
    assert sorted(by_sid["TrackMergeJobs"]["Action"]) == [
        "events:DescribeRule",
        "events:PutRule",
        "events:PutTargets",
    ]
    assert "rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule" in json.dumps(
        by_sid["TrackMergeJobs"]["Resource"]
    )
    assert by_sid["PassMergeRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert by_sid["DescribeAdapters"]["Action"] == "sagemaker:DescribeModelPackage"
    assert "merge-report.json" in json.dumps(by_sid["ReadMergeReports"]["Resource"])


def test_a_hub_base_model_is_downloaded_by_the_merge_job() -> None:
    from cdk_llm_training.config import SageMakerFineTuneOptions

    stack = new_stack(nag=False)
    job = SageMakerFineTuneJob(
        stack,
        "Lora",
        data_lake=TrainingDataLake(stack, "Lake"),
        options=SageMakerFineTuneOptions(
            base_model_id="meta-llama/Llama-3.1-8B-Instruct", base_model_prefix=None
        ),
    )
    importer = BedrockModelImport(stack, "Import", job=job)
    request = importer.merge.parameters()
    assert {i["InputName"] for i in request["ProcessingInputs"]} == {"code", "adapter"}
    arguments = request["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--base") + 1] == "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize("prefix", ["", "-merge", "merge_jobs", "m" * 27])
def test_merge_job_name_prefix_is_checked(prefix: str) -> None:
    stack = new_stack(nag=False)
    job = SageMakerFineTuneJob(stack, "Lora", data_lake=TrainingDataLake(stack, "Lake"))
    with pytest.raises(ValueError, match=r"merge_job_name_prefix: .* must be 1-26 letters"):
        BedrockModelImport(stack, "Import", job=job, merge_job_name_prefix=prefix)


def test_the_shipped_merge_files_and_report_name_agree() -> None:
    from cdk_llm_training.assets import merging, training
    from cdk_llm_training.assets.merging import merge_adapter

    assert merging.REPORT_NAME == merge_adapter.REPORT_NAME
    for name in merging.SOURCE_FILES:
        assert (merging.SOURCE_DIR / name).is_file()
    pins = set((training.SOURCE_DIR / "requirements.txt").read_text().split())
    merge_pins = (merging.SOURCE_DIR / "requirements.txt").read_text().split()
    assert set(merge_pins) <= pins  # the versions the training image already runs


def test_the_merge_code_asset_holds_only_the_script_and_its_pins(built: Any) -> None:
    from pathlib import Path

    from cdk_llm_training.assets import merging

    stack, importer, _ = built
    staged = Path(cdk.Stage.of(stack).outdir) / importer.merge.code.asset_path  # type: ignore[union-attr]
    assert sorted(p.name for p in staged.iterdir()) == sorted(merging.SOURCE_FILES)
