"""Reporters: the same findings as concise lines, JSON, GitHub workflow annotations or SARIF 2.1.0.

Columns are 1-based everywhere here (``Finding.column`` is 0-based, flake8's convention) and count
characters, which SARIF calls ``unicodeCodePoints``.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from .color import BOLD, CYAN, GREEN, PLAIN, RED, Style
from .findings import Edit, Finding
from .rules.registry import RULES, all_rules

FORMATS = ("concise", "json", "github", "sarif")
INFORMATION_URI = "https://github.com/detachify/detachify"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


Applicable = Callable[[Finding], bool]  # does this finding's fix apply in this run (safe, or unsafe when enabled)?


def report(findings: Sequence[Finding], output_format: str, stream: TextIO, *, style: Style = PLAIN,
           fix_status: Optional[Applicable] = None) -> None:
    """``fix_status``: mark the findings it accepts with ruff's `[*]` (concise output only)."""
    if output_format == "concise":
        concise(findings, stream, style, fix_status)
    else:
        REPORTERS[output_format](findings, stream)


def _end(finding: Finding) -> tuple:
    if finding.end_line:
        return finding.end_line, finding.end_column + 1
    return finding.line, finding.column + 1


def _cell(finding: Finding) -> int:
    return getattr(finding, "cell", 0)  # notebook findings: line and column are within that cell


def _in_file(finding: Finding) -> tuple:
    """(line, column, end line, end column), 1-based, in the file as a text file: for a notebook finding that is
    where its cell's text sits in the .ipynb JSON (GitHub and SARIF annotate the file a diff shows)."""
    span = getattr(finding, "file_span", None)
    if span:
        line, column, end_line, end_column = span
        return line, column + 1, end_line, end_column + 1
    return (finding.line, finding.column + 1, *_end(finding))


def _file_message(finding: Finding) -> str:
    """The message, naming the cell and line a notebook user sees where the position is one of the .ipynb file."""
    if _cell(finding):
        return f"cell {_cell(finding)}, line {finding.line}: {finding.message}"
    return finding.message


def _file_edits(finding: Finding) -> tuple:
    if _cell(finding):
        return getattr(finding, "file_edits", ())
    return finding.fix.edits if finding.fix is not None else ()


def sort_key(finding: Finding) -> tuple:
    return (finding.filename, _cell(finding), finding.line, finding.column, finding.code)


def concise(findings: Sequence[Finding], stream: TextIO, style: Style = PLAIN,
            fix_status: Optional[Applicable] = None) -> None:
    colon = style(":", CYAN)
    for f in findings:
        cell = f"cell {_cell(f)}{colon}" if _cell(f) else ""
        marker = f"[{style('*', CYAN)}] " if fix_status is not None and fix_status(f) else ""
        stream.write(f"{style(f.filename, BOLD)}{colon}{cell}{f.line}{colon}{f.column + 1}{colon} "
                     f"{style(f.code, BOLD, RED)} {marker}{f.message}\n")


# ---------------------------------------------------------------------------------------------------------------
# JSON


def _location(line: int, column: int) -> Dict[str, int]:
    return {"row": line, "column": column}


def _json_edit(edit: Edit) -> dict:
    return {"content": edit.text, "location": _location(edit.start_line, edit.start_column + 1),
            "end_location": _location(edit.end_line, edit.end_column + 1)}


def finding_to_json(f: Finding) -> dict:
    fix = None
    if f.fix is not None:
        fix = {"applicability": f.fix.applicability, "message": f.fix.description,
               "edits": [_json_edit(e) for e in f.fix.edits]}
        if f.fix.unsafe_reason:
            fix["unsafe_reason"] = f.fix.unsafe_reason
    out = {"code": f.code, "message": f.message, "filename": f.filename,
           "location": _location(f.line, f.column + 1), "end_location": _location(*_end(f)), "fix": fix}
    if _cell(f):
        out["cell"] = _cell(f)
    return out


def json_format(findings: Sequence[Finding], stream: TextIO) -> None:
    json.dump([finding_to_json(f) for f in findings], stream, indent=2, ensure_ascii=False)
    stream.write("\n")


# ---------------------------------------------------------------------------------------------------------------
# GitHub Actions


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(findings: Sequence[Finding], stream: TextIO) -> None:
    for f in findings:
        line, column, _, _ = _in_file(f)
        stream.write(f"::error file={_escape_property(f.filename)},line={line},col={column},"
                     f"title={_escape_property(f.code)}::{_escape_data(_file_message(f))}\n")


# ---------------------------------------------------------------------------------------------------------------
# SARIF 2.1.0


def _artifact_location(filename: str) -> dict:
    import pathlib
    from urllib.parse import quote

    posix = filename.replace(os.sep, "/")
    if os.path.isabs(filename) or posix.startswith("../"):
        return {"uri": pathlib.Path(os.path.abspath(filename)).as_uri()}
    return {"uri": quote(posix), "uriBaseId": "%SRCROOT%"}


def _region(start_line: int, start_column: int, end_line: int, end_column: int) -> dict:
    return {"startLine": start_line, "startColumn": start_column, "endLine": end_line, "endColumn": end_column}


def _sarif_fix(f: Finding) -> Optional[dict]:
    edits = _file_edits(f)
    if f.fix is None or not edits:
        return None
    replacements = [{"deletedRegion": _region(e.start_line, e.start_column + 1, e.end_line, e.end_column + 1),
                     "insertedContent": {"text": e.text}} for e in edits]
    fix = {"description": {"text": f.fix.description},
           "artifactChanges": [{"artifactLocation": _artifact_location(f.filename), "replacements": replacements}],
           "properties": {"applicability": f.fix.applicability}}
    if f.fix.unsafe_reason:
        fix["properties"]["unsafeReason"] = f.fix.unsafe_reason
    return fix


def sarif_log(findings: Sequence[Finding]) -> dict:
    import pathlib  # (the SARIF writer's imports wait for a SARIF run)

    from . import __version__

    rules = all_rules()
    index = {rule.code: i for i, rule in enumerate(rules)}
    descriptors = [{
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.what_it_does},
        "help": {"text": rule.documentation(), "markdown": rule.documentation()},
        "defaultConfiguration": {"enabled": rule.default_on, "level": "error"},
        "properties": {"fixAvailability": rule.fix_availability},
    } for rule in rules]
    results = []
    for f in findings:
        result = {
            "ruleId": f.code,
            "level": "error",
            "message": {"text": _file_message(f)},
            "locations": [{"physicalLocation": {
                "artifactLocation": _artifact_location(f.filename),
                "region": _region(*_in_file(f)),
            }}],
        }
        if _cell(f):
            result["properties"] = {"cell": _cell(f), "cellLine": f.line, "cellColumn": f.column + 1}
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        fix = _sarif_fix(f)
        if fix is not None:
            result["fixes"] = [fix]
        results.append(result)
    root = pathlib.Path(os.getcwd()).as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "detachify", "version": __version__, "informationUri": INFORMATION_URI,
                                "rules": descriptors}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def sarif(findings: Sequence[Finding], stream: TextIO) -> None:
    json.dump(sarif_log(findings), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


REPORTERS = {"concise": concise, "json": json_format, "github": github, "sarif": sarif}


# ---------------------------------------------------------------------------------------------------------------
# --statistics, the closing summary, --show-fixes (ruff's layouts)


def _has_fix(finding: Finding) -> bool:
    return finding.fix is not None


def statistics(findings: Sequence[Finding], output_format: str, stream: TextIO, *, style: Style = PLAIN,
               applicable: Applicable = _has_fix) -> None:
    """One row per code, most frequent first: count, code, `[*]` when every finding of it has a fix that applies,
    `[~]` when some do, `[ ]` when none does (a fix that is only unsafe, without --unsafe-fixes), and its name."""
    counts = Counter(f.code for f in findings)
    fixable = Counter(f.code for f in findings if applicable(f))
    rows = [(code, counts[code], fixable[code], RULES[code].name if code in RULES else "")
            for code in sorted(counts, key=lambda c: (-counts[c], c))]
    if output_format == "json":
        json.dump([{"code": code, "name": name, "count": count, "fixable": fixable_count > 0,
                    "fixable_count": fixable_count} for code, count, fixable_count, name in rows], stream, indent=2)
        stream.write("\n")
        return
    count_width = max((len(str(count)) for _, count, _, _ in rows), default=1)
    code_width = max((len(code) for code, _, _, _ in rows), default=1)
    any_fixable = any(fixable_count for _, _, fixable_count, _ in rows)
    for code, count, fixable_count, name in rows:
        marker = ""
        if any_fixable:
            mark = "*" if fixable_count == count else "~" if fixable_count else " "
            marker = f"[{style(mark, CYAN) if mark != ' ' else mark}] "
        stream.write(f"{style(str(count).rjust(count_width), BOLD)}\t{style(code.ljust(code_width), BOLD, RED)}\t"
                     f"{marker}{name}\n")


def plural(count: int, word: str, words: str = "") -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def summary(remaining: List[Finding], fixed: int, fix_mode: bool = False, applicable: Applicable = _has_fix,
            unchecked: int = 0, style: Style = PLAIN, fix_command: str = "detachify fix") -> List[str]:
    """The closing lines ruff users expect; never "All checks passed!" when a file could not be checked."""
    total = len(remaining) + fixed
    lines = []
    if fixed:
        lines.append(f"Found {plural(total, 'error')} ({fixed} fixed, {len(remaining)} remaining).")
    elif remaining:
        lines.append(f"Found {plural(total, 'error')}.")
    elif not unchecked:
        lines.append("All checks passed!")
    fixable = sum(1 for f in remaining if applicable(f))
    hidden = sum(1 for f in remaining if f.fix is not None and not f.fix.safe and not applicable(f))
    hint = f"{plural(hidden, 'hidden fix', 'hidden fixes')} can be enabled with the `--unsafe-fixes` option"
    star = f"[{style('*', CYAN)}]"
    if fixable and hidden:
        lines.append(f"{star} {fixable} fixable with `{fix_command}` ({hint}).")
    elif fixable:
        lines.append(f"{star} {fixable} fixable with `{fix_command}`.")
    elif hidden:
        lines.append(f"No fixes available ({hint}).")
    if unchecked:
        lines.append(f"{plural(unchecked, 'file')} could not be checked.")
    return lines


def diff_summary(fixed: int, remaining: Sequence[Finding], applicable: Applicable = _has_fix,
                 unchecked: int = 0) -> List[str]:
    """What `fix --diff` says on stderr, as ruff's `--diff` does."""
    hidden = sum(1 for f in remaining if f.fix is not None and not f.fix.safe and not applicable(f))
    more = f" ({plural(hidden, 'additional fix', 'additional fixes')} available with `--unsafe-fixes`)" \
        if hidden else ""
    if fixed:
        lines = [f"Would fix {plural(fixed, 'error')}{more}."]
    elif hidden:
        lines = [f"No errors would be fixed ({plural(hidden, 'fix', 'fixes')} available with `--unsafe-fixes`)."]
    else:
        lines = ["No fixes to apply."]
    if unchecked:
        lines.append(f"{plural(unchecked, 'file')} could not be checked.")
    return lines


def fix_summary(fixed_by_file: Sequence[Tuple[str, Dict[str, int]]], style: Style = PLAIN) -> List[str]:
    """--show-fixes: what `fix` fixed, per file and code, in ruff's layout."""
    fixed_by_file = [(name, table) for name, table in fixed_by_file if table]
    total = sum(sum(table.values()) for _, table in fixed_by_file)
    if not total:
        return []
    width = max(len(str(count)) for _, table in fixed_by_file for count in table.values())
    lines = ["", style(f"Fixed {plural(total, 'error')}:", BOLD, GREEN)]
    for name, table in sorted(fixed_by_file):
        lines.append(f"{style('-', CYAN)} {style(name, BOLD)}{style(':', CYAN)}")
        for code, count in sorted(table.items(), key=lambda item: (-item[1], item[0])):
            rule = f" ({RULES[code].name})" if code in RULES else ""
            lines.append(f"    {str(count).rjust(width)} \u00d7 {style(code, BOLD, RED)}{rule}")
    return lines + [""]


def diff_json(diffs: Sequence[Tuple[str, int, str]], stream: TextIO) -> None:
    """`fix --diff --output-format json`: one object per file that would change."""
    json.dump([{"filename": name, "fixed": fixed, "diff": diff} for name, fixed, diff in diffs], stream, indent=2,
              ensure_ascii=False)
    stream.write("\n")
