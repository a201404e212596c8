"""Reusable constructs: one construct per module."""

from cdk_llm_training.constructs._compliance import GrantPolicyAcknowledgements
from cdk_llm_training.constructs.bedrock_fine_tune_job import (
    BedrockFineTuneJob,
    BedrockJobVpcConfig,
)
from cdk_llm_training.constructs.bedrock_guardrail import (
    BedrockGuardrail,
)
from cdk_llm_training.constructs.cost_controls import (
    CostControls,
)
from cdk_llm_training.constructs.human_evaluation import (
    HumanEvaluation,
)
from cdk_llm_training.constructs.hyperpod import (
    HyperPodEksCluster,
)
from cdk_llm_training.constructs.labeling import (
    LabelingWorkflow,
    LabelingWorkforce,
    WorkTeamRef,
)
from cdk_llm_training.constructs.model_evaluation import (
    ModelEvaluation,
)
from cdk_llm_training.constructs.notification_key import (
    NotificationKey,
    allow_cloudwatch_logs,
)
from cdk_llm_training.constructs.permissions_boundary import (
    apply_permissions_boundary,
)
from cdk_llm_training.constructs.runtime_function import RuntimeFunction
from cdk_llm_training.constructs.sagemaker_fine_tune_job import (
    SageMakerFineTuneJob,
)
from cdk_llm_training.constructs.task_metrics_evaluation import (
    TaskMetricsEvaluation,
)
from cdk_llm_training.constructs.training_alarms import (
    MonitoredFileSystem,
    TrainingAlarms,
)
from cdk_llm_training.constructs.training_dashboard import (
    TrainingDashboard,
)
from cdk_llm_training.constructs.training_data_lake import (
    TrainingDataLake,
)
from cdk_llm_training.constructs.training_file_system import (
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
    "CostControls",
    "GrantPolicyAcknowledgements",
    "HumanEvaluation",
    "HyperPodEksCluster",
    "LabelingWorkflow",
    "LabelingWorkforce",
    "ModelEvaluation",
    "MonitoredFileSystem",
    "NotificationKey",
    "RuntimeFunction",
    "SageMakerFineTuneJob",
    "TaskMetricsEvaluation",
    "TrainingAlarms",
    "TrainingDashboard",
    "TrainingDataLake",
    "TrainingFileSystem",
    "TrainingNetwork",
    "TrainiumParallelCluster",
    "WorkTeamRef",
    "allow_cloudwatch_logs",
    "apply_permissions_boundary",
]
