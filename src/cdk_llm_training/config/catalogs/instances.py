"""Accelerated instance catalog: hardware facts as data, shared by constructs and planner.

Pure Python (no aws_cdk import). The data lives in ``config/catalogs/data/instances.json``;
users can add or override entries with :func:`load_instance_catalog` and a file of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import Field

from cdk_llm_training.config.base import FrozenModel


class AcceleratorFamily(StrEnum):
    """Who makes the accelerator: decides drivers, AMIs and which engines can run it."""

    NVIDIA = "nvidia"
    TRAINIUM = "trainium"


class InstanceSpec(FrozenModel):
    """Hardware facts of one instance type (EC2 name, without the ``ml.`` prefix)."""

    instance_type: str
    accelerator: str
    accelerator_family: AcceleratorFamily
    accelerator_count: int = Field(ge=1)
    accelerator_memory_gib: float = Field(gt=0)
    """Memory per accelerator, GiB."""
    peak_bf16_tflops_per_accelerator: float = Field(gt=0)
    """Peak dense (no sparsity) BF16 TFLOPS per accelerator."""
    vcpus: int = Field(ge=1)
    memory_gib: float = Field(gt=0)
    efa_supported: bool
    network_gbps: float = Field(gt=0)

    @property
    def total_accelerator_memory_gib(self) -> float:
        """Accelerator memory of the whole instance, GiB."""
        return self.accelerator_count * self.accelerator_memory_gib

    @property
    def sagemaker_instance_type(self) -> str:
        """The SageMaker / HyperPod name (``ml.`` prefix)."""
        return f"ml.{self.instance_type}"


class InstanceCatalog:
    """Lookup of :class:`InstanceSpec` by EC2 or SageMaker (``ml.``) instance type name."""

    def __init__(self, specs: Iterable[InstanceSpec]) -> None:
        self._specs: dict[str, InstanceSpec] = {spec.instance_type: spec for spec in specs}

    def __contains__(self, instance_type: object) -> bool:
        return isinstance(instance_type, str) and self.find(instance_type) is not None

    def __iter__(self) -> Any:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def find(self, instance_type: str) -> InstanceSpec | None:
        """The spec of ``instance_type`` (``p5.48xlarge`` or ``ml.p5.48xlarge``), or None."""
        return self._specs.get(instance_type.removeprefix("ml."))

    def get(self, instance_type: str) -> InstanceSpec:
        """Like :meth:`find`, but raises ``KeyError`` naming the known types."""
        spec = self.find(instance_type)
        if spec is None:
            known = ", ".join(sorted(self._specs))
            raise KeyError(f"instance type {instance_type!r} is not in the catalog; known: {known}")
        return spec

    def names(self) -> list[str]:
        """Every EC2 instance type name in the catalog, sorted."""
        return sorted(self._specs)

    def with_overrides(self, specs: Iterable[InstanceSpec]) -> InstanceCatalog:
        """A new catalog where ``specs`` add to or replace entries of this one."""
        return InstanceCatalog([*self._specs.values(), *specs])


def _parse(document: Mapping[str, Any]) -> list[InstanceSpec]:
    return [InstanceSpec.model_validate(row) for row in document["instances"]]


@cache
def default_instance_catalog() -> InstanceCatalog:
    """The catalog shipped with the package."""
    text = (
        resources.files("cdk_llm_training.config.catalogs")
        .joinpath("data/instances.json")
        .read_text()
    )
    return InstanceCatalog(_parse(json.loads(text)))


def load_instance_catalog(override_file: str | Path | None = None) -> InstanceCatalog:
    """The shipped catalog, with entries from ``override_file`` (same JSON shape:
    ``{"instances": [...]}``) added or replacing shipped ones."""
    catalog = default_instance_catalog()
    if override_file is None:
        return catalog
    return catalog.with_overrides(_parse(json.loads(Path(override_file).read_text())))
