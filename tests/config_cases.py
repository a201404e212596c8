"""Config files for the validate == synth property: the docs' YAML snippets, configs the tests
use, and mutations of them (every leaf setting of every tier model, set to edge values).

Pure Python: building stacks is left to the tests.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import json
import re
import typing
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cdk_llm_training.config.base import deep_merge
from cdk_llm_training.config.tiers import (
    LargePretrainConfig,
    MediumFineTuneConfig,
    SmallLoRAConfig,
    StackName,
    load_config_yaml,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

SECTIONS: dict[str, tuple[StackName, type[BaseModel]]] = {
    "small_lora": (StackName.SMALL_LORA, SmallLoRAConfig),
    "medium_fine_tune": (StackName.MEDIUM_FINE_TUNE, MediumFineTuneConfig),
    "large_pretrain": (StackName.LARGE_PRETRAIN, LargePretrainConfig),
}
"""App config section -> its stack and tier model."""

_YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Case:
    """One config file's data and where it comes from."""

    name: str
    data: dict[str, Any]

    @property
    def key(self) -> str:
        """A stable hash of the data (the deterministic sample order)."""
        return hashlib.sha256(json.dumps(self.data, sort_keys=True).encode()).hexdigest()


def docs_yaml_snippets() -> list[Case]:
    """Every YAML block of the docs that is an app config (has a tier section)."""
    cases: list[Case] = []
    for page in sorted((REPO_ROOT / "docs").rglob("*.md")):
        for index, block in enumerate(_YAML_BLOCK.findall(page.read_text(encoding="utf-8"))):
            data = load_config_yaml(block)
            if isinstance(data, dict) and set(data) & set(SECTIONS):
                name = f"{page.relative_to(REPO_ROOT)}#{index + 1}"
                cases.append(Case(name, data))
    return cases


TEST_CONFIGS: tuple[Case, ...] = (
    Case("small defaults", {"stacks": ["SmallLoRAStack"]}),
    Case("medium defaults", {"stacks": ["MediumFineTuneStack"]}),
    Case("large defaults", {"stacks": ["LargePretrainStack"]}),
    Case(
        "large nvidia", {"stacks": ["LargePretrainStack"], "large_pretrain": {"engine": "nvidia"}}
    ),
    Case("large both", {"stacks": ["LargePretrainStack"], "large_pretrain": {"engine": "both"}}),
    Case(
        "small labeling teams only",
        {"stacks": ["SmallLoRAStack"], "small_lora": {"labeling": {"teams": [{"name": "a"}]}}},
    ),
    Case(
        "medium in us-west-2",
        {
            "stacks": ["MediumFineTuneStack"],
            "medium_fine_tune": {
                "network": {
                    "availability_zone_id": "usw2-az2",
                    "control_plane_availability_zone_id": "usw2-az1",
                }
            },
        },
    ),
)
"""Configs the unit tests build (tests/unit/test_config.py and the stack tests)."""


def _leaf_type(field: FieldInfo) -> Any:
    args = [_unannotated(arg) for arg in typing.get_args(field.annotation) if arg is not type(None)]
    return (
        args[0] if args and typing.get_origin(field.annotation) is not tuple else field.annotation
    )


def _unannotated(kind: Any) -> Any:
    while typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    return kind


def _edge_values(kind: Any, field: FieldInfo) -> list[Any]:
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return [member.value for member in kind]
    if kind is bool:
        return [True, False]
    if kind is int:
        whole = field.default if isinstance(field.default, int) else 1
        return [0, -1, whole + 1, whole * 7 + 3, 100_000]
    if kind is float:
        number = field.default if isinstance(field.default, int | float) else 1.0
        return [0.0, number * 3.3, 1e-6, 1e9]
    if kind is str:
        return ["bogus", "ml.p4de.24xlarge", "ml.zz9.xlarge", "ml.g5.xlarge", "1.30"]
    return []


def leaf_settings(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Dotted paths of every plain setting of ``model`` (nested models walked)."""
    for name, field in model.model_fields.items():
        kind = _leaf_type(field)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from leaf_settings(kind, (*prefix, name))
        else:
            yield (*prefix, name)


def _leaf_mutations(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[Any]:
    for name, field in model.model_fields.items():
        kind = _leaf_type(field)
        path = (*prefix, name)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from _leaf_mutations(kind, path)
            continue
        for value in _edge_values(kind, field):
            yield path, value


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data: Any = value
    for part in reversed(path):
        data = {part: data}
    return typing.cast(dict[str, Any], data)


TARGETED: tuple[tuple[str, dict[str, Any]], ...] = (
    ("small_lora", {"bedrock_fine_tune": {"hyperparameters": {"epochCount": 1000}}}),
    ("small_lora", {"bedrock_fine_tune": {"hyperparameters": {"batchSize": 0}}}),
    ("small_lora", {"bedrock_fine_tune": {"hyperparameters": {"learningRate": 5}}}),
    ("small_lora", {"bedrock_fine_tune": {"hyperparameters": {"learningRate": 0.00001}}}),
    ("small_lora", {"bedrock_fine_tune": {"hyperparameters": {"bogus": 5}}}),
    (
        "small_lora",
        {
            "bedrock_fine_tune": {
                "base_model_id": "meta.llama3-1-8b-instruct-v1:0:128k",
                "customization_type": "CONTINUED_PRE_TRAINING",
            }
        },
    ),
    (
        "small_lora",
        {
            "sagemaker_fine_tune": {
                "method": "qlora",
                "base_model_parameters": 70e9,
                "instance_type": "ml.g5.2xlarge",
            }
        },
    ),
    (
        "small_lora",
        {
            "sagemaker_fine_tune": {
                "method": "qlora",
                "base_model_parameters": 70e9,
                "instance_type": "ml.p5.48xlarge",
            }
        },
    ),
    ("small_lora", {"labeling": {"workforce": {"mode": "import"}}}),
    (
        "small_lora",
        {
            "labeling": {
                "workforce": {"mode": "import"},
                "teams": [{"name": "t", "oidc_groups": ["g"]}],
            }
        },
    ),
    (
        "medium_fine_tune",
        {
            "hyperpod": {
                "instance_groups": [
                    {"name": "g", "instance_type": "ml.zz9.48xlarge", "instance_count": 2}
                ]
            }
        },
    ),
    (
        "medium_fine_tune",
        {
            "hyperpod": {
                "instance_groups": [
                    {"name": "cpu", "instance_type": "ml.c6i.4xlarge", "instance_count": 1},
                    {"name": "gpu", "instance_type": "ml.g5.48xlarge", "instance_count": 2},
                ]
            }
        },
    ),
    ("medium_fine_tune", {"hyperpod": {"eks": {"kubernetes_version": "1.30"}}}),
    ("large_pretrain", {"engine": "nvidia", "file_system": {"efa_enabled": False}}),
)
"""Mutations aimed at the rules that once lived only in the constructs."""


def seed_sections(seed: Case) -> list[str]:
    """The tier sections a seed configures (all three when it names none)."""
    return [section for section in SECTIONS if section in seed.data] or list(SECTIONS)


def mutations(seed: Case, *, targeted: Collection[str] = tuple(SECTIONS)) -> Iterator[Case]:
    """The seed with one setting changed: every leaf of its tier models set to edge values,
    and :data:`TARGETED` for the sections in ``targeted`` (default: all)."""
    for section in seed_sections(seed):
        _, model = SECTIONS[section]
        base = seed.data.get(section) or {}
        aimed = [(None, d) for s, d in TARGETED if s == section] if section in targeted else []
        changes = [*_leaf_mutations(model), *aimed]
        for path, value in changes:
            change = value if path is None else _nested(path, value)
            data = copy.deepcopy(seed.data)
            data["stacks"] = [SECTIONS[section][0].value]
            data[section] = deep_merge(base, change) if isinstance(base, Mapping) else change
            label = "targeted" if path is None else ".".join(path)
            yield Case(f"{seed.name} / {section}.{label}={json.dumps(value)[:40]}", data)
