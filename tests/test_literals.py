"""`literals.evaluated_value` gives what libcst's `evaluated_value` (ast.literal_eval) gives, for every literal."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import libcst as cst
import pytest

from detachify.analysis.literals import evaluated_value

ROOT = Path(__file__).resolve().parent.parent

SPELLINGS = [
    "0", "000", "7", "1_000", "0x1F", "0o17", "0b101", "0XAB", "123456789012345678901234567890",
    "1.5", "1.", ".5", "1e5", "1E-5", "1_0.5", "0.1e+10", "1e400", "3.14159265358979323846264338327950288",
    "1j", "2.5J",
    "''", '""', "'a'", '"a b"', "''''''", '""""""', "'''a'''", '"""doc\nstring"""', "'''it's'''", "\"'''\"",
    "'\\n'", "'\\x41'", "r'\\n'", "R'\\d'", "b'bytes'", "rb'\\x00'", "u'text'", "'\\N{BULLET}'", "'''a\\\nb'''",
    "'é'", "'''\"quoted\"'''", '"""a""b"""',
]


def literal_nodes(source: str):
    found = []

    class Collect(cst.CSTVisitor):
        def visit_Integer(self, node):
            found.append(node)

        def visit_Float(self, node):
            found.append(node)

        def visit_Imaginary(self, node):
            found.append(node)

        def visit_SimpleString(self, node):
            found.append(node)

    cst.parse_module(source).visit(Collect())
    return found


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("text", SPELLINGS)
def test_a_spelling_reads_as_python_reads_it(text):
    (node,) = literal_nodes(f"x = {text}\n")
    assert same(evaluated_value(node), ast.literal_eval(text))


def test_every_literal_of_the_fixtures_and_sources_reads_as_python_reads_it():
    checked = 0
    for path in sorted([*ROOT.glob("fixtures/**/*.py"), *ROOT.glob("src/**/*.py"), *ROOT.glob("tests/*.py")]):
        try:
            nodes = literal_nodes(path.read_text(encoding="utf-8"))
        except (cst.ParserSyntaxError, UnicodeDecodeError):
            continue  # fixtures that do not parse on purpose
        for node in nodes:
            assert same(evaluated_value(node), node.evaluated_value), (path, node.value)
            checked += 1
    assert checked > 5_000


def test_a_literal_python_rejects_raises_as_libcst_does():
    (node,) = literal_nodes("x = '\\N{NO SUCH NAME}'\n")
    with pytest.raises(SyntaxError):
        node.evaluated_value
    with pytest.raises(SyntaxError):
        evaluated_value(node)
