"""Config file loading and messages: what a user types is accepted or explained in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdk_llm_training.config import (
    ConfigError,
    LabelingOptions,
    SmallLoRAConfig,
    WorkforceMode,
    load_app_config,
    parse_app_config,
)
from cdk_llm_training.config.base import FrozenModel


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_app_config(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    return str(error.value)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("typed", ["1.30", "1.31", "1.34"])
def test_unquoted_kubernetes_version_keeps_the_typed_text(tmp_path: Path, typed: str) -> None:
    """YAML reads 1.30 as the float 1.3; the loader keeps the text the user typed."""
    text = f"medium_fine_tune:\n  hyperpod:\n    eks:\n      kubernetes_version: {typed}\n"
    config = load_app_config(_write(tmp_path, text))
    assert config.medium_fine_tune.hyperpod.eks.kubernetes_version == typed


def test_unquoted_number_in_a_text_field_keeps_its_text(tmp_path: Path) -> None:
    config = load_app_config(
        _write(tmp_path, "small_lora:\n  observability:\n    tags: {project: 2026}\n")
    )
    assert config.small_lora.observability.tags.project == "2026"


def test_unknown_key_suggests_the_closest_and_lists_the_section(tmp_path: Path) -> None:
    message = _error(tmp_path, "small_lora:\n  labeling:\n    team: []\n")
    assert message.endswith(
        "field 'small_lora.labeling.team' is not a known setting; did you mean 'teams'? "
        "(settings of 'small_lora.labeling': workforce, teams, jobs, manifest_prefix, "
        "output_prefix, dataset_prefix, template_prefix, log_retention_days)."
    )


def test_unknown_top_level_key_suggests_the_section(tmp_path: Path) -> None:
    message = _error(tmp_path, "smal_lora: {}\n")
    assert "did you mean 'small_lora'?" in message
    assert "(settings of the top level: stacks, small_lora, medium_fine_tune, large_pretrain)" in (
        message
    )


def test_yaml_error_names_the_file_not_a_unicode_string(tmp_path: Path) -> None:
    message = _error(tmp_path, "small_lora: [unclosed\n")
    assert "<unicode string>" not in message
    assert f'in "{tmp_path / "config.yaml"}", line 2' in message


def test_a_section_is_never_dumped(tmp_path: Path) -> None:
    queues = "".join(
        f"    - name: q{i}\n      compute_resources: [{{name: c{i}}}]\n" for i in range(51)
    )
    message = _error(tmp_path, f"large_pretrain:\n  trainium:\n    queues:\n{queues}")
    assert len(message) < 400, message
    assert "compute_resources" not in message


@pytest.mark.parametrize(
    ("text", "noise"),
    [
        ("stacks: []\n", "Tuple should have at least"),
        ("stacks: [Tiny]\n", "at least 1 item"),
        ("medium_fine_tune:\n  file_system:\n    metadata_iops: 1500\n", ": None"),
        ("small_lora:\n  bedrock_fine_tune:\n    hyperparameters: {epochCount: [1]}\n", "str\n"),
        ("small_lora:\n  labeling:\n    jobs: {workers_per_object: 50}\n", ".."),
    ],
)
def test_messages_carry_no_follow_on_noise(tmp_path: Path, text: str, noise: str) -> None:
    message = _error(tmp_path, text)
    assert noise not in message
    assert "Value error," not in message
    assert "Input should be" not in message or "valid" in message


def test_empty_file_says_it_is_empty(tmp_path: Path) -> None:
    assert "the configuration file is empty" in _error(tmp_path, "# nothing yet\n")


def test_partial_labeling_section_keeps_the_tier_workforce_mode() -> None:
    config = parse_app_config({"small_lora": {"labeling": {"teams": [{"name": "reviewers"}]}}})
    labeling = config.small_lora.labeling
    assert labeling is not None
    assert labeling.workforce.mode is WorkforceMode.COGNITO
    assert [team.name for team in labeling.teams] == ["reviewers"]
    nested = parse_app_config({"small_lora": {"labeling": {"workforce": {"mfa": "optional"}}}})
    assert nested.small_lora.labeling is not None
    assert nested.small_lora.labeling.workforce.mode is WorkforceMode.COGNITO


def test_null_section_still_turns_it_off() -> None:
    assert parse_app_config({"small_lora": {"labeling": None}}).small_lora.labeling is None


def _subclasses(cls: type[FrozenModel]) -> list[type[FrozenModel]]:
    found: list[type[FrozenModel]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_model_default_that_differs_from_its_section_defaults_is_a_declared_preset() -> None:
    """The merge of partial sections relies on presets: an undeclared one would be lost."""
    import cdk_llm_training.config
    import cdk_llm_training.tools.planner.model  # noqa: F401

    undeclared: list[str] = []
    for model in _subclasses(FrozenModel):
        for name, field in model.model_fields.items():
            default = field.default
            if not isinstance(default, FrozenModel):
                continue
            preset = model.section_presets.get(name, {})
            if type(default).model_validate(preset) != default:
                undeclared.append(f"{model.__name__}.{name}")
    assert not undeclared


def test_small_tier_labeling_default_is_its_preset() -> None:
    preset = SmallLoRAConfig.section_presets["labeling"]
    assert LabelingOptions.model_validate(preset) == SmallLoRAConfig().labeling


def test_exponent_numbers_are_numbers(tmp_path: Path) -> None:
    """YAML 1.1 reads 14.8e9 as text; the loader reads it as the number users mean."""
    config = load_app_config(
        _write(
            tmp_path,
            "small_lora:\n  sagemaker_fine_tune:\n    method: qlora\n"
            "    base_model_parameters: 14.8e9\n    instance_type: ml.g6e.xlarge\n",
        )
    )
    assert config.small_lora.sagemaker_fine_tune is not None
    assert config.small_lora.sagemaker_fine_tune.base_model_parameters == 14.8e9
