"""Dependencies point one way: plugin -> training/engine, training -> engine, methods -> nets.

Checked on the import statements themselves (module level and inside functions), so a lazy
import cannot hide a wrong-way dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


RULES = [
    ("engine", ("torch", "qgis", "training", "plugin")),
    ("training", ("qgis", "plugin")),
    ("training/nets", ("training.methods",)),
]


@pytest.mark.parametrize(("folder", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_no_module_imports_against_the_dependency_direction(folder, forbidden):
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in sorted(_imported_modules(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert not wrong, wrong


def test_tests_import_helpers_not_conftest():
    """Conftest.py is imported by pytest itself; importing it again (as conftest or tests.conftest)
    makes a second copy of the module. Helpers live in tests/helpers*.py."""
    wrong = [
        f"{path.name} imports {name}"
        for path in sorted((ROOT / "tests").glob("*.py"))
        for name in sorted(_imported_modules(path))
        if name in ("conftest", "tests.conftest") or name.startswith("tests.")
    ]
    assert not wrong, wrong
