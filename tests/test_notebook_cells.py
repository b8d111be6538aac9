"""Notebooks cell by cell, with the real engine: a cell that does not parse is an error in that cell and the rest is
still one program; positions in messages are cells; GitHub and SARIF point into the .ipynb file itself.

(`fixtures/notebooks/exercise_cell.ipynb` is the same story executed under torch, in tests/test_notebook.py.)
"""
from __future__ import annotations

import json
import re

import pytest

from cli_support import run_cli, write
from detachify.notebook import analyse_notebook, check_notebook, fix_notebook, read_notebook

nbformat = pytest.importorskip("nbformat")
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook  # noqa: E402

SETUP = "import torch\nw = torch.ones(2, requires_grad=True)"
EXERCISE = "w = w.detach()  # never runs: the cell does not compile\nx = # TODO"
USE = "print(w.numpy())"


def notebook(*cells, **dump) -> bytes:
    """Code cells from strings, markdown from ("md", text); written as nbformat does unless ``dump`` says how."""
    book = new_notebook(cells=[new_markdown_cell(c[1]) if isinstance(c, tuple) else new_code_cell(c) for c in cells],
                        metadata={"language_info": {"name": "python"}})
    if not dump:
        return nbformat.writes(book).encode("utf-8")
    return json.dumps(json.loads(nbformat.writes(book)), **dump).encode("utf-8")


def rows(findings):
    return [(f.cell, f.line, f.column + 1, f.code) for f in findings]


# --- a cell that does not parse -------------------------------------------------------------------------------------

def test_the_broken_cell_is_an_error_and_state_flows_around_it():
    data = notebook(("md", "intro"), SETUP, EXERCISE, USE)
    findings = check_notebook(data, "nb.ipynb")
    # Jupyter never ran `w = w.detach()`: `w` still requires grad in cell 4.
    assert rows(findings) == [(3, 2, 5, "E999"), (4, 1, 8, "TNP001")]
    assert findings[0].message == "SyntaxError: invalid syntax"


def test_a_return_outside_a_function_ends_nothing():
    """A book's cell with a mis-indented `return` does not compile (Jupyter skips it); the cells after it run on."""
    data = notebook(SETUP, "def f(x):\n    y = x * 2\nreturn y", "losses = [w * 2]", USE)
    assert rows(check_notebook(data, "nb.ipynb")) == [(4, 1, 8, "TNP001")]


def test_fix_rewrites_the_other_cells_and_never_the_broken_one():
    data = notebook(SETUP, EXERCISE, USE, "y = w * 2\nprint(y.numpy())")
    new = json.loads(fix_notebook(data, "nb.ipynb"))
    old = json.loads(data)
    assert new["cells"][1] == old["cells"][1]
    assert "".join(new["cells"][2]["source"]) == "print(w.detach().cpu().numpy())"
    assert "".join(new["cells"][3]["source"]) == "y = w * 2\nprint(y.detach().cpu().numpy())"


def test_every_broken_cell_is_reported_at_its_own_position():
    data = notebook(SETUP, "a = (1,\n", USE, "if w:\npass", "y = 1 + \\", "def f(:\n    pass")
    assert rows(check_notebook(data, "nb.ipynb")) == [
        (2, 1, 5, "E999"), (3, 1, 8, "TNP001"), (4, 2, 1, "E999"), (5, 1, 10, "E999"), (6, 1, 7, "E999")]


def test_syntax_newer_than_this_python_is_read_as_a_file_would_be():
    """A cell libcst reads is analysed even if this interpreter's parser is older (`type X = ...` is 3.12): the
    notebook's kernel may well be newer. Only what neither reads is a broken cell."""
    data = notebook(SETUP, EXERCISE, "type Pair = tuple\nprint(w.numpy())")
    assert rows(check_notebook(data, "nb.ipynb"))[-1] == (3, 2, 8, "TNP001")


def test_what_only_the_compiler_refuses_is_not_a_broken_cell():
    """Top-level `await` (IPython runs it) and `return` outside a function parse; only the parser decides."""
    data = notebook(SETUP, "import asyncio\nawait asyncio.sleep(0)", "return 1", EXERCISE, USE)
    assert rows(check_notebook(data, "nb.ipynb")) == [(4, 2, 5, "E999"), (5, 1, 8, "TNP001")]


def test_a_cell_with_tabs_libcst_rejects_is_analysed():
    tabs = "if True:\n if True:\n\t v = w * 2\n\t print(v.numpy())"
    data = notebook(SETUP, tabs)
    assert rows(check_notebook(data, "nb.ipynb")) == [(2, 4, 10, "TNP001")]
    new = json.loads(fix_notebook(data, "nb.ipynb"))
    assert "".join(new["cells"][1]["source"]) == tabs.replace(".numpy()", ".detach().cpu().numpy()")


def test_a_cell_libcst_cannot_read_is_left_out_with_a_warning():
    data = notebook(SETUP, "(q): int = 1", USE)
    report = analyse_notebook(data, "nb.ipynb")
    assert rows(report.findings) == [(3, 1, 8, "TNP001")]
    assert report.not_analysed == ["cell 2 not analysed: CPython compiles it, but libcst's parser cannot read line 1, "
                                   "column 6 (expected one of !=, %, &, (, *, **, +, ,, -, ., /, //, ;,...)"]


def test_through_the_cli(tmp_path):
    data = notebook(("md", "intro"), SETUP, EXERCISE, USE, "(q): int = 1")
    path = write(tmp_path, "nb.ipynb", data)
    proc = run_cli("check", "nb.ipynb", cwd=tmp_path)
    assert proc.returncode == 2  # the broken cell is an error, like a file that does not parse
    assert proc.stdout.startswith("nb.ipynb:cell 3:2:5: E999 SyntaxError: invalid syntax\nnb.ipynb:cell 4:1:8: TNP001 ")
    assert proc.stderr == "nb.ipynb: warning: cell 5 not analysed: CPython compiles it, but libcst's parser cannot " \
                          "read line 1, column 6 (expected one of !=, %, &, (, *, **, +, ,, -, ., /, //, ;,...)\n"
    proc = run_cli("check", "--output-format", "json", "nb.ipynb", cwd=tmp_path)
    found = [(r["cell"], r["location"]["row"], r["location"]["column"], r["code"]) for r in json.loads(proc.stdout)]
    assert (proc.returncode, found) == (2, [(3, 2, 5, "E999"), (4, 1, 8, "TNP001")])
    proc = run_cli("fix", "nb.ipynb", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout.startswith("nb.ipynb:cell 3:2:5: E999 ")
    fixed = json.loads(path.read_bytes())
    assert ["".join(c["source"]) for c in fixed["cells"]] == [
        "intro", SETUP, EXERCISE, "print(w.detach().cpu().numpy())", "(q): int = 1"]


def test_without_the_broken_cell_nothing_changes_for_the_others():
    with_it = check_notebook(notebook(SETUP, EXERCISE, USE), "nb.ipynb")
    without = check_notebook(notebook(SETUP, "", USE), "nb.ipynb")
    assert [(f.cell, f.line, f.column, f.message) for f in with_it if f.code != "E999"] == \
           [(f.cell, f.line, f.column, f.message) for f in without]


# --- positions inside messages are cells ------------------------------------------------------------------------------

HELPERS = ["import torch\nmodel = torch.nn.Linear(2, 2)",
           "def report():\n    print(weights.numpy())\n\ndef plot(v):\n    print(v.numpy())",
           EXERCISE,
           "weights = model.weight\nreport()",
           "plot(model(torch.ones(2)))"]


def test_line_references_in_messages_name_cell_and_line():
    findings = check_notebook(notebook(*HELPERS), "nb.ipynb")
    messages = {(f.cell, f.line): f.message for f in findings if f.code == "TNP001"}
    assert messages == {
        (2, 2): "`weights` is a parameter of `model` (when called at cell 4, line 2) and grad mode is on",
        (2, 5): "`v` is the output of module `model` (passed to `plot` at cell 5, line 1) and grad mode is on"}


def test_no_message_of_a_fixture_notebook_holds_a_program_line():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parent.parent / "fixtures" / "notebooks").glob("*.ipynb")):
        for finding in check_notebook(path.read_bytes(), path.name):
            assert not re.search(r"(?<!, )\bline \d", finding.message.replace("`", "")), (path.name, finding.message)


def test_quoted_code_is_not_rewritten():
    nb = read_notebook(notebook("a = 1", "b = 2\nc = 3"))
    assert nb.cell_references("at line 3, in `f('line 2')`") == "at cell 2, line 2, in `f('line 2')`"


# --- GitHub and SARIF point into the .ipynb file --------------------------------------------------------------------

def text_at(data: bytes, line: int, column: int, length: int) -> str:
    """The file's text at a 1-based line and column."""
    return data.decode("utf-8").splitlines()[line - 1][column - 1:column - 1 + length]


@pytest.mark.parametrize("dump", [{}, {"indent": 2, "ensure_ascii": True}, {"separators": (",", ":")}],
                         ids=["nbformat", "escaped", "compact"])
def test_github_annotations_land_on_the_json_line_of_the_source_line(tmp_path, dump):
    cells = [("md", "intro"), SETUP, EXERCISE, "s = 'é\\t\U0001f600'; print(w.numpy())"]
    data = notebook(*cells, **dump)
    write(tmp_path, "nb.ipynb", data)
    proc = run_cli("check", "--output-format", "github", "nb.ipynb", cwd=tmp_path)
    found = re.findall(r"^::error file=nb\.ipynb,line=(\d+),col=(\d+),title=(\w+)::(.*)$", proc.stdout, re.M)
    assert [(code, message.split(":")[0]) for _, _, code, message in found] == [
        ("E999", "cell 3, line 2"), ("TNP001", "cell 4, line 1")]
    (e_line, e_col, _, _), (t_line, t_col, _, message) = [(int(a), int(b), c, d) for a, b, c, d in found]
    assert text_at(data, e_line, e_col, 6) == "# TODO"
    assert text_at(data, t_line, t_col, 6) == ".numpy"
    assert message.startswith("cell 4, line 1: `w` ")


def test_sarif_regions_and_fixes_are_in_the_ipynb_file(tmp_path):
    data = notebook(SETUP, EXERCISE, USE, "y = (w * 2)\nprint('ü', y.numpy())", indent=1, ensure_ascii=True)
    write(tmp_path, "nb.ipynb", data)
    proc = run_cli("check", "--output-format", "sarif", "nb.ipynb", cwd=tmp_path)
    results = json.loads(proc.stdout)["runs"][0]["results"]
    assert [(r["ruleId"], r["properties"]) for r in results] == [
        ("E999", {"cell": 2, "cellLine": 2, "cellColumn": 5}), ("TNP001", {"cell": 3, "cellLine": 1, "cellColumn": 8}),
        ("TNP001", {"cell": 4, "cellLine": 2, "cellColumn": 13})]
    assert results[1]["message"]["text"].startswith("cell 3, line 1: ")
    for result in results[1:]:
        region = result["locations"][0]["physicalLocation"]["region"]
        assert text_at(data, region["startLine"], region["startColumn"], 6) == ".numpy"
    # Applying the SARIF replacements to the .ipynb text gives what `detachify fix` writes.
    text = data.decode("utf-8").split("\n")
    edits = [r for result in results for fix in result.get("fixes", []) for change in fix["artifactChanges"]
             for r in change["replacements"]]
    for edit in sorted(edits, key=lambda e: (e["deletedRegion"]["startLine"], e["deletedRegion"]["startColumn"]),
                       reverse=True):
        region = edit["deletedRegion"]
        assert region["startLine"] == region["endLine"]
        line = text[region["startLine"] - 1]
        text[region["startLine"] - 1] = (line[:region["startColumn"] - 1] + edit["insertedContent"]["text"]
                                         + line[region["endColumn"] - 1:])
    assert "\n".join(text).encode("utf-8") == fix_notebook(data, "nb.ipynb")
