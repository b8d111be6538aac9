"""Findings as LSP diagnostics, in the client's position units, with what their code actions need in ``data``.

Runs on the worker thread: plain data in (a snapshot, the engine's findings), LSP objects out.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from lsprotocol import types as lsp

from ..findings import Edit, Finding
from .checking import Snapshot
from .text import Lines

NAME = "detachify"  # diagnostics' `source`, and the prefix of every action title and log line
# The conversions that crash for certain are errors, as ruff makes F821 one; a maybe-GPU tensor (TNP002) may be
# fine on a CPU-only machine, and TNP9xx is the strict style.
ERROR_CODES = frozenset({"TNP001", "TNP003"})


def to_diagnostics(snapshot: Snapshot, findings: Sequence[Finding], encoding: str) -> Dict[str, List[lsp.Diagnostic]]:
    if not snapshot.notebook:
        target = _Target(snapshot.key, snapshot.version, snapshot.text)
        return {snapshot.key: [target.diagnostic(f, encoding, [target] * len(_edits(f))) for f in findings]}
    targets = [_Target(cell.uri, cell.version, cell.text) for cell in snapshot.cells]
    out: Dict[str, List[lsp.Diagnostic]] = {cell.uri: [] for cell in snapshot.cells}
    for finding in findings:
        cell = getattr(finding, "cell", 0)
        if not 1 <= cell <= len(targets):
            continue  # cannot happen for a notebook we built; never guess a cell
        edit_cells = getattr(finding, "fix_cells", ()) or (cell,) * len(_edits(finding))
        edit_targets = [targets[c - 1] for c in edit_cells if 1 <= c <= len(targets)]
        target = targets[cell - 1]
        out[target.uri].append(target.diagnostic(finding, encoding, edit_targets))
    return out


def _edits(finding: Finding) -> Tuple[Edit, ...]:
    return finding.fix.edits if finding.fix is not None else ()


class _Target:
    """One document findings are placed in."""

    def __init__(self, uri: str, version: Optional[int], text: str):
        self.uri, self.version, self.lines = uri, version, Lines(text)

    def diagnostic(self, finding: Finding, encoding: str, edit_targets: Sequence["_Target"]) -> lsp.Diagnostic:
        start = self.lines.to_client(finding.line, finding.column, encoding)
        end = self.lines.to_client(finding.end_line, finding.end_column, encoding) if finding.end_line else start
        data: Dict[str, Any] = {"code": finding.code}
        fix = finding.fix
        if fix is not None and fix.edits and len(edit_targets) == len(fix.edits):
            by_uri: Dict[str, dict] = {}
            for edit, target in zip(fix.edits, edit_targets):
                entry = by_uri.setdefault(target.uri, document_change(target.uri, target.version, []))
                entry["edits"].append(text_edit(target.lines, edit, encoding))
            data["fix"] = {"title": fix.description, "safe": fix.safe, "reason": fix.unsafe_reason,
                           "changes": list(by_uri.values())}
        data["noqa"] = {"uri": self.uri, "version": self.version, "line": finding.line}
        return lsp.Diagnostic(
            range=lsp_range(start, end), message=finding.message, code=finding.code, source=NAME,
            severity=lsp.DiagnosticSeverity.Error if finding.code in ERROR_CODES else lsp.DiagnosticSeverity.Warning,
            data=data)


def lsp_range(start: Tuple[int, int], end: Tuple[int, int]) -> lsp.Range:
    return lsp.Range(start=lsp.Position(*start), end=lsp.Position(*end))


def document_change(uri: str, version: Optional[int], edits: List[dict]) -> dict:
    return {"uri": uri, "version": version, "edits": edits}


def text_edit(lines: Lines, edit: Edit, encoding: str) -> dict:
    """A TextEdit as plain JSON (diagnostic ``data`` travels to the client and back as it is)."""
    start = lines.to_client(edit.start_line, edit.start_column, encoding)
    end = lines.to_client(edit.end_line, edit.end_column, encoding)
    return {"range": {"start": {"line": start[0], "character": start[1]},
                      "end": {"line": end[0], "character": end[1]}}, "newText": edit.text}


def structure_edit(edit: dict) -> lsp.TextEdit:
    start, end = edit["range"]["start"], edit["range"]["end"]
    return lsp.TextEdit(range=lsp_range((start["line"], start["character"]), (end["line"], end["character"])),
                        new_text=edit["newText"])
