"""Jupyter notebooks: check and fix the code cells of an ``.ipynb`` as one program.

The code cells run in order in one namespace, so they are joined into one program text (one program line per
cell line: IPython syntax is masked line by line, never removed) and given to ``api.check_source`` /
``api.fix_source``. Findings come back with the cell they are in. Cells are numbered 1-based among *all* cells,
markdown included, as ruff does (``nb.ipynb:cell 3:2:5``): that is the position a user counts in the notebook;
line references inside messages are rewritten the same way (``cell 2, line 4``).

A cell that does not parse (an exercise's ``x = # TODO``) is what Jupyter makes of it: an error in that cell
(``E999`` at CPython's position, cell-relative) that runs nothing, while the other cells still run as one program.
So it is left out of the program (its lines become blank lines, and are never rewritten) and the rest is analysed
and fixed. A cell CPython compiles but libcst cannot read is left out the same way, with a warning, not an error.

GitHub and SARIF reports place notebook findings in the ``.ipynb`` file itself: ``NotebookFinding.file_span`` is
where the cell text sits in the JSON, so an annotation lands on the line a pull request's diff shows.

A fix rewrites only the ``source`` of the cells it changes, and only the changed array items of each, by splicing
the JSON text: everything else (indentation, key order, escaping, outputs, trailing newline) stays byte-identical,
whichever tool wrote the notebook. Only the standard library reads notebooks (no nbformat at run time).

Known limits: a cell whose first line is indented (IPython dedents it) and pasted `>>>` / `In [1]:` prompts are
reported as syntax errors of their cell; notebooks whose language is not Python are skipped (no findings, never
rewritten).
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

import libcst

from . import api, syntax
from .files import Checked, Handler, SourceError
from .findings import Edit, Finding
from .settings import Settings

# Cell magics whose body is Python that runs in the notebook's namespace; any other cell magic (%%bash,
# %%writefile, %%html, ...) makes its whole cell foreign text.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture"})
MASK = "pass  # masked"
# At the start of a logical line these can never begin Python, so IPython owns the line: magics, shell escapes,
# help (`?obj`) and the autocall escapes `/f x`, `,f a b`, `;f a b`.
_ESCAPES = ("%", "!", "?", "/", ",", ";")
# `%time stmt` and `%timeit [options] stmt` run `stmt` in the notebook: it is kept as code so a crash in it is seen.
_TIMING_MAGIC = re.compile(r"%(?:time|timeit(?:\s+(?:-[nrp]\s*\d+(?:\.\d+)?|-[tcqo]))*)\s+(?=\S)")
_ASSIGNED_MAGIC = re.compile(r"(?P<lhs>[^=#'\"]*[^=<>!+\-*/%&|^@:\s])\s*=\s*(?=[!%])")  # `x = !ls`, `x = %time f()`
_LINE_BREAK = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")  # after \n, \r\n or a lone \r, as Python's tokenizer counts
# A line reference in a message ("passed to `f` at line 12"), outside the `code` a message quotes.
_LINE_REFERENCE = re.compile(r"\bline (\d+)\b")
T = TypeVar("T")


class NotebookError(ValueError):
    """The file is not a notebook this tool can read, or its code does not parse; it is never rewritten."""


@dataclass(frozen=True)
class NotebookFinding(Finding):
    """A finding placed in a notebook: ``cell`` is 1-based among all cells; ``line``/``column`` are in that cell.

    The positions of ``fix.edits`` are cell positions too, each in the cell ``fix_cells`` names (a list is fixed
    where it is filled, which may be another cell); apply fixes with :func:`fix_notebook`.
    ``file_span`` is the same place in the ``.ipynb`` file as a text file, (line, column, end line, end column):
    lines 1-based, columns 0-based, as for ``Finding``; ``file_edits`` are the fix's edits there (escaped as the
    file escapes strings), empty when the fix cannot be written as edits of the file.
    """

    cell: int = 0
    fix_cells: Tuple[int, ...] = dataclasses.field(default=(), compare=False)
    file_span: Optional[Tuple[int, int, int, int]] = None
    file_edits: Tuple[Edit, ...] = ()


@dataclass
class NotebookReport:
    """Findings (``E999`` for each cell that does not parse) and the cells left out of the analysis, with why."""

    findings: List[NotebookFinding] = field(default_factory=list)
    not_analysed: List[str] = field(default_factory=list)


@dataclass
class _Cell:
    number: int  # 1-based among all cells
    text: str  # the source as one string
    items: List[Tuple[int, int]]  # JSON text span of each source item ([start, end) of the string literal)
    item_texts: List[str]

    def offset(self, line: int, column: int) -> int:
        """Offset in ``text`` of a cell position (1-based line, 0-based column), clamped to the text."""
        lines = _split_lines(self.text)
        if not lines:
            return 0
        line = min(max(line, 1), len(lines))
        start = sum(len(text) for text in lines[:line - 1])
        return start + min(max(column, 0), len(lines[line - 1].rstrip("\r\n")))

    def item_at(self, offset: int, end: bool) -> Tuple[int, int]:
        """(item index, offset within the item) holding ``offset``; an end position at an item boundary stays in
        the item before it."""
        start = 0
        for index, text in enumerate(self.item_texts):
            if offset < start + len(text) or (end and offset == start + len(text)):
                return index, offset - start
            start += len(text)
        return len(self.item_texts) - 1, len(self.item_texts[-1])


@dataclass
class _Line:
    cell: int
    number: int  # 1-based within the cell
    original: str  # the cell's line, with its line break if it has one
    program: str  # the program's line, always ending in \n (the cell's own break goes back on restore)
    masked: bool = False
    cut_at: int = 0  # unmasked lines: original == program[:cut_at] + cut + program[cut_at:] (breaks aside)
    cut: str = ""

    def restore(self, fixed: str) -> str:
        """The cell line for a (possibly fixed) program line."""
        if self.masked:
            return self.original  # IPython syntax goes back exactly as it was
        content = fixed[:-1] if fixed.endswith("\n") else fixed
        if content[:self.cut_at] != self.program[:self.cut_at]:
            raise NotebookError(f"cell {self.cell}:{self.number}: the fix changed text around an IPython magic")
        return content[:self.cut_at] + self.cut + content[self.cut_at:] + _break_of(self.original)

    def column(self, column: int) -> int:
        if self.masked:
            return min(column, len(self.original.rstrip("\r\n")))
        return column + len(self.cut) if self.cut and column >= self.cut_at else column


class CellProgram:
    """Code cells joined into one program, one program line per cell line (``lines``, ``program``), and how a
    program position maps back. Shared by the ``.ipynb`` reader and the Markdown one (``markdown_cells``), which
    set ``cells`` (each with its ``number``) and ``lines``, and say where a cell's syntax error is."""

    cells: list
    lines: List[_Line]
    program: str

    def locate(self, line: int, column: int) -> Tuple[int, int, int]:
        """(cell, line in cell, column in cell) of a program position (1-based line, 0-based column)."""
        if not self.lines:
            return (0, line, column)
        entry = self.lines[min(max(line, 1), len(self.lines)) - 1]
        return entry.cell, entry.number, entry.column(column)

    def cell_program(self, number: int) -> str:
        """The program text of one code cell alone (its lines are numbered from 1, as in the cell)."""
        return "".join(line.program for line in self.lines if line.cell == number)

    def leave_out(self, number: int) -> None:
        """Take a cell out of the program: its lines become blank (line numbers stay) and are written back as
        they were."""
        self.lines = [replace(line, program="\n", masked=True) if line.cell == number else line
                      for line in self.lines]
        self.program = "".join(line.program for line in self.lines)

    def cell_name(self, number: int) -> str:
        """A cell as a user finds it (``cell 3``)."""
        return f"cell {number}"

    def where(self, line: int, column: int) -> str:
        """A program position as a user reads it (``cell 3:2:5``)."""
        cell, line, column = self.locate(line, column)
        return f"cell {cell}:{line}:{column + 1}"

    def cell_syntax_error(self, cell: int, error: SyntaxError, filename: str) -> Finding:
        """The E999 finding of a cell whose program (``cell_program``) CPython rejects with ``error``."""
        raise NotImplementedError

    def restored_lines(self, fixed: str) -> List[str]:
        """The cell line of each entry of ``lines`` for a fixed program (same lines, changed within lines)."""
        fixed_lines = _split_lines(fixed)
        if len(fixed_lines) != len(self.lines):
            raise NotebookError(f"the fix changed the number of lines ({len(self.lines)} -> {len(fixed_lines)})")
        return [line.restore(fixed_line) for line, fixed_line in zip(self.lines, fixed_lines)]


class Notebook(CellProgram):
    """A parsed notebook: its JSON text, its code cells and the program they make."""

    def __init__(self, data: bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotebookError(f"not UTF-8: {exc}") from None
        self.bom = "\ufeff" if text.startswith("\ufeff") else ""
        self.text = text[len(self.bom):]
        try:
            nb = json.loads(self.text)
        except ValueError as exc:
            raise NotebookError(f"not valid JSON: {exc}") from None
        _validate(nb)
        self.is_python = _language(nb) in (None, "python", "python3", "ipython", "ipython3")
        self.cells = [cell for cell in _locate_cells(self.text) if nb["cells"][cell.number - 1]["cell_type"] == "code"]
        for cell in self.cells:  # the span finder must see what json.loads saw
            source = nb["cells"][cell.number - 1]["source"]
            if cell.item_texts != ([source] if isinstance(source, str) else source):
                raise NotebookError("unsupported JSON layout")
        self.lines: List[_Line] = [line for cell in self.cells for line in _mask_cell(cell)]
        self.program = "".join(line.program for line in self.lines)
        self._line_starts: Optional[List[int]] = None

    def to_cell(self, finding: Finding) -> NotebookFinding:
        cell, line, column = self.locate(finding.line, finding.column)
        end_line, end_column = finding.end_line, finding.end_column
        if end_line:
            _, end_line, end_column = self.locate(end_line, end_column)
        fix, fix_cells = finding.fix, ()
        if fix is not None:
            placed = [self._edit_to_cell(edit) for edit in fix.edits]
            fix = replace(fix, edits=tuple(edit for _, edit in placed))
            fix_cells = tuple(edit_cell for edit_cell, _ in placed)
        fields = {name: getattr(finding, name) for name in Finding.__dataclass_fields__}
        fields.update(message=self.cell_references(finding.message), line=line, column=column, end_line=end_line,
                      end_column=end_column, fix=fix)
        return self.placed(NotebookFinding(**fields, cell=cell, fix_cells=fix_cells))

    def placed(self, finding: NotebookFinding) -> NotebookFinding:
        """The finding with its place in the .ipynb file (``file_span``, ``file_edits``)."""
        start = self.file_position(finding.cell, finding.line, finding.column)
        end = (self.file_position(finding.cell, finding.end_line, finding.end_column, end=True)
               if finding.end_line else start)
        edits: Tuple[Edit, ...] = ()
        if finding.fix is not None:
            placed = [self._edit_in_file(finding.cell, edit) for edit in finding.fix.edits]
            edits = tuple(placed) if None not in placed else ()
        return replace(finding, file_span=start + end, file_edits=edits)

    def cell_references(self, message: str) -> str:
        """``line N`` of the program, in a message, as the cell and line a user sees (``cell 3, line 5``); quoted
        `code` is left alone."""
        def cell_line(match) -> str:
            cell, line, _ = self.locate(int(match.group(1)), 0)
            return f"cell {cell}, line {line}"

        parts = message.split("`")
        return "`".join(_LINE_REFERENCE.sub(cell_line, part) if i % 2 == 0 else part for i, part in enumerate(parts))

    def _edit_to_cell(self, edit: Edit) -> Tuple[int, Edit]:
        edit_cell, start_line, start_column = self.locate(edit.start_line, edit.start_column)
        _, end_line, end_column = self.locate(edit.end_line, edit.end_column)
        return edit_cell, Edit(start_line, start_column, end_line, end_column, edit.text)

    def cell_syntax_error(self, cell: int, error: SyntaxError, filename: str) -> NotebookFinding:
        finding = syntax.syntax_error_finding(self.cell_program(cell), error, filename)
        lines = [line for line in self.lines if line.cell == cell]

        def column(line: int, value: int) -> int:
            return lines[line - 1].column(value) if 0 < line <= len(lines) else value

        fields = {name: getattr(finding, name) for name in Finding.__dataclass_fields__}
        fields.update(column=column(finding.line, finding.column),
                      end_column=column(finding.end_line, finding.end_column) if finding.end_line else 0)
        return self.placed(NotebookFinding(**fields, cell=cell))

    # positions in the .ipynb file ----------------------------------------------------------------------------
    def file_position(self, cell: int, line: int, column: int, end: bool = False) -> Tuple[int, int]:
        """(1-based line, 0-based column) in the notebook's text of a cell position: where the JSON string that
        holds it has that character (escapes counted as written)."""
        found = next((c for c in self.cells if c.number == cell), None)
        if found is None or not found.items:
            return (1, 0)
        index, within = found.item_at(found.offset(line, column), end)
        start, stop = found.items[index]
        offset = start + 1 + _raw_length(self.text[start + 1:stop - 1], within)
        return self._text_position(offset)

    def _edit_in_file(self, cell: int, edit: Edit) -> Optional[Edit]:
        found = next(c for c in self.cells if c.number == cell)
        first = found.item_at(found.offset(edit.start_line, edit.start_column), end=False)[0]
        last = found.item_at(found.offset(edit.end_line, edit.end_column), end=True)[0]
        if first != last:
            return None  # an edit across source items is not one edit of the JSON text
        start = self.file_position(cell, edit.start_line, edit.start_column)
        end = self.file_position(cell, edit.end_line, edit.end_column, end=True) \
            if (edit.end_line, edit.end_column) != (edit.start_line, edit.start_column) else start
        text = json.dumps(edit.text, ensure_ascii=self.ensure_ascii)[1:-1]
        return Edit(start[0], start[1], end[0], end[1], text)

    def _text_position(self, offset: int) -> Tuple[int, int]:
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", self.text)]
        line = bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1]

    def with_program(self, fixed: str) -> bytes:
        """The notebook's bytes with the cells rewritten from a fixed program (same lines, changed within lines)."""
        new_text: Dict[int, List[str]] = {}
        for line, restored in zip(self.lines, self.restored_lines(fixed)):
            new_text.setdefault(line.cell, []).append(restored)
        splices = []  # (start, end, replacement) in the JSON text
        for cell in self.cells:
            new = "".join(new_text.get(cell.number, []))
            if new != cell.text:
                splices += _source_splices(cell, new, self.ensure_ascii)
        text = self.text
        for start, end, replacement in sorted(splices, reverse=True):
            text = text[:start] + replacement + text[end:]
        try:
            return (self.bom + text).encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate from a `\ud800` escape in a rewritten line
            raise NotebookError(f"cannot write the fixed notebook as UTF-8: {exc}") from None

    @property
    def ensure_ascii(self) -> bool:
        """Write new strings the way the file writes non-ASCII text: raw (nbformat) or as \\u escapes."""
        if not self.text.isascii():
            return False
        return any(int(code, 16) > 127 for code in re.findall(r"\\(?:u([0-9a-fA-F]{4})|.)", self.text) if code)


def read_notebook(data: bytes) -> Notebook:
    return Notebook(data)


def analyse_notebook(data: bytes, filename: str = "<notebook>", settings: Optional[Settings] = None,
                     *, respect_noqa: bool = True, project=None) -> NotebookReport:
    """Findings in the code cells, positions in cell coordinates, and the cells left out. Raises NotebookError."""
    nb = Notebook(data)
    if not nb.is_python:
        return NotebookReport()
    if project is not None:
        project.locate = nb.locate
    findings, report = cell_by_cell(
        nb, filename, lambda: api.check_source(nb.program, filename, settings, respect_noqa=respect_noqa,
                                               project=project))
    report.findings = sorted(report.findings + [nb.to_cell(finding) for finding in findings],
                             key=lambda f: (f.cell, f.line, f.column, f.code))
    return report


def check_notebook(data: bytes, filename: str = "<notebook>", settings: Optional[Settings] = None,
                   *, respect_noqa: bool = True, project=None) -> List[NotebookFinding]:
    """Findings in the code cells (``E999`` for a cell that does not parse), positions in cell coordinates.
    Raises :class:`NotebookError`."""
    return analyse_notebook(data, filename, settings, respect_noqa=respect_noqa, project=project).findings


def fix_notebook(data: bytes, filename: str = "<notebook>", settings: Optional[Settings] = None,
                 unsafe: Optional[bool] = None, project=None) -> bytes:
    """The notebook with every enabled fix applied; ``data`` itself when nothing changes. Cells that do not parse
    are never rewritten. Raises NotebookError."""
    nb = Notebook(data)
    if not nb.is_python:
        return data
    fixed, _ = cell_by_cell(nb, filename, lambda: api.fix_source(nb.program, filename, settings, unsafe=unsafe,
                                                                 project=project))
    if fixed == nb.program:
        return data
    result = nb.with_program(fixed)
    return data if result == data else result


def format_location(finding: Finding) -> str:
    """``cell 3:2:5`` (cell and line 1-based, column 1-based as printed); plain ``2:5`` for a non-notebook finding."""
    position = f"{finding.line}:{finding.column + 1}"
    cell = getattr(finding, "cell", 0)
    return f"cell {cell}:{position}" if cell else position


# --- reading -------------------------------------------------------------------------------------------------------

def _validate(nb) -> None:
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError("not a Jupyter notebook: no list of `cells` at the top level")
    if nb.get("nbformat", 4) != 4:
        raise NotebookError(f"unsupported notebook format {nb.get('nbformat')!r} (only nbformat 4 is supported)")
    for number, cell in enumerate(nb["cells"], 1):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise NotebookError(f"cell {number}: not a notebook cell (no `cell_type`)")
        source = cell.get("source")
        if not (isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))):
            raise NotebookError(f"cell {number}: `source` is neither a string nor a list of strings")


def _language(nb) -> Optional[str]:
    metadata = nb.get("metadata")
    if not isinstance(metadata, dict):
        return None
    for key, name in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(key)
        if isinstance(value, dict) and isinstance(value.get(name), str):
            return value[name].lower()
    return None


# A JSON walker that only records where things are; json.loads has already checked the text, and each skipped
# value is read by the json module's own scanner (raw_decode), so the two cannot disagree on what a value is.
_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()


def _items(text: str, pos: int) -> List[Tuple[Optional[str], int, int]]:
    """(key, start, end) of each value of the object or array that starts at ``pos`` (key None in an array)."""
    items = []
    close = "}" if text[pos] == "{" else "]"
    pos = _skip(text, pos + 1)
    while text[pos] != close:
        key = None
        if close == "}":
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, _skip(text, pos) + 1)  # past ':'
        end = _DECODER.raw_decode(text, pos)[1]
        items.append((key, pos, end))
        pos = _skip(text, end)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
    return items


def _value_at(text: str, pos: int, key: str) -> int:
    """Start of the member ``key`` of the object at ``pos`` (the last one, as json.loads keeps the last duplicate)."""
    return [start for name, start, _ in _items(text, pos) if name == key][-1]


def _locate_cells(text: str) -> List[_Cell]:
    cells = []
    for number, (_, cell_at, _) in enumerate(_items(text, _value_at(text, _skip(text, 0), "cells")), 1):
        at = _value_at(text, cell_at, "source")
        if text[at] == "[":
            items = [(s, e) for _, s, e in _items(text, at)]
        else:
            items = [(at, _DECODER.raw_decode(text, at)[1])]
        item_texts = [_DECODER.raw_decode(text, start)[0] for start, _ in items]
        cells.append(_Cell(number, "".join(item_texts), items, item_texts))
    return cells


# --- the program ---------------------------------------------------------------------------------------------------

def _split_lines(text: str) -> List[str]:
    return [line for line in _LINE_BREAK.split(text) if line]


def _break_of(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _scan(body: str, depth: int, quote: Optional[str]) -> Tuple[int, Optional[str], bool, int]:
    """Carry the bracket depth and the open string's quote across one physical line.

    Returns them, whether a backslash continues the line, and where its comment starts. Only logical line starts
    can hold IPython syntax (`a = (b\\n % c)` is a modulo), which is all this needs to know.
    """
    i, comment = 0, len(body)
    while i < len(body):
        char = body[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if body.startswith(quote, i):
                i, quote = i + len(quote), None
                continue
        elif char == "#":
            comment = i
            break
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char in "'\"":
            quote = char * 3 if body.startswith(char * 3, i) else char
            i += len(quote)
            continue
        i += 1
    if quote in ("'", '"') and not body.endswith("\\"):
        quote = None  # an unterminated one-line string ends with its line
    return depth, quote, quote is None and comment == len(body) and body.endswith("\\"), comment


def _ipython_line(body: str, help_end: bool):
    """How a logical line start that IPython may own goes into the program: None for plain Python, else
    ``(program text, cut_at, cut)`` with ``cut`` None for a masked line."""
    indent = body[:len(body) - len(body.lstrip())]
    stripped = body[len(indent):]
    assigned = _ASSIGNED_MAGIC.match(stripped)
    if stripped.startswith(_ESCAPES):
        at = len(indent)
    elif assigned:
        at = len(indent) + assigned.end()
    elif help_end:  # `obj?`, `obj.attr??`
        return indent + MASK, 0, None
    else:
        return None
    timing = _TIMING_MAGIC.match(body, at)
    # `%timeit` returns no value of its statement, so `x = %timeit f()` must not bind x to f()'s value.
    if timing and not (assigned and timing.group().startswith("%timeit")):
        program = body[:at] + body[timing.end():]
        if _parses(program.strip()):
            return program, at, timing.group()
    if assigned and _parses(body[len(indent):at] + "..."):
        return body[:at] + "...  # masked", 0, None  # `x = !ls` still rebinds x (no longer a tensor)
    return indent + MASK, 0, None


def _mask_cell(cell: _Cell) -> List[_Line]:
    lines = _split_lines(cell.text)
    result = []
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    magic = re.match(r"%%(\w*)", lines[first].strip()) if first is not None else None
    depth, quote, continued, masking = 0, None, False, False
    for number, original in enumerate(lines, 1):
        body = original.rstrip("\r\n")
        if magic and (number == first + 1 or magic.group(1) not in PYTHON_CELL_MAGICS):
            result.append(_Line(cell.number, number, original, MASK + "\n", masked=True))  # foreign cell
            continue
        after = _scan(body, depth, quote)
        entry = None
        if masking:  # backslash-continued IPython line
            indent = body[:len(body) - len(body.lstrip())]
            entry = (indent + MASK, 0, None)
        elif depth == 0 and quote is None and not continued:
            entry = _ipython_line(body, body[:after[3]].rstrip().endswith("?"))
        if entry is None:
            depth, quote, continued, _ = after
            result.append(_Line(cell.number, number, original, body + "\n"))
        else:
            program, cut_at, cut = entry
            masking = body.endswith("\\") and cut is None
            result.append(_Line(cell.number, number, original, program + "\n", masked=cut is None,
                                cut_at=cut_at, cut=cut or ""))
    return result


def cell_by_cell(nb: CellProgram, filename: str, run: Callable[[], T]) -> Tuple[T, NotebookReport]:
    """Run the engine on the program; when it does not parse, leave out the cells that cannot be read, as
    Jupyter runs the others: first those neither CPython's parser nor libcst reads (an E999 each: a cell in syntax
    newer than this Python is read as a file would be), then, if libcst still fails, those CPython compiles but
    libcst cannot read (a warning each). ``run`` reads ``nb.program`` afresh each time."""
    report = NotebookReport()
    try:
        return run(), report
    except (libcst.ParserSyntaxError, syntax.UnsupportedSyntax):
        pass
    for cell in nb.cells:
        program = nb.cell_program(cell.number)
        error = syntax.cpython_error(program)  # cheap: libcst is asked only about the cells CPython rejects
        if error is not None and not _libcst_reads(program):
            report.findings.append(nb.cell_syntax_error(cell.number, error, filename))
            nb.leave_out(cell.number)
    try:
        return run(), report
    except (libcst.ParserSyntaxError, syntax.UnsupportedSyntax):
        pass
    for cell in nb.cells:
        try:
            syntax.parse(nb.cell_program(cell.number))
        except syntax.UnsupportedSyntax as exc:
            report.not_analysed.append(f"{nb.cell_name(cell.number)} not analysed: {exc.reason}")
            nb.leave_out(cell.number)
    try:
        return run(), report
    except libcst.ParserSyntaxError as exc:  # cells that parse alone but not together: not expected
        where = nb.where(exc.raw_line, exc.raw_column)
        raise NotebookError(f"{where}: the code cells do not parse: {exc.message}") from exc
    except syntax.UnsupportedSyntax as exc:
        raise NotebookError(f"the code cells cannot be read together: {exc.reason}") from exc


def _libcst_reads(program: str) -> bool:
    try:
        syntax.parse(program)
    except (libcst.ParserSyntaxError, syntax.UnsupportedSyntax):
        return False
    return True


def _raw_length(literal: str, characters: int) -> int:
    """How many characters of a JSON string literal's body (between the quotes) spell its first ``characters``
    decoded characters: an escape is 2 characters, ``\\uXXXX`` 6, a surrogate pair of them 12 (one character)."""
    raw, decoded = 0, 0
    while decoded < characters and raw < len(literal):
        if literal[raw] != "\\":
            raw += 1
        elif literal[raw + 1] != "u":
            raw += 2
        else:
            high = int(literal[raw + 2:raw + 6], 16)
            pair = 0xD800 <= high < 0xDC00 and re.match(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}", literal[raw + 6:raw + 12])
            raw += 12 if pair else 6
        decoded += 1
    return raw


def _check_handler(data: bytes, filename: str, settings: Settings, project=None) -> Checked:
    try:
        report = analyse_notebook(data, filename, settings, project=project)
    except NotebookError as exc:
        raise SourceError(f"cannot check notebook: {exc}") from None
    return Checked(list(report.findings), report.not_analysed)


def _fix_handler(data: bytes, filename: str, settings: Settings, project=None) -> bytes:
    try:
        return fix_notebook(data, filename, settings, project=project)
    except NotebookError as exc:
        raise SourceError(f"cannot check notebook: {exc}") from None


HANDLER = Handler(check=_check_handler, fix=_fix_handler, text=lambda data: data.decode("utf-8-sig", errors="replace"))


# --- writing -------------------------------------------------------------------------------------------------------

def _source_splices(cell: _Cell, new: str, ensure_ascii: bool) -> List[Tuple[int, int, str]]:
    """Replacements of the JSON text for the changed items of a cell's source.

    Each item keeps its share of the text (items are lines in files nbformat writes), found by mapping the old
    item boundaries through a diff of the old and new text, so the array keeps its items and layout.
    """
    if not cell.items:
        raise NotebookError(f"cell {cell.number}: the fix changed an empty cell")
    opcodes = difflib.SequenceMatcher(None, cell.text, new, autojunk=False).get_opcodes()

    def mapped(offset: int) -> int:
        for _, i1, i2, j1, j2 in opcodes:
            if i1 <= offset < i2:
                return min(j1 + offset - i1, j2)
        return len(new)

    bounds = [0]
    for item in cell.item_texts:
        bounds.append(bounds[-1] + len(item))
    new_bounds = [0] + [mapped(offset) for offset in bounds[1:-1]] + [len(new)]
    return [(start, end, json.dumps(new[a:b], ensure_ascii=ensure_ascii))
            for (start, end), old, a, b in zip(cell.items, cell.item_texts, new_bounds, new_bounds[1:])
            if new[a:b] != old]
