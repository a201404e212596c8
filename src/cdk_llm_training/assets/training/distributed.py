"""Distributed training: SageMaker's view of the cluster and the torchrun command for it.
Pure Python (no torch import).

SageMaker tells every instance the cluster in ``SM_HOSTS`` (JSON list), ``SM_CURRENT_HOST``
and ``SM_NUM_GPUS``. When the job starts the script once per instance (no launcher) and there
is more than one GPU or instance, the script starts itself again under ``torchrun`` with one
process per GPU; the first host (sorted) is the rendezvous master. Under torchrun (or
``accelerate launch``: ``WORLD_SIZE`` is set) the script trains in its process as it is: the
Trainer uses DDP, or FSDP with ``--fsdp true``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MASTER_PORT = 29500
"""Rendezvous port on the master host; ``MASTER_PORT`` in the environment overrides it."""


@dataclass(frozen=True)
class Cluster:
    hosts: tuple[str, ...]
    current_host: str
    gpus_per_host: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Cluster:
        """SageMaker's cluster; one host with no GPU when the variables are missing."""
        try:
            hosts = tuple(sorted(json.loads(env.get("SM_HOSTS") or "[]")))
        except ValueError:
            hosts = ()
        current = env.get("SM_CURRENT_HOST") or (hosts[0] if hosts else "localhost")
        try:
            gpus = int(env.get("SM_NUM_GPUS") or 0)
        except ValueError:
            gpus = 0
        return cls(hosts or (current,), current, max(0, gpus))

    @property
    def node_rank(self) -> int:
        return self.hosts.index(self.current_host) if self.current_host in self.hosts else 0

    @property
    def world_size(self) -> int:
        return len(self.hosts) * max(1, self.gpus_per_host)


def launched(env: Mapping[str, str]) -> bool:
    """Whether a launcher (torchrun, accelerate, the SageMaker toolkit's torchrun) started
    this process."""
    return "WORLD_SIZE" in env or "LOCAL_RANK" in env


def torchrun_command(
    cluster: Cluster,
    script: str,
    argv: Sequence[str],
    *,
    python: str = sys.executable,
    port: int = MASTER_PORT,
) -> list[str] | None:
    """The torchrun command that runs ``script`` on every GPU of every host, or None when
    one process is all the cluster needs."""
    if cluster.world_size <= 1:
        return None
    return [
        python,
        "-m",
        "torch.distributed.run",
        f"--nnodes={len(cluster.hosts)}",
        f"--node_rank={cluster.node_rank}",
        f"--nproc_per_node={max(1, cluster.gpus_per_host)}",
        f"--master_addr={cluster.hosts[0]}",
        f"--master_port={port}",
        script,
        *argv,
    ]
