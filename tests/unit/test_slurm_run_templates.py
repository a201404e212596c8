"""The neuron-pretrain job template of ClusterTrainingRun on Slurm: rendering per Trainium
instance type, parameter errors naming the field, shellcheck on every rendered variant, and
the framework pins the Neuron install script receives."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from typing import Any

import pytest

from cdk_llm_training.assets.runtime import slurm_run_templates
from cdk_llm_training.assets.runtime.cluster_run import RunInputError
from cdk_llm_training.assets.runtime.cluster_run_manifest import NEURON_CORES_PER_NODE
from cdk_llm_training.assets.runtime.slurm_run_templates import (
    neuron_pretrain_parameters,
    render,
)
from cdk_llm_training.config.trainium_parallel_cluster import (
    NEURON_RELEASES,
    TrainiumClusterOptions,
)

PRETRAIN = NEURON_RELEASES["2.31.0"].pretrain
assert PRETRAIN is not None
PARAMETERS: dict[str, Any] = {
    "model": "llama3-8b",
    "max_steps": 600,
    "global_batch_size": 1024,
    "sequence_length": 8192,
}


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FSX_MOUNT_DIR", "/fsx")
    monkeypatch.setenv("DATA_MOUNT_PATH", "/fsx/data")
    assert PRETRAIN is not None
    monkeypatch.setenv(
        "NEURON_PRETRAIN",
        json.dumps(
            {
                "release": "2.31.0",
                "repository": PRETRAIN.examples_repository,
                "commit": PRETRAIN.examples_commit,
                "examplesDir": PRETRAIN.examples_dir,
            }
        ),
    )


def _run(instance_type: str, nodes: int = 2) -> dict[str, Any]:
    return {
        "jobName": "run-0123456789abcdef0123",
        "namespace": "train",
        "nodes": nodes,
        "instanceType": instance_type,
        "datasetDir": "/fsx/data/tokenized/llama3 8k/",
        "checkpointDir": "/fsx/checkpoints/llama3-8b",
        "compileCacheDir": "/fsx/cache/neuron",
        "runDir": "/fsx/runs/run-0123456789abcdef0123",
        "neuronVenv": "/opt/aws_neuronx_venv_pytorch",
        "maxRunHours": 48,
        "masterPort": 29500,
    }


def _script(instance_type: str, nodes: int = 2, **parameters: Any) -> str:
    job = {"template": "neuron-pretrain", "parameters": {**PARAMETERS, **parameters}}
    return render(_run(instance_type, nodes), job)


def _torchrun(script: str, launcher: str = "torchrun") -> list[str]:
    (line,) = [
        line
        for line in script.splitlines()
        if line.startswith("srun --kill-on-bad-exit=1 bash -c")
        and f"exec {launcher}" in shlex.split(line)[-1]
    ]
    return shlex.split(shlex.split(line)[-1].split("&& exec ", 1)[1])


def _argument(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


@pytest.mark.parametrize(
    ("instance_type", "cores", "data_parallel"),
    [("trn1.32xlarge", 32, 2), ("trn1n.32xlarge", 32, 2), ("trn2.48xlarge", 64, 4)],
)
def test_rendering_follows_the_instance_family(
    instance_type: str, cores: int, data_parallel: int
) -> None:
    script = _script(instance_type)
    train = _torchrun(script)
    assert f"--nproc_per_node={cores}" in train
    assert f"export NEURON_RT_NUM_CORES={cores}\n" in script
    # 2 nodes x cores / TP 32 = data-parallel degree; 1024 / micro-batch 1 / DP.
    assert _argument(train, "--grad_accum_usteps") == str(1024 // data_parallel)
    assert _argument(train, "--tensor_parallel_size") == "32"
    assert _argument(train, "--kv_replicator") == "4"  # 32 / 8 key-value heads
    for line in ("FI_PROVIDER=efa", "FI_EFA_USE_DEVICE_RDMA=1", "FI_EFA_FORK_SAFE=1"):
        assert f"export {line}\n" in script
    if instance_type.startswith("trn2"):
        assert "export NEURON_LOGICAL_NC_CONFIG=2\n" in script
        assert "--logical-nc-config=2" in script
    else:
        assert "NEURON_LOGICAL_NC_CONFIG" not in script
        assert "logical-nc-config" not in script
    assert NEURON_CORES_PER_NODE[instance_type] == cores


def test_compile_cache_is_on_fsx_through_both_settings() -> None:
    script = _script("trn1.32xlarge")
    # --cache_dir in NEURON_CC_FLAGS wins over NEURON_COMPILE_CACHE_URL: both name FSx.
    assert "export NEURON_COMPILE_CACHE_URL=/fsx/cache/neuron\n" in script
    assert (
        "export NEURON_CC_FLAGS='--model-type transformer --cache_dir=/fsx/cache/neuron'\n"
        in script
    )


def test_precompile_runs_first_and_never_writes_checkpoints() -> None:
    script = _script("trn1.32xlarge")
    compile_ = _torchrun(script, "neuron_parallel_compile")
    train = _torchrun(script)
    assert script.index("neuron_parallel_compile") < script.index("exec torchrun")
    assert compile_[0] == "neuron_parallel_compile"
    assert _argument(compile_, "--steps_this_run") == "2"
    assert _argument(compile_, "--checkpoint_freq") == "0"
    assert _argument(compile_, "--loading_step") == "-1"
    assert _argument(train, "--checkpoint_freq") == "$CHECKPOINT_EVERY"
    assert "export CHECKPOINT_EVERY=600\n" in script  # default: the last step
    assert _argument(train, "--loading_step") == "latest_if_exists"
    assert _argument(train, "--checkpoint_dir") == "$CHECKPOINT_DIR"
    assert "neuron_parallel_compile" not in _script("trn1.32xlarge", precompile=False)


def test_checkpoints_and_metrics_go_to_the_checkpoint_link() -> None:
    script = _script("trn1.32xlarge", checkpoint_every_steps=200, keep_checkpoints=3)
    assert "export CHECKPOINT_DIR=/fsx/checkpoints/llama3-8b\n" in script
    assert "export CHECKPOINT_EVERY=200\n" in script
    assert _argument(_torchrun(script), "--num_kept_checkpoint") == "3"
    assert '"$RUN_DIR/results.json" "$CHECKPOINT_DIR/metrics.json"' in script


def test_framework_is_the_pinned_commit() -> None:
    assert PRETRAIN is not None
    script = _script("trn1.32xlarge")
    commit = PRETRAIN.examples_commit
    assert len(commit) == 40
    assert f"--depth 1 {PRETRAIN.examples_repository} {commit}\n" in script
    assert f"!= {commit} ]; then" in script
    assert f"LLAMA_DIR=/fsx/frameworks/neuronx-distributed-{commit}/examples/training/llama\n" in (
        script
    )
    config = _argument(_torchrun(script), "--model_path")
    assert config == "$LLAMA_DIR/tp_zero1_llama_hf_pretrain/8B_config_llama3"


def test_llama2_uses_the_examples_settings() -> None:
    train = _torchrun(_script("trn1.32xlarge", model="llama2-7b", sequence_length=4096))
    assert _argument(train, "--tensor_parallel_size") == "8"
    assert _argument(train, "--lr") == "0.0003"
    assert "--qkv_linear" not in train
    assert "--kv_replicator" not in train


def test_jsonl_dataset_is_tokenized_once_with_the_staged_tokenizer() -> None:
    script = _script("trn1.32xlarge", dataset_format="jsonl", tokenizer="tokenizers/llama3")
    assert "export DATA_PATH=/fsx/cache/tokenized/" in script
    assert 'if [ ! -f "$DATA_PATH/state.json" ]; then' in script
    assert 'python - "$DATASET_DIR" /fsx/data/tokenizers/llama3 8192 "$DATA_PATH"' in script
    tokenized = _script("trn1.32xlarge")
    assert "export DATA_PATH='/fsx/data/tokenized/llama3 8k/'\n" in tokenized
    assert "CDK_LLM_TRAINING_TOKENIZE" not in tokenized
    # The dataset check runs in both cases, before any compilation.
    assert tokenized.index("CDK_LLM_TRAINING_CHECK") < tokenized.index("neuron_parallel_compile")


@pytest.mark.parametrize(
    "variant",
    [
        {"instance_type": "trn1.32xlarge"},
        {"instance_type": "trn2.48xlarge", "nodes": 8, "tensor_parallel_size": 16},
        {
            "instance_type": "trn1n.32xlarge",
            "dataset_format": "jsonl",
            "tokenizer": "tokenizers/llama3",
            "precompile": False,
        },
        {"instance_type": "trn2.48xlarge", "model": "llama2-7b", "sequence_length": 4096},
    ],
)
def test_rendered_scripts_pass_shellcheck(variant: dict[str, Any]) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    options = dict(variant)
    instance_type, nodes = options.pop("instance_type"), options.pop("nodes", 2)
    script = _script(instance_type, nodes, **options)
    for command in (["shellcheck", "-s", "bash", "-"], ["bash", "-n"]):
        checked = subprocess.run(command, input=script, text=True, capture_output=True, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "llama4"}, "job.parameters.model 'llama4' is not one of"),
        ({"max_steps": 0}, "job.parameters.max_steps 0 must be an integer >= 1"),
        ({"global_batch_size": True}, "job.parameters.global_batch_size True must be an integer"),
        ({"sequence_length": "8k"}, "job.parameters.sequence_length '8k' must be an integer"),
        ({"tensor_parallel_size": 4}, "job.parameters.tensor_parallel_size 4 is not one of"),
        ({"global_batch_size": 1001}, "job.parameters.global_batch_size 1001 must be a multiple"),
        ({"learning_rate": 2}, "job.parameters.learning_rate 2 must be a number in (0, 1)"),
        ({"warmup_steps": 700}, "job.parameters.warmup_steps 700 must not exceed max_steps"),
        ({"checkpoint_every_steps": 250}, "job.parameters.checkpoint_every_steps 250"),
        ({"keep_checkpoints": 0}, "job.parameters.keep_checkpoints 0 must be an integer >= 1"),
        ({"dataset_format": "parquet"}, "job.parameters.dataset_format 'parquet' is not one of"),
        ({"dataset_format": "jsonl"}, "job.parameters.tokenizer None must be a key prefix"),
        (
            {"dataset_format": "jsonl", "tokenizer": "../secrets"},
            "job.parameters.tokenizer '../secrets' must be a key prefix",
        ),
        ({"tokenizer": "tokenizers/x"}, "job.parameters.tokenizer is only used with"),
        ({"precompile": "yes"}, "job.parameters.precompile 'yes' must be true or false"),
        ({"epochs": 1}, "job.parameters has unknown fields ['epochs']"),
    ],
)
def test_parameter_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RunInputError) as error:
        neuron_pretrain_parameters({**PARAMETERS, **change}, instance_type="trn1.32xlarge", nodes=2)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"template": "fsdp-pretrain", "parameters": PARAMETERS}, "job.template 'fsdp-pretrain'"),
        (
            {"template": "neuron-pretrain", "parameters": PARAMETERS, "command": ["x"]},
            "job must have exactly one form",
        ),
        ({"template": "neuron-pretrain", "parameters": [1]}, "job.parameters must be an object"),
    ],
)
def test_job_shape_errors(job: dict[str, Any], message: str) -> None:
    with pytest.raises(RunInputError) as error:
        render(_run("trn1.32xlarge"), job)
    assert message in str(error.value)


def test_missing_framework_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURON_PRETRAIN", "")
    with pytest.raises(RunInputError, match="installs none"):
        slurm_run_templates.framework()


def test_install_script_receives_the_framework_pins() -> None:
    args = TrainiumClusterOptions().neuron_script_args()
    pairs = list(zip(args[::2], args[1::2], strict=True))
    assert ("--neuron-pip", "neuronx-distributed==0.19.28492") in pairs
    assert ("--pypi", "transformers==4.48.0") in pairs
    assert ("--pypi", "datasets==3.6.0") in pairs
    assert ("--pypi", "tensorboard==2.19.0") in pairs
    without = TrainiumClusterOptions(install_pretrain_framework=False).neuron_script_args()
    assert not any("neuronx-distributed" in arg for arg in without)


def test_controller_offers_the_framework_only_when_the_nodes_get_it() -> None:
    from types import SimpleNamespace

    from cdk_llm_training.constructs.cluster_training_run.slurm_controller import (
        pretrain_environment,
    )

    def environment(**options: Any) -> str:
        cluster: Any = SimpleNamespace(options=TrainiumClusterOptions(**options))
        return pretrain_environment(cluster)

    assert PRETRAIN is not None
    assert json.loads(environment()) == {
        "release": "2.31.0",
        "repository": PRETRAIN.examples_repository,
        "commit": PRETRAIN.examples_commit,
        "examplesDir": "examples/training/llama",
    }
    assert environment(install_pretrain_framework=False) == ""
    # A Neuron AMI: the AMI is expected to hold the framework.
    assert environment(
        install_neuron=False,
        install_pretrain_framework=False,
        custom_ami_id="ami-0123456789abcdef0",
    )
