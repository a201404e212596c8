"""Tier configuration files: valid files load, bad ones give one paragraph naming the field."""

from pathlib import Path

import pytest

from cdk_llm_training.config import (
    AppConfig,
    ConfigError,
    LargeEngine,
    StackName,
    load_app_config,
    parse_app_config,
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file_is_an_error_not_every_tier(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match=r"config\.yaml: the configuration file is empty"):
        load_app_config(_write(tmp_path, text))


def test_file_overrides_defaults(tmp_path: Path) -> None:
    config = load_app_config(
        _write(
            tmp_path,
            "stacks: [SmallLoRAStack]\n"
            "small_lora:\n"
            "  data_lake:\n"
            "    noncurrent_version_expiration_days: 30\n"
            "    checkpoint_expiration_days: 14\n",
        )
    )
    assert config.stacks == (StackName.SMALL_LORA,)
    assert config.small_lora.data_lake.noncurrent_version_expiration_days == 30
    assert config.small_lora.data_lake.checkpoint_expiration_days == 14
    assert config.small_lora.data_lake.abort_incomplete_multipart_upload_days == 7


def test_fails_value_out_of_range_names_field_and_value(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "small_lora:\n  data_lake:\n    noncurrent_version_expiration_days: 0\n"
    )
    with pytest.raises(ConfigError) as error:
        load_app_config(path)
    assert str(error.value) == (
        f"{path}: invalid configuration: field 'small_lora.data_lake."
        "noncurrent_version_expiration_days' = 0: allowed: at least 1."
    )


def test_fails_unknown_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "small_lora:\n  datalake: {}\n")
    with pytest.raises(ConfigError) as error:
        load_app_config(path)
    assert str(error.value) == (
        f"{path}: invalid configuration: field 'small_lora.datalake' is not a known setting; "
        "did you mean 'data_lake'? (settings of 'small_lora': data_lake, labeling, "
        "bedrock_fine_tune, sagemaker_fine_tune, sagemaker_serverless, promotion, guardrail, "
        "observability, permissions_boundary, data_pipeline)."
    )


def test_fails_unknown_stack_name_lists_several_errors_in_one_paragraph() -> None:
    with pytest.raises(ConfigError) as error:
        parse_app_config(
            {"stacks": ["TinyStack"], "small_lora": {"data_lake": {"event_bridge_enabled": "x"}}},
            source="inline",
        )
    message = str(error.value)
    assert message.startswith("inline: invalid configuration: field 'stacks[0]' = 'TinyStack': ")
    assert "'SmallLoRAStack'" in message
    assert "; field 'small_lora.data_lake.event_bridge_enabled' = 'x': " in message
    assert "\n" not in message


def test_fails_empty_stack_list() -> None:
    with pytest.raises(ConfigError) as error:
        parse_app_config({"stacks": []})
    assert str(error.value) == (
        "config: invalid configuration: field 'stacks' = []: allowed: at least 1 item(s)."
    )


def test_fails_top_level_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "- SmallLoRAStack\n")
    with pytest.raises(ConfigError) as error:
        load_app_config(path)
    assert str(error.value) == (
        f"{path}: invalid configuration: the top level must be a mapping of settings "
        "such as 'stacks:' and 'small_lora:', got list."
    )


def test_fails_invalid_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "small_lora: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"^{path}: not valid YAML: "):
        load_app_config(path)


def test_fails_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as error:
        load_app_config(path)
    assert str(error.value) == (
        f"{path}: cannot read configuration file: No such file or directory."
    )


def test_default_app_builds_all_three_tiers() -> None:
    assert AppConfig().stacks == (
        StackName.SMALL_LORA,
        StackName.MEDIUM_FINE_TUNE,
        StackName.LARGE_PRETRAIN,
    )


def test_medium_and_large_sections_from_yaml(tmp_path: Path) -> None:
    config = load_app_config(
        _write(
            tmp_path,
            "stacks: [MediumFineTuneStack, LargePretrainStack]\n"
            "medium_fine_tune:\n"
            "  network: {availability_zone_id: usw2-az2, control_plane_availability_zone_id: "
            "usw2-az1}\n"
            "large_pretrain:\n"
            "  engine: both\n"
            "  trainium: {queues: [{compute_resources: [{max_count: 32}]}]}\n",
        )
    )
    assert config.medium_fine_tune.network.availability_zone_id == "usw2-az2"
    assert config.large_pretrain.engine is LargeEngine.BOTH
    assert config.large_pretrain.network.max_nodes == 32 + 17


def test_fails_unknown_large_engine_names_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "large_pretrain:\n  engine: tpu\n")
    with pytest.raises(ConfigError) as error:
        load_app_config(path)
    assert str(error.value) == (
        f"{path}: invalid configuration: field 'large_pretrain.engine' = 'tpu': allowed: "
        "'trainium', 'nvidia' or 'both'."
    )
