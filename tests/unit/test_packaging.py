"""Packaging: platform teams install the library into their own CDK app, so it depends on a
range of aws-cdk-lib (the lowest release the code needs, below the next major)."""

from __future__ import annotations

import re
import tomllib

from cdk_support import REPO_ROOT

LOWEST = "2.272.0"
"""The lowest aws-cdk-lib the constructs synthesize with (`make test-lowest-cdk`)."""


def _dependencies() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, str] = {}
    for spec in project["dependencies"]:
        name = re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0]
        found[name] = spec[len(name) :]
    return found


def test_aws_cdk_lib_is_a_range_from_the_lowest_supported_below_v3() -> None:
    assert _dependencies()["aws-cdk-lib"] == f">={LOWEST},<3"


def test_no_runtime_dependency_is_pinned_exactly() -> None:
    pinned = {name: spec for name, spec in _dependencies().items() if spec.startswith("==")}
    assert not pinned


def test_readme_states_the_install_line_and_range() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "pip install ./cdk-llm-training" in readme
    assert f"`aws-cdk-lib>={LOWEST},<3`" in readme


def test_the_lowest_version_target_reads_the_floor_from_pyproject() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "test-lowest-cdk:" in makefile
    assert "aws-cdk-lib>=\\([0-9.]*\\),<3" in makefile
