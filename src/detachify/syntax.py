"""CPython decides what is a syntax error; libcst is only the reader the analysis needs.

libcst's parser rejects some sources CPython compiles (its tokenizer refuses consistent mixes of tabs and spaces,
and a few rare forms such as ``(x): int = 1``). Such a file is not broken, so it must never be reported as a
syntax error: :func:`parse` first asks CPython's parser (``compile(..., PyCF_ONLY_AST)``: nothing runs), then
expands tabs in leading whitespace exactly as CPython's tokenizer counts them (tab stops of 8, a form feed resets
the column) and parses that; positions found in the expanded text are mapped back (:class:`Parsed`). When libcst
still cannot read it, :class:`UnsupportedSyntax` says why: the file is not analysed, and not an error.

A source neither parser reads is a syntax error, reported where CPython puts it (:func:`cpython_error`,
:func:`syntax_error_finding`) as flake8's ``E999``: that is the position editors and CI jump to.
"""
from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Set, Tuple

import libcst as cst

from .findings import SYNTAX_ERROR_CODE, Edit, Finding
from .parsing import parse_for_analysis

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")  # one physical line with its break, as Python counts lines
_LEADING_SPACE = re.compile(r"[ \t\f]*")
TAB_SIZE = 8  # CPython's tokenizer


class UnsupportedSyntax(ValueError):
    """CPython compiles the source, but libcst's parser cannot read it: the source is not analysed.

    ``line`` (1-based) and ``column`` (0-based) are where libcst stopped, in the caller's text.
    """

    def __init__(self, reason: str, line: int = 0, column: int = 0):
        super().__init__(reason)
        self.reason, self.line, self.column = reason, line, column


@dataclass(frozen=True)
class Parsed:
    """A module and the text it was parsed from; ``indents`` holds, for each line whose leading whitespace was
    expanded, (its length in the caller's text, its length in ``text``)."""

    module: cst.Module
    text: str
    indents: Dict[int, Tuple[int, int]] = field(default_factory=dict)

    def column(self, line: int, column: int) -> Optional[int]:
        """The caller's column for a column of ``text``; None inside expanded whitespace (no exact equivalent)."""
        return _original_column(self.indents, line, column)

    def restore(self, finding: Finding) -> Finding:
        """The finding in the caller's coordinates; a fix that cannot be placed exactly is dropped."""
        if not self.indents:
            return finding
        column = self.column(finding.line, finding.column)
        end_column = self.column(finding.end_line, finding.end_column) if finding.end_line else finding.end_column
        fix = finding.fix
        if fix is not None:
            edits = [self._edit(edit) for edit in fix.edits]
            fix = replace(fix, edits=tuple(edits)) if None not in edits else None
        return replace(finding, column=column if column is not None else 0,
                       end_column=end_column if end_column is not None else 0, fix=fix)

    def _edit(self, edit: Edit) -> Optional[Edit]:
        start, end = self.column(edit.start_line, edit.start_column), self.column(edit.end_line, edit.end_column)
        if start is None or end is None:
            return None
        return Edit(edit.start_line, start, edit.end_line, end, edit.text)


def parse(source: str, parser: Callable[[str], cst.Module] = parse_for_analysis) -> Parsed:
    """The module for ``source``. Raises libcst's ``ParserSyntaxError`` when CPython rejects the source too
    (a syntax error), :class:`UnsupportedSyntax` when CPython compiles it but libcst cannot read it."""
    try:
        return Parsed(parser(source), source)
    except cst.ParserSyntaxError as exc:
        rejected = exc
    tree = _cpython_tree(source)
    if tree is None:
        raise rejected
    text, indents = expand_leading_tabs(source, _lines_inside_strings(tree))
    if indents:
        try:
            return Parsed(parser(text), text, indents)
        except cst.ParserSyntaxError as exc:
            rejected = exc
    raise UnsupportedSyntax(*_unsupported(rejected, indents)) from None


def _unsupported(rejected: cst.ParserSyntaxError, indents: Dict[int, Tuple[int, int]]) -> Tuple[str, int, int]:
    """A short reason, and where libcst stopped: its message says `error at L:C` (its raw_line can be off by one
    there); tokenizer errors carry no usable position."""
    message = " ".join(str(rejected.message).split())
    for prefix in ("parser error: ", "tokenizer error: "):
        message = message[len(prefix):] if message.startswith(prefix) else message
    at = re.match(r"error at (\d+):(\d+): (.*)", message)
    if at is None:
        return f"CPython compiles it, but libcst's parser cannot read it ({message})", 0, 0
    line, column = int(at.group(1)), int(at.group(2))
    column = _original_column(indents, line, column) or 0
    detail = at.group(3) if len(at.group(3)) <= 60 else at.group(3)[:57] + "..."
    return (f"CPython compiles it, but libcst's parser cannot read line {line}, column {column + 1} ({detail})",
            line, column)


def cpython_error(source: str) -> Optional[SyntaxError]:
    """CPython's parser's verdict (``SyntaxError`` and its ``IndentationError``/``TabError``), None if it parses.

    Only the parser runs, as for ``ast.parse``: `'return' outside function` and other compiler checks are not
    syntax errors here, as they are not for flake8's E999. Top-level ``await`` parses (notebooks allow it).
    """
    try:
        _parse_with_cpython(source)
    except SyntaxError as exc:
        return exc
    except (ValueError, RecursionError, MemoryError):  # NUL bytes, absurd nesting: no position to give
        return SyntaxError("source code cannot be parsed")
    return None


def syntax_error_finding(source: str, error: SyntaxError, filename: str = "<string>") -> Finding:
    """flake8's ``E999 SyntaxError: <CPython's message>`` at CPython's position (0-based column, clamped to the
    line, as CPython reports some errors one past its end)."""
    lines = lines_of(source) or [""]
    line = min(max(error.lineno or 1, 1), len(lines))
    width = len(lines[line - 1].rstrip("\r\n"))
    column = min(max((error.offset or 1) - 1, 0), width)
    end_line, end_column = 0, 0
    if error.end_lineno and error.end_offset and error.end_offset > 0 and \
            (error.end_lineno, error.end_offset) > (error.lineno or 0, error.offset or 0):
        end_line = min(error.end_lineno, len(lines))
        end_column = min(error.end_offset - 1, len(lines[end_line - 1].rstrip("\r\n")))
    message = f"{type(error).__name__}: {error.msg}" if error.msg else type(error).__name__
    return Finding(SYNTAX_ERROR_CODE, message, line, column, None, filename, end_line, end_column)


def expand_leading_tabs(source: str, keep: Set[int] = frozenset()) -> Tuple[str, Dict[int, Tuple[int, int]]]:
    """``source`` with the tabs and form feeds of each line's leading whitespace replaced by the spaces CPython's
    tokenizer counts for them; lines in ``keep`` (those that start inside a string) stay as they are.

    Returns the text and, for each changed line, (old length, new length) of its leading whitespace."""
    pieces, indents = [], {}
    for number, line in enumerate(lines_of(source), 1):
        lead = _LEADING_SPACE.match(line).group()
        if number not in keep and ("\t" in lead or "\f" in lead):
            spaces = " " * _indent_width(lead)
            indents[number] = (len(lead), len(spaces))
            line = spaces + line[len(lead):]
        pieces.append(line)
    return "".join(pieces), indents


def _original_column(indents: Dict[int, Tuple[int, int]], line: int, column: int) -> Optional[int]:
    if line not in indents:
        return column
    old, new = indents[line]
    if column >= new:
        return column - new + old
    return 0 if column == 0 else None


def _indent_width(lead: str) -> int:
    column = 0
    for char in lead:
        if char == "\t":
            column = (column // TAB_SIZE + 1) * TAB_SIZE
        elif char == "\f":
            column = 0
        else:
            column += 1
    return column


def _parse_with_cpython(source: str) -> ast.Module:
    with warnings.catch_warnings():  # invalid escape sequences and friends are not ours to report
        warnings.simplefilter("ignore")
        return compile(source, "<detachify>", "exec",
                       flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


def _cpython_tree(source: str) -> Optional[ast.Module]:
    try:
        return _parse_with_cpython(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _lines_inside_strings(tree: ast.Module) -> Set[int]:
    """Lines that start inside a string literal: their leading whitespace is the string's content."""
    inside: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and getattr(node, "end_lineno", None):
            if isinstance(node, ast.JoinedStr) or isinstance(node.value, (str, bytes)):
                inside.update(range(node.lineno + 1, node.end_lineno + 1))
    return inside


def lines_of(source: str) -> List[str]:
    """Physical lines with their breaks, as Python counts them (\\r\\n, \\r or \\n; not \\f or \\v)."""
    return [match.group() for match in _LINE.finditer(source)][:-1]
