"""House rule: no function outside tests/ longer than 80 lines (def line to last line)."""
from __future__ import annotations

import ast

from helpers import REPO

LIMIT = 80
# known exceptions, each with its reason; remove an entry when the function is split
KNOWN: dict[str, str] = {}
FOLDERS = ("training", "engine", "plugin", "bench", "scripts")


def long_functions(folder: str = "training") -> dict[str, int]:
    """'path::name' -> length in lines, for every function over LIMIT lines under ``folder``."""
    found = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LIMIT:
                    found[f"{path.relative_to(REPO).as_posix()}::{node.name}"] = length
    return found


def test_no_function_outside_tests_is_longer_than_80_lines():
    found = {name: n for folder in FOLDERS for name, n in long_functions(folder).items()}
    too_long = {name: n for name, n in found.items() if name not in KNOWN}
    assert not too_long, f"split these functions (at most {LIMIT} lines): {too_long}"
