"""The Python API: every front end (CLI, flake8, codemod, notebooks) goes through these two functions."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable, List, Optional

from .project.checks import cached_findings, store_findings
from .project.workspace import InProject, workspace_for
from .findings import Edit, Finding
from .interpreter import headroom
from .noqa import Suppressions
from .prefilter import may_contain_findings
from .rules import enabled_codes, evaluate
from .settings import DEFAULT_SETTINGS, Settings

MAX_FIX_ROUNDS = 4
BOM = "\ufeff"
_NEWLINE = re.compile(r"\r\n|\r|\n")


def check_source(source: str, filename: str = "<string>", settings: Optional[Settings] = None,
                 *, respect_noqa: bool = True, project: Optional[InProject] = None) -> List[Finding]:
    """Findings for one module's source, sorted by position.

    With `project`, the module is analysed as a file of that project: its imports of project modules resolve
    to their summaries, and calls other files make into it are followed (`project` also receives what this
    check learnt: the module's summary and its calls into other modules).

    Raises ``libcst.ParserSyntaxError`` if the source does not parse (``syntax.cpython_error`` says where),
    ``syntax.UnsupportedSyntax`` if CPython compiles it but libcst cannot read it (it is then not analysed).
    """
    return _check(source, filename, settings or DEFAULT_SETTINGS, respect_noqa, project=project)


def project_of(path: str) -> InProject:
    """`path` (a real file) as a file of its project, for `check_source(..., project=...)`."""
    path = os.path.abspath(path)
    return InProject(workspace_for(path, _analyse_file), path)


def _analyse_file(workspace, path: str, want_summary: bool):
    # The engine loads with the first file a project must analyse: findings read back from the cache need none.
    from .project.analysis import analyse_file

    with headroom():
        return analyse_file(workspace, path, want_summary)


def _check(source: str, filename: str, settings: Settings, respect_noqa: bool = True,
           rewrite: bool = False, project: Optional[InProject] = None) -> List[Finding]:
    """``rewrite``: the source is a fix's output, parsed in full (never skipped by the pre-filter) by libcst's
    validating parser: that parse is what proves the rewrite valid (see `parsing`)."""
    codes = enabled_codes(settings)
    if not codes or (not rewrite and not may_contain_findings(source, codes, in_project=project is not None)):
        return []
    # libcst drops a byte-order mark and counts columns without it: so do we (fix_source puts it back).
    source = source[1:] if source.startswith(BOM) else source
    remember = project is not None and not rewrite
    if remember:
        cached = cached_findings(source, filename, settings, respect_noqa, project)
        if cached is not None:
            return cached
    import libcst as cst

    from . import syntax
    from .analysis.engine import analyse
    from .parsing import parse_for_analysis
    from .project.analysis import analyse_in_project

    with headroom():
        parsed = syntax.parse(source, cst.parse_module if rewrite else parse_for_analysis)
        if project is None:
            analysis = analyse(parsed.module, parsed.text)
        else:
            analysis = analyse_in_project(parsed.module, parsed.text, project)
        findings = [parsed.restore(f) for f in evaluate(analysis, settings, filename)]
    if respect_noqa and findings:
        suppressions = Suppressions(source)
        findings = [f for f in findings if not suppressions.suppressed(f.line, f.code)]
    findings = sorted(findings, key=Finding.sort_key)
    if remember:
        store_findings(source, filename, settings, respect_noqa, project, findings)
    return findings


def fix_source(source: str, filename: str = "<string>", settings: Optional[Settings] = None,
               *, unsafe: Optional[bool] = None, project: Optional[InProject] = None) -> str:
    """The source with every enabled fix applied: safe ones only unless ``unsafe`` (or ``settings.unsafe_fixes``).

    Suppressed lines are never touched; the result always parses (a round whose output would not parse is
    dropped); applying it twice changes nothing.
    """
    return fix_and_check(source, filename, settings, unsafe=unsafe, project=project).source


@dataclass(frozen=True)
class FixOutcome:
    source: str  # with the fixes applied
    before: List[Finding]  # the findings of the source as given
    after: List[Finding]  # what is left in ``source``


def fix_and_check(source: str, filename: str = "<string>", settings: Optional[Settings] = None,
                  *, unsafe: Optional[bool] = None, project: Optional[InProject] = None) -> FixOutcome:
    """``fix_source``, with the findings before and after: one fix loop, as ruff's ``lint_fix``.

    Each round analyses the source it fixes, and the analysis of the fixed source is the next round (nested
    conversions are fixed inside-out, one round each) and, in the end, what is left. So a file with fixes is
    parsed and analysed twice, not once more to find the fixes, once to check the rewrite parses and once to
    report what is left. The rewritten source is parsed by libcst's validating parser, which doubles as the check
    that it parses; a round whose output would not parse is dropped.
    """
    settings = settings or DEFAULT_SETTINGS
    apply_unsafe = settings.unsafe_fixes if unsafe is None else unsafe
    if source.startswith(BOM):
        outcome = fix_and_check(source[1:], filename, settings, unsafe=unsafe, project=project)
        return FixOutcome(BOM + outcome.source, outcome.before, outcome.after)
    before = findings = _check(source, filename, settings, project=_fresh(project))
    for _ in range(MAX_FIX_ROUNDS):
        edits = [edit for f in findings if f.fix is not None and (f.fix.safe or apply_unsafe) for edit in f.fix.edits]
        if not edits:
            break
        fixed = apply_edits(source, edits)
        if fixed == source:
            break
        import libcst as cst

        from . import syntax

        try:
            findings = _check(fixed, filename, settings, rewrite=True, project=_fresh(project))
        except (cst.ParserSyntaxError, syntax.UnsupportedSyntax):
            break  # keep the last source that parsed, and its findings
        source = fixed
    return FixOutcome(source, before, findings)


def _fresh(project: Optional[InProject]) -> Optional[InProject]:
    """The same file in the same project, for one more round of analysis (each round records its results)."""
    return None if project is None else InProject(project.workspace, project.path, project.incoming,
                                                  locate=project.locate)


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
