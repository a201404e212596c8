"""Every Python example in README.md and docs/ runs, so no example rots.

A fenced ``python`` block that builds an app (``app.synth()``) is executed as a program in
this process (jsii is already started, so each costs well under a second)."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from cdk_support import REPO_ROOT

_FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
    found = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            code = match.group(1)
            if "app.synth()" in code:
                line = text[: match.start()].count("\n") + 2
                found.append((f"{page.relative_to(REPO_ROOT)}:{line}", code))
    return found


EXAMPLES = _examples()


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("where", "code"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_example_synthesizes(
    where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(code, where, "exec"), namespace)
    app = namespace["app"]
    assert isinstance(app, cdk.App)
    templates = list(Path(app.outdir).glob("*.template.json"))
    assert templates, f"{where}: the example synthesized no stack"
