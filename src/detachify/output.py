"""Reporters: the same findings as concise lines, JSON, GitHub workflow annotations or SARIF 2.1.0.

Columns are 1-based everywhere here (``Finding.column`` is 0-based, flake8's convention) and count
characters, which SARIF calls ``unicodeCodePoints``.
"""
from __future__ import annotations

import json
import os
import pathlib
from collections import Counter
from typing import Dict, List, Optional, Sequence, TextIO
from urllib.parse import quote

from .findings import Edit, Finding
from .rules.registry import RULES, all_rules

FORMATS = ("concise", "json", "github", "sarif")
INFORMATION_URI = "https://github.com/detachify/detachify"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def report(findings: Sequence[Finding], output_format: str, stream: TextIO) -> None:
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


def concise(findings: Sequence[Finding], stream: TextIO) -> None:
    for f in findings:
        cell = f"cell {_cell(f)}:" if _cell(f) else ""
        stream.write(f"{f.filename}:{cell}{f.line}:{f.column + 1}: {f.code} {f.message}\n")


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
# --statistics


def statistics(findings: Sequence[Finding], output_format: str, stream: TextIO) -> None:
    counts = Counter(f.code for f in findings)
    fixable = Counter(f.code for f in findings if f.fix is not None)
    rows = [(code, counts[code], fixable[code] > 0, RULES[code].name if code in RULES else "")
            for code in sorted(counts, key=lambda c: (-counts[c], c))]
    if output_format == "json":
        json.dump([{"code": code, "name": name, "count": count, "fixable": is_fixable}
                   for code, count, is_fixable, name in rows], stream, indent=2)
        stream.write("\n")
        return
    width = max((len(str(count)) for _, count, _, _ in rows), default=1)
    for code, count, is_fixable, name in rows:
        stream.write(f"{count:>{width}}\t{code}\t{'[*] ' if is_fixable else ''}{name}\n")


def plural(count: int, word: str, words: str = "") -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def summary(remaining: List[Finding], fixed: int, fix_mode: bool, unsafe_fixes: bool) -> List[str]:
    """The closing lines ruff users expect."""
    total = len(remaining) + fixed
    if total == 0:
        return ["All checks passed!"]
    if fix_mode:
        lines = [f"Found {plural(total, 'error')} ({fixed} fixed, {len(remaining)} remaining)."]
    else:
        lines = [f"Found {plural(total, 'error')}."]
        safe = sum(1 for f in remaining if f.fix is not None and (f.fix.safe or unsafe_fixes))
        if safe:
            lines.append(f"[*] {safe} fixable with `detachify fix`.")
    hidden = sum(1 for f in remaining if f.fix is not None and not f.fix.safe and not unsafe_fixes)
    if hidden:
        fixes = plural(hidden, "hidden fix", "hidden fixes")
        lines.append(f"({fixes} can be enabled with the `--unsafe-fixes` option.)")
    return lines
