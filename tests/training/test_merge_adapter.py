"""The merge step on CPU: a tiny Llama and a LoRA adapter with non-zero weights, both built
here (no downloads); the merged model's logits equal base + adapter's."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from cdk_llm_training.assets.merging.merge_adapter import (  # noqa: E402 - after the skips
    bedrock_import_supported,
    main,
    merge,
)

WORDS = ["alpha", "beta", "gamma", "delta", "[PAD]", "[UNK]", "[BOS]", "[EOS]"]


def _base(folder: Path) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]"
    )
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(str(folder))
    fast.save_pretrained(str(folder))
    return model


def _adapter(base_folder: Path, folder: Path) -> None:
    model = transformers.AutoModelForCausalLM.from_pretrained(str(base_folder))
    config = peft.LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "up_proj"],
        init_lora_weights=False,  # random A and B: the adapter changes the outputs
    )
    torch.manual_seed(1)
    peft.get_peft_model(model, config).save_pretrained(str(folder))


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("merge")
    paths = {name: root / name for name in ("base", "adapter", "merged", "archive")}
    _base(paths["base"])
    _adapter(paths["base"], paths["adapter"])
    return paths


def _logits(model: Any) -> Any:
    ids = torch.tensor([[6, 0, 1, 2, 3, 1, 0]])
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_merged_outputs_equal_base_plus_adapter(folders: dict[str, Path]) -> None:
    report = merge(folders["base"], folders["adapter"], folders["merged"], dtype="float32")
    base = transformers.AutoModelForCausalLM.from_pretrained(str(folders["base"]))
    reference = _logits(peft.PeftModel.from_pretrained(base, str(folders["adapter"])))
    plain = _logits(transformers.AutoModelForCausalLM.from_pretrained(str(folders["base"])))
    merged_model = transformers.AutoModelForCausalLM.from_pretrained(str(folders["merged"]))
    merged = _logits(merged_model)
    assert not torch.allclose(plain, reference, atol=1e-4)  # the adapter matters
    assert torch.allclose(merged, reference, atol=1e-5)
    # A plain model: no LoRA layers left, weights in safetensors, tokenizer beside them.
    assert not any("lora" in name for name, _ in merged_model.named_parameters())
    assert list(folders["merged"].glob("*.safetensors"))
    assert (folders["merged"] / "tokenizer.json").is_file()
    assert report == {
        "architectures": ["LlamaForCausalLM"],
        "dtype": "float32",
        "bedrockImportSupported": True,
    }
    written = json.loads((folders["merged"] / "merge-report.json").read_text())
    assert written == report


def test_the_training_job_archive_is_accepted(folders: dict[str, Path], tmp_path: Path) -> None:
    archive_dir = tmp_path / "adapter"
    archive_dir.mkdir()
    with tarfile.open(archive_dir / "model.tar.gz", "w:gz") as archive:
        for file in folders["adapter"].iterdir():
            archive.add(file, arcname=file.name)
    report = main(
        [
            "--base",
            str(folders["base"]),
            "--adapter",
            str(archive_dir),
            "--output",
            str(tmp_path / "out"),
            "--dtype",
            "float32",
        ]
    )
    assert report["bedrockImportSupported"] is True
    assert (tmp_path / "out" / "config.json").is_file()


def test_an_adapter_folder_without_an_adapter_fails_clearly(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match=r"no adapter_config\.json"):
        merge(folders["base"], tmp_path, tmp_path / "out")


@pytest.mark.parametrize(
    ("architectures", "supported"),
    [
        (["LlamaForCausalLM"], True),
        (["Qwen2ForCausalLM"], True),
        (["MistralForCausalLM"], True),
        (["GemmaForCausalLM"], False),
        (["Phi3ForCausalLM"], False),
        ([], False),
    ],
)
def test_bedrock_import_architectures(architectures: list[str], supported: bool) -> None:
    assert bedrock_import_supported(architectures) is supported
