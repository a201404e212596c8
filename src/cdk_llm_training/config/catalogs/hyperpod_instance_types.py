"""The instance types a HyperPod instance group accepts, shipped with the package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def hyperpod_instance_types() -> frozenset[str]:
    """Instance types a HyperPod instance group accepts (the SageMaker API's
    ``ClusterInstanceType`` values, shipped in ``data/hyperpod_instance_types.json``)."""
    text = (
        resources.files("cdk_llm_training.config.catalogs")
        .joinpath("data/hyperpod_instance_types.json")
        .read_text()
    )
    return frozenset(json.loads(text)["instance_types"])
