"""Library-shipped job templates of ClusterTrainingRun on HyperPod EKS (run-input form 3:
``{"template": "<name>", "parameters": {...}}``), rendered into the image + command +
environment of run-input form 1 that the controller then submits as usual.

``fsdp-pretrain``: next-token pre-training of every weight of a causal language model with
PyTorch FSDP, ``torchrun`` across the run's nodes (one process per GPU), with the library's
training script (``--method cpt --tuning full --fsdp true``). Each pod installs the script's
pinned ``requirements.txt`` (the nodes need a route to the Python package index), then runs
the script the stack staged in the curated zone (seen read-only at ``TRAINING_SCRIPT_DIR``).
The script reads the JSONL ``{"text": ...}`` records of ``$DATASET_DIR``, checkpoints to
``$CHECKPOINT_DIR`` (the FSx checkpoint link, exported to the artifacts zone; a new run with
the same ``output_name`` resumes from the latest complete checkpoint), saves the model to
``$CHECKPOINT_DIR/model`` and, on node 0, copies its training summary to
``$CHECKPOINT_DIR/metrics.json`` for the run report.

Parameters (every template): ``model`` (a Hugging Face model id such as ``org/name``,
downloaded by every node; or a curated-zone folder ending in ``/`` such as
``models/llama-3-8b/``, read from the file system), ``max_steps`` (int >= 1),
``global_batch_size`` (int >= 1: sequences per optimizer step across every GPU; a multiple of
GPUs x ``per_device_batch_size``), ``sequence_length`` (int >= 1). Optional:
``per_device_batch_size`` (int >= 1, default 1), ``learning_rate`` (number > 0, default the
script's 2e-4), ``warmup_ratio`` (0 <= x < 1, default 0.03), ``weight_decay`` (>= 0, default
0), ``save_steps`` (int >= 1, default 500), ``seed`` (int, default 42),
``gradient_checkpointing`` (bool, default true), ``packing`` (bool, default true: concatenate
records into full ``sequence_length`` windows), ``init_weights`` (``pretrained``, default: the
weights of ``model``; ``random``: fresh weights of ``model``'s configuration, pre-training from
scratch). Unknown parameters are refused.

Standard library only: this module ships in the Lambda asset.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

FSDP_PRETRAIN = "fsdp-pretrain"
TEMPLATE_NAMES = (FSDP_PRETRAIN,)
"""Templates the HyperPod EKS controller renders."""
COMMON_PARAMETERS = ("model", "max_steps", "global_batch_size", "sequence_length")
"""Parameters every template requires."""
ENTRY_POINT = "train_lora.py"
"""The training script's entry point (its folder holds the modules it imports)."""
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
_MODEL_FOLDER = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$")


class TemplateError(ValueError):
    """A template run input that cannot be rendered; the message names the field."""


def _integer(parameters: Mapping[str, Any], name: str, default: int | None, low: int) -> int:
    value = parameters.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise TemplateError(f"job.parameters.{name} {value!r} must be an integer of at least {low}")
    return value


def _number(
    parameters: Mapping[str, Any], name: str, *, low: float, high: float | None, open_low: bool
) -> float | None:
    if name not in parameters:
        return None
    value = parameters[name]
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if (
        not number
        or (value <= low if open_low else value < low)
        or (high is not None and value >= high)
    ):
        bounds = f"{'above' if open_low else 'at least'} {low}"
        if high is not None:
            bounds += f" and below {high}"
        raise TemplateError(f"job.parameters.{name} {value!r} must be a number {bounds}")
    return float(value)


def _boolean(parameters: Mapping[str, Any], name: str, default: bool) -> bool:
    value = parameters.get(name, default)
    if not isinstance(value, bool):
        raise TemplateError(f"job.parameters.{name} {value!r} must be true or false")
    return value


def _flag(parameters: Mapping[str, Any], name: str) -> str:
    """A boolean parameter (default true) as the script's ``true``/``false``."""
    return "true" if _boolean(parameters, name, True) else "false"


def render_template_job(
    job: Mapping[str, Any],
    *,
    nodes: int,
    accelerators_per_node: int,
    script_dir: str,
    image: str,
    data_mount_path: str,
) -> dict[str, Any]:
    """The form-1 job (``image``, ``command``, ``environment``) of the template run ``job``.

    ``script_dir`` is where pods see the staged training script, ``image`` the training
    image, ``data_mount_path`` where pods see the curated zone. Raises :class:`TemplateError`
    naming the field on a bad template name or parameter.
    """
    extra = sorted(set(job) - {"template", "parameters"})
    if extra:
        raise TemplateError(
            f"job: a template run takes only template and parameters; got also {extra}"
        )
    name = job.get("template")
    if name not in TEMPLATE_NAMES:
        raise TemplateError(
            f"job.template {name!r} is not one of {list(TEMPLATE_NAMES)} on HyperPod EKS"
        )
    parameters = job.get("parameters")
    if not isinstance(parameters, dict):
        raise TemplateError(f"job.parameters must be an object; got {parameters!r}")
    if not script_dir or not image:
        raise TemplateError(
            f"job.template {name!r}: this workflow has no staged training script or "
            "template image (the construct stages them for a HyperPod cluster)"
        )
    return _fsdp_pretrain(
        parameters,
        nodes=nodes,
        accelerators_per_node=accelerators_per_node,
        script_dir=script_dir.rstrip("/"),
        image=image,
        data_mount_path=data_mount_path.rstrip("/"),
    )


_FSDP_OPTIONAL = (
    "per_device_batch_size",
    "learning_rate",
    "warmup_ratio",
    "weight_decay",
    "save_steps",
    "seed",
    "gradient_checkpointing",
    "packing",
    "init_weights",
)
INIT_WEIGHTS = ("pretrained", "random")
"""``init_weights``: start from the weights of ``model``, or from fresh weights of its
configuration (pre-training from scratch; ``model`` then needs only ``config.json`` and the
tokenizer)."""


def _fsdp_pretrain(
    parameters: Mapping[str, Any],
    *,
    nodes: int,
    accelerators_per_node: int,
    script_dir: str,
    image: str,
    data_mount_path: str,
) -> dict[str, Any]:
    unknown = sorted(set(parameters) - {*COMMON_PARAMETERS, *_FSDP_OPTIONAL})
    if unknown:
        raise TemplateError(
            f"job.parameters {unknown} are not parameters of {FSDP_PRETRAIN}; allowed: "
            f"{sorted({*COMMON_PARAMETERS, *_FSDP_OPTIONAL})}"
        )
    model = parameters.get("model")
    is_folder = isinstance(model, str) and bool(_MODEL_FOLDER.match(model))
    if not isinstance(model, str) or ".." in model or not (is_folder or _MODEL_ID.match(model)):
        raise TemplateError(
            f"job.parameters.model {model!r} must be a Hugging Face model id such as "
            "'org/name', or a curated-zone folder ending in '/' such as 'models/llama-3-8b/'"
        )
    max_steps = _integer(parameters, "max_steps", None, 1)
    global_batch = _integer(parameters, "global_batch_size", None, 1)
    sequence_length = _integer(parameters, "sequence_length", None, 1)
    per_device = _integer(parameters, "per_device_batch_size", 1, 1)
    save_steps = _integer(parameters, "save_steps", 500, 1)
    seed = _integer(parameters, "seed", 42, 0)
    init_weights = parameters.get("init_weights", "pretrained")
    if init_weights not in INIT_WEIGHTS:
        raise TemplateError(
            f"job.parameters.init_weights {init_weights!r} must be one of {list(INIT_WEIGHTS)}"
        )
    gpus = nodes * accelerators_per_node
    if global_batch % (gpus * per_device):
        raise TemplateError(
            f"job.parameters.global_batch_size {global_batch} must be a multiple of GPUs x "
            f"per_device_batch_size = {nodes} nodes x {accelerators_per_node} GPUs x "
            f"{per_device} = {gpus * per_device}"
        )
    accumulation = global_batch // (gpus * per_device)
    arguments: list[str] = [
        "--method=cpt",
        "--tuning=full",
        "--fsdp=true",
        "--distributed=off",  # torchrun below already started one process per GPU
        f"--max_steps={max_steps}",
        f"--max_seq_length={sequence_length}",
        f"--per_device_batch_size={per_device}",
        f"--gradient_accumulation_steps={accumulation}",
        f"--save_steps={save_steps}",
        f"--seed={seed}",
        f"--gradient_checkpointing={_flag(parameters, 'gradient_checkpointing')}",
        f"--packing={_flag(parameters, 'packing')}",
        f"--init_weights={init_weights}",
    ]
    for option, low, high, open_low in (
        ("learning_rate", 0.0, None, True),
        ("warmup_ratio", 0.0, 1.0, False),
        ("weight_decay", 0.0, None, False),
    ):
        value = _number(parameters, option, low=low, high=high, open_low=open_low)
        if value is not None:
            arguments.append(f"--{option}={value!r}")
    environment = {"TRAINING_SCRIPT_DIR": script_dir, "JOB_TEMPLATE": FSDP_PRETRAIN}
    if is_folder:
        environment["SM_CHANNEL_MODEL"] = f"{data_mount_path}/{model}".rstrip("/")
    else:
        arguments.append(f"--model_id={model}")
    script = f"{script_dir}/{ENTRY_POINT}"
    command = "\n".join(
        [
            "set -euo pipefail",
            # The script's layout variables (SageMaker names) point at the run's FSx paths.
            'export SM_CHANNEL_TRAIN="$DATASET_DIR" SM_CHECKPOINT_DIR="$CHECKPOINT_DIR"',
            'export SM_MODEL_DIR="$CHECKPOINT_DIR/model"',
            'export SM_OUTPUT_DATA_DIR="$CHECKPOINT_DIR/output"',
            'export SM_CHANNEL_VALIDATION="$CHECKPOINT_DIR/no-validation-set"',
            f"python -m pip install --no-cache-dir --quiet -r {shlex.quote(script_dir)}"
            "/requirements.txt",
            'torchrun --nnodes="$NNODES" --nproc-per-node="$NPROC_PER_NODE" '
            '--node-rank="$NODE_RANK" --master-addr="$MASTER_ADDR" --master-port="$MASTER_PORT" '
            f"{shlex.quote(script)} {' '.join(shlex.quote(a) for a in arguments)}",
            'if [ "$NODE_RANK" = "0" ]; then',
            '  cp "$SM_MODEL_DIR/training_summary.json" "$CHECKPOINT_DIR/metrics.json"',
            "fi",
        ]
    )
    return {"image": image, "command": ["bash", "-c", command], "environment": environment}
