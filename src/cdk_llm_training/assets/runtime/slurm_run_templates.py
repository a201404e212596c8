"""Library job templates of ClusterTrainingRun on Slurm: run input form 3,
``{"job": {"template": "<name>", "parameters": {...}}, ...}``.

``neuron-pretrain``: Llama pre-training on Trainium with the pre-training framework of the
cluster's Neuron release, rendered for the instance type of the chosen queue.

What the Neuron documentation says, and how the template follows it:

- Framework path. Neuron 2.31 is the last release of the PyTorch/XLA training path
  (``torch-neuronx`` 2.9, NxD Core, NxD Training): "Archived Neuron Component Release Notes"
  (Neuron 2.33) lists NxD Training as "last supported in Neuron 2.31.0" and NxD Core as "last
  updated in Neuron 2.31.0"; TorchNeuron (native PyTorch) and TorchTitan Neuron (Neuron 2.33,
  beta) support Trn2 and Trn3 only ("Install PyTorch for Neuron", "What is TorchTitan
  Neuron?"). trn1/trn1n therefore have no other path, and the cluster's install script pins
  Neuron 2.31 for every queue, so trn2 queues run the same path. The template runs the NxD
  Core Llama example "tensor parallel + ZeRO-1" (``tp_zero1_llama_hf_pretrain.py`` of
  aws-neuron/neuronx-distributed at a pinned commit) with ``neuronx-distributed`` 0.19.28492
  (Neuron 2.31.0 "Release Content") installed by the node script.
- Dataset. The example reads a Hugging Face ``datasets`` directory written by
  ``save_to_disk`` (``datasets.load_from_disk``) whose rows hold ``input_ids``,
  ``attention_mask`` and ``labels`` of exactly the sequence length (its ``get_dataset.py``:
  tokenize, concatenate, cut into blocks, labels = input ids). ``dataset_format: "jsonl"``
  runs that preparation first, on the first node, with a tokenizer staged in the curated zone.
- Compile cache. "Neuron Persistent Cache": the cache location is set with ``--cache_dir``
  in ``NEURON_CC_FLAGS`` or with ``NEURON_COMPILE_CACHE_URL``; ``--cache_dir`` wins when both
  are set. The template sets both to the same FSx directory (the example scripts put
  ``--cache_dir`` in their own flags, which would otherwise win).
- Launch. ``neuron_parallel_compile`` ("PyTorch NeuronX neuron_parallel_compile CLI") runs a
  short trial of the same command to extract and compile every graph into the cache, then
  ``torchrun`` runs the training; one ``torchrun`` per node under ``srun``, one process per
  (logical) NeuronCore.
- NeuronCores per node: trn1/trn1n 32 (16 Trainium chips x 2 NeuronCore-v2: "AWS Trn1/Trn1n
  Architecture", "Trainium Architecture"); trn2.48xlarge 64 logical
  NeuronCores at the default Logical NeuronCore configuration 2 ("Best practices for training
  on AWS Neuron", "Logical NeuronCore configuration": runtime ``NEURON_LOGICAL_NC_CONFIG``
  and compiler ``--logical-nc-config`` must match).
- EFA: ``FI_PROVIDER=efa``, ``FI_EFA_USE_DEVICE_RDMA=1``, ``FI_EFA_FORK_SAFE=1`` as the
  example scripts set them for multi-node runs (verified there for trn1; trn2 unverified).

Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # imported from the installed package (tests, tools)
    from cdk_llm_training.assets.runtime.cluster_run import RunInputError
    from cdk_llm_training.assets.runtime.cluster_run_manifest import NEURON_CORES_PER_NODE
else:  # in Lambda, this folder is the code root
    from cluster_run import RunInputError
    from cluster_run_manifest import NEURON_CORES_PER_NODE

TEMPLATES = ("neuron-pretrain",)
"""Job templates the Slurm controller renders."""


LOGICAL_NC_CONFIG = {"trn2.48xlarge": 2}
"""Logical NeuronCore configuration set explicitly per instance type (trn1 supports 1 only)."""

PRECOMPILE_STEPS = 2
"""Steps of the neuron_parallel_compile trial run (the value the example scripts use)."""

DATASET_FORMATS = ("tokenized", "jsonl")


@dataclass(frozen=True)
class LlamaModel:
    """One model configuration of the example (a ``config.json`` folder) and the example's
    settings for it."""

    config_dir: str
    key_value_heads: int
    learning_rate: float
    grouped_query: bool
    """Llama 3 style grouped-query attention: the example passes ``--qkv_linear`` and
    ``--kv_replicator`` (tensor parallel degree / key-value heads)."""


MODELS = {
    "llama3-8b": LlamaModel("tp_zero1_llama_hf_pretrain/8B_config_llama3", 8, 1.5e-4, True),
    "llama3.1-8b": LlamaModel("tp_zero1_llama_hf_pretrain/8B_config_llama3.1", 8, 1.5e-4, True),
    "llama2-7b": LlamaModel("tp_zero1_llama_hf_pretrain/7B_config_llama2", 32, 3.0e-4, False),
}
"""Model configurations shipped with the example (``model`` parameter)."""

TENSOR_PARALLEL_SIZES = (8, 16, 32)
"""Tensor parallel degrees offered: divisors of the 32 attention heads that fit a node."""

_DEFAULT_TENSOR_PARALLEL = {"llama3-8b": 32, "llama3.1-8b": 32, "llama2-7b": 8}
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/=-]*$")

_PARAMETERS = {
    "model",
    "max_steps",
    "global_batch_size",
    "sequence_length",
    "tensor_parallel_size",
    "micro_batch_size",
    "learning_rate",
    "warmup_steps",
    "checkpoint_every_steps",
    "keep_checkpoints",
    "dataset_format",
    "tokenizer",
    "precompile",
}


def _int(parameters: dict[str, Any], name: str, default: int | None, minimum: int = 1) -> int:
    value = parameters.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RunInputError(
            f"job.parameters.{name} {value!r} must be an integer >= {minimum}"
            + ("" if default is None else f" (default {default})")
        )
    return value


def _prefix(parameters: dict[str, Any], name: str) -> str:
    value = parameters.get(name)
    if not isinstance(value, str) or not _PREFIX.match(value) or ".." in value:
        raise RunInputError(
            f"job.parameters.{name} {value!r} must be a key prefix of the curated zone "
            "(letters, digits, '._/=-', no leading '/', no '..')"
        )
    return value


@dataclass(frozen=True)
class NeuronPretrain:
    """The checked parameters of a ``neuron-pretrain`` run."""

    model: str
    max_steps: int
    global_batch_size: int
    sequence_length: int
    tensor_parallel_size: int
    micro_batch_size: int
    learning_rate: float
    warmup_steps: int
    checkpoint_every_steps: int
    keep_checkpoints: int
    dataset_format: str
    tokenizer: str | None
    precompile: bool


def neuron_pretrain_parameters(
    parameters: Any, *, instance_type: str, nodes: int
) -> NeuronPretrain:
    """Check the parameters of ``neuron-pretrain`` for ``nodes`` x ``instance_type``.

    Required: ``model`` (one of :data:`MODELS`), ``max_steps``, ``global_batch_size``,
    ``sequence_length``. Optional: ``tensor_parallel_size`` (8, 16 or 32; default 32 for the
    Llama 3 models, 8 for llama2-7b, as the example scripts), ``micro_batch_size`` (1),
    ``learning_rate`` (the example's: 1.5e-4 Llama 3, 3e-4 Llama 2), ``warmup_steps``
    (100, at most ``max_steps``), ``checkpoint_every_steps`` (``max_steps``; must divide it so
    the last step is saved), ``keep_checkpoints`` (2), ``dataset_format`` (``tokenized``, or
    ``jsonl`` with ``tokenizer``: a curated-zone prefix holding the tokenizer files),
    ``precompile`` (true).
    """
    if not isinstance(parameters, dict):
        raise RunInputError(f"job.parameters must be an object; got {parameters!r}")
    unknown = sorted(set(parameters) - _PARAMETERS)
    if unknown:
        raise RunInputError(
            f"job.parameters has unknown fields {unknown}; neuron-pretrain accepts "
            f"{sorted(_PARAMETERS)}"
        )
    if instance_type not in NEURON_CORES_PER_NODE:
        raise RunInputError(
            f"template 'neuron-pretrain' runs on {sorted(NEURON_CORES_PER_NODE)}; the queue's "
            f"instance type is {instance_type!r}"
        )
    model = parameters.get("model")
    if model not in MODELS:
        raise RunInputError(f"job.parameters.model {model!r} is not one of {sorted(MODELS)}")
    max_steps = _int(parameters, "max_steps", None)
    global_batch = _int(parameters, "global_batch_size", None)
    sequence_length = _int(parameters, "sequence_length", None)
    tensor_parallel = _int(parameters, "tensor_parallel_size", _DEFAULT_TENSOR_PARALLEL[model])
    if tensor_parallel not in TENSOR_PARALLEL_SIZES:
        raise RunInputError(
            f"job.parameters.tensor_parallel_size {tensor_parallel} is not one of "
            f"{list(TENSOR_PARALLEL_SIZES)}"
        )
    micro_batch = _int(parameters, "micro_batch_size", 1)
    data_parallel = NEURON_CORES_PER_NODE[instance_type] * nodes // tensor_parallel
    if global_batch % (micro_batch * data_parallel):
        raise RunInputError(
            f"job.parameters.global_batch_size {global_batch} must be a multiple of "
            f"micro_batch_size x data-parallel degree = {micro_batch} x {data_parallel} "
            f"({nodes} x {instance_type}, {NEURON_CORES_PER_NODE[instance_type]} NeuronCores "
            f"each, tensor_parallel_size {tensor_parallel})"
        )
    rate = parameters.get("learning_rate", MODELS[model].learning_rate)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 < rate < 1:
        raise RunInputError(f"job.parameters.learning_rate {rate!r} must be a number in (0, 1)")
    warmup = _int(parameters, "warmup_steps", min(100, max_steps), minimum=0)
    if warmup > max_steps:
        raise RunInputError(
            f"job.parameters.warmup_steps {warmup} must not exceed max_steps {max_steps}"
        )
    every = _int(parameters, "checkpoint_every_steps", max_steps)
    if max_steps % every:
        raise RunInputError(
            f"job.parameters.checkpoint_every_steps {every} must divide max_steps {max_steps} "
            "(so that the last step is saved)"
        )
    keep = _int(parameters, "keep_checkpoints", 2)
    data_format = parameters.get("dataset_format", "tokenized")
    if data_format not in DATASET_FORMATS:
        raise RunInputError(
            f"job.parameters.dataset_format {data_format!r} is not one of {list(DATASET_FORMATS)}"
        )
    tokenizer = None
    if data_format == "jsonl":
        tokenizer = _prefix(parameters, "tokenizer")
    elif "tokenizer" in parameters:
        raise RunInputError(
            "job.parameters.tokenizer is only used with dataset_format 'jsonl' (a tokenized "
            "dataset is read as it is)"
        )
    precompile = parameters.get("precompile", True)
    if not isinstance(precompile, bool):
        raise RunInputError(f"job.parameters.precompile {precompile!r} must be true or false")
    return NeuronPretrain(
        model=model,
        max_steps=max_steps,
        global_batch_size=global_batch,
        sequence_length=sequence_length,
        tensor_parallel_size=tensor_parallel,
        micro_batch_size=micro_batch,
        learning_rate=float(rate),
        warmup_steps=warmup,
        checkpoint_every_steps=every,
        keep_checkpoints=keep,
        dataset_format=data_format,
        tokenizer=tokenizer,
        precompile=precompile,
    )


def framework() -> dict[str, str]:
    """The pinned framework of the cluster's Neuron release (``NEURON_PRETRAIN``: release,
    repository, commit, examplesDir)."""
    value = os.environ.get("NEURON_PRETRAIN", "")
    if not value:
        raise RunInputError(
            "template 'neuron-pretrain' needs the pre-training framework on the cluster's "
            "nodes; this cluster installs none (its Neuron release pins none, or "
            "install_pretrain_framework is off)"
        )
    loaded: dict[str, str] = json.loads(value)
    return loaded


# -- the batch script ----------------------------------------------------------------------

_TOKENIZE = """\
import glob, os, sys
from itertools import chain
from datasets import load_dataset
from transformers import AutoTokenizer

source, tokenizer_dir, length, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
files = sorted(glob.glob(os.path.join(source, "**", "*.jsonl"), recursive=True))
if not files:
    sys.exit(f"no .jsonl files under {source}")
tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
raw = load_dataset("json", data_files=files, split="train")
if "text" not in raw.column_names:
    sys.exit(f"the .jsonl records have no 'text' field (fields: {raw.column_names})")
workers = os.cpu_count() or 1
ids = raw.map(lambda rows: tokenizer(rows["text"]), batched=True, num_proc=workers,
              remove_columns=raw.column_names)

def blocks(rows):
    joined = {key: list(chain.from_iterable(rows[key])) for key in rows}
    usable = len(joined["input_ids"]) // length * length
    out = {key: [v[i:i + length] for i in range(0, usable, length)] for key, v in joined.items()}
    out["labels"] = [list(block) for block in out["input_ids"]]
    return out

grouped = ids.map(blocks, batched=True, num_proc=workers)
if len(grouped) == 0:
    sys.exit(f"the dataset holds fewer than {length} tokens")
staging = f"{target}.partial-{os.getpid()}"
grouped.save_to_disk(staging)
os.replace(staging, target)
print(f"{len(grouped)} sequences of {length} tokens in {target}")
"""

_CHECK_DATASET = """\
import sys
from datasets import load_from_disk

path, length = sys.argv[1], int(sys.argv[2])
data = load_from_disk(path)
missing = {"input_ids", "attention_mask", "labels"} - set(data.column_names)
if missing:
    sys.exit(f"{path}: columns {sorted(missing)} are missing (has {data.column_names})")
if len(data) == 0 or len(data[0]["input_ids"]) != length:
    sys.exit(f"{path}: rows must hold sequence_length = {length} tokens")
print(f"{len(data)} sequences of {length} tokens in {path}")
"""

_METRICS = """\
import json, sys

source, target = sys.argv[1], sys.argv[2]
with open(source) as handle:
    document = json.load(handle)
results = next(iter(document.values())) if document else {}
values, units = {}, {}
for metric in results.get("metrics", []):
    values[metric["MetricName"]] = metric["MeasuredValue"]
    if metric.get("Units"):
        units[metric["MetricName"]] = metric["Units"]
with open(target, "w") as handle:
    json.dump({"metrics": values, "units": units, "source": "neuron-pretrain"}, handle)
"""


_NODE_TASKS = "# shellcheck disable=SC2016  # $SLURM_NODEID and friends expand in each task"


def _heredoc(python: str, args: list[str], marker: str) -> list[str]:
    return [f"python - {' '.join(args)} <<'{marker}'", python.rstrip("\n"), marker]


def _training_arguments(run: dict[str, Any], job: NeuronPretrain, model: LlamaModel) -> list[str]:
    data_parallel = NEURON_CORES_PER_NODE[run["instanceType"]] * run["nodes"]
    data_parallel //= job.tensor_parallel_size
    args = [
        "--model_path", f"$LLAMA_DIR/{model.config_dir}",
        "--data_dir", "$DATA_PATH",
        "--checkpoint_dir", "$CHECKPOINT_DIR",
        "--tensor_parallel_size", str(job.tensor_parallel_size),
        "--batch_size", str(job.micro_batch_size),
        "--grad_accum_usteps",
        str(job.global_batch_size // job.micro_batch_size // data_parallel),
        "--max_steps", str(job.max_steps),
        "--warmup_steps", str(job.warmup_steps),
        "--lr", repr(job.learning_rate),
        "--seq_len", str(job.sequence_length),
        "--num_kept_checkpoint", str(job.keep_checkpoints),
        "--sequence_parallel_enabled",
        "--selective_checkpoint_enabled",
        "--use_mix_precision",
        "--use_zero_1",
        "--logging_interval", "1",
    ]  # fmt: skip
    if model.grouped_query:
        replicas = max(1, job.tensor_parallel_size // model.key_value_heads)
        args += ["--qkv_linear", "--kv_replicator", str(replicas)]
    return args


def _torchrun(cores: int, script_args: list[str], extra: str, launcher: str = "") -> str:
    """The per-node command: ``$`` references expand on each node (srun's task)."""
    head = f"{launcher} " if launcher else ""
    return (
        f'cd "$RUN_DIR" && exec {head}torchrun --nproc_per_node={cores} '
        '--nnodes="$SLURM_JOB_NUM_NODES" --node_rank="$SLURM_NODEID" '
        '--master_addr="$MASTER_ADDR" --master_port="$MASTER_PORT" '
        '"$LLAMA_DIR/tp_zero1_llama_hf_pretrain/tp_zero1_llama_hf_pretrain.py" '
        + " ".join(f'"{a}"' if "$" in a else shlex.quote(a) for a in script_args)
        + f" {extra}"
    )


def neuron_pretrain_script(run: dict[str, Any], job: NeuronPretrain) -> str:
    """The sbatch script of a ``neuron-pretrain`` run."""
    pinned = framework()
    model = MODELS[job.model]
    instance = run["instanceType"]
    cores = NEURON_CORES_PER_NODE[instance]
    fsx = os.environ["FSX_MOUNT_DIR"].rstrip("/")
    commit = pinned["commit"]
    examples = f"{fsx}/frameworks/neuronx-distributed-{commit}"
    cache = run["compileCacheDir"]
    cc_flags = f"--model-type transformer --cache_dir={cache}"
    lnc = LOGICAL_NC_CONFIG.get(instance)
    if lnc is not None:
        cc_flags += f" --logical-nc-config={lnc}"
    if job.dataset_format == "jsonl":
        assert job.tokenizer is not None
        tokenizer_dir = f"{os.environ['DATA_MOUNT_PATH'].rstrip('/')}/{job.tokenizer}"
        key = json.dumps([run["datasetDir"], tokenizer_dir, job.sequence_length])
        data_path = f"{fsx}/cache/tokenized/{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    else:
        tokenizer_dir, data_path = "", run["datasetDir"]
    script_args = _training_arguments(run, job, model)
    train = _torchrun(
        cores,
        script_args,
        '--checkpoint_freq "$CHECKPOINT_EVERY" --loading_step latest_if_exists '
        '--metrics_file "$RUN_DIR/results.json"',
    )
    compile_ = _torchrun(
        cores,
        script_args,
        # checkpoint_freq 0: the trial run's outputs are invalid and must never be saved.
        f"--steps_this_run {PRECOMPILE_STEPS} --checkpoint_freq 0 --loading_step -1 "
        '--metrics_file "$RUN_DIR/precompile-results.json"',
        launcher="neuron_parallel_compile",
    )
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={run['jobName']}",
        f"#SBATCH --partition={run['namespace']}",
        f"#SBATCH --nodes={run['nodes']}",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --exclusive",
        f"#SBATCH --time={run['maxRunHours']}:00:00",
        f"#SBATCH --output={run['runDir']}/%x-%j.out",
        f"# neuron-pretrain: {job.model} on {run['nodes']} x {instance} ({cores} NeuronCores "
        f"each), Neuron {pinned['release']}, neuronx-distributed examples at {commit}",
        "set -euo pipefail",
        "# shellcheck source=/dev/null  # the Neuron venv exists only on the cluster's nodes",
        f"source {q(run['neuronVenv'] + '/bin/activate')}",
        'export PATH="/opt/aws/neuron/bin:$PATH"',
        f"export RUN_DIR={q(run['runDir'])}",
        f"export LLAMA_DIR={q(examples + '/' + pinned['examplesDir'])}",
        'export PYTHONPATH="$LLAMA_DIR${PYTHONPATH:+:$PYTHONPATH}"',
        f"export DATASET_DIR={q(run['datasetDir'])}",
        f"export DATA_PATH={q(data_path)}",
        f"export CHECKPOINT_DIR={q(run['checkpointDir'])}",
        f"export CHECKPOINT_EVERY={job.checkpoint_every_steps}",
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        "export MASTER_ADDR",
        f"export MASTER_PORT={run['masterPort']}",
        # The Neuron Persistent Cache on FSx: --cache_dir wins over NEURON_COMPILE_CACHE_URL,
        # so both name the same directory.
        f"export NEURON_COMPILE_CACHE_URL={q(cache)}",
        f"export NEURON_CC_FLAGS={q(cc_flags)}",
        *([f"export NEURON_LOGICAL_NC_CONFIG={lnc}"] if lnc is not None else []),
        f"export NEURON_RT_NUM_CORES={cores}",
        "export NEURON_FUSE_SOFTMAX=1",
        "export NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS=3",
        "export MALLOC_ARENA_MAX=64",
        "export FI_PROVIDER=efa",
        "export FI_EFA_USE_DEVICE_RDMA=1",
        "export FI_EFA_FORK_SAFE=1",
        f'mkdir -p "$RUN_DIR" "$CHECKPOINT_DIR" {q(cache)} {q(fsx + "/frameworks")}',
        "",
        "# 1. The example's training scripts, fetched once per commit to the shared file system.",
        f'if [ ! -f "{examples}/.fetched" ]; then',
        f"  staging=$(mktemp -d {q(examples + '.XXXXXX')})",
        '  git -C "$staging" init --quiet',
        f'  git -C "$staging" fetch --quiet --depth 1 {q(pinned["repository"])} {commit}',
        '  git -C "$staging" -c advice.detachedHead=false checkout --quiet FETCH_HEAD',
        f'  if [ "$(git -C "$staging" rev-parse HEAD)" != {commit} ]; then',
        f'    echo "fetched commit is not {commit}" >&2; exit 1',
        "  fi",
        '  touch "$staging/.fetched"',
        f'  mv -T "$staging" {q(examples)} || rm -rf "$staging"  # another run got there first',
        "fi",
        "",
    ]
    if job.dataset_format == "jsonl":
        lines += [
            '# 2. Tokenize the .jsonl records ({"text": ...}) into blocks of sequence_length',
            "#    tokens (labels = input ids), once per dataset, tokenizer and length.",
            'if [ ! -f "$DATA_PATH/state.json" ]; then',
            '  mkdir -p "$(dirname "$DATA_PATH")"',
            *_heredoc(
                _TOKENIZE,
                ['"$DATASET_DIR"', q(tokenizer_dir), str(job.sequence_length), '"$DATA_PATH"'],
                "CDK_LLM_TRAINING_TOKENIZE",
            ),
            "fi",
        ]
    lines += [
        "# Check the dataset before any node compiles.",
        *_heredoc(
            _CHECK_DATASET, ['"$DATA_PATH"', str(job.sequence_length)], "CDK_LLM_TRAINING_CHECK"
        ),
        "",
        "# Reserve the rendezvous port on every node, as the example scripts do (needs root).",
        'if [ "$(id -u)" -eq 0 ]; then',
        "  srun --ntasks-per-node=1 sysctl -w "
        '"net.ipv4.ip_local_reserved_ports=$MASTER_PORT,48620"',
        "fi",
    ]
    if job.precompile:
        lines += [
            f"# 3. Compile every graph into the cache first ({PRECOMPILE_STEPS} trial steps).",
            _NODE_TASKS,
            f"srun --kill-on-bad-exit=1 bash -c {q(compile_)}",
        ]
    lines += [
        "# 4. Train; resumes from the newest checkpoint of this output_name.",
        _NODE_TASKS,
        f"srun --kill-on-bad-exit=1 bash -c {q(train)}",
        "",
        "# 5. Final metrics for the run report, beside the checkpoints (exported to S3).",
        'if [ -f "$RUN_DIR/results.json" ]; then',
        *_heredoc(
            _METRICS,
            ['"$RUN_DIR/results.json"', '"$CHECKPOINT_DIR/metrics.json"'],
            "CDK_LLM_TRAINING_METRICS",
        ),
        "fi",
    ]
    return "\n".join(lines) + "\n"


def render(run: dict[str, Any], job: Any) -> str:
    """The batch script of ``job`` (form 3) for ``run``; raises :class:`RunInputError`."""
    if not isinstance(job, dict) or set(job) - {"template", "parameters"}:
        raise RunInputError(
            "job must have exactly one form; a template job has only template and "
            f"parameters; got {sorted(job) if isinstance(job, dict) else job!r}"
        )
    name = job.get("template")
    if name not in TEMPLATES:
        raise RunInputError(f"job.template {name!r} is not one of {list(TEMPLATES)} on Slurm")
    parameters = neuron_pretrain_parameters(
        job.get("parameters"), instance_type=run["instanceType"], nodes=run["nodes"]
    )
    return neuron_pretrain_script(run, parameters)
