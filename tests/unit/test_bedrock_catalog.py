"""The Bedrock base-model catalog: shipped data, registration, overrides, hyperparameters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cdk_llm_training.assets.runtime.dataset_validation import record_formats
from cdk_llm_training.config import ConfigError, SmallLoRAConfig, parse_app_config
from cdk_llm_training.config.bedrock_fine_tune_job import BedrockFineTuneOptions
from cdk_llm_training.config.catalogs.bedrock_models import (
    CustomizationType,
    default_bedrock_catalog,
    load_bedrock_catalog,
    validate_hyperparameters,
)


def test_shipped_catalog_has_the_documented_models() -> None:
    catalog = default_bedrock_catalog()
    for model_id in (
        "amazon.titan-text-express-v1:0:8k",
        "amazon.titan-text-lite-v1:0:4k",
        "meta.llama3-1-8b-instruct-v1:0:128k",
        "meta.llama3-1-70b-instruct-v1:0:128k",
        "meta.llama3-2-1b-instruct-v1:0:128k",
        "amazon.nova-micro-v1:0:128k",
        "amazon.nova-lite-v1:0:300k",
        "amazon.nova-pro-v1:0:300k",
        "anthropic.claude-3-haiku-20240307-v1:0:200k",
    ):
        assert model_id in catalog


def test_every_record_format_has_a_validator_and_every_type_has_limits() -> None:
    catalog = default_bedrock_catalog()
    for name in catalog.family_names():
        family = catalog.family(name)
        assert set(family.record_formats.values()) <= set(record_formats())
        assert set(family.limits) == set(family.record_formats)
        for spec in family.hyperparameters:
            assert spec.min <= spec.default <= spec.max, (name, spec.name)


def test_family_facts() -> None:
    catalog = default_bedrock_catalog()
    titan = catalog.family("amazon-titan-text")
    assert titan.record_formats == {
        CustomizationType.FINE_TUNING: "prompt_completion",
        CustomizationType.CONTINUED_PRE_TRAINING: "continued_pretraining",
    }
    assert titan.limits[CustomizationType.FINE_TUNING].max_training_file_bytes == 1024**3
    assert titan.limits[CustomizationType.CONTINUED_PRE_TRAINING].max_training_file_bytes == (
        10 * 1024**3
    )
    nova = catalog.family("amazon-nova-understanding")
    epochs = nova.hyperparameter("epochCount")
    assert epochs is not None
    assert (epochs.min, epochs.max, epochs.default) == (1, 5, 2)
    assert catalog.family("meta-llama-3.2").record_formats[CustomizationType.FINE_TUNING] == (
        "messages"
    )
    haiku = catalog.family("anthropic-claude-3-haiku")
    assert [h.name for h in haiku.hyperparameters] == [
        "epochCount",
        "batchSize",
        "learningRateMultiplier",
        "earlyStoppingThreshold",
        "earlyStoppingPatience",
    ]


def test_model_can_narrow_its_family_types() -> None:
    catalog = default_bedrock_catalog()
    model, family = catalog.resolve("meta.llama3-1-70b-instruct-v1:0:128k")
    assert catalog.supported_types(model, family) == (CustomizationType.FINE_TUNING,)
    model, family = catalog.resolve("meta.llama3-1-8b-instruct-v1:0:128k")
    assert catalog.supported_types(model, family) == (
        CustomizationType.FINE_TUNING,
        CustomizationType.DISTILLATION,
    )


def test_register_adds_a_model_to_an_existing_family() -> None:
    catalog = load_bedrock_catalog()
    catalog.register("amazon.nova-micro-v9:0:128k", "amazon-nova-understanding")
    _model, family = catalog.resolve("amazon.nova-micro-v9:0:128k")
    assert family.family == "amazon-nova-understanding"
    assert "amazon.nova-micro-v9:0:128k" not in default_bedrock_catalog()


def test_fails_register_unknown_family() -> None:
    with pytest.raises(KeyError, match=r"model family 'acme' is not in the catalog"):
        load_bedrock_catalog().register("acme.m-v1", "acme")


def test_fails_resolve_unknown_model() -> None:
    with pytest.raises(
        KeyError,
        match=re.escape("base_model_id 'acme.m-v1' is not in the Bedrock model catalog; known:"),
    ):
        default_bedrock_catalog().resolve("acme.m-v1")


def test_override_file_adds_models_and_families(tmp_path: Path) -> None:
    override = tmp_path / "bedrock.json"
    override.write_text(
        json.dumps(
            {
                "families": [
                    {
                        "family": "acme-chat",
                        "record_formats": {"FINE_TUNING": "messages"},
                        "hyperparameters": [
                            {"name": "epochCount", "type": "int", "min": 1, "max": 3, "default": 1}
                        ],
                    }
                ],
                "models": [{"model_id": "acme.chat-v1:0", "family": "acme-chat"}],
            }
        )
    )
    catalog = load_bedrock_catalog(override)
    _model, family = catalog.resolve("acme.chat-v1:0")
    assert family.record_formats[CustomizationType.FINE_TUNING] == "messages"
    assert len(catalog) == len(default_bedrock_catalog()) + 1


def test_hyperparameters_render_as_api_strings() -> None:
    family = default_bedrock_catalog().family("anthropic-claude-3-haiku")
    rendered = validate_hyperparameters(
        "m", family, {"epochCount": 3.0, "batchSize": "64", "learningRateMultiplier": 0.5}
    )
    assert rendered == {"epochCount": "3", "batchSize": "64", "learningRateMultiplier": "0.5"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"batchSize": 2},
            "hyperparameter 'batchSize' = 2 is outside the range 4 to 256 for base model 'm' "
            "(family anthropic-claude-3-haiku).",
        ),
        (
            {"learningRateMultiplier": "fast"},
            "hyperparameter 'learningRateMultiplier' = 'fast' must be a number in the range "
            "0.1 to 2 for base model 'm' (family anthropic-claude-3-haiku).",
        ),
        (
            {"epochCount": True},
            "hyperparameter 'epochCount' = True must be an integer in the range 1 to 10 for "
            "base model 'm' (family anthropic-claude-3-haiku).",
        ),
        (
            {"earlyStoppingThreshold": float("nan")},
            "hyperparameter 'earlyStoppingThreshold' = nan must be a number in the range 0.0 to "
            "0.1 for base model 'm' (family anthropic-claude-3-haiku).",
        ),
    ],
)
def test_fails_bad_hyperparameters(values: dict[str, str | int | float], message: str) -> None:
    family = default_bedrock_catalog().family("anthropic-claude-3-haiku")
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_hyperparameters("m", family, values)


def test_default_options_deploy_as_is() -> None:
    options = BedrockFineTuneOptions()
    _model, family = default_bedrock_catalog().resolve(options.base_model_id)
    assert options.customization_type in family.customization_types
    assert options.hyperparameters == {}


def test_tier_config_section() -> None:
    config = parse_app_config(
        {
            "small_lora": {
                "bedrock_fine_tune": {
                    "base_model_id": "meta.llama3-1-8b-instruct-v1:0:128k",
                    "hyperparameters": {"epochCount": 3},
                }
            }
        }
    )
    options = config.small_lora.bedrock_fine_tune
    assert options is not None
    assert options.hyperparameters == {"epochCount": 3}
    assert parse_app_config({"small_lora": {"bedrock_fine_tune": None}}).small_lora == (
        SmallLoRAConfig(bedrock_fine_tune=None)
    )


def test_fails_reinforcement_fine_tuning_without_a_grader_in_a_config_file() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "customization_type REINFORCEMENT_FINE_TUNING needs rft=RftOptions(grader=...)"
        ),
    ):
        parse_app_config(
            {
                "small_lora": {
                    "bedrock_fine_tune": {"customization_type": "REINFORCEMENT_FINE_TUNING"}
                }
            }
        )
