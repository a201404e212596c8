"""The model card (``README.md``) written next to the trained model. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ADAPTER_USAGE = """```python
from peft import PeftModel
from transformers import AutoModelForCausalLM

base = AutoModelForCausalLM.from_pretrained("<base model folder or id>")
model = PeftModel.from_pretrained(base, "<this folder>")
```"""
_FULL_USAGE = """```python
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("<this folder>")
```"""


def model_card(summary: Mapping[str, Any]) -> str:
    """Markdown with a metadata header, how to load the model, and the training facts."""
    hyper = summary["hyperparameters"]
    rows = "\n".join(f"| {k} | {v} |" for k, v in hyper.items())
    eval_loss = summary["final_eval_loss"]
    adapter = summary["tuning"] in ("lora", "qlora")
    kind = f"{summary['tuning'].upper()} adapter" if adapter else "fully fine-tuned model"
    title = f"{summary['method'].upper()} {kind}"
    loading = (
        "Load it onto the same base model it was trained on:\n\n" + _ADAPTER_USAGE
        if adapter
        else "Load it as it is:\n\n" + _FULL_USAGE
    )
    return f"""---
library_name: {"peft" if adapter else "transformers"}
tags: [{summary["method"]}, {summary["tuning"]}, trl, sagemaker, cdk-llm-training]
---

# {title}

A {kind} trained with method `{summary["method"]}` by cdk-llm-training's training script on
a SageMaker training job. {loading}

## Training

- base model: {summary["base_model"]}
- method: {summary["method"]}, tuning: {summary["tuning"]}
- record format: {summary["record_format"]}
- training records: {summary["training_records"]}
- validation records: {summary["validation_records"]}
- optimizer steps: {summary["steps"]} (resumed from step {summary["resumed_from_step"]})
- processes: {summary["world_size"]}
- final training loss: {summary["final_train_loss"]}
- final validation loss: {eval_loss if eval_loss is not None else "n/a (no validation data)"}
- trainable parameters: {summary["trainable_parameters"]}

| hyperparameter | value |
|---|---|
{rows}
"""
