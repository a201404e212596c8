"""TrainingDashboard: one CloudWatch dashboard for the resources of a training tier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.training_alarms import FSX_METRIC_PERIOD_MINUTES
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.training_alarms import (
    GIB,
    MB,
    FileSystemLike,
    HyperPodClusterLike,
    MonitoredFileSystem,
    TrainingAlarms,
    check_labels,
    cluster_identifiers,
    fsx_metric,
    fsx_throughput_percent,
    monitored_file_system,
    monitored_hyperpod_cluster,
)

FULL_WIDTH = 24
"""Columns of a CloudWatch dashboard grid."""
GRAPH_HEIGHT = 6
_PERIOD = Duration.minutes(FSX_METRIC_PERIOD_MINUTES)


class TrainingDashboard(Construct):
    """A CloudWatch dashboard with a section for each resource it is given, and nothing for
    what it is not given (an empty tier gets only its header).

    Sections, top to bottom:

    - header: what the dashboard shows; the alarm states when ``alarms`` is given;
    - workflows: started, succeeded, failed, timed-out and aborted executions per state
      machine (fine-tune, labeling);
    - FSx for Lustre, per file system: read/write throughput against the baseline
      (capacity x tier) and in % of it, read/write IOPS, free capacity (GiB, with the alarm
      threshold), metadata operations per second;
    - SageMaker: training jobs' GPU utilization (search on the name prefix) and the count of
      failed/stopped jobs and HyperPod node-health events (from the alarm rules);
    - EKS: API server requests and 5XX, scheduler pending pods (the free ``AWS/EKS`` vended
      metrics of Kubernetes 1.28+).

    Example::

        TrainingDashboard(self, "Dashboard", file_systems=[fs], state_machines={"Fine-tune": sm},
                          hyperpod_clusters=[hyperpod], alarms=alarms)
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        file_systems: Sequence[FileSystemLike] = (),
        state_machines: Mapping[str, sfn.IStateMachine] | None = None,
        hyperpod_clusters: Sequence[HyperPodClusterLike] = (),
        training_job_name_prefix: str | None = None,
        alarms: TrainingAlarms | None = None,
        dashboard_name: str | None = None,
        title: str | None = None,
    ) -> None:
        """Build the dashboard.

        :param file_systems: FSx for Lustre file systems. Default none.
        :param state_machines: workflows by label (``{"Labeling": sm}``). Default none.
        :param hyperpod_clusters: HyperPod clusters (:class:`HyperPodEksCluster` or
            :class:`MonitoredHyperPodCluster`); their EKS clusters, when known, get the EKS
            control-plane section. Default none.
        :param training_job_name_prefix: SageMaker training job name prefix ("" for all).
            Default None: no training-job section.
        :param alarms: alarms to show in the header and whose rules' matched events to graph.
        :param dashboard_name: Default ``<stack name>-training``.
        :param title: header text. Default ``<stack name> training``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "TrainingDashboard")
        stack_name = Stack.of(self).stack_name
        machines = dict(state_machines or {})
        check_labels(list(machines), "state_machines")
        self.file_systems = [monitored_file_system(fs) for fs in file_systems]
        self.resource = cloudwatch.Dashboard(
            self,
            "Resource",
            dashboard_name=dashboard_name or f"{stack_name}-training",
            default_interval=Duration.hours(12),
        )
        self._header(title or f"{stack_name} training", alarms)
        self._workflows(machines)
        for index, file_system in enumerate(self.file_systems):
            self._file_system(file_system, file_system.label or f"FileSystem{index}", alarms)
        clusters = [monitored_hyperpod_cluster(c) for c in hyperpod_clusters]
        names, arns = cluster_identifiers(clusters)
        self._sagemaker([*names, *arns], training_job_name_prefix, alarms)
        for cluster in clusters:
            if cluster.eks_cluster_name is not None:
                self._eks(cluster.eks_cluster_name)

    @property
    def dashboard_name(self) -> str:
        """The dashboard's name."""
        return self.resource.dashboard_name

    # -- sections ------------------------------------------------------------------------

    def _header(self, title: str, alarms: TrainingAlarms | None) -> None:
        self.resource.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    f"# {title}\n"
                    "Workflows, FSx for Lustre, SageMaker jobs and HyperPod nodes, EKS control "
                    "plane: each section appears only for the resources this stack holds."
                ),
                width=FULL_WIDTH,
                height=2,
            )
        )
        if alarms is not None and alarms.alarms:
            self.resource.add_widgets(
                cloudwatch.AlarmStatusWidget(
                    title="Alarms",
                    alarms=list(alarms.alarms),
                    width=FULL_WIDTH,
                    height=3,
                )
            )

    def _workflows(self, machines: Mapping[str, sfn.IStateMachine]) -> None:
        widgets: list[cloudwatch.IWidget] = []
        for label, machine in machines.items():
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"Workflow {label}: executions",
                    left=[
                        machine.metric_started(period=_PERIOD, statistic="Sum"),
                        machine.metric_succeeded(period=_PERIOD, statistic="Sum"),
                    ],
                    right=[
                        machine.metric_failed(period=_PERIOD, statistic="Sum"),
                        machine.metric_timed_out(period=_PERIOD, statistic="Sum"),
                        machine.metric_aborted(period=_PERIOD, statistic="Sum"),
                    ],
                    width=FULL_WIDTH // 2,
                    height=GRAPH_HEIGHT,
                )
            )
        for start in range(0, len(widgets), 2):
            self.resource.add_widgets(*widgets[start : start + 2])

    def _file_system(
        self, fs: MonitoredFileSystem, label: str, alarms: TrainingAlarms | None
    ) -> None:
        fs_id = fs.file_system_id
        quarter = FULL_WIDTH // 4
        baseline = cloudwatch.HorizontalAnnotation(
            value=fs.baseline_mb_per_s, label=f"baseline {fs.baseline_mb_per_s:.0f} MB/s"
        )
        throughput = cloudwatch.GraphWidget(
            title=f"FSx {label}: throughput (MB/s)",
            left=[
                _per_second(fs_id, "DataReadBytes", "read MB/s", MB),
                _per_second(fs_id, "DataWriteBytes", "write MB/s", MB),
            ],
            right=[fsx_throughput_percent(fs)],
            left_annotations=[baseline],
            right_y_axis=cloudwatch.YAxisProps(min=0, max=100, label="%", show_units=False),
            width=quarter,
            height=GRAPH_HEIGHT,
        )
        iops = cloudwatch.GraphWidget(
            title=f"FSx {label}: IOPS",
            left=[
                _per_second(fs_id, "DataReadOperations", "read IOPS", 1),
                _per_second(fs_id, "DataWriteOperations", "write IOPS", 1),
            ],
            width=quarter,
            height=GRAPH_HEIGHT,
        )
        free_annotations = []
        if alarms is not None:
            percent = alarms.options.fsx_free_capacity_percent
            free_annotations.append(
                cloudwatch.HorizontalAnnotation(
                    value=fs.storage_capacity_gib * percent / 100,
                    label=f"alarm below {percent:g} %",
                    color=cloudwatch.Color.RED,
                )
            )
        free = cloudwatch.GraphWidget(
            title=f"FSx {label}: free GiB of {fs.storage_capacity_gib}",
            left=[
                cloudwatch.MathExpression(
                    expression=f"freedatastoragecapacity / {GIB}",
                    using_metrics={
                        "freedatastoragecapacity": fsx_metric(
                            fs_id, "FreeDataStorageCapacity", "Minimum"
                        )
                    },
                    label="free GiB",
                    period=_PERIOD,
                )
            ],
            left_annotations=free_annotations,
            left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
            width=quarter,
            height=GRAPH_HEIGHT,
        )
        metadata = cloudwatch.GraphWidget(
            title=f"FSx {label}: metadata operations/s",
            left=[_per_second(fs_id, "MetadataOperations", "metadata ops/s", 1)],
            width=quarter,
            height=GRAPH_HEIGHT,
        )
        self.resource.add_widgets(throughput, iops, free, metadata)

    def _sagemaker(
        self, clusters: list[str], prefix: str | None, alarms: TrainingAlarms | None
    ) -> None:
        widgets: list[cloudwatch.IWidget] = []
        rules = alarms.rules if alarms is not None else []
        count = (prefix is not None) + bool(rules) + bool(clusters)
        width = FULL_WIDTH // max(1, count)
        if prefix is not None:
            search = f'{{/aws/sagemaker/TrainingJobs,Host}} MetricName="GPUUtilization" {prefix}'
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"Training jobs {prefix or '(all)'}*: GPU utilization",
                    left=[
                        cloudwatch.MathExpression(
                            expression=f"SEARCH('{search.strip()}', 'Average', 300)",
                            label="",
                            period=_PERIOD,
                        )
                    ],
                    width=width,
                    height=GRAPH_HEIGHT,
                )
            )
        if rules:
            widgets.append(
                cloudwatch.GraphWidget(
                    title="Failure events (training jobs, HyperPod nodes and cluster)",
                    left=[
                        cloudwatch.Metric(
                            namespace="AWS/Events",
                            metric_name="MatchedEvents",
                            dimensions_map={"RuleName": rule.rule_name},
                            statistic="Sum",
                            period=_PERIOD,
                            label=rule.node.id.removesuffix("Rule"),
                        )
                        for rule in rules
                    ],
                    width=width,
                    height=GRAPH_HEIGHT,
                )
            )
        if clusters:
            lines = "\n".join(
                f"* `{name}`: `aws sagemaker list-cluster-nodes --cluster-name {name}`"
                for name in clusters
            )
            widgets.append(
                cloudwatch.TextWidget(
                    markdown=(
                        "## HyperPod nodes\nNode health comes from the health-monitoring "
                        "agent as EventBridge events (graphed above when alarms are on); "
                        f"HyperPod publishes no per-node metric by default.\n{lines}"
                    ),
                    width=width,
                    height=GRAPH_HEIGHT,
                )
            )
        if widgets:
            self.resource.add_widgets(*widgets)

    def _eks(self, cluster_name: str) -> None:
        def eks(metric: str, label: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/EKS",
                metric_name=metric,
                dimensions_map={"ClusterName": cluster_name},
                statistic=statistic,
                period=_PERIOD,
                label=label,
            )

        self.resource.add_widgets(
            cloudwatch.GraphWidget(
                title="EKS control plane: API requests",
                left=[eks("apiserver_request_total", "requests")],
                right=[
                    eks("apiserver_request_total_5XX", "5XX"),
                    eks("apiserver_request_total_429", "429 throttled"),
                ],
                width=FULL_WIDTH // 2,
                height=GRAPH_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title="EKS control plane: pending pods",
                left=[
                    eks("scheduler_pending_pods", "pending"),
                    eks("scheduler_pending_pods_UNSCHEDULABLE", "unschedulable"),
                ],
                width=FULL_WIDTH // 2,
                height=GRAPH_HEIGHT,
            ),
        )


def _per_second(
    file_system_id: str, metric: str, label: str, divisor: float
) -> cloudwatch.MathExpression:
    """A ``Sum`` FSx metric turned into a rate per second (divided by ``divisor``)."""
    scale = f" / {divisor:.0f}" if divisor != 1 else ""
    key = metric.lower()
    return cloudwatch.MathExpression(
        expression=f"{key} / PERIOD({key}){scale}",
        using_metrics={key: fsx_metric(file_system_id, metric, "Sum")},
        label=label,
        period=_PERIOD,
    )
