"""DataCuration: the template (roles, processing request, nag and rule pack clean, cfn-lint),
bring-your-own buckets, and DataCurationOptions validation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import DataCuration, DataCurationOptions, TrainingDataLake
from cdk_llm_training.assets.curation.config import CurationConfig
from cdk_llm_training.config.data_curation import curation_settings
from cdk_llm_training.constructs.data_curation.job import container_command


@pytest.fixture(scope="module")
def built() -> tuple[Stack, DataCuration, Template]:
    stack = new_stack()  # cdk-nag AwsSolutions + LlmTrainingChecks: errors fail synthesis
    lake = TrainingDataLake(stack, "Lake")
    options = DataCurationOptions(
        curation={
            "text_fields": ["text"],
            "rename_fields": {"text": "input"},
            "near_duplicates": {"threshold": 0.85},
            "pii": {"mode": "drop", "entity_types": ["EMAIL", "PHONE"]},
        }
    )
    curation = DataCuration(stack, "Curation", data_lake=lake, options=options)
    return stack, curation, template_of(stack)


def _definition(template: Template) -> dict[str, Any]:
    (machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "REF" for p in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


def _role_statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in resources_of_type(template, "AWS::IAM::Policy").items()
        if logical_id.startswith(role_prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_states_and_processing_request(built: tuple[Stack, DataCuration, Template]) -> None:
    definition = _definition(built[2])
    assert definition["StartAt"] == "InputValid?"
    assert set(definition["States"]) >= {
        "CheckRawInput",
        "CurateJob",
        "ValidateDataset",
        "DatasetValid?",
        "NotifyFailed",
        "NotifySucceeded",
    }
    job = definition["States"]["CurateJob"]
    assert job["Resource"].endswith(":states:::sagemaker:createProcessingJob.sync")
    arguments = job["Parameters"]["AppSpecification"]["ContainerArguments"]
    settings = [arguments[i + 1] for i, a in enumerate(arguments) if a == "--set"]
    assert "near_duplicates.threshold=0.85" in settings
    assert 'pii.entity_types=["EMAIL","PHONE"]' in settings
    # What the job receives is what the options said (round trip through the arguments).
    config = CurationConfig.from_settings({}, settings)
    assert config.pii.mode == "drop"
    assert config.rename_fields == {"text": "input"}
    assert [i["InputName"] for i in job["Parameters"]["ProcessingInputs"]] == ["code", "raw"]


@pytest.mark.parametrize("install", [True, False])
def test_container_command_fits_the_api_limits(install: bool) -> None:
    command = container_command(install_requirements=install)
    assert all(len(part) <= 256 for part in command)
    assert ("pip install" in command[2]) is install
    assert command[2].endswith('exec python3 -m curation.curate "$@"')


def test_processing_role_trust_and_access(built: tuple[Stack, DataCuration, Template]) -> None:
    template = built[2]
    roles = resources_of_type(template, "AWS::IAM::Role")
    (trust,) = [
        r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        for logical_id, r in roles.items()
        if logical_id.startswith("CurationProcessingRole")
    ]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    source_arn = json.dumps(trust["Condition"]["ArnLike"]["aws:SourceArn"])
    assert "processing-job/curate-*" in source_arn
    sids = {s.get("Sid") for s in _role_statements(template, "CurationProcessingRole")}
    assert {
        "ReadRaw",
        "WriteCurated",
        "ReadCurationCode",
        "ListCurationCode",
        "DetectPii",
        "ListRaw",
    } <= sids
    read_raw = next(
        s for s in _role_statements(template, "CurationProcessingRole") if s.get("Sid") == "ReadRaw"
    )
    assert "/corpora/*" in json.dumps(read_raw["Resource"])


def test_workflow_role_runs_only_its_jobs(built: tuple[Stack, DataCuration, Template]) -> None:
    statements = _role_statements(built[2], "CurationRole")
    run = next(s for s in statements if s.get("Sid") == "RunProcessingJobs")
    assert "processing-job/curate-*" in json.dumps(run["Resource"])
    passing = next(s for s in statements if s.get("Sid") == "PassProcessingRole")
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_cfn_lint_clean(built: tuple[Stack, DataCuration, Template]) -> None:
    assert cfn_lint_findings(built[2].to_json()) == []


def test_buckets_brought_or_lake_not_both() -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    bucket = s3.Bucket(stack, "B")
    with pytest.raises(ValueError, match="not both"):
        DataCuration(stack, "Both", data_lake=lake, raw_bucket=bucket)
    with pytest.raises(ValueError, match="got neither"):
        DataCuration(stack, "Neither", raw_bucket=bucket)
    byo = DataCuration(
        stack, "Byo", raw_bucket=bucket, curated_bucket=bucket, artifacts_bucket=bucket
    )
    assert byo.data_key is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"curation": {"pii": {"mode": "mask"}}}, "pii.mode is 'mask'"),
        ({"curation": {"dedupe": True}}, "unknown fields"),
        ({"record_format": "csv"}, "record_format 'csv' is unknown"),
        ({"raw_prefix": "corpora"}, "raw_prefix 'corpora' must end with '/'"),
        ({"curated_prefix": "x/*/"}, "literal S3 key prefix"),
        ({"job_name_prefix": "bad_name"}, "letters, digits and single hyphens"),
        ({"log_retention_days": 2}, "not a CloudWatch Logs retention"),
        ({"curation": {"text_fields": ["t" * 300]}}, "at most 256"),
    ],
)
def test_options_refused_with_the_field_named(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("*", r"\*")):
        DataCurationOptions(**fields)


def test_curation_settings_are_one_leaf_each() -> None:
    assert curation_settings({"a": {"b": 1, "c": [1, "x"]}, "d": "e"}) == [
        "a.b=1",
        'a.c=[1,"x"]',
        'd="e"',
    ]


def test_small_tier_adds_the_workflow_by_config_only() -> None:
    from cdk_support import new_app

    from cdk_llm_training import SmallLoRAConfig, SmallLoRAStack

    default = SmallLoRAConfig().data_pipeline
    assert (default.curation, default.synthetic) == (None, None)  # default off: cost-safe
    config = SmallLoRAConfig.model_validate(
        {
            "data_pipeline": {"curation": True, "synthetic": {"timeout_hours": 48}},
            "labeling": None,
            "sagemaker_fine_tune": None,
        }
    )
    assert config.data_pipeline.curation == DataCurationOptions()
    stack = SmallLoRAStack(new_app(), "Small", config=config)  # nag + rule pack on synth
    template = template_of(stack)
    assert stack.data_curation is not None
    assert template.find_outputs("CurationStateMachineArn")
    assert template.find_outputs("SyntheticDataStateMachineArn")
    assert stack.synthetic_data is not None
    assert stack.synthetic_data.options.timeout_hours == 48
    # The curated output lands under the Bedrock fine-tune's dataset prefix.
    assert config.bedrock_fine_tune is not None
    assert config.data_pipeline.curation.curated_prefix.startswith(
        config.bedrock_fine_tune.dataset_prefix
    )


def test_cluster_tier_adds_the_workflows_by_config() -> None:
    from cdk_support import new_app

    from cdk_llm_training import MediumFineTuneConfig, MediumFineTuneStack

    assert MediumFineTuneConfig().data_pipeline.curation is None
    config = MediumFineTuneConfig.model_validate(
        {"data_pipeline": {"curation": True, "synthetic": True}}
    )
    stack = MediumFineTuneStack(new_app(), "Medium", config=config)
    template = template_of(stack)  # nag + rule pack on synth
    assert stack.data_curation is not None
    assert stack.synthetic_data is not None
    assert template.find_outputs("CurationStateMachineArn")
    assert template.find_outputs("SyntheticDataStateMachineArn")
