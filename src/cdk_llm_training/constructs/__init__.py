"""Reusable constructs: one construct per module."""

from cdk_llm_training.constructs._compliance import GrantPolicyAcknowledgements
from cdk_llm_training.constructs.acknowledgements import acknowledge, acknowledge_wildcards
from cdk_llm_training.constructs.bedrock_fine_tune_job import (
    BedrockFineTuneJob,
    BedrockJobVpcConfig,
)
from cdk_llm_training.constructs.bedrock_guardrail import (
    BedrockGuardrail,
)
from cdk_llm_training.constructs.cluster_training_run import (
    ClusterTrainingRun,
)
from cdk_llm_training.constructs.cost_controls import (
    CostControls,
)
from cdk_llm_training.constructs.data_curation import DataCuration
from cdk_llm_training.constructs.evaluation import (
    HumanEvaluation,
    ModelEvaluation,
    ModelEvaluationSteps,
    TaskMetricsEvaluation,
    TaskMetricsSteps,
)
from cdk_llm_training.constructs.fine_tune.sagemaker_serverless import (
    SageMakerServerlessCustomization,
)
from cdk_llm_training.constructs.hyperpod import (
    HyperPodEksCluster,
)
from cdk_llm_training.constructs.labeling import (
    LabelingWorkflow,
    LabelingWorkforce,
    WorkTeamRef,
)
from cdk_llm_training.constructs.notification_key import (
    NotificationKey,
    allow_cloudwatch_logs,
)
from cdk_llm_training.constructs.permissions_boundary import (
    apply_permissions_boundary,
)
from cdk_llm_training.constructs.promotion import (
    BedrockModelImport,
    ModelPromotion,
    ModelPromotionTarget,
)
from cdk_llm_training.constructs.runtime_function import RuntimeFunction
from cdk_llm_training.constructs.sagemaker_fine_tune_job import (
    SageMakerFineTuneJob,
)
from cdk_llm_training.constructs.synthetic_data import SyntheticData
from cdk_llm_training.constructs.training_alarms import (
    MonitoredFileSystem,
    MonitoredHyperPodCluster,
    TrainingAlarms,
)
from cdk_llm_training.constructs.training_dashboard import (
    TrainingDashboard,
)
from cdk_llm_training.constructs.training_data_lake import (
    TrainingDataLake,
)
from cdk_llm_training.constructs.training_file_system import (
    LustreFileSystemAttributes,
    TrainingFileSystem,
)
from cdk_llm_training.constructs.training_network import (
    TrainingNetwork,
)
from cdk_llm_training.constructs.trainium_parallel_cluster import (
    TrainiumParallelCluster,
)

__all__ = [
    "BedrockFineTuneJob",
    "BedrockGuardrail",
    "BedrockJobVpcConfig",
    "BedrockModelImport",
    "ClusterTrainingRun",
    "CostControls",
    "DataCuration",
    "GrantPolicyAcknowledgements",
    "HumanEvaluation",
    "HyperPodEksCluster",
    "LabelingWorkflow",
    "LabelingWorkforce",
    "LustreFileSystemAttributes",
    "ModelEvaluation",
    "ModelEvaluationSteps",
    "ModelPromotion",
    "ModelPromotionTarget",
    "MonitoredFileSystem",
    "MonitoredHyperPodCluster",
    "NotificationKey",
    "RuntimeFunction",
    "SageMakerFineTuneJob",
    "SageMakerServerlessCustomization",
    "SyntheticData",
    "TaskMetricsEvaluation",
    "TaskMetricsSteps",
    "TrainingAlarms",
    "TrainingDashboard",
    "TrainingDataLake",
    "TrainingFileSystem",
    "TrainingNetwork",
    "TrainiumParallelCluster",
    "WorkTeamRef",
    "acknowledge",
    "acknowledge_wildcards",
    "allow_cloudwatch_logs",
    "apply_permissions_boundary",
]
