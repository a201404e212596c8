"""Data parallelism: the script started the way a 2-GPU SageMaker instance starts it
(``SM_HOSTS``, ``SM_CURRENT_HOST``, ``SM_NUM_GPUS=2``) relaunches itself under torchrun with two
processes (gloo on CPU) and reproduces the one-process loss curve at the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from training_support import FAST_ARGS, count_records, layout, run_script, series, write_jsonl

pytest.importorskip("trl")

from cdk_llm_training.assets.training import ENTRY_POINT, SOURCE_DIR

STEPS = 3
COMMON = [*FAST_ARGS, "--learning_rate", "0.01", "--max_steps", str(STEPS), "--save_steps", "100"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(root: Path, model: Path) -> dict[str, str]:
    env = layout(root, model)
    write_jsonl(Path(env["SM_CHANNEL_TRAIN"]) / "train.jsonl", count_records(48, seed=1))
    return env


def test_two_processes_reproduce_the_one_process_loss_curve(
    tmp_path: Path, base_model: Path
) -> None:
    # One process: 4 records per device, 2 accumulation steps (global batch 8).
    single = run_script([*COMMON], _env(tmp_path / "one", base_model))
    assert single["status"] == 0, single["log"]
    # Two processes: 2 records per device each (global batch 8 again).
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "LOCAL_RANK")},
        **_env(tmp_path / "two", base_model),
        "SM_HOSTS": '["localhost"]',
        "SM_CURRENT_HOST": "localhost",
        "SM_NUM_GPUS": "2",
        "MASTER_PORT": str(_free_port()),
        "OMP_NUM_THREADS": "1",
    }
    argv = [*COMMON, "--per_device_batch_size", "2"]
    done = subprocess.run(
        [sys.executable, str(SOURCE_DIR / ENTRY_POINT), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "torch.distributed.run --nnodes=1 --node_rank=0 --nproc_per_node=2" in done.stdout
    one, two = series(single["log"], "train_loss"), series(done.stdout, "train_loss")
    print(f"one process {[round(x, 4) for x in one]}\ntwo processes {[round(x, 4) for x in two]}")
    assert len(one) == len(two) == STEPS
    assert two == pytest.approx(one, rel=0.02)
    summary = json.loads((Path(env["SM_MODEL_DIR"]) / "training_summary.json").read_text())
    assert summary["world_size"] == 2
