"""Acknowledging NIST 800-53 R5 and HIPAA Security controls that do not apply, each on the
narrowest construct and with the reason it does not apply.

cdk-nag's NIST and HIPAA packs share most rule names (``NIST.800.53.R5-<Rule>`` and
``HIPAA.Security-<Rule>``); a control that does not apply here does not apply under either pack,
so every helper acknowledges both ids with one reason.
"""

from __future__ import annotations

import jsii
from aws_cdk import IAspect
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from cdk_llm_training.constructs.acknowledgements import acknowledge

COMPLIANCE_PACKS = ("NIST.800.53.R5", "HIPAA.Security")
"""Rule-id prefixes of the cdk-nag packs that share rule names."""

NO_VPC_REASON = (
    "Reads and writes only S3 objects and AWS APIs over TLS, authorised by IAM; it never "
    "talks to a cluster network, and the small tier has no VPC by design (no idle cost)."
)
"""Why the library's workflow and Ground Truth functions run outside a VPC."""

GRANT_POLICY_REASON = (
    "CDK renders this role's grants as one AWS::IAM::Policy attached only to this role and "
    "created, reviewed and deleted with it in this template; a customer-managed policy would "
    "grant exactly the same, least-privilege statements, so IAMNoInlinePolicy adds no control."
)


def acknowledge_control(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (e.g. ``"LambdaDLQ"``) of both compliance packs on ``scope``."""
    for pack in COMPLIANCE_PACKS:
        acknowledge(scope, f"{pack}-{rule}", reason)


def acknowledge_synchronous_function(
    function: IConstruct, *, invoked_by: str, outside_vpc_reason: str | None
) -> None:
    """The controls that do not apply to a Lambda function invoked synchronously.

    :param invoked_by: who invokes it and waits for the answer (named in the reasons).
    :param outside_vpc_reason: why the function runs outside a VPC, or ``None`` when it runs
        in one (then LambdaInsideVPC is not acknowledged).
    """
    acknowledge_control(
        function,
        "LambdaDLQ",
        f"Invoked synchronously by {invoked_by}, which receives and reports every error; "
        "Lambda sends only asynchronous invocations to a dead-letter queue.",
    )
    acknowledge_control(
        function,
        "LambdaConcurrency",
        "Runs once per workflow step. Lambda lets an account reserve concurrency only down to "
        "100 unreserved executions, so a reservation would fail the first deploy in accounts "
        "with the reduced concurrency quota of new accounts.",
    )
    if outside_vpc_reason is not None:
        acknowledge_control(function, "LambdaInsideVPC", outside_vpc_reason)


def acknowledge_single_region_bucket(bucket: IConstruct, what: str) -> None:
    """S3BucketReplicationEnabled on a bucket whose data must stay in its Region.

    :param what: what the bucket holds (named in the reason).
    """
    acknowledge_control(
        bucket,
        "S3BucketReplicationEnabled",
        f"The bucket holds {what}. Training data stays in the Region the user chose "
        "(data residency); versioning, retention on delete and the lifecycle rules recover "
        "from deletes, and cross-Region replication would copy every dataset and checkpoint "
        "to a second Region at twice the storage cost. Add replication to the bucket if your "
        "recovery plan needs a second Region.",
    )


@jsii.implements(IAspect)
class GrantPolicyAcknowledgements:
    """An Aspect that acknowledges IAMNoInlinePolicy on each role's CDK grant policy.

    Only ``DefaultPolicy`` children of ``iam.Role`` are touched: the ``AWS::IAM::Policy`` that
    CDK's ``grant_*`` methods write for exactly that role. A policy that someone wrote by hand
    is still reported. The tier stacks apply it; apply it to your own stack with
    ``Aspects.of(stack).add(GrantPolicyAcknowledgements())``.
    """

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.Policy) and node.node.id == "DefaultPolicy":
            parent = node.node.scope
            if isinstance(parent, iam.Role):
                acknowledge_control(node, "IAMNoInlinePolicy", GRANT_POLICY_REASON)


def acknowledge_lifecycle_bucket_controls(bucket: IConstruct) -> None:
    """Controls that do not apply to the HyperPod lifecycle-scripts bucket."""
    acknowledge_control(
        bucket,
        "S3DefaultEncryptionKMS",
        "Holds only the lifecycle scripts shipped in this package (no training data, no "
        "secrets), which every node reads at boot; SSE-S3 keeps a KMS grant off the boot path.",
    )
    acknowledge_single_region_bucket(bucket, "the cluster's lifecycle scripts")


def acknowledge_group_to_group_all_traffic(group: IConstruct) -> None:
    """EC2RestrictedCommonPorts on the all-traffic rules between security groups that EFA
    needs (EFA user guide: all inbound and outbound traffic to and from the group itself; FSx
    for Lustre with EFA: all traffic between the file system's and the clients' groups).

    Only rules whose peer is a security group are acknowledged: a CIDR peer (``from 0.0.0.0/0``)
    is still reported. Call it after the rules are added.
    """
    for rule in group.node.children:
        rule_id = rule.node.id
        peer = rule_id.removeprefix("from ").removesuffix(":ALL TRAFFIC")
        if rule_id.startswith("from ") and rule_id.endswith(":ALL TRAFFIC") and "/" not in peer:
            acknowledge_control(
                rule,
                "EC2RestrictedCommonPorts",
                "An all-traffic rule between security groups, which EFA requires; it opens "
                "nothing to an address range.",
            )


def acknowledge_nat_route(public_subnet: IConstruct) -> None:
    """VPCNoUnrestrictedRouteToIGW on the public subnet that holds only the NAT gateway."""
    acknowledge_control(
        public_subnet,
        "VPCNoUnrestrictedRouteToIGW",
        "This public subnet holds only the NAT gateway, whose default route must reach the "
        "internet gateway; the compute subnets route through the NAT, have no public IPs and "
        "no route to the internet gateway. Closed-network mode creates neither.",
    )
