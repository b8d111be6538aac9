"""`detachify server`: the language server, built on pygls, shaped after ruff's.

- Diagnostics are pushed (``textDocument/publishDiagnostics``) on open, on save and, debounced, on change. Checks
  are taken from snapshots made on the event loop, queued on a worker thread and run by the engine in a child
  process (:class:`~detachify.server.checking.Checker`), so neither a long check nor a crash of the engine holds
  up or takes down the server. A result is dropped when a newer snapshot of its document is already waiting, so
  the editor only ever sees diagnostics of what it last sent.
- Every diagnostic carries in ``data`` its quick fix, in the client's position units, for the document version
  it was computed on (ruff does the same), and where its `# noqa` goes: code actions need no second check, and
  are not offered for a version the editor has moved past. The `# noqa` edit is worked out when asked for (it
  needs a tokenizer pass, which would otherwise delay every publication).
- Code actions: a quick fix per finding (unsafe ones labelled with the reason, never preferred, never part of
  fix-all), "Disable for this line" (`# noqa: CODE`), and ``source.fixAll.detachify`` (also as
  ``notebook.source.fixAll.detachify``) with the safe fixes, resolved lazily where the client can.
  ``detachify.applyAutofix`` does the same through ``workspace/applyEdit``.
- Hover on a finding, or on a code in a `# noqa:` comment, shows what `detachify rule CODE` prints.
- Notebooks (``notebookDocument/*``) are checked as the CLI checks an ``.ipynb``: code cells as one program, each
  diagnostic published to its cell's document. Markdown documents are checked as the CLI checks a ``.md``: a
  Markdown notebook's findings land on its own lines, any other Markdown gets none.
- Configuration comes from the files (as for `detachify check`), overridden by the editor's settings (as by
  command-line flags), and is re-read when a pyproject.toml changes: reported by the editor, or noticed by its
  stamp at the next check. A file that cannot be checked gets a ``window/logMessage`` and no diagnostics.
"""
from __future__ import annotations

import asyncio
import logging
import os
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import __version__
from ..config import ConfigError, Overrides, parse_selectors
from ..files import FIX
from ..markdown_notebook import program_of
from ..noqa import noqa_line_ranges
from ..rules.registry import RULES
from ..settings import FIX_STYLES
from .checking import (CONFIG_FILE, Cell, Checker, Configuration, Snapshot, notebook_sources, python_text,
                       with_safe_fixes_only)
from .diagnostics import NAME, document_change, structure_edit, text_edit, to_diagnostics
from .scheduler import Scheduler
from .text import UTF16, Lines, noqa_codes_at, replacement, silence_edit

FIX_ALL = "source.fixAll.detachify"
NOTEBOOK_FIX_ALL = "notebook.source.fixAll.detachify"
QUICK_FIX = lsp.CodeActionKind.QuickFix.value
APPLY_AUTOFIX = "detachify.applyAutofix"
FIX_ALL_TITLE = f"{NAME}: Fix all auto-fixable problems"
# Long enough to fold a burst of keystrokes into one check, short next to the check itself.
DEBOUNCE_SECONDS = 0.05
PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")
TEXT, NOTEBOOK, MARKDOWN = "text", "notebook", "markdown"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientSettings:
    """What the editor may set (``initializationOptions`` or ``workspace/didChangeConfiguration``, either flat or
    under ``settings`` / ``detachify``); the rule selection and fix style act as command-line flags do."""

    overrides: Overrides = Overrides()
    fix_all: bool = True


def parse_client_settings(options: Any) -> Tuple[ClientSettings, List[str]]:
    """The settings, and a message for each one that is not understood (and ignored)."""
    problems: List[str] = []
    if isinstance(options, dict):
        for key in ("settings", NAME):
            if isinstance(options.get(key), dict):
                options = options[key]
    if not isinstance(options, dict):
        return ClientSettings(), ([] if options is None else [f"settings must be an object, not {options!r}"])
    values: Dict[str, Any] = {}
    for key, value in options.items():
        try:
            if key in ("select", "extendSelect", "ignore"):
                selectors = parse_selectors(value if isinstance(value, (list, str)) else [value], f"setting '{key}'")
                values[{"select": "select", "extendSelect": "extend_select", "ignore": "ignore"}[key]] = selectors
            elif key == "fixStyle" and value in FIX_STYLES:
                values["fix_style"] = value
            elif key == "fixAll" and isinstance(value, bool):
                values["fix_all"] = value
            else:
                problems.append(f"ignoring setting {key!r} = {value!r} (known: select, extendSelect, ignore, "
                                f"fixStyle ({' or '.join(FIX_STYLES)}), fixAll (true or false))")
        except ConfigError as exc:
            problems.append(f"ignoring {exc}")
    fix_all = values.pop("fix_all", True)
    return ClientSettings(Overrides(**values), fix_all), problems


@dataclass(frozen=True)
class Problem:
    """Why a document has no diagnostics: logged once per kind until the document checks cleanly again."""

    level: lsp.MessageType
    kind: str
    message: str


# ---------------------------------------------------------------------------------------------------------------
# The server


class DetachifyServer(LanguageServer):
    def __init__(self) -> None:
        # Python cells of any notebook type ("*" rather than no notebook filter: lsprotocol's own converter
        # cannot read the filter back without one, and Python clients use it).
        notebooks = lsp.NotebookDocumentSyncOptions(notebook_selector=[lsp.NotebookDocumentFilterWithNotebook(
            notebook="*", cells=[lsp.NotebookCellLanguage("python")])], save=True)
        super().__init__(NAME, __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
                         notebook_document_sync=notebooks)
        self.settings = ClientSettings()
        self.config = Configuration()
        self.folders: Tuple[str, ...] = ()
        self.encoding = UTF16
        self.open: Dict[str, str] = {}  # document key (a notebook's own URI) -> TEXT or NOTEBOOK
        self.published: Dict[str, List[lsp.Diagnostic]] = {}  # URI -> what the editor shows for it
        self.cells_published: Dict[str, Tuple[str, ...]] = {}  # notebook key -> the cell URIs diagnosed last
        self.problems: Dict[str, tuple] = {}  # document key -> the kind of problem logged, until it checks
        self.noqa_ranges: Dict[str, Tuple[Optional[int], List[Tuple[int, int]]]] = {}  # URI -> (version, ranges)
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.scheduler: Optional[Scheduler[Snapshot]] = None
        self.fixer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detachify-fix")
        self.checker = Checker()

    # --- talking to the client (event loop thread only) ---------------------------------------------------------

    def log(self, message: str, level: lsp.MessageType = lsp.MessageType.Info) -> None:
        self.window_log_message(lsp.LogMessageParams(type=level, message=f"{NAME}: {message}"))

    def soon(self, function, *args) -> None:
        """Run ``function`` on the event loop (from the worker threads, which must not write to the client)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(function, *args)

    def supports(self, capability: str, default: Any = None) -> Any:
        return get_capability(self.client_capabilities, capability, default)

    # --- documents -----------------------------------------------------------------------------------------------

    def path_of(self, uri: str, notebook: bool = False) -> str:
        """The file a document stands for: its path for a ``file:`` URI; for an unsaved one, a file of its name in
        the first workspace folder (so the folder's configuration applies, as ruff does)."""
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path is None:
            name = os.path.basename(unquote(urlparse(uri).path)) or "untitled"
            path = os.path.join(self.folders[0] if self.folders else _working_directory(), name)
        if notebook and not path.lower().endswith(".ipynb"):
            path += ".ipynb"
        return os.path.abspath(path)

    def text_document(self, uri: str):
        return self.workspace.text_documents.get(unquote(uri))

    def key_of(self, uri: str) -> str:
        """The document key for a URI: a cell's notebook, or the URI itself."""
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        return notebook.uri if notebook is not None else uri

    def snapshot(self, key: str) -> Optional[Snapshot]:
        kind = self.open.get(key)
        if kind in (TEXT, MARKDOWN):
            document = self.text_document(key)
            if document is None:
                return None
            return Snapshot(key, self.path_of(key), document.version, text=document.source, markdown=kind == MARKDOWN)
        if kind == NOTEBOOK:
            notebook = self.workspace.get_notebook_document(notebook_uri=key)
            if notebook is None:
                return None
            cells = []
            for cell in notebook.cells:
                document = self.text_document(cell.document)
                code = cell.kind == lsp.NotebookCellKind.Code and document is not None
                cells.append(Cell(cell.document, code, document.source if code else "",
                                  document.version if document is not None else None))
            return Snapshot(key, self.path_of(key, notebook=True), notebook.version, cells=tuple(cells),
                            notebook=True, language=_kernel_language(notebook.metadata))
        return None

    def check_later(self, key: str, delay: float = 0.0) -> None:
        try:
            snapshot = self.snapshot(key)
        except Exception:  # a bug of ours, or a client we do not understand: say so, serve the other documents
            self.log(f"cannot take {key} for checking (please report this):\n{traceback.format_exc()}",
                     lsp.MessageType.Error)
            return
        if snapshot is not None and self.scheduler is not None:
            self.scheduler.schedule(key, snapshot, delay)

    def check_all(self) -> None:
        for key in list(self.open):
            self.check_later(key)

    def close(self, key: str) -> None:
        self.open.pop(key, None)
        self.problems.pop(key, None)
        if self.scheduler is not None:
            self.scheduler.cancel(key)
        for uri in self.cells_published.pop(key, (key,)):
            self.publish(uri, None, [])  # ruff clears a closed document's diagnostics too
            self.published.pop(uri, None)
            self.noqa_ranges.pop(uri, None)

    def publish(self, uri: str, version: Optional[int], diagnostics: List[lsp.Diagnostic]) -> None:
        self.published[uri] = diagnostics
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version))

    def configuration_changed(self, why: str) -> None:
        self.config.invalidate()
        self.log(f"configuration reloaded ({why})")
        self.check_all()

    # --- checking (worker thread) --------------------------------------------------------------------------------

    def run_check(self, snapshot: Snapshot) -> None:
        try:
            diagnostics, problem = self.diagnose(snapshot)
        except Exception:  # a bug of ours: say so, keep the server and the other documents going
            diagnostics, problem = self.empty(snapshot), Problem(
                lsp.MessageType.Error, "internal", f"internal error while checking {snapshot.path} "
                                                   f"(please report this):\n{traceback.format_exc()}")
        self.soon(self.deliver, snapshot, diagnostics, problem)

    def diagnose(self, snapshot: Snapshot):
        """(diagnostics per URI, None or a Problem to log)."""
        try:
            settings, warnings = self.config.settings_for(snapshot.path)
            for warning in warnings:
                self.soon(self.log, f"warning: {warning}", lsp.MessageType.Warning)
            if self.config.excluded(snapshot.path):
                return self.empty(snapshot), Problem(lsp.MessageType.Info, "excluded",
                                                     f"{snapshot.path} is excluded by the configuration; not checked")
        except ConfigError as exc:
            return self.empty(snapshot), Problem(lsp.MessageType.Error, "configuration",
                                                 f"configuration error, not checking {snapshot.path}: {exc}")
        result = self.checker.check(snapshot.data(), snapshot.path, settings, python=snapshot.python)
        if result.error:
            # The kind (`cannot parse`, `cannot decode`...) and not the position, which moves with every keystroke.
            return self.empty(snapshot), Problem(lsp.MessageType.Warning, result.error.split(":", 1)[0],
                                                 f"cannot check {snapshot.path}: {result.error}")
        return to_diagnostics(snapshot, result.findings, self.encoding), None

    @staticmethod
    def empty(snapshot: Snapshot) -> Dict[str, List[lsp.Diagnostic]]:
        if snapshot.notebook:
            return {cell.uri: [] for cell in snapshot.cells}
        return {snapshot.key: []}

    def deliver(self, snapshot: Snapshot, diagnostics: Dict[str, List[lsp.Diagnostic]], problem) -> None:
        """On the event loop: publish, unless the document closed or a newer snapshot of it waits."""
        key = snapshot.key
        if key not in self.open or (self.scheduler is not None and self.scheduler.pending(key)):
            return
        if problem is None:
            self.problems.pop(key, None)
        elif self.problems.get(key) != (problem.level, problem.kind):  # once per problem, not once per keystroke
            self.problems[key] = (problem.level, problem.kind)
            self.log(problem.message, problem.level)
            if problem.kind == "configuration":  # the user must fix a file: say so where they look (as ruff does)
                self.window_show_message(lsp.ShowMessageParams(type=problem.level,
                                                               message=f"{NAME}: {problem.message}"))
        if snapshot.notebook:
            for uri in set(self.cells_published.get(key, ())) - set(diagnostics):
                self.publish(uri, None, [])  # a cell that left the notebook
                self.published.pop(uri, None)
            self.cells_published[key] = tuple(diagnostics)
        versions = {cell.uri: cell.version for cell in snapshot.cells} or {key: snapshot.version}
        for uri, found in diagnostics.items():
            self.publish(uri, versions.get(uri), found)

    # --- fixing (fixer thread) -----------------------------------------------------------------------------------

    def fix_all_changes(self, snapshot: Snapshot) -> List[dict]:
        """The edits that apply every safe fix, as `detachify fix` would, per document."""
        try:
            settings = with_safe_fixes_only(self.config.settings_for(snapshot.path)[0])
            if self.config.excluded(snapshot.path):
                return []
        except ConfigError as exc:
            self.soon(self.log, f"configuration error, not fixing {snapshot.path}: {exc}", lsp.MessageType.Error)
            return []
        result = self.checker.check(snapshot.data(), snapshot.path, settings, FIX, python=snapshot.python)
        if result.error:
            self.soon(self.log, f"cannot fix {snapshot.path}: {result.error}", lsp.MessageType.Warning)
            return []
        if result.new_data is None:
            return []
        if snapshot.notebook:
            pairs = [(cell, new) for cell, new in zip(snapshot.cells, notebook_sources(result.new_data)) if cell.code]
        else:
            data = result.new_data
            new = data.decode("utf-8", "surrogatepass") if snapshot.markdown else python_text(data)
            pairs = [(Cell(snapshot.key, True, snapshot.text, snapshot.version), new)]
        changes = []
        for cell, new in pairs:
            lines = Lines(cell.text)
            edit = replacement(lines.text, new)
            if edit is not None:
                changes.append(document_change(cell.uri, cell.version, [text_edit(lines, edit, self.encoding)]))
        return changes

    async def fix_all_edit(self, key: str) -> Optional[lsp.WorkspaceEdit]:
        snapshot = self.snapshot(key)
        if snapshot is None:
            return None
        changes = await asyncio.get_running_loop().run_in_executor(self.fixer, self.fix_all_changes, snapshot)
        return self.workspace_edit(changes)

    def workspace_edit(self, changes: Iterable[dict]) -> lsp.WorkspaceEdit:
        """Versioned ``documentChanges`` where the client takes them (a stale edit is then refused), else
        ``changes``."""
        changes = list(changes)
        if self.supports("workspace.workspace_edit.document_changes", False):
            return lsp.WorkspaceEdit(document_changes=[
                lsp.TextDocumentEdit(text_document=lsp.OptionalVersionedTextDocumentIdentifier(c["uri"], c["version"]),
                                     edits=[structure_edit(e) for e in c["edits"]]) for c in changes])
        merged: Dict[str, List[lsp.TextEdit]] = {}
        for c in changes:
            merged.setdefault(c["uri"], []).extend(structure_edit(e) for e in c["edits"])
        return lsp.WorkspaceEdit(changes=merged)

    def silence(self, where: dict, code: str) -> Optional[dict]:
        """The change that adds ``code`` to the `# noqa` of a line of a document at a version, if it is still at
        that version and the line is not silenced for it yet."""
        if not self.current(where):
            return None
        uri, version = where["uri"], where["version"]
        cached = self.noqa_ranges.get(uri)
        lines = Lines(self.text_document(uri).source)
        if cached is None or cached[0] != version:
            # A Markdown notebook's `# noqa` ranges are its program's (whose lines are the document's).
            source = program_of(lines.text.encode("utf-8", "surrogatepass")) if self.open.get(uri) == MARKDOWN else None
            cached = self.noqa_ranges[uri] = (version, noqa_line_ranges(source or lines.text))
        edit = silence_edit(lines, cached[1], where["line"], code)
        return None if edit is None else document_change(uri, version, [text_edit(lines, edit, self.encoding)])

    def current(self, change: dict) -> bool:
        """Whether an edit computed for a document version still applies: the document is at that version."""
        document = self.text_document(change["uri"])
        return document is not None and document.version == change["version"]


def _working_directory() -> str:
    try:
        return os.getcwd()
    except OSError:  # started in a directory that has since been removed
        return os.path.expanduser("~")


def _kernel_language(metadata: Any) -> Optional[str]:
    """The notebook's language, where the client passes Jupyter's metadata (a non-Python notebook is skipped,
    as by the CLI)."""
    if not isinstance(metadata, dict):
        return None
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(key)
        if isinstance(value, dict) and isinstance(value.get(field), str):
            return value[field]
    return None


# ---------------------------------------------------------------------------------------------------------------
# Handlers


def _wanted(kind: str, only: Optional[Sequence[Any]]) -> bool:
    """LSP's kind hierarchy: asking for `source` or `source.fixAll` also gets `source.fixAll.detachify`."""
    if not only:
        return True
    return any(kind == str(getattr(o, "value", o)) or kind.startswith(str(getattr(o, "value", o)) + ".")
               for o in only)


def _is_python(document: lsp.TextDocumentItem) -> bool:
    return document.language_id == "python" or document.uri.lower().endswith(PYTHON_SUFFIXES)


def _is_markdown(document: lsp.TextDocumentItem) -> bool:
    return document.language_id == "markdown" or document.uri.lower().endswith(".md")


def initialize(ls: DetachifyServer, params: lsp.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    ls.settings, problems = parse_client_settings(params.initialization_options)
    folders = [to_fs_path(f.uri) for f in params.workspace_folders or []]
    if not folders and (params.root_uri or params.root_path):
        folders = [to_fs_path(params.root_uri) if params.root_uri else params.root_path]
    ls.folders = tuple(os.path.abspath(f) for f in folders if f)
    ls.config = Configuration(ls.settings.overrides, ls.folders)
    encoding = ls.workspace.position_encoding  # what pygls agreed with the client
    ls.encoding = str(getattr(encoding, "value", encoding) or UTF16)
    ls.scheduler = Scheduler(ls.run_check,
                             lambda exc: ls.soon(ls.log, f"internal error: {exc!r}", lsp.MessageType.Error))
    ls.checker.start()
    for problem in problems:
        ls.log(problem, lsp.MessageType.Warning)


def initialized(ls: DetachifyServer, params: lsp.InitializedParams) -> None:
    if ls.supports("workspace.did_change_watched_files.dynamic_registration", False):
        watcher = lsp.DidChangeWatchedFilesRegistrationOptions(
            watchers=[lsp.FileSystemWatcher(glob_pattern=f"**/{CONFIG_FILE}")])
        registration = lsp.Registration(id="detachify-config", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                        register_options=watcher)
        future = ls.client_register_capability(lsp.RegistrationParams(registrations=[registration]))
        future.add_done_callback(lambda f: f.cancelled() or f.exception() is None or ls.log(
            f"could not watch {CONFIG_FILE} files ({f.exception()}); they are re-read when they change anyway",
            lsp.MessageType.Warning))
    ls.log(f"server {__version__} ready (positions in {ls.encoding})")


def did_open(ls: DetachifyServer, params: lsp.DidOpenTextDocumentParams) -> None:
    document = params.text_document
    if ls.workspace.get_notebook_document(cell_uri=document.uri) is not None:
        return  # a notebook's cell: checked with its notebook
    if _is_markdown(document):
        ls.open[document.uri] = MARKDOWN
    elif _is_python(document):
        ls.open[document.uri] = TEXT
    else:
        return  # a notebook's JSON too: notebooks are checked when opened as notebooks (or as JupyterLab's Python)
    ls.check_later(document.uri)


def did_change(ls: DetachifyServer, params: lsp.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    if uri in ls.open:
        ls.check_later(uri, DEBOUNCE_SECONDS)


def did_save(ls: DetachifyServer, params: lsp.DidSaveTextDocumentParams) -> None:
    uri = params.text_document.uri
    if os.path.basename(unquote(urlparse(uri).path)) == CONFIG_FILE:
        ls.configuration_changed(f"{CONFIG_FILE} saved")
    elif uri in ls.open:
        ls.check_later(uri)


def did_close(ls: DetachifyServer, params: lsp.DidCloseTextDocumentParams) -> None:
    if params.text_document.uri in ls.open:
        ls.close(params.text_document.uri)


def did_open_notebook(ls: DetachifyServer, params: lsp.DidOpenNotebookDocumentParams) -> None:
    ls.open[params.notebook_document.uri] = NOTEBOOK
    ls.check_later(params.notebook_document.uri)


def did_change_notebook(ls: DetachifyServer, params: lsp.DidChangeNotebookDocumentParams) -> None:
    if params.notebook_document.uri in ls.open:
        ls.check_later(params.notebook_document.uri, DEBOUNCE_SECONDS)


def did_save_notebook(ls: DetachifyServer, params: lsp.DidSaveNotebookDocumentParams) -> None:
    if params.notebook_document.uri in ls.open:
        ls.check_later(params.notebook_document.uri)


def did_close_notebook(ls: DetachifyServer, params: lsp.DidCloseNotebookDocumentParams) -> None:
    ls.close(params.notebook_document.uri)


def did_change_watched_files(ls: DetachifyServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    names = {os.path.basename(unquote(urlparse(change.uri).path)) for change in params.changes}
    if CONFIG_FILE in names:
        ls.configuration_changed(f"{CONFIG_FILE} changed")


def did_change_workspace_folders(ls: DetachifyServer, params: lsp.DidChangeWorkspaceFoldersParams) -> None:
    removed = {os.path.abspath(to_fs_path(f.uri) or "") for f in params.event.removed}
    added = tuple(os.path.abspath(path) for path in (to_fs_path(f.uri) for f in params.event.added) if path)
    ls.folders = tuple(f for f in ls.folders if f not in removed) + added
    ls.config = Configuration(ls.settings.overrides, ls.folders)
    ls.check_all()


def did_change_configuration(ls: DetachifyServer, params: lsp.DidChangeConfigurationParams) -> None:
    if params.settings is None:
        return
    ls.settings, problems = parse_client_settings(params.settings)
    for problem in problems:
        ls.log(problem, lsp.MessageType.Warning)
    ls.config = Configuration(ls.settings.overrides, ls.folders)
    ls.configuration_changed("editor settings changed")


async def code_action(ls: DetachifyServer, params: lsp.CodeActionParams) -> List[lsp.CodeAction]:
    only = params.context.only
    actions: List[lsp.CodeAction] = []
    if _wanted(QUICK_FIX, only):
        ours = [d for d in params.context.diagnostics if d.source == NAME and isinstance(d.data, dict)]
        for diagnostic in ours:
            fix = diagnostic.data.get("fix")
            if isinstance(fix, dict) and all(ls.current(change) for change in fix["changes"]):
                actions.append(lsp.CodeAction(
                    title=_fix_title(diagnostic.data["code"], fix), kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic], edit=ls.workspace_edit(fix["changes"]), is_preferred=fix["safe"]))
        for diagnostic in ours:
            where = diagnostic.data.get("noqa")
            silence = ls.silence(where, diagnostic.data["code"]) if isinstance(where, dict) else None
            if silence is not None:
                actions.append(lsp.CodeAction(
                    title=f"{NAME} ({diagnostic.data['code']}): Disable for this line",
                    kind=lsp.CodeActionKind.QuickFix, diagnostics=[diagnostic], edit=ls.workspace_edit([silence])))
    key = ls.key_of(params.text_document.uri)
    kind = FIX_ALL if _wanted(FIX_ALL, only) else (
        NOTEBOOK_FIX_ALL if ls.open.get(key) == NOTEBOOK and _wanted(NOTEBOOK_FIX_ALL, only) else None)
    if ls.settings.fix_all and kind is not None and key in ls.open:
        action = lsp.CodeAction(title=FIX_ALL_TITLE, kind=kind)
        if "edit" in (ls.supports("text_document.code_action.resolve_support.properties", []) or []):
            action.data = {"key": key}  # the editor asks for the edit when it applies the action
        else:
            action.edit = await ls.fix_all_edit(key)
        actions.append(action)
    return actions


def _fix_title(code: str, fix: dict) -> str:
    title = f"{NAME} ({code}): {fix['title']}"
    return title if fix["safe"] else f"{title} (unsafe: {fix['reason'] or 'may change what the program computes'})"


async def resolve_code_action(ls: DetachifyServer, action: lsp.CodeAction) -> lsp.CodeAction:
    if isinstance(action.data, dict) and action.data.get("key") in ls.open and action.edit is None:
        action.edit = await ls.fix_all_edit(action.data["key"])
    return action


async def apply_autofix(ls: DetachifyServer, *arguments: Any) -> None:
    """``detachify.applyAutofix`` with ``{"uri": ...}`` (ruff's ``ruff.applyAutofix``): fix-all through
    ``workspace/applyEdit``, for editors that run commands rather than source actions."""
    for argument in arguments:
        uri = argument.get("uri") if isinstance(argument, dict) else argument
        key = ls.key_of(uri) if isinstance(uri, str) else None
        if key not in ls.open:
            ls.log(f"{APPLY_AUTOFIX}: {uri!r} is not an open document", lsp.MessageType.Warning)
            continue
        edit = await ls.fix_all_edit(key)
        if edit is not None and (edit.document_changes or edit.changes):
            result = await ls.workspace_apply_edit_async(lsp.ApplyWorkspaceEditParams(edit=edit, label=FIX_ALL_TITLE))
            if not result.applied:
                ls.log(f"the editor did not apply the fixes: {result.failure_reason or 'no reason given'}",
                       lsp.MessageType.Warning)


def hover(ls: DetachifyServer, params: lsp.HoverParams) -> Optional[lsp.Hover]:
    uri, position = params.text_document.uri, params.position
    document = ls.text_document(uri)
    if document is None:
        return None
    lines = Lines(document.source)
    line, column = lines.from_client(position.line, position.character, ls.encoding)
    codes = noqa_codes_at(lines.line(line), column)
    if not codes:
        at = (position.line, position.character)
        codes = [str(d.code) for d in ls.published.get(uri, [])
                 if (d.range.start.line, d.range.start.character) <= at <= (d.range.end.line, d.range.end.character)]
    codes = [code for code in dict.fromkeys(codes) if code in RULES]
    if not codes:
        return None
    formats = ls.supports("text_document.hover.content_format", []) or []
    kind = lsp.MarkupKind.Markdown if not formats or lsp.MarkupKind.Markdown in formats else lsp.MarkupKind.PlainText
    text = "\n\n---\n\n".join(RULES[code].documentation().rstrip("\n") for code in codes)
    return lsp.Hover(contents=lsp.MarkupContent(kind=kind, value=text))


def shutdown(ls: DetachifyServer, params: None) -> None:
    if ls.scheduler is not None:
        ls.scheduler.stop()
    ls.fixer.shutdown(wait=False, cancel_futures=True)
    ls.checker.close()


def build_server() -> DetachifyServer:
    server = DetachifyServer()
    code_actions = lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, FIX_ALL, NOTEBOOK_FIX_ALL], resolve_provider=True)
    features = [
        (lsp.INITIALIZE, initialize, None),
        (lsp.INITIALIZED, initialized, None),
        (lsp.SHUTDOWN, shutdown, None),
        (lsp.TEXT_DOCUMENT_DID_OPEN, did_open, None),
        (lsp.TEXT_DOCUMENT_DID_CHANGE, did_change, None),
        (lsp.TEXT_DOCUMENT_DID_SAVE, did_save, lsp.SaveOptions(include_text=False)),
        (lsp.TEXT_DOCUMENT_DID_CLOSE, did_close, None),
        (lsp.NOTEBOOK_DOCUMENT_DID_OPEN, did_open_notebook, None),
        (lsp.NOTEBOOK_DOCUMENT_DID_CHANGE, did_change_notebook, None),
        (lsp.NOTEBOOK_DOCUMENT_DID_SAVE, did_save_notebook, None),
        (lsp.NOTEBOOK_DOCUMENT_DID_CLOSE, did_close_notebook, None),
        (lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, did_change_watched_files, None),
        (lsp.WORKSPACE_DID_CHANGE_CONFIGURATION, did_change_configuration, None),
        (lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS, did_change_workspace_folders, None),
        (lsp.TEXT_DOCUMENT_CODE_ACTION, code_action, code_actions),
        (lsp.CODE_ACTION_RESOLVE, resolve_code_action, None),
        (lsp.TEXT_DOCUMENT_HOVER, hover, None),
    ]
    for method, handler, options in features:
        server.feature(method, options)(handler)
    server.command(APPLY_AUTOFIX)(apply_autofix)
    return server
