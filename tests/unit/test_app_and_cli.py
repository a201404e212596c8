"""The ready app (`app.py` as `cdk synth` runs it) and the console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cdk_support import REPO_ROOT, cdk_context

import cdk_llm_training
from cdk_llm_training.tools import cli


def _run_app(tmp_path: Path, **extra_context: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["CDK_OUTDIR"] = str(tmp_path / "cdk.out")
    env["CDK_CONTEXT_JSON"] = json.dumps({**cdk_context(), **extra_context})
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_app_with_bad_config_prints_one_paragraph_and_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("small_lora:\n  data_lake:\n    access_log_retention_days: 0\n")
    result = _run_app(tmp_path, config=str(config))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"error: {config}: invalid configuration: field "
        "'small_lora.data_lake.access_log_retention_days' = 0: allowed: at least 1."
    )


def test_app_with_empty_or_broken_config_files_says_so_without_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# settings to come\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("small_lora: [unclosed\n")
    for path, expected in (
        (empty, f"error: {empty}: the configuration file is empty (no settings)."),
        (broken, f"error: {broken}: not valid YAML: "),
    ):
        result = _run_app(tmp_path, config=str(path))
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(expected)


def test_app_with_config_file_synthesizes_the_named_stacks(tmp_path: Path) -> None:
    config = tmp_path / "ok.yaml"
    config.write_text(
        "stacks: [SmallLoRAStack]\nsmall_lora:\n  data_lake:\n    checkpoint_expiration_days: 3\n"
    )
    result = _run_app(tmp_path, config=str(config))
    assert result.returncode == 0, result.stderr
    template = json.loads((tmp_path / "cdk.out" / "SmallLoRAStack.template.json").read_text())
    rules = [
        rule
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::S3::Bucket"
        for rule in resource["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
    ]
    assert {
        "ExpirationInDays": 3,
        "Id": "ExpireCheckpoints",
        "Prefix": "checkpoints/",
        "Status": "Enabled",
    } in rules


def test_cli_version(capsys: object) -> None:
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.strip() == f"cdk-llm-training {cdk_llm_training.__version__}"


def test_cli_does_not_import_aws_cdk() -> None:
    code = (
        "import sys, cdk_llm_training.tools.cli as c;"
        "assert 'aws_cdk' not in sys.modules and 'jsii' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_public_api_exports_resolve() -> None:
    for name in cdk_llm_training.__all__:
        assert getattr(cdk_llm_training, name) is not None
    assert set(dir(cdk_llm_training)) >= {"TrainingDataLake", "SmallLoRAStack"}
