"""A small editor for the language-server tests: a real LSP client (pytest-lsp's, over the server's stdio) that
keeps the documents it opened, applies workspace edits the way an editor does (then tells the server with
``didChange``) and records what the server publishes.

Edits are applied here with this module's own code-unit arithmetic (UTF-16, or what the client negotiated), not
the server's, so a wrong position in the server shows up as wrong text.
"""
from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

SERVER = [sys.executable, "-m", "detachify", "server"]
TIMEOUT = 60.0  # generous: CI machines are shared
_BREAK = re.compile(r"\r\n|\r|\n")


def vscode_capabilities(notebooks: bool = True) -> lsp.ClientCapabilities:
    """VS Code's capabilities (as pytest-lsp records them), with LSP 3.17 notebook sync, which VS Code has had
    since 1.67, and dynamic file watching."""
    capabilities = client_capabilities("visual-studio-code")
    if notebooks:
        capabilities.notebook_document = lsp.NotebookDocumentClientCapabilities(
            synchronization=lsp.NotebookDocumentSyncClientCapabilities(dynamic_registration=False,
                                                                       execution_summary_support=True))
    return capabilities


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=default_converter)
    features = dict(DEFAULT_CLIENT_FEATURES)
    features.pop(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    register_lsp_features(client, features)
    client.published = []  # every PublishDiagnosticsParams, in order
    client.registrations = []
    client.editor = None

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def publish(params: lsp.PublishDiagnosticsParams) -> None:
        client.published.append(params)
        client.diagnostics[params.uri] = params.diagnostics

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(params: lsp.RegistrationParams) -> None:
        client.registrations.extend(params.registrations)

    @client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        client.editor.apply(params.edit)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    return client


# ---------------------------------------------------------------------------------------------------------------
# Text


def _units(char: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(char.encode("utf-8"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(char) > 0xFFFF else 1


def offset(text: str, position: lsp.Position, encoding: str = "utf-16") -> int:
    """The string index of an LSP position (in ``encoding`` code units) in ``text``."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    start = starts[position.line] if position.line < len(starts) else len(text)
    end = starts[position.line + 1] if position.line + 1 < len(starts) else len(text)
    units = 0
    for index in range(start, end):
        if units >= position.character:
            return index
        units += _units(text[index], encoding)
    return end


def character_column(text: str, position: lsp.Position, encoding: str = "utf-16") -> int:
    """The 0-based character column (what `detachify check` counts) of an LSP position."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    return offset(text, position, encoding) - starts[position.line]


def apply_text_edits(text: str, edits: Sequence[lsp.TextEdit], encoding: str = "utf-16") -> str:
    spans = sorted(((offset(text, e.range.start, encoding), offset(text, e.range.end, encoding), i, e.new_text)
                    for i, e in enumerate(edits)), reverse=True)
    for start, end, _, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


# ---------------------------------------------------------------------------------------------------------------
# The editor


class Editor:
    def __init__(self, client: LanguageClient, root: Path, encoding: str = "utf-16"):
        self.client = client
        self.root = root
        self.encoding = encoding
        self.texts: Dict[str, str] = {}
        self.versions: Dict[str, int] = {}
        self.notebooks: Dict[str, List[str]] = {}  # notebook URI -> its cell URIs
        self.notebook_versions: Dict[str, int] = {}
        client.editor = self

    # --- text documents

    def open(self, name: str, text: str, write: bool = True, language: str = "python") -> str:
        path = self.root / name
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
        uri = path.as_uri()
        self.texts[uri], self.versions[uri] = text, 1
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, language, 1, text)))
        return uri

    def change(self, uri: str, text: str) -> int:
        """Replace the whole text (what most editors send for a paste or a reload)."""
        self.versions[uri] += 1
        self.texts[uri] = text
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(self.versions[uri], uri),
            [lsp.TextDocumentContentChangeWholeDocument(text)]))
        return self.versions[uri]

    def type(self, uri: str, start: lsp.Position, end: lsp.Position, new_text: str) -> int:
        """An incremental change, as an editor sends for a keystroke."""
        edit = lsp.TextEdit(lsp.Range(start, end), new_text)
        self.versions[uri] += 1
        self.texts[uri] = apply_text_edits(self.texts[uri], [edit], self.encoding)
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(self.versions[uri], uri),
            [lsp.TextDocumentContentChangePartial(range=edit.range, text=new_text)]))
        return self.versions[uri]

    def save(self, uri: str) -> None:
        self.client.text_document_did_save(lsp.DidSaveTextDocumentParams(lsp.TextDocumentIdentifier(uri)))

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri)))

    # --- notebooks

    def open_notebook(self, name: str, cells: Sequence[Tuple[str, str]]) -> Tuple[str, List[str]]:
        """``cells``: (kind, source) with kind "code" or "markdown"; returns the notebook and cell URIs."""
        uri = (self.root / name).as_uri()
        cell_uris = [f"vscode-notebook-cell:{(self.root / name).as_posix()}#cell{i}" for i in range(len(cells))]
        nb_cells = [lsp.NotebookCell(lsp.NotebookCellKind.Code if kind == "code" else lsp.NotebookCellKind.Markup,
                                     cell_uri) for (kind, _), cell_uri in zip(cells, cell_uris)]
        items = [lsp.TextDocumentItem(cell_uri, "python" if kind == "code" else "markdown", 1, source)
                 for (kind, source), cell_uri in zip(cells, cell_uris)]
        for (_, source), cell_uri in zip(cells, cell_uris):
            self.texts[cell_uri], self.versions[cell_uri] = source, 1
        self.notebooks[uri], self.notebook_versions[uri] = cell_uris, 1
        self.client.notebook_document_did_open(lsp.DidOpenNotebookDocumentParams(
            lsp.NotebookDocument(uri, "jupyter-notebook", 1, nb_cells), items))
        return uri, cell_uris

    def change_cell(self, cell_uri: str, text: str) -> int:
        notebook = next(nb for nb, cells in self.notebooks.items() if cell_uri in cells)
        self.notebook_versions[notebook] += 1
        self.versions[cell_uri] += 1
        self.texts[cell_uri] = text
        change = lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(text_content=[
            lsp.NotebookDocumentCellContentChanges(
                lsp.VersionedTextDocumentIdentifier(self.versions[cell_uri], cell_uri),
                [lsp.TextDocumentContentChangeWholeDocument(text)])]))
        self.client.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
            lsp.VersionedNotebookDocumentIdentifier(self.notebook_versions[notebook], notebook), change))
        return self.versions[cell_uri]

    def insert_cell(self, notebook: str, index: int, source: str) -> str:
        """A new code cell at ``index`` (a structure change, as when the user adds a cell)."""
        cell_uri = f"{notebook.replace('file://', 'vscode-notebook-cell:')}#new{len(self.texts)}"
        self.texts[cell_uri], self.versions[cell_uri] = source, 1
        self.notebooks[notebook].insert(index, cell_uri)
        self.notebook_versions[notebook] += 1
        structure = lsp.NotebookDocumentCellChangeStructure(
            array=lsp.NotebookCellArrayChange(index, 0, [lsp.NotebookCell(lsp.NotebookCellKind.Code, cell_uri)]),
            did_open=[lsp.TextDocumentItem(cell_uri, "python", 1, source)])
        self.client.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
            lsp.VersionedNotebookDocumentIdentifier(self.notebook_versions[notebook], notebook),
            lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(structure=structure))))
        return cell_uri

    def remove_cell(self, notebook: str, cell_uri: str) -> None:
        index = self.notebooks[notebook].index(cell_uri)
        del self.notebooks[notebook][index]
        self.notebook_versions[notebook] += 1
        structure = lsp.NotebookDocumentCellChangeStructure(
            array=lsp.NotebookCellArrayChange(index, 1, []), did_close=[lsp.TextDocumentIdentifier(cell_uri)])
        self.client.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
            lsp.VersionedNotebookDocumentIdentifier(self.notebook_versions[notebook], notebook),
            lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(structure=structure))))

    def close_notebook(self, uri: str) -> None:
        self.client.notebook_document_did_close(lsp.DidCloseNotebookDocumentParams(
            lsp.NotebookDocumentIdentifier(uri), [lsp.TextDocumentIdentifier(c) for c in self.notebooks[uri]]))

    # --- what an editor does with a workspace edit

    def apply(self, edit: lsp.WorkspaceEdit) -> List[str]:
        """Apply it (refusing a stale version, as VS Code does) and send each changed document's didChange."""
        per_uri: Dict[str, List[lsp.TextEdit]] = {}
        for change in edit.document_changes or ():
            if change.text_document.version is not None:
                assert change.text_document.version == self.versions[change.text_document.uri], "stale edit"
            per_uri.setdefault(change.text_document.uri, []).extend(change.edits)
        for uri, edits in (edit.changes or {}).items():
            per_uri.setdefault(uri, []).extend(edits)
        for uri, edits in per_uri.items():
            new_text = apply_text_edits(self.texts[uri], edits, self.encoding)
            notebook = next((nb for nb, cells in self.notebooks.items() if uri in cells), None)
            if notebook is None:
                self.change(uri, new_text)
            else:
                self.change_cell(uri, new_text)
        return list(per_uri)

    # --- waiting for the server

    async def diagnostics(self, uri: str, version: Optional[int] = None, after: int = 0,
                          timeout: float = TIMEOUT) -> Sequence[lsp.Diagnostic]:
        """The diagnostics the server publishes for ``uri`` at ``version`` (the document's current one by
        default), published after the ``after``-th notification."""
        version = self.versions[uri] if version is None else version
        deadline = time.monotonic() + timeout
        while True:
            for params in reversed(self.client.published[after:]):
                if params.uri == uri and params.version == version:
                    return list(params.diagnostics)
            if time.monotonic() > deadline:
                raise AssertionError(f"no diagnostics for {uri} version {version} within {timeout} s; "
                                     f"published: {[(p.uri, p.version) for p in self.client.published[-10:]]}; "
                                     f"log: {[m.message[:200] for m in self.client.log_messages[-5:]]}")
            await asyncio.sleep(0.01)

    async def log_message(self, needle: str, after: int = 0, timeout: float = TIMEOUT) -> lsp.LogMessageParams:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.client.log_messages[after:]:
                if needle in message.message:
                    return message
            if time.monotonic() > deadline:
                raise AssertionError(f"no log message with {needle!r}; got "
                                     f"{[m.message[:200] for m in self.client.log_messages]}")
            await asyncio.sleep(0.01)

    async def code_actions(self, uri: str, diagnostics: Sequence[lsp.Diagnostic] = (),
                           only: Optional[List[str]] = None) -> List[lsp.CodeAction]:
        whole = lsp.Range(lsp.Position(0, 0), lsp.Position(len(self.texts[uri].splitlines()) + 1, 0))
        target = diagnostics[0].range if diagnostics else whole
        actions = await self.client.text_document_code_action_async(lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(uri), target, lsp.CodeActionContext(diagnostics=list(diagnostics), only=only)))
        return list(actions or [])
