"""Reading a Markdown notebook: which fenced blocks are its code cells, and the program they make.

Three formats declare themselves executable notebooks, and only they are read (a README's ```` ```python ````
fences are documentation):

* jupytext Markdown: YAML front matter with a ``jupyter:`` mapping holding ``jupytext:``; its ```` ```python ````
  fences are code cells, except inside ``<!-- #region -->`` / ``<!-- #raw -->`` blocks (markdown and raw cells);
* MyST Markdown notebooks: ```` ```{code-cell} ipython3 ```` fences (``python`` or no language too); the options
  at the top of a cell (``:tags: [...]`` lines, or a ``---`` YAML block) are not code;
* notedown / d2lbook (the "Dive into Deep Learning" chapters): ```` ```{.python .input} ```` fences. A file that
  marks cells with d2lbook's tabs (a ``#@tab pytorch`` line, or the ``%%tab pytorch`` cell magic) holds one
  variant of a cell per framework: only cells tabbed ``pytorch`` or ``all`` (alone or in a list,
  ``#@tab pytorch, mxnet``) are read; an untagged cell belongs to d2lbook's default tab, mxnet, and is not.

As jupytext reads them, cells are fences that start at the line's first column. Non-Python fences are never code;
a front matter naming a kernel of another language makes the file no notebook of ours.

The program keeps the Markdown file's lines: every line that is not code is a blank program line, so a program
position *is* a position in the ``.md`` file (an editor and a pull request's diff show md lines), and the cell
machinery of ``detachify.notebook`` (IPython masking, a cell that does not parse left out) applies as is.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Dict, List, Optional, Tuple

from . import syntax
from .findings import Edit, Finding
from .notebook import CellProgram, NotebookError, _Cell, _Line, _mask_cell, _split_lines

JUPYTEXT, MYST, NOTEDOWN = "jupytext", "myst", "notedown"
PYTHON_LANGUAGES = frozenset({"python", "python3", "ipython", "ipython3"})
D2L_DEFAULT_TAB = "mxnet"  # d2lbook's first tab: where an untagged cell belongs
PYTORCH_TABS = frozenset({"pytorch", "all"})

_FENCE = re.compile(r"(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MYST_CELL = re.compile(r"\{code-cell\}\s*(?P<language>\S*)")
_NOTEDOWN_CELL = re.compile(r"\{\s*\.python\s+\.input\b[^}]*\}\s*$")
_JUPYTEXT_CELL = re.compile(r"(?:i?python3?)(?:\s.*)?$")
# Where a file says which format it is: any line opening such a fence.
_MYST_FILE = re.compile(r"^(?:`{3,}|~{3,})\{code-cell\}", re.M)
_NOTEDOWN_FILE = re.compile(r"^(?:`{3,}|~{3,})\s*\{\s*\.python\s+\.input\b", re.M)
_REGION = re.compile(r"<!--\s*#(region|raw|md)\b.*-->\s*$")
_MYST_OPTION = re.compile(r"\s*:[\w-]+:")
# d2lbook's own patterns (`# *@tab +...`, `%%tab +...`), held to a line start.
_TAB_COMMENT = re.compile(r"\s*#\s*@tab\s+(?P<tabs>[\w, ]+)")
_TAB_MAGIC = re.compile(r"%%tab\s+(?P<tabs>[\w, ]+)")

Span = Tuple[int, int]  # a cell's code lines: [first, end) indices into the file's lines


class MarkdownNotebook(CellProgram):
    """A Markdown notebook: its text, its code cells (numbered 1.. in file order) and their program, whose line N
    is the file's line N. ``_Line.number`` is the md line; columns map back through IPython masking."""

    def __init__(self, text: str, spans: List[Span]):
        self.bom = "\ufeff" if text.startswith("\ufeff") else ""
        self.text = text[len(self.bom):]
        file_lines = _split_lines(self.text)
        owner: Dict[int, int] = {}
        for number, (first, end) in enumerate(spans, 1):
            owner.update((index, number) for index in range(first, end))
        self.cells = [_Cell(number, "".join(file_lines[first:end]), [], []) for number, (first, end) in
                      enumerate(spans, 1)]
        by_cell = {cell.number: iter(_mask_cell(cell)) for cell in self.cells}
        self.lines: List[_Line] = []
        for index, original in enumerate(file_lines):
            number = owner.get(index)
            if number is None:
                self.lines.append(_Line(0, index + 1, original, "\n", masked=True))
            else:
                self.lines.append(replace(next(by_cell[number]), number=index + 1))
        self.program = "".join(line.program for line in self.lines)

    def to_file(self, finding: Finding) -> Finding:
        """A finding of the program at its place in the file (lines already are; columns through the masking)."""
        _, line, column = self.locate(finding.line, finding.column)
        end_line, end_column = finding.end_line, finding.end_column
        if end_line:
            _, end_line, end_column = self.locate(end_line, end_column)
        fix = finding.fix
        if fix is not None:
            fix = replace(fix, edits=tuple(self._edit_in_file(edit) for edit in fix.edits))
        return replace(finding, line=line, column=column, end_line=end_line, end_column=end_column, fix=fix)

    def _edit_in_file(self, edit: Edit) -> Edit:
        _, start_line, start_column = self.locate(edit.start_line, edit.start_column)
        _, end_line, end_column = self.locate(edit.end_line, edit.end_column)
        return Edit(start_line, start_column, end_line, end_column, edit.text)

    def cell_name(self, number: int) -> str:
        return f"the cell at line {self._first_line(number)}"

    def where(self, line: int, column: int) -> str:
        _, line, column = self.locate(line, column)
        return f"line {line}:{column + 1}"

    def _first_line(self, cell: int) -> int:
        return next(line.number for line in self.lines if line.cell == cell)

    def cell_syntax_error(self, cell: int, error: SyntaxError, filename: str) -> Finding:
        finding = syntax.syntax_error_finding(self.cell_program(cell), error, filename)
        lines = [line for line in self.lines if line.cell == cell]
        before = self._first_line(cell) - 1  # md lines above the cell's first line

        def column(line: int, value: int) -> int:
            return lines[line - 1].column(value) if 0 < line <= len(lines) else value

        return replace(finding, line=finding.line + before, column=column(finding.line, finding.column),
                       end_line=finding.end_line + before if finding.end_line else 0,
                       end_column=column(finding.end_line, finding.end_column) if finding.end_line else 0)

    def with_program(self, fixed: str) -> bytes:
        """The file's bytes with the code lines rewritten from a fixed program: every other byte stays."""
        restored = self.restored_lines(fixed)
        cell_lines: Dict[int, List[int]] = {}  # cell -> the indices of its lines
        for index, line in enumerate(self.lines):
            if line.cell:
                cell_lines.setdefault(line.cell, []).append(index)
        fixed_lines = _split_lines(fixed)
        for indices in cell_lines.values():
            # The engine's fix always parses as a whole; a cell that parsed alone must still, as Jupyter runs it alone.
            if any(restored[i] != self.lines[i].original for i in indices) and \
                    syntax.cpython_error("".join(fixed_lines[i] for i in indices)) is not None and \
                    syntax.cpython_error("".join(self.lines[i].program for i in indices)) is None:
                raise NotebookError(f"line {indices[0] + 1}: the fix would leave a cell that does not parse")
        return (self.bom + "".join(restored)).encode("utf-8")


def read_markdown(text: str) -> Optional[MarkdownNotebook]:
    """The notebook a Markdown text holds; None when it declares itself no Python notebook (documentation)."""
    lines = _split_lines(text[1:] if text.startswith("\ufeff") else text)
    front_end, front = _front_matter(lines)
    kind = _format(text, front)
    if kind is None or _kernel_language(front, kind) not in (None, *PYTHON_LANGUAGES):
        return None
    spans = _code_spans(lines, front_end, kind)
    if kind == NOTEDOWN:
        spans = _pytorch_tabs(lines, spans)
    return MarkdownNotebook(text, spans)


# --- front matter ----------------------------------------------------------------------------------------------------

def _front_matter(lines: List[str]) -> Tuple[int, dict]:
    """(lines it spans, its mappings) of a YAML front matter (``---`` ... ``---``); (0, {}) when there is none."""
    if not lines or lines[0].rstrip() != "---":
        return 0, {}
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return index + 1, _yaml_mappings(lines[1:index])
    return 0, {}


def _yaml_mappings(lines: List[str]) -> dict:
    """The nested ``key: value`` mappings of a YAML block, values as strings; all a notebook header needs (lists,
    block scalars and flow collections are passed over or kept as text)."""
    root: dict = {}
    stack: List[Tuple[int, dict]] = [(-1, root)]
    for line in lines:
        match = re.match(r"(?P<indent> *)(?P<key>[^\s:#\-'\"][^:]*|'[^']*'|\"[^\"]*\")\s*:(?:\s+(?P<value>.*))?$",
                         line.rstrip("\r\n"))
        if match is None:
            continue
        indent = len(match.group("indent"))
        while stack[-1][0] >= indent:
            stack.pop()
        key, value = match.group("key").strip("'\""), (match.group("value") or "").strip()
        if value and not value.startswith("#"):
            stack[-1][1][key] = value.strip("'\"")
        else:
            stack[-1][1][key] = child = {}
            stack.append((indent, child))
    return root


def _mapping(value, *keys: str):
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _format(text: str, front: dict) -> Optional[str]:
    jupytext = _mapping(front, "jupyter", "jupytext")
    if _mapping(front, "jupytext", "text_representation", "format_name") == "myst" or _MYST_FILE.search(text):
        return MYST
    if _NOTEDOWN_FILE.search(text):
        return NOTEDOWN
    return JUPYTEXT if jupytext is not None else None


def _kernel_language(front: dict, kind: str) -> Optional[str]:
    kernelspec = _mapping(front, "jupyter", "kernelspec") if kind == JUPYTEXT else _mapping(front, "kernelspec")
    language = _mapping(kernelspec, "language")
    return language.lower() if isinstance(language, str) else None


# --- fences ----------------------------------------------------------------------------------------------------------

def _code_spans(lines: List[str], start: int, kind: str) -> List[Span]:
    """The code lines of each code cell, walking the fences as CommonMark does (so a fence shown inside another, or
    inside an HTML comment, is no cell)."""
    spans: List[Span] = []
    index = start
    while index < len(lines):
        body = lines[index].rstrip("\r\n")
        end_marker = _block_end(body, kind)
        if end_marker is not None:  # an HTML comment or a jupytext region: no cells inside
            index = next((i for i in range(index + 1, len(lines)) if end_marker.search(lines[i])), len(lines)) + 1
            continue
        fence = _FENCE.match(body)
        if fence is None or (fence.group("fence")[0] == "`" and "`" in fence.group("info")):
            index += 1
            continue
        close = re.compile(r" {0,3}%s{%d,}\s*$" % (re.escape(fence.group("fence")[0]), len(fence.group("fence"))))
        end = next((i for i in range(index + 1, len(lines)) if close.match(lines[i])), len(lines))
        if not fence.group("indent") and _is_code(fence.group("info").strip(), kind):
            first = index + 1
            if kind == MYST:
                first = _after_myst_options(lines, first, end)
            if first < end:
                spans.append((first, end))
        index = end + 1
    return spans


def _block_end(body: str, kind: str):
    """For a line that opens a block whose fences are not cells, the pattern of the line that ends it."""
    region = _REGION.match(body) if kind == JUPYTEXT else None
    if region is not None:
        return re.compile(r"<!--\s*#end%s\s*-->" % region.group(1))
    stripped = body.lstrip(" ")
    if len(body) - len(stripped) <= 3 and stripped.startswith("<!--") and "-->" not in stripped[4:]:
        return re.compile("-->")
    return None


def _is_code(info: str, kind: str) -> bool:
    if kind == MYST:
        match = _MYST_CELL.match(info)
        return match is not None and (not match.group("language") or match.group("language").lower()
                                      in PYTHON_LANGUAGES)
    if kind == NOTEDOWN:
        return _NOTEDOWN_CELL.match(info) is not None
    return _JUPYTEXT_CELL.match(info) is not None


def _after_myst_options(lines: List[str], first: int, end: int) -> int:
    """The first code line of a MyST cell: past its ``---`` YAML options block or its ``:key: value`` lines."""
    if first < end and lines[first].rstrip() == "---":
        closing = next((i for i in range(first + 1, end) if lines[i].rstrip() == "---"), None)
        return closing + 1 if closing is not None else first
    while first < end and _MYST_OPTION.match(lines[first]):
        first += 1
    return first


# --- d2lbook tabs ----------------------------------------------------------------------------------------------------

def _pytorch_tabs(lines: List[str], spans: List[Span]) -> List[Span]:
    """The PyTorch variant of a d2lbook chapter: cells tabbed pytorch or all; a ``%%tab`` line is not code.
    A file without tabs is plain notedown: every cell is read."""
    tabbed = [(span, _tabs(lines, span)) for span in spans]
    if all(tabs is None for _, tabs in tabbed):
        return spans
    kept = []
    for (first, end), tabs in tabbed:
        if PYTORCH_TABS & set(tabs or (D2L_DEFAULT_TAB,)):
            opening = next((index for index in range(first, end) if lines[index].strip()), end)
            if opening < end and _TAB_MAGIC.match(lines[opening]):
                first = opening + 1  # the cell magic's line is IPython's; its body is the cell's Python
            if first < end:
                kept.append((first, end))
    return kept


def _tabs(lines: List[str], span: Span) -> Optional[List[str]]:
    """The tabs a cell is marked with (d2lbook reads the first mark anywhere in the cell), None when unmarked."""
    for index in range(*span):
        match = _TAB_COMMENT.match(lines[index]) or _TAB_MAGIC.match(lines[index])
        if match:
            return [tab.strip().lower() for tab in match.group("tabs").split(",") if tab.strip()]
    return None
