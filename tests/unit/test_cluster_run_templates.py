"""The ``fsdp-pretrain`` job template of ClusterTrainingRun on HyperPod EKS: what it renders,
that the training script accepts the arguments it passes, that the command passes
shellcheck, and the errors that name the field."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cdk_llm_training.assets.runtime.cluster_run_templates import (
    ENTRY_POINT,
    TemplateError,
    render_template_job,
)
from cdk_llm_training.assets.training.args import parse_args

SCRIPT_DIR = "/fsx/data/library/training-script/0123456789abcdef"
IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:"
    "2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04"
)
PARAMETERS = {
    "model": "meta-llama/Llama-3.1-8B",
    "max_steps": 1000,
    "global_batch_size": 512,
    "sequence_length": 8192,
}


def _render(parameters: dict[str, Any], *, nodes: int = 4, gpus: int = 8, **job: Any) -> Any:
    return render_template_job(
        {"template": "fsdp-pretrain", "parameters": parameters, **job},
        nodes=nodes,
        accelerators_per_node=gpus,
        script_dir=SCRIPT_DIR,
        image=IMAGE,
        data_mount_path="/fsx/data",
    )


def _script_arguments(rendered: dict[str, Any]) -> list[str]:
    (torchrun,) = [
        line for line in rendered["command"][2].splitlines() if line.startswith("torchrun")
    ]
    words = shlex.split(torchrun)
    return words[words.index(f"{SCRIPT_DIR}/{ENTRY_POINT}") + 1 :]


def test_renders_a_torchrun_fsdp_cpt_job() -> None:
    rendered = _render({**PARAMETERS, "learning_rate": 3e-4, "per_device_batch_size": 2})
    assert rendered["image"] == IMAGE
    assert rendered["command"][:2] == ["bash", "-c"]
    assert rendered["environment"] == {
        "TRAINING_SCRIPT_DIR": SCRIPT_DIR,
        "JOB_TEMPLATE": "fsdp-pretrain",
    }
    arguments = _script_arguments(rendered)
    # 512 sequences = 4 nodes x 8 GPUs x 2 per device x 8 accumulation steps.
    assert "--gradient_accumulation_steps=8" in arguments
    assert "--model_id=meta-llama/Llama-3.1-8B" in arguments
    args = parse_args(arguments)
    assert (args.method, args.tuning, args.fsdp) == ("cpt", "full", True)
    assert (args.max_steps, args.max_seq_length, args.learning_rate) == (1000, 8192, 3e-4)
    assert args.record_format == "text"
    assert args.packing is True
    assert args.distributed == "off"
    assert args.init_weights == "pretrained"
    command = rendered["command"][2]
    assert (
        '--nnodes="$NNODES" --nproc-per-node="$NPROC_PER_NODE" --node-rank="$NODE_RANK"' in command
    )
    assert 'export SM_CHANNEL_TRAIN="$DATASET_DIR" SM_CHECKPOINT_DIR="$CHECKPOINT_DIR"' in command
    assert 'cp "$SM_MODEL_DIR/training_summary.json" "$CHECKPOINT_DIR/metrics.json"' in command


def test_a_curated_model_folder_is_read_from_the_file_system() -> None:
    rendered = _render({**PARAMETERS, "model": "models/llama-3-8b/"})
    assert rendered["environment"]["SM_CHANNEL_MODEL"] == "/fsx/data/models/llama-3-8b"
    assert not [a for a in _script_arguments(rendered) if a.startswith("--model_id")]


def test_every_optional_parameter_reaches_the_script() -> None:
    rendered = _render(
        {
            **PARAMETERS,
            "per_device_batch_size": 1,
            "learning_rate": 1e-4,
            "warmup_ratio": 0.1,
            "weight_decay": 0.01,
            "save_steps": 50,
            "seed": 7,
            "gradient_checkpointing": False,
            "packing": False,
            "init_weights": "random",
        }
    )
    args = parse_args(_script_arguments(rendered))
    assert (args.warmup_ratio, args.weight_decay, args.save_steps, args.seed) == (0.1, 0.01, 50, 7)
    assert (args.gradient_checkpointing, args.packing) == (False, False)
    assert args.init_weights == "random"
    assert args.gradient_accumulation_steps == 16


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_the_command_passes_shellcheck(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/bash\n" + _render(PARAMETERS)["command"][2] + "\n")
    # SC2154: the variables come from the pod's environment.
    result = subprocess.run(
        ["shellcheck", "--exclude=SC2154", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_steps": 0}, "job.parameters.max_steps"),
        ({"max_steps": True}, "job.parameters.max_steps"),
        ({"global_batch_size": "512"}, "job.parameters.global_batch_size"),
        ({"global_batch_size": 100}, "job.parameters.global_batch_size"),
        ({"sequence_length": -1}, "job.parameters.sequence_length"),
        ({"model": "x; rm -rf /"}, "job.parameters.model"),
        ({"model": "../secrets/"}, "job.parameters.model"),
        ({"model": 3}, "job.parameters.model"),
        ({"learning_rate": 0}, "job.parameters.learning_rate"),
        ({"learning_rate": "0.1"}, "job.parameters.learning_rate"),
        ({"warmup_ratio": None}, "job.parameters.warmup_ratio"),
        ({"warmup_ratio": 1}, "job.parameters.warmup_ratio"),
        ({"weight_decay": -0.1}, "job.parameters.weight_decay"),
        ({"packing": "yes"}, "job.parameters.packing"),
        ({"per_device_batch_size": 0}, "job.parameters.per_device_batch_size"),
        ({"init_weights": "zeros"}, "job.parameters.init_weights"),
        ({"epochs": 2}, "job.parameters ['epochs']"),
    ],
)
def test_parameter_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(TemplateError, match=field.replace("[", r"\[").replace("]", r"\]")):
        _render({**PARAMETERS, **change})


def test_missing_common_parameters_are_named() -> None:
    for name in ("max_steps", "global_batch_size", "sequence_length", "model"):
        with pytest.raises(TemplateError, match=f"job.parameters.{name}"):
            _render({k: v for k, v in PARAMETERS.items() if k != name})


def test_template_errors() -> None:
    with pytest.raises(TemplateError, match=r"job\.template 'neuron-pretrain'"):
        render_template_job(
            {"template": "neuron-pretrain", "parameters": PARAMETERS},
            nodes=1,
            accelerators_per_node=8,
            script_dir=SCRIPT_DIR,
            image=IMAGE,
            data_mount_path="/fsx/data",
        )
    with pytest.raises(TemplateError, match=r"got also \['image'\]"):
        _render(PARAMETERS, image="x:1")
    with pytest.raises(TemplateError, match=r"job\.parameters must be an object"):
        render_template_job(
            {"template": "fsdp-pretrain", "parameters": [1]},
            nodes=1,
            accelerators_per_node=8,
            script_dir=SCRIPT_DIR,
            image=IMAGE,
            data_mount_path="/fsx/data",
        )
    with pytest.raises(TemplateError, match="no staged training script"):
        render_template_job(
            {"template": "fsdp-pretrain", "parameters": PARAMETERS},
            nodes=1,
            accelerators_per_node=8,
            script_dir="",
            image=IMAGE,
            data_mount_path="/fsx/data",
        )


@pytest.mark.parametrize(
    ("page", "gpus"),
    [("docs/stacks/large-pretrain.md", 8), ("docs/constructs/cluster-training-run.md", 8)],
)
def test_the_documented_template_inputs_render(
    page: str, gpus: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run inputs the docs show are accepted as they are written."""
    text = (Path(__file__).resolve().parents[2] / page).read_text(encoding="utf-8")
    (code,) = [
        block
        for block in re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
        if "fsdp-pretrain" in block
    ]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(code, page, "exec"), namespace)
    run_input = namespace["run_input"]
    rendered = _render(run_input["job"]["parameters"], nodes=run_input["nodes"], gpus=gpus)
    assert (
        parse_args(_script_arguments(rendered)).max_steps
        == run_input["job"]["parameters"]["max_steps"]
    )
