"""Markdown notebooks (jupytext Markdown, MyST, notedown/d2lbook): which `.md` files are notebooks, which fences are
their code cells, positions in the `.md` file itself, fixes spliced back byte for byte, and every door the `.ipynb`
handler goes through (directories, excludes, output formats, the cache, projects).

The fixtures of `fixtures/notebooks/*.md` are executed under torch: this file reads their cells its own simple way
(column-0 fences of the fixture's format, jupytext regions, MyST options, d2lbook tabs), runs them as one program and
maps the lines that raise back to md lines; those must be exactly the `# expect:` labels.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_support import NET_MODULE, run_cli, run_main, write
from detachify.markdown_cells import read_markdown
from detachify.markdown_notebook import analyse_markdown, fix_markdown

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "notebooks"
MARKDOWN_FIXTURES = sorted(FIXTURES.glob("*.md"))
EXPECT = re.compile(r"#\s*expect:\s*(TNP\d+)")
BROKEN = re.compile(r"#\s*expect:\s*E999\b")
REQUIRES_GRAD = "Can't call numpy() on Tensor that requires grad"

FRONT_MATTER = textwrap.dedent("""\
    ---
    jupyter:
      jupytext:
        text_representation:
          extension: .md
          format_name: markdown
      kernelspec:
        display_name: Python 3
        language: python
        name: python3
    ---
    """)
SETUP = "import torch\nw = torch.ones(3, requires_grad=True)\n"


def jupytext(*cells: str, front: str = FRONT_MATTER) -> str:
    """A jupytext Markdown notebook: str cells are code, ("md", text) markdown."""
    parts = [front]
    for cell in cells:
        parts.append(cell[1] + "\n" if isinstance(cell, tuple) else "```python\n" + cell + "```\n")
    return "\n".join(parts)


def rows(findings):
    return [(f.line, f.column + 1, f.code) for f in findings]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


# --- the fixtures, under torch --------------------------------------------------------------------------------------

def fixture_cells(text: str):
    """[(md line of each code line, its text)] per cell, read the simple way the fixtures are written."""
    kind = "myst" if "{code-cell}" in text else "d2l" if "{.python .input" in text else "jupytext"
    opener = {"jupytext": r"```python$", "myst": r"```\{code-cell\} ipython3$", "d2l": r"```\{\.python \.input.*\}$"}
    lines = text.split("\n")
    cells, index, region = [], 0, False
    while index < len(lines):
        line = lines[index]
        if line.startswith("<!-- #region"):
            region = True
        elif line.startswith("<!-- #endregion"):
            region = False
        elif line.startswith("```"):
            end = next(i for i in range(index + 1, len(lines)) if lines[i] == "```")
            body = list(range(index + 1, end))
            if kind == "myst" and body and lines[body[0]] == "---":  # a YAML block of options
                body = body[next(k for k in range(1, len(body)) if lines[body[k]] == "---") + 1:]
            while kind == "myst" and body and lines[body[0]].startswith(":"):
                body = body[1:]
            if not region and re.match(opener[kind], line):
                cells.append([(i + 1, lines[i]) for i in body])
            index = end
        index += 1
    if kind == "d2l":  # tabs: pytorch or all; untagged is mxnet
        def tabs(cell):
            mark = re.match(r"#@tab (.*)", cell[0][1]) if cell else None
            return {t.strip() for t in mark.group(1).split(",")} if mark else {"mxnet"}
        cells = [cell for cell in cells if tabs(cell) & {"pytorch", "all"}]
    return cells


def runnable(text: str):
    """(program, md line of each program line, md lines of the cells that do not compile)."""
    program, where, broken = [], [], set()
    for cell in fixture_cells(text):
        code = ["pass" if line.lstrip().startswith(("%", "!")) else line for _, line in cell]
        try:
            compile("\n".join(code), "cell", "exec")
        except SyntaxError:
            broken |= {number for number, _ in cell}
            code = [""] * len(code)
        program += code
        where += [number for number, _ in cell]
    return "\n".join(program) + "\n", where, broken


def labelled(text: str, label=EXPECT):
    return {n for n, line in enumerate(text.split("\n"), 1) if label.search(line)}


def run_fixture(text: str, name: str):
    torch_harness = pytest.importorskip("torch_harness")
    pytest.importorskip("torch")
    program, where, broken = runnable(text)
    assert labelled(text, BROKEN) <= broken, "an E999 label sits in a cell that does not compile"
    result = torch_harness.cached_run(program, name.replace(".md", ".py"))
    assert result.returncode == 0, result.stderr[-3000:]
    return {where[line - 1] for line in result.raising_lines}, result


def test_there_are_markdown_fixtures_of_each_format():
    texts = [p.read_text() for p in MARKDOWN_FIXTURES]
    assert any("format_name: markdown" in t for t in texts) and any("{code-cell}" in t for t in texts)
    assert any("#@tab" in t for t in texts)


@pytest.mark.parametrize("path", MARKDOWN_FIXTURES, ids=lambda p: p.stem)
def test_fixture_labels_are_what_torch_raises(path):
    text = path.read_text()
    raised, _ = run_fixture(text, path.name)
    assert raised == labelled(text)


@pytest.mark.parametrize("path", MARKDOWN_FIXTURES, ids=lambda p: p.stem)
def test_the_findings_are_the_labelled_md_lines(path):
    text = path.read_text()
    findings = analyse_markdown(path.read_bytes(), path.name).findings
    assert {f.line for f in findings if f.code != "E999"} == labelled(text)
    assert {f.line for f in findings if f.code == "E999"} == labelled(text, BROKEN)
    assert all(f.filename == path.name for f in findings)


@pytest.mark.parametrize("path", MARKDOWN_FIXTURES, ids=lambda p: p.stem)
def test_the_fixed_fixture_runs_clean_and_changed_only_code_lines(path):
    data = path.read_bytes()
    fixed = fix_markdown(data, path.name)
    assert (fixed == data) == (not labelled(data.decode()))
    raised, result = run_fixture(fixed.decode(), "fixed_" + path.name)
    assert raised == set() and REQUIRES_GRAD not in result.stderr
    broken = labelled(data.decode(), BROKEN)
    assert [f.code for f in analyse_markdown(fixed, path.name).findings] == ["E999"] * len(broken)
    old, new = data.decode().split("\n"), fixed.decode().split("\n")
    code_lines = {number for cell in fixture_cells(data.decode()) for number, _ in cell}
    assert len(old) == len(new)
    changed = {n for n, (a, b) in enumerate(zip(old, new), 1) if a != b}
    assert changed <= code_lines - broken
    assert fix_markdown(fixed, path.name) == fixed  # a second fix changes nothing


# --- which .md files are notebooks, which fences are cells ----------------------------------------------------------

README = textwrap.dedent("""\
    # A project

    ```python
    import torch
    w = torch.ones(2, requires_grad=True)
    print(w.numpy())
    ```
    """)


def test_a_readme_with_python_fences_is_documentation(tmp_path, capsys):
    readme = write(tmp_path, "README.md", README)
    before = readme.read_bytes()
    assert run_main(capsys, "check", "--isolated", str(tmp_path)) == (0, "All checks passed!\n", "")
    assert run_main(capsys, "check", "--isolated", str(readme))[0] == 0  # named on the command line too
    assert run_main(capsys, "fix", "--isolated", str(tmp_path))[0] == 0
    assert readme.read_bytes() == before
    assert read_markdown(README) is None


def test_each_format_is_found_when_walking_a_directory(tmp_path):
    for path in MARKDOWN_FIXTURES:
        write(tmp_path, path.name, path.read_bytes())
    write(tmp_path, "README.md", README)
    proc = run_cli("check", "--isolated", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr  # the exercise's E999
    found = {(Path(f["filename"]).name, f["location"]["row"], f["code"]) for f in json.loads(proc.stdout)}
    expected = {(p.name, line, code) for p in MARKDOWN_FIXTURES
                for line, text in enumerate(p.read_text().split("\n"), 1)
                for code in re.findall(r"(?:TNP\d+|E999)", text.split("# expect:")[-1]) if "# expect:" in text}
    assert found == expected and all(f.get("cell") is None for f in json.loads(proc.stdout))


def test_jupytext_regions_comments_and_other_languages_are_not_code():
    text = jupytext(SETUP, ("md", "<!-- #region -->\n```python\nw.numpy()\n```\n<!-- #endregion -->"),
                    ("md", "<!--\n```python\nw.numpy()\n```\n-->"), ("md", "```bash\nw.numpy()\n```"),
                    ("md", "````markdown\n```python\nw.numpy()\n```\n````"), "print(w.numpy())\n")
    assert rows(analyse_markdown(text.encode(), "nb.md").findings) == \
        [(line_of(text, "print(w.numpy())"), 8, "TNP001")]


def test_a_notebook_of_another_kernel_is_skipped():
    text = jupytext(SETUP + "print(w.numpy())\n", front=FRONT_MATTER.replace("language: python", "language: R"))
    assert read_markdown(text) is None and analyse_markdown(text.encode(), "nb.md").findings == []


def test_myst_cells_options_and_plain_fences():
    text = textwrap.dedent("""\
        ```{code-cell} ipython3
        :tags: [hide-input]
        import torch
        w = torch.ones(3, requires_grad=True)
        ```

        ```python
        w.numpy()
        ```

        ```{code-cell} R
        w.numpy()
        ```

        ```{code-cell}
        ---
        tags: [raises-exception]
        ---
        print(w.numpy())
        ```
        """)
    assert rows(analyse_markdown(text.encode(), "nb.md").findings) == [(19, 8, "TNP001")]


D2L = textwrap.dedent("""\
    ```{.python .input}
    from mxnet import np
    w = np.ones(3)
    ```

    ```{.python .input}
    #@tab pytorch
    import torch
    ```

    ```{.python .input  n=3}
    #@tab all
    def scaled(t):
        return t * 2
    ```

    ```{.python .input}
    #@tab pytorch
    w = torch.ones(3)
    ```

    ```{.python .input}
    w = torch.ones(3, requires_grad=True)
    ```

    ```{.python .input}
    #@tab mxnet, tensorflow
    w = torch.ones(3, requires_grad=True)
    ```

    ```{.python .input}
    #@tab pytorch, mxnet
    v = torch.zeros(2, requires_grad=True)
    print(scaled(v).numpy())
    print(w.numpy())
    ```
    """)


def test_d2l_reads_only_the_pytorch_and_all_tabs():
    findings = analyse_markdown(D2L.encode(), "chapter.md").findings
    # `w` is the pytorch cell's (no grad): the untagged (mxnet) and the mxnet/tensorflow cells are not read; the
    # `#@tab all` helper is, and the `pytorch, mxnet` list cell too.
    assert rows(findings) == [(line_of(D2L, "print(scaled(v)"), 16, "TNP001")]
    assert "scaled" in findings[0].message


def test_d2l_tab_magic_and_files_without_tabs():
    magic = D2L.replace("#@tab", "%%tab")
    assert rows(analyse_markdown(magic.encode(), "chapter.md").findings) == [(line_of(D2L, "print(scaled(v)"), 16,
                                                                              "TNP001")]
    untabbed = "```{.python .input}\nimport torch\nw = torch.ones(3, requires_grad=True)\n```\n\n" \
               "```{.python .input  n=2}\nprint(w.numpy())\n```\n"
    assert rows(analyse_markdown(untabbed.encode(), "plain.md").findings) == [(7, 8, "TNP001")]


# --- positions: the .md file's own lines and columns -----------------------------------------------------------------

def test_positions_and_messages_are_md_lines_in_text_and_json(tmp_path, capsys):
    text = jupytext(SETUP, ("md", "Some prose.\n\nMore prose."),
                    "def show(t):\n    print(t.numpy())\n", "%time show(w)\n%time print(w.numpy())\n")
    write(tmp_path, "nb.md", text)
    helper, call = line_of(text, "print(t.numpy())"), line_of(text, "%time show(w)")
    timed = line_of(text, "%time print")
    status, out, _ = run_main(capsys, "check", "--isolated", str(tmp_path / "nb.md"))
    assert status == 1
    assert f"nb.md:{helper}:12: TNP001" in out and f"passed to `show` at line {call}" in out
    assert f"nb.md:{timed}:14: TNP001" in out  # the column counts the `%time ` the program does not have
    status, out, _ = run_main(capsys, "check", "--isolated", "--output-format", "json",
                              str(tmp_path / "nb.md"))
    rows_ = {(d["location"]["row"], d["location"]["column"], d["fix"]["edits"][0]["location"]["column"])
             for d in json.loads(out)}
    assert rows_ == {(helper, 12, 12), (timed, 14, 14)}


def test_github_and_sarif_point_into_the_md_file(tmp_path, capsys):
    text = jupytext(SETUP, "print(w.numpy())\n")
    write(tmp_path, "nb.md", text)
    line = line_of(text, "print(w.numpy())")
    out = run_main(capsys, "check", "--isolated", "--output-format", "github", str(tmp_path / "nb.md"))[1]
    assert f"nb.md,line={line},col=8,title=TNP001::`w`" in out
    sarif = json.loads(run_main(capsys, "check", "--isolated", "--output-format", "sarif",
                                str(tmp_path / "nb.md"))[1])
    result = sarif["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == line
    replacement = result["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["deletedRegion"]["startLine"] == line and replacement["insertedContent"]["text"]


def test_a_cell_that_does_not_parse_is_an_e999_at_its_md_line_and_the_rest_is_checked(tmp_path, capsys):
    text = jupytext(SETUP, "w = w.detach()\nx = # TODO\n", "print(w.numpy())\n")
    path = write(tmp_path, "nb.md", text)
    status, out, _ = run_main(capsys, "check", "--isolated", str(path))
    assert status == 2
    assert f"nb.md:{line_of(text, 'x = # TODO')}:5: E999 SyntaxError: invalid syntax" in out
    assert f"nb.md:{line_of(text, 'print(w.numpy())')}:8: TNP001" in out  # the broken cell never ran
    assert run_main(capsys, "fix", "--isolated", str(path))[0] == 2  # fixed, as an .ipynb is
    fixed = path.read_text()
    assert "print(w.detach().cpu().numpy())" in fixed and "x = # TODO" in fixed


# --- fix: spliced back, byte for byte ---------------------------------------------------------------------------------

def test_fix_rewrites_only_the_changed_code_and_keeps_every_other_byte(tmp_path, capsys):
    text = jupytext(SETUP + "%matplotlib inline\n", ("md", "Prosé with trailing spaces   \n\n| a | b |\n|---|---|"),
                    "print(w.numpy())   # note\n!echo w.numpy()\n") + "no newline at the end"
    data = text.replace("\n", "\r\n").encode("utf-8")
    path = write(tmp_path, "nb.md", data)
    assert run_main(capsys, "fix", "--isolated", str(path))[0] == 0
    fixed = path.read_bytes()
    old, new = data.split(b"\r\n"), fixed.split(b"\r\n")
    assert len(old) == len(new) and [(a, b) for a, b in zip(old, new) if a != b] == \
        [(b"print(w.numpy())   # note", b"print(w.detach().cpu().numpy())   # note")]
    assert run_main(capsys, "check", "--isolated", str(path))[0] == 0
    assert run_main(capsys, "fix", "--isolated", str(path))[0] == 0
    assert path.read_bytes() == fixed  # a second fix changes nothing


def test_fix_diff_shows_md_lines(tmp_path, capsys):
    text = jupytext(SETUP, "print(w.numpy())\n")
    path = write(tmp_path, "nb.md", text)
    status, out, _ = run_main(capsys, "fix", "--isolated", "--diff", str(path))
    assert "-print(w.numpy())\n+print(w.detach().cpu().numpy())\n" in out and path.read_text() == text


# --- the other doors -----------------------------------------------------------------------------------------------

def test_excludes_and_gitignore_apply_as_for_ipynb(tmp_path, capsys):
    text = jupytext(SETUP, "print(w.numpy())\n")
    write(tmp_path, "notes/nb.md", text)
    write(tmp_path, "other/nb.md", text)
    status, out, _ = run_main(capsys, "check", "--isolated", "--extend-exclude", "*.md", str(tmp_path))
    assert "nb.md" not in out
    status, out, _ = run_main(capsys, "check", "--isolated", "--exclude", "notes", str(tmp_path))
    assert "other/nb.md" in out and "notes/nb.md" not in out
    write(tmp_path, ".gitignore", "other/\n")
    write(tmp_path, "pyproject.toml", "[tool.detachify]\nextend-exclude = ['notes/*.md']\n")
    status, out, _ = run_main(capsys, "check", str(tmp_path))
    assert status == 0 and "nb.md" not in out
    named = run_main(capsys, "check", "--force-exclude", str(tmp_path / "notes" / "nb.md"))
    assert named[0] == 0 and "nb.md" not in named[1]


def test_a_md_notebook_reads_the_project_modules_beside_it(tmp_path, capsys, monkeypatch):
    write(tmp_path, "pyproject.toml", "[project]\nname = 'p'\n")
    write(tmp_path, "netlib.py", NET_MODULE)
    text = jupytext("import torch\nfrom netlib import Net\n", "out = Net()(torch.randn(3, 4))\nprint(out.numpy())\n")
    write(tmp_path, "explore.md", text)
    line = line_of(text, "print(out.numpy())")
    monkeypatch.chdir(tmp_path)
    for target in ("explore.md", "."):
        status, out, _ = run_main(capsys, "check", "--isolated", target)
        assert status == 1 and f"explore.md:{line}:10: TNP001 [*] `out` is the output of module" in out


RUN = """
import sys
from detachify.cli import main
status = main(sys.argv[1:])
print("parser loaded:", "libcst" in sys.modules)
raise SystemExit(status)
"""


def fresh_process(*args, cwd):
    """The CLI in a new interpreter, with the cache as a user has it (an in-process `--no-cache` run of an earlier
    test leaves DETACHIFY_NO_CACHE in this process's environment): (status, output, whether libcst was loaded)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DETACHIFY_")}
    proc = subprocess.run([sys.executable, "-c", RUN, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=env)
    *output, loaded = proc.stdout.splitlines()
    return proc.returncode, "\n".join(output), loaded == "parser loaded: True"


def test_a_warm_run_notices_an_edited_md_notebook(tmp_path):
    def check():
        return fresh_process("check", "--isolated", "-q", ".", cwd=tmp_path)

    write(tmp_path, "pyproject.toml", "[project]\nname = 'p'\n")
    write(tmp_path, "README.md", README)
    clean = jupytext(SETUP, "print(w.detach().numpy())\n")
    notebook = write(tmp_path, "nb.md", clean)
    assert check() == (0, "", True)
    assert check() == (0, "", False)  # read back whole: not even the parser
    notebook.write_text(clean.replace("w.detach().numpy()", "w.numpy()"))
    status, out, parsed = check()
    assert status == 1 and f"nb.md:{line_of(clean, 'print(w.')}:8: TNP001" in out and parsed
    assert check()[:2] == (status, out)
    notebook.write_text(clean)
    assert check()[:2] == (0, "")


def test_a_readme_costs_no_parser(tmp_path):
    write(tmp_path, "README.md", README)
    assert fresh_process("check", "--isolated", "--no-cache", "-q", "README.md", cwd=tmp_path) == (0, "", False)


# --- the reader's edges ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    *(p.read_text() for p in MARKDOWN_FIXTURES),
    "\ufeff" + jupytext(SETUP, "print(w.numpy())"),  # a BOM, and a cell whose last line has no break of its own
    jupytext(SETUP).replace("\n", "\r\n") + "\rlone carriage return\r",
    jupytext(SETUP, "print(w.numpy())\n") + "```python\nunclosed = w.numpy()\n",
], ids=lambda t: repr(t[:12]))
def test_an_unchanged_program_gives_back_the_very_bytes(text):
    notebook = read_markdown(text)
    assert notebook.with_program(notebook.program) == text.encode("utf-8")
    assert len(notebook.program.split("\n")) - 1 == len(notebook.lines)  # one program line per file line


def test_a_fix_never_leaves_a_cell_that_does_not_parse():
    from detachify.notebook import NotebookError

    notebook = read_markdown(jupytext(SETUP, "print(w.numpy())\n"))
    with pytest.raises(NotebookError, match="does not parse"):
        notebook.with_program(notebook.program.replace("print(w.numpy())", "print(w.numpy("))


def test_a_cell_libcst_cannot_read_is_left_out_with_a_warning_naming_its_line(tmp_path, capsys):
    text = jupytext(SETUP, "(x): int = 1\n", "print(w.numpy())\n")
    write(tmp_path, "nb.md", text)
    status, out, err = run_main(capsys, "check", "--isolated", str(tmp_path / "nb.md"))
    assert status == 1 and f"nb.md:{line_of(text, 'print(w.numpy())')}:8: TNP001" in out
    assert f"the cell at line {line_of(text, '(x): int = 1')} not analysed" in err


def test_what_a_md_notebook_passes_to_a_project_helper_is_followed_into_it(tmp_path, capsys, monkeypatch):
    write(tmp_path, "pyproject.toml", "[project]\nname = 'p'\n")
    write(tmp_path, "plots.py", "def show(t):\n    print(t.numpy())\n")
    write(tmp_path, "README.md", README)
    text = jupytext(SETUP + "from plots import show\n", "show(w * 2)\n")
    write(tmp_path, "explore.md", text)
    call = line_of(text, "show(w * 2)")
    monkeypatch.chdir(tmp_path)
    for target in ("plots.py", "."):
        status, out, _ = run_main(capsys, "check", "--isolated", target)
        assert status == 1 and "plots.py:2:12: TNP001" in out and f"(passed to `show` at explore.md:{call})" in out, out
    write(tmp_path, "explore.md", text.replace("show(w * 2)", "show((w * 2).detach())"))
    assert run_main(capsys, "check", "--isolated", "plots.py")[0] == 0
