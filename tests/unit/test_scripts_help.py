"""Every script parses its arguments: `--help` prints help and writes nothing (a script once
took `--help` for its output path and wrote a file of that name)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cdk_support import REPO_ROOT

SCRIPTS = sorted(
    path
    for path in (REPO_ROOT / "scripts").glob("*.py")
    if path.name != "bench_baseline_app.py"  # a CDK app that `make bench` synthesizes
)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_help_writes_nothing(script: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT / "tests")]),
    }
    result = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ")
    assert list(tmp_path.iterdir()) == []


def test_no_stray_file_named_like_an_option_at_the_repo_root() -> None:
    assert not [path.name for path in REPO_ROOT.iterdir() if path.name.startswith("-")]
