"""cdk-llm-training: AWS CDK v2 constructs and stacks to train and fine-tune LLMs on AWS.

The public API is re-exported here. Names are resolved lazily, so that light entry points
(the CLI, the planner, Lambda handlers) never pay for importing aws-cdk-lib and jsii.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cdk_llm_training._version import __version__

if TYPE_CHECKING:
    from cdk_llm_training.checks import (
        LlmTrainingChecks,
    )
    from cdk_llm_training.config import (
        AppConfig,
        BedrockFineTuneOptions,
        BedrockModelCatalog,
        ConfigError,
        CustomizationType,
        DataLakeOptions,
        DataRepositoryLink,
        DataZone,
        DeepHealthCheck,
        DependencyInstall,
        DistillationOptions,
        EksControlPlaneOptions,
        EndpointAccess,
        FileSystemOptions,
        FsxVolumeOptions,
        HeadNodeOptions,
        HyperPodClusterOptions,
        InstanceGroupOptions,
        LabelingJobDefaults,
        LabelingOptions,
        LabelingTaskType,
        MetadataMode,
        MfaMode,
        NetworkOptions,
        OidcOptions,
        OpenModelRecordFormat,
        ParallelClusterOs,
        QueueCapacityType,
        SageMakerFineTuneOptions,
        SmallLoRAConfig,
        StackName,
        TrainingImage,
        TrainingMethod,
        TrainiumClusterOptions,
        TrainiumComputeResource,
        TrainiumQueue,
        WorkforceMode,
        WorkforceOptions,
        WorkteamOptions,
        default_bedrock_catalog,
        default_training_image,
        load_app_config,
        parse_app_config,
    )
    from cdk_llm_training.constructs import (
        BedrockFineTuneJob,
        BedrockJobVpcConfig,
        HyperPodEksCluster,
        LabelingWorkforce,
        SageMakerFineTuneJob,
        TrainingDataLake,
        TrainingFileSystem,
        TrainingNetwork,
        TrainiumParallelCluster,
    )
    from cdk_llm_training.constructs._hyperpod_manifests import (
        fsx_pod_volume,
        fsx_volume_manifests,
    )
    from cdk_llm_training.planner import (
        LustreDeploymentType,
        LustreSizing,
        propose_lustre_sizing,
    )
    from cdk_llm_training.stacks import (
        SmallLoRAStack,
    )

_EXPORTS: dict[str, str] = {
    "AppConfig": "cdk_llm_training.config",
    "BedrockFineTuneJob": "cdk_llm_training.constructs",
    "BedrockFineTuneOptions": "cdk_llm_training.config",
    "BedrockJobVpcConfig": "cdk_llm_training.constructs",
    "BedrockModelCatalog": "cdk_llm_training.config",
    "ConfigError": "cdk_llm_training.config",
    "CustomizationType": "cdk_llm_training.config",
    "DataLakeOptions": "cdk_llm_training.config",
    "DataRepositoryLink": "cdk_llm_training.config",
    "DataZone": "cdk_llm_training.config",
    "DeepHealthCheck": "cdk_llm_training.config",
    "DependencyInstall": "cdk_llm_training.config",
    "DistillationOptions": "cdk_llm_training.config",
    "EksControlPlaneOptions": "cdk_llm_training.config",
    "EndpointAccess": "cdk_llm_training.config",
    "FileSystemOptions": "cdk_llm_training.config",
    "FsxVolumeOptions": "cdk_llm_training.config",
    "HeadNodeOptions": "cdk_llm_training.config",
    "HyperPodClusterOptions": "cdk_llm_training.config",
    "HyperPodEksCluster": "cdk_llm_training.constructs",
    "InstanceGroupOptions": "cdk_llm_training.config",
    "LabelingJobDefaults": "cdk_llm_training.config",
    "LabelingOptions": "cdk_llm_training.config",
    "LabelingTaskType": "cdk_llm_training.config",
    "LabelingWorkforce": "cdk_llm_training.constructs",
    "LlmTrainingChecks": "cdk_llm_training.checks",
    "LustreDeploymentType": "cdk_llm_training.planner",
    "LustreSizing": "cdk_llm_training.planner",
    "MetadataMode": "cdk_llm_training.config",
    "MfaMode": "cdk_llm_training.config",
    "NetworkOptions": "cdk_llm_training.config",
    "OidcOptions": "cdk_llm_training.config",
    "OpenModelRecordFormat": "cdk_llm_training.config",
    "ParallelClusterOs": "cdk_llm_training.config",
    "QueueCapacityType": "cdk_llm_training.config",
    "SageMakerFineTuneJob": "cdk_llm_training.constructs",
    "SageMakerFineTuneOptions": "cdk_llm_training.config",
    "SmallLoRAConfig": "cdk_llm_training.config",
    "SmallLoRAStack": "cdk_llm_training.stacks",
    "StackName": "cdk_llm_training.config",
    "TrainingDataLake": "cdk_llm_training.constructs",
    "TrainingFileSystem": "cdk_llm_training.constructs",
    "TrainingImage": "cdk_llm_training.config",
    "TrainingMethod": "cdk_llm_training.config",
    "TrainingNetwork": "cdk_llm_training.constructs",
    "TrainiumClusterOptions": "cdk_llm_training.config",
    "TrainiumComputeResource": "cdk_llm_training.config",
    "TrainiumParallelCluster": "cdk_llm_training.constructs",
    "TrainiumQueue": "cdk_llm_training.config",
    "WorkforceMode": "cdk_llm_training.config",
    "WorkforceOptions": "cdk_llm_training.config",
    "WorkteamOptions": "cdk_llm_training.config",
    "default_bedrock_catalog": "cdk_llm_training.config",
    "default_training_image": "cdk_llm_training.config",
    "fsx_pod_volume": "cdk_llm_training.constructs._hyperpod_manifests",
    "fsx_volume_manifests": "cdk_llm_training.constructs._hyperpod_manifests",
    "load_app_config": "cdk_llm_training.config",
    "parse_app_config": "cdk_llm_training.config",
    "propose_lustre_sizing": "cdk_llm_training.planner",
}

__all__ = [
    "AppConfig",
    "BedrockFineTuneJob",
    "BedrockFineTuneOptions",
    "BedrockJobVpcConfig",
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
    "FsxVolumeOptions",
    "HeadNodeOptions",
    "HyperPodClusterOptions",
    "HyperPodEksCluster",
    "InstanceGroupOptions",
    "LabelingJobDefaults",
    "LabelingOptions",
    "LabelingTaskType",
    "LabelingWorkforce",
    "LlmTrainingChecks",
    "LustreDeploymentType",
    "LustreSizing",
    "MetadataMode",
    "MfaMode",
    "NetworkOptions",
    "OidcOptions",
    "OpenModelRecordFormat",
    "ParallelClusterOs",
    "QueueCapacityType",
    "SageMakerFineTuneJob",
    "SageMakerFineTuneOptions",
    "SmallLoRAConfig",
    "SmallLoRAStack",
    "StackName",
    "TrainingDataLake",
    "TrainingFileSystem",
    "TrainingImage",
    "TrainingMethod",
    "TrainingNetwork",
    "TrainiumClusterOptions",
    "TrainiumComputeResource",
    "TrainiumParallelCluster",
    "TrainiumQueue",
    "WorkforceMode",
    "WorkforceOptions",
    "WorkteamOptions",
    "__version__",
    "default_bedrock_catalog",
    "default_training_image",
    "fsx_pod_volume",
    "fsx_volume_manifests",
    "load_app_config",
    "parse_app_config",
    "propose_lustre_sizing",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cdk_llm_training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
