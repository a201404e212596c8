"""Merge a LoRA adapter into its base model: ``W + (alpha / r) * B @ A`` for every adapted
layer (PEFT ``merge_and_unload``), saved as safetensors with the base model's tokenizer.

Run in a SageMaker processing job (the training image holds torch, transformers and peft)::

    python merge_adapter.py --base /opt/ml/processing/input/base \\
        --adapter /opt/ml/processing/input/adapter --output /opt/ml/processing/output

``--adapter`` is the folder ``train_lora.py`` saved (``adapter_config.json`` and the adapter
weights) or a folder holding the training job's ``model.tar.gz``. The output folder gets the
merged model (``config.json``, ``*.safetensors``, tokenizer files) and ``merge-report.json``:
the architecture and whether Amazon Bedrock Custom Model Import takes it.
"""

from __future__ import annotations

import argparse
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

BEDROCK_IMPORT_ARCHITECTURES = frozenset(
    {
        "LlamaForCausalLM",
        "MllamaForConditionalGeneration",
        "MistralForCausalLM",
        "MixtralForCausalLM",
        "T5ForConditionalGeneration",
        "GPTBigCodeForCausalLM",
        "Qwen2ForCausalLM",
        "Qwen3ForCausalLM",
        "Qwen3MoeForCausalLM",
        "GptOssForCausalLM",
    }
)
"""Hugging Face architectures of the families the Bedrock user guide lists for Custom Model
Import (Llama 2/3.x and Mllama, Mistral, Mixtral, Flan-T5, GPTBigCode, Qwen2/2.5/3, GPT-OSS).
The family list is from the Custom Model Import page; the exact architecture strings per
family are unverified against it (Qwen2.5 shares ``Qwen2ForCausalLM``)."""
REPORT_NAME = "merge-report.json"


def bedrock_import_supported(architectures: list[str]) -> bool:
    """Whether every architecture of a ``config.json`` is one Custom Model Import takes."""
    return bool(architectures) and all(a in BEDROCK_IMPORT_ARCHITECTURES for a in architectures)


def adapter_folder(path: Path, scratch: Path) -> Path:
    """``path`` itself when it holds ``adapter_config.json``; otherwise the extracted
    ``model.tar.gz`` found in it (the training job's output)."""
    if (path / "adapter_config.json").is_file():
        return path
    archives = sorted(path.glob("*.tar.gz"))
    if len(archives) != 1:
        raise FileNotFoundError(
            f"--adapter {path}: no adapter_config.json and not exactly one *.tar.gz "
            f"(found {[a.name for a in archives]})"
        )
    with tarfile.open(archives[0]) as archive:
        archive.extractall(scratch, filter="data")
    found = sorted(p.parent for p in scratch.rglob("adapter_config.json"))
    if not found:
        raise FileNotFoundError(f"{archives[0]}: holds no adapter_config.json")
    return found[0]


def merge(base: Path, adapter: Path, output: Path, *, dtype: str = "bfloat16") -> dict[str, Any]:
    """Load ``base`` in ``dtype``, apply the adapter, merge and unload, save to ``output``;
    return the report (also written as ``merge-report.json``)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(str(base), torch_dtype=torch_dtype)
    with tempfile.TemporaryDirectory() as scratch:
        merged = PeftModel.from_pretrained(model, str(adapter_folder(adapter, Path(scratch))))
        merged = merged.merge_and_unload()
    output.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(output), safe_serialization=True)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(output))
    architectures = list(json.loads((output / "config.json").read_text())["architectures"])
    report = {
        "architectures": architectures,
        "dtype": dtype,
        "bedrockImportSupported": bedrock_import_supported(architectures),
    }
    (output / REPORT_NAME).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=Path("/opt/ml/processing/input/base"))
    parser.add_argument("--adapter", type=Path, default=Path("/opt/ml/processing/input/adapter"))
    parser.add_argument("--output", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16", "float32"))
    args = parser.parse_args(argv)
    report = merge(args.base, args.adapter, args.output, dtype=args.dtype)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
