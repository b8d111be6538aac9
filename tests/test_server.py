"""`detachify server`, run as a subprocess over stdio and driven by a real LSP client (pytest-lsp).

One server serves the whole module (it starts in about a second; each test opens its own documents). The few
tests that need a server of their own (other client capabilities, the exit protocol) start one.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from detachify import check_source, fix_source
from detachify.notebook import check_notebook
from lsp_support import SERVER, Editor, character_column, make_client, vscode_capabilities

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
BAD = textwrap.dedent("""\
    import torch
    model = torch.nn.Linear(4, 2)
    out = model(torch.randn(3, 4))
    print(out.numpy())
""")
CLEAN = "import torch\nprint(torch.randn(3).numpy())\n"
LIST_OF_LOSSES = textwrap.dedent("""\
    import matplotlib.pyplot as plt
    import torch
    model = torch.nn.Linear(4, 1)
    losses = []
    for step in range(3):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        losses.append(loss)
    plt.plot(losses)
""")
UNSAFE = (FIXTURES / "tnp001" / "from_numpy_roundtrip_unsafe.py").read_text()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("workspace")


def initialize_params(root: Path, capabilities=None, options=None) -> lsp.InitializeParams:
    return lsp.InitializeParams(capabilities=capabilities or vscode_capabilities(), root_uri=root.as_uri(),
                                workspace_folders=[lsp.WorkspaceFolder(root.as_uri(), root.name)],
                                initialization_options=options)


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER, client_factory=make_client))
async def client(lsp_client: LanguageClient, workspace: Path):
    lsp_client.init_result = await lsp_client.initialize_session(initialize_params(workspace))
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def editor(client: LanguageClient, workspace: Path) -> Editor:
    return Editor(client, workspace)


def found(editor: Editor, uri: str, diagnostics):
    """(code, 1-based line, 1-based character column): what `detachify check` prints."""
    text = editor.texts[uri]
    return sorted((d.code, d.range.start.line + 1, character_column(text, d.range.start, editor.encoding) + 1)
                  for d in diagnostics)


def expected(source: str, name: str = "x.py"):
    return sorted((f.code, f.line, f.column + 1) for f in check_source(source, name))


def by_title(actions, prefix):
    matches = [a for a in actions if a.title.startswith(prefix)]
    assert len(matches) == 1, [a.title for a in actions]
    return matches[0]


# ---------------------------------------------------------------------------------------------------------------
# Starting up


async def test_capabilities(client):
    for _ in range(500):  # the registration request follows `initialized`
        if client.registrations:
            break
        await asyncio.sleep(0.01)
    capabilities = client.init_result.capabilities
    assert client.init_result.server_info.name == "detachify"
    assert capabilities.position_encoding == lsp.PositionEncodingKind.Utf16
    sync = capabilities.text_document_sync
    assert sync.change == lsp.TextDocumentSyncKind.Incremental and sync.open_close and sync.save
    assert set(capabilities.code_action_provider.code_action_kinds) == {
        "quickfix", "source.fixAll.detachify", "notebook.source.fixAll.detachify"}
    assert capabilities.code_action_provider.resolve_provider
    assert capabilities.hover_provider
    assert list(capabilities.execute_command_provider.commands) == ["detachify.applyAutofix"]
    [selector] = capabilities.notebook_document_sync.notebook_selector
    assert [cell.language for cell in selector.cells] == ["python"]
    # It asked the editor to report pyproject.toml changes.
    watchers = [w for r in client.registrations if r.method == lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES
                for w in r.register_options["watchers"]]
    assert [w["globPattern"] for w in watchers] == ["**/pyproject.toml"]


# ---------------------------------------------------------------------------------------------------------------
# Diagnostics


async def test_open_reports_what_check_reports(editor):
    uri = editor.open("open/bad.py", BAD)
    diagnostics = await editor.diagnostics(uri)
    assert found(editor, uri, diagnostics) == expected(BAD) == [("TNP001", 4, 10)]
    [d] = diagnostics
    assert (d.source, d.severity) == ("detachify", lsp.DiagnosticSeverity.Error)
    assert d.message == check_source(BAD)[0].message
    # The range covers `.numpy`, as the engine's end position says.
    assert (d.range.start.character, d.range.end.character) == (9, 15)


async def test_positions_are_utf16_after_non_ascii_text(editor):
    # '损失' and '标签' are one UTF-16 unit per character, '😀' two: the column differs from the character count.
    line = "print('损失 😀', out.numpy())  # 标签"
    source = BAD.replace("print(out.numpy())", line)
    uri = editor.open("utf16/bad.py", source)
    [d] = await editor.diagnostics(uri)
    [finding] = check_source(source)
    assert finding.column == line.index(".numpy") == 17  # characters
    assert d.range.start == lsp.Position(3, 18)  # UTF-16 code units: the emoji is a surrogate pair
    assert found(editor, uri, [d]) == expected(source)
    # Typing before the finding (positions in UTF-16 units) moves it as the editor expects.
    version = editor.type(uri, lsp.Position(3, 6), lsp.Position(3, 6), "'🎉', ")
    [d] = await editor.diagnostics(uri, version)
    assert d.range.start == lsp.Position(3, 18 + 6)  # five characters, six units
    assert found(editor, uri, [d]) == expected(editor.texts[uri])
    # The quick fix and the noqa comment land where they belong.
    actions = await editor.code_actions(uri, [d])
    editor.apply(by_title(actions, "detachify (TNP001): Insert").edit)
    assert editor.texts[uri] == fix_source(source.replace("print(", "print('🎉', ", 1))
    assert await editor.diagnostics(uri) == []


async def test_change_is_debounced_and_only_the_last_version_is_published(editor):
    uri = editor.open("debounce/a.py", CLEAN)
    assert await editor.diagnostics(uri) == []
    before = len(editor.client.published)
    lines = BAD.splitlines(keepends=True)
    for count in range(1, len(lines) + 1):  # a burst of edits, as fast as a client sends them
        last = editor.change(uri, "".join(lines[:count]))
    diagnostics = await editor.diagnostics(uri, last, after=before)
    assert found(editor, uri, diagnostics) == expected(BAD)
    await asyncio.sleep(0.3)  # anything still in flight
    versions = [p.version for p in editor.client.published[before:] if p.uri == uri]
    assert versions == [last], versions  # nothing for the versions typed over


async def test_save_checks_again(editor):
    uri = editor.open("save/a.py", BAD)
    await editor.diagnostics(uri)
    before = len(editor.client.published)
    editor.save(uri)
    assert found(editor, uri, await editor.diagnostics(uri, after=before)) == expected(BAD)


async def test_close_clears_the_diagnostics(editor):
    uri = editor.open("close/a.py", BAD)
    assert await editor.diagnostics(uri)
    before = len(editor.client.published)
    editor.close(uri)
    await asyncio.sleep(0.2)
    assert [(p.uri, list(p.diagnostics)) for p in editor.client.published[before:]] == [(uri, [])]


async def test_the_event_loop_answers_while_a_check_runs(editor):
    # A check of a long file runs on the worker; a hover on another document is answered meanwhile.
    small = editor.open("busy/small.py", BAD)
    [d] = await editor.diagnostics(small)
    big_source = "".join(BAD.replace("out", f"out{i}") for i in range(150))
    before = len(editor.client.published)
    big = editor.open("busy/big.py", big_source)
    hover = await editor.client.text_document_hover_async(
        lsp.HoverParams(lsp.TextDocumentIdentifier(small), d.range.start))
    assert hover is not None
    assert not [p for p in editor.client.published[before:] if p.uri == big], "the hover waited for the check"
    assert len(await editor.diagnostics(big, timeout=120)) == 150


async def test_line_breaks_and_coding_cookies_count_as_for_the_cli(editor):
    # CRLF, a lone CR and a form feed (a line break to str.splitlines, not to Python or LSP) before the finding;
    # a latin-1 cookie: the buffer is checked as the bytes its file would hold.
    source = "# -*- coding: latin-1 -*-\r\nimport torch  # é\r\n\x0c\rmodel = torch.nn.Linear(4, 2)\r\n" \
             "out = model(torch.randn(3, 4))\r\nprint('café', out.numpy())\r\n"
    uri = editor.open("breaks/a.py", source, write=False)
    diagnostics = await editor.diagnostics(uri)
    assert found(editor, uri, diagnostics) == expected(source) == [("TNP001", 6, 18)]


async def test_jupyterlab_virtual_document_is_python(editor):
    # jupyterlab-lsp sends a notebook as one Python document named like the notebook, magics rewritten.
    cells = [source for kind, source in NOTEBOOK_CELLS if kind == "code"]
    text = "\n\n".join(c.replace("%matplotlib inline", 'get_ipython().run_line_magic("matplotlib", "inline")')
                       for c in cells) + "\n"
    uri = editor.open(".virtual_documents/nb/train.ipynb", text, write=False)
    diagnostics = await editor.diagnostics(uri)
    assert found(editor, uri, diagnostics) == expected(text) and len(diagnostics) == 2


# ---------------------------------------------------------------------------------------------------------------
# Code actions


async def test_quick_fix_applied_republishes(editor):
    uri = editor.open("quickfix/a.py", BAD)
    diagnostics = await editor.diagnostics(uri)
    actions = await editor.code_actions(uri, diagnostics, only=["quickfix"])
    assert [a.title for a in actions] == ["detachify (TNP001): Insert `.detach().cpu()` before `.numpy()`",
                                          "detachify (TNP001): Disable for this line"]
    fix = actions[0]
    assert fix.kind == lsp.CodeActionKind.QuickFix and fix.is_preferred and list(fix.diagnostics) == diagnostics
    [change] = fix.edit.document_changes
    assert change.text_document.version == editor.versions[uri]  # a stale edit is refused by the editor
    before = len(editor.client.published)
    editor.apply(fix.edit)
    assert editor.texts[uri] == fix_source(BAD)
    assert await editor.diagnostics(uri, after=before) == []


async def test_no_quick_fix_for_a_version_the_editor_moved_past(editor):
    uri = editor.open("stale/a.py", BAD)
    diagnostics = await editor.diagnostics(uri)
    editor.change(uri, BAD + "\n")
    assert [a.kind for a in await editor.code_actions(uri, diagnostics, only=["quickfix"])] == []


async def test_unsafe_fix_is_offered_alone_and_labelled(editor):
    uri = editor.open("unsafe/roundtrip.py", UNSAFE)
    diagnostics = await editor.diagnostics(uri)
    assert found(editor, uri, diagnostics) == expected(UNSAFE)
    unsafe = [d for d in diagnostics if d.data.get("fix") and not d.data["fix"]["safe"]]
    assert unsafe, "the fixture has unsafe fixes"
    actions = await editor.code_actions(uri, unsafe[:1], only=["quickfix"])
    fix = by_title(actions, "detachify (TNP001): Insert")
    assert "(unsafe: the converted value flows back into torch" in fix.title and not fix.is_preferred
    # Fix-all leaves it alone: it applies what `detachify fix` applies without --unsafe-fixes.
    [fix_all] = await editor.code_actions(uri, only=["source.fixAll"])
    resolved = await editor.client.code_action_resolve_async(fix_all)
    editor.apply(resolved.edit)
    assert editor.texts[uri] == fix_source(UNSAFE) and "torch.from_numpy(layer.weight.numpy()" in editor.texts[uri]


async def test_fix_all_source_action_resolves_and_republishes(editor):
    source = LIST_OF_LOSSES + BAD.split("\n", 1)[1]
    uri = editor.open("fixall/a.py", source)
    diagnostics = await editor.diagnostics(uri)
    assert sorted(d.code for d in diagnostics) == ["TNP001", "TNP003"]
    actions = await editor.code_actions(uri, only=["source.fixAll"])
    [action] = actions
    assert (action.title, action.kind, action.edit) == (
        "detachify: Fix all auto-fixable problems", "source.fixAll.detachify", None)  # resolved on demand
    # VS Code asks with `source` too, for "Source Action..."; quick fixes are not source actions.
    assert [a.kind for a in await editor.code_actions(uri, diagnostics, only=["source"])] == [action.kind]
    resolved = await editor.client.code_action_resolve_async(action)
    before = len(editor.client.published)
    editor.apply(resolved.edit)
    assert editor.texts[uri] == fix_source(source)
    assert found(editor, uri, await editor.diagnostics(uri, after=before)) == expected(editor.texts[uri]) == []


async def test_apply_autofix_command_edits_through_the_editor(editor):
    uri = editor.open("command/a.py", LIST_OF_LOSSES)
    await editor.diagnostics(uri)
    before = len(editor.client.published)
    await editor.client.workspace_execute_command_async(
        lsp.ExecuteCommandParams("detachify.applyAutofix", [{"uri": uri, "version": editor.versions[uri]}]))
    assert editor.versions[uri] == 2  # the server's workspace/applyEdit went through the editor
    assert editor.texts[uri] == fix_source(LIST_OF_LOSSES)
    assert await editor.diagnostics(uri, after=before) == []


@pytest.mark.parametrize("name, line, silenced", [
    ("plain", "print(out.numpy())", "print(out.numpy())  # noqa: TNP001"),
    ("blanks", "print(out.numpy())   ", "print(out.numpy())  # noqa: TNP001"),  # trailing blanks go, as in ruff
    ("comment", "print(out.numpy())  # see notes", "print(out.numpy())  # see notes  # noqa: TNP001"),
    ("list", "print(out.numpy())  # noqa: E501", "print(out.numpy())  # noqa: E501, TNP001"),
    ("tight", "print(out.numpy())  # noqa:E501,W291 (long)", "print(out.numpy())  # noqa:E501,W291, TNP001 (long)"),
    # A backslash-continued line shares one comment, which must go after the last line, not inside it.
    ("continued", "print(out.numpy() + \\\n      1)", "print(out.numpy() + \\\n      1)  # noqa: TNP001"),
])
async def test_silence_this_line(editor, name, line, silenced):
    source = BAD.replace("print(out.numpy())", line)
    uri = editor.open(f"noqa/{name}.py", source)
    [d] = await editor.diagnostics(uri)
    actions = await editor.code_actions(uri, [d], only=["quickfix"])
    action = by_title(actions, "detachify (TNP001): Disable for this line")
    before = len(editor.client.published)
    editor.apply(action.edit)
    assert editor.texts[uri] == BAD.replace("print(out.numpy())", silenced)
    assert await editor.diagnostics(uri, after=before) == []
    assert check_source(editor.texts[uri]) == []


async def test_hover_explains_the_rule(editor):
    uri = editor.open("hover/a.py", BAD.replace("print(out.numpy())", "print(out.numpy())  # noqa: TNP003"))
    [d] = await editor.diagnostics(uri)
    on_finding = await editor.client.text_document_hover_async(
        lsp.HoverParams(lsp.TextDocumentIdentifier(uri), d.range.start))
    assert on_finding.contents.kind == lsp.MarkupKind.Markdown
    assert on_finding.contents.value.startswith("# numpy-on-grad-tensor (TNP001)")
    code_at = editor.texts[uri].splitlines()[3].index("TNP003") + 2
    on_comment = await editor.client.text_document_hover_async(
        lsp.HoverParams(lsp.TextDocumentIdentifier(uri), lsp.Position(3, code_at)))
    assert on_comment.contents.value.startswith("# implicit-conversion-of-grad-tensor (TNP003)")
    nothing = await editor.client.text_document_hover_async(
        lsp.HoverParams(lsp.TextDocumentIdentifier(uri), lsp.Position(0, 0)))
    assert nothing is None


# ---------------------------------------------------------------------------------------------------------------
# Notebooks


NOTEBOOK_CELLS = [
    ("markdown", "# Training\nState flows from cell to cell."),
    ("code", "import matplotlib.pyplot as plt\nimport torch\nmodel = torch.nn.Linear(4, 1)\nlosses = []"),
    ("code", "for step in range(3):\n    loss = model(torch.randn(8, 4)).pow(2).mean()\n    losses.append(loss)"),
    ("markdown", "Plot it:"),
    ("code", "%matplotlib inline\nplt.plot(losses)\nprint('最终', loss.numpy())"),
]


def notebook_file(cells) -> bytes:
    """The same cells as an .ipynb on disk, for the CLI's view of them."""
    return json.dumps({"cells": [{"cell_type": kind, "metadata": {}, "source": source,
                                  **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                                 for kind, source in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


async def test_notebook_cells(editor):
    uri, cells = editor.open_notebook("nb/train.ipynb", NOTEBOOK_CELLS)
    diagnostics = await editor.diagnostics(cells[4])
    published = {p.uri for p in editor.client.published}
    assert set(cells) <= published, "every cell gets its (possibly empty) list"
    assert not any(editor.client.diagnostics[c] for c in cells[:4])
    # Exactly the CLI's findings, in cell coordinates (cells counted among all cells, markdown included).
    cli = sorted((f.code, f.cell, f.line, f.column + 1) for f in check_notebook(notebook_file(NOTEBOOK_CELLS)))
    assert [(code, cell, line) for code, cell, line, _ in cli] == [("TNP001", 5, 3), ("TNP003", 5, 2)]
    assert sorted((c, 5, ln, col) for c, ln, col in found(editor, cells[4], diagnostics)) == cli
    # The list is fixed where it is filled: in cell 3, not in the cell that plots it.
    [tnp003] = [d for d in diagnostics if d.code == "TNP003"]
    [fix] = [a for a in await editor.code_actions(cells[4], [tnp003]) if "Store" in a.title]
    assert [c.text_document.uri for c in fix.edit.document_changes] == [cells[2]]
    before = len(editor.client.published)
    editor.apply(fix.edit)
    assert editor.texts[cells[2]].endswith("losses.append(loss.item())")
    remaining = await editor.diagnostics(cells[4], after=before)
    assert [d.code for d in remaining] == ["TNP001"]
    # "Disable for this line" in a cell.
    [tnp001] = remaining
    [silence] = [a for a in await editor.code_actions(cells[4], [tnp001]) if "Disable" in a.title]
    editor.apply(silence.edit)
    assert editor.texts[cells[4]].endswith("print('最终', loss.numpy())  # noqa: TNP001")
    assert await editor.diagnostics(cells[4]) == []
    # Editing a cell re-checks the notebook.
    editor.change_cell(cells[4], "plt.plot(losses)\nprint(loss.numpy())")
    assert [d.code for d in await editor.diagnostics(cells[4])] == ["TNP001"]
    editor.change_cell(cells[4], "plt.plot(losses)\nprint(loss.detach().numpy())")
    assert await editor.diagnostics(cells[4]) == []
    # A new cell: checked with the others (state from cell 3 flows into it), diagnosed on its own URI.
    before = len(editor.client.published)
    new = editor.insert_cell(uri, 3, "print(model(torch.randn(1, 4)).numpy())")
    [d] = await editor.diagnostics(new, after=before)
    assert (d.code, d.range.start.line) == ("TNP001", 0)
    before = len(editor.client.published)
    editor.remove_cell(uri, new)
    await editor.diagnostics(cells[4], after=before)  # published after the removed cell was cleared
    assert list(editor.client.diagnostics[new]) == []


async def test_notebook_fix_all_and_close(editor):
    uri, cells = editor.open_notebook("nb/fixall.ipynb", NOTEBOOK_CELLS)
    await editor.diagnostics(cells[4])
    [action] = await editor.code_actions(cells[2], only=["notebook.source.fixAll"])
    assert action.kind == "notebook.source.fixAll.detachify"
    resolved = await editor.client.code_action_resolve_async(action)
    changed = editor.apply(resolved.edit)
    assert sorted(changed) == [cells[2], cells[4]]
    fixed = json.loads(fix_notebook_bytes(NOTEBOOK_CELLS))
    for cell_uri, cell in zip(cells, fixed["cells"]):
        assert editor.texts[cell_uri] == "".join(cell["source"])
    assert await editor.diagnostics(cells[4]) == []
    before = len(editor.client.published)
    editor.close_notebook(uri)
    await asyncio.sleep(0.2)
    assert sorted(p.uri for p in editor.client.published[before:]) == sorted(cells)


MARKDOWN_NOTEBOOK = ("---\njupyter:\n  jupytext:\n    text_representation:\n      format_name: markdown\n---\n\n"
                     "Prose, then code:\n\n```python\n" + BAD + "```\n\n```python\nprint(out.numpy() * 2)\n```\n")


async def test_markdown_notebook_diagnostics_fix_all_and_noqa(editor):
    uri = editor.open("md/nb.md", MARKDOWN_NOTEBOOK, language="markdown")
    lines = MARKDOWN_NOTEBOOK.split("\n")
    diagnostics = await editor.diagnostics(uri)
    assert sorted((d.code, d.range.start.line, d.range.start.character) for d in diagnostics) == [
        ("TNP001", lines.index("print(out.numpy())"), 9), ("TNP001", lines.index("print(out.numpy() * 2)"), 9)]
    readme = editor.open("md/README.md", "```python\n" + BAD + "```\n", language="markdown")
    assert await editor.diagnostics(readme) == []  # documentation, not a notebook
    silence = by_title(await editor.code_actions(uri, diagnostics[:1], only=["quickfix"]),
                       "detachify (TNP001): Disable for this line")
    assert "# noqa: TNP001" in silence.edit.document_changes[0].edits[0].new_text
    [action] = await editor.code_actions(uri, only=["source.fixAll"])
    resolved = await editor.client.code_action_resolve_async(action)
    before = len(editor.client.published)
    editor.apply(resolved.edit)
    assert editor.texts[uri] == MARKDOWN_NOTEBOOK.replace("out.numpy()", "out.detach().cpu().numpy()")
    assert await editor.diagnostics(uri, after=before) == []


def fix_notebook_bytes(cells) -> bytes:
    from detachify.notebook import fix_notebook

    return fix_notebook(notebook_file(cells))


# ---------------------------------------------------------------------------------------------------------------
# Configuration


async def test_configuration_reload_when_pyproject_changes(editor, workspace):
    project = workspace / "configured"
    project.mkdir()
    pyproject = project / "pyproject.toml"
    pyproject.write_text('[tool.detachify]\nignore = ["TNP001"]\n')
    uri = editor.open("configured/src/a.py", BAD)
    assert await editor.diagnostics(uri) == []  # ignored by the config, as `detachify check` would
    # The editor reports the change (the server registered for it).
    pyproject.write_text('[tool.detachify]\nper-file-ignores = { "other/**" = ["TNP001"] }\n')
    before = len(editor.client.published)
    editor.client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(
        [lsp.FileEvent(pyproject.as_uri(), lsp.FileChangeType.Changed)]))
    assert found(editor, uri, await editor.diagnostics(uri, after=before)) == expected(BAD)
    # An editor that reports nothing: the next check notices the new file anyway.
    (project / "src" / "pyproject.toml").write_text('[tool.detachify]\nper-file-ignores = { "a.py" = ["TNP0"] }\n')
    version = editor.change(uri, BAD + "\n")
    assert await editor.diagnostics(uri, version) == []


async def test_editor_settings_override_the_configuration(editor, workspace):
    uri = editor.open("settings/a.py", BAD)
    assert len(await editor.diagnostics(uri)) == 1
    try:
        before = len(editor.client.published)
        editor.client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
            {"detachify": {"ignore": ["TNP001"], "fixStyle": "force", "unknown": 1}}))
        assert await editor.diagnostics(uri, after=before) == []
        await editor.log_message("ignoring setting 'unknown' = 1")
    finally:
        before = len(editor.client.published)
        editor.client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams({"detachify": {}}))
    assert len(await editor.diagnostics(uri, after=before)) == 1


async def test_excluded_files_get_no_diagnostics(editor):
    uri = editor.open("excl/build/generated.py", BAD)  # `build` is excluded by default, as for ruff
    assert await editor.diagnostics(uri) == []
    await editor.log_message("generated.py is excluded by the configuration")


# ---------------------------------------------------------------------------------------------------------------
# Files that cannot be checked


async def test_broken_file_logs_once_clears_and_recovers(editor):
    uri = editor.open("broken/a.py", BAD)
    assert len(await editor.diagnostics(uri)) == 1
    logged = len(editor.client.log_messages)
    broken = BAD.replace("print(out.numpy())", "print(out.numpy(")
    editor.change(uri, broken)
    # Code that does not parse is one E999 diagnostic where CPython says (as `detachify check` reports it), and
    # nothing stale is left behind.
    [syntax] = await editor.diagnostics(uri)
    assert syntax.code == "E999" and "SyntaxError" in syntax.message
    editor.change(uri, broken + " ")
    assert [d.code for d in await editor.diagnostics(uri)] == ["E999"]
    assert not [m for m in editor.client.log_messages[logged:] if "cannot check" in m.message]
    editor.change(uri, BAD)
    assert len(await editor.diagnostics(uri)) == 1


@pytest.mark.parametrize("name, text, needle", [
    ("nul.py", "import torch\x00\nprint(torch.ones(1).numpy())\n", "binary file"),
    ("cookie.py", "# -*- coding: klingon -*-\nimport torch\n", "cannot decode"),
])
async def test_unreadable_buffers_are_reported_not_fatal(editor, name, text, needle):
    logged = len(editor.client.log_messages)
    uri = editor.open(f"unreadable/{name}", text)
    assert await editor.diagnostics(uri) == []
    message = await editor.log_message(f"{name}: ", after=logged)
    assert needle in message.message
    # The server is alive and well.
    ok = editor.open(f"unreadable/after-{name}", BAD)
    assert len(await editor.diagnostics(ok)) == 1


def children_of(pid: int):
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the checker process through /proc")
async def test_a_dying_checker_costs_one_result_not_the_server(editor):
    # The engine runs in a child process; the operating system may kill it (memory), or native code may crash it.
    logged = len(editor.client.log_messages)
    slow = "".join(LIST_OF_LOSSES.replace("losses", f"losses{i}") for i in range(1000))  # seconds of checking
    uri = editor.open("dying/a.py", slow)
    await asyncio.sleep(0.5)
    [checker] = children_of(editor.client._server.pid)
    os.kill(checker, signal.SIGKILL)
    assert await editor.diagnostics(uri) == []
    message = await editor.log_message("checker process died", after=logged)
    assert "signal 9" in message.message and message.type == lsp.MessageType.Warning
    editor.change(uri, BAD)
    assert len(await editor.diagnostics(uri)) == 1  # a new checker took over
    assert children_of(editor.client._server.pid) not in ([], [checker])


async def test_invalid_configuration_is_shown_and_not_fatal(editor, workspace):
    project = workspace / "badconfig"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.detachify]\nselect = ["TNP001"]\nunsafe_fixes = "yes"\n')
    uri = editor.open("badconfig/a.py", BAD)
    assert await editor.diagnostics(uri) == []
    message = await editor.log_message("configuration error")
    assert message.type == lsp.MessageType.Error and "unknown key 'unsafe_fixes'" in message.message
    assert any("unknown key 'unsafe_fixes'" in m.message for m in editor.client.messages)  # window/showMessage
    (project / "pyproject.toml").write_text('[tool.detachify]\nselect = ["TNP001"]\n')
    editor.save(uri)
    before = len(editor.client.published)
    editor.change(uri, BAD)
    assert len(await editor.diagnostics(uri, after=before)) == 1


# ---------------------------------------------------------------------------------------------------------------
# Servers of their own


async def start(root: Path, capabilities=None, options=None) -> LanguageClient:
    client = await ClientServerConfig(server_command=SERVER, client_factory=make_client).start()
    client.init_result = await client.initialize_session(initialize_params(root, capabilities, options))
    return client


async def test_neovim_utf8_positions_plain_changes_and_init_options(tmp_path):
    """Neovim 0.11 offers UTF-8 positions first and takes `changes`, not versioned `documentChanges`; settings
    come from `init_options`."""
    client = await start(tmp_path, client_capabilities("neovim@v0.11.0"), {"settings": {"extendSelect": ["TNP901"]}})
    try:
        assert client.init_result.capabilities.position_encoding == "utf-8"
        editor = Editor(client, tmp_path, encoding="utf-8")
        source = BAD.replace("print(out.numpy())", "print('é😀', out.numpy())\n\ndef show(t):\n    print(t.numpy())")
        uri = editor.open("a.py", source)
        diagnostics = await editor.diagnostics(uri)
        assert [d.code for d in diagnostics] == ["TNP001", "TNP901"]  # TNP901 is off by default: the editor chose it
        assert diagnostics[0].range.start.character == len("print('é😀', out".encode("utf-8"))
        assert found(editor, uri, diagnostics) == sorted(
            (f.code, f.line, f.column + 1) for f in check_source(source, settings=_settings(extend_select=("TNP901",))))
        # Fix-all applies the safe fix; TNP901's is unsafe (the value may not be a tensor).
        [action] = await editor.code_actions(uri, only=["source.fixAll"])
        resolved = await client.code_action_resolve_async(action)
        assert resolved.edit.document_changes is None and list(resolved.edit.changes) == [uri]
        editor.apply(resolved.edit)
        assert editor.texts[uri] == fix_source(source, settings=_settings(extend_select=("TNP901",)))
    finally:
        await client.shutdown_session()
    assert client._server.returncode == 0


async def test_emacs_utf32_and_fix_all_without_resolve(tmp_path):
    """Emacs 29 (eglot) offers UTF-32 first and cannot resolve code actions: fix-all comes with its edit."""
    client = await start(tmp_path, client_capabilities("emacs@v29.1"))
    try:
        assert client.init_result.capabilities.position_encoding == "utf-32"
        editor = Editor(client, tmp_path, encoding="utf-32")
        source = BAD.replace("print(out.numpy())", "print('😀', out.numpy())")
        uri = editor.open("a.py", source)
        [d] = await editor.diagnostics(uri)
        assert d.range.start.character == source.splitlines()[3].index(".numpy")  # characters
        [action] = await editor.code_actions(uri, only=["source.fixAll"])
        assert action.edit is not None and action.data is None
        editor.apply(action.edit)
        assert editor.texts[uri] == fix_source(source)
    finally:
        await client.shutdown_session()


def _settings(**kwargs):
    from detachify import Settings

    return Settings(**kwargs)


async def test_exit_without_shutdown_and_client_gone(tmp_path):
    client = await start(tmp_path)
    checkers = children_of(client._server.pid) if Path("/proc/self/stat").exists() else []
    assert checkers or not Path("/proc/self/stat").exists(), "the server starts its checker at initialize"
    client.exit(None)  # no shutdown first: LSP asks for exit status 1
    assert await asyncio.wait_for(client._server.wait(), 30) == 1
    await client.stop()
    for _ in range(500):  # the checker process sees its input close and leaves too
        if not any(Path(f"/proc/{pid}").exists() for pid in checkers):
            break
        await asyncio.sleep(0.02)
    assert not any(Path(f"/proc/{pid}").exists() for pid in checkers)
    # The client dies: the server sees the end of its input and leaves.
    proc = await asyncio.create_subprocess_exec(*SERVER, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 30) == 1


async def test_without_pygls_the_command_says_what_to_install(tmp_path):
    # A real run of `detachify server` where pygls cannot be imported.
    code = "import sys; sys.modules['pygls'] = None; from detachify.cli import main; sys.exit(main(['server']))"
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, cwd=tmp_path,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert 'pip install "detachify[lsp]"' in err.decode()


# ---------------------------------------------------------------------------------------------------------------
# Agreement: the editor reports what `detachify check` reports, on every fixture


@pytest.fixture(scope="module")
def fixture_tree(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("agreement") / "fixtures"
    shutil.copytree(FIXTURES, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def cli_findings(tree: Path):
    proc = subprocess.run([sys.executable, "-m", "detachify", "check", "--output-format", "json", "."], cwd=tree,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1, 2), proc.stderr  # 2: the exercise notebook's E999 cell
    out = {}
    for f in json.loads(proc.stdout):
        name = Path(f["filename"]).as_posix()
        out.setdefault(name, set()).add((f["code"], f.get("cell", 0), f["location"]["row"], f["location"]["column"]))
    return out


async def test_every_fixture_agrees_with_detachify_check(editor, fixture_tree):
    expected_findings = cli_findings(fixture_tree)
    assert expected_findings, "the fixtures carry findings"
    names = sorted(p.relative_to(fixture_tree).as_posix() for p in fixture_tree.glob("**/*.py"))
    notebooks = sorted(p.relative_to(fixture_tree).as_posix() for p in fixture_tree.glob("**/*.ipynb"))
    markdown = sorted(p.relative_to(fixture_tree).as_posix() for p in fixture_tree.glob("**/*.md"))
    assert len(names) > 100 and notebooks and markdown
    # Opened all at once, as when an editor restores a session: the server works through them in turn.
    uris = {name: editor.open(str(fixture_tree / name), (fixture_tree / name).read_bytes().decode("utf-8"),
                              write=False, language="markdown" if name.endswith(".md") else "python")
            for name in names + markdown}
    cells = {}
    for name in notebooks:
        nb = json.loads((fixture_tree / name).read_text(encoding="utf-8"))
        _, cells[name] = editor.open_notebook(str(fixture_tree / name), [
            ("code" if c["cell_type"] == "code" else "markdown", "".join(c["source"])) for c in nb["cells"]])
    reported = {}
    for name, uri in uris.items():
        for code, line, column in found(editor, uri, await editor.diagnostics(uri, timeout=300)):
            reported.setdefault(name, set()).add((code, 0, line, column))
    for name, cell_uris in cells.items():
        for number, cell_uri in enumerate(cell_uris, 1):
            for code, line, column in found(editor, cell_uri, await editor.diagnostics(cell_uri, timeout=300)):
                reported.setdefault(name, set()).add((code, number, line, column))
    assert reported == expected_findings
