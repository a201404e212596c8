"""cdk-llm-training: AWS CDK v2 constructs and stacks to train and fine-tune LLMs on AWS.

The public API is re-exported here. Names are resolved lazily, so that light entry points
(the CLI, the planner, Lambda handlers) never pay for importing aws-cdk-lib and jsii.

``_PUBLIC_API`` is the one list of exported names, grouped by the public module that defines
them; ``__all__`` and the lazy loader are derived from it. The ``TYPE_CHECKING`` imports repeat
the names only for static type checkers (``X as X`` marks an explicit re-export under
``mypy --strict``); tests/unit/test_public_api.py asserts that both lists agree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cdk_llm_training._version import __version__

if TYPE_CHECKING:
    # One import per module; `X as X` is how mypy --strict sees an explicit re-export.
    # isort: off
    from cdk_llm_training.checks import (
        LlmTrainingChecks as LlmTrainingChecks,
    )
    from cdk_llm_training.config import (
        AlarmOptions as AlarmOptions,
        AppConfig as AppConfig,
        BedrockFineTuneOptions as BedrockFineTuneOptions,
        BedrockModelCatalog as BedrockModelCatalog,
        BudgetOptions as BudgetOptions,
        ConfigError as ConfigError,
        ContentFilter as ContentFilter,
        ContentFilterType as ContentFilterType,
        CostTagOptions as CostTagOptions,
        CustomizationType as CustomizationType,
        DataLakeOptions as DataLakeOptions,
        DataRepositoryLink as DataRepositoryLink,
        DataZone as DataZone,
        DeepHealthCheck as DeepHealthCheck,
        DeniedTopic as DeniedTopic,
        DependencyChartOptions as DependencyChartOptions,
        DependencyInstall as DependencyInstall,
        DistillationOptions as DistillationOptions,
        EksControlPlaneOptions as EksControlPlaneOptions,
        EndpointAccess as EndpointAccess,
        EvaluationPrompt as EvaluationPrompt,
        EvaluationTaskType as EvaluationTaskType,
        EvaluationThresholds as EvaluationThresholds,
        FileSystemOptions as FileSystemOptions,
        FilterStrength as FilterStrength,
        FsxVolumeOptions as FsxVolumeOptions,
        GuardrailOptions as GuardrailOptions,
        HeadNodeOptions as HeadNodeOptions,
        HumanEvaluationOptions as HumanEvaluationOptions,
        HyperPodAddonOptions as HyperPodAddonOptions,
        HyperPodClusterOptions as HyperPodClusterOptions,
        InstanceGroupOptions as InstanceGroupOptions,
        LabelingJobDefaults as LabelingJobDefaults,
        LabelingOptions as LabelingOptions,
        LabelingTaskType as LabelingTaskType,
        LabelingWorkflowOptions as LabelingWorkflowOptions,
        LargeEngine as LargeEngine,
        LargePretrainConfig as LargePretrainConfig,
        MediumFineTuneConfig as MediumFineTuneConfig,
        MetadataMode as MetadataMode,
        MfaMode as MfaMode,
        ModelEvaluationOptions as ModelEvaluationOptions,
        NetworkOptions as NetworkOptions,
        ObservabilityAddonOptions as ObservabilityAddonOptions,
        ObservabilityOptions as ObservabilityOptions,
        OidcOptions as OidcOptions,
        OpenModelRecordFormat as OpenModelRecordFormat,
        FineTuneMethod as FineTuneMethod,
        FineTuneTuning as FineTuneTuning,
        ParallelClusterOs as ParallelClusterOs,
        PermissionsBoundaryOptions as PermissionsBoundaryOptions,
        PiiAction as PiiAction,
        PiiEntity as PiiEntity,
        QueueCapacityType as QueueCapacityType,
        SageMakerFineTuneOptions as SageMakerFineTuneOptions,
        SmallLoRAConfig as SmallLoRAConfig,
        StackName as StackName,
        TaskGovernanceOptions as TaskGovernanceOptions,
        TaskMetricsOptions as TaskMetricsOptions,
        TeamComputeQuota as TeamComputeQuota,
        Tier as Tier,
        TrainingImage as TrainingImage,
        TrainingMethod as TrainingMethod,
        TrainiumClusterOptions as TrainiumClusterOptions,
        TrainiumComputeResource as TrainiumComputeResource,
        TrainiumQueue as TrainiumQueue,
        WorkforceMode as WorkforceMode,
        WorkforceOptions as WorkforceOptions,
        WorkteamOptions as WorkteamOptions,
        default_bedrock_catalog as default_bedrock_catalog,
        default_training_image as default_training_image,
        load_app_config as load_app_config,
        parse_app_config as parse_app_config,
    )
    from cdk_llm_training.constructs import (
        BedrockFineTuneJob as BedrockFineTuneJob,
        BedrockGuardrail as BedrockGuardrail,
        BedrockJobVpcConfig as BedrockJobVpcConfig,
        CostControls as CostControls,
        GrantPolicyAcknowledgements as GrantPolicyAcknowledgements,
        HumanEvaluation as HumanEvaluation,
        HyperPodEksCluster as HyperPodEksCluster,
        LabelingWorkflow as LabelingWorkflow,
        LabelingWorkforce as LabelingWorkforce,
        LustreFileSystemAttributes as LustreFileSystemAttributes,
        ModelEvaluation as ModelEvaluation,
        ModelEvaluationSteps as ModelEvaluationSteps,
        MonitoredFileSystem as MonitoredFileSystem,
        MonitoredHyperPodCluster as MonitoredHyperPodCluster,
        NotificationKey as NotificationKey,
        RuntimeFunction as RuntimeFunction,
        SageMakerFineTuneJob as SageMakerFineTuneJob,
        TaskMetricsEvaluation as TaskMetricsEvaluation,
        TaskMetricsSteps as TaskMetricsSteps,
        TrainingAlarms as TrainingAlarms,
        TrainingDashboard as TrainingDashboard,
        TrainingDataLake as TrainingDataLake,
        TrainingFileSystem as TrainingFileSystem,
        TrainingNetwork as TrainingNetwork,
        TrainiumParallelCluster as TrainiumParallelCluster,
        WorkTeamRef as WorkTeamRef,
        apply_permissions_boundary as apply_permissions_boundary,
    )
    from cdk_llm_training.constructs.hyperpod.manifests import (
        fsx_pod_volume as fsx_pod_volume,
        fsx_volume_manifests as fsx_volume_manifests,
    )
    from cdk_llm_training.planner import (
        LustreDeploymentType as LustreDeploymentType,
        LustreSizing as LustreSizing,
        propose_lustre_sizing as propose_lustre_sizing,
    )
    from cdk_llm_training.stacks import (
        LargePretrainStack as LargePretrainStack,
        MediumFineTuneStack as MediumFineTuneStack,
        SmallLoRAStack as SmallLoRAStack,
    )
    # isort: on

_PUBLIC_API: dict[str, tuple[str, ...]] = {
    "cdk_llm_training.config": (
        "AlarmOptions",
        "AppConfig",
        "BedrockFineTuneOptions",
        "BedrockModelCatalog",
        "BudgetOptions",
        "ConfigError",
        "ContentFilter",
        "ContentFilterType",
        "CostTagOptions",
        "CustomizationType",
        "DataLakeOptions",
        "DataRepositoryLink",
        "DataZone",
        "DeepHealthCheck",
        "DeniedTopic",
        "DependencyChartOptions",
        "DependencyInstall",
        "DistillationOptions",
        "EksControlPlaneOptions",
        "EndpointAccess",
        "EvaluationPrompt",
        "EvaluationTaskType",
        "EvaluationThresholds",
        "FileSystemOptions",
        "FilterStrength",
        "FsxVolumeOptions",
        "GuardrailOptions",
        "HeadNodeOptions",
        "HumanEvaluationOptions",
        "HyperPodAddonOptions",
        "HyperPodClusterOptions",
        "InstanceGroupOptions",
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
        "NetworkOptions",
        "ObservabilityAddonOptions",
        "ObservabilityOptions",
        "OidcOptions",
        "OpenModelRecordFormat",
        "FineTuneMethod",
        "FineTuneTuning",
        "ParallelClusterOs",
        "PermissionsBoundaryOptions",
        "PiiAction",
        "PiiEntity",
        "QueueCapacityType",
        "SageMakerFineTuneOptions",
        "SmallLoRAConfig",
        "StackName",
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
        "default_training_image",
        "load_app_config",
        "parse_app_config",
    ),
    "cdk_llm_training.constructs": (
        "BedrockFineTuneJob",
        "BedrockGuardrail",
        "BedrockJobVpcConfig",
        "CostControls",
        "GrantPolicyAcknowledgements",
        "HumanEvaluation",
        "HyperPodEksCluster",
        "LabelingWorkflow",
        "LabelingWorkforce",
        "LustreFileSystemAttributes",
        "ModelEvaluation",
        "ModelEvaluationSteps",
        "MonitoredFileSystem",
        "MonitoredHyperPodCluster",
        "NotificationKey",
        "RuntimeFunction",
        "SageMakerFineTuneJob",
        "TaskMetricsEvaluation",
        "TaskMetricsSteps",
        "TrainingAlarms",
        "TrainingDashboard",
        "TrainingDataLake",
        "TrainingFileSystem",
        "TrainingNetwork",
        "TrainiumParallelCluster",
        "WorkTeamRef",
        "apply_permissions_boundary",
    ),
    "cdk_llm_training.constructs.hyperpod.manifests": (
        "fsx_pod_volume",
        "fsx_volume_manifests",
    ),
    "cdk_llm_training.stacks": (
        "LargePretrainStack",
        "MediumFineTuneStack",
        "SmallLoRAStack",
    ),
    "cdk_llm_training.checks": ("LlmTrainingChecks",),
    "cdk_llm_training.planner": (
        "LustreDeploymentType",
        "LustreSizing",
        "propose_lustre_sizing",
    ),
}

_MODULE_OF: dict[str, str] = {
    name: module for module, names in _PUBLIC_API.items() for name in names
}

# Built from the table, so linters cannot see it is all strings (it is).
__all__ = ["__version__", *sorted(_MODULE_OF)]  # noqa: PLE0604


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'cdk_llm_training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
