"""GRPO with the shipped script on the tiny Llama: on a toy verifiable task (say ``seven``)
the mean reward rises within a bounded number of steps. The reward is a built-in one (regex,
per-record pattern) plus a user reward function loaded from a Python file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from training_support import FAST_ARGS, WORDS, layout, run_script, series, write_jsonl

pytest.importorskip("trl")

USER_REWARD = '''
def reward(prompts, completions, **columns):
    """Share of the completion's words that are 'seven'."""
    scores = []
    for completion in completions:
        words = completion.split()
        scores.append(sum(w == "seven" for w in words) / max(1, len(words)))
    return scores
'''


@pytest.fixture(scope="module")
def grpo_run(tmp_path_factory: pytest.TempPathFactory, base_model: Path) -> dict[str, Any]:
    env = layout(tmp_path_factory.mktemp("grpo"), base_model)
    records = [{"prompt": f"count from {WORDS[i % 6]}", "pattern": r"\bseven\b"} for i in range(24)]
    write_jsonl(Path(env["SM_CHANNEL_TRAIN"]) / "prompts.jsonl", records)
    reward_dir = Path(env["SM_CHANNEL_REWARD"])
    reward_dir.mkdir(parents=True)
    (reward_dir / "say_seven.py").write_text(USER_REWARD)
    result = run_script(
        [*FAST_ARGS, "--method", "grpo", "--learning_rate", "0.03", "--max_steps", "10",
         "--save_steps", "100", "--num_generations", "4", "--max_completion_length", "4",
         "--rewards", "regex", "--reward_file", "say_seven.py", "--seed", "1"],
        env,
    )  # fmt: skip
    return {**result, "env": env}


def test_grpo_run_succeeds(grpo_run: dict[str, Any]) -> None:
    assert grpo_run["status"] == 0, grpo_run["log"]
    assert "training grpo (lora) on 24 records for 10 steps" in grpo_run["log"]


def test_mean_reward_rises(grpo_run: dict[str, Any]) -> None:
    rewards = series(grpo_run["log"], "reward")
    print(f"rewards {[round(r, 3) for r in rewards]}")
    assert len(rewards) == 10
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert last > first + 0.3
    assert last > 0.8  # of at most 2.0 (regex 1.0 + the user's share 1.0)


def test_reward_lines_fit_the_proposed_metric_regexes(grpo_run: dict[str, Any]) -> None:
    import re

    from cdk_llm_training.assets.training.callbacks import PROPOSED_METRIC_DEFINITIONS

    regexes = {d["Name"]: re.compile(d["Regex"]) for d in PROPOSED_METRIC_DEFINITIONS}
    lines = [line for line in grpo_run["log"].splitlines() if line.startswith("[metrics]")]
    found = {name for line in lines for name, rx in regexes.items() if rx.search(line)}
    assert {"reward", "reward_std", "train_loss", "learning_rate"} <= found
    # reward= must not also match reward_std= or reward_margin= values
    for line in lines:
        if " reward=" in line:
            match = regexes["reward"].search(line)
            assert match is not None
            assert float(match.group(1)) == float(line.split(" reward=")[1].split()[0])
