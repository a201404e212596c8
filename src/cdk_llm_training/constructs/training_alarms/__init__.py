"""TrainingAlarms: an encrypted SNS topic and the alarms and event rules that feed it.

- ``alarms``: the construct (topic, key, alarms, event rules).
- ``monitored``: what the observability constructs watch (:data:`FileSystemLike`,
  :data:`HyperPodClusterLike` and their by-attribute forms) and the shared FSx metrics.
"""

from cdk_llm_training.constructs.training_alarms.alarms import (
    EVENTS_SERVICE,
    HYPERPOD_CLUSTER_STATE_CHANGE,
    HYPERPOD_NODE_HEALTH_EVENT,
    TRAINING_JOB_STATE_CHANGE,
    TrainingAlarms,
)
from cdk_llm_training.constructs.training_alarms.monitored import (
    GIB,
    MB,
    FileSystemLike,
    HyperPodClusterLike,
    MonitoredFileSystem,
    MonitoredHyperPodCluster,
    check_labels,
    cluster_identifiers,
    fsx_metric,
    fsx_throughput_percent,
    monitored_file_system,
    monitored_hyperpod_cluster,
)

__all__ = [
    "EVENTS_SERVICE",
    "GIB",
    "HYPERPOD_CLUSTER_STATE_CHANGE",
    "HYPERPOD_NODE_HEALTH_EVENT",
    "MB",
    "TRAINING_JOB_STATE_CHANGE",
    "FileSystemLike",
    "HyperPodClusterLike",
    "MonitoredFileSystem",
    "MonitoredHyperPodCluster",
    "TrainingAlarms",
    "check_labels",
    "cluster_identifiers",
    "fsx_metric",
    "fsx_throughput_percent",
    "monitored_file_system",
    "monitored_hyperpod_cluster",
]
