"""Notebooks: IPython masking, cell/line mapping, byte-exact rewriting and, under torch, the fixture notebooks."""
from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import libcst
import pytest

from detachify import api
from detachify.findings import Edit, Finding, Fix
from detachify.notebook import (NotebookError, NotebookFinding, check_notebook, fix_notebook, format_location,
                                read_notebook)

nbformat = pytest.importorskip("nbformat")
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "notebooks"
EXPECT = re.compile(r"#\s*expect:\s*(TNP\d+)")
BROKEN = re.compile(r"#\s*expect:\s*E999\b")  # the line where a cell that does not parse has its syntax error
REQUIRES_GRAD = "Can't call numpy() on Tensor that requires grad"


def notebook_bytes(*cells, **metadata) -> bytes:
    """A notebook as nbformat writes it (indent=1, ensure_ascii=False); str cells are code, ("md", s) markdown."""
    book = new_notebook(cells=[new_markdown_cell(c[1]) if isinstance(c, tuple) else new_code_cell(c) for c in cells],
                        metadata=metadata)
    return nbformat.writes(book).encode("utf-8")


@pytest.fixture
def fake_engine(monkeypatch):
    """A stand-in engine, so the notebook plumbing is tested whatever the real one decides: every `.numpy()`
    call is a finding, the fix inserts `.detach().cpu()`, and code that libcst cannot parse raises as the engine
    does."""
    def check_source(source, filename="<string>", settings=None, *, respect_noqa=True, project=None):
        libcst.parse_module(source)
        findings = []
        for number, line in enumerate(source.splitlines(), 1):
            for match in re.finditer(r"\.numpy\(\)", line):
                edit = Edit(number, match.start(), number, match.start(), ".detach().cpu()")
                findings.append(Finding("TNP001", "numpy on grad tensor", number, match.start(),
                                        Fix("insert detach", (edit,)), filename, number, match.end()))
        return findings

    def fix_source(source, filename="<string>", settings=None, *, unsafe=None, project=None):
        libcst.parse_module(source)
        return source.replace(".numpy()", ".detach().cpu().numpy()")

    monkeypatch.setattr(api, "check_source", check_source)
    monkeypatch.setattr(api, "fix_source", fix_source)


def program_lines(data: bytes):
    return [(line.cell, line.number, line.program.rstrip("\n")) for line in read_notebook(data).lines]


# --- masking ---------------------------------------------------------------------------------------------------------

def test_line_magics_shell_escapes_and_help_are_masked_in_place():
    data = notebook_bytes("%matplotlib inline\nimport torch\n!pip install x\nfiles = !ls\nx = %env HOME",
                          "torch.ones?\n??torch.zeros\n%pinfo torch\n# is this fine?\ns = 'what?'")
    assert program_lines(data) == [
        (1, 1, "pass  # masked"), (1, 2, "import torch"), (1, 3, "pass  # masked"),
        (1, 4, "files = ...  # masked"),  # still rebinds `files`: it no longer holds what it held before
        (1, 5, "x = ...  # masked"),
        (2, 1, "pass  # masked"), (2, 2, "pass  # masked"), (2, 3, "pass  # masked"),
        (2, 4, "# is this fine?"), (2, 5, "s = 'what?'"),
    ]


def test_masking_keeps_the_indentation_of_blocks():
    data = notebook_bytes("for i in range(3):\n    !echo $i\n    if i:\n        %time f(i)\n        %env X=1\n"
                          "        x = !ls\nprint(i)")
    nb = read_notebook(data)
    assert [line.program for line in nb.lines] == [
        "for i in range(3):\n", "    pass  # masked\n", "    if i:\n", "        f(i)\n", "        pass  # masked\n",
        "        x = ...  # masked\n", "print(i)\n"]
    libcst.parse_module(nb.program)


def test_only_logical_line_starts_can_be_ipython():
    source = ("x = (1\n     % 2)\ntext = '''\n%not a magic\n!nor this\n'''\ny = 3 \\\n    % 2\n"
              "z = [a\n     for a in 'x?']  # why?")
    data = notebook_bytes(source)
    assert [p for _, _, p in program_lines(data)] == source.split("\n")


def test_backslash_continued_magic_masks_its_continuation_lines():
    data = notebook_bytes("%pip install \\\n    torch\nimport torch")
    assert [p for _, _, p in program_lines(data)] == ["pass  # masked", "    pass  # masked", "import torch"]


def test_cell_magics_mask_the_whole_cell_unless_the_body_is_python():
    data = notebook_bytes("%%bash\n  echo x.numpy()\nls", "\n%%time\ny = f()\n", "%%capture out\nz = g()",
                          "%%timeit -n 2\nh()", "%%writefile a.py\nimport os\n  indented\n")
    assert program_lines(data) == [
        (1, 1, "pass  # masked"), (1, 2, "pass  # masked"), (1, 3, "pass  # masked"),
        (2, 1, ""), (2, 2, "pass  # masked"), (2, 3, "y = f()"),
        (3, 1, "pass  # masked"), (3, 2, "z = g()"),
        (4, 1, "pass  # masked"), (4, 2, "h()"),
        (5, 1, "pass  # masked"), (5, 2, "pass  # masked"), (5, 3, "pass  # masked"),
    ]


def test_timing_magics_keep_their_statement_and_map_columns_back():
    data = notebook_bytes("%time a = f(x).numpy()", "  %timeit -n 10 -r 2 b.numpy()",
                          "c = %time g().numpy()", "d = %timeit -o h().numpy()")
    nb = read_notebook(data)
    assert [line.program.rstrip("\n") for line in nb.lines] == [
        "a = f(x).numpy()", "  b.numpy()", "c = g().numpy()",
        "d = ...  # masked"]  # %timeit -o returns timings, not the statement's value
    # Column of `.numpy()` in the program -> in the cell.
    assert nb.locate(1, 8) == (1, 1, 14)
    assert nb.locate(2, 3) == (2, 1, 22)
    assert nb.locate(3, 7) == (3, 1, 13)
    assert nb.locate(3, 2) == (3, 1, 2)  # before the magic: unchanged


def test_line_numbers_map_to_cells_counted_among_all_cells():
    data = notebook_bytes(("md", "# title"), "a = 1\nb = 2\n", ("md", "text"), "", "c = 3\n\nd = 4")
    nb = read_notebook(data)
    assert nb.program == "a = 1\nb = 2\nc = 3\n\nd = 4\n"  # markdown and empty cells add no line
    assert [nb.locate(n, 0)[:2] for n in range(1, 6)] == [(2, 1), (2, 2), (5, 1), (5, 2), (5, 3)]


def test_top_level_await_and_async_blocks_parse(fake_engine):
    data = notebook_bytes("import asyncio\nawait asyncio.sleep(0)", "async with lock:\n    v = w.numpy()")
    assert [(f.cell, f.line) for f in check_notebook(data, "nb.ipynb")] == [(2, 2)]


def test_cells_without_trailing_newline_join_safely():
    nb = read_notebook(notebook_bytes("if x:\n    y = 1", "z = 2"))
    assert nb.program == "if x:\n    y = 1\nz = 2\n"


# --- findings ------------------------------------------------------------------------------------------------------

def test_findings_carry_cell_line_and_column(fake_engine):
    data = notebook_bytes(("md", "intro"), "import torch\nw = torch.ones(2, requires_grad=True)",
                          ("md", "plot"), "%matplotlib inline\nprint(w.numpy())\n%time v = w.numpy()")
    findings = check_notebook(data, "nb.ipynb")
    assert [(f.cell, f.line, f.column, f.end_line, f.end_column) for f in findings] == [
        (4, 2, 7, 2, 15), (4, 3, 11, 3, 19)]
    assert all(isinstance(f, NotebookFinding) and f.filename == "nb.ipynb" for f in findings)
    assert [format_location(f) for f in findings] == ["cell 4:2:8", "cell 4:3:12"]
    assert findings[1].fix.edits == (Edit(3, 11, 3, 11, ".detach().cpu()"),)


def test_format_location_of_a_plain_finding():
    assert format_location(Finding("TNP001", "m", 3, 4)) == "3:5"


def test_syntax_error_is_reported_in_its_cell_and_the_other_cells_are_checked(fake_engine):
    """(The real engine's view of it, state flow included, is tests/test_notebook_cells.py.)"""
    data = notebook_bytes(("md", "x"), "a = w.numpy()", "b = (\nc = 2 +", "d = w.numpy()")
    findings = check_notebook(data, "nb.ipynb")
    assert [(f.cell, f.line, f.column, f.code) for f in findings] == [
        (2, 1, 5, "TNP001"), (3, 1, 4, "E999"), (4, 1, 5, "TNP001")]
    assert findings[1].message == "SyntaxError: '(' was never closed"
    new = json.loads(fix_notebook(data, "nb.ipynb"))
    assert [c["source"] for c in new["cells"]] == [
        ["x"], ["a = w.detach().cpu().numpy()"], ["b = (\n", "c = 2 +"], ["d = w.detach().cpu().numpy()"]]


def test_non_python_notebooks_are_skipped(fake_engine):
    data = notebook_bytes("x <- c(1, 2)\nprint(x.numpy())", language_info={"name": "R"})
    assert check_notebook(data, "r.ipynb") == []
    assert fix_notebook(data, "r.ipynb") is data


@pytest.mark.parametrize("data, message", [
    (b"{not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[1, 2]", "no list of `cells`"),
    (b'{"metadata": {}}', "no list of `cells`"),
    (b'{"cells": [], "nbformat": 3}', "unsupported notebook format"),
    (b'{"cells": [{"source": "x"}]}', "cell 1: not a notebook cell"),
    (b'{"cells": [{"cell_type": "code", "source": 3}]}', "cell 1: `source`"),
    (b'{"cells": [{"cell_type": "code", "source": ["a", 1]}]}', "cell 1: `source`"),
])
def test_what_is_not_a_notebook_is_an_error(fake_engine, tmp_path, data, message):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(data)
    for call in (check_notebook, fix_notebook):
        with pytest.raises(NotebookError, match=re.escape(message)):
            call(path.read_bytes(), str(path))
    assert path.read_bytes() == data


# --- byte-exact rewriting -------------------------------------------------------------------------------------------

BEFORE = ["import torch\n", "w = torch.ones(2, requires_grad=True)  # é ✓\n", "print(w.numpy())"]
AFTER = ["import torch\n", "w = torch.ones(2, requires_grad=True)  # é ✓\n", "print(w.detach().cpu().numpy())"]


def rich_notebook() -> dict:
    """A notebook with the things a rewrite must not touch: outputs, non-ASCII text, metadata, unchanged cells."""
    book = new_notebook(cells=[
        new_markdown_cell("Ünïcode *markdown* with w.numpy()"),
        new_code_cell("".join(BEFORE), execution_count=3, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="[1. 1.]\nsecond line ✓\n"),
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]})]),
        new_code_cell("x = 1  # untouched.numpy\n"),
        new_code_cell("y = w.numpy()"),
    ], metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Py"}})
    return json.loads(nbformat.writes(book))


@pytest.mark.parametrize("style", [
    dict(indent=1, ensure_ascii=False),  # nbformat / Jupyter
    dict(indent=2, ensure_ascii=True),  # VS Code style escapes, other tools
    dict(indent=4, ensure_ascii=False, sort_keys=True),
    dict(indent=1, ensure_ascii=False, crlf=True, no_final_newline=True, bom=True),
])
def test_fix_changes_only_the_changed_source_lines(fake_engine, style):
    style = dict(style)
    crlf, no_final, bom = style.pop("crlf", False), style.pop("no_final_newline", False), style.pop("bom", False)
    text = json.dumps(rich_notebook(), **style) + ("" if no_final else "\n")
    if crlf:
        text = text.replace("\n", "\r\n")
    data = (("\ufeff" if bom else "") + text).encode("utf-8")

    fixed = fix_notebook(data, "nb.ipynb")

    old, new = json.loads(data.decode("utf-8-sig")), json.loads(fixed.decode("utf-8-sig"))
    assert new["cells"][1]["source"] == AFTER
    assert new["cells"][3]["source"] == ["y = w.detach().cpu().numpy()"]
    old["cells"][1]["source"], old["cells"][3]["source"] = AFTER, ["y = w.detach().cpu().numpy()"]
    assert new == old
    # Textually: the same lines, and the only differing ones are the two rewritten source items.
    old_lines, new_lines = data.decode("utf-8").splitlines(True), fixed.decode("utf-8").splitlines(True)
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines) if a != b]
    dump = lambda s: json.dumps(s, ensure_ascii=style["ensure_ascii"])  # noqa: E731
    assert [(a.strip(), b.strip()) for a, b in changed] == [
        (dump(BEFORE[2]), dump(AFTER[2])), (dump("y = w.numpy()"), dump("y = w.detach().cpu().numpy()"))]


def test_fix_of_compact_json_and_string_sources(fake_engine):
    book = rich_notebook()
    book["cells"][1]["source"] = "".join(BEFORE)  # a string, not a list: allowed by the format
    data = json.dumps(book, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    fixed = fix_notebook(data, "nb.ipynb")
    expected = data.decode().replace(json.dumps("".join(BEFORE), ensure_ascii=False),
                                     json.dumps("".join(AFTER), ensure_ascii=False))
    expected = expected.replace('"y = w.numpy()"', '"y = w.detach().cpu().numpy()"')
    assert fixed.decode() == expected


def test_fix_keeps_oddly_chunked_source_items(fake_engine):
    book = rich_notebook()
    book["cells"][3]["source"] = ["y = w", ".numpy()\nz", " = 2\n"]  # items that are not lines
    data = json.dumps(book, indent=1, ensure_ascii=False).encode("utf-8")
    new = json.loads(fix_notebook(data, "nb.ipynb"))
    assert new["cells"][3]["source"] == ["y = w.detach().cpu()", ".numpy()\nz", " = 2\n"]


def test_fix_keeps_magics_and_untouched_notebooks_byte_identical(fake_engine):
    data = notebook_bytes("%matplotlib inline\nimport torch\n!echo w.numpy()\nw?\n"
                          "%time print(w.numpy())\nx = %timeit -o w.numpy()")
    new = json.loads(fix_notebook(data, "nb.ipynb"))
    assert new["cells"][0]["source"] == ["%matplotlib inline\n", "import torch\n", "!echo w.numpy()\n", "w?\n",
                                         "%time print(w.detach().cpu().numpy())\n", "x = %timeit -o w.numpy()"]
    clean = notebook_bytes(("md", "w.numpy()"), "import torch")
    assert fix_notebook(clean, "nb.ipynb") is clean


def test_a_fix_that_adds_lines_is_refused(monkeypatch):
    monkeypatch.setattr(api, "fix_source", lambda source, *a, **k: source.replace("w.numpy()", "w = w\nw.numpy()"))
    with pytest.raises(NotebookError, match="number of lines"):
        fix_notebook(notebook_bytes("w.numpy()"), "nb.ipynb")


# --- fixture notebooks under torch ------------------------------------------------------------------------------------

def runnable_program(data: bytes):
    """The code cells as one plain Python program, IPython syntax replaced by the test's own simple rules (kept apart
    from the module under test), the map program line -> (cell, line), and the cells left out because they do not
    compile: Jupyter runs nothing of such a cell, and the next cells run on. Only what the fixtures use is handled."""
    lines, where, broken = [], [], set()
    for number, cell in enumerate(json.loads(data)["cells"], 1):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]).split("\n")
        python_body = re.match(r"%%(time|timeit|capture)\b", source[0])
        cell_lines = []
        for n, line in enumerate(source, 1):
            indent, rest = re.match(r"(\s*)(.*)", line).groups()
            if source[0].startswith("%%") and (n == 1 or not python_body):
                line = "pass"
            elif rest.startswith("%time "):
                line = indent + rest[len("%time "):]
            elif rest.startswith(("%", "!")) or rest.endswith("?"):
                line = indent + "pass"
            cell_lines.append(line)
            where.append((number, n))
        try:
            compile("\n".join(cell_lines), f"cell {number}", "exec")
        except SyntaxError:
            broken.add(number)
            cell_lines = [""] * len(cell_lines)
        lines += cell_lines
    return "\n".join(lines) + "\n", where, broken


def expected_lines(data: bytes, label=EXPECT):
    expected = set()
    for number, cell in enumerate(json.loads(data)["cells"], 1):
        if cell["cell_type"] == "code":
            for n, line in enumerate("".join(cell["source"]).split("\n"), 1):
                if label.search(line):
                    expected.add((number, n))
    return expected


def run_notebook(data: bytes, name: str):
    """Run the notebook's code under torch: the set of (cell, line) whose `.numpy()` raised, and the run result."""
    torch_harness = pytest.importorskip("torch_harness")
    pytest.importorskip("torch")
    program, where, broken = runnable_program(data)
    assert broken == {cell for cell, _ in expected_lines(data, BROKEN)}, "the cells left out are the E999 labels"
    result = torch_harness.cached_run(program, name.replace(".ipynb", ".py"))
    assert result.returncode == 0, result.stderr[-3000:]
    return {where[line - 1] for line in result.raising_lines}, result


NOTEBOOKS = sorted(FIXTURES.glob("*.ipynb"))


def test_there_are_fixture_notebooks():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_fixture_labels_are_what_torch_raises(path):
    data = path.read_bytes()
    raised, _ = run_notebook(data, path.name)
    assert raised == expected_lines(data)


def engine_or_skip(call):
    try:
        return call()
    except NotImplementedError:
        pytest.skip("the engine (api.check_source / api.fix_source) has not landed yet")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_check_notebook_reports_exactly_the_raising_lines(path):
    data = path.read_bytes()
    findings = engine_or_skip(lambda: check_notebook(data, path.name))
    assert {(f.cell, f.line) for f in findings if f.code in ("TNP001", "TNP003")} == expected_lines(data)
    assert {(f.cell, f.line) for f in findings if f.code == "E999"} == expected_lines(data, BROKEN)
    assert {f.code for f in findings} <= {"TNP001", "TNP003", "E999"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_fixed_notebook_runs_clean(path):
    data = path.read_bytes()
    fixed = engine_or_skip(lambda: fix_notebook(data, path.name))
    assert (fixed == data) == (not expected_lines(data))
    raised, result = run_notebook(fixed, "fixed_" + path.name)
    assert raised == set() and REQUIRES_GRAD not in result.stderr
    assert {(f.cell, f.line, f.code) for f in check_notebook(fixed, path.name)} == \
        {(cell, line, "E999") for cell, line in expected_lines(data, BROKEN)}
    # The fix touched only the source of code cells, and never a cell that does not parse.
    old, new = json.loads(data), json.loads(fixed)
    for cell, _ in expected_lines(data, BROKEN):
        assert old["cells"][cell - 1]["source"] == new["cells"][cell - 1]["source"]
    for cell in old["cells"] + new["cells"]:
        cell.pop("source")
    assert old == new
    diff = [line for line in difflib.ndiff(data.decode().splitlines(), fixed.decode().splitlines())
            if line.startswith(("-", "+"))]
    assert all("# expect: TNP" in line for line in diff)  # only labelled lines changed
    assert all(".detach().cpu().numpy()" in line for line in diff if line.startswith("+"))


# --- property: any layout, any source shape --------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

POOL = ["import torch", "w.numpy()", "    y = w.numpy()  # é", "%time z = w.numpy()", "!echo w.numpy()", "x = !ls",
        "w?", "s = '''", "%not a magic: in a string", "'''", "for i in r:", "    %timeit -n 2 w.numpy()",
        "print('\\\\', \"q\")", "t = (1", "% 2)", "ü = 'ñ✓\u2028'", "", "%%time", "%%bash", "tab\there",
        "\x1b[0m", "cr\r", "q = w.numpy().numpy()", "a = b \\", "c.numpy()?"]


@st.composite
def notebooks(draw):
    cells = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["code", "code", "markdown", "raw"]))
        text = "\n".join(draw(st.lists(st.sampled_from(POOL), max_size=6))) + draw(st.sampled_from(["", "\n"]))
        shape = draw(st.sampled_from(["lines", "string", "chunks"]))
        if shape == "lines":
            source = [line for line in re.split(r"(?<=\n)", text) if line]
        elif shape == "string":
            source = text
        else:
            cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
            source = [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]
        cell = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[{"output_type": "stream", "name": "stdout", "text": ["ø\n"]}])
        cells.append(cell)
    book = {"cells": cells, "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    indent = draw(st.sampled_from([None, 1, 2]))
    text = json.dumps(book, indent=indent, ensure_ascii=draw(st.booleans()), sort_keys=draw(st.booleans()))
    return (text + draw(st.sampled_from(["", "\n"]))).encode("utf-8"), indent


@hsettings(max_examples=300, deadline=None)
@given(notebooks())
def test_rewriting_touches_nothing_but_changed_source_items(case):
    data, indent = case
    nb = read_notebook(data)
    assert nb.with_program(nb.program) == data  # an unchanged program gives back the very bytes
    fixed_program = nb.program.replace(".numpy()", ".detach().cpu().numpy()")
    fixed = nb.with_program(fixed_program)
    assert read_notebook(fixed).program == fixed_program  # the fix went to the right lines and survives a re-read
    old, new = json.loads(data), json.loads(fixed)
    assert [len(c["source"]) if isinstance(c["source"], list) else -1 for c in old["cells"]] == \
           [len(c["source"]) if isinstance(c["source"], list) else -1 for c in new["cells"]]
    changed_items = {item for a, b in zip(old["cells"], new["cells"]) if a["source"] != b["source"]
                     for item in ([a["source"]] if isinstance(a["source"], str) else a["source"])}
    for cell in old["cells"] + new["cells"]:
        cell.pop("source")
    assert old == new
    if indent is not None:  # one item per JSON line: only lines holding an item of a changed source differ
        old_lines, new_lines = data.decode().split("\n"), fixed.decode().split("\n")
        assert len(old_lines) == len(new_lines)
        last_string = re.compile(r'("(?:[^"\\]|\\.)*")\s*,?\s*$')  # an item, or `"source": "..."`
        assert all(json.loads(last_string.search(a).group(1)) in changed_items
                   for a, b in zip(old_lines, new_lines) if a != b)
