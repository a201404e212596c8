"""HyperPod recipe runs: Hydra-style overrides, interpolations, the deploy-time converter on a
recipe tree generated here (the layout of an aws/sagemaker-hyperpod-recipes release, none of
its files), and the rendered ConfigMap and PyTorchJob against the Kubernetes API schemas
(kubernetes-validate) and the Kubeflow PyTorchJob CRD (a schema written below)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from cdk_llm_training.assets.recipes.convert_recipes import convert
from cdk_llm_training.assets.runtime import cluster_run_recipe as recipe
from cdk_llm_training.assets.runtime.manifest_chart import write_manifest_chart
from cdk_llm_training.assets.runtime.recipe_catalog import CatalogError, fetch
from cdk_llm_training.assets.runtime.recipe_overrides import (
    OverrideError,
    apply_overrides,
    parse_value,
)
from cdk_llm_training.constructs.cluster_training_run.recipes import recipe_rbac_manifests

KUBERNETES = "1.32"

# The Kubeflow training operator v1.7.0 PyTorchJob CRD, as the HyperPod dependency chart
# ships it (aws/sagemaker-hyperpod-cli, helm_chart/HyperPodHelmChart/charts/training-operators/
# crds/pytorchjobs.kubeflow.org-CustomResourceDefinition.yaml): group kubeflow.org, version
# v1; spec requires pytorchReplicaSpecs (a map of replica type to replicas: int32,
# restartPolicy: Always | OnFailure | Never | ExitCode, template: a PodTemplateSpec); runPolicy
# holds activeDeadlineSeconds (int64), backoffLimit (int32), cleanPodPolicy (All | Running |
# None), suspend (bool), ttlSecondsAfterFinished (int32), schedulingPolicy; nprocPerNode is a
# string. The API server prunes unknown fields, so this schema refuses them to catch typos.
PYTORCHJOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "kubeflow.org/v1"},
        "kind": {"const": "PyTorchJob"},
        "metadata": {
            "type": "object",
            "required": ["name", "namespace"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["pytorchReplicaSpecs"],
            "additionalProperties": False,
            "properties": {
                "elasticPolicy": {"type": "object"},
                "nprocPerNode": {"type": "string"},
                "runPolicy": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "activeDeadlineSeconds": {"type": "integer", "minimum": 1},
                        "backoffLimit": {"type": "integer", "minimum": 0},
                        "cleanPodPolicy": {"enum": ["All", "Running", "None"]},
                        "schedulingPolicy": {"type": "object"},
                        "suspend": {"type": "boolean"},
                        "ttlSecondsAfterFinished": {"type": "integer"},
                    },
                },
                "pytorchReplicaSpecs": {
                    "type": "object",
                    "propertyNames": {"enum": ["Master", "Worker"]},
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["template"],
                        "properties": {
                            "replicas": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                            "restartPolicy": {"enum": ["Always", "OnFailure", "Never", "ExitCode"]},
                            "template": {"type": "object"},
                        },
                    },
                },
            },
        },
    },
}

SFT_RECIPE = """\
display_name: Tiny SFT with LoRA
run:
  name: tiny-sft
  model_type: llm_finetuning_aws
  results_dir: ${base_results_dir}/${.name}
trainer:
  devices: 8
  num_nodes: 1
training_config:
  training_args:
    learning_rate: 0.0001
    max_epochs: 5
    seed: 42
    adam_betas: [0.9, 0.95]
  model_config:
    model_name_or_path: org/tiny-model
    peft_config:
      r: 16
"""
RAY_RECIPE = """\
run:
  name: tiny-grpo
  model_type: verl
trainer:
  devices: 8
  num_nodes: 1
"""
REGIONAL = {
    "_comment": "generated for this test",
    "llmft_tiny_vision": {"k8s": {"container_image": {"prod": {"us-east-1": "vision:1"}}}},
    "llmft": {
        "k8s": {
            "container_image": {
                "beta": {"us-east-1": "beta:1"},
                "prod": {"us-east-1": "111122223333.dkr.ecr.us-east-1.amazonaws.com/r:llmft-1"},
            }
        }
    },
}
NAME = "fine-tuning/llama/llmft_tiny_sft_lora"


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A release checkout with two recipes and the llmft regional parameters."""
    root = tmp_path / "release"
    recipes = root / "recipes_collection" / "recipes"
    (recipes / "fine-tuning" / "llama").mkdir(parents=True)
    (recipes / "fine-tuning" / "llama" / "llmft_tiny_sft_lora.yaml").write_text(SFT_RECIPE)
    (recipes / "fine-tuning" / "qwen").mkdir(parents=True)
    (recipes / "fine-tuning" / "qwen" / "verl-grpo-tiny.yaml").write_text(RAY_RECIPE)
    params = root / "launcher" / "recipe_templatization" / "llmft"
    params.mkdir(parents=True)
    (params / "llmft_regional_parameters.json").write_text(json.dumps(REGIONAL))
    return root


@pytest.fixture
def catalog(release: Path, tmp_path: Path) -> dict[str, Any]:
    meta = {"repository": "o/r", "release": "v9", "commit": "c" * 40, "archiveSha256": "a" * 64}
    return convert(release, tmp_path / "catalog", meta, yaml.safe_load)


# -- converter -----------------------------------------------------------------------------


def test_converter_writes_every_recipe_and_the_launchers_image_per_region(
    catalog: dict[str, Any], tmp_path: Path
) -> None:
    assert set(catalog["recipes"]) == {NAME, "fine-tuning/qwen/verl-grpo-tiny"}
    entry = catalog["recipes"][NAME]
    # First pattern contained in the file name wins; "prod" images only.
    assert entry["images"] == {
        "us-east-1": "111122223333.dkr.ecr.us-east-1.amazonaws.com/r:llmft-1"
    }
    assert entry["modelType"] == "llm_finetuning_aws"
    assert catalog["recipes"]["fine-tuning/qwen/verl-grpo-tiny"]["images"] == {}
    stored = json.loads((tmp_path / "catalog" / "recipes" / f"{NAME}.json").read_text())
    assert stored["training_config"]["training_args"]["adam_betas"] == [0.9, 0.95]
    index = json.loads((tmp_path / "catalog" / "index.json").read_text())
    assert index["commit"] == "c" * 40


def test_converter_refuses_a_tree_without_recipes(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no recipes"):
        convert(tmp_path, tmp_path / "out", {}, yaml.safe_load)


# -- overrides -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1000", 1000),
        ("1_000", 1000),
        ("-3", -3),
        ("1e-4", 1e-4),
        ("0.5", 0.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("2.", 2.0),
        ("010", "010"),
        ("1.2.3", "1.2.3"),
        ("", ""),
        ("true", True),
        ("False", False),
        ("null", None),
        ("[1, 2.5, a]", [1, 2.5, "a"]),
        ("[]", []),
        ("{a: 1, b: [x, y]}", {"a": 1, "b": ["x", "y"]}),
        ("'007'", "007"),
        ('"a, b"', "a, b"),
        ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B"),
        ("  padded  ", "padded"),
    ],
)
def test_values_parse_as_hydra_does(text: str, value: Any) -> None:
    assert parse_value(text) == value


def test_special_floats() -> None:
    assert parse_value("inf") == math.inf
    assert math.isnan(parse_value("nan"))


def test_overrides_change_add_force_and_delete() -> None:
    config: dict[str, Any] = {"trainer": {"max_steps": 10, "callbacks": [{"x": 1}]}, "drop": 1}
    apply_overrides(
        config,
        [
            "trainer.max_steps=1000",
            "+trainer.new.deep=true",
            "++trainer.max_steps=2000",
            "trainer.callbacks.0.x=5",
            "~drop",
        ],
    )
    assert config == {
        "trainer": {"max_steps": 2000, "callbacks": [{"x": 5}], "new": {"deep": True}}
    }


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.missing=1", "no key 'trainer.missing'; use '+trainer.missing=...'"),
        ("+trainer.max_steps=1", "already exists"),
        ("~trainer.nothing", "no key 'trainer.nothing' to delete"),
        ("~trainer.max_steps=11", "not 11; not deleted"),
        ("trainer.max_steps", "needs '=value'"),
        ("trainer.max_steps=[1, 2", "cannot parse the value"),
        ("bad key=1", "not a dotted key path"),
        ("trainer.max_steps.x=1", "'trainer.max_steps' is a value, not a section"),
        ("trainer.callbacks.3=1", "not an index of the list"),
        ("", "non-empty string"),
    ],
)
def test_bad_overrides_name_themselves(override: str, message: str) -> None:
    config = {"trainer": {"max_steps": 10, "callbacks": [1]}}
    with pytest.raises(OverrideError, match="override") as caught:
        apply_overrides(config, [override])
    assert message in str(caught.value)
    assert repr(override) in str(caught.value)


# -- config and manifests ------------------------------------------------------------------


def _recipe(tmp_path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (tmp_path / "catalog" / "recipes" / f"{NAME}.json").read_text()
    )
    return document


def test_config_takes_nodes_devices_overrides_and_resolves_interpolations(
    catalog: dict[str, Any], tmp_path: Path
) -> None:
    config = recipe.recipe_config(
        _recipe(tmp_path),
        ["training_config.training_args.max_epochs=1", "+training_config.force_rerun=true"],
        nodes=2,
        devices=8,
        results_dir="/fsx/checkpoints/tiny",
    )
    assert config["trainer"] == {"devices": 8, "num_nodes": 2}
    assert config["run"]["results_dir"] == "/fsx/checkpoints/tiny/tiny-sft"
    assert config["training_config"]["training_args"]["max_epochs"] == 1
    assert config["training_config"]["force_rerun"] is True


def test_config_refuses_ray_recipes_and_bad_overrides(tmp_path: Path) -> None:
    ray = yaml.safe_load(RAY_RECIPE)
    with pytest.raises(recipe.RecipeError, match="model_type 'verl'"):
        recipe.recipe_config(ray, [], nodes=1, devices=8, results_dir="/r")
    sft = yaml.safe_load(SFT_RECIPE)
    with pytest.raises(recipe.RecipeError, match=r"job\.recipe\.overrides: override 'nope=1'"):
        recipe.recipe_config(sft, ["nope=1"], nodes=1, devices=8, results_dir="/r")
    sft["run"]["results_dir"] = "${oc.env:HOME}"
    with pytest.raises(recipe.RecipeError, match="resolver"):
        recipe.recipe_config(sft, [], nodes=1, devices=8, results_dir="/r")
    sft["run"]["results_dir"] = "${.name}"
    sft["run"]["name"] = "${.results_dir}"
    with pytest.raises(recipe.RecipeError, match="interpolations loop"):
        recipe.recipe_config(sft, [], nodes=1, devices=8, results_dir="/r")
    sft["run"]["name"] = "${trainer.missing}"
    with pytest.raises(recipe.RecipeError, match="does not resolve"):
        recipe.recipe_config(sft, [], nodes=1, devices=8, results_dir="/r")


def _manifests(nodes: int = 2) -> tuple[dict[str, Any], dict[str, Any]]:
    config = recipe.recipe_config(
        yaml.safe_load(SFT_RECIPE), [], nodes=nodes, devices=8, results_dir="/fsx/checkpoints/t"
    )
    return recipe.recipe_manifests(
        job_name="run-0123456789abcdef0123",
        namespace="default",
        recipe_name=NAME,
        config=config,
        image="111122223333.dkr.ecr.us-east-1.amazonaws.com/r:llmft-1",
        nodes=nodes,
        instance_type="ml.p5.48xlarge",
        accelerators_per_node=8,
        accelerator_resource="nvidia.com/gpu",
        efa_per_node=32,
        deadline_seconds=3600,
        environment={"DATASET_DIR": "/fsx/data/d/", "CHECKPOINT_DIR": "/fsx/checkpoints/t"},
        volumes=[{"name": "fsx", "persistentVolumeClaim": {"claimName": "fsx-claim"}}],
        mounts=[{"name": "fsx", "mountPath": "/fsx"}],
        labels={"llm-training-run": "run-0123456789abcdef0123"},
    )


def test_manifests_validate_against_the_kubernetes_and_crd_schemas() -> None:
    config_map, job = _manifests()
    kubernetes_validate.validate(config_map, KUBERNETES, strict=True)
    jsonschema.validate(job, PYTORCHJOB_SCHEMA)
    worker = job["spec"]["pytorchReplicaSpecs"]["Worker"]
    pod_template = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": "worker", "namespace": "default"},
        "template": worker["template"],
    }
    kubernetes_validate.validate(pod_template, KUBERNETES, strict=True)
    for item in recipe_rbac_manifests("default"):
        kubernetes_validate.validate(item, KUBERNETES, strict=True)


def test_schema_catches_what_the_api_server_would_prune() -> None:
    _, job = _manifests()
    job["spec"]["runPolicy"]["cleanupPolicy"] = "None"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(job, PYTORCHJOB_SCHEMA)
    _, job = _manifests()
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["restartPolicy"] = "Sometimes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(job, PYTORCHJOB_SCHEMA)


def test_job_is_what_the_launcher_renders_for_kubernetes() -> None:
    config_map, job = _manifests()
    assert config_map["metadata"]["name"] == "training-config-run-0123456789abcdef0123"
    assert json.loads(config_map["data"]["config.yaml"])["trainer"]["num_nodes"] == 2
    worker = job["spec"]["pytorchReplicaSpecs"]["Worker"]
    assert (worker["replicas"], worker["restartPolicy"]) == (2, "Never")
    pod = worker["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == "pytorch"
    assert container["command"] == ["/bin/bash", "-c", "/opt/bin/scripts/train-script-gpu.sh"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SCRIPT_ARGS"] == "--config-path=/config --config-name=config.yaml"
    assert env["SCRIPT_PATH"] == "examples/llama/llama_pretrain.py"
    assert (env["NODES"], env["NTASKS_PER_NODE"]) == ("2", "8")
    assert env["FI_PROVIDER"] == "efa"
    assert env["DATASET_DIR"] == "/fsx/data/d/"
    assert {"name": "training-config", "mountPath": "/config"} in container["volumeMounts"]
    assert container["resources"]["limits"] == {
        "nvidia.com/gpu": "8",
        "vpc.amazonaws.com/efa": "32",
    }
    assert job["spec"]["runPolicy"] == {
        "cleanPodPolicy": "None",
        "backoffLimit": 0,
        "activeDeadlineSeconds": 3600,
    }
    _, single = _manifests(nodes=1)
    single_env = single["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]
    names = {e["name"] for e in single_env["containers"][0]["env"]}
    assert "FI_PROVIDER" not in names  # the launcher sets multi-node variables only


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"recipe": {"name": NAME}, "image": "x:1"}, "has only job.recipe"),
        ({"recipe": NAME}, "must be an object"),
        ({"recipe": {"name": "../etc/passwd"}}, "job.recipe.name '../etc/passwd'"),
        ({"recipe": {"name": NAME, "overrides": "a=1"}}, "job.recipe.overrides"),
        ({"recipe": {"name": NAME, "extra": 1}}, "must be an object"),
    ],
)
def test_recipe_request_shape(job: dict[str, Any], message: str) -> None:
    with pytest.raises(recipe.RecipeError, match="job") as caught:
        recipe.recipe_request(job)
    assert message in str(caught.value)


def test_recipe_image_names_the_region(catalog: dict[str, Any]) -> None:
    assert recipe.recipe_image(catalog, NAME, "us-east-1").endswith(":llmft-1")
    with pytest.raises(recipe.RecipeError, match="no container for it in eu-west-3"):
        recipe.recipe_image(catalog, NAME, "eu-west-3")


def test_status_maps_kubeflow_conditions() -> None:
    running = recipe.recipe_status({"status": {"startTime": "t0"}})
    assert running["phase"] == "RUNNING"
    done = recipe.recipe_status(
        {
            "status": {
                "conditions": [
                    {"type": "Running", "status": "False"},
                    {"type": "Succeeded", "status": "True"},
                ],
                "replicaStatuses": {"Worker": {"succeeded": 2}},
                "startTime": "t0",
                "completionTime": "t1",
            }
        }
    )
    assert (done["phase"], done["succeededPods"], done["completionTime"]) == ("SUCCEEDED", 2, "t1")
    failed = recipe.recipe_status(
        {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "R"}]}}
    )
    assert (failed["phase"], failed["reason"]) == ("FAILED", "R")


# -- deploy-time helpers -------------------------------------------------------------------


def test_manifest_chart_is_one_template_of_json_documents(tmp_path: Path) -> None:
    manifests = recipe_rbac_manifests("default")
    chart = write_manifest_chart(tmp_path, "rbac", json.dumps(manifests))
    assert yaml.safe_load((chart / "Chart.yaml").read_text())["name"] == "rbac"
    documents = list(yaml.safe_load_all((chart / "templates" / "manifests.yaml").read_text()))
    assert documents == manifests
    with pytest.raises(ValueError, match="JSON list"):
        write_manifest_chart(tmp_path, "bad", json.dumps({"kind": "Role"}))
    with pytest.raises(ValueError, match=r"\{\{"):
        write_manifest_chart(tmp_path, "bad", json.dumps([{**manifests[0], "x": "{{ y }}"}]))


class FakeCodeBuild:
    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.started: dict[str, Any] = {}

    def start_build(self, **kwargs: Any) -> dict[str, Any]:
        self.started = kwargs
        return {"build": {"id": "p:1", "buildStatus": "IN_PROGRESS"}}

    def batch_get_builds(self, ids: list[str]) -> dict[str, Any]:
        status = self.statuses.pop(0)
        phases = [{"phaseType": "BUILD", "phaseStatus": "FAILED", "contexts": [{"message": "x"}]}]
        return {"builds": [{"id": ids[0], "buildStatus": status, "phases": phases}]}


PROPS = {
    "ProjectName": "p",
    "Repository": "aws/sagemaker-hyperpod-recipes",
    "Release": "v2.0.9",
    "Commit": "2" * 40,
    "Bucket": "b",
    "Prefix": "recipes/hyperpod/v2.0.9/",
}


def test_catalog_fetch_waits_for_the_build() -> None:
    client = FakeCodeBuild(["IN_PROGRESS", "SUCCEEDED"])
    data = fetch(PROPS, codebuild=client, sleep=lambda _: None)
    assert data == {"CatalogUri": "s3://b/recipes/hyperpod/v2.0.9/", "BuildId": "p:1"}
    variables = {v["name"]: v["value"] for v in client.started["environmentVariablesOverride"]}
    assert variables["COMMIT"] == "2" * 40
    assert client.started["projectName"] == "p"


def test_catalog_fetch_reports_a_failed_build_and_a_late_one() -> None:
    with pytest.raises(CatalogError, match="FAILED: BUILD: x"):
        fetch(PROPS, codebuild=FakeCodeBuild(["FAILED"]), sleep=lambda _: None)
    with pytest.raises(CatalogError, match="still running"):
        fetch(PROPS, codebuild=FakeCodeBuild([]), remaining_ms=lambda: 1000)


def test_chart_function_installs_the_manifests_as_a_release(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cdk_llm_training.assets.runtime import hyperpod_dependency_chart as chart_handler

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    helm = tmp_path / "helm"
    helm.write_text("#!/bin/sh\n")
    monkeypatch.setattr(chart_handler, "LAYER_HELM", str(helm))
    monkeypatch.setattr(chart_handler, "download", lambda *_: pytest.fail("no download"))
    seen: list[tuple[list[str], list[Any]]] = []

    def run(command: Any, env: Any) -> str:
        chart = Path(command[8])
        text = (chart / "templates" / "manifests.yaml").read_text()
        seen.append((list(command), list(yaml.safe_load_all(text))))
        return ""

    manifests = recipe_rbac_manifests("default")
    props = {
        "ClusterName": "hp-eks",
        "ClusterEndpoint": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
        "ClusterCertificateAuthority": "Q0VSVA==",
        "Release": "llm-training-run-recipes",
        "Namespace": "default",
        "Values": "{}",
        "Manifests": json.dumps(manifests),
    }
    chart_handler.process("Create", props, "x", run=run)
    ((command, documents),) = seen
    assert command[4:8] == ["default", "upgrade", "--install", "llm-training-run-recipes"]
    assert documents == manifests


def test_empty_dataset_and_output_paths_point_at_the_run_and_overrides_still_win() -> None:
    document = yaml.safe_load(SFT_RECIPE)
    document["training_config"]["datasets"] = {"train_data": {"file_path": "", "name": ""}}
    document["training_config"]["training_args"]["training_dir"] = ""
    config = recipe.recipe_config(
        document,
        [],
        nodes=1,
        devices=8,
        results_dir="/fsx/checkpoints/t",
        dataset_dir="/fsx/data/datasets/sft/",
    )
    training = config["training_config"]
    assert training["datasets"]["train_data"]["file_path"] == "/fsx/data/datasets/sft/"
    assert training["training_args"]["training_dir"] == "/fsx/checkpoints/t"
    overridden = recipe.recipe_config(
        document,
        ["training_config.datasets.train_data.file_path=/fsx/data/other/train.jsonl"],
        nodes=1,
        devices=8,
        results_dir="/fsx/checkpoints/t",
        dataset_dir="/fsx/data/datasets/sft/",
    )
    assert (
        overridden["training_config"]["datasets"]["train_data"]["file_path"]
        == "/fsx/data/other/train.jsonl"
    )
    # a recipe without those keys gets none added
    bare = recipe.recipe_config(
        yaml.safe_load(SFT_RECIPE), [], nodes=1, devices=8, results_dir="/r", dataset_dir="/d/"
    )
    assert "datasets" not in bare["training_config"]
    assert "training_dir" not in bare["training_config"]["training_args"]
