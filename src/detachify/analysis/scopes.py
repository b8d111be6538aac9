"""Where each `def` and `class` of a module starts and ends, in lines, from CPython's own parser.

libcst knows no positions without generating the whole module's code again; CPython's `ast` parses the same
text many times faster and numbers every definition. The definitions of both trees, taken in source order,
are the same statements, so they are paired one to one (if the counts ever differ, nothing is paired and callers
fall back to what holds for the whole module).
"""
from __future__ import annotations

import ast
import functools
from typing import Dict, Iterator, List, Tuple

import libcst as cst

_DEFINITIONS = (cst.FunctionDef, cst.ClassDef)
_AST_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@functools.lru_cache(maxsize=16)  # one tree is analysed more than once in a run (the parse memo shares it)
def definition_lines(module: cst.Module, source: str) -> Dict[cst.CSTNode, Tuple[int, int]]:
    """`def`/`class` node → (line of its keyword, its last line); {} if CPython cannot parse the text. The
    mapping is shared: read it, never change it."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    theirs = sorted(_ast_definitions(tree.body), key=lambda node: (node.lineno, node.col_offset))
    ours = list(_definitions(module.body))
    if len(ours) != len(theirs):
        return {}
    lines = {}
    for mine, other in zip(ours, theirs):
        if mine.name.value != other.name:
            return {}
        lines[mine] = (other.lineno, other.end_lineno or other.lineno)
    return lines


def _ast_definitions(statements) -> Iterator[ast.stmt]:
    """The definitions among statements and the statements nested in them: only statements can define
    (``ast.walk`` would visit every expression too)."""
    for statement in statements:
        if isinstance(statement, _AST_DEFINITIONS):
            yield statement
        for field in _AST_BLOCKS:
            block = getattr(statement, field, None)
            if block:
                for item in block:
                    if isinstance(item, (ast.ExceptHandler, ast.match_case)):
                        yield from _ast_definitions(item.body)
                    else:
                        yield from _ast_definitions((item,))


_AST_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _definitions(statements) -> Iterator[cst.CSTNode]:
    for statement in statements:
        if isinstance(statement, _DEFINITIONS):
            yield statement
        yield from _definitions(nested_statements(statement))


def nested_statements(statement) -> List:
    """The statements inside a compound statement, in source order."""
    found: List = []
    if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return found
    body = getattr(statement, "body", None)
    if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)):
        found.extend(body.body)
    for handler in getattr(statement, "handlers", ()) or ():
        found.extend(handler.body.body)
    for case in getattr(statement, "cases", ()) or ():
        found.extend(case.body.body)
    orelse = getattr(statement, "orelse", None)
    while orelse is not None:
        found.extend(orelse.body.body)
        orelse = orelse.orelse if isinstance(orelse, cst.If) else None
    final = getattr(statement, "finalbody", None)
    if final is not None:
        found.extend(final.body.body)
    return found
