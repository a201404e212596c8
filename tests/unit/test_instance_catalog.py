"""The instance catalog: shipped data loads, lookups by EC2 and SageMaker names, overrides."""

import json
from pathlib import Path

import pytest

from cdk_llm_training.config.catalogs.instances import (
    AcceleratorFamily,
    default_instance_catalog,
    load_instance_catalog,
)


def test_shipped_catalog_has_the_training_instances() -> None:
    catalog = default_instance_catalog()
    for name in (
        "p4d.24xlarge",
        "p5.48xlarge",
        "p5en.48xlarge",
        "g5.2xlarge",
        "trn1.32xlarge",
        "trn2.48xlarge",
    ):
        assert name in catalog


def test_lookup_by_sagemaker_name() -> None:
    spec = default_instance_catalog().get("ml.p5.48xlarge")
    assert (spec.accelerator, spec.accelerator_count, spec.total_accelerator_memory_gib) == (
        "H100",
        8,
        640,
    )
    assert spec.sagemaker_instance_type == "ml.p5.48xlarge"
    assert spec.efa_supported


def test_trainium_family() -> None:
    spec = default_instance_catalog().get("trn1.32xlarge")
    assert spec.accelerator_family is AcceleratorFamily.TRAINIUM
    assert spec.total_accelerator_memory_gib == 512


def test_fails_unknown_instance_type() -> None:
    with pytest.raises(KeyError, match=r"instance type 'p9.96xlarge' is not in the catalog; known"):
        default_instance_catalog().get("p9.96xlarge")


def test_override_file_adds_and_replaces(tmp_path: Path) -> None:
    base = default_instance_catalog().get("p5.48xlarge").model_dump(mode="json")
    override = tmp_path / "instances.json"
    override.write_text(
        json.dumps(
            {
                "instances": [
                    {**base, "instance_type": "p6-b200.48xlarge", "accelerator": "B200"},
                    {**base, "network_gbps": 1600},
                ]
            }
        )
    )
    catalog = load_instance_catalog(override)
    assert catalog.get("p6-b200.48xlarge").accelerator == "B200"
    assert catalog.get("p5.48xlarge").network_gbps == 1600
    assert default_instance_catalog().get("p5.48xlarge").network_gbps == 3200
