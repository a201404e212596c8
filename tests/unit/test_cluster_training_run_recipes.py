"""ClusterTrainingRun's recipe support on the medium tier, as synthesized: the deploy-time
fetch (CodeBuild outside the VPC, its trust and grants, the custom resource pinning release
and commit), the RBAC release installed by the dependency-chart function, and the
controller's catalog settings; recipes off removes all of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from cdk_llm_training.config import StackName
from cdk_llm_training.config.cluster_training_run import (
    DEFAULT_RECIPES_COMMIT,
    HyperPodRecipesOptions,
)
from cdk_llm_training.constructs.cluster_training_run.recipes import (
    RECIPE_RUNNER_GROUP,
    recipe_rbac_manifests,
)


@pytest.fixture(scope="module")
def template(tier_templates: dict[StackName, Template]) -> Template:
    return tier_templates[StackName.MEDIUM_FINE_TUNE]


def _one(template: Template, kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = [
        (k, v) for k, v in template.find_resources(kind).items() if k.startswith(prefix)
    ]
    return logical_id, dict(resource)


def test_catalog_resource_pins_release_and_commit(template: Template) -> None:
    project_id, project = _one(template, "AWS::CodeBuild::Project", "RunsRecipeCatalogProject")
    _, resource = _one(template, "Custom::HyperPodRecipeCatalog", "RunsRecipeCatalog")
    props = resource["Properties"]
    assert props["Repository"] == "aws/sagemaker-hyperpod-recipes"
    assert (props["Release"], props["Commit"]) == ("v2.0.9", DEFAULT_RECIPES_COMMIT)
    assert props["Prefix"] == "recipes/hyperpod/v2.0.9/"
    assert props["ProjectName"] == {"Ref": project_id}
    # Outside the training VPC: the build reaches github.com through CodeBuild's network.
    assert "VpcConfig" not in project["Properties"]
    spec = project["Properties"]["Source"]["BuildSpec"]
    assert "git get-tar-commit-id" in spec
    assert "archive/refs/tags/${RELEASE}.tar.gz" in spec


def test_build_role_trust_and_grants(template: Template) -> None:
    _, role = _one(template, "AWS::IAM::Role", "RunsRecipeCatalogProjectRole")
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}
    _, policy = _one(template, "AWS::IAM::Policy", "RunsRecipeCatalogProjectRoleDefaultPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (write,) = [s for s in statements if s.get("Sid") == "WriteCatalog"]
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"]["Fn::Join"][1][-1] == "/recipes/hyperpod/v2.0.9/*"
    _, fn_policy = _one(template, "AWS::IAM::Policy", "RunsRecipeCatalogFunctionRole")
    (run,) = [
        s
        for s in fn_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "RunCatalogBuild"
    ]
    assert sorted(run["Action"]) == ["codebuild:BatchGetBuilds", "codebuild:StartBuild"]


def test_rbac_release_binds_the_controllers_group(template: Template) -> None:
    chart_fn, _ = _one(template, "AWS::Lambda::Function", "HyperPodDependencyChartFunction")
    chart_cr, _ = _one(template, "Custom::HyperPodDependencyChart", "HyperPodDependencyChart")
    rbac_id, rbac = _one(template, "Custom::TrainingRunRecipeRbac", "RunsRecipeRbac")
    props = rbac["Properties"]
    assert props["ServiceToken"] == {"Fn::GetAtt": [chart_fn, "Arn"]}
    assert json.loads(props["Manifests"]) == recipe_rbac_manifests("default")
    assert props["Namespace"] == "default"
    assert chart_cr in rbac["DependsOn"]
    _, entry = _one(template, "AWS::EKS::AccessEntry", "RunsControllerAccessEntry")
    assert entry["Properties"]["KubernetesGroups"] == [RECIPE_RUNNER_GROUP]
    (role,) = [m for m in recipe_rbac_manifests("default") if m["kind"] == "Role"]
    verbs = {tuple(r["resources"]): r["verbs"] for r in role["rules"]}
    assert verbs == {
        ("pytorchjobs",): ["create", "get", "list", "watch", "delete"],
        ("pytorchjobs/status",): ["get"],
    }
    assert rbac_id


def test_controller_reads_the_catalog(template: Template) -> None:
    _, function = _one(template, "AWS::Lambda::Function", "RunsControllerFunction")
    env = function["Properties"]["Environment"]["Variables"]
    assert env["RECIPES_PREFIX"] == "recipes/hyperpod/v2.0.9/"
    assert "Ref" in env["RECIPES_BUCKET"]
    # No training operator add-on on the ready tier: the controller renders PyTorchJob.
    assert "RECIPE_JOB_KIND" not in env
    assert not template.find_resources(
        "AWS::EKS::Addon",
        {"Properties": {"AddonName": "amazon-sagemaker-hyperpod-training-operator"}},
    )


def test_options_validate_the_pin() -> None:
    with pytest.raises(ValueError, match=r"recipes\.commit 'main'"):
        HyperPodRecipesOptions(commit="main")
    with pytest.raises(ValueError, match=r"recipes\.prefix"):
        HyperPodRecipesOptions(prefix="/x")
    assert HyperPodRecipesOptions(release="v2.1.0").catalog_prefix == "recipes/hyperpod/v2.1.0/"
