"""DataCuration with ``engine: emr-serverless``: the EMR Serverless application, the job
runtime role, the workflow role's startJobRun.sync permissions, the states, the Spark code
package; nag, rule pack and cfn-lint clean; options validation."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Match, Template
from cdk_support import cfn_lint_findings, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    DataCuration,
    DataCurationOptions,
    NetworkOptions,
    TrainingDataLake,
    TrainingNetwork,
)
from cdk_llm_training.config.data_curation import DEFAULT_EMR_RELEASE
from cdk_llm_training.constructs.data_curation.emr import spark_package_zip

AZ = "use1-az4"


@pytest.fixture(scope="module")
def built() -> tuple[Stack, DataCuration, Template]:
    stack = new_stack()  # cdk-nag AwsSolutions + LlmTrainingChecks: errors fail synthesis
    lake = TrainingDataLake(stack, "Lake")
    network = TrainingNetwork(stack, "Network", options=NetworkOptions(availability_zone_id=AZ))
    options = DataCurationOptions.model_validate(
        {
            "engine": "emr-serverless",
            "emr": {"architecture": "ARM64", "maximum_vcpu": 32, "execution_timeout_minutes": 240},
            "curation": {"text_fields": ["text"], "pii": {"mode": "drop"}},
        }
    )
    curation = DataCuration(stack, "Curation", data_lake=lake, options=options, vpc=network.vpc)
    return stack, curation, template_of(stack)


def _definition(template: Template) -> dict[str, Any]:
    (machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "REF" for p in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


def _statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in resources_of_type(template, "AWS::IAM::Policy").items()
        if logical_id.startswith(role_prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_application_idles_at_no_cost(built: tuple[Stack, DataCuration, Template]) -> None:
    template = built[2]
    (app,) = resources_of_type(template, "AWS::EMRServerless::Application").values()
    props = app["Properties"]
    assert props["ReleaseLabel"] == DEFAULT_EMR_RELEASE
    assert (props["Type"], props["Architecture"]) == ("Spark", "ARM64")
    assert "InitialCapacity" not in props  # no pre-initialized workers
    assert props["AutoStopConfiguration"] == {"Enabled": True, "IdleTimeoutMinutes": 15}
    assert props["AutoStartConfiguration"] == {"Enabled": True}
    assert props["MaximumCapacity"] == {"Cpu": "32 vCPU", "Memory": "256 GB", "Disk": "640 GB"}
    network = props["NetworkConfiguration"]
    assert [s["Ref"] for s in network["SubnetIds"]] == [
        k for k in resources_of_type(template, "AWS::EC2::Subnet") if "Compute" in k
    ]
    assert len(network["SecurityGroupIds"]) == 1
    logging = props["MonitoringConfiguration"]["CloudWatchLoggingConfiguration"]
    assert logging["Enabled"] is True
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": 365}
    )


def test_job_role_trust_and_access(built: tuple[Stack, DataCuration, Template]) -> None:
    template = built[2]
    roles = resources_of_type(template, "AWS::IAM::Role")
    (trust,) = next(r for k, r in roles.items() if k.startswith("CurationSparkJobRole"))[
        "Properties"
    ]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    source = json.dumps(trust["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":/applications/" in source
    assert "ApplicationId" in source
    by_sid = {s.get("Sid"): s for s in _statements(template, "CurationSparkJobRole")}
    assert sorted(by_sid["WriteCurated"]["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert by_sid["ReadRaw"]["Action"] == "s3:GetObject"
    assert by_sid["DetectPii"]["Action"] == "comprehend:DetectPiiEntities"
    assert {"ListRaw", "ListCurated", "ReadSparkCode", "WriteSparkLogs"} <= set(by_sid)
    kms = [s for s in by_sid.values() if "kms:Decrypt" in json.dumps(s.get("Action"))]
    assert kms  # the lake key


def test_workflow_role_sync_permissions(built: tuple[Stack, DataCuration, Template]) -> None:
    statements = _statements(built[2], "CurationRoleDefaultPolicy")
    by_sid = {s.get("Sid"): s for s in statements}
    assert by_sid["StartSparkJobRuns"]["Action"] == "emr-serverless:StartJobRun"
    assert sorted(by_sid["TrackSparkJobRuns"]["Action"]) == [
        "emr-serverless:CancelJobRun",
        "emr-serverless:GetJobRun",
    ]
    assert "/jobruns/*" in json.dumps(by_sid["TrackSparkJobRuns"]["Resource"])
    assert by_sid["PassSparkJobRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}
    }
    rule = json.dumps(by_sid["ManageSyncEventsRule"]["Resource"])
    assert "rule/StepFunctionsGetEventsForEMRServerlessJobRule" in rule
    assert not any("sagemaker:" in json.dumps(s.get("Action")) for s in statements)


def test_states_run_the_spark_job(built: tuple[Stack, DataCuration, Template]) -> None:
    states = _definition(built[2])["States"]
    assert states["RawInputFound?"]["Choices"][0]["Next"] == "PrepareSparkJob"
    prepare = states["PrepareSparkJob"]
    assert prepare["Next"] == "CurateJob"
    assert json.loads(prepare["Parameters"]["config"]) == {
        "text_fields": ["text"],
        "pii": {"mode": "drop"},
    }
    job = states["CurateJob"]
    assert job["Resource"].endswith(":states:::emr-serverless:startJobRun.sync")
    params = job["Parameters"]
    assert params["ExecutionTimeoutMinutes"] == 240
    assert params["ClientToken.$"] == "States.UUID()"
    submit = params["JobDriver"]["SparkSubmit"]
    assert submit["EntryPoint"] == "REF"  # the SparkEntry asset's s3:// URL
    assert built[1].spark_entry.s3_object_key.endswith(".py")
    assert built[1].spark_package.s3_object_key.endswith(".zip")
    assert submit["SparkSubmitParameters"].startswith("--py-files ")
    assert submit["EntryPointArguments.$"].startswith("States.Array('--input-uri'")
    assert job["Catch"][0]["Next"] == "NotifyFailed"
    assert job["Next"] == "ValidateDataset"


def test_spark_package_holds_the_curation_modules_reproducibly() -> None:
    path = spark_package_zip()
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert {"curation/spark_curate.py", "curation/curate.py", "curation/__init__.py"} <= set(
            names
        )
        assert all(name.startswith("curation/") and name.endswith(".py") for name in names)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_cfn_lint_clean(built: tuple[Stack, DataCuration, Template]) -> None:
    assert cfn_lint_findings(built[2].to_json()) == []


def test_spark_only_arguments_refused_on_processing() -> None:
    stack = new_stack(nag=False)
    lake = TrainingDataLake(stack, "Lake")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1)
    with pytest.raises(ValueError, match="apply to engine 'emr-serverless'; engine is"):
        DataCuration(stack, "C", data_lake=lake, vpc=vpc)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"engine": "glue"}, "engine 'glue' is unknown; allowed: processing, emr-serverless"),
        ({"emr": {"release_label": "emr-6.15.0"}}, "emr.release_label 'emr-6.15.0'"),
        ({"emr": {"architecture": "arm64"}}, "emr.architecture 'arm64' is unknown"),
        ({"emr": {"maximum_vcpu": 2}}, "greater than or equal to 8"),
        ({"emr": {"idle_timeout_minutes": 0}}, "greater than or equal to 1"),
        ({"emr": {"initial_capacity": 1}}, "Extra inputs are not permitted"),
    ],
)
def test_emr_options_refused_with_the_field_named(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        DataCurationOptions.model_validate(fields)


def test_default_engine_stays_processing() -> None:
    assert DataCurationOptions().engine == "processing"


def test_long_settings_fit_the_spark_engine_only() -> None:
    long_setting = {"text_fields": ["t" * 300]}
    with pytest.raises(ValidationError, match="at most 256"):
        DataCurationOptions(curation=long_setting)
    options = DataCurationOptions(engine="emr-serverless", curation=long_setting)
    assert options.curation_config.text_fields == ("t" * 300,)
