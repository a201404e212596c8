"""CLI conventions: help, examples, docs links, schema, completion, negative numbers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cdk_llm_training.config import AppConfig
from cdk_llm_training.tools import cli


def test_bare_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: cdk-llm-training")
    for command in cli.COMMANDS:
        assert command.name in out


@pytest.mark.parametrize("command", [c.name for c in cli.COMMANDS])
def test_every_command_help_has_an_example_and_a_docs_link(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"examples:\n  cdk-llm-training {command}" in out or "examples:\n  eval" in out
    assert f"docs: docs/reference/cli.md#cdk-llm-training-{command}" in out


def test_every_docs_link_anchor_exists() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs/reference/cli.md").read_text()
    for command in cli.COMMANDS:
        assert f"\n## `cdk-llm-training {command.name}`\n" in page  # the link's anchor


def test_negative_number_gets_the_domain_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["plan", "--params", "-7e9", "--method", "lora", "--tokens", "1e8"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --params: must be greater than 0, got '-7e9'" in err
    assert "expected one argument" not in err


def test_schema_prints_the_app_config_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == set(AppConfig.model_fields)
    assert schema["additionalProperties"] is False


def test_schema_out_writes_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cdk-llm-training.schema.json"
    assert cli.main(["schema", "--out", str(path)]) == 0
    assert json.loads(path.read_text())["title"].startswith("cdk-llm-training app config")
    assert capsys.readouterr().err.strip() == f"wrote {path}"


def test_schema_accepts_the_docs_configs() -> None:
    """The schema editors use agrees with the models on the docs' configs."""
    jsonschema = pytest.importorskip("jsonschema")
    from config_cases import docs_yaml_snippets

    from cdk_llm_training.config.schema import app_config_schema

    validator = jsonschema.Draft202012Validator(app_config_schema())
    for case in docs_yaml_snippets():
        assert not list(validator.iter_errors(case.data)), case.name


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_is_valid_shell(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["completion", shell]) == 0
    script = capsys.readouterr().out
    for command in cli.COMMANDS:
        assert f"    {command.name})" in script
    assert (
        "--method) COMPREPLY=($(compgen -W "
        "'sft dpo kto grpo distill cpt pretrain full lora qlora bedrock'" in script
    )
    interpreter = shutil.which(shell)
    if interpreter is None:
        pytest.skip(f"{shell} is not installed")
    result = subprocess.run(
        [interpreter, "-n"], input=script, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_bash_completion_completes_commands_and_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    assert cli.main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    probe = (
        f"{script}\n"
        "COMP_WORDS=(cdk-llm-training pl); COMP_CWORD=1; _cdk_llm_training; "
        'echo "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(cdk-llm-training plan --method q); COMP_CWORD=3; _cdk_llm_training; "
        'echo "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run([bash, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["plan", "qlora"]


def test_diagram_default_output_is_not_the_docs_tree() -> None:
    args = cli.build_parser().parse_args(["diagram"])
    assert args.out == "cdk.out/diagrams"
    assert not args.out.startswith("docs")


def test_commands_are_a_table_a_new_command_is_one_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    extra = cli.Command(
        name="hello",
        help="say hello",
        description="Say hello.",
        examples=("cdk-llm-training hello",),
        add_arguments=lambda parser: parser.set_defaults(name="world"),
        run=lambda args: print(f"hello {args.name}") or 0,
    )
    parser = cli.build_parser([*cli.COMMANDS, extra])
    args = parser.parse_args(["hello"])
    assert args.run(args) == 0
    assert capsys.readouterr().out == "hello world\n"
