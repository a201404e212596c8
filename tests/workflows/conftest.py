"""Every workflow the library can synthesize, built once per session in one stack; each test
runs executions of the synthesized definitions against fresh moto S3 state. The states the
executions enter are recorded for :mod:`workflows.state_coverage`, which fails a full run of
this folder that leaves a state unentered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from cdk_support import cdk_context
from moto import mock_aws
from workflows.aws_world import Cloud, ResolvedTemplate, create_buckets
from workflows.state_coverage import record
from workflows.workflow_inputs import BYO_TEAM, SOURCE_ACCOUNT, TARGETS

from cdk_llm_training import (
    BedrockFineTuneJob,
    BedrockFineTuneOptions,
    BedrockModelImport,
    ClusterTrainingRun,
    DataCuration,
    DataCurationOptions,
    HumanEvaluation,
    LabelingOptions,
    LabelingWorkflow,
    LabelingWorkforce,
    MediumFineTuneStack,
    ModelPromotion,
    ModelPromotionOptions,
    ModelPromotionTarget,
    ModelPromotionTargetOptions,
    SageMakerFineTuneJob,
    SageMakerFineTuneOptions,
    SageMakerServerlessCustomization,
    SyntheticData,
    SyntheticDataOptions,
    TrainingDataLake,
    WorkTeamRef,
)
from cdk_llm_training.config import (
    CustomizationTechnique,
    EvaluationInference,
    LabelingWorkflowOptions,
    SageMakerServerlessOptions,
    WorkforceMode,
    WorkforceOptions,
)
from cdk_llm_training.config.bedrock_fine_tune_job import (
    BuiltinGrader,
    DistillationOptions,
    GraderOptions,
    RftHyperparameters,
    RftOptions,
)
from cdk_llm_training.config.catalogs.bedrock_models import CustomizationType
from cdk_llm_training.config.cluster_training_run import ClusterRunOptions
from cdk_llm_training.config.human_evaluation import HumanEvaluationOptions
from cdk_llm_training.config.model_evaluation import EvaluationThresholds, ModelEvaluationOptions
from cdk_llm_training.config.sagemaker_serverless_customization import (
    ServerlessBenchmark,
    ServerlessEvaluationOptions,
    ServerlessJudgeOptions,
)
from cdk_llm_training.config.task_metrics_evaluation import TaskMetricsOptions
from cdk_llm_training.config.tiers import LargePretrainConfig, MediumFineTuneConfig
from cdk_llm_training.constructs.acknowledgements import acknowledge
from cdk_llm_training.stacks.large_pretrain import LargePretrainStack

SERVERLESS_BASE_MODEL = (
    "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/"
    "huggingface-reasoning-qwen3-8b"
)
SERVERLESS_EVALUATOR = "arn:aws:lambda:us-east-1:123456789012:function:SageMaker-math-reward"
SAGEMAKER_METHODS: dict[str, dict[str, Any]] = {
    "dpo": {"beta": 0.1},
    "kto": {},
    "grpo": {"rewards": ["exact_match"], "reward_file": "finetune/rewards/reward.py"},
    "distill": {},
    "cpt": {"tuning": "full", "base_model_parameters": 1e9},
}
"""SageMaker fine-tune methods besides sft (``lora``), each a workflow variant of its own."""

MACHINES = {
    "fine_tune": "FineTune",
    "continued_pre_training": "ContinuedPreTraining",
    "distillation": "Distillation",
    "fine_tune_evaluated": "FineTuneEvaluated",
    "fine_tune_evaluated_given_model": "FineTuneEvaluatedGivenModel",
    "fine_tune_evaluated_on_demand": "FineTuneEvaluatedOnDemand",
    "on_demand_kept": "OnDemandKept",
    "fine_tune_recorded": "FineTuneRecorded",
    "fine_tune_evaluated_recorded": "FineTuneEvaluatedRecorded",
    "lora": "Lora",
    "lora_gated": "LoraGated",
    **{f"sagemaker_{method}": f"SageMaker{method.title()}" for method in SAGEMAKER_METHODS},
    "labeling": "Labeling",
    "labeling_byo_team": "LabelingByoTeam",
    "human_evaluation": "Human",
    "rft": "Rft",
    "rft_python": "RftPython",
    "rft_evaluated": "RftEvaluated",
    "serverless_sft": "ServerlessSft",
    "serverless_rlvr": "ServerlessRlvr",
    "serverless_evaluated": "ServerlessEvaluated",
    "curation": "Curation",
    "curation_emr": "CurationEmr",
    "synthetic": "Synthetic",
    "synthetic_preference": "SyntheticPreference",
    "promotion": "Promotion",
    "promotion_target": "PromotionTarget",
    "bedrock_import": "BedrockImport",
}
"""Test name -> construct id of every workflow variant synthesized for the suite."""
CLUSTER_RUN_MACHINES = {"cluster_evaluated_registered": "Runs", "cluster_registered": "Registered"}
"""Test name -> construct id of the ClusterTrainingRun variants of :func:`cluster_run_stack`."""
CLUSTER_REGISTRY_GROUP = "cluster-models"
"""The model package group the cluster run variants record models in."""
REGISTRY_GROUP = "bedrock-custom-models"
"""The model package group the ``*_recorded`` Bedrock workflows record custom models in."""


def _build_stack() -> cdk.Stack:
    # One test-only stack holding every variant (never deployed): past CloudFormation's 500
    # resources and 1 MB of template, so CDK's synth-time limits are lifted for it.
    app = cdk.App(context={**cdk_context(), "@aws-cdk/core:stackResourceLimit": 0})
    stack = cdk.Stack(app, "Workflows")
    reason = "A test-only stack with every workflow variant; it is never deployed."
    acknowledge(stack, "CloudFormation-Validate::F0007", reason)
    acknowledge(stack, "Annotation::@aws-cdk/core:Stack.templateSize", reason)
    lake = TrainingDataLake(stack, "Lake")
    BedrockFineTuneJob(stack, "FineTune", data_lake=lake)
    BedrockFineTuneJob(
        stack,
        "ContinuedPreTraining",
        data_lake=lake,
        options=BedrockFineTuneOptions(
            base_model_id="amazon.titan-text-express-v1:0:8k",
            customization_type=CustomizationType.CONTINUED_PRE_TRAINING,
        ),
    )
    BedrockFineTuneJob(
        stack,
        "Distillation",
        data_lake=lake,
        options=BedrockFineTuneOptions(
            base_model_id="meta.llama3-1-8b-instruct-v1:0:128k",
            customization_type=CustomizationType.DISTILLATION,
            distillation=DistillationOptions(
                teacher_model_id="meta.llama3-1-70b-instruct-v1:0",
                max_response_length_for_inference=1000,
            ),
        ),
    )
    BedrockFineTuneJob(
        stack,
        "FineTuneEvaluated",
        data_lake=lake,
        options=BedrockFineTuneOptions(
            evaluation=ModelEvaluationOptions(
                evaluation_inference=EvaluationInference.PROVISIONED,
                thresholds=EvaluationThresholds(min_scores={"Builtin.Correctness": 0.5}),
            )
        ),
    )
    for construct_id, keep in (("FineTuneEvaluatedOnDemand", False), ("OnDemandKept", True)):
        BedrockFineTuneJob(  # Nova Micro, Region unresolved: auto resolves to on-demand
            stack,
            construct_id,
            data_lake=lake,
            options=BedrockFineTuneOptions(
                evaluation=ModelEvaluationOptions(
                    keep_deployment=keep,
                    invoke_batch_size=4,  # 10 prompts: three runs of the responses Lambda
                    thresholds=EvaluationThresholds(min_scores={"Builtin.Correctness": 0.5}),
                ),
            ),
        )
    BedrockFineTuneJob(
        stack,
        "FineTuneEvaluatedGivenModel",
        data_lake=lake,
        options=BedrockFineTuneOptions(
            evaluation=ModelEvaluationOptions(
                provision_throughput=False,
                algorithmic_metrics=("Builtin.Accuracy",),
                compare_with_base_model=False,
                thresholds=EvaluationThresholds(min_scores={"Builtin.Accuracy": 0.5}),
            )
        ),
    )
    BedrockFineTuneJob(
        stack,
        "FineTuneRecorded",
        data_lake=lake,
        options=BedrockFineTuneOptions(registry_group_name=REGISTRY_GROUP),
    )
    BedrockFineTuneJob(
        stack,
        "FineTuneEvaluatedRecorded",
        data_lake=lake,
        options=BedrockFineTuneOptions(
            registry_group_name=REGISTRY_GROUP,
            evaluation=ModelEvaluationOptions(
                provision_throughput=False,
                algorithmic_metrics=("Builtin.Accuracy",),
                compare_with_base_model=False,
                thresholds=EvaluationThresholds(min_scores={"Builtin.Accuracy": 0.5}),
            ),
        ),
    )
    for construct_id, grader, evaluation in (
        ("Rft", GraderOptions(builtin=BuiltinGrader.EXACT_MATCH), None),
        ("RftPython", GraderOptions(python_source_key="finetune/graders/grade.py"), None),
        (  # the RFT model through the same evaluation gate (Nova 2 Lite: provisioned)
            "RftEvaluated",
            GraderOptions(builtin=BuiltinGrader.EXACT_MATCH),
            ModelEvaluationOptions(
                thresholds=EvaluationThresholds(min_scores={"Builtin.Correctness": 0.5})
            ),
        ),
    ):
        BedrockFineTuneJob(
            stack,
            construct_id,
            data_lake=lake,
            options=BedrockFineTuneOptions(
                base_model_id="amazon.nova-2-lite-v1:0:256k",
                customization_type=CustomizationType.REINFORCEMENT_FINE_TUNING,
                rft=RftOptions(
                    grader=grader,
                    hyperparameters=RftHyperparameters(
                        epoch_count=2, batch_size=64, learning_rate=1e-5, reasoning_effort="low"
                    ),
                ),
                evaluation=evaluation,
            ),
        )
    for construct_id, technique, evaluator in (
        ("ServerlessSft", CustomizationTechnique.SFT, None),
        ("ServerlessRlvr", CustomizationTechnique.RLVR, SERVERLESS_EVALUATOR),
    ):
        SageMakerServerlessCustomization(
            stack,
            construct_id,
            data_lake=lake,
            options=SageMakerServerlessOptions(
                base_model_arn=SERVERLESS_BASE_MODEL,
                technique=technique,
                evaluator_arn=evaluator,
                dataset_prefix=f"{construct_id.lower()}/",
                max_polls=3,
                poll_interval_minutes=1,
            ),
        )
    SageMakerServerlessCustomization(
        stack,
        "ServerlessEvaluated",
        data_lake=lake,
        options=SageMakerServerlessOptions(
            base_model_arn=SERVERLESS_BASE_MODEL,
            job_name_prefix="serverlesseval",
            dataset_prefix="serverlesseval/",
            max_polls=3,
            poll_interval_minutes=1,
            evaluation=ServerlessEvaluationOptions(
                benchmarks=(ServerlessBenchmark.MMLU, ServerlessBenchmark.IFEVAL),
                subtasks={ServerlessBenchmark.MMLU: ("anatomy", "astronomy")},
                judge=ServerlessJudgeOptions(dataset_key="serverlesseval/judge/prompts.jsonl"),
                thresholds=EvaluationThresholds(
                    min_scores={"mmlu/accuracy": 0.6, "Builtin.Correctness": 0.7}
                ),
                max_polls=3,
                poll_interval_minutes=1,
            ),
        ),
    )
    lora = SageMakerFineTuneJob(stack, "Lora", data_lake=lake)
    ModelPromotion(
        stack, "Promotion", job=lora, options=ModelPromotionOptions(target_accounts=TARGETS)
    )
    BedrockModelImport(stack, "BedrockImport", job=lora)
    ModelPromotionTarget(
        stack,
        "PromotionTarget",
        options=ModelPromotionTargetOptions(
            source_account=SOURCE_ACCOUNT, source_model_package_group_name="dev-adapters"
        ),
    )
    SageMakerFineTuneJob(
        stack,
        "LoraGated",
        data_lake=lake,
        options=SageMakerFineTuneOptions(
            evaluation=TaskMetricsOptions(min_scores={"token_f1": 0.6})
        ),
    )
    for method, values in SAGEMAKER_METHODS.items():
        SageMakerFineTuneJob(
            stack,
            f"SageMaker{method.title()}",
            data_lake=lake,
            options=SageMakerFineTuneOptions.model_validate(
                {"method": method, "job_name_prefix": method, **values}
            ),
        )
    options = LabelingOptions(workforce=WorkforceOptions(mode=WorkforceMode.COGNITO))
    workforce = LabelingWorkforce(stack, "Workforce", options=options)
    labeling = LabelingWorkflow(
        stack,
        "Labeling",
        data_lake=lake,
        work_teams=workforce.team_refs,
        options=options.workflow_options(),
        notification_key=workforce.notification_key,
    )
    # A team brought by ARN (another stack's or a vendor's), on its own key.
    LabelingWorkflow(
        stack,
        "LabelingByoTeam",
        data_lake=lake,
        work_teams=[WorkTeamRef.from_workteam_arn(BYO_TEAM)],
        options=LabelingWorkflowOptions(
            manifest_prefix="byo/input/",
            output_prefix="byo/output/",
            dataset_prefix="byo/datasets/",
            template_prefix="byo/templates/",
        ),
    )
    HumanEvaluation(
        stack,
        "Human",
        labeling=labeling,
        topic=sns.Topic(stack, "HumanTopic", enforce_ssl=True),
        options=HumanEvaluationOptions(min_scores={"mean_score": 3.5}),
    )
    DataCuration(stack, "Curation", data_lake=lake)
    DataCuration(
        stack,
        "CurationEmr",
        data_lake=lake,
        options=DataCurationOptions(
            engine="emr-serverless", job_name_prefix="spark", curated_prefix="finetune/spark/"
        ),
    )
    SyntheticData(
        stack,
        "Synthetic",
        data_lake=lake,
        options=SyntheticDataOptions(
            input_price_per_million_tokens=0.125, output_price_per_million_tokens=0.625
        ),
    )
    SyntheticData(
        stack,
        "SyntheticPreference",
        data_lake=lake,
        options=SyntheticDataOptions(
            output="preference",
            job_name_prefix="pairs",
            prompt_prefix="synthetic/pairs/prompts/",
            work_prefix="synthetic/pairs/batch/",
            dataset_prefix="preference/synthetic/",
        ),
    )
    return stack


@pytest.fixture(scope="session")
def stack() -> cdk.Stack:
    return _build_stack()


@pytest.fixture(scope="session")
def template(stack: cdk.Stack) -> ResolvedTemplate:
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    return ResolvedTemplate(assembly.get_stack_by_name(stack.stack_name).template)


@pytest.fixture(scope="session")
def machine_ids(stack: cdk.Stack) -> dict[str, str]:
    """Test name -> logical ID of the variant's state machine."""
    out = {}
    for name, construct_id in MACHINES.items():
        construct: Any = stack.node.find_child(construct_id)
        machine = construct.state_machine
        out[name] = stack.get_logical_id(machine.node.default_child)
    return out


@pytest.fixture(scope="session")
def definitions(template: ResolvedTemplate) -> dict[str, dict[str, Any]]:
    return template.definitions()


@pytest.fixture(scope="session")
def functions(template: ResolvedTemplate) -> dict[str, tuple[str, dict[str, str]]]:
    return template.functions()


@pytest.fixture(scope="module")
def aws(template: ResolvedTemplate) -> Iterator[Any]:
    """One moto mock per module (starting one per test costs more than the tests; one per
    session would leak into other suites); :func:`cloud` empties the buckets between tests."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ):
            patch.setenv(name, value)
        with mock_aws():
            yield create_buckets(template)


@pytest.fixture
def cloud(
    template: ResolvedTemplate,
    definitions: dict[str, dict[str, Any]],
    functions: dict[str, tuple[str, dict[str, str]]],
    aws: Any,
) -> Iterator[Cloud]:
    cloud = Cloud(template=template, s3=aws, definitions=definitions, functions=functions)
    yield cloud
    record(cloud)
    for bucket in template.of_type("AWS::S3::Bucket"):
        name = template.ref(bucket)
        listing = aws.list_objects_v2(Bucket=name).get("Contents", [])
        if listing:
            aws.delete_objects(
                Bucket=name, Delete={"Objects": [{"Key": o["Key"]} for o in listing]}
            )


# -- ClusterTrainingRun variants (a HyperPod tier stack: the run needs a cluster) ---------------


def _build_cluster_run_stack() -> MediumFineTuneStack:
    """A medium tier whose run workflow evaluates and registers (``Runs``), plus a second run
    workflow on the same cluster that only registers (``Registered``)."""
    config = MediumFineTuneConfig.model_validate(
        {
            "hyperpod": {
                "instance_groups": [
                    {"name": "system", "instance_type": "ml.m5.2xlarge", "instance_count": 1},
                    {
                        "name": "gpu-workers",
                        "instance_type": "ml.p5.48xlarge",
                        "instance_count": 2,
                        "max_instance_count": 2,
                    },
                ]
            },
            "runs": {
                "recipes": None,
                "registry_group_name": CLUSTER_REGISTRY_GROUP,
                "evaluation": {"min_scores": {"token_f1": 0.6}},
            },
        }
    )
    app = cdk.App(context=cdk_context())
    stack = MediumFineTuneStack(app, "ClusterRunRegistry", config=config)
    assert stack.runs is not None
    assert stack.hyperpod is not None
    ClusterTrainingRun(
        stack,
        "Registered",
        hyperpod=stack.hyperpod,
        data_lake=stack.data_lake,
        key=stack.node.find_child("NotificationKey").key,  # type: ignore[attr-defined]
        topic=stack.runs.topic,
        options=ClusterRunOptions(recipes=None, registry_group_name=CLUSTER_REGISTRY_GROUP),
    )
    return stack


def _build_slurm_run_stack() -> LargePretrainStack:
    """The large tier (Trainium, Slurm) whose run workflow evaluates and registers."""
    config = LargePretrainConfig.model_validate(
        {
            "runs": {
                "registry_group_name": CLUSTER_REGISTRY_GROUP,
                "evaluation": {"min_scores": {"token_f1": 0.6}},
            }
        }
    )
    return LargePretrainStack(cdk.App(context=cdk_context()), "SlurmRunRegistry", config=config)


@pytest.fixture(scope="session")
def slurm_run_stack() -> LargePretrainStack:
    return _build_slurm_run_stack()


@pytest.fixture(scope="session")
def cluster_run_stack() -> MediumFineTuneStack:
    return _build_cluster_run_stack()


@pytest.fixture(scope="session")
def cluster_run_template(cluster_run_stack: MediumFineTuneStack) -> ResolvedTemplate:
    assembly = cluster_run_stack.node.root.synth()  # type: ignore[attr-defined]
    return ResolvedTemplate(assembly.get_stack_by_name(cluster_run_stack.stack_name).template)


@pytest.fixture(scope="session")
def cluster_run_machines(cluster_run_stack: MediumFineTuneStack) -> dict[str, str]:
    """Test name -> logical ID of the variant's state machine."""
    out = {}
    for name, construct_id in CLUSTER_RUN_MACHINES.items():
        construct: Any = cluster_run_stack.node.find_child(construct_id)
        out[name] = cluster_run_stack.get_logical_id(construct.state_machine.node.default_child)
    return out


@pytest.fixture(scope="session")
def slurm_run_template(slurm_run_stack: LargePretrainStack) -> ResolvedTemplate:
    assembly = slurm_run_stack.node.root.synth()  # type: ignore[attr-defined]
    return ResolvedTemplate(assembly.get_stack_by_name(slurm_run_stack.stack_name).template)


@pytest.fixture(scope="module")
def cluster_run_aws(cluster_run_template: ResolvedTemplate) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ):
            patch.setenv(name, value)
        with mock_aws():
            yield create_buckets(cluster_run_template)


@pytest.fixture
def cluster_cloud(
    cluster_run_template: ResolvedTemplate,
    cluster_run_machines: dict[str, str],
    cluster_run_aws: Any,
) -> Iterator[Cloud]:
    """A :class:`Cloud` of the cluster run variants; records their states for the coverage."""
    template = cluster_run_template
    cloud = Cloud(
        template=template,
        s3=cluster_run_aws,
        definitions=template.definitions(),
        functions=template.functions(),
    )
    yield cloud
    record(cloud, cluster_run_machines.values())
    for bucket in template.of_type("AWS::S3::Bucket"):
        name = template.ref(bucket)
        for item in cluster_run_aws.list_objects_v2(Bucket=name).get("Contents", []):
            cluster_run_aws.delete_object(Bucket=name, Key=item["Key"])
