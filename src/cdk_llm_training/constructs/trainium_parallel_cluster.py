"""TrainiumParallelCluster: AWS ParallelCluster 3 (Slurm) on Trainium through CloudFormation."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Annotations, Aws, CfnResource, CfnStack, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from cdk_llm_training.assets import asset_path
from cdk_llm_training.config.trainium_parallel_cluster import (
    PARALLELCLUSTER_VERSION,
    TrainiumClusterOptions,
    to_cluster_configuration,
)
from cdk_llm_training.constructs._bring_your_own import not_both
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.training_file_system.reference import LustreFileSystemLike

CLUSTER_RESOURCE_TYPE = "Custom::PclusterCluster"

# IP addresses one node takes in its subnet: one per EFA network card (ParallelCluster attaches
# an EFA interface to every network card of the instance).
_IPS_PER_NODE: Mapping[str, int] = {
    "trn1.32xlarge": 8,
    "trn1n.32xlarge": 16,
    "trn2.48xlarge": 16,
}
# AWS reserves five addresses in every subnet; keep a few more for the head node and FSx ENIs.
_RESERVED_IPS = 5 + 8


def provider_template_url(version: str = PARALLELCLUSTER_VERSION) -> str:
    """URL of the official ParallelCluster custom-resource provider template, in the deploying
    Region (an ``Fn::Join`` of ``AWS::Region`` and ``AWS::URLSuffix`` at synth time)."""
    return (
        f"https://{Aws.REGION}-aws-parallelcluster.s3.{Aws.REGION}.{Aws.URL_SUFFIX}"
        f"/parallelcluster/{version}/templates/custom_resource/cluster.yaml"
    )


def neuron_script_path() -> Path:
    """The packaged OnNodeConfigured script that installs the Neuron SDK."""
    return asset_path("lifecycle_scripts", "parallelcluster", "install_neuron.sh")


@jsii.implements(ec2.IConnectable)
class TrainiumParallelCluster(Construct):
    """AWS ParallelCluster 3 with Slurm and Trainium queues, deployed by CloudFormation.

    Creates the official ParallelCluster custom-resource provider as a nested stack (template
    from the ParallelCluster bucket of the deploying Region, version pinned to
    ``PARALLELCLUSTER_VERSION``) and one ``Custom::PclusterCluster`` resource whose
    ``ClusterConfiguration`` is generated from :class:`TrainiumClusterOptions`.

    Defaults: IMDSv2 only everywhere and a secured head-node IMDS; Slurm with
    ``QueueUpdateStrategy: DRAIN``; one queue of 16 x trn1.32xlarge, EFA on, cluster placement
    group (off for Capacity Blocks), exclusive jobs; every node joins ``security_groups`` (the
    EFA group) and mounts the FSx for Lustre ``file_system`` at ``/fsx``; the
    Neuron SDK installed by a packaged ``OnNodeConfigured`` script (a CDK file asset) unless a
    Neuron AMI is used; Session Manager instead of SSH keys; SSH open to the VPC CIDR only;
    cluster logs in CloudWatch Logs for 30 days.

    Example::

        cluster = TrainiumParallelCluster(
            self, "Trainium",
            vpc=network.vpc, subnet=network.compute_subnet,
            security_groups=network.security_groups,
            file_system=fsx,
        )
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        subnet: ec2.ISubnet,
        security_groups: Sequence[ec2.ISecurityGroup],
        file_system: LustreFileSystemLike,
        options: TrainiumClusterOptions | None = None,
        head_node_subnet: ec2.ISubnet | None = None,
        queue_subnets: Mapping[str, Sequence[ec2.ISubnet]] | None = None,
        scripts_bucket: s3.IBucket | None = None,
        node_scripts: Sequence[str] = (),
        scripts_key: kms.IKey | None = None,
        provider_role: iam.IRole | None = None,
        provider_policies: Sequence[iam.IManagedPolicy] = (),
    ) -> None:
        """Create the provider stack and the cluster.

        :param vpc: VPC of the cluster.
        :param subnet: the single-AZ private compute subnet of every queue.
        :param security_groups: groups every node joins (at least the EFA group with
            all-traffic self-referencing rules, and the group FSx allows).
        :param file_system: the FSx for Lustre file system every node mounts at
            ``options.fsx_mount_dir`` (:class:`TrainingFileSystem`, EFA-enabled for this
            tier, ``fsx.LustreFileSystem`` or :class:`LustreFileSystemAttributes`).
        :param options: plain-data settings. Default: ``TrainiumClusterOptions()``.
        :param head_node_subnet: subnet of the head node. Default: ``subnet``.
        :param queue_subnets: per-queue subnet override, by queue name. An EFA queue accepts
            exactly one subnet. Default: every queue uses ``subnet``.
        :param scripts_bucket: bucket holding your own node scripts; nodes get read access to
            the ``node_scripts`` keys. Default none.
        :param node_scripts: object keys in ``scripts_bucket`` run (in order, after the Neuron
            install) as ``OnNodeConfigured`` actions. Default none.
        :param scripts_key: KMS key that encrypts ``scripts_bucket``; nodes get
            ``kms:Decrypt`` on it through a managed policy. Default none.
        :param provider_role: role for the provider's Lambda function (``CustomLambdaRole``).
            Default: the provider stack creates its own role from ParallelCluster's policies.
        :param provider_policies: extra managed policies for the provider's own role
            (``AdditionalIamPolicies``). Default none. Not with ``provider_role``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "TrainiumParallelCluster")
        self.options = options or TrainiumClusterOptions()
        opts = self.options
        if not security_groups:
            raise ValueError(
                "security_groups is empty; pass at least the EFA security group (all traffic "
                "to and from itself)."
            )
        not_both(
            "TrainiumParallelCluster",
            ("provider_role", provider_role),
            ("provider_policies", provider_policies),
            because="the policies attach to the role the provider stack creates",
        )
        if node_scripts and scripts_bucket is None:
            raise ValueError(
                f"node_scripts {list(node_scripts)!r} needs scripts_bucket: the scripts are "
                "object keys in that bucket."
            )
        stack = Stack.of(self)
        if (
            not Token.is_unresolved(stack.stack_name)
            and stack.stack_name.lower() == opts.cluster_name.lower()
        ):
            raise ValueError(
                f"cluster_name {opts.cluster_name!r} equals the stack name; ParallelCluster "
                "creates its own stack with the cluster name, so pick another name."
            )
        head_subnet = head_node_subnet or subnet
        public_paths = {s.node.path for s in vpc.public_subnets}
        if subnet.node.path in public_paths:
            raise ValueError(
                f"subnet {subnet.node.path!r} is a public subnet; Trainium compute nodes must "
                "run in a private subnet."
            )
        if head_subnet.node.path in public_paths and not opts.head_node.imds_secured:
            raise ValueError(
                "head_node.imds_secured is false while the head node is in the public subnet "
                f"{head_subnet.node.path!r}; a public head node must keep IMDS secured."
            )
        self._check_subnet_size(subnet)

        self.security_groups = list(security_groups)
        self.file_system = file_system
        self._connections = ec2.Connections(security_groups=self.security_groups)

        neuron_url: str | None = None
        s3_read: list[tuple[str, str | None]] = []
        self.neuron_script: s3_assets.Asset | None = None
        if opts.install_neuron:
            self.neuron_script = s3_assets.Asset(
                self, "NeuronScript", path=str(neuron_script_path())
            )
            neuron_url = self.neuron_script.s3_object_url
            s3_read.append((self.neuron_script.s3_bucket_name, self.neuron_script.s3_object_key))
        elif opts.custom_ami_id is None:
            Annotations.of(self).add_warning_v2(
                "cdk-llm-training/trainium-parallel-cluster:noNeuronSdk",
                "install_neuron is off and no custom_ami_id is set: the compute nodes start "
                "from the ParallelCluster AMI without the Neuron SDK.",
            )
        extra_urls: list[str] = []
        if scripts_bucket is not None:
            for object_key in node_scripts:
                extra_urls.append(scripts_bucket.s3_url_for_object(object_key))
                s3_read.append((scripts_bucket.bucket_name, object_key))

        self.node_policy: iam.ManagedPolicy | None = None
        if scripts_key is not None:
            self.node_policy = iam.ManagedPolicy(
                self,
                "NodePolicy",
                description="Lets ParallelCluster nodes decrypt the node scripts.",
                statements=[
                    iam.PolicyStatement(actions=["kms:Decrypt"], resources=[scripts_key.key_arn]),
                ],
            )

        self.cluster_configuration: dict[str, Any] = to_cluster_configuration(
            opts,
            region=Aws.REGION,
            partition=Aws.PARTITION,
            head_node_subnet_id=head_subnet.subnet_id,
            compute_subnet_id=subnet.subnet_id,
            security_group_ids=[sg.security_group_id for sg in self.security_groups],
            file_system_id=file_system.file_system_id,
            ssh_allowed_cidr=vpc.vpc_cidr_block,
            queue_subnet_ids={
                name: [s.subnet_id for s in subnets]
                for name, subnets in (queue_subnets or {}).items()
            },
            neuron_script_url=neuron_url,
            extra_node_scripts=extra_urls,
            s3_read_access=s3_read,
            node_policy_arns=[self.node_policy.managed_policy_arn] if self.node_policy else [],
        )

        parameters: dict[str, str] = {}
        if provider_role is not None:
            parameters["CustomLambdaRole"] = provider_role.role_arn
        elif provider_policies:
            parameters["AdditionalIamPolicies"] = ",".join(
                p.managed_policy_arn for p in provider_policies
            )
        self.provider = CfnStack(
            self,
            "Provider",
            template_url=provider_template_url(),
            parameters=parameters or None,
        )

        self.resource = CfnResource(
            self,
            "Resource",
            type=CLUSTER_RESOURCE_TYPE,
            properties={
                "ServiceToken": self.provider.get_att("Outputs.ServiceToken").to_string(),
                "ClusterName": opts.cluster_name,
                "ClusterConfiguration": self.cluster_configuration,
                "DeletionPolicy": opts.deletion_policy,
            },
        )
        if self.node_policy is not None:
            self.resource.node.add_dependency(self.node_policy)

    # -- attributes ----------------------------------------------------------------------

    @property
    def connections(self) -> ec2.Connections:
        """The security groups every node joins (allow FSx or other peers through these)."""
        return self._connections

    @property
    def cluster_name(self) -> str:
        """The ParallelCluster cluster name (also the name of the stack ParallelCluster
        creates)."""
        return self.options.cluster_name

    @property
    def service_token(self) -> str:
        """``ServiceToken`` output of the provider stack (the provider's Lambda ARN)."""
        return self.provider.get_att("Outputs.ServiceToken").to_string()

    @property
    def provider_log_group_arn(self) -> str:
        """Log group of the provider's Lambda function (``Outputs.LogGroupArn``)."""
        return self.provider.get_att("Outputs.LogGroupArn").to_string()

    @property
    def head_node_instance_id(self) -> str:
        """EC2 instance id of the head node (``Fn::GetAtt headNode.instanceId``)."""
        return self.resource.get_att("headNode.instanceId").to_string()

    @property
    def head_node_private_ip(self) -> str:
        """Private IPv4 address of the head node (``headNode.privateIpAddress``)."""
        return self.resource.get_att("headNode.privateIpAddress").to_string()

    @property
    def validation_messages(self) -> str:
        """JSON list of ParallelCluster's validation messages from the last create or update
        (``validationMessages``)."""
        return self.resource.get_att("validationMessages").to_string()

    # -- validation ----------------------------------------------------------------------

    def _check_subnet_size(self, subnet: ec2.ISubnet) -> None:
        cidr = subnet.ipv4_cidr_block
        if Token.is_unresolved(cidr):
            return
        usable = ipaddress.ip_network(cidr, strict=False).num_addresses - _RESERVED_IPS
        needed = sum(
            cr.max_count * _IPS_PER_NODE[cr.instance_type]
            for queue in self.options.queues
            for cr in queue.compute_resources
        )
        if needed > usable:
            raise ValueError(
                f"subnet {cidr} is too small: it has {usable} usable addresses but the queues' "
                f"max_count nodes need {needed} (one per EFA network card); use a larger subnet "
                "or lower max_count."
            )
