"""SmallLoRAStack: composition, outputs, and no always-on compute."""

from aws_cdk.assertions import Match, Template
from cdk_support import cfn_lint_findings

from cdk_llm_training import SmallLoRAStack
from cdk_llm_training.config import StackName


def _small(tier_templates: dict[StackName, Template]) -> Template:
    return tier_templates[StackName.SMALL_LORA]


def test_holds_the_data_lake(tier_templates: dict[StackName, Template]) -> None:
    template = _small(tier_templates)
    template.resource_count_is("AWS::S3::Bucket", 4)
    # Two keys (USD 1 a month each): the lake key for data, the notification key for the
    # topics and log groups.
    template.resource_count_is("AWS::KMS::Key", 2)


def test_has_no_network_or_compute(tier_templates: dict[StackName, Template]) -> None:
    resource_types = {r["Type"] for r in _small(tier_templates).to_json()["Resources"].values()}
    assert not {t for t in resource_types if t.startswith(("AWS::EC2::", "AWS::EKS::"))}
    assert "AWS::FSx::FileSystem" not in resource_types


def test_outputs_bucket_names_and_key_arn(tier_templates: dict[StackName, Template]) -> None:
    outputs = _small(tier_templates).to_json()["Outputs"]
    assert set(outputs) >= {
        "RawBucketName",
        "CuratedBucketName",
        "ArtifactsBucketName",
        "DataLakeKeyArn",
    }
    assert outputs["DataLakeKeyArn"]["Value"]["Fn::GetAtt"][1] == "Arn"


def test_is_cfn_lint_clean(tier_templates: dict[StackName, Template]) -> None:
    assert cfn_lint_findings(_small(tier_templates).to_json()) == []


def test_stack_carries_its_config(tier_stacks: dict[StackName, object]) -> None:
    stack = tier_stacks[StackName.SMALL_LORA]
    assert isinstance(stack, SmallLoRAStack)
    assert stack.config.data_lake.event_bridge_enabled is True


def test_holds_the_bedrock_fine_tune_workflow(tier_templates: dict[StackName, Template]) -> None:
    template = _small(tier_templates)
    (machine,) = [
        m
        for logical_id, m in template.find_resources("AWS::StepFunctions::StateMachine").items()
        if logical_id.startswith("BedrockFineTune")
    ]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    definition = "".join(p if isinstance(p, str) else "<token>" for p in parts)
    assert ":states:::bedrock:createModelCustomizationJob.sync" in definition
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "bedrock_dataset_validator.handler"}
    )
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like({"Principal": {"Service": "bedrock.amazonaws.com"}})
                ]
            }
        },
    )
    outputs = template.to_json()["Outputs"]
    assert {"FineTuneStateMachineArn", "FineTuneTopicArn"} <= set(outputs)


def test_bedrock_fine_tune_can_be_left_out() -> None:
    from cdk_support import new_app, template_of

    from cdk_llm_training.config import SmallLoRAConfig

    stack = SmallLoRAStack(new_app(), "NoBedrock", config=SmallLoRAConfig(bedrock_fine_tune=None))
    template = template_of(stack)
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    assert [m for m in machines if m.startswith("BedrockFineTune")] == []
    assert stack.bedrock_fine_tune is None


def test_observability_dashboard_alarm_budget_and_tags(
    tier_templates: dict[StackName, Template],
) -> None:
    template = _small(tier_templates)
    resources = template.to_json()["Resources"]
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.resource_count_is("AWS::Budgets::Budget", 1)
    workflow = next(
        lid
        for lid, r in resources.items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and lid.startswith("LabelingWorkflow")
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ExecutionsFailed",
            "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": workflow}}],
        },
    )
    key = next(lid for lid in resources if lid.startswith("NotificationKey"))
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {"DisplayName": "Training alarms", "KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}},
    )
    expected = {
        "project": "cdk-llm-training",
        "tier": "small-lora",
        "stack": "SmallLoRAStack",
        "owner": "unassigned",
    }
    tagged = 0
    for logical_id, resource in resources.items():
        tags = (resource.get("Properties") or {}).get("Tags")
        if isinstance(tags, list):
            tagged += 1
            assert {t["Key"]: t["Value"] for t in tags}.items() >= expected.items(), logical_id
    assert tagged >= 15
    assert "AlarmTopicArn" in template.to_json()["Outputs"]


def test_creates_a_guardrail_with_outputs(tier_templates: dict[StackName, Template]) -> None:
    template = _small(tier_templates)
    template.resource_count_is("AWS::Bedrock::Guardrail", 1)
    template.resource_count_is("AWS::Bedrock::GuardrailVersion", 1)
    outputs = template.to_json()["Outputs"]
    assert outputs["GuardrailArn"]["Value"]["Fn::GetAtt"][1] == "GuardrailArn"
    assert outputs["GuardrailVersion"]["Value"]["Fn::GetAtt"][1] == "Version"


def test_evaluation_is_opt_in_from_the_config_file() -> None:
    """fine-tune -> evaluate -> report -> threshold gate, switched on in the YAML config."""
    from cdk_support import new_app, template_of

    from cdk_llm_training.config import parse_app_config

    config = parse_app_config(
        {
            "small_lora": {
                "guardrail": None,
                "labeling": None,
                "sagemaker_fine_tune": None,
                "bedrock_fine_tune": {
                    "evaluation": {"thresholds": {"min_improvement": {"Builtin.Correctness": 0.0}}}
                },
            }
        }
    )
    stack = SmallLoRAStack(new_app(), "WithEvaluation", config=config.small_lora)
    template = template_of(stack)
    assert stack.guardrail is None
    assert stack.bedrock_fine_tune is not None
    assert stack.bedrock_fine_tune.evaluation is not None
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    definition = "".join(p if isinstance(p, str) else "<token>" for p in parts)
    # Nova Micro (the default base model) in an environment-agnostic stack: evaluated through
    # an on-demand custom model deployment (evaluation_inference "auto").
    for state in ("EvalDeploy", "EvalGenerateResponses", "EvalRunJobs", "EvalReport", "EvalGate"):
        assert f'"{state}"' in definition
    assert ":states:::aws-sdk:bedrock:createEvaluationJob" in definition
    template.resource_count_is("AWS::Bedrock::Guardrail", 0)
    assert cfn_lint_findings(template.to_json()) == []


def test_default_stack_has_no_evaluation(tier_stacks: dict[StackName, object]) -> None:
    stack = tier_stacks[StackName.SMALL_LORA]
    assert isinstance(stack, SmallLoRAStack)
    assert stack.bedrock_fine_tune is not None
    assert stack.bedrock_fine_tune.evaluation is None


def test_holds_the_sagemaker_lora_workflow(tier_templates: dict[StackName, Template]) -> None:
    template = _small(tier_templates)
    (machine,) = [
        m
        for logical_id, m in template.find_resources("AWS::StepFunctions::StateMachine").items()
        if logical_id.startswith("SageMakerFineTune")
    ]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    definition = "".join(p if isinstance(p, str) else "<token>" for p in parts)
    assert ":states:::sagemaker:createTrainingJob.sync" in definition
    assert '"EnableManagedSpotTraining":true' in definition
    assert '"CheckpointConfig":{"S3Uri.$":"$.validation.checkpointS3Uri"' in definition
    template.resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "open_model_dataset_validator.handler"}
    )
    outputs = template.to_json()["Outputs"]
    assert {"LoraStateMachineArn", "LoraTopicArn", "LoraModelPackageGroupName"} <= set(outputs)


def test_sagemaker_fine_tune_can_be_left_out() -> None:
    from cdk_support import new_app, template_of

    from cdk_llm_training.config import SmallLoRAConfig

    stack = SmallLoRAStack(
        new_app(), "NoSageMaker", config=SmallLoRAConfig(sagemaker_fine_tune=None, labeling=None)
    )
    template = template_of(stack)
    template.resource_count_is("AWS::SageMaker::ModelPackageGroup", 0)
    assert stack.sagemaker_fine_tune is None
