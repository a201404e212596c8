"""The training script's pure modules (no torch): the method table, arguments, record formats,
rewards, checkpoints, the distributed launch and the pinned requirements."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cdk_llm_training.assets.training import SOURCE_DIR, SOURCE_FILES, methods
from cdk_llm_training.assets.training.args import ARGUMENT_NAMES, TrainingError, parse_args
from cdk_llm_training.assets.training.checkpoints import (
    COMPLETE_MARKER,
    latest_complete,
    mark_complete,
)
from cdk_llm_training.assets.training.distributed import Cluster, launched, torchrun_command
from cdk_llm_training.assets.training.formats import (
    check_record,
    load_records,
    plain_render,
    renderer,
)
from cdk_llm_training.assets.training.rewards import (
    build_rewards,
    exact_match,
    json_schema,
    load_user_reward,
    regex_reward,
    schema_problems,
)

REPO = Path(__file__).resolve().parents[2]


def test_method_table_is_importable_without_torch() -> None:
    code = (
        "import sys; import cdk_llm_training.assets.training.methods, "
        "cdk_llm_training.assets.training.args, cdk_llm_training.assets.training.formats, "
        "cdk_llm_training.assets.training.rewards; "
        "print('torch' in sys.modules, 'trl' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_every_method_reads_known_record_formats() -> None:
    assert methods.method_names() == ("sft", "dpo", "kto", "grpo", "distill", "cpt")
    assert methods.tuning_names() == ("lora", "qlora", "full")
    for method in methods.METHODS:
        assert set(method.record_formats) <= set(methods.RECORD_FORMATS)
    assert "| `grpo` |" in methods.markdown_table()


@pytest.mark.parametrize(
    ("argv", "method", "tuning", "record_format"),
    [
        ([], "sft", "lora", "chat"),
        (["--method", "lora"], "sft", "lora", "chat"),
        (["--method", "qlora"], "sft", "qlora", "chat"),
        (["--method", "full"], "sft", "full", "chat"),
        (["--method", "dpo"], "dpo", "lora", "preference"),
        (["--method", "grpo", "--tuning", "full"], "grpo", "full", "grpo"),
        (["--method", "cpt"], "cpt", "lora", "text"),
        (["--method", "distill"], "distill", "lora", "prompt_completion"),
    ],
)
def test_arguments_resolve_method_tuning_and_format(
    argv: list[str], method: str, tuning: str, record_format: str
) -> None:
    args = parse_args(argv)
    assert (args.method, args.tuning, args.record_format) == (method, tuning, record_format)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--method", "qlora", "--tuning", "full"],
            "method=qlora means method=sft with tuning=qlora, but tuning=full was given; "
            "pass method=sft tuning=full",
        ),
        (
            ["--method", "dpo", "--record_format", "chat"],
            "--record_format chat does not fit method=dpo; allowed: preference",
        ),
        (
            ["--warmup_ratio", "5"],
            "--warmup_ratio must be at least 0 and below 1 (a share of the steps), got 5.0",
        ),
        (
            ["--fsdp", "true"],
            "--fsdp true shards full fine-tuning only; tuning=lora trains an adapter with data "
            "parallelism (DDP)",
        ),
        (
            ["--method", "grpo", "--num_generations", "1"],
            "--num_generations must be at least 2 for grpo (rewards are compared within a "
            "group), got 1",
        ),
        (
            ["--rewards", "exact_match,bleu"],
            "--rewards exact_match,bleu: unknown reward bleu; built-in rewards: exact_match, "
            "regex, json_schema (a reward of your own goes in --reward_file)",
        ),
    ],
)
def test_argument_errors_name_the_value_and_what_is_allowed(argv: list[str], message: str) -> None:
    with pytest.raises(TrainingError, match=f"^{re.escape(message)}$"):
        parse_args(argv)


def test_every_argument_is_known_by_name() -> None:
    assert {"method", "tuning", "rewards", "reward_file", "num_generations", "fsdp"} <= set(
        ARGUMENT_NAMES
    )


@pytest.mark.parametrize(
    ("record", "record_format", "problems"),
    [
        ({"prompt": "q", "chosen": "a", "rejected": "b"}, "preference", []),
        ({"prompt": "q", "chosen": "a"}, "preference", ["missing field 'rejected'"]),
        ({"prompt": "q", "completion": "a", "label": True}, "kto", []),
        (
            {"prompt": "q", "completion": "a", "label": "yes"},
            "kto",
            ["field 'label' must be true (desirable) or false (undesirable)"],
        ),
        ({"prompt": "q", "answer": "4", "schema": {"type": "object"}}, "grpo", []),
        (
            {"prompt": "q", "pattern": "("},
            "grpo",
            [
                "field 'pattern' is not a regular expression: missing ), unterminated "
                "subpattern at position 0"
            ],
        ),
        ({"text": ""}, "text", ["field 'text' is empty"]),
        ([], "text", ["record must be a JSON object"]),
    ],
)
def test_record_checks(record: Any, record_format: str, problems: list[str]) -> None:
    assert check_record(record, record_format) == problems


def test_load_records_renders_prompts_and_numbers_bad_lines(tmp_path: Path) -> None:
    lines = [{"prompt": "q", "chosen": "a", "rejected": "b"}, {"prompt": 3}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines[:1]))
    assert load_records(tmp_path, "preference", plain_render).rows == [
        {"prompt": "<|user|>\nq\n<|assistant|>\n", "chosen": "a", "rejected": "b"}
    ]
    (tmp_path / "b.jsonl").write_text("\n" + json.dumps(lines[1]) + "\n")
    with pytest.raises(TrainingError, match=r"b\.jsonl line 2: field 'prompt' must be a string"):
        load_records(tmp_path, "preference", plain_render)


class _TemplateTokenizer:
    """Duck-typed tokenizer: a chat template that writes BOS, and an encoder that may add it."""

    chat_template = "template"
    bos_token, bos_token_id = "<s>", 1

    def __init__(self, *, adds_bos: bool) -> None:
        self.adds_bos = adds_bos

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": [1, 9] if self.adds_bos else [9]}

    def apply_chat_template(self, context: list[dict[str, str]], **_: Any) -> str:
        return "<s>" + "".join(f"[{m['role']}]{m['content']}" for m in context) + "[assistant]"


@pytest.mark.parametrize(
    ("adds_bos", "expected"), [(True, "[user]q[assistant]"), (False, "<s>[user]q[assistant]")]
)
def test_chat_template_prompts_carry_one_bos(adds_bos: bool, expected: str) -> None:
    render = renderer(_TemplateTokenizer(adds_bos=adds_bos))
    assert render([{"role": "user", "content": "q"}]) == expected


def test_built_in_rewards() -> None:
    assert exact_match([""] * 3, [" 4 ", "5", "x"], answer=["4", "4", ""]) == [1.0, 0.0, None]
    regex = regex_reward(r"\d+")
    assert regex([""] * 2, ["a 12", "none"], pattern=["", r"^none$"]) == [1.0, 1.0]
    schema = json.dumps(
        {
            "type": "object",
            "required": ["n"],
            "properties": {"n": {"type": "integer", "minimum": 0}},
        }
    )
    assert json_schema([""] * 3, ['{"n": 3}', '{"n": -1}', "not json"], schema=[schema] * 3) == [
        1.0,
        0.0,
        0.0,
    ]
    assert schema_problems({"a": 1}, {"additionalProperties": False}) == ["$.a is not allowed"]


def test_user_reward_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "def score(prompts, completions, **kw):\n    return [len(c) for c in completions]\n"
    )
    assert load_user_reward(path, "score")([], ["ab"]) == [2]
    with pytest.raises(TrainingError, match=r"defines no function 'reward'"):
        load_user_reward(path, "reward")
    assert len(build_rewards(["regex"], reward_file=path, function="score")) == 2
    with pytest.raises(TrainingError, match=r"^method=grpo needs a reward"):
        build_rewards([])


def test_latest_complete_checkpoint_skips_unmarked_ones(tmp_path: Path) -> None:
    for step in (5, 10, 15):
        (tmp_path / f"checkpoint-{step}").mkdir()
    mark_complete(tmp_path / "checkpoint-5", 5)
    mark_complete(tmp_path / "checkpoint-10", 10)
    (tmp_path / "checkpoint-x").mkdir()
    assert latest_complete(tmp_path) == tmp_path / "checkpoint-10"
    assert (tmp_path / "checkpoint-10" / COMPLETE_MARKER).read_text() == "10\n"
    assert latest_complete(tmp_path / "absent") is None


def test_torchrun_command_from_sagemaker_env() -> None:
    env = {"SM_HOSTS": '["algo-2", "algo-1"]', "SM_CURRENT_HOST": "algo-2", "SM_NUM_GPUS": "8"}
    cluster = Cluster.from_env(env)
    assert (cluster.hosts, cluster.node_rank, cluster.world_size) == (("algo-1", "algo-2"), 1, 16)
    assert torchrun_command(cluster, "train_lora.py", ["--method", "dpo"], python="py") == [
        "py", "-m", "torch.distributed.run", "--nnodes=2", "--node_rank=1",
        "--nproc_per_node=8", "--master_addr=algo-1", "--master_port=29500",
        "train_lora.py", "--method", "dpo",
    ]  # fmt: skip
    one_gpu = Cluster.from_env({"SM_HOSTS": '["algo-1"]', "SM_NUM_GPUS": "1"})
    assert torchrun_command(one_gpu, "train_lora.py", []) is None
    assert torchrun_command(Cluster.from_env({}), "train_lora.py", []) is None
    assert launched({"WORLD_SIZE": "2"})
    assert not launched({})


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for raw in lines:
        line = raw.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{raw!r} is not pinned with =="
            pins[name.lower()] = version
    return pins


def test_requirements_pin_what_the_train_extra_pins() -> None:
    """The container installs the versions the CPU tests ran (torch comes with the image)."""
    shipped = _pins((SOURCE_DIR / "requirements.txt").read_text().splitlines())
    extra = _pins(
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"][
            "train"
        ]
    )
    assert {"trl", "transformers", "peft", "accelerate", "datasets"} <= set(shipped)
    for name, version in extra.items():
        if name != "torch":
            assert shipped.get(name) == version, name


def test_source_files_exist_and_modules_import_relatively() -> None:
    for name in SOURCE_FILES:
        assert (SOURCE_DIR / name).is_file(), name
    for name in SOURCE_FILES:
        if name.endswith(".py") and name != "train_lora.py":
            text = (SOURCE_DIR / name).read_text()
            imported = re.findall(r"^(?:from|import) (\S+)", text, re.M)
            assert not [m for m in imported if m.startswith("cdk_llm_training")], name


def test_the_shipped_files_alone_run_as_a_script(tmp_path: Path) -> None:
    """What the container unpacks: SOURCE_FILES in one folder, run as a program."""
    for name in SOURCE_FILES:
        (tmp_path / name).write_bytes((SOURCE_DIR / name).read_bytes())
    env = {"SM_CHANNEL_TRAIN": str(tmp_path / "none"), "SM_CHANNEL_MODEL": str(tmp_path / "m"),
           "PATH": "", "SM_HOSTS": '["algo-1"]', "SM_NUM_GPUS": "0"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "train_lora.py", "--method", "dpo", "--max_steps", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("error: no base model: pass --model_id")


def test_the_guide_shows_the_method_table_of_the_script() -> None:
    guide = (REPO / "docs/guides/training-methods.md").read_text()
    start, end = "<!-- methods-table -->\n", "<!-- /methods-table -->"
    assert guide.split(start)[1].split(end)[0] == methods.markdown_table()
