"""HyperPodEksCluster options beyond the defaults: the HyperPod EKS add-ons (training operator,
task governance, observability) and the dependency chart from S3 / closed-network mode."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from cdk_support import (
    cfn_lint_findings,
    flow_log_options,
    new_stack,
    resources_of_type,
    template_of,
)
from pydantic import ValidationError

from cdk_llm_training import (
    DependencyChartOptions,
    EksControlPlaneOptions,
    HyperPodAddonOptions,
    HyperPodClusterOptions,
    HyperPodEksCluster,
    ObservabilityAddonOptions,
    TaskGovernanceOptions,
    TeamComputeQuota,
)
from cdk_llm_training.constructs.hyperpod.addons import (
    COMPUTE_QUOTA_TYPE,
    TRAINING_OPERATOR_NAMESPACE,
    TRAINING_OPERATOR_SERVICE_ACCOUNT,
)
from cdk_llm_training.constructs.hyperpod.chart_install import CHART_INSTALL_RESOURCE_TYPE

ADMIN_ARN = "arn:aws:iam::111122223333:role/PlatformAdmin"
CHART_URI = "s3://charts-111122223333/hyperpod/hyperpod-helm-chart-0.1.0.tgz"


def _stack_with(*, nag: bool = True, **kwargs: Any) -> tuple[cdk.Stack, HyperPodEksCluster]:
    stack = new_stack(nag=nag)
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(
                name="compute", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
            ),
        ],
        flow_logs=flow_log_options(stack),
    )
    sg = ec2.SecurityGroup(stack, "Efa", vpc=vpc, allow_all_outbound=False)
    sg.add_ingress_rule(sg, ec2.Port.all_traffic(), "EFA and node traffic from the group")
    sg.add_egress_rule(sg, ec2.Port.all_traffic(), "EFA and node traffic to the group")
    hyperpod = HyperPodEksCluster(
        stack, "HyperPod", vpc=vpc, subnet=vpc.private_subnets[0], security_groups=[sg], **kwargs
    )
    return stack, hyperpod


GOVERNANCE = TaskGovernanceOptions(
    teams=(
        TeamComputeQuota(
            team="research", instance_type="ml.p5.48xlarge", instance_count=1, fair_share_weight=60
        ),
        TeamComputeQuota(
            team="prod",
            instance_type="ml.p5.48xlarge",
            instance_count=1,
            sharing="LendAndBorrow",
            borrow_limit_percent=100,
        ),
    )
)


@pytest.fixture(scope="module")
def addons_template() -> Template:
    """Every add-on on, in a cdk-nag-checked app (building it proves AwsSolutions-clean)."""
    options = HyperPodClusterOptions(
        eks=EksControlPlaneOptions(admin_role_arns=(ADMIN_ARN,)),
        addons=HyperPodAddonOptions(
            training_operator=True,
            task_governance=GOVERNANCE,
            observability=ObservabilityAddonOptions(),
            versions={"amazon-sagemaker-hyperpod-training-operator": "v1.2.1-eksbuild.1"},
        ),
    )
    stack, _ = _stack_with(options=options)
    return template_of(stack)


def _by_name(template: Template) -> dict[str, dict[str, Any]]:
    return {
        addon["Properties"]["AddonName"]: addon
        for addon in resources_of_type(template, "AWS::EKS::Addon").values()
    }


def test_addons_are_off_by_default() -> None:
    options = HyperPodAddonOptions()
    assert not options.training_operator
    assert options.task_governance is None
    assert options.observability is None


def test_training_operator_uses_a_standalone_pod_identity_association(
    addons_template: Template,
) -> None:
    addons = _by_name(addons_template)
    operator = addons["amazon-sagemaker-hyperpod-training-operator"]
    assert operator["Properties"]["AddonVersion"] == "v1.2.1-eksbuild.1"
    assert "PodIdentityAssociations" not in operator["Properties"]
    (association_id, association), *rest = resources_of_type(
        addons_template, "AWS::EKS::PodIdentityAssociation"
    ).items()
    assert rest == []
    assert association["Properties"]["Namespace"] == TRAINING_OPERATOR_NAMESPACE
    assert association["Properties"]["ServiceAccount"] == TRAINING_OPERATOR_SERVICE_ACCOUNT
    assert association_id in operator["DependsOn"]
    cert_manager_id = next(
        lid
        for lid, addon in resources_of_type(addons_template, "AWS::EKS::Addon").items()
        if addon["Properties"]["AddonName"] == "cert-manager"
    )
    assert cert_manager_id in operator["DependsOn"]
    role_id = association["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    role = resources_of_type(addons_template, "AWS::IAM::Role")[role_id]
    assert "AmazonSageMakerHyperPodTrainingOperatorAccess" in json.dumps(
        role["Properties"]["ManagedPolicyArns"]
    )
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert {s["Principal"]["Service"] for s in trust} == {"pods.eks.amazonaws.com"}
    assert all("aws:SourceAccount" in s["Condition"]["StringEquals"] for s in trust)


def test_addons_follow_the_hyperpod_cluster(addons_template: Template) -> None:
    (cluster_id,) = resources_of_type(addons_template, "AWS::SageMaker::Cluster")
    for name in (
        "cert-manager",
        "amazon-sagemaker-hyperpod-training-operator",
        "amazon-sagemaker-hyperpod-taskgovernance",
        "amazon-sagemaker-hyperpod-observability",
    ):
        assert cluster_id in _by_name(addons_template)[name]["DependsOn"], name


def test_task_governance_policy_and_quotas(addons_template: Template) -> None:
    (cluster_id,) = resources_of_type(addons_template, "AWS::SageMaker::Cluster")
    ((scheduler_id, scheduler),) = resources_of_type(
        addons_template, "AWS::SageMaker::ClusterSchedulerConfig"
    ).items()
    assert scheduler["Properties"]["ClusterArn"] == {"Fn::GetAtt": [cluster_id, "ClusterArn"]}
    assert scheduler["Properties"]["SchedulerConfig"] == {
        "FairShare": "Enabled",
        "IdleResourceSharing": "Enabled",
        "PriorityClasses": [
            {"Name": "training", "Weight": 70},
            {"Name": "experimentation", "Weight": 30},
        ],
    }
    quotas = resources_of_type(addons_template, COMPUTE_QUOTA_TYPE)
    assert len(quotas) == 2
    prod = next(q for q in quotas.values() if q["Properties"]["Name"] == "prod")
    assert prod["Properties"]["ComputeQuotaConfig"] == {
        "ComputeQuotaResources": [{"InstanceType": "ml.p5.48xlarge", "Count": 1}],
        "ResourceSharingConfig": {"Strategy": "LendAndBorrow", "BorrowLimit": 100},
        "PreemptTeamTasks": "LowerPriority",
    }
    assert prod["Properties"]["ComputeQuotaTarget"] == {"TeamName": "prod", "FairShareWeight": 0}
    assert all(scheduler_id in q["DependsOn"] for q in quotas.values())


def test_observability_writes_to_a_new_prometheus_workspace(addons_template: Template) -> None:
    ((workspace_id, _),) = resources_of_type(addons_template, "AWS::APS::Workspace").items()
    addon = _by_name(addons_template)["amazon-sagemaker-hyperpod-observability"]
    (association,) = addon["Properties"]["PodIdentityAssociations"]
    assert association["ServiceAccount"] == "hyperpod-observability-operator-otel-collector"
    assert workspace_id in json.dumps(addon["Properties"]["ConfigurationValues"])


def test_addon_template_is_cfn_lint_clean_including_the_compute_quota_schema(
    addons_template: Template,
) -> None:
    assert cfn_lint_findings(addons_template.to_json()) == []


def test_cfn_lint_checks_the_compute_quota_against_its_schema(addons_template: Template) -> None:
    broken = json.loads(json.dumps(addons_template.to_json()))
    quota = next(r for r in broken["Resources"].values() if r["Type"] == COMPUTE_QUOTA_TYPE)
    quota["Properties"]["ComputeQuotaConfig"]["ResourceSharingConfig"]["Strategy"] = "Share"
    assert any("Share" in finding for finding in cfn_lint_findings(broken))


def test_fails_team_quota_on_an_instance_type_without_a_group() -> None:
    with pytest.raises(ValidationError) as error:
        HyperPodClusterOptions(
            addons=HyperPodAddonOptions(
                task_governance=TaskGovernanceOptions(
                    teams=(
                        TeamComputeQuota(
                            team="a", instance_type="ml.g5.48xlarge", instance_count=1
                        ),
                    )
                )
            )
        )
    assert (
        "addons.task_governance team 'a': instance_type 'ml.g5.48xlarge' is not the type of "
        "any instance group; allowed: ml.m5.2xlarge, ml.p5.48xlarge"
    ) in str(error.value)


def test_fails_unknown_addon_version_key() -> None:
    with pytest.raises(ValidationError, match=r"addons\.versions key 'kueue' is not a HyperPod"):
        HyperPodAddonOptions(versions={"kueue": "v1.0.0-eksbuild.1"})


def test_fails_observability_arn_without_endpoint() -> None:
    arn = "arn:aws:aps:us-east-1:111122223333:workspace/ws-abc"
    with pytest.raises(ValidationError, match="go together"):
        ObservabilityAddonOptions(prometheus_workspace_arn=arn)


# -- chart source modes -----------------------------------------------------------------


def test_closed_network_without_an_s3_chart_is_a_synth_error() -> None:
    with pytest.raises(ValueError, match="required in closed-network mode") as error:
        _stack_with(nag=False, closed_network=True)
    assert str(error.value).startswith(
        "dependency_chart.chart_s3_uri: required in closed-network mode (got none)"
    )


def test_closed_network_without_a_helm_layer_is_a_synth_error() -> None:
    options = HyperPodClusterOptions(
        dependency_chart=DependencyChartOptions(chart_s3_uri=CHART_URI)
    )
    with pytest.raises(ValueError, match="kubectl_layer: required in closed-network mode"):
        _stack_with(nag=False, closed_network=True, options=options)


def test_closed_network_takes_the_helm_layer_from_config() -> None:
    layer_arn = "arn:aws:lambda:us-east-1:111122223333:layer:kubectl-helm:7"
    options = HyperPodClusterOptions(
        dependency_chart=DependencyChartOptions(chart_s3_uri=CHART_URI, kubectl_layer_arn=layer_arn)
    )
    stack, _ = _stack_with(nag=False, closed_network=True, options=options)
    functions = resources_of_type(template_of(stack), "AWS::Lambda::Function")
    install = next(f for lid, f in functions.items() if "DependencyChart" in lid)
    assert install["Properties"]["Layers"] == [layer_arn]


def test_fails_layer_arn_that_is_not_a_layer_version() -> None:
    with pytest.raises(ValidationError, match="must be a Lambda layer version ARN"):
        DependencyChartOptions(kubectl_layer_arn="arn:aws:lambda:us-east-1:111122223333:layer:x")


def test_closed_network_installs_the_s3_package_with_the_given_layer() -> None:
    stack = new_stack(nag=False)
    layer = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Helm", "arn:aws:lambda:us-east-1:111122223333:layer:kubectl-helm:3"
    )
    options = HyperPodClusterOptions(
        dependency_chart=DependencyChartOptions(chart_s3_uri=CHART_URI)
    )
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(
                name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=20
            )
        ],
    )
    sg = ec2.SecurityGroup(stack, "Efa", vpc=vpc)
    HyperPodEksCluster(
        stack,
        "HyperPod",
        vpc=vpc,
        subnet=vpc.isolated_subnets[0],
        security_groups=[sg],
        options=options,
        closed_network=True,
        kubectl_layer=layer,
    )
    template = template_of(stack)
    ((_, install),) = resources_of_type(template, CHART_INSTALL_RESOURCE_TYPE).items()
    assert install["Properties"]["ChartS3Uri"] == CHART_URI
    assert "ChartRepository" not in install["Properties"]
    function = next(
        f
        for lid, f in resources_of_type(template, "AWS::Lambda::Function").items()
        if lid.startswith("HyperPodDependencyChartFunction")
    )
    assert function["Properties"]["Layers"] == [
        "arn:aws:lambda:us-east-1:111122223333:layer:kubectl-helm:3"
    ]
    assert "HELM_DOWNLOAD_URL" not in json.dumps(function["Properties"].get("Environment", {}))
    statements = [
        s
        for p in resources_of_type(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ReadPackagedChart"
    ]
    assert statements == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":s3:::charts-111122223333/hyperpod/hyperpod-helm-chart-0.1.0.tgz",
                    ],
                ]
            },
            "Sid": "ReadPackagedChart",
        }
    ]
