"""The Python API: every front end (CLI, flake8, codemod, notebooks) goes through these two functions."""
from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from typing import Iterable, List, Optional

import libcst as cst

from . import syntax
from .analysis.engine import analyse
from .findings import Edit, Finding
from .noqa import Suppressions
from .prefilter import may_contain_findings
from .rules import enabled_codes, evaluate
from .settings import DEFAULT_SETTINGS, Settings

MAX_FIX_ROUNDS = 4
BOM = "\ufeff"
_NEWLINE = re.compile(r"\r\n|\r|\n")


def check_source(source: str, filename: str = "<string>", settings: Optional[Settings] = None,
                 *, respect_noqa: bool = True) -> List[Finding]:
    """Findings for one module's source, sorted by position.

    Raises ``libcst.ParserSyntaxError`` if the source does not parse (``syntax.cpython_error`` says where),
    ``syntax.UnsupportedSyntax`` if CPython compiles it but libcst cannot read it (it is then not analysed).
    """
    settings = settings or DEFAULT_SETTINGS
    codes = enabled_codes(settings)
    if not codes or not may_contain_findings(source, codes):
        return []
    # libcst drops a byte-order mark and counts columns without it: so do we (fix_source puts it back).
    source = source[1:] if source.startswith(BOM) else source
    with _deep_recursion():  # a 400-term `a + b + ...` nests 400 deep, in libcst and in the analysis
        parsed = syntax.parse(source)
        findings = [parsed.restore(f) for f in evaluate(analyse(parsed.module, parsed.text), settings, filename)]
    if respect_noqa and findings:
        suppressions = Suppressions(source)
        findings = [f for f in findings if not suppressions.suppressed(f.line, f.code)]
    return sorted(findings, key=Finding.sort_key)


def fix_source(source: str, filename: str = "<string>", settings: Optional[Settings] = None,
               *, unsafe: Optional[bool] = None) -> str:
    """The source with every enabled fix applied: safe ones only unless ``unsafe`` (or ``settings.unsafe_fixes``).

    Suppressed lines are never touched; the result always parses (a round whose output would not parse is
    dropped); applying it twice changes nothing.
    """
    settings = settings or DEFAULT_SETTINGS
    apply_unsafe = settings.unsafe_fixes if unsafe is None else unsafe
    if source.startswith(BOM):
        return BOM + fix_source(source[1:], filename, settings, unsafe=unsafe)
    for _ in range(MAX_FIX_ROUNDS):  # nested conversions are fixed inside-out, one round each
        fixes = [f.fix for f in check_source(source, filename, settings)
                 if f.fix is not None and (f.fix.safe or apply_unsafe)]
        if not fixes:
            break
        fixed = apply_edits(source, [edit for fix in fixes for edit in fix.edits])
        if fixed == source or not _parses(fixed):
            break
        source = fixed
    return source


def apply_edits(source: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (later overlapping ones wait for the next round)."""
    # Lines as the parser counts them: \r\n, \r or \n (str.splitlines also splits at \x0c and friends).
    line_starts = [0] + [match.end() for match in _NEWLINE.finditer(source)]
    spans = []
    for edit in edits:
        start = line_starts[edit.start_line - 1] + edit.start_column
        end = line_starts[edit.end_line - 1] + edit.end_column
        spans.append((start, end, edit.text))
    spans = sorted(set(spans))  # two findings sharing one fix (TNP001 + TNP002) insert it once
    pieces, cursor, last_end = [], 0, -1
    for start, end, text in spans:
        if start < last_end or (start == last_end and start != end):
            continue
        pieces.append(source[cursor:start])
        pieces.append(text)
        cursor = last_end = end
    pieces.append(source[cursor:])
    return "".join(pieces)


@contextmanager
def _deep_recursion(limit: int = 20_000):
    """Python-to-Python calls do not grow the C stack on 3.11+, so a higher limit is safe for the analysis."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, limit if sys.version_info >= (3, 11) else 4_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _parses(source: str) -> bool:
    try:
        syntax.parse(source, cst.parse_module)  # the validating parser: this text is about to be written
    except (cst.ParserSyntaxError, syntax.UnsupportedSyntax):
        return False
    return True
