"""Syntax errors are CPython's, where CPython puts them; what CPython compiles is never an error.

A file that does not parse is an ``E999`` finding at CPython's position in every output format (exit 2, never
rewritten). A file CPython compiles but libcst's tokenizer rejects (consistent mixes of tabs and spaces) is analysed
with its leading tabs expanded as CPython counts them, and fixed in place, tabs kept; what libcst cannot read even
so is "not analysed": a warning on stderr, not an error, and never rewritten.
"""
from __future__ import annotations

import ast
import itertools
import json
import sys
import textwrap
import warnings

import libcst
import pytest

import detachify
from cli_support import run_cli, write
from detachify.files import process_source
from detachify.settings import Settings
from detachify.syntax import (UnsupportedSyntax, cpython_error, expand_leading_tabs, parse, syntax_error_finding)

MODEL = "import torch\nmodel = torch.nn.Linear(2, 2)\n"
# (source, line, 1-based column, message): CPython's verdict, which the reports must repeat.
BROKEN = [
    (MODEL + "x = # TODO\nprint(model(torch.ones(2)).numpy())\n", 3, 5, "SyntaxError: invalid syntax"),
    (MODEL + "x = model(torch.ones(2)).numpy(\n", 3, 31, "SyntaxError: '(' was never closed"),
    (MODEL + "if True:\nx = model(torch.ones(2)).numpy()\n", 4, 1,
     "IndentationError: expected an indented block after 'if' statement on line 3"),
    (MODEL + "é = ö + # TODO\nprint(model(torch.ones(2)).numpy())\n", 3, 9, "SyntaxError: invalid syntax"),
    (MODEL + "y = 1\n  z = model(torch.ones(2)).numpy()\n", 4, 2, "IndentationError: unexpected indent"),
    (MODEL + "s = 'abc\nprint(model(torch.ones(2)).numpy())\n", 3, 5,
     "SyntaxError: unterminated string literal (detected at line 3)"),
    (MODEL + "if True:\n\tx = 1\n        y = model(torch.ones(2)).numpy()\n", 5, 1,
     "TabError: inconsistent use of tabs and spaces in indentation"),
]
# Consistent for CPython (a tab is 8 columns, and the order of indents agrees with tabs counted as 1), rejected by
# libcst's tokenizer ("no matching outer block for dedent").
TABS = MODEL + "if True:\n if True:\n\t out = model(torch.ones(2))\n\t print(out.numpy())\nprint('done')\n"
TABS_FIXED = TABS.replace("out.numpy()", "out.detach().cpu().numpy()")
# `(x): int = 1` is valid Python that libcst's grammar does not have.
UNSUPPORTED = MODEL + "(x): int = 1\nprint(model(torch.ones(2)).numpy())\n"


def compiles(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<test>", "exec", dont_inherit=True)
    except SyntaxError:
        return False
    return True


# --- E999 at CPython's position ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, line, column, message", BROKEN, ids=range(len(BROKEN)))
def test_the_position_is_cpythons(source, line, column, message):
    error = cpython_error(source)
    assert (error.lineno, error.offset) == (line, column)  # the table is CPython's own word
    with pytest.raises(libcst.ParserSyntaxError):  # the API keeps its contract
        detachify.check_source(source)
    finding = syntax_error_finding(source, error, "x.py")
    assert (finding.code, finding.line, finding.column + 1, finding.message) == ("E999", line, column, message)
    result = process_source(source.encode(), "x.py", "x.py", Settings(), "fix")
    assert [(f.code, f.line, f.column + 1) for f in result.findings] == [("E999", line, column)]
    assert result.new_data is None and result.error is None and result.has_syntax_error


def test_e999_in_every_output_format(tmp_path):
    source, line, column, message = BROKEN[0]
    write(tmp_path, "broken.py", source)
    write(tmp_path, "good.py", MODEL + "print(model(torch.ones(2)).numpy())\n")
    proc = run_cli("check", ".", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr == ""
    assert proc.stdout.startswith(f"broken.py:{line}:{column}: E999 {message}\ngood.py:3:27: TNP001 ")
    proc = run_cli("check", "--output-format", "json", ".", cwd=tmp_path)
    assert proc.returncode == 2
    rows = [r for r in json.loads(proc.stdout) if r["code"] == "E999"]
    assert [(r["filename"], r["location"], r["message"], r["fix"]) for r in rows] == [
        ("broken.py", {"row": line, "column": column}, message, None)]
    proc = run_cli("check", "--output-format", "github", ".", cwd=tmp_path)
    assert proc.returncode == 2
    assert f"::error file=broken.py,line={line},col={column},title=E999::{message}" in proc.stdout.splitlines()
    proc = run_cli("check", "--output-format", "sarif", ".", cwd=tmp_path)
    assert proc.returncode == 2
    [result] = [r for r in json.loads(proc.stdout)["runs"][0]["results"] if r["ruleId"] == "E999"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"], result["message"]["text"]) == (line, column, message)


def test_fix_never_rewrites_a_file_that_does_not_parse(tmp_path):
    source = BROKEN[1][0]
    path = write(tmp_path, "broken.py", source)
    good = write(tmp_path, "good.py", MODEL + "print(model(torch.ones(2)).numpy())\n")
    proc = run_cli("fix", ".", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.startswith("broken.py:3:31: E999 SyntaxError: '(' was never closed\n")
    assert path.read_text() == source and ".detach().cpu()" in good.read_text()
    proc = run_cli("fix", "--diff", ".", cwd=tmp_path)  # a diff has no findings to show; the error still says where
    assert proc.returncode == 2 and proc.stderr.startswith("broken.py:3:31: E999 SyntaxError: '(' was never closed\n")


def test_stdin(tmp_path):
    source = BROKEN[0][0]
    proc = run_cli("check", "-", "--stdin-filename", "nb/x.py", cwd=tmp_path, input=source)
    assert proc.returncode == 2 and proc.stdout.startswith("nb/x.py:3:5: E999 SyntaxError: invalid syntax\n")
    proc = run_cli("fix", "-", cwd=tmp_path, input=source)
    assert proc.returncode == 2 and proc.stdout == source  # an editor gets its buffer back unchanged


def test_exit_zero_does_not_hide_a_syntax_error(tmp_path):
    write(tmp_path, "broken.py", BROKEN[0][0])
    assert run_cli("check", "--exit-zero", ".", cwd=tmp_path).returncode == 2


def test_compiler_warnings_are_not_printed(tmp_path):
    write(tmp_path, "broken.py", MODEL + "p = '\\d'\nx = # TODO\nprint(model(torch.ones(2)).numpy())\n")
    proc = run_cli("check", ".", cwd=tmp_path, env={"PYTHONWARNINGS": "always"})
    assert proc.returncode == 2 and proc.stderr == "", proc.stderr


def test_only_the_parser_decides():
    """`return` outside a function, top-level `await`: CPython's compiler refuses them, its parser does not, and
    neither does flake8's E999 (pyflakes reports the first as F706). They are analysed as they are."""
    source = MODEL + "await something()\nreturn model(torch.ones(2)).numpy()\n"
    assert cpython_error(source) is None and not compiles(source)
    assert [(f.line, f.code) for f in detachify.check_source(source)] == [(4, "TNP001")]


def test_the_flake8_plugin_leaves_e999_to_flake8(tmp_path):
    """flake8 reports E999 itself (its column is one past CPython's: flake8's own convention); the plugin adds
    nothing for such a file."""
    source, line, column, _ = BROKEN[0]
    write(tmp_path, "broken.py", source)
    proc = run_flake8(tmp_path, "broken.py")
    [row] = proc.stdout.splitlines()
    assert row == f"broken.py:{line}:{column + 1}: E999 SyntaxError: invalid syntax", proc.stderr


def run_flake8(cwd, *args):
    import subprocess

    return subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "E999,TNP", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


# --- files CPython compiles are never errors ------------------------------------------------------------------------

def test_libcst_rejects_what_cpython_compiles():
    """The premise: if libcst ever reads these, expansion and the "not analysed" path have nothing left to do."""
    for source in (TABS, UNSUPPORTED):
        assert compiles(source)
        with pytest.raises(libcst.ParserSyntaxError):
            libcst.parse_module(source)


def test_tabs_are_expanded_as_cpython_counts_them():
    text, indents = expand_leading_tabs("a\n\tb\n  \tc\n \f d\n\t'''\n\tkept\n'''\n", keep={6})
    assert text == "a\n        b\n        c\n d\n        '''\n\tkept\n'''\n"
    assert indents == {2: (1, 8), 3: (3, 8), 4: (3, 1), 5: (1, 8)}


def test_a_mixed_tabs_file_is_analysed_at_its_own_columns():
    [finding] = detachify.check_source(TABS)
    assert (finding.code, finding.line, finding.column) == ("TNP001", 6, TABS.splitlines()[5].index(".numpy"))
    assert finding.fix.edits[0].start_column == finding.column
    fixed = detachify.fix_source(TABS)
    assert fixed == TABS_FIXED  # only the insertion: the tabs stay
    assert compiles(fixed) and detachify.fix_source(fixed) == fixed


def test_a_mixed_tabs_file_through_the_cli_and_flake8(tmp_path):
    path = write(tmp_path, "tabs.py", TABS)
    column = TABS.splitlines()[5].index(".numpy") + 1
    proc = run_cli("check", "-q", ".", cwd=tmp_path)
    assert (proc.returncode, proc.stdout.split(" ")[0], proc.stderr) == (1, f"tabs.py:6:{column}:", "")
    flake8 = run_flake8(tmp_path, "tabs.py")
    assert flake8.stdout.startswith(f"tabs.py:6:{column}: TNP001 "), flake8.stdout + flake8.stderr
    assert run_cli("fix", ".", cwd=tmp_path).returncode == 0
    assert path.read_text() == TABS_FIXED


def test_a_file_libcst_cannot_read_is_not_analysed_with_a_warning(tmp_path):
    with pytest.raises(UnsupportedSyntax, match=r"CPython compiles it, but libcst's parser cannot read line 3"):
        detachify.check_source(UNSUPPORTED)
    path = write(tmp_path, "odd.py", UNSUPPORTED)
    for command in ("check", "fix"):
        proc = run_cli(command, ".", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.startswith("odd.py: warning: not analysed: CPython compiles it, but libcst's parser "
                                      "cannot read line 3, column ")
        assert "E999" not in proc.stdout and "error" not in proc.stderr
    assert path.read_text() == UNSUPPORTED
    proc = run_cli("check", "--output-format", "json", "-", "--stdin-filename", "odd.py", cwd=tmp_path,
                   input=UNSUPPORTED)
    assert (proc.returncode, json.loads(proc.stdout)) == (0, [])
    assert proc.stderr.startswith("odd.py: warning: not analysed:")
    assert run_flake8(tmp_path, "odd.py").returncode == 0  # flake8 compiles it fine, and the plugin says nothing


def test_a_bad_tab_mix_is_still_cpythons_tab_error():
    source = BROKEN[-1][0]
    with pytest.raises(libcst.ParserSyntaxError):
        detachify.check_source(source)


PREFIXES = ["", " ", "  ", "\t", " \t", "\t ", "        ", "\t\t", "    \t", "\t    ", "  \t", "       \t", "\f\t"]


def test_every_small_mix_cpython_compiles_is_analysed():
    """Every two-level nesting of these indents that CPython compiles is read and analysed, the finding placed on
    the conversion in the original text; those CPython rejects stay syntax errors."""
    analysed = rejected = expanded = 0
    for outer, inner, after in itertools.product(PREFIXES, repeat=3):
        source = (MODEL + f"if True:\n{outer}if True:\n{inner}out = model(torch.ones(2))\n"
                  f"{inner}print(out.numpy())\n{after}done = 1\n")
        if cpython_error(source) is None:
            try:
                libcst.parse_module(source)
            except libcst.ParserSyntaxError:
                expanded += 1  # read only thanks to the expansion
            [finding] = detachify.check_source(source)
            assert (finding.line, finding.column) == (6, source.split("\n")[5].index(".numpy")), repr(source)
            analysed += 1
        else:
            with pytest.raises(libcst.ParserSyntaxError):
                detachify.check_source(source)
            rejected += 1
    assert (analysed, rejected) == (79, 2118)  # CPython's rules
    assert expanded == 30  # libcst 1.9's tokenizer; a libcst that reads more of them makes this smaller


def test_parse_maps_positions_of_unsupported_syntax_back():
    source = "if x:\n if y:\n\t (a): int = 1\n"
    with pytest.raises(UnsupportedSyntax) as raised:
        parse(source)
    assert raised.value.line == 3


def test_lines_inside_strings_keep_their_tabs():
    source = textwrap.dedent('''\
        import torch
        model = torch.nn.Linear(2, 2)
        if True:
         if True:
        \t doc = """
        \tindented with a tab
        \t"""
        \t print(model(torch.ones(2)).numpy(), doc)
        ''')
    assert compiles(source)
    fixed = detachify.fix_source(source)
    assert fixed == source.replace(".numpy()", ".detach().cpu().numpy()")
    assert ast.literal_eval(ast.parse(fixed).body[2].body[0].body[0].value) == "\n\tindented with a tab\n\t"


def test_fixtures_reindented_with_tab_mixes_keep_every_fix_property():
    """Each fixture with its 4-space levels re-indented as " ", "\\t ", "\\t\\t ", ... (wider at each level, with
    tabs as 8 columns and as 1): CPython compiles every one, libcst's tokenizer rejects those that dedent across
    levels; those are analysed as they are and pass the fuzz properties (fixes parse, are idempotent, insert
    only conversion chains)."""
    import re

    import fuzz_support as fs

    levels = [""] + ["\t" * k + " " for k in range(12)]
    expanded = 0
    for path in fs.FIXTURE_FILES:
        source = path.read_text(encoding="utf-8")
        mixed = "".join(re.sub(r"^ +", lambda m: levels[len(m.group()) // 4] + " " * (len(m.group()) % 4), line)
                        for line in source.splitlines(keepends=True))
        assert compiles(mixed) == compiles(source), path.name
        try:
            libcst.parse_module(mixed)
        except libcst.ParserSyntaxError:
            expanded += 1
            outcome = fs.examine(mixed)  # raises on a violated property
            assert outcome.findings == fs.examine(source).findings, path.name
    assert expanded >= 20
