"""The training image shipped with the package: the Hugging Face PyTorch Deep Learning Container
pinned in ``config/catalogs/data/hf_training_images.json`` (tag parts + the AWS account of the
image registry in each Region); ``SageMakerFineTuneOptions.image_uri`` overrides it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from cdk_llm_training.config.base import FrozenModel


class TrainingImage(FrozenModel):
    """A Deep Learning Container image: repository, pinned tag parts, registry per Region."""

    repository: str
    pytorch_version: str
    transformers_version: str
    python_version: str
    cuda_version: str
    os_version: str
    registries: dict[str, str]
    """Region -> AWS account of the image registry."""

    @property
    def tag(self) -> str:
        return (
            f"{self.pytorch_version}-transformers{self.transformers_version}-gpu-"
            f"{self.python_version}-{self.cuda_version}-{self.os_version}"
        )

    def account(self, region: str) -> str:
        """The registry account of ``region``; ``KeyError`` names the known Regions."""
        try:
            return self.registries[region]
        except KeyError:
            known = ", ".join(sorted(self.registries))
            raise KeyError(
                f"no {self.repository} registry known for Region {region!r}; known Regions: "
                f"{known}. Pass image_uri to use another image."
            ) from None

    def uri(self, region: str) -> str:
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"{self.account(region)}.dkr.ecr.{region}.{suffix}/{self.repository}:{self.tag}"


@cache
def default_training_image() -> TrainingImage:
    """The pinned Hugging Face PyTorch training image shipped with the package."""
    text = (
        resources.files("cdk_llm_training.config.catalogs")
        .joinpath("data/hf_training_images.json")
        .read_text()
    )
    return _parse_image(json.loads(text))


def load_training_image(path: str | Path) -> TrainingImage:
    """A training image description from a JSON file shaped like the shipped one."""
    return _parse_image(json.loads(Path(path).read_text()))


def _parse_image(document: dict[str, Any]) -> TrainingImage:
    return TrainingImage.model_validate({k: v for k, v in document.items() if k != "_about"})
