"""Every ParallelCluster configuration the test-suite builds, shared with the offline check.

``tests/unit/test_trainium_parallel_cluster.py`` synthesizes the construct with each case, and
``scripts/validate_pcluster_configs.py`` (run by ``make test`` in the separate ParallelCluster
virtual environment) renders each case with concrete sample ids and loads it with the official
``aws-parallelcluster`` schema. Pure data: no aws_cdk import.
"""

from __future__ import annotations

from typing import Any

from cdk_llm_training.config.tiers import LargePretrainConfig
from cdk_llm_training.config.trainium_parallel_cluster import (
    HeadNodeOptions,
    ParallelClusterOs,
    QueueCapacityType,
    TrainiumClusterOptions,
    TrainiumComputeResource,
    TrainiumQueue,
    to_cluster_configuration,
)

# Sample ids for the offline schema check only (never used in a synthesized template).
SAMPLE_SUBNET = "subnet-0123456789abcdef0"
SAMPLE_HEAD_SUBNET = "subnet-0fedcba9876543210"
SAMPLE_EXTRA_SUBNET = "subnet-0a1b2c3d4e5f60718"
SAMPLE_SECURITY_GROUP = "sg-0123456789abcdef0"
SAMPLE_FILE_SYSTEM = "fs-0123456789abcdef0"
SAMPLE_BUCKET = "cdk-hnb659fds-assets-111122223333-us-east-1"
SAMPLE_SCRIPT_KEY = "0123456789abcdef.sh"
SAMPLE_RESERVATION = "cr-0123456789abcdef0"
SAMPLE_KMS_POLICY = "arn:aws:iam::111122223333:policy/TrainiumNodePolicy"

CASES: dict[str, TrainiumClusterOptions] = {
    "defaults": TrainiumClusterOptions(),
    "capacity-block": TrainiumClusterOptions(
        cluster_name="trn-cb",
        queues=(
            TrainiumQueue(
                name="cb",
                capacity_type=QueueCapacityType.CAPACITY_BLOCK,
                compute_resources=(
                    TrainiumComputeResource(
                        name="trn1n",
                        instance_type="trn1n.32xlarge",
                        min_count=16,
                        max_count=16,
                        capacity_reservation_id=SAMPLE_RESERVATION,
                    ),
                ),
            ),
        ),
    ),
    "multi-queue": TrainiumClusterOptions(
        cluster_name="trn-multi",
        os=ParallelClusterOs.UBUNTU2404,
        neuron_python_packages=("neuronx-distributed==0.19.28492",),
        log_retention_days=90,
        detailed_monitoring=True,
        head_node=HeadNodeOptions(
            instance_type="m7i.4xlarge", key_name="ops", ssh_allowed_cidr="10.20.0.0/16"
        ),
        queues=(
            TrainiumQueue(
                name="train",
                compute_resources=(
                    TrainiumComputeResource(name="trn1", max_count=32),
                    TrainiumComputeResource(
                        name="trn1-odcr",
                        min_count=4,
                        max_count=4,
                        capacity_reservation_id=SAMPLE_RESERVATION,
                    ),
                ),
            ),
            TrainiumQueue(
                name="debug",
                efa_enabled=False,
                placement_group_enabled=False,
                job_exclusive_allocation=False,
                compute_resources=(TrainiumComputeResource(name="trn1", max_count=2),),
            ),
        ),
    ),
    # What LargePretrainStack (engine trainium, the default) builds.
    "large-pretrain-stack": LargePretrainConfig().trainium,
    # Closed network: EC2 host names, a Neuron AMI (no download).
    "closed-network": TrainiumClusterOptions(
        cluster_name="trn-closed",
        closed_network=True,
        custom_ami_id="ami-0123456789abcdef0",
        install_neuron=False,
    ),
    "trn2-ami": TrainiumClusterOptions(
        cluster_name="trn2-pretrain",
        custom_ami_id="ami-0123456789abcdef0",
        install_neuron=False,
        queues=(
            TrainiumQueue(
                name="trn2",
                compute_resources=(
                    TrainiumComputeResource(
                        name="trn2", instance_type="trn2.48xlarge", max_count=64
                    ),
                ),
            ),
        ),
    ),
}

# Options a case passes to the construct beyond ``options`` (what makes its config differ).
# ``queue_subnets`` and ``node_scripts`` name sample resources the test builds.
CASE_WIRING: dict[str, dict[str, Any]] = {
    "defaults": {},
    "capacity-block": {"key": True},
    "multi-queue": {"head_node_subnet": True, "queue_subnets": {"debug": 2}, "node_scripts": 2},
    "large-pretrain-stack": {},
    "trn2-ami": {},
    "closed-network": {},
}


def sample_configuration(name: str) -> dict[str, Any]:
    """Case ``name`` rendered with concrete sample ids, as the construct wires it."""
    options = CASES[name]
    wiring = CASE_WIRING[name]
    s3_read: list[tuple[str, str | None]] = []
    neuron_url = None
    if options.install_neuron:
        neuron_url = f"s3://{SAMPLE_BUCKET}/{SAMPLE_SCRIPT_KEY}"
        s3_read.append((SAMPLE_BUCKET, SAMPLE_SCRIPT_KEY))
    extra = [f"scripts/step{i}.sh" for i in range(wiring.get("node_scripts", 0))]
    s3_read.extend(("my-artifacts-bucket", key) for key in extra)
    queue_subnets = {
        queue: [SAMPLE_SUBNET, SAMPLE_EXTRA_SUBNET][:count]
        for queue, count in wiring.get("queue_subnets", {}).items()
    }
    return to_cluster_configuration(
        options,
        region="us-east-1",
        head_node_subnet_id=SAMPLE_HEAD_SUBNET if wiring.get("head_node_subnet") else SAMPLE_SUBNET,
        compute_subnet_id=SAMPLE_SUBNET,
        security_group_ids=[SAMPLE_SECURITY_GROUP],
        file_system_id=SAMPLE_FILE_SYSTEM,
        ssh_allowed_cidr="10.0.0.0/16",
        queue_subnet_ids=queue_subnets,
        neuron_script_url=neuron_url,
        extra_node_scripts=[f"s3://my-artifacts-bucket/{key}" for key in extra],
        s3_read_access=s3_read,
        node_policy_arns=[SAMPLE_KMS_POLICY] if wiring.get("key") else [],
    )
