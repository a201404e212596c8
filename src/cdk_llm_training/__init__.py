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
        ConfigError,
        DataLakeOptions,
        DataRepositoryLink,
        DataZone,
        DeepHealthCheck,
        DependencyInstall,
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
        LargeEngine,
        LargePretrainConfig,
        MediumFineTuneConfig,
        MetadataMode,
        MfaMode,
        NetworkOptions,
        OidcOptions,
        ParallelClusterOs,
        QueueCapacityType,
        SmallLoRAConfig,
        StackName,
        TrainiumClusterOptions,
        TrainiumComputeResource,
        TrainiumQueue,
        WorkforceMode,
        WorkforceOptions,
        WorkteamOptions,
        load_app_config,
        parse_app_config,
    )
    from cdk_llm_training.constructs import (
        HyperPodEksCluster,
        LabelingWorkforce,
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
        LargePretrainStack,
        MediumFineTuneStack,
        SmallLoRAStack,
    )

_EXPORTS: dict[str, str] = {
    "AppConfig": "cdk_llm_training.config",
    "ConfigError": "cdk_llm_training.config",
    "DataLakeOptions": "cdk_llm_training.config",
    "DataRepositoryLink": "cdk_llm_training.config",
    "DataZone": "cdk_llm_training.config",
    "DeepHealthCheck": "cdk_llm_training.config",
    "DependencyInstall": "cdk_llm_training.config",
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
    "ParallelClusterOs": "cdk_llm_training.config",
    "QueueCapacityType": "cdk_llm_training.config",
    "LargeEngine": "cdk_llm_training.config",
    "LargePretrainConfig": "cdk_llm_training.config",
    "LargePretrainStack": "cdk_llm_training.stacks",
    "MediumFineTuneConfig": "cdk_llm_training.config",
    "MediumFineTuneStack": "cdk_llm_training.stacks",
    "SmallLoRAConfig": "cdk_llm_training.config",
    "SmallLoRAStack": "cdk_llm_training.stacks",
    "StackName": "cdk_llm_training.config",
    "TrainingDataLake": "cdk_llm_training.constructs",
    "TrainingFileSystem": "cdk_llm_training.constructs",
    "TrainingNetwork": "cdk_llm_training.constructs",
    "TrainiumClusterOptions": "cdk_llm_training.config",
    "TrainiumComputeResource": "cdk_llm_training.config",
    "TrainiumParallelCluster": "cdk_llm_training.constructs",
    "TrainiumQueue": "cdk_llm_training.config",
    "WorkforceMode": "cdk_llm_training.config",
    "WorkforceOptions": "cdk_llm_training.config",
    "WorkteamOptions": "cdk_llm_training.config",
    "fsx_pod_volume": "cdk_llm_training.constructs._hyperpod_manifests",
    "fsx_volume_manifests": "cdk_llm_training.constructs._hyperpod_manifests",
    "load_app_config": "cdk_llm_training.config",
    "parse_app_config": "cdk_llm_training.config",
    "propose_lustre_sizing": "cdk_llm_training.planner",
}

__all__ = [
    "AppConfig",
    "ConfigError",
    "DataLakeOptions",
    "DataRepositoryLink",
    "DataZone",
    "DeepHealthCheck",
    "DependencyInstall",
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
    "LargeEngine",
    "LargePretrainConfig",
    "LargePretrainStack",
    "LlmTrainingChecks",
    "LustreDeploymentType",
    "LustreSizing",
    "MediumFineTuneConfig",
    "MediumFineTuneStack",
    "MetadataMode",
    "MfaMode",
    "NetworkOptions",
    "OidcOptions",
    "ParallelClusterOs",
    "QueueCapacityType",
    "SmallLoRAConfig",
    "SmallLoRAStack",
    "StackName",
    "TrainingDataLake",
    "TrainingFileSystem",
    "TrainingNetwork",
    "TrainiumClusterOptions",
    "TrainiumComputeResource",
    "TrainiumParallelCluster",
    "TrainiumQueue",
    "WorkforceMode",
    "WorkforceOptions",
    "WorkteamOptions",
    "__version__",
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
