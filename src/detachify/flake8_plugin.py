"""flake8 front door: adapts ``check_source`` to flake8's plugin protocol; no analysis of its own.

flake8 applies ``# noqa``, ``--select``/``--ignore`` and per-file-ignores itself, so the engine is asked for
every TNP finding, suppressed or not, and flake8 decides what to print.
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Iterator, List, Sequence, Tuple

from . import __version__, api
from .noqa import Suppressions
from .project import witness
from .rules.registry import all_rules
from .settings import Settings


def _codes_flake8_keeps(options: argparse.Namespace) -> Tuple[str, ...]:
    """Only the codes flake8's select/ignore would print are computed: an off-by-default rule, or a run with
    `--select E,W`, costs nothing. (Per-file-ignores can only drop more; flake8 still applies them.)"""
    try:
        from flake8.style_guide import Decision, DecisionEngine

        engine = DecisionEngine(options)
        return tuple(rule.code for rule in all_rules() if engine.decision_for(rule.code) is Decision.Selected)
    except Exception:  # noqa: BLE001 - another flake8 version: compute everything, flake8 still filters
        return tuple(rule.code for rule in all_rules())


def _unreadable(exc: Exception) -> bool:
    """Source flake8 reports itself (E999), or that libcst cannot read even so: we cannot analyse it. (The
    parser is imported only once a file needs it; findings read back from the cache need none.)"""
    from libcst import ParserSyntaxError

    from .syntax import UnsupportedSyntax

    return isinstance(exc, (ParserSyntaxError, UnsupportedSyntax))


def _default_off_codes() -> List[str]:
    return [rule.code for rule in all_rules() if not rule.default_on]


class Plugin:
    name = "detachify"
    version = __version__

    # Every code runs in the engine; flake8's own select/ignore (fed by extend_default_ignore) filters them.
    settings = Settings(select=("TNP",))

    def __init__(self, tree: Any, lines: Sequence[str], filename: str) -> None:
        # `tree` is requested only so flake8 skips us on files that do not compile (it reports E999 itself).
        self.lines = lines
        self.filename = filename

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        # No fix options: flake8 never fixes, and `detachify fix` reads [tool.detachify] only (as ruff reads its
        # own config only), so a `detachify-fix-style` here could only be ignored.
        off = _default_off_codes()
        if off:
            # Off-by-default rules stay quiet until `--extend-select TNP9xx` (or `extend-select =` in config).
            option_manager.extend_default_ignore(off)

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        cls.settings = Settings(select=_codes_flake8_keeps(options))
        witness.keep_process_facts(False)  # flake8 keeps no run index: what a run read is of no use

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        if not self.settings.select:
            return  # flake8 would drop every TNP code (`--select E,W`): don't even look
        source = "".join(self.lines)
        try:
            # The file as part of its project, as `detachify check` sees it (imports read from disk).
            project = api.project_of(self.filename) if os.path.isfile(self.filename) else None
            findings = api.check_source(source, self.filename, self.settings, respect_noqa=False, project=project)
        except Exception as exc:
            if not _unreadable(exc):
                raise
            return  # flake8 reports E999 itself; what libcst cannot read even so, we cannot analyse
        # flake8 owns `# noqa`, but the file-level `# detachify: noqa` is ours alone: without this the same
        # file would be silent under `detachify check` and noisy under flake8. (Read only when there are
        # findings: tokenizing every file for its comments cost more than the analysis.)
        if findings and Suppressions(source).whole_file:
            return
        for finding in findings:
            text = finding.message
            if not text.startswith(finding.code):
                text = f"{finding.code} {text}"
            # Finding.column is 0-based like flake8's; flake8 adds 1 when printing.
            yield finding.line, finding.column, text, type(self)
