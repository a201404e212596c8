"""Distillation with the shipped script: a teacher model answers the prompts (as Bedrock would
in a real run), the student trains on those answers and its loss against them falls."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_support import FAST_ARGS, WORDS, layout, run_script, series, write_jsonl

torch = pytest.importorskip("torch")
pytest.importorskip("trl")


def _teacher_answers(teacher: Path, prompts: list[str]) -> list[str]:
    """Greedy answers of the teacher, with the prompt rendered as the script renders it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cdk_llm_training.assets.training.formats import renderer, user_prompt

    tokenizer = AutoTokenizer.from_pretrained(str(teacher))
    model = AutoModelForCausalLM.from_pretrained(str(teacher)).eval()
    render = renderer(tokenizer)
    answers = []
    for prompt in prompts:
        encoded = tokenizer(user_prompt(prompt, render), return_tensors="pt")
        with torch.no_grad():
            output = model.generate(**encoded, max_new_tokens=4, do_sample=False)
        new = output[0, encoded["input_ids"].shape[1] :]
        answers.append(tokenizer.decode(new, skip_special_tokens=True).strip())
    return answers


def test_student_loss_against_the_teacher_outputs_falls(tmp_path: Path, base_model: Path) -> None:
    from transformers import AutoModelForCausalLM

    # The teacher: another model (the base with other weights), answering as it will.
    teacher = tmp_path / "teacher"
    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(str(base_model))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    model.save_pretrained(str(teacher))
    (teacher / "tokenizer.json").write_bytes((base_model / "tokenizer.json").read_bytes())
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        if (base_model / name).is_file():
            (teacher / name).write_bytes((base_model / name).read_bytes())
    prompts = [f"count from {WORDS[i % 10]}" for i in range(10)]
    answers = _teacher_answers(teacher, prompts)
    # An empty answer (the teacher stopped at once) is no training record.
    records = [{"prompt": p, "completion": a} for p, a in zip(prompts, answers, strict=True) if a]
    assert len(records) >= 6, answers
    env = layout(tmp_path / "student", base_model)
    write_jsonl(Path(env["SM_CHANNEL_TRAIN"]) / "teacher_outputs.jsonl", records * 4)
    result = run_script(
        [*FAST_ARGS, "--method", "distill", "--learning_rate", "0.01", "--max_steps", "5",
         "--save_steps", "100"],
        env,
    )  # fmt: skip
    assert result["status"] == 0, result["log"]
    losses = series(result["log"], "train_loss")
    print(f"teacher answers {answers[:3]}; student losses {[round(x, 3) for x in losses]}")
    assert losses[-1] < 0.6 * losses[0]
