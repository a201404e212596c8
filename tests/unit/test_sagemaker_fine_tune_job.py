"""SageMakerFineTuneJob: the synthesized workflow, IAM scoping, options and failures."""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template
from cdk_support import cfn_lint_findings, new_app, new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    OpenModelRecordFormat,
    SageMakerFineTuneJob,
    SageMakerFineTuneOptions,
    TrainingDataLake,
    default_training_image,
)
from cdk_llm_training.assets import training
from cdk_llm_training.config.sagemaker_fine_tune_job import (
    METRIC_DEFINITIONS,
    OPTION_ARGUMENTS,
    SCRIPT_HYPERPARAMETERS,
    DistributedMode,
    FineTuneTuning,
)
from cdk_llm_training.constructs.sagemaker_fine_tune_job import (
    ONE_GPU_USED_WARNING,
    WARM_POOL_PERIOD_WARNING,
    WARM_POOL_WITH_SPOT_WARNING,
    build_source_tarball,
)

TOKEN = "<TOKEN>"
TAG = "2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04"
EXAMPLE_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _build(
    options: SageMakerFineTuneOptions | None = None, **kwargs: Any
) -> tuple[cdk.Stack, SageMakerFineTuneJob]:
    stack = kwargs.pop("stack", None) or new_stack()
    lake = TrainingDataLake(stack, "Lake")
    job = SageMakerFineTuneJob(stack, "Lora", data_lake=lake, options=options, **kwargs)
    return stack, job


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    return TOKEN


def definition(template: Template) -> dict[str, Any]:
    (machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    rendered: dict[str, Any] = json.loads(_render(machine["Properties"]["DefinitionString"]))
    return rendered


def _policy(template: Template, prefix: str) -> list[dict[str, Any]]:
    (policy,) = [
        p
        for logical_id, p in resources_of_type(template, "AWS::IAM::Policy").items()
        if logical_id.startswith(prefix)
    ]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements if "Sid" in s}


@pytest.fixture(scope="module")
def default_build() -> tuple[Template, SageMakerFineTuneJob]:
    stack, job = _build()
    return template_of(stack), job


@pytest.fixture(scope="module")
def default_template(default_build: tuple[Template, SageMakerFineTuneJob]) -> Template:
    return default_build[0]


@pytest.fixture(scope="module")
def full_build() -> tuple[Template, SageMakerFineTuneJob]:
    """On-demand with a warm pool, QLoRA of a hub model, VPC, retries, a custom image."""
    stack = new_stack()
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a"],
        private_subnet_ids=["subnet-0123456789abcdef0"],
    )
    options = SageMakerFineTuneOptions(
        tuning=FineTuneTuning.QLORA,
        record_format=OpenModelRecordFormat.INSTRUCTION,
        base_model_prefix=None,
        base_model_id="mistralai/Mistral-7B-v0.3",
        base_model_parameters=7.2e9,
        instance_type="ml.g6e.xlarge",
        use_spot=False,
        keep_alive_minutes=30,
        retry_attempts=2,
        max_runtime_hours=12,
        hyperparameters={"epochs": 3, "lora_r": 64, "gradient_checkpointing": False},
        image_uri="111122223333.dkr.ecr.eu-west-1.amazonaws.com/my-train:1.0",
        model_package_group_name="mistral-adapters",
        job_name_prefix="qlora",
    )
    _, job = _build(options, stack=stack, vpc=vpc)
    # A fixed group name on a retained group: LLM-DEP1 reports it (a redeploy after
    # `cdk destroy` collides with the kept group), so a user who wants it acknowledges it.
    cdk.Validations.of(job.model_package_group).acknowledge(
        cdk.Acknowledgment(id="LLM-DEP1", reason="Test: the group is deleted by hand.")
    )
    return template_of(stack), job


@pytest.fixture(scope="module")
def full_template(full_build: tuple[Template, SageMakerFineTuneJob]) -> Template:
    return full_build[0]


def _train_state(template: Template, name: str = "TrainAdapter") -> dict[str, Any]:
    state: dict[str, Any] = definition(template)["States"][name]
    return state


# -- the workflow --------------------------------------------------------------------------


def test_workflow_states_and_order(default_template: Template) -> None:
    states = definition(default_template)["States"]
    assert definition(default_template)["StartAt"] == "ValidateDataset"
    assert states["ValidateDataset"]["Next"] == "DatasetValid?"
    choices = states["DatasetValid?"]["Choices"]
    assert [c["Next"] for c in choices] == [
        "NotifyDatasetInvalid",
        "TrainAdapterWithValidationData",
    ]
    assert states["DatasetValid?"]["Default"] == "TrainAdapter"
    assert states["TrainAdapter"]["Next"] == "RegisterAdapter"
    assert states["TrainAdapterWithValidationData"]["Next"] == "RegisterAdapter"
    assert states["RegisterAdapter"]["Next"] == "BillableTimeReported?"
    assert {c["Next"] for c in states["BillableTimeReported?"]["Choices"]} == {"BillingReported"}
    assert states["BillableTimeReported?"]["Default"] == "BillingNotReported"
    for name in ("BillingReported", "BillingNotReported"):
        assert states[name]["Next"] == "NotifySucceeded"
    for name in ("ValidateDataset", "TrainAdapter", "RegisterAdapter"):
        assert states[name]["Catch"][0]["Next"] == "NotifyFailed"


def test_training_uses_the_sync_integration_with_managed_spot(default_template: Template) -> None:
    state = _train_state(default_template)
    assert state["Resource"] == f"arn:{TOKEN}:states:::sagemaker:createTrainingJob.sync"
    params = state["Parameters"]
    assert params["EnableManagedSpotTraining"] is True
    assert params["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 24 * 3600,
        "MaxWaitTimeInSeconds": 48 * 3600,
    }
    assert state["TimeoutSeconds"] == 49 * 3600
    assert params["ResourceConfig"] == {
        "InstanceType": "ml.g5.2xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 100,
    }
    assert "RetryStrategy" not in params
    assert "VpcConfig" not in params
    assert params["EnableNetworkIsolation"] is False


def test_checkpoints_go_to_the_artifacts_zone(default_template: Template) -> None:
    params = _train_state(default_template)["Parameters"]
    assert params["CheckpointConfig"] == {
        "S3Uri.$": "$.validation.checkpointS3Uri",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert params["OutputDataConfig"]["S3OutputPath.$"] == "$.validation.outputS3Path"
    (function,) = [
        f
        for f in resources_of_type(default_template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "open_model_dataset_validator.handler"
    ]
    env = function["Properties"]["Environment"]["Variables"]
    assert env["REPORT_BUCKET"] == {"Ref": _logical_id(default_template, "LakeArtifacts")}
    assert env["CHECKPOINT_PREFIX"] == "checkpoints/sagemaker/"
    assert env["OUTPUT_PREFIX"] == "sagemaker/output/"
    assert env["RECORD_FORMAT"] == "chat"
    assert env["MAX_VALIDATION_FILES"] == "1"
    assert json.loads(env["LIMITS"]) == {"max_record_bytes": 1_048_576}  # the default record limit


def _logical_id(template: Template, prefix: str) -> str:
    (logical_id,) = [
        k
        for k, r in template.to_json()["Resources"].items()
        if k.startswith(prefix) and r["Type"] == "AWS::S3::Bucket"
    ]
    return str(logical_id)


def test_channels_model_from_the_lake_and_output_encrypted(default_template: Template) -> None:
    params = _train_state(default_template, "TrainAdapterWithValidationData")["Parameters"]
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in params["InputDataConfig"]
    }
    assert set(channels) == {"train", "validation", "model"}
    assert channels["train"]["S3Uri.$"] == "$.validation.trainingS3Uri"
    assert channels["validation"]["S3Uri.$"] == "$.validation.validationS3Uri"
    assert channels["model"]["S3Uri"] == f"s3://{TOKEN}/base-models/llama-3.1-8b-instruct/"
    assert params["OutputDataConfig"]["KmsKeyId"] == TOKEN
    assert params["Environment"] == {"HF_HUB_OFFLINE": "1"}
    no_validation = _train_state(default_template)["Parameters"]["InputDataConfig"]
    assert [c["ChannelName"] for c in no_validation] == ["train", "model"]


def test_image_hyperparameters_and_metric_definitions(default_template: Template) -> None:
    params = _train_state(default_template)["Parameters"]
    spec = params["AlgorithmSpecification"]
    assert spec["TrainingImage"] == (
        f"{TOKEN}.dkr.ecr.{TOKEN}.{TOKEN}/huggingface-pytorch-training:{TAG}"
    )
    assert spec["MetricDefinitions"] == [dict(d) for d in METRIC_DEFINITIONS]
    assert params["HyperParameters"] == {
        "max_seq_length": "2048",
        "method": "sft",
        "record_format": "chat",
        "tuning": "lora",
        "sagemaker_program": "train_lora.py",
        "sagemaker_submit_directory": TOKEN,
        "sagemaker_region": TOKEN,
    }
    mapping = default_template.to_json()["Mappings"]
    (registry,) = mapping.values()
    assert registry["us-east-1"] == {"account": "763104351884"}
    assert registry["eu-south-1"] == {"account": "692866216735"}
    assert len(registry) == len(default_training_image().registries)


def test_adapter_registered_pending_manual_approval(
    default_build: tuple[Template, SageMakerFineTuneJob],
) -> None:
    template, job = default_build
    (group,) = resources_of_type(template, "AWS::SageMaker::ModelPackageGroup").values()
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"
    name = group["Properties"]["ModelPackageGroupName"]
    # Unique per stack instance (the stack UUID's first 8 hex characters): a group kept by
    # an earlier stack of the same name never blocks a redeploy.
    assert name["Fn::Join"][0] == "-"
    assert "AWS::StackId" in json.dumps(name["Fn::Join"][1][1])
    assert cdk.Token.is_unresolved(job.model_package_group_name)
    state = definition(template)["States"]["RegisterAdapter"]
    assert state["Resource"] == f"arn:{TOKEN}:states:::aws-sdk:sagemaker:createModelPackage"
    params = state["Parameters"]
    assert params["ModelPackageGroupName"].startswith(name["Fn::Join"][1][0] + "-")
    assert params["ModelApprovalStatus"] == "PendingManualApproval"
    # No serving image configured: registered without an inference specification (the
    # training image cannot serve an adapter); the adapter's location is in the metadata.
    assert "InferenceSpecification" not in params
    metadata = params["CustomerMetadataProperties"]
    assert metadata["adapterArtifact.$"] == "$.trainingJob.ModelArtifacts.S3ModelArtifacts"
    assert metadata["method"] == "sft"
    assert metadata["tuning"] == "lora"
    assert state["ResultPath"] == "$.modelPackage"


def test_state_output_exposes_job_and_package_for_later_steps(default_template: Template) -> None:
    states = definition(default_template)["States"]
    assert states["ValidateDataset"]["ResultPath"] == "$.validation"
    assert states["TrainAdapter"]["ResultPath"] == "$.trainingJob"
    message = states["NotifySucceeded"]["Parameters"]["Message"]
    assert message["modelPackageArn.$"] == "$.modelPackage.ModelPackageArn"
    assert message["modelArtifacts.$"] == "$.trainingJob.ModelArtifacts.S3ModelArtifacts"


def test_logging_and_tracing(default_template: Template) -> None:
    (machine,) = resources_of_type(default_template, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
    for group in resources_of_type(default_template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 365
        assert "KmsKeyId" in group["Properties"]


# -- IAM -----------------------------------------------------------------------------------


def test_state_machine_passes_only_the_training_role(default_template: Template) -> None:
    statements = _by_sid(_policy(default_template, "LoraRoleDefaultPolicy"))
    passing = [s for s in statements.values() if "iam:PassRole" in json.dumps(s["Action"])]
    assert passing == [statements["PassTrainingRole"]]
    pass_role = statements["PassTrainingRole"]
    assert pass_role["Resource"]["Fn::GetAtt"][0].startswith("LoraTrainingRole")
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    run = statements["RunTrainingJobs"]
    assert sorted(run["Action"]) == [
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
    ]
    assert _render(run["Resource"]).endswith(":training-job/lora-*")
    rule = statements["ManageSyncEventsRule"]
    assert _render(rule["Resource"]).endswith(
        ":rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    )
    register = statements["RegisterAdapters"]
    assert register["Action"] == "sagemaker:CreateModelPackage"
    assert [_render(r).rsplit(":", 1)[1] for r in register["Resource"]][1].startswith(
        "model-package/"
    )


def test_training_role_is_scoped_to_the_prefixes(default_template: Template) -> None:
    statements = _by_sid(_policy(default_template, "LoraTrainingRoleDefaultPolicy"))
    assert _render(statements["ReadDatasets"]["Resource"]) == f"{TOKEN}/finetune/*"
    assert sorted(_render(r) for r in statements["WriteOutputAndCheckpoints"]["Resource"]) == [
        f"{TOKEN}/checkpoints/sagemaker/*",
        f"{TOKEN}/sagemaker/output/*",
    ]
    assert _render(statements["ReadBaseModel"]["Resource"]) == (
        f"{TOKEN}/base-models/llama-3.1-8b-instruct/*"
    )
    assert statements["ListCheckpoints"]["Condition"] == {
        "StringLike": {"s3:prefix": ["checkpoints/sagemaker/*"]}
    }
    source = _render(statements["ReadTrainingSource"]["Resource"])
    assert source.endswith(".gz")
    assert "*" not in source
    assert _render(statements["PullTrainingImage"]["Resource"]).endswith(
        ":repository/huggingface-pytorch-training"
    )
    assert "TrainingJobNetworkInterfaces" not in statements
    every_action = json.dumps([s["Action"] for s in statements.values()])
    assert "s3:DeleteObject" not in every_action
    assert '"s3:*"' not in every_action
    (role,) = [
        r
        for k, r in resources_of_type(default_template, "AWS::IAM::Role").items()
        if k.startswith("LoraTrainingRole")
    ]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}


def test_is_cfn_lint_clean(default_template: Template, full_template: Template) -> None:
    assert cfn_lint_findings(default_template.to_json()) == []
    assert cfn_lint_findings(full_template.to_json()) == []


# -- options -------------------------------------------------------------------------------


def test_full_options(full_template: Template) -> None:
    params = _train_state(full_template)["Parameters"]
    assert params["EnableManagedSpotTraining"] is False
    assert params["StoppingCondition"] == {"MaxRuntimeInSeconds": 12 * 3600}
    assert params["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800
    assert params["ResourceConfig"]["InstanceType"] == "ml.g6e.xlarge"
    assert params["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert params["VpcConfig"] == {
        "Subnets": ["subnet-0123456789abcdef0"],
        "SecurityGroupIds": [TOKEN],
    }
    assert params["AlgorithmSpecification"]["TrainingImage"] == (
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/my-train:1.0"
    )
    hyper = params["HyperParameters"]
    keys = ("method", "tuning", "record_format", "model_id", "epochs", "lora_r")
    assert {k: hyper[k] for k in keys} == {
        "method": "sft",
        "tuning": "qlora",
        "record_format": "instruction",
        "model_id": "mistralai/Mistral-7B-v0.3",
        "epochs": "3",
        "lora_r": "64",
    }
    assert hyper["gradient_checkpointing"] == "false"
    assert [c["ChannelName"] for c in params["InputDataConfig"]] == ["train"]
    assert "Environment" not in params
    assert "Mappings" not in full_template.to_json()
    state = definition(full_template)["States"]["RegisterAdapter"]
    assert state["Parameters"]["ModelPackageGroupName"] == "mistral-adapters"
    assert state["Parameters"]["CustomerMetadataProperties"]["baseModel"] == (
        "mistralai/Mistral-7B-v0.3"
    )


def test_full_options_iam(full_template: Template) -> None:
    training = _by_sid(_policy(full_template, "LoraTrainingRoleDefaultPolicy"))
    assert "TrainingJobNetworkInterfaces" in training
    assert "ReadBaseModel" not in training
    assert _render(training["PullTrainingImage"]["Resource"]) == (
        f"arn:{TOKEN}:ecr:eu-west-1:111122223333:repository/my-train"
    )
    machine = _by_sid(_policy(full_template, "LoraRoleDefaultPolicy"))
    assert _render(machine["RunTrainingJobs"]["Resource"]).endswith(":training-job/qlora-*")
    assert _render(machine["RegisterAdapters"]["Resource"][0]).endswith(
        ":model-package-group/mistral-adapters"
    )
    full_template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": "SageMaker fine-tune training containers."},
    )


def test_connections_and_grant_start_execution(
    full_build: tuple[Template, SageMakerFineTuneJob],
    default_build: tuple[Template, SageMakerFineTuneJob],
) -> None:
    assert len(full_build[1].connections.security_groups) == 1
    assert default_build[1].connections.security_groups == []


def test_concrete_region_resolves_the_image_without_a_mapping() -> None:
    app = new_app()
    stack = cdk.Stack(
        app, "Regional", env=cdk.Environment(account="111122223333", region="eu-south-1")
    )
    _build(stack=stack)
    template = template_of(stack)
    image = _train_state(template)["Parameters"]["AlgorithmSpecification"]["TrainingImage"]
    assert (
        image == f"692866216735.dkr.ecr.eu-south-1.amazonaws.com/huggingface-pytorch-training:{TAG}"
    )
    assert "Mappings" not in template.to_json()


def test_china_region_image_uses_the_cn_domain() -> None:
    uri = default_training_image().uri("cn-north-1")
    assert (
        uri
        == f"727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/huggingface-pytorch-training:{TAG}"
    )


def test_multi_gpu_instance_uses_every_gpu_without_a_warning() -> None:
    stack, _ = _build(SageMakerFineTuneOptions(instance_type="ml.g5.12xlarge"))
    assert Annotations.from_stack(stack).find_warning("/TestStack/Lora", Match.any_value()) == []


def test_multi_gpu_instance_with_distributed_off_warns_that_one_gpu_is_used() -> None:
    stack, _ = _build(
        SageMakerFineTuneOptions(instance_type="ml.g5.12xlarge", distributed=DistributedMode.OFF)
    )
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Lora",
        "ml.g5.12xlarge has 4 GPUs but distributed='off' trains on one: 3 stay idle. Set "
        "distributed='auto' to train on every GPU, or pick a single-GPU instance with the same "
        "GPU, which costs less. [ack: cdk-llm-training/sagemaker-fine-tune-job:oneGpuUsed]",
    )


def test_memory_check_can_be_skipped() -> None:
    _build(SageMakerFineTuneOptions(base_model_parameters=None))


def test_source_tarball_is_deterministic_and_holds_the_script() -> None:
    first, second = build_source_tarball(), build_source_tarball()
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first))) as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == list(training.SOURCE_FILES)
        assert {(m.mtime, m.uid, m.gid) for m in members} == {(0, 0, 0)}
        script = archive.extractfile("train_lora.py")
        assert script is not None
        assert script.read() == (training.SOURCE_DIR / "train_lora.py").read_bytes()


def test_script_arguments_match_the_allowed_hyperparameters() -> None:
    from cdk_llm_training.assets.training.args import ARGUMENT_NAMES

    # Every script argument is either a hyperparameter or an option of its own, never both.
    assert set(SCRIPT_HYPERPARAMETERS) | set(OPTION_ARGUMENTS) == set(ARGUMENT_NAMES)
    assert not set(SCRIPT_HYPERPARAMETERS) & set(OPTION_ARGUMENTS)
    own = set(SageMakerFineTuneOptions.model_fields) | {"model_id"}  # model_id: base_model_id
    assert set(OPTION_ARGUMENTS) <= own


def test_requirements_pin_every_package() -> None:
    lines = [
        line
        for line in (training.SOURCE_DIR / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines
    assert all("==" in line for line in lines)


# -- failures ------------------------------------------------------------------------------


def _fails(message: str, options: SageMakerFineTuneOptions | None = None, **kwargs: Any) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _build(options, stack=new_stack(nag=False), **kwargs)


def test_fails_instance_not_in_catalog() -> None:
    with pytest.raises(ValueError, match=r"^instance_type 'ml.m5.xlarge' is not an NVIDIA GPU "):
        _build(SageMakerFineTuneOptions(instance_type="ml.m5.xlarge"), stack=new_stack(nag=False))


def test_fails_trainium_instance() -> None:
    with pytest.raises(ValueError, match=r"allowed: ml.g5.12xlarge, .*ml.p5en.48xlarge\.$"):
        _build(
            SageMakerFineTuneOptions(instance_type="ml.trn1.2xlarge"), stack=new_stack(nag=False)
        )


def test_fails_instance_without_ml_prefix() -> None:
    with pytest.raises(ValueError, match=r"^instance_type 'g5.2xlarge' is not an NVIDIA GPU"):
        _build(SageMakerFineTuneOptions(instance_type="g5.2xlarge"), stack=new_stack(nag=False))


def test_fails_70b_lora_on_one_a10g() -> None:
    _fails(
        "instance_type ml.g5.2xlarge: sft with tuning lora of a 70B-parameter model at "
        "max_seq_length 2048 needs about 138.6 GiB per GPU, but one A10G offers 21.6 GiB (24 GiB "
        "less 10% headroom): 117.0 GiB short. Use a larger GPU or tuning=qlora; no GPU of the "
        "catalog fits it.",
        SageMakerFineTuneOptions(base_model_parameters=70e9),
    )


def test_fails_13b_lora_on_one_l4_and_names_instances_that_fit() -> None:
    _fails(
        "instance_type ml.g6.2xlarge: sft with tuning lora of a 13B-parameter model at "
        "max_seq_length 2048 needs about 26.3 GiB per GPU, but one L4 offers 21.6 GiB (24 GiB "
        "less 10% headroom): 4.7 GiB short. Use a larger GPU or tuning=qlora; instances whose "
        "GPUs fit it: "
        "ml.g6e.xlarge, ml.g6e.2xlarge, ml.g6e.12xlarge, ml.p4d.24xlarge.",
        SageMakerFineTuneOptions(base_model_parameters=13e9, instance_type="ml.g6.2xlarge"),
    )


def test_fails_volume_key_on_nvme_instance() -> None:
    stack = new_stack(nag=False)
    key = kms.Key.from_key_arn(stack, "VolumeKey", EXAMPLE_KEY)
    message = (
        "volume_key cannot be used with instance_type ml.g5.2xlarge: it has local NVMe storage, "
        "which SageMaker encrypts in hardware and for which it rejects VolumeKmsKeyId. Leave "
        "volume_key unset, or pick an EBS-only instance."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _build(stack=stack, volume_key=key)


def test_fails_security_groups_without_vpc() -> None:
    stack = new_stack(nag=False)
    group = ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-0123456789abcdef0")
    with pytest.raises(
        ValueError, match=r"^vpc_subnets and security_groups need vpc=; got no vpc\.$"
    ):
        _build(stack=stack, security_groups=[group])


def test_fails_without_buckets() -> None:
    message = (
        "SageMakerFineTuneJob needs data_lake=, or both dataset_bucket= and artifacts_bucket=; "
        "got neither."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        SageMakerFineTuneJob(new_stack(nag=False), "Lora")


def test_fails_unknown_region_for_the_pinned_image() -> None:
    stack = cdk.Stack(new_app(nag=False), "Far", env=cdk.Environment(region="xx-nowhere-1"))
    with pytest.raises(ValueError, match=r"^no huggingface-pytorch-training registry known for "):
        _build(stack=stack)


def _option_error(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        SageMakerFineTuneOptions(**fields)
    (error,) = caught.value.errors()
    return str(error["msg"])


def test_fails_max_wait_below_max_runtime() -> None:
    assert _option_error(max_runtime_hours=30, max_wait_hours=24) == (
        "Value error, max_wait_hours (24) must be at least max_runtime_hours (30) with managed spot"
    )


def test_on_demand_ignores_max_wait() -> None:
    assert SageMakerFineTuneOptions(use_spot=False, max_runtime_hours=30, max_wait_hours=24)


def test_warm_pool_warnings() -> None:
    stack, _ = _build(SageMakerFineTuneOptions(keep_alive_minutes=90))
    annotations = Annotations.from_stack(stack)
    annotations.has_warning(
        "/TestStack/Lora",
        "keep_alive_minutes=90: the CreateTrainingJob API accepts up to 360 minutes, but the "
        "SageMaker guide states a maximum of 60; expect a rejected job unless your account's "
        "limit was raised. [ack: cdk-llm-training/sagemaker-fine-tune-job:warmPoolPeriod]",
    )
    annotations.has_warning(
        "/TestStack/Lora",
        "keep_alive_minutes asks for a warm pool on a managed spot job: spot capacity can be "
        "reclaimed at any time, so the pool may not survive until the next job. Use "
        "use_spot=False for fast iteration on a kept instance. "
        "[ack: cdk-llm-training/sagemaker-fine-tune-job:warmPoolWithSpot]",
    )


def test_warnings_have_one_id_each_and_can_be_acknowledged_by_it() -> None:
    ids = (ONE_GPU_USED_WARNING, WARM_POOL_PERIOD_WARNING, WARM_POOL_WITH_SPOT_WARNING)
    assert all(
        re.fullmatch(r"cdk-llm-training/sagemaker-fine-tune-job:[a-z]+([A-Z][a-z]+)*", i)
        for i in ids
    )
    stack, _ = _build(
        SageMakerFineTuneOptions(
            instance_type="ml.g5.12xlarge", keep_alive_minutes=90, distributed=DistributedMode.OFF
        )
    )
    for acknowledged in ids[:2]:
        cdk.Annotations.of(stack).acknowledge_warning(acknowledged, "Test: known.")
    warnings = Annotations.from_stack(stack).find_warning("/TestStack/Lora", Match.any_value())
    assert [str(w.entry.data).rsplit(" [ack: ", 1)[1] for w in warnings] == [f"{ids[2]}]"]


def test_fails_both_base_models() -> None:
    assert _option_error(base_model_id="meta-llama/Llama-3.1-8B") == (
        "Value error, set exactly one of base_model_prefix (weights in the data lake) and "
        "base_model_id (hub download); got base_model_prefix='base-models/llama-3.1-8b-instruct/'"
        ", base_model_id='meta-llama/Llama-3.1-8B'"
    )


def test_fails_no_base_model() -> None:
    assert _option_error(base_model_prefix=None).startswith(
        "Value error, set exactly one of base_model_prefix"
    )


def test_fails_hub_model_with_network_isolation() -> None:
    assert _option_error(
        base_model_prefix=None, base_model_id="x/y", enable_network_isolation=True
    ) == (
        "Value error, base_model_id needs a hub download but enable_network_isolation=True "
        "blocks it; put the weights in the data lake and use base_model_prefix"
    )


def test_fails_unknown_hyperparameter() -> None:
    assert _option_error(hyperparameters={"lr": 1}).startswith(
        "Value error, unknown train_lora.py hyperparameters lr; allowed: epochs, max_steps"
    )


def test_fails_reserved_hyperparameter() -> None:
    assert "unknown train_lora.py hyperparameters method" in _option_error(
        hyperparameters={"method": "qlora"}
    )


def test_fails_bad_image_uri() -> None:
    assert _option_error(image_uri="my-image:latest") == (
        "Value error, 'my-image:latest' is not an ECR image URI "
        "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)"
    )


def test_fails_bad_model_package_group_name() -> None:
    assert _option_error(model_package_group_name="bad_name") == (
        "Value error, 'bad_name' must be 1-63 letters, digits and hyphens, starting and ending "
        "with a letter or digit"
    )


def test_prefix_without_trailing_slash_names_the_folder() -> None:
    assert SageMakerFineTuneOptions(checkpoint_prefix="checkpoints").checkpoint_prefix == (
        "checkpoints/"
    )


def test_fails_empty_base_model_prefix() -> None:
    assert _option_error(base_model_prefix="") == (
        "Value error, must not be empty (that would expose the whole artifacts zone)"
    )


def test_fails_keep_alive_beyond_six_hours() -> None:
    assert _option_error(use_spot=False, keep_alive_minutes=361) == (
        "Input should be less than or equal to 360"
    )


def test_fails_bad_job_name_prefix() -> None:
    assert _option_error(job_name_prefix="-lora") == (
        "Value error, '-lora' must be letters, digits and single hyphens, starting and ending "
        "with a letter or digit"
    )


def test_fails_log_retention() -> None:
    assert _option_error(log_retention_days=2).startswith(
        "Value error, log_retention_days 2 is not a CloudWatch Logs retention period; "
        "allowed: 1, 3, 5"
    )
