"""Validated, plain-data configuration models (pydantic v2)."""

from cdk_llm_training.config.base import (
    FrozenModel,
)
from cdk_llm_training.config.bedrock import (
    BedrockFineTuneOptions,
    BedrockModelCatalog,
    CustomizationType,
    DistillationOptions,
    default_bedrock_catalog,
    load_bedrock_catalog,
)
from cdk_llm_training.config.data_lake import (
    DataLakeOptions,
    DataZone,
)
from cdk_llm_training.config.errors import (
    ConfigError,
    describe_validation_error,
)
from cdk_llm_training.config.file_system import (
    DataRepositoryLink,
    FileSystemOptions,
    MetadataMode,
)
from cdk_llm_training.config.hyperpod import (
    DeepHealthCheck,
    DependencyInstall,
    EksControlPlaneOptions,
    EndpointAccess,
    FsxVolumeOptions,
    HyperPodClusterOptions,
    InstanceGroupOptions,
)
from cdk_llm_training.config.instances import (
    AcceleratorFamily,
    InstanceCatalog,
    InstanceSpec,
    default_instance_catalog,
    load_instance_catalog,
)
from cdk_llm_training.config.labeling import (
    LabelingJobDefaults,
    LabelingOptions,
    LabelingTaskType,
    MfaMode,
    OidcOptions,
    WorkforceMode,
    WorkforceOptions,
    WorkteamOptions,
)
from cdk_llm_training.config.network import (
    NetworkOptions,
)
from cdk_llm_training.config.parallel_cluster import (
    PARALLELCLUSTER_VERSION,
    HeadNodeOptions,
    ParallelClusterOs,
    QueueCapacityType,
    TrainiumClusterOptions,
    TrainiumComputeResource,
    TrainiumQueue,
    to_cluster_configuration,
)
from cdk_llm_training.config.prices import (
    InstancePrice,
    PriceBook,
    PriceChannel,
    QuotedPrice,
    default_price_book,
    load_price_book,
)
from cdk_llm_training.config.sagemaker_training import (
    OpenModelRecordFormat,
    SageMakerFineTuneOptions,
    TrainingImage,
    TrainingMethod,
    default_training_image,
)
from cdk_llm_training.config.tiers import (
    AppConfig,
    SmallLoRAConfig,
    StackName,
    load_app_config,
    parse_app_config,
)

__all__ = [
    "PARALLELCLUSTER_VERSION",
    "AcceleratorFamily",
    "AppConfig",
    "BedrockFineTuneOptions",
    "BedrockModelCatalog",
    "ConfigError",
    "CustomizationType",
    "DataLakeOptions",
    "DataRepositoryLink",
    "DataZone",
    "DeepHealthCheck",
    "DependencyInstall",
    "DistillationOptions",
    "EksControlPlaneOptions",
    "EndpointAccess",
    "FileSystemOptions",
    "FrozenModel",
    "FsxVolumeOptions",
    "HeadNodeOptions",
    "HyperPodClusterOptions",
    "InstanceCatalog",
    "InstanceGroupOptions",
    "InstancePrice",
    "InstanceSpec",
    "LabelingJobDefaults",
    "LabelingOptions",
    "LabelingTaskType",
    "MetadataMode",
    "MfaMode",
    "NetworkOptions",
    "OidcOptions",
    "OpenModelRecordFormat",
    "ParallelClusterOs",
    "PriceBook",
    "PriceChannel",
    "QueueCapacityType",
    "QuotedPrice",
    "SageMakerFineTuneOptions",
    "SmallLoRAConfig",
    "StackName",
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
