"""Markdown notebooks (jupytext Markdown, MyST, notedown/d2lbook): check and fix their code cells as one program.

The handler of ``.md`` files (``files._PLUGINS``). Walking a directory yields every ``.md``, and most are
documentation: one that does not name a notebook format (no ``jupytext``, ``{code-cell}`` or ``.input`` in its bytes)
costs one read and a substring test, and loads neither the notebook reader nor the parser. The rest is read by
``detachify.markdown_cells``, which says which fences are code cells and joins them into a program whose lines are
the file's lines; from there it is the ``.ipynb`` story (``detachify.notebook.cell_by_cell``): IPython syntax masked,
a cell that does not parse an ``E999`` at its own place (its md line) while the other cells are analysed as one
program, and fixed; ``fix`` rewrites only the code lines it changes, every other byte stays.

Findings are plain findings of a text file: the line and column of the ``.md`` file, in every output format, and so
are the line references inside messages (``passed to `show` at line 42``). A file that declares itself no Python
notebook (a README's ```` ```python ```` fences, a notebook of another kernel) has no findings and is never
rewritten.
"""
from __future__ import annotations

from typing import Optional

from .files import Checked, Handler, SourceError
from .findings import Finding
from .settings import Settings

# Bytes one of the three formats must hold: jupytext's front matter, a MyST code cell, a notedown input fence.
NOTEBOOK_MARKERS = (b"jupytext", b"{code-cell}", b".input")


def may_be_notebook(data: bytes) -> bool:
    return any(marker in data for marker in NOTEBOOK_MARKERS)


def read_markdown_notebook(data: bytes):
    """The ``MarkdownNotebook`` the file holds, None when it is no Python notebook. Raises NotebookError."""
    if not may_be_notebook(data):
        return None
    from .markdown_cells import read_markdown
    from .notebook import NotebookError

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"not UTF-8: {exc}") from None
    return read_markdown(text)


def program_of(data: bytes) -> Optional[str]:
    """The program of the file's code cells (its lines are the file's lines), None when it is no notebook or
    cannot be read: what a project scan of its callers needs."""
    if not may_be_notebook(data):
        return None
    from .notebook import NotebookError

    try:
        notebook = read_markdown_notebook(data)
    except NotebookError:
        return None
    return notebook.program if notebook is not None else None


def analyse_markdown(data: bytes, filename: str = "<markdown>", settings: Optional[Settings] = None,
                     *, respect_noqa: bool = True, project=None):
    """A ``NotebookReport``: findings at md positions (``E999`` for each cell that does not parse) and the cells left
    out of the analysis. Raises NotebookError."""
    notebook = read_markdown_notebook(data)
    from . import api
    from .notebook import NotebookReport, cell_by_cell

    if notebook is None or not notebook.cells:
        return NotebookReport()
    findings, report = cell_by_cell(
        notebook, filename, lambda: api.check_source(notebook.program, filename, settings, respect_noqa=respect_noqa,
                                                     project=project))
    report.findings = sorted(report.findings + [notebook.to_file(finding) for finding in findings],
                             key=Finding.sort_key)
    return report


def fix_markdown(data: bytes, filename: str = "<markdown>", settings: Optional[Settings] = None,
                 unsafe: Optional[bool] = None, project=None) -> bytes:
    """The file with every enabled fix applied; ``data`` itself when nothing changes. Cells that do not parse are
    never rewritten (the others are, as for ``.ipynb``). Raises NotebookError."""
    notebook = read_markdown_notebook(data)
    if notebook is None or not notebook.cells:
        return data
    from . import api
    from .notebook import cell_by_cell

    fixed, _ = cell_by_cell(notebook, filename, lambda: api.fix_source(notebook.program, filename, settings,
                                                                       unsafe=unsafe, project=project))
    if fixed == notebook.program:
        return data
    result = notebook.with_program(fixed)
    return data if result == data else result


def _check_handler(data: bytes, filename: str, settings: Settings, project=None) -> Checked:
    if not may_be_notebook(data):
        return Checked([])
    from .notebook import NotebookError

    try:
        report = analyse_markdown(data, filename, settings, project=project)
    except NotebookError as exc:
        raise SourceError(f"cannot check notebook: {exc}") from None
    return Checked(list(report.findings), report.not_analysed)


def _fix_handler(data: bytes, filename: str, settings: Settings, project=None) -> bytes:
    if not may_be_notebook(data):
        return data
    from .notebook import NotebookError

    try:
        return fix_markdown(data, filename, settings, project=project)
    except NotebookError as exc:
        raise SourceError(f"cannot check notebook: {exc}") from None


HANDLER = Handler(check=_check_handler, fix=_fix_handler, text=lambda data: data.decode("utf-8-sig", errors="replace"))
