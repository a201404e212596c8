"""HyperPod recipe runs of ClusterTrainingRun: the deploy-time catalog of the pinned
aws/sagemaker-hyperpod-recipes release, the Kubernetes RBAC the controller needs for its job
kind (Kubeflow ``PyTorchJob``, or the HyperPod training operator's ``HyperPodPyTorchJob`` when
the cluster has that add-on), and the controller settings that read both."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Annotations, CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from cdk_llm_training.assets import asset_path
from cdk_llm_training.config.cluster_training_run import HyperPodRecipesOptions
from cdk_llm_training.constructs._trust import service_principal_from, this_account_arn
from cdk_llm_training.constructs.acknowledgements import acknowledge, acknowledge_wildcards
from cdk_llm_training.constructs.cluster_training_run.controller import RunController
from cdk_llm_training.constructs.hyperpod.cluster import HyperPodEksCluster
from cdk_llm_training.constructs.runtime_function import RUNTIME_CODE_EXCLUDE, RuntimeFunction

CATALOG_RESOURCE_TYPE = "Custom::HyperPodRecipeCatalog"
RBAC_RESOURCE_TYPE = "Custom::TrainingRunRecipeRbac"
"""CloudFormation types of the catalog fetch and of the controller's RBAC release."""
RECIPE_RUNNER_GROUP = "llm-training-run-recipes"
"""Kubernetes group of the controller's access entry, bound to :data:`RECIPE_RUNNER_ROLE`."""
RECIPE_RUNNER_ROLE = "llm-training-run-recipes"
RBAC_RELEASE = "llm-training-run-recipes"
PYTORCHJOB_VERBS = ("create", "get", "list", "watch", "delete")
"""What the controller does with its job kind in the training namespace.
AmazonEKSEditPolicy grants no custom resources (EKS access policy reference: its rules name
only core, apps, autoscaling, batch, discovery, extensions, networking and policy), so a Role
bound to the access entry's Kubernetes group grants these; ConfigMaps come with the policy."""
CONVERTER = "convert_recipes.py"
BUILD_TIMEOUT = Duration.minutes(20)
JOB_KIND_ENV = "RECIPE_JOB_KIND"
HYPERPOD_JOB_KIND = "HyperPodPyTorchJob"
"""The controller renders this kind (``JOB_KIND_ENV``) when the cluster has the HyperPod
training operator add-on; without the variable it renders Kubeflow's ``PyTorchJob``."""
JOB_RESOURCES = {
    "kubeflow.org": "pytorchjobs",
    "sagemaker.amazonaws.com": "hyperpodpytorchjobs",
}
"""API group -> resource of each job kind (the HyperPod CLI names the CRD
``hyperpodpytorchjobs.sagemaker.amazonaws.com``)."""
PYYAML_VERSION = "6.0.2"


def recipe_rbac_manifests(namespace: str, *, hyperpod_job: bool = False) -> list[dict[str, Any]]:
    """The Role and RoleBinding that let :data:`RECIPE_RUNNER_GROUP` drive PyTorchJobs (and
    HyperPodPyTorchJobs with ``hyperpod_job``) in ``namespace``, and nothing else."""
    groups = list(JOB_RESOURCES) if hyperpod_job else ["kubeflow.org"]
    rules: list[dict[str, Any]] = []
    for group in groups:
        resource = JOB_RESOURCES[group]
        rules += [
            {"apiGroups": [group], "resources": [resource], "verbs": list(PYTORCHJOB_VERBS)},
            {"apiGroups": [group], "resources": [f"{resource}/status"], "verbs": ["get"]},
        ]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": RECIPE_RUNNER_ROLE, "namespace": namespace},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": RECIPE_RUNNER_ROLE, "namespace": namespace},
            "subjects": [
                {
                    "kind": "Group",
                    "name": RECIPE_RUNNER_GROUP,
                    "apiGroup": "rbac.authorization.k8s.io",
                }
            ],
            "roleRef": {
                "kind": "Role",
                "name": RECIPE_RUNNER_ROLE,
                "apiGroup": "rbac.authorization.k8s.io",
            },
        },
    ]


def build_spec() -> codebuild.BuildSpec:
    """Download the release archive, check its embedded commit, convert, upload."""
    archive = "https://github.com/${REPOSITORY}/archive/refs/tags/${RELEASE}.tar.gz"
    return codebuild.BuildSpec.from_object(
        {
            "version": "0.2",
            "phases": {
                "install": {
                    "commands": [
                        # PyYAML when the image lacks it (unverified which images ship it).
                        'python3 -c "import yaml" 2>/dev/null || '
                        f'pip3 install --quiet "PyYAML=={PYYAML_VERSION}"'
                    ]
                },
                "build": {
                    "commands": [
                        "curl --fail --silent --show-error --location --retry 3 "
                        f'-o release.tar.gz "{archive}"',
                        # git archive (which GitHub's archives come from) embeds the commit.
                        'ARCHIVE_COMMIT="$(gzip -dc release.tar.gz | git get-tar-commit-id)"',
                        'if [ "$ARCHIVE_COMMIT" != "$COMMIT" ]; then echo "$RELEASE is commit '
                        '$ARCHIVE_COMMIT, not the pinned $COMMIT"; exit 1; fi',
                        "mkdir release && tar -xzf release.tar.gz -C release --strip-components=1",
                        f"python3 {CONVERTER} --source release --out catalog "
                        '--repository "$REPOSITORY" --release "$RELEASE" --commit "$COMMIT" '
                        '--archive-sha256 "$(sha256sum release.tar.gz | cut -d " " -f 1)"',
                        'aws s3 cp catalog "s3://${BUCKET}/${PREFIX}" --recursive '
                        "--only-show-errors",
                    ]
                },
            },
        }
    )


class RecipeCatalog(Construct):
    """``Project`` (CodeBuild, no VPC; logs to ``BuildLogs``), ``Source`` (the converter),
    ``Function`` (starts the build and waits for it) and ``Resource`` (the custom resource)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: HyperPodRecipesOptions,
        bucket: s3.IBucket,
        data_key: kms.IKey | None,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.prefix = options.catalog_prefix
        source = s3_assets.Asset(
            self,
            "Source",
            path=str(asset_path("recipes")),
            exclude=list(RUNTIME_CODE_EXCLUDE),  # no bytecode: a stable asset hash
        )
        # CodeBuild sends aws:SourceAccount and aws:SourceArn when it assumes a service role
        # (CodeBuild user guide, "Cross-service confused deputy prevention"); the project's
        # own ARN would be a cycle, so any project of this account in this Region.
        role = iam.Role(
            self,
            "ProjectRole",
            assumed_by=service_principal_from(
                "codebuild.amazonaws.com", this_account_arn("codebuild", "project/*")
            ),
            description="Recipe catalog build: writes the converted release to the artifacts zone.",
        )
        self.project = codebuild.Project(
            self,
            "Project",
            role=role,
            description="Fetches the pinned HyperPod recipes release and converts it to JSON.",
            source=codebuild.Source.s3(bucket=source.bucket, path=source.s3_object_key),
            build_spec=build_spec(),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
            ),
            encryption_key=log_key,
            timeout=BUILD_TIMEOUT,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(
                    log_group=logs.LogGroup(
                        self,
                        "BuildLogs",
                        retention=log_retention,
                        encryption_key=log_key,
                        removal_policy=removal_policy,
                    )
                )
            ),
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteCatalog",
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{self.prefix}*")],
            )
        )
        if data_key is not None:
            data_key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
        self.function = RuntimeFunction(
            self,
            "Function",
            handler="recipe_catalog.handler",
            description="Runs the recipe catalog build and answers CloudFormation.",
            role_description="Recipe catalog: starts and reads one CodeBuild project's builds.",
            invoked_by="CloudFormation (this custom resource)",
            log_retention=log_retention,
            log_key=log_key,
            removal_policy=removal_policy,
            memory_mib=256,
            statements=[
                iam.PolicyStatement(
                    sid="RunCatalogBuild",
                    actions=["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                    resources=[self.project.project_arn],
                )
            ],
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type=CATALOG_RESOURCE_TYPE,
            properties={
                "ProjectName": self.project.project_name,
                "Repository": options.repository,
                "Release": options.release,
                "Commit": options.commit,
                "Bucket": bucket.bucket_name,
                "Prefix": self.prefix,
            },
        )
        acknowledge_wildcards(
            role,
            "CodeBuild's generated grants: its own log streams and report groups (named at "
            "build time), the source asset, the catalog keys under the release prefix, and the "
            "KMS actions of the log key.",
        )
        acknowledge(
            self.project,
            "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
            "The source is the converter's S3 asset; the build downloads the public recipes "
            "release over HTTPS with no credentials, and checks its commit.",
        )


def add_recipe_support(
    scope: Construct,
    *,
    controller: RunController,
    hyperpod: HyperPodEksCluster,
    options: HyperPodRecipesOptions,
    bucket: s3.IBucket,
    data_key: kms.IKey | None,
    log_key: kms.IKey,
    log_retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
) -> RecipeCatalog:
    """``RecipeCatalog`` and ``RecipeRbac`` in ``scope``; the controller reads the catalog
    and joins :data:`RECIPE_RUNNER_GROUP`."""
    catalog = RecipeCatalog(
        scope,
        "RecipeCatalog",
        options=options,
        bucket=bucket,
        data_key=data_key,
        log_key=log_key,
        log_retention=log_retention,
        removal_policy=removal_policy,
    )
    controller.function.add_environment("RECIPES_BUCKET", bucket.bucket_name)
    controller.function.add_environment("RECIPES_PREFIX", catalog.prefix)
    controller.role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadRecipeCatalog",
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{catalog.prefix}*")],
        )
    )
    hyperpod_job = hyperpod.options.addons.training_operator
    if hyperpod_job:  # chosen at synth from the cluster's add-ons, never guessed at run time
        controller.function.add_environment(JOB_KIND_ENV, HYPERPOD_JOB_KIND)
    controller.access_entry.kubernetes_groups = [RECIPE_RUNNER_GROUP]
    manifests = recipe_rbac_manifests(controller.namespace, hyperpod_job=hyperpod_job)
    chart = hyperpod.dependency_chart
    cluster = hyperpod.eks_cluster
    if chart is None or cluster is None:
        Annotations.of(scope).add_warning_v2(
            "cdk-llm-training/cluster-training-run:recipeRbacNotInstalled",
            "No in-stack dependency chart install: apply the Role and RoleBinding that let "
            f"group {RECIPE_RUNNER_GROUP} create, read and delete "
            f"{' and '.join(r['resources'][0] for r in manifests[0]['rules'][::2])} in namespace "
            f"{controller.namespace!r} before starting a recipe run: "
            f"{json.dumps(manifests, sort_keys=True)}",
        )
        return catalog
    rbac = CustomResource(
        scope,
        "RecipeRbac",
        service_token=chart.function.function_arn,
        resource_type=RBAC_RESOURCE_TYPE,
        properties={
            "ClusterName": cluster.ref,
            "ClusterEndpoint": cluster.attr_endpoint,
            "ClusterCertificateAuthority": cluster.attr_certificate_authority_data,
            "Release": RBAC_RELEASE,
            "Namespace": controller.namespace,
            "Values": "{}",
            "Manifests": json.dumps(manifests, sort_keys=True),
        },
    )
    rbac.node.add_dependency(chart.resource)
    return catalog
