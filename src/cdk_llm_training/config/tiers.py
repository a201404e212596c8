"""Tier configurations: one validated model per tier stack, plus the app-level file format.

The tier stacks only compose constructs; every difference between the tiers lives here: which
constructs a tier builds, their defaults, and how one section sizes another (the network's
compute subnet is sized from the clusters' declared maximum node counts, so scaling a group
between 0 and its maximum never changes the network; the pods' FSx volume from the file
system). Pure Python: no aws_cdk import (the CLI and the planner read these models).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import IO, Any, ClassVar

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cdk_llm_training.config.base import FrozenModel, YamlFloat, YamlInt
from cdk_llm_training.config.bedrock_fine_tune_job import BedrockFineTuneOptions, resolve_base_model
from cdk_llm_training.config.bedrock_guardrail import GuardrailOptions
from cdk_llm_training.config.catalogs.instances import default_instance_catalog
from cdk_llm_training.config.cluster_training_run import ClusterRunOptions
from cdk_llm_training.config.cost_controls import BudgetOptions, ObservabilityOptions
from cdk_llm_training.config.data_curation import DataPipelineOptions
from cdk_llm_training.config.errors import ConfigError, describe_validation_error
from cdk_llm_training.config.hyperpod import (
    DependencyInstall,
    HyperPodClusterOptions,
    InstanceGroupOptions,
    validate_instance_groups,
)
from cdk_llm_training.config.labeling_workforce import (
    LabelingOptions,
    WorkforceMode,
    WorkforceOptions,
    team_identity_problem,
)
from cdk_llm_training.config.permissions_boundary import PermissionsBoundaryOptions
from cdk_llm_training.config.promotion import ModelPromotionOptions
from cdk_llm_training.config.sagemaker_fine_tune_job import (
    SageMakerFineTuneOptions,
    check_training_instance,
)
from cdk_llm_training.config.sagemaker_serverless_customization import SageMakerServerlessOptions
from cdk_llm_training.config.training_data_lake import DataLakeOptions
from cdk_llm_training.config.training_file_system import FileSystemOptions
from cdk_llm_training.config.training_network import (
    DEFAULT_INTERFACE_ENDPOINTS,
    EKS_IPS_PER_NODE,
    HYPERPOD_INTERFACE_ENDPOINTS,
    PARALLELCLUSTER_GATEWAY_ENDPOINTS,
    PARALLELCLUSTER_INTERFACE_ENDPOINTS,
    SLURM_IPS_PER_NODE,
    NetworkOptions,
)
from cdk_llm_training.config.trainium_parallel_cluster import TrainiumClusterOptions
from cdk_llm_training.config.types import TrainingPlanArn
from cdk_llm_training.config.vocabulary import LargeEngine, Tier

DEFAULT_AVAILABILITY_ZONE_ID = "use1-az4"
"""Compute AZ ID of the medium and large tiers when the config names none (us-east-1)."""

DEFAULT_CONTROL_PLANE_AVAILABILITY_ZONE_ID = "use1-az6"
"""Second AZ ID (EKS control plane only) paired with :data:`DEFAULT_AVAILABILITY_ZONE_ID`."""

MEDIUM_DEFAULT_BUDGET_USD = 700.0
"""Monthly budget of the medium tier unless the config sets one: what its default deploy
costs while no job runs (about USD 626 a month at us-east-1 list prices: FSx, EKS, NAT, the
system node; the GPU group starts at 0), rounded up."""

LARGE_DEFAULT_BUDGET_USD = 4000.0
"""Monthly budget of the large tier unless the config sets one: its default deploy with any
engine while no job runs (about USD 3,443 a month with ``trainium``, 3,332 with ``nvidia``,
3,854 with ``both`` at us-east-1 list prices; no accelerator starts), rounded up."""

P5_CLASS_INSTANCE_TYPES: tuple[str, ...] = ("ml.p5.48xlarge", "ml.p5e.48xlarge", "ml.p5en.48xlarge")
"""GPU instance types of the large tier's HyperPod groups (H100 / H200, 3200 Gbps EFA)."""


StackName = Tier
"""The tier stacks the ready app can build: the former name of :class:`Tier` (public API)."""


class SmallLoRAConfig(FrozenModel):
    """Configuration of :class:`cdk_llm_training.SmallLoRAStack` (LoRA / QLoRA / managed
    fine-tunes). Defaults deploy as-is with near-zero idle cost."""

    data_lake: DataLakeOptions = DataLakeOptions()
    """Data lake options. Default: :class:`DataLakeOptions` defaults."""

    section_presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "labeling": {"workforce": {"mode": WorkforceMode.COGNITO.value}},
    }

    labeling: LabelingOptions | None = LabelingOptions(
        workforce=WorkforceOptions(mode=WorkforceMode.COGNITO)
    )
    """Ground Truth labeling workforce and workflow. Default: ``workforce.mode: cognito``,
    which reuses the Region's private workforce when the account has one and creates it on a
    new Cognito pool when it has none (AWS allows one per account and Region; the stack's
    ``LabelingWorkforce`` output says which happened); ``null`` turns labeling off."""

    bedrock_fine_tune: BedrockFineTuneOptions | None = BedrockFineTuneOptions()
    """Bedrock fine-tune workflow options; ``None`` leaves the workflow out. Default:
    :class:`BedrockFineTuneOptions` defaults (Nova Micro fine-tuning from curated/finetune/).
    Set ``bedrock_fine_tune.evaluation`` to add the evaluation step and threshold gate."""

    sagemaker_fine_tune: SageMakerFineTuneOptions | None = SageMakerFineTuneOptions()
    """LoRA / QLoRA of open-weight models on SageMaker training jobs; ``None`` leaves the
    workflow out. Default: :class:`SageMakerFineTuneOptions` defaults (LoRA of the 8B model
    under artifacts/base-models/llama-3.1-8b-instruct/ on one ml.g5.2xlarge, managed spot)."""

    sagemaker_serverless: SageMakerServerlessOptions | None = None
    """SageMaker AI serverless customization (SFT, DPO, RLVR, RLAIF on a hub model, no
    cluster, no script). Default: off (``None``); set ``base_model_arn`` to add it."""
    promotion: ModelPromotionOptions | None = None
    """Cross-account promotion of approved SageMaker adapters (``{target_accounts: [...]}``):
    approval of a package shares it with those accounts (:class:`ModelPromotion`). Needs
    ``sagemaker_fine_tune``. Default: off."""

    guardrail: GuardrailOptions | None = GuardrailOptions()
    """Bedrock guardrail for the custom model's use (content, prompt-attack and PII filters,
    denied topics); ``None`` leaves it out. Default: :class:`GuardrailOptions` defaults."""

    observability: ObservabilityOptions = ObservabilityOptions()
    """Dashboard, alarms (encrypted SNS topic), monthly budget and cost-allocation tags.
    Default: all on, budget USD 100 a month, no e-mail subscription."""

    permissions_boundary: PermissionsBoundaryOptions | None = None
    """Permissions boundary (managed policy ARN or name) of every IAM role the stack creates,
    ParallelCluster's roles included. Default: none."""

    data_pipeline: DataPipelineOptions = DataPipelineOptions()
    """Data pipeline workflows (``data_pipeline: {curation: true}`` adds the raw -> curated
    workflow). Default: none."""

    # The constructs apply these rules too; here `validate` sees them (the ready app builds
    # with the shipped catalogs and passes no Cognito pool of its own).
    @field_validator("labeling")
    @classmethod
    def _teams_have_identity(cls, value: LabelingOptions | None) -> LabelingOptions | None:
        problem = None if value is None else team_identity_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("bedrock_fine_tune")
    @classmethod
    def _bedrock_catalog(cls, value: BedrockFineTuneOptions | None) -> Any:
        if value is not None:
            resolve_base_model(value)
        return value

    @field_validator("sagemaker_fine_tune")
    @classmethod
    def _fits_one_gpu(cls, value: SageMakerFineTuneOptions | None) -> Any:
        if value is not None:
            check_training_instance(value)
        return value

    @model_validator(mode="after")
    def _promotion_needs_sagemaker(self) -> SmallLoRAConfig:
        if self.promotion is not None and self.sagemaker_fine_tune is None:
            raise ValueError(
                "promotion: set, but sagemaker_fine_tune is null; promotion shares the "
                "SageMaker workflow's approved packages, so it needs sagemaker_fine_tune."
            )
        return self


def _as_input(value: Any) -> Any:
    """A section as raw input: a model becomes the dict of the fields that were set."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    return value


def _derived_section() -> Any:
    """Default of a section the tier derives: no input, so its field validator fills it in."""
    return {}


def _network_input(
    value: Any,
    *,
    nodes: int,
    ips_per_node: int,
    control_plane: bool,
    interface_endpoints: tuple[str, ...] = (),
    gateway_endpoints: tuple[str, ...] = (),
) -> Any:
    """The network section sized for the cluster: ``max_nodes`` and ``ips_per_node`` come from
    the (validated) cluster sections unless the config sets them; the default AZ IDs fill in
    when the config names none; in closed-network mode the engines' endpoints join the default
    endpoint lists (a list the config sets is kept and checked)."""
    network = _as_input(value)
    if network is None:
        network = {}
    if not isinstance(network, Mapping):
        return network  # field validation reports it
    network = dict(network)
    network.setdefault("max_nodes", max(nodes, 1))
    network.setdefault("ips_per_node", ips_per_node)
    if network.get("closed_network") is True:
        network.setdefault(
            "interface_endpoints", (*DEFAULT_INTERFACE_ENDPOINTS, *interface_endpoints)
        )
        network.setdefault("gateway_endpoints", ("s3", *gateway_endpoints))
    network.setdefault("availability_zone_id", DEFAULT_AVAILABILITY_ZONE_ID)
    if control_plane and network["availability_zone_id"] == DEFAULT_AVAILABILITY_ZONE_ID:
        network.setdefault(
            "control_plane_availability_zone_id", DEFAULT_CONTROL_PLANE_AVAILABILITY_ZONE_ID
        )
    return network


def _fill_trainium_closed_network(data: dict[str, Any]) -> None:
    """ParallelCluster's no-internet settings follow ``network.closed_network``."""
    network = _as_input(data.get("network"))
    closed = isinstance(network, Mapping) and network.get("closed_network") is True
    trainium = _as_input(data.get("trainium", {}))
    if isinstance(trainium, dict):
        data["trainium"] = {"closed_network": closed, **trainium}


def _budget_input(value: Any, monthly_limit_usd: float) -> Any:
    """The tier's budget limit unless the config sets ``observability.budget.monthly_limit_usd``:
    the library-wide default (USD 100) is below what a cluster tier costs deployed."""
    observability = _as_input(value)
    if observability is None:
        observability = {}
    if not isinstance(observability, Mapping):
        return observability  # field validation reports it
    budget = _as_input(observability.get("budget")) or {}
    if not isinstance(budget, Mapping):
        return observability
    if "monthly_limit_usd" not in budget:
        budget = {**budget, "monthly_limit_usd": monthly_limit_usd}
    return {**observability, "budget": budget}


def _check_network(
    network: NetworkOptions,
    file_system: FileSystemOptions,
    *,
    nodes: int,
    cluster_field: str,
    control_plane: bool,
    engines: tuple[str, ...] = (),
) -> None:
    """Cross-section rules shared by the medium and large tiers. ``engines``: ``hyperpod``
    and/or ``parallelcluster``, for the closed-network endpoint rules."""
    if network.max_nodes < nodes:
        raise ValueError(
            f"network.max_nodes {network.max_nodes} is below the {nodes} nodes of "
            f"{cluster_field} at their maximum counts; allowed: at least {nodes} (or leave it "
            "unset to size the compute subnet from the clusters' maximum counts)"
        )
    fs_az = file_system.availability_zone_id
    if fs_az is not None and fs_az != network.availability_zone_id:
        raise ValueError(
            f"file_system.availability_zone_id {fs_az!r} differs from "
            f"network.availability_zone_id {network.availability_zone_id!r}; allowed: "
            f"{network.availability_zone_id!r} (Lustre and EFA traffic stay in one AZ)"
        )
    if network.closed_network:
        _check_closed_network_endpoints(network, engines)
    if control_plane and network.control_plane_availability_zone_id is None:
        raise ValueError(
            "network.control_plane_availability_zone_id is required with HyperPod: the EKS "
            "control plane needs subnets in two AZs; allowed: another AZ ID of the Region of "
            f"{network.availability_zone_id!r}"
        )


def _check_closed_network_endpoints(network: NetworkOptions, engines: tuple[str, ...]) -> None:
    """Without internet, each engine's AWS calls need an endpoint."""
    needed: list[tuple[str, str, str]] = []
    if "hyperpod" in engines:
        needed += [
            ("interface_endpoints", name, "HyperPod") for name in HYPERPOD_INTERFACE_ENDPOINTS
        ]
    if "parallelcluster" in engines:
        needed += [
            ("interface_endpoints", name, "ParallelCluster")
            for name in (*PARALLELCLUSTER_INTERFACE_ENDPOINTS, "ec2", "logs")
        ]
        needed += [
            ("gateway_endpoints", name, "ParallelCluster")
            for name in PARALLELCLUSTER_GATEWAY_ENDPOINTS
        ]
    for field, name, engine in needed:
        if name not in getattr(network, field):
            raise ValueError(
                f"network.{field} lacks {name!r}, which {engine} needs in closed_network mode; "
                f"allowed: add {name!r} (or leave network.{field} unset for the tier's list)"
            )


def _check_hyperpod_groups(hyperpod: HyperPodClusterOptions) -> None:
    """The catalog and accelerator-mix rules of the construct, at config time."""
    try:
        validate_instance_groups(hyperpod)
    except ValueError as error:
        raise ValueError(f"hyperpod.{error}") from None


def _check_closed_chart_source(hyperpod: HyperPodClusterOptions, network: NetworkOptions) -> None:
    """Without internet, the in-stack chart install needs the chart in S3 and helm in a
    Lambda layer (the construct refuses to synthesize otherwise)."""
    chart = hyperpod.dependency_chart
    if not network.closed_network or chart.install is not DependencyInstall.IN_STACK:
        return
    if chart.chart_s3_uri is None:
        raise ValueError(
            "hyperpod.dependency_chart.chart_s3_uri is unset, but network.closed_network is "
            "true and the install function cannot reach the internet; allowed: "
            "s3://<bucket>/<key>.tgz of the packaged chart (helm package --dependency-update)"
        )
    minor = hyperpod.eks.kubernetes_version.split(".")[1]
    package = f"aws-cdk.lambda-layer-kubectl-v{minor}"
    if chart.kubectl_layer_arn is None and not _installed(package):
        raise ValueError(
            "hyperpod.dependency_chart.kubectl_layer_arn is unset, but network.closed_network "
            f"is true and {package} is not installed; allowed: the ARN of a Lambda layer "
            "version with helm at /opt/helm/helm (or install that package)"
        )


def _installed(distribution: str) -> bool:
    """Whether a Python distribution is installed (read from metadata: imports nothing)."""
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


class MediumFineTuneConfig(FrozenModel):
    """Configuration of :class:`cdk_llm_training.MediumFineTuneStack` (full fine-tunes and
    continued pre-training of ~7-70B models on 2-16 GPU nodes).

    Defaults: a network in AZ ID ``use1-az4`` (EKS control plane also in ``use1-az6``) whose
    compute subnet is sized for the HyperPod groups' maximum counts; the data lake; FSx for
    Lustre PERSISTENT_2 (1200 GiB at 125 MB/s per TiB) linked to the lake; HyperPod on EKS
    with 1 x ml.m5.2xlarge system node and a ``gpu-workers`` group of ml.p5.48xlarge at 0
    instances (maximum 2): no accelerator runs until ``instance_count`` is raised.
    """

    section_presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "observability": {"budget": {"monthly_limit_usd": MEDIUM_DEFAULT_BUDGET_USD}},
    }

    data_lake: DataLakeOptions = DataLakeOptions()
    """Data lake options. Default: :class:`DataLakeOptions` defaults."""

    file_system: FileSystemOptions = FileSystemOptions()
    """FSx for Lustre options. Default: PERSISTENT_2, 1200 GiB at 125 MB/s per TiB, curated
    zone at ``/data`` and ``checkpoints/`` of the artifacts zone at ``/checkpoints``."""

    hyperpod: HyperPodClusterOptions = HyperPodClusterOptions()
    """HyperPod options. Default: 1 x ml.m5.2xlarge ``system`` + ``gpu-workers`` of
    ml.p5.48xlarge at ``instance_count`` 0, ``max_instance_count`` 2 (raise
    ``instance_count`` to train); no EKS admin: set ``hyperpod.eks.admin_role_arns`` to the
    roles that run kubectl and the dependency install command."""

    network: NetworkOptions = Field(default_factory=_derived_section, validate_default=True)
    """Network options. Default: AZ ID ``use1-az4`` (+ ``use1-az6`` for the EKS control
    plane), ``max_nodes`` = the HyperPod groups' maximum counts, ``ips_per_node`` 81 (EKS). Set
    ``availability_zone_id`` (and ``control_plane_availability_zone_id``) to AZ IDs of your
    Region with capacity for your instance types."""
    runs: ClusterRunOptions = ClusterRunOptions()
    """The run workflow on the HyperPod cluster (ClusterTrainingRun). Default: on (no idle
    cost), runs bounded to 24 hours unless their input asks for up to 336."""

    observability: ObservabilityOptions = ObservabilityOptions(
        budget=BudgetOptions(monthly_limit_usd=MEDIUM_DEFAULT_BUDGET_USD)
    )
    """Dashboard, alarms (encrypted SNS topic), monthly budget and cost-allocation tags.
    Default: all on, budget USD 700 a month (what the default deploy
    costs while no job runs), no e-mail subscription."""

    permissions_boundary: PermissionsBoundaryOptions | None = None
    """Permissions boundary (managed policy ARN or name) of every IAM role the stack creates,
    ParallelCluster's roles included. Default: none."""

    data_pipeline: DataPipelineOptions = DataPipelineOptions()
    """Data pipeline workflows on the tier's lake (``data_pipeline: {curation: true,
    synthetic: true}``). Default: none."""

    # Derived sections resolve once, from the sections validated before them (field order).
    @field_validator("network", mode="before")
    @classmethod
    def _size_network(cls, value: Any, info: ValidationInfo) -> Any:
        hyperpod = info.data.get("hyperpod")
        return _network_input(
            value,
            nodes=hyperpod.max_total_instance_count if hyperpod is not None else 1,
            ips_per_node=EKS_IPS_PER_NODE,
            control_plane=True,
            interface_endpoints=HYPERPOD_INTERFACE_ENDPOINTS,
        )

    @field_validator("observability", mode="before")
    @classmethod
    def _tier_budget(cls, value: Any) -> Any:
        return _budget_input(value, MEDIUM_DEFAULT_BUDGET_USD)

    @model_validator(mode="before")
    @classmethod
    def _hyperpod_section(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {**data, "hyperpod": data.get("hyperpod", {})}

    @model_validator(mode="after")
    def _check(self) -> MediumFineTuneConfig:
        _check_network(
            self.network,
            self.file_system,
            nodes=self.hyperpod.max_total_instance_count,
            cluster_field="hyperpod.instance_groups",
            control_plane=True,
            engines=("hyperpod",),
        )
        _check_hyperpod_groups(self.hyperpod)
        _check_closed_chart_source(self.hyperpod, self.network)
        return self


def _large_instance_groups() -> tuple[InstanceGroupOptions, ...]:
    return (
        InstanceGroupOptions(
            name="system", instance_type="ml.m5.2xlarge", instance_count=1, ebs_volume_size_gb=100
        ),
        InstanceGroupOptions(
            name="gpu-workers",
            instance_type="ml.p5.48xlarge",
            instance_count=0,
            max_instance_count=16,
        ),
    )


class LargePretrainConfig(FrozenModel):
    """Configuration of :class:`cdk_llm_training.LargePretrainStack` (pre-training, 70B+,
    16-256+ nodes).

    Defaults: ``engine: trainium`` (ParallelCluster, one queue of 16 x trn1.32xlarge with EFA);
    a network in AZ ID ``use1-az4`` sized for the sum of the nodes; the data lake; EFA-enabled
    FSx for Lustre PERSISTENT_2 (4800 GiB at 1000 MB/s per TiB, the cheapest EFA size). With
    ``nvidia`` or ``both``: HyperPod on EKS with 1 x ml.m5.2xlarge system node and a
    ``gpu-workers`` group of ml.p5.48xlarge at 0 instances, maximum 16 (EKS control plane also
    in ``use1-az6``). No accelerator runs until a count is raised: Trainium nodes are dynamic
    (``min_count`` 0), the GPU group starts at 0.
    """

    section_presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "file_system": {"efa_enabled": True},
        "observability": {"budget": {"monthly_limit_usd": LARGE_DEFAULT_BUDGET_USD}},
        "hyperpod": {
            "instance_groups": [
                group.model_dump(mode="json", exclude_unset=True)
                for group in _large_instance_groups()
            ]
        },
    }

    engine: LargeEngine = LargeEngine.TRAINIUM
    """``trainium`` (default), ``nvidia`` or ``both``."""

    training_plan_arn: TrainingPlanArn | None = None
    """SageMaker training plan (reserved p5 capacity) applied to every accelerated HyperPod
    group that names none. Default: none (on-demand)."""

    data_lake: DataLakeOptions = DataLakeOptions()
    """Data lake options. Default: :class:`DataLakeOptions` defaults."""

    file_system: FileSystemOptions = FileSystemOptions(efa_enabled=True)
    """FSx for Lustre options. Default: EFA-enabled PERSISTENT_2, capacity and tier proposed
    from the sizing inputs (4800 GiB at 1000 MB/s per TiB without inputs). ``efa_enabled``
    stays on unless the section sets it; capacities follow the EFA increments."""

    trainium: TrainiumClusterOptions = TrainiumClusterOptions()
    """ParallelCluster options (engines ``trainium`` and ``both``). Default: cluster
    ``trainium-pretrain``, one ``compute`` queue of 16 x trn1.32xlarge, EFA, placement group."""

    hyperpod: HyperPodClusterOptions = Field(
        default=HyperPodClusterOptions(instance_groups=_large_instance_groups()),
        validate_default=True,
    )
    """HyperPod options (engines ``nvidia`` and ``both``). Default: 1 x ml.m5.2xlarge
    ``system`` + ``gpu-workers`` of ml.p5.48xlarge at ``instance_count`` 0,
    ``max_instance_count`` 16; a section without ``instance_groups``
    keeps these groups."""

    network: NetworkOptions = Field(default_factory=_derived_section, validate_default=True)
    """Network options. Default: AZ ID ``use1-az4``, ``max_nodes`` = the sum of the maximum
    nodes of the engine's clusters (HyperPod ``max_instance_count``, Trainium ``max_count``),
    ``ips_per_node`` 81 with HyperPod (EKS) else 32 (Slurm); with HyperPod also
    ``control_plane_availability_zone_id`` ``use1-az6``."""

    allow_other_gpu_instance_types: bool = False
    """Accept accelerated HyperPod groups outside ml.p5/p5e/p5en.48xlarge. Default off."""

    runs: ClusterRunOptions = ClusterRunOptions()
    """The run workflow on the HyperPod cluster (ClusterTrainingRun; engines ``nvidia`` and
    ``both``). Default: on (no idle cost), runs bounded to 24 hours unless their input asks
    for up to 336."""

    observability: ObservabilityOptions = ObservabilityOptions(
        budget=BudgetOptions(monthly_limit_usd=LARGE_DEFAULT_BUDGET_USD)
    )
    """Dashboard, alarms (encrypted SNS topic), monthly budget and cost-allocation tags.
    Default: all on, budget USD 4,000 a month (what the default deploy
    costs while no job runs), no e-mail subscription."""

    permissions_boundary: PermissionsBoundaryOptions | None = None
    """Permissions boundary (managed policy ARN or name) of every IAM role the stack creates,
    ParallelCluster's roles included. Default: none."""

    data_pipeline: DataPipelineOptions = DataPipelineOptions()
    """Data pipeline workflows on the tier's lake (``data_pipeline: {curation: true,
    synthetic: true}``). Default: none."""

    # Derived sections resolve once, from the sections validated before them (field order):
    # the plan reaches the groups, the clusters' node counts size the network.
    @field_validator("file_system", mode="before")
    @classmethod
    def _efa_file_system(cls, value: Any) -> Any:
        file_system = _as_input(value)
        return {"efa_enabled": True, **file_system} if isinstance(file_system, Mapping) else value

    @field_validator("hyperpod", mode="before")
    @classmethod
    def _plan_on_groups(cls, value: Any, info: ValidationInfo) -> Any:
        hyperpod = _as_input(value)
        if not isinstance(hyperpod, Mapping):
            return value  # field validation reports it
        hyperpod = dict(hyperpod)
        groups = hyperpod.get("instance_groups", _large_instance_groups())
        plan = info.data.get("training_plan_arn")
        if plan is not None and isinstance(groups, list | tuple):
            groups = [_with_training_plan(group, plan) for group in groups]
        hyperpod["instance_groups"] = groups
        return hyperpod

    @field_validator("network", mode="before")
    @classmethod
    def _size_network(cls, value: Any, info: ValidationInfo) -> Any:
        # An invalid engine is reported on its own; size the network for the default one.
        engine = info.data.get("engine", LargeEngine.TRAINIUM)
        hyperpod, trainium = info.data.get("hyperpod"), info.data.get("trainium")
        nodes = 0
        if engine.uses_hyperpod and hyperpod is not None:
            nodes += hyperpod.max_total_instance_count
        if engine.uses_trainium and trainium is not None:
            nodes += trainium.max_nodes
        return _network_input(
            value,
            nodes=nodes,
            ips_per_node=EKS_IPS_PER_NODE if engine.uses_hyperpod else SLURM_IPS_PER_NODE,
            control_plane=engine.uses_hyperpod,
            interface_endpoints=(
                *(HYPERPOD_INTERFACE_ENDPOINTS if engine.uses_hyperpod else ()),
                *(PARALLELCLUSTER_INTERFACE_ENDPOINTS if engine.uses_trainium else ()),
            ),
            gateway_endpoints=PARALLELCLUSTER_GATEWAY_ENDPOINTS if engine.uses_trainium else (),
        )

    @field_validator("observability", mode="before")
    @classmethod
    def _tier_budget(cls, value: Any) -> Any:
        return _budget_input(value, LARGE_DEFAULT_BUDGET_USD)

    @model_validator(mode="before")
    @classmethod
    def _closed_trainium_network(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        try:
            engine = LargeEngine(data.get("engine", LargeEngine.TRAINIUM))
        except ValueError:
            return data  # field validation reports it
        if engine.uses_trainium:
            # Only a tier that builds the Trainium cluster holds its settings to the network's
            # (an nvidia-only closed tier must not fail on the unused Neuron install).
            _fill_trainium_closed_network(data)
        data.setdefault("hyperpod", {})
        return data

    @model_validator(mode="after")
    def _check(self) -> LargePretrainConfig:
        engine = self.engine
        _check_network(
            self.network,
            self.file_system,
            nodes=self.total_nodes,
            cluster_field=_cluster_fields(engine),
            control_plane=engine.uses_hyperpod,
            engines=(
                *(("hyperpod",) if engine.uses_hyperpod else ()),
                *(("parallelcluster",) if engine.uses_trainium else ()),
            ),
        )
        if engine.uses_trainium and self.trainium.closed_network != self.network.closed_network:
            raise ValueError(
                f"trainium.closed_network {self.trainium.closed_network} differs from "
                f"network.closed_network {self.network.closed_network}; allowed: the same "
                "value (or leave trainium.closed_network unset)"
            )
        if engine.uses_hyperpod:
            self._check_gpu_groups()
            _check_hyperpod_groups(self.hyperpod)
            _check_closed_chart_source(self.hyperpod, self.network)
        if engine.uses_trainium and not self.trainium.head_node.imds_secured:
            raise ValueError(
                "trainium.head_node.imds_secured false fails the library's rule LLM-PC1 at "
                "synth (any process on the head node could read its instance-profile "
                "credentials); allowed: true"
            )
        if (
            engine.uses_trainium
            and self.file_system.efa_enabled
            and not any(queue.efa_enabled for queue in self.trainium.queues)
        ):
            raise ValueError(
                "file_system.efa_enabled needs EFA clients, but no trainium queue has "
                "efa_enabled; allowed: efa_enabled true on a queue, or file_system.efa_enabled "
                "false"
            )
        return self

    def _check_gpu_groups(self) -> None:
        if self.allow_other_gpu_instance_types:
            return
        catalog = default_instance_catalog()
        for index, group in enumerate(self.hyperpod.instance_groups):
            accelerated = (
                group.accelerated
                if group.accelerated is not None
                else catalog.find(group.instance_type) is not None
            )
            if accelerated and group.instance_type not in P5_CLASS_INSTANCE_TYPES:
                raise ValueError(
                    f"hyperpod.instance_groups[{index}] ({group.name!r}): instance_type "
                    f"{group.instance_type!r} is not a p5-class type of the large tier; "
                    f"allowed: {', '.join(P5_CLASS_INSTANCE_TYPES)}, or set "
                    "allow_other_gpu_instance_types=true"
                )

    @property
    def total_nodes(self) -> int:
        """Most nodes the engine's clusters can run (HyperPod groups at
        ``max_instance_count`` + Trainium ``max_count``): what the network is sized for."""
        nodes = 0
        if self.engine.uses_hyperpod:
            nodes += self.hyperpod.max_total_instance_count
        if self.engine.uses_trainium:
            nodes += self.trainium.max_nodes
        return nodes


def _cluster_fields(engine: LargeEngine) -> str:
    return {
        LargeEngine.TRAINIUM: "trainium.queues",
        LargeEngine.NVIDIA: "hyperpod.instance_groups",
        LargeEngine.BOTH: "hyperpod.instance_groups and trainium.queues",
    }[engine]


def _with_training_plan(group: Any, plan: str) -> Any:
    group = _as_input(group)
    if not isinstance(group, dict) or group.get("training_plan_arn") is not None:
        return group
    instance_type = str(group.get("instance_type", ""))
    accelerated = group.get("accelerated")
    if accelerated is None:
        accelerated = default_instance_catalog().find(instance_type) is not None
    return {**group, "training_plan_arn": plan} if accelerated else group


class AppConfig(FrozenModel):
    """The file given to the ready app with ``cdk synth -c config=PATH``.

    Every section is optional; what is left out keeps its documented default.
    """

    stacks: tuple[Tier, ...] = Field(default=tuple(Tier), min_length=1)
    """Which tier stacks the app builds. Default: all three (SmallLoRAStack,
    MediumFineTuneStack, LargePretrainStack)."""

    small_lora: SmallLoRAConfig = SmallLoRAConfig()
    """Settings of SmallLoRAStack."""

    medium_fine_tune: MediumFineTuneConfig = MediumFineTuneConfig()
    """Settings of MediumFineTuneStack."""

    large_pretrain: LargePretrainConfig = LargePretrainConfig()
    """Settings of LargePretrainStack."""


def parse_app_config(data: Any, *, source: str = "config") -> AppConfig:
    """Validate already-parsed data as an :class:`AppConfig`.

    Raises :class:`ConfigError` with one paragraph naming every bad field.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: invalid configuration: the top level must be a mapping of settings "
            f"such as 'stacks:' and 'small_lora:', got {type(data).__name__}."
        )
    try:
        return AppConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(
            describe_validation_error(error, source=source, model=AppConfig)
        ) from None
    except (ValueError, TypeError) as error:  # a validator that failed outside pydantic's wrap
        raise ConfigError(f"{source}: invalid configuration: {error}") from None


class _ConfigLoader(yaml.SafeLoader):
    """Safe YAML loader whose numbers remember their text (see :class:`YamlNumber`)."""


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    value = loader.construct_yaml_float(node)
    number = YamlFloat(value)
    number.text = str(node.value)
    return number


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    value = loader.construct_yaml_int(node)
    number = YamlInt(value)
    number.text = str(node.value)
    return number


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    # YAML 1.2 exponent floats that YAML 1.1 reads as text: 7e9, 14.8e9 (not only 7.0e+9).
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
_ConfigLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_config_yaml(stream: str | IO[str]) -> Any:
    """Parse config YAML as the app does: numbers keep their text (``1.30``), and YAML 1.2
    exponent numbers (``7e9``) are numbers. Raises ``yaml.YAMLError``."""
    return yaml.load(stream, Loader=_ConfigLoader)


def read_config_file(path: str | Path) -> Any:
    """The parsed YAML (or JSON) document of ``path``; errors name the file and the line.

    Raises :class:`ConfigError` when the file cannot be read, is not YAML, or is empty.
    """
    file = Path(path)
    try:
        with file.open(encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_ConfigLoader)
    except OSError as error:
        raise ConfigError(f"{file}: cannot read configuration file: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not a UTF-8 text file.") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {error}".rstrip(".") + ".") from None
    if data is None:
        raise ConfigError(
            f"{file}: the configuration file is empty (no settings). Write at least "
            "'stacks: [SmallLoRAStack]', or synthesize without -c config= to build every tier "
            "with its defaults."
        )
    return data


def load_app_config(path: str | Path) -> AppConfig:
    """Read and validate a YAML (or JSON) tier configuration file."""
    return parse_app_config(read_config_file(path), source=str(path))
