"""The package root's public API: one table drives ``__all__``, the lazy loader and typing.

``cdk_llm_training/__init__.py`` keeps the exported names in ``_PUBLIC_API`` (public module ->
names) and repeats them only in its ``TYPE_CHECKING`` imports, which static type checkers
read. These tests keep the two in agreement, keep every export on a public module, and keep
``import cdk_llm_training`` free of aws-cdk-lib and jsii.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import cdk_llm_training

ROOT_INIT = Path(cdk_llm_training.__file__)
TABLE = cdk_llm_training._PUBLIC_API
TABLE_NAMES = [name for names in TABLE.values() for name in names]


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of every import under the root's ``if TYPE_CHECKING:`` block."""
    tree = ast.parse(ROOT_INIT.read_text(encoding="utf-8"))
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    ]
    assert len(blocks) == 1, "expected exactly one `if TYPE_CHECKING:` block"
    imported: dict[str, str] = {}
    for statement in blocks[0].body:
        assert isinstance(statement, ast.ImportFrom), ast.dump(statement)
        assert statement.module is not None
        for alias in statement.names:
            # `X as X` is the explicit re-export mypy --strict needs; any other alias would
            # export a name the lazy loader cannot find.
            assert alias.asname == alias.name, f"{alias.name} must be imported as itself"
            assert alias.name not in imported, f"{alias.name} imported twice"
            imported[alias.name] = statement.module
    return imported


def test_table_lists_each_name_once() -> None:
    duplicates = sorted({name for name in TABLE_NAMES if TABLE_NAMES.count(name) > 1})
    assert duplicates == []


def test_all_is_version_plus_the_table() -> None:
    assert cdk_llm_training.__all__ == ["__version__", *sorted(TABLE_NAMES)]


def test_type_checking_imports_match_the_table() -> None:
    table_map = {name: module for module, names in TABLE.items() for name in names}
    assert _type_checking_imports() == table_map


@pytest.mark.parametrize("module", sorted(TABLE))
def test_table_points_only_at_public_modules(module: str) -> None:
    assert module.startswith("cdk_llm_training.")
    private = [part for part in module.split(".") if part.startswith("_")]
    assert private == [], f"{module} has a private segment"


@pytest.mark.parametrize("module", sorted(TABLE))
def test_each_module_exports_its_names_publicly(module: str) -> None:
    loaded = importlib.import_module(module)
    declared = getattr(loaded, "__all__", None)
    for name in TABLE[module]:
        assert hasattr(loaded, name), f"{module} has no {name}"
        if declared is not None:
            assert name in declared, f"{name} is not in {module}.__all__"


def test_every_export_resolves_to_its_module_object() -> None:
    for module, names in TABLE.items():
        loaded = importlib.import_module(module)
        for name in names:
            assert getattr(cdk_llm_training, name) is getattr(loaded, name)
    assert cdk_llm_training.__version__


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NotAnExport"):
        _ = cdk_llm_training.NotAnExport


def test_dir_lists_the_public_api() -> None:
    assert dir(cdk_llm_training) == sorted(cdk_llm_training.__all__)


def test_importing_the_package_does_not_import_aws_cdk() -> None:
    code = (
        "import sys, cdk_llm_training;"
        "heavy = sorted(m for m in ('aws_cdk', 'jsii', 'constructs') if m in sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
