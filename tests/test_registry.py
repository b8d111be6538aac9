"""The evaluation asks the knowledge tables about libraries and spells no library name itself.

A qualified name written into an engine module (`qname == "torch.device"`, `head in ("torch", ...)`) is knowledge
without a proof: tests/test_knowledge.py proves the tables, not the code. So the modules that evaluate code hold
no string that names a library member; docstrings may, since they only explain.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ANALYSIS = Path(__file__).resolve().parent.parent / "src" / "detachify" / "analysis"
ENGINE_MODULES = ("torch_calls.py", "expressions.py", "statements.py", "calls.py", "local_calls.py")
LIBRARIES = ("torch", "numpy", "matplotlib", "sklearn", "scipy", "pandas", "seaborn", "copy", "builtins", "functools",
             "d2l")
QUALIFIED_NAME = re.compile(r"\b(?:%s)\.(?:[A-Za-z_]|$)" % "|".join(LIBRARIES))


def _docstrings(tree: ast.AST) -> set:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def qualified_names_spelled_in(source: str) -> list:
    """(line, text) of each string constant, f-string parts included, that names a member of a library."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and QUALIFIED_NAME.search(node.value)]


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_module_spells_no_qualified_library_name(module):
    assert qualified_names_spelled_in((ANALYSIS / module).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("spelled", ['x == "torch.device"', 'f"torch.Tensor.{name}"', 'q.startswith("numpy.")',
                                     'head in ("torch.nn", "x")', 'q.startswith(("torch.cuda.", "copy."))'])
def test_the_check_finds_a_spelled_name(spelled):
    assert qualified_names_spelled_in(f'"""Mentions torch.load freely."""\n{spelled}\n') != []


def test_the_check_leaves_docstrings_and_method_names_alone():
    source = '"""`torch.load` and `numpy.mean`."""\ndef f():\n    """`copy.deepcopy`."""\n    return "numpy", "copy"\n'
    assert qualified_names_spelled_in(source) == []
