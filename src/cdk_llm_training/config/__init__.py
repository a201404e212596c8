"""Validated, plain-data configuration models (pydantic v2)."""

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.bedrock_fine_tune_job import (
    BedrockFineTuneOptions,
    BuiltinGrader,
    DistillationOptions,
    GraderOptions,
    RftHyperparameters,
    RftOptions,
)
from cdk_llm_training.config.bedrock_guardrail import (
    ContentFilter,
    ContentFilterType,
    DeniedTopic,
    FilterStrength,
    GuardrailOptions,
    PiiAction,
    PiiEntity,
)
from cdk_llm_training.config.catalogs.bedrock_models import (
    BedrockModelCatalog,
    CustomizationType,
    default_bedrock_catalog,
    load_bedrock_catalog,
)
from cdk_llm_training.config.catalogs.custom_model_deployment import EvaluationInference
from cdk_llm_training.config.catalogs.instances import (
    AcceleratorFamily,
    InstanceCatalog,
    InstanceSpec,
    default_instance_catalog,
    load_instance_catalog,
)
from cdk_llm_training.config.catalogs.prices import (
    InstancePrice,
    PriceBook,
    PriceChannel,
    QuotedPrice,
    default_price_book,
    load_price_book,
)
from cdk_llm_training.config.catalogs.training_images import TrainingImage, default_training_image
from cdk_llm_training.config.cluster_training_run import ClusterRunOptions, HyperPodRecipesOptions
from cdk_llm_training.config.cost_controls import (
    BudgetOptions,
    CostTagOptions,
    ObservabilityOptions,
)
from cdk_llm_training.config.data_curation import (
    DataCurationOptions,
    DataPipelineOptions,
    EmrServerlessOptions,
)
from cdk_llm_training.config.errors import (
    ConfigError,
    describe_validation_error,
)
from cdk_llm_training.config.human_evaluation import HumanEvaluationOptions
from cdk_llm_training.config.hyperpod import (
    DeepHealthCheck,
    DependencyChartOptions,
    DependencyInstall,
    EksControlPlaneOptions,
    EndpointAccess,
    FsxVolumeOptions,
    HyperPodAddonOptions,
    HyperPodClusterOptions,
    InstanceGroupOptions,
    ObservabilityAddonOptions,
    TaskGovernanceOptions,
    TeamComputeQuota,
)
from cdk_llm_training.config.labeling_workforce import (
    LabelingJobDefaults,
    LabelingOptions,
    LabelingTaskType,
    LabelingWorkflowOptions,
    MfaMode,
    OidcOptions,
    WorkforceMode,
    WorkforceOptions,
    WorkteamOptions,
)
from cdk_llm_training.config.model_evaluation import (
    EvaluationPrompt,
    EvaluationTaskType,
    EvaluationThresholds,
    ModelEvaluationOptions,
)
from cdk_llm_training.config.permissions_boundary import PermissionsBoundaryOptions
from cdk_llm_training.config.promotion import ModelPromotionOptions, ModelPromotionTargetOptions
from cdk_llm_training.config.sagemaker_fine_tune_job import (
    DistributedMode,
    FineTuneMethod,
    FineTuneTuning,
    GrpoReward,
    OpenModelRecordFormat,
    SageMakerFineTuneOptions,
)
from cdk_llm_training.config.sagemaker_serverless_customization import (
    CustomizationTechnique,
    SageMakerServerlessOptions,
    ServerlessBenchmark,
    ServerlessEvaluationOptions,
    ServerlessJudgeOptions,
)
from cdk_llm_training.config.synthetic_data import SyntheticDataOptions
from cdk_llm_training.config.task_metrics_evaluation import TaskMetricsOptions
from cdk_llm_training.config.tiers import (
    AppConfig,
    LargePretrainConfig,
    MediumFineTuneConfig,
    SmallLoRAConfig,
    StackName,
    load_app_config,
    parse_app_config,
)
from cdk_llm_training.config.training_alarms import AlarmOptions
from cdk_llm_training.config.training_data_lake import (
    DataLakeOptions,
    DataZone,
)
from cdk_llm_training.config.training_file_system import (
    DataRepositoryLink,
    FileSystemOptions,
    MetadataMode,
)
from cdk_llm_training.config.training_network import (
    NetworkOptions,
)
from cdk_llm_training.config.trainium_parallel_cluster import (
    PARALLELCLUSTER_VERSION,
    HeadNodeOptions,
    ParallelClusterOs,
    QueueCapacityType,
    TrainiumClusterOptions,
    TrainiumComputeResource,
    TrainiumQueue,
    to_cluster_configuration,
)
from cdk_llm_training.config.vocabulary import (
    Engine,
    LargeEngine,
    Tier,
    TrainingMethod,
)

__all__ = [
    "PARALLELCLUSTER_VERSION",
    "AcceleratorFamily",
    "AlarmOptions",
    "AppConfig",
    "BedrockFineTuneOptions",
    "BedrockModelCatalog",
    "BudgetOptions",
    "BuiltinGrader",
    "ClusterRunOptions",
    "ConfigError",
    "ContentFilter",
    "ContentFilterType",
    "CostTagOptions",
    "CustomizationTechnique",
    "CustomizationType",
    "DataCurationOptions",
    "DataLakeOptions",
    "DataPipelineOptions",
    "DataRepositoryLink",
    "DataZone",
    "DeepHealthCheck",
    "DeniedTopic",
    "DependencyChartOptions",
    "DependencyInstall",
    "DistillationOptions",
    "DistributedMode",
    "EksControlPlaneOptions",
    "EmrServerlessOptions",
    "EndpointAccess",
    "Engine",
    "EvaluationInference",
    "EvaluationPrompt",
    "EvaluationTaskType",
    "EvaluationThresholds",
    "FileSystemOptions",
    "FilterStrength",
    "FineTuneMethod",
    "FineTuneTuning",
    "FrozenModel",
    "FsxVolumeOptions",
    "GraderOptions",
    "GrpoReward",
    "GuardrailOptions",
    "HeadNodeOptions",
    "HumanEvaluationOptions",
    "HyperPodAddonOptions",
    "HyperPodClusterOptions",
    "HyperPodRecipesOptions",
    "InstanceCatalog",
    "InstanceGroupOptions",
    "InstancePrice",
    "InstanceSpec",
    "LabelingJobDefaults",
    "LabelingOptions",
    "LabelingTaskType",
    "LabelingWorkflowOptions",
    "LargeEngine",
    "LargePretrainConfig",
    "MediumFineTuneConfig",
    "MetadataMode",
    "MfaMode",
    "ModelEvaluationOptions",
    "ModelPromotionOptions",
    "ModelPromotionTargetOptions",
    "NetworkOptions",
    "ObservabilityAddonOptions",
    "ObservabilityOptions",
    "OidcOptions",
    "OpenModelRecordFormat",
    "ParallelClusterOs",
    "PermissionsBoundaryOptions",
    "PiiAction",
    "PiiEntity",
    "PriceBook",
    "PriceChannel",
    "QueueCapacityType",
    "QuotedPrice",
    "RftHyperparameters",
    "RftOptions",
    "SageMakerFineTuneOptions",
    "SageMakerServerlessOptions",
    "ServerlessBenchmark",
    "ServerlessEvaluationOptions",
    "ServerlessJudgeOptions",
    "SmallLoRAConfig",
    "StackName",
    "SyntheticDataOptions",
    "TaskGovernanceOptions",
    "TaskMetricsOptions",
    "TeamComputeQuota",
    "Tier",
    "TrainingImage",
    "TrainingMethod",
    "TrainiumClusterOptions",
    "TrainiumComputeResource",
    "TrainiumQueue",
    "WorkforceMode",
    "WorkforceOptions",
    "WorkteamOptions",
    "default_bedrock_catalog",
    "default_instance_catalog",
    "default_price_book",
    "default_training_image",
    "describe_validation_error",
    "load_app_config",
    "load_bedrock_catalog",
    "load_instance_catalog",
    "load_price_book",
    "parse_app_config",
    "to_cluster_configuration",
]
