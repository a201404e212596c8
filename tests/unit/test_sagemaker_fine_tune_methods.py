"""SageMakerFineTuneJob by method: the options agree with the training script's method table,
every method synthesizes the CreateTrainingJob request the script expects, and the
cross-checks name the field, the value and what is allowed."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Annotations, Match, Template
from cdk_support import new_stack, resources_of_type, template_of
from pydantic import ValidationError

from cdk_llm_training import (
    FineTuneMethod,
    FineTuneTuning,
    OpenModelRecordFormat,
    SageMakerFineTuneJob,
    SageMakerFineTuneOptions,
    TrainingDataLake,
)
from cdk_llm_training.assets.training import args as script_args
from cdk_llm_training.assets.training import methods as script_methods
from cdk_llm_training.checks import RULES_BY_ID, check_template
from cdk_llm_training.config.sagemaker_fine_tune_job import (
    MAX_METRIC_DEFINITIONS,
    MAX_METRIC_REGEX_LENGTH,
    METRIC_DEFINITIONS,
    DistributedMode,
    GrpoReward,
)

REWARD_KEY = "finetune/rewards/math_reward.py"

METHOD_OPTIONS: dict[str, dict[str, Any]] = {
    "sft": {"packing": True},
    "dpo": {"beta": 0.1},
    "kto": {},
    "grpo": {
        "rewards": ["exact_match", "regex"],
        "reward_file": REWARD_KEY,
        "num_generations": 4,
        "max_completion_length": 128,
        "temperature": 0.7,
    },
    "distill": {},
    "cpt": {"tuning": "full", "base_model_parameters": 1e9},
}
"""A typical job of each method (every method of the script's table appears here)."""


# -- the options agree with the script ------------------------------------------------------


def test_method_and_tuning_enums_are_the_script_table() -> None:
    assert [m.value for m in FineTuneMethod] == list(script_methods.method_names())
    assert [t.value for t in FineTuneTuning] == list(script_methods.tuning_names())
    assert [f.value for f in OpenModelRecordFormat] == list(script_methods.RECORD_FORMATS)
    assert [r.value for r in GrpoReward] == list(script_args.REWARD_NAMES)
    assert [d.value for d in DistributedMode] == list(script_args.DISTRIBUTED_MODES)
    assert set(METHOD_OPTIONS) == set(script_methods.method_names())


def test_metric_definitions_fit_the_api_and_capture_every_metrics_line_value() -> None:
    assert len(METRIC_DEFINITIONS) <= MAX_METRIC_DEFINITIONS
    assert all(1 <= len(d["Regex"]) <= MAX_METRIC_REGEX_LENGTH for d in METRIC_DEFINITIONS)
    names = [d["Name"] for d in METRIC_DEFINITIONS]
    assert len(names) == len(set(names))
    assert names[:4] == ["train_loss", "eval_loss", "tokens_per_second", "learning_rate"]
    line = (
        "[metrics] step=3 train_loss=0.500000 learning_rate=2.000e-04 grad_norm=1.250000 "
        "reward_margin=0.300000 reward_accuracy=0.750000 reward=0.625000 reward_std=0.100000 "
        "kl=0.010000 tokens_per_second=812.5"
    )
    found = {d["Name"]: re.search(d["Regex"], line) for d in METRIC_DEFINITIONS}
    values = {name: float(m.group(1)) for name, m in found.items() if m}
    assert values == {
        "train_loss": 0.5,
        "learning_rate": 2e-4,
        "grad_norm": 1.25,
        "reward_margin": 0.3,
        "reward_accuracy": 0.75,
        "reward": 0.625,
        "reward_std": 0.1,
        "kl": 0.01,
        "tokens_per_second": 812.5,
    }


def test_metric_definitions_cover_the_script_callbacks() -> None:
    pytest.importorskip("transformers")
    from cdk_llm_training.assets.training.callbacks import PROPOSED_METRIC_DEFINITIONS

    assert {d["Name"] for d in PROPOSED_METRIC_DEFINITIONS} == {
        d["Name"] for d in METRIC_DEFINITIONS
    }


@pytest.mark.parametrize(
    ("legacy", "tuning"), [("lora", "lora"), ("qlora", "qlora"), ("full", "full")]
)
def test_legacy_method_loads_as_sft_with_that_tuning(legacy: str, tuning: str) -> None:
    options = SageMakerFineTuneOptions.model_validate(
        {"method": legacy, "base_model_parameters": None}
    )
    assert (options.method, options.tuning) == (FineTuneMethod.SFT, FineTuneTuning(tuning))
    assert options.script_hyperparameters()["method"] == "sft"
    assert options.script_hyperparameters()["tuning"] == tuning


@pytest.mark.parametrize("method", list(FineTuneMethod))
def test_record_format_defaults_to_the_method_first_format(method: FineTuneMethod) -> None:
    options = SageMakerFineTuneOptions(method=method, base_model_parameters=None)
    assert options.record_format.value == method.script_method.record_formats[0]


def _error(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        SageMakerFineTuneOptions(**values)
    (error,) = caught.value.errors()
    return str(error["msg"])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"method": "lora", "tuning": "full"},
            "Value error, method 'lora' means method 'sft' with tuning 'lora', but tuning "
            "'full' was given; allowed: method 'sft' with tuning 'full', or drop tuning",
        ),
        (
            {"method": "dpo", "record_format": "chat"},
            "Value error, record_format 'chat' does not fit method 'dpo'; allowed: preference",
        ),
        (
            {"fsdp": True},
            "Value error, fsdp=True shards full fine-tuning only, but tuning is 'lora' "
            "(adapters train data-parallel, with DDP); allowed: tuning 'full' with fsdp, or "
            "fsdp=False",
        ),
        (
            {"tuning": "qlora", "fsdp": True},
            "Value error, fsdp=True shards full fine-tuning only, but tuning is 'qlora' "
            "(adapters train data-parallel, with DDP); allowed: tuning 'full' with fsdp, or "
            "fsdp=False",
        ),
        (
            {"method": "dpo", "num_generations": 4},
            "Value error, num_generations apply to method 'grpo' only; method is 'dpo': "
            "remove them",
        ),
        (
            {"method": "grpo", "rewards": []},
            "Value error, method 'grpo' needs a reward: rewards is empty and reward_file is "
            "unset; allowed: rewards from exact_match, regex, json_schema and/or a reward_file",
        ),
        (
            {"beta": 0.1},
            "Value error, beta=0.1 weighs the KL term of dpo, kto and grpo; method 'sft' has "
            "none: remove beta",
        ),
        (
            {"method": "dpo", "packing": True},
            "Value error, packing=True packs records of sft, distill and cpt; method 'dpo' "
            "trains on pairs or groups: set packing=False",
        ),
        (
            {"instance_count": 2, "distributed": "off"},
            "Value error, instance_count=2 with distributed='off' would train on one GPU of "
            "one instance and leave the others idle; allowed: distributed='auto', or "
            "instance_count=1",
        ),
    ],
)
def test_cross_checks_name_field_value_and_allowed(values: dict[str, Any], message: str) -> None:
    assert _error(base_model_parameters=None, **values) == message


def test_grpo_needs_two_generations() -> None:
    assert _error(method="grpo", num_generations=1).startswith(
        "Input should be greater than or equal to 2"
    )


def test_reserved_script_arguments_cannot_be_set_as_hyperparameters() -> None:
    for name in ("tuning", "beta", "num_generations", "fsdp", "distributed"):
        assert f"unknown train_lora.py hyperparameters {name};" in _error(hyperparameters={name: 1})


def test_full_dpo_counts_the_reference_copy_and_fsdp_shards_it() -> None:
    # A full-weight reference adds 2 bytes per parameter: 8B full DPO on 8 x A100 80 GB
    # fits only when sharded.
    with pytest.raises(ValueError, match=r"or fsdp=True \(shard over every GPU\)"):
        _build(
            SageMakerFineTuneOptions.model_validate(
                {"method": "dpo", "tuning": "full", "instance_type": "ml.p4de.24xlarge"}
            ),
            nag=False,
        )
    _build(
        SageMakerFineTuneOptions.model_validate(
            {"method": "dpo", "tuning": "full", "fsdp": True, "instance_type": "ml.p4de.24xlarge"}
        ),
        nag=False,
    )


def test_grpo_generation_memory_is_checked() -> None:
    # 8B LoRA fits one A10G for sft, but 64 completions of 8k tokens do not.
    with pytest.raises(ValueError, match=r"^instance_type ml.g5.2xlarge: grpo with tuning lora"):
        _build(
            SageMakerFineTuneOptions(
                method=FineTuneMethod.GRPO, num_generations=64, max_completion_length=8192
            ),
            nag=False,
        )


# -- synthesized CreateTrainingJob per method -----------------------------------------------


def _build(
    options: SageMakerFineTuneOptions, *, nag: bool = True, **kwargs: Any
) -> tuple[cdk.Stack, SageMakerFineTuneJob]:
    stack = new_stack(nag=nag)
    lake = TrainingDataLake(stack, "Lake")
    return stack, SageMakerFineTuneJob(stack, "Job", data_lake=lake, options=options, **kwargs)


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    return "<TOKEN>"


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    """One synthesized stack per method (cdk-nag and the library's checks on)."""
    built = {}
    for name, values in METHOD_OPTIONS.items():
        stack, _ = _build(SageMakerFineTuneOptions.model_validate({"method": name, **values}))
        built[name] = template_of(stack)
    return built


def _train_parameters(template: Template) -> dict[str, Any]:
    (machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    definition = json.loads(_render(machine["Properties"]["DefinitionString"]))
    parameters: dict[str, Any] = definition["States"]["TrainAdapter"]["Parameters"]
    return parameters


@pytest.mark.parametrize("method", list(METHOD_OPTIONS))
def test_each_method_synthesizes_its_training_job(
    templates: dict[str, Template], method: str
) -> None:
    template = templates[method]
    options = SageMakerFineTuneOptions.model_validate({"method": method, **METHOD_OPTIONS[method]})
    params = _train_parameters(template)
    hyper = params["HyperParameters"]
    assert {k: v for k, v in hyper.items() if not k.startswith("sagemaker_")} == (
        options.script_hyperparameters()
    )
    assert hyper["method"] == method
    assert hyper["record_format"] == script_methods.method(method).record_formats[0]
    assert [d["Name"] for d in params["AlgorithmSpecification"]["MetricDefinitions"]] == [
        d["Name"] for d in METRIC_DEFINITIONS
    ]
    assert params["ResourceConfig"]["InstanceCount"] == 1
    channels = [c["ChannelName"] for c in params["InputDataConfig"]]
    assert channels == (["train", "reward", "model"] if method == "grpo" else ["train", "model"])
    # The validator checks the method's record format.
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {"RECORD_FORMAT": script_methods.method(method).record_formats[0]}
                )
            }
        },
    )


def test_grpo_passes_its_options_and_the_reward_channel(templates: dict[str, Template]) -> None:
    params = _train_parameters(templates["grpo"])
    hyper = params["HyperParameters"]
    assert {k: hyper[k] for k in ("rewards", "reward_file", "num_generations")} == {
        "rewards": "exact_match,regex",
        "reward_file": "math_reward.py",
        "num_generations": "4",
    }
    (reward,) = [c for c in params["InputDataConfig"] if c["ChannelName"] == "reward"]
    uri = _render(reward["DataSource"]["S3DataSource"]["S3Uri"])
    assert uri == f"s3://<TOKEN>/{REWARD_KEY}"
    statements = [
        s
        for policy in resources_of_type(templates["grpo"], "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ReadRewardFile"
    ]
    assert len(statements) == 1
    assert statements[0]["Action"] == "s3:GetObject"
    assert _render(statements[0]["Resource"]).endswith(f"/{REWARD_KEY}")


def test_other_methods_get_no_reward_read(templates: dict[str, Template]) -> None:
    for method in ("sft", "dpo", "kto", "distill", "cpt"):
        text = json.dumps(templates[method].to_json())
        assert "ReadRewardFile" not in text


def test_full_tuning_group_description(templates: dict[str, Template]) -> None:
    templates["cpt"].has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup",
        {
            "ModelPackageGroupDescription": (
                "Fully fine-tuned models trained by this SageMaker fine-tune workflow."
            )
        },
    )


def test_multi_node_job_in_a_vpc() -> None:
    stack = new_stack(nag=False)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="train", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    ])  # fmt: skip
    lake = TrainingDataLake(stack, "Lake")
    options = SageMakerFineTuneOptions(
        instance_type="ml.p4d.24xlarge",
        instance_count=2,
        tuning=FineTuneTuning.FULL,
        fsdp=True,
        use_spot=False,
    )
    job = SageMakerFineTuneJob(
        stack,
        "Job",
        data_lake=lake,
        options=options,
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    )
    template = Template.from_stack(stack)
    params = _train_parameters(template)
    assert params["ResourceConfig"]["InstanceCount"] == 2
    assert params["HyperParameters"]["fsdp"] == "true"
    assert Annotations.from_stack(stack).find_warning("/TestStack/Job", Match.any_value()) == []
    # The nodes of one job reach each other: all traffic within the job's security group.
    group_id = stack.resolve(job.security_groups[0].security_group_id)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"IpProtocol": "-1", "SourceSecurityGroupId": group_id, "GroupId": group_id},
    )
    rules = [RULES_BY_ID["LLM-SMJ1"], RULES_BY_ID["LLM-SMJ2"]]
    assert check_template(template.to_json(), rules) == []


def test_multi_node_job_with_a_closed_group_of_yours_is_reported() -> None:
    stack = new_stack(nag=False)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="train", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    ])  # fmt: skip
    group = ec2.SecurityGroup(stack, "Mine", vpc=vpc, allow_all_outbound=True)
    SageMakerFineTuneJob(
        stack,
        "Job",
        data_lake=TrainingDataLake(stack, "Lake"),
        options=SageMakerFineTuneOptions(
            instance_type="ml.p4d.24xlarge", instance_count=2, use_spot=False
        ),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        security_groups=[group],
    )
    findings = check_template(Template.from_stack(stack).to_json(), [RULES_BY_ID["LLM-SMJ2"]])
    # One finding per training state (with and without validation data).
    assert sorted(f.location.rsplit("/", 1)[1] for f in findings) == [
        "TrainAdapter",
        "TrainAdapterWithValidationData",
    ]
    assert stack.get_logical_id(group.node.default_child) in findings[0].message  # type: ignore[arg-type]


def test_multi_node_without_efa_warns() -> None:
    stack, _ = _build(
        SageMakerFineTuneOptions(instance_type="ml.g6e.xlarge", instance_count=2), nag=False
    )
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Job",
        "instance_count=2 on ml.g6e.xlarge, which has no EFA (instance catalog): gradients "
        "cross instances over TCP, and scaling beyond one instance is slow. Prefer one larger "
        "instance, or an EFA instance (g5.8xlarge and up, p4d, p5). "
        "[ack: cdk-llm-training/sagemaker-fine-tune-job:multiNodeWithoutEfa]",
    )
