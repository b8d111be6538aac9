"""The flake8 door, through the real `flake8` executable: flake8 owns noqa/select/ignore, we own the findings."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from detachify import Settings, check_source

BAD = textwrap.dedent("""\
    import torch
    model = torch.nn.Linear(4, 2)
    out = model(torch.randn(3, 4))
    print(out.numpy())
""")
CLEAN = "import torch\nprint(torch.randn(3).numpy())\n"
LINE = re.compile(r"^(?P<path>.+?):(?P<row>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<text>.*)$")


def flake8(*args, cwd, isolated=True):
    """Run flake8 with no user/project config unless the test writes one; returns (rc, parsed lines, raw)."""
    cmd = [sys.executable, "-m", "flake8", *(["--isolated"] if isolated else []), *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    parsed = [LINE.match(line) for line in proc.stdout.splitlines()]
    assert all(parsed), proc.stdout + proc.stderr
    return proc.returncode, [(m["path"], int(m["row"]), int(m["col"]), m["code"], m["text"]) for m in parsed], proc


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def codes(results):
    return [(row, code) for _, row, _, code, _ in results]


def test_reports_engine_findings_with_flake8_columns(tmp_path):
    write(tmp_path, "bad.py", BAD)
    rc, results, _ = flake8("--select", "TNP", "bad.py", cwd=tmp_path)
    expected = check_source(BAD, "bad.py")
    assert rc == 1
    # flake8 prints column + 1 of what the plugin yields; the engine's column is 0-based, so one +1 in total.
    assert [(row, col, code) for _, row, col, code, _ in results] == [(f.line, f.column + 1, f.code) for f in expected]
    assert [text for *_, text in results] == [f.message for f in expected]
    assert codes(results) == [(4, "TNP001")]


def detachify_check(*args, cwd):
    proc = subprocess.run([sys.executable, "-m", "detachify", "check", "-q", "--output-format", "concise", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)
    parsed = [LINE.match(line) for line in proc.stdout.splitlines()]
    return [(m["path"], int(m["row"]), int(m["col"]), m["code"]) for m in parsed if m]


def test_column_matches_cli(tmp_path):
    write(tmp_path, "bad.py", "import torch\nw = torch.ones(2, requires_grad=True)\nx = 1;   y = (w * 2).numpy()\n")
    _, results, _ = flake8("--select", "TNP", "bad.py", cwd=tmp_path)
    assert results and [(p, r, c, code) for p, r, c, code, _ in results] == detachify_check("bad.py", cwd=tmp_path)


# flake8 looks for `noqa` in the joined text of all physical lines between two NL/NEWLINE tokens (a
# multi-line string or a backslash continuation makes one range), and in that raw text, strings included.
NOQA_LAYOUTS = {
    "same-line": "x = out.numpy()  # noqa: TNP001\n",
    "parenthesised-next-line": "print(\n    out.numpy()\n)  # noqa: TNP001\n",
    "parenthesised-same-line": "x = (out.numpy()  # noqa: TNP001\n     )\n",
    "multiline-string": 'y = out.numpy(); s = """\n"""  # noqa: TNP001\n',
    "backslash": "y = out.numpy() + \\\n    1  # noqa: TNP001\n",
    "inside-string": 'print(out.numpy(), "# noqa")\n',
    # Codes are letters then digits: TNP001 is one code, not a blanket noqa, and the list goes on after E501.
    "code-after-another": "x = out.numpy()  # noqa: E501, TNP001\n",
    "other-code-only": "x = out.numpy()  # noqa: TNP003\n",
}


@pytest.mark.parametrize("layout", sorted(NOQA_LAYOUTS))
def test_noqa_agrees_with_cli(tmp_path, layout):
    write(tmp_path, "m.py", BAD.replace("print(out.numpy())\n", NOQA_LAYOUTS[layout]))
    flake8_found = [(p, r, c, code) for p, r, c, code, _ in flake8("--select", "TNP", "m.py", cwd=tmp_path)[1]]
    assert flake8_found == detachify_check("m.py", cwd=tmp_path)


# How flake8 reads the codes of a `# noqa:` list (flake8 7: `[A-Z]+[0-9]+`, compared as written, by prefix); a list
# it cannot read leaves a bare `# noqa`. Each comment: (does flake8 suppress the TNP001 on its line?).
NOQA_CODE_LISTS = {
    "# noqa: TNP002": False,  # another code of ours: the TNP001 stays (a `[A-Z][0-9]+` pattern read it as bare)
    "# noqa: E501,TNP002": False,
    "# noqa:TNP0": True,  # a prefix
    "# noqa: TNP001 TNP002": True,
    "# noqa: tnp001": False,  # flake8 compares the codes as written
    "# noqa:TNP": True,  # no digits: not a code list, so a bare `# noqa`
    "# noqa:  TNP002": True,  # two spaces: not a code list either
    "# NOQA : TNP002": True,
    "#noqa": False,  # flake8 wants `# noqa`
}


@pytest.mark.parametrize("comment", sorted(NOQA_CODE_LISTS))
def test_noqa_code_lists_are_read_as_flake8_reads_them(tmp_path, comment):
    write(tmp_path, "m.py", BAD.replace("print(out.numpy())", "print(out.numpy())  " + comment))
    flake8_found = [(p, r, c, code) for p, r, c, code, _ in flake8("--select", "TNP", "m.py", cwd=tmp_path)[1]]
    assert flake8_found == detachify_check("m.py", cwd=tmp_path)
    assert (flake8_found == []) is NOQA_CODE_LISTS[comment]


def test_clean_file(tmp_path):
    write(tmp_path, "clean.py", CLEAN)
    assert flake8("--select", "TNP", "clean.py", cwd=tmp_path)[:2] == (0, [])


@pytest.mark.parametrize("comment", ["  # noqa", "  # noqa: TNP001", "  # NOQA:TNP", "  # noqa: E501,TNP001"])
def test_noqa_suppresses(tmp_path, comment):
    write(tmp_path, "bad.py", BAD.replace("print(out.numpy())", "print(out.numpy())" + comment))
    assert flake8("--select", "TNP", "bad.py", cwd=tmp_path)[:2] == (0, [])


def test_noqa_for_other_code_does_not_suppress(tmp_path):
    write(tmp_path, "bad.py", BAD.replace("print(out.numpy())", "print(out.numpy())  # noqa: E501"))
    assert codes(flake8("--select", "TNP", "bad.py", cwd=tmp_path)[1]) == [(4, "TNP001")]


def test_disable_noqa_shows_suppressed(tmp_path):
    write(tmp_path, "bad.py", BAD.replace("print(out.numpy())", "print(out.numpy())  # noqa: TNP001"))
    assert codes(flake8("--select", "TNP", "--disable-noqa", "bad.py", cwd=tmp_path)[1]) == [(4, "TNP001")]


def test_file_level_detachify_noqa(tmp_path):
    # flake8 does not know this comment, so the plugin honours it: same silence as `detachify check`.
    write(tmp_path, "bad.py", "# detachify: noqa\n" + BAD)
    assert flake8("--select", "TNP", "bad.py", cwd=tmp_path)[:2] == (0, [])


@pytest.mark.parametrize("select, found", [("TNP001", True), ("TNP0", True), ("TNP", True), ("E,W", False)])
def test_select(tmp_path, select, found):
    write(tmp_path, "bad.py", BAD)
    assert bool(flake8("--select", select, "bad.py", cwd=tmp_path)[1]) is found


@pytest.mark.parametrize("ignore", ["TNP", "TNP001"])
def test_extend_ignore(tmp_path, ignore):
    write(tmp_path, "bad.py", BAD)
    assert flake8("--extend-ignore", ignore, "--select", "TNP", "bad.py", cwd=tmp_path)[:2] == (0, [])
    # With flake8's default selection (everything) the code is reported among pycodestyle/pyflakes ones.
    assert ("bad.py", 4) in [(p, r) for p, r, _, c, _ in flake8("bad.py", cwd=tmp_path)[1] if c == "TNP001"]
    assert not [c for *_, c, _ in flake8("--extend-ignore", ignore, "bad.py", cwd=tmp_path)[1] if c.startswith("TNP")]


def test_per_file_ignores(tmp_path):
    write(tmp_path, "bad.py", BAD)
    write(tmp_path, "test_bad.py", BAD)
    _, results, _ = flake8("--select", "TNP", "--per-file-ignores", "test_*.py:TNP001", "bad.py", "test_bad.py",
                           cwd=tmp_path)
    assert [(p, r, c) for p, r, _, c, _ in results] == [("bad.py", 4, "TNP001")]


@pytest.mark.parametrize("config_name", ["setup.cfg", "tox.ini", ".flake8"])
def test_config_file(tmp_path, config_name):
    write(tmp_path, "bad.py", BAD)
    write(tmp_path, config_name, "[flake8]\nselect = TNP\nper-file-ignores =\n    other.py:TNP001\n")
    rc, results, proc = flake8("bad.py", cwd=tmp_path, isolated=False)
    assert codes(results) == [(4, "TNP001")], proc.stderr


def test_no_fix_options(tmp_path):
    # flake8 does not fix, and `detachify fix` reads [tool.detachify] only: the plugin offers no fix option that
    # would be accepted and then ignored. A `detachify-fix-style` left in an old config is ignored by flake8.
    write(tmp_path, "bad.py", BAD)
    proc = subprocess.run([sys.executable, "-m", "flake8", "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and "--detachify" not in proc.stdout and "fix-style" not in proc.stdout
    write(tmp_path, "setup.cfg", "[flake8]\nselect = TNP\ndetachify-fix-style = force\n")
    rc, results, proc = flake8("bad.py", cwd=tmp_path, isolated=False)
    assert rc == 1 and codes(results) == [(4, "TNP001")], proc.stderr


def test_explicit_config_argument(tmp_path):
    write(tmp_path, "bad.py", BAD)
    write(tmp_path, "lint.cfg", "[flake8]\nselect = TNP\n")
    rc, results, _ = flake8("--config", "lint.cfg", "bad.py", cwd=tmp_path, isolated=False)
    assert codes(results) == [(4, "TNP001")]


def test_syntax_error_is_left_to_flake8(tmp_path):
    write(tmp_path, "broken.py", BAD + "def broken(:\n    out.numpy()\n")
    rc, results, proc = flake8("--select", "E999,TNP", "broken.py", cwd=tmp_path)
    assert [c for *_, c, _ in results] == ["E999"], proc.stderr
    assert "Traceback" not in proc.stderr


def test_plugin_is_registered():
    proc = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True)
    assert "detachify" in proc.stdout


def test_parallel_flake8(tmp_path):
    # flake8 re-parses options in each worker process; the plugin's class-level settings must survive that.
    for i in range(4):
        write(tmp_path, f"bad{i}.py", BAD)
    _, results, _ = flake8("--select", "TNP", "--jobs", "2", ".", cwd=tmp_path)
    assert sorted((p, r) for p, r, *_ in results) == [(f"./bad{i}.py", 4) for i in range(4)]


# TNP901 (off by default) flags `.numpy()` on a tensor of unknown provenance, like this parameter.
UNKNOWN = BAD + "\n\ndef to_numpy(t):\n    return t.numpy()\n"


def test_off_by_default_precondition():
    from detachify.rules.registry import RULES

    assert not RULES["TNP901"].default_on
    assert [(f.line, f.code) for f in check_source(UNKNOWN, "u.py", Settings(select=("TNP",)))] == \
        [(4, "TNP001"), (8, "TNP901")]


@pytest.mark.parametrize("args, expected", [
    ((), ["TNP001"]),
    (("--extend-select", "TNP901"), ["TNP001", "TNP901"]),
    (("--extend-select", "TNP9"), ["TNP001", "TNP901"]),
    # An explicit --select replaces flake8's default ignore list, so a bare prefix enables TNP9xx too,
    # exactly as `detachify check --select TNP` does (asserted below against Settings).
    (("--select", "TNP"), ["TNP001", "TNP901"]),
    (("--select", "TNP0"), ["TNP001"]),
    (("--extend-select", "TNP"), ["TNP001", "TNP901"]),
    (("--select", "E", "--extend-select", "TNP0"), ["TNP001"]),
    (("--extend-ignore", "TNP0", "--extend-select", "TNP901"), ["TNP901"]),
])
def test_off_by_default_codes(tmp_path, args, expected):
    write(tmp_path, "u.py", UNKNOWN)
    _, results, proc = flake8(*args, "u.py", cwd=tmp_path)
    assert [code for *_, code, _ in results if code.startswith("TNP")] == expected, proc.stdout + proc.stderr
    # The same options mean the same to `detachify check`, which spells flake8's --extend-ignore --ignore and
    # rejects selectors of other tools (`--select E` there selects no TNP code, as leaving it out does).
    cli_args = [{"--extend-ignore": "--ignore"}.get(a, a) for a in args]
    if cli_args[:2] == ["--select", "E"]:
        cli_args = cli_args[2:]
    assert [c for *_, c in detachify_check(*cli_args, "u.py", cwd=tmp_path)] == expected


def test_off_by_default_semantics_match_settings():
    assert not Settings().is_enabled("TNP901", default_on=False)
    assert Settings(extend_select=("TNP901",)).is_enabled("TNP901", default_on=False)
    assert Settings(select=("TNP",)).is_enabled("TNP901", default_on=False)
    assert not Settings(select=("TNP0",)).is_enabled("TNP901", default_on=False)
    assert Settings(extend_select=("TNP",)).is_enabled("TNP901", default_on=False)
    assert not Settings(select=("E",), extend_select=("TNP0",)).is_enabled("TNP901", default_on=False)


def test_stdin(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "TNP", "--stdin-display-name",
                           "piped.py", "-"], input=BAD, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert [line.split(" ")[:2] for line in proc.stdout.splitlines()] == \
        [[f"piped.py:{f.line}:{f.column + 1}:", f.code] for f in check_source(BAD, "piped.py")]


def test_crlf_and_bom_columns(tmp_path):
    (tmp_path / "crlf.py").write_bytes(b"\xef\xbb\xbf" + BAD.replace("\n", "\r\n").encode())
    _, results, _ = flake8("--select", "TNP", "crlf.py", cwd=tmp_path)
    assert [(p, r, c, code) for p, r, c, code, _ in results] == detachify_check("crlf.py", cwd=tmp_path)
    assert codes(results) == [(4, "TNP001")]
