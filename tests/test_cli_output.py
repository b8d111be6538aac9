"""What ruff users expect of the text output: colour, --output-file, -s/--silent, --show-fixes, `fix --diff` as
JSON, and the closing line of long runs."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from cli_support import BAD, CLEAN, UNSAFE, run_cli, run_main, write
from detachify import check_source, fix_source
from detachify import cli
from detachify.color import wants_color

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NO_COLOR_ENV = {"NO_COLOR": "", "FORCE_COLOR": "", "CLICOLOR_FORCE": "", "CLICOLOR": ""}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in NO_COLOR_ENV:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def clean_env(**env):
    """The environment without the user's colour settings, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in NO_COLOR_ENV}
    return {**base, **env}


def run(*args, cwd, env=None, input=None):
    return subprocess.run([sys.executable, "-m", "detachify", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=clean_env(**(env or {})), input=input, timeout=120)


# ---------------------------------------------------------------------------------------------------------------
# colour


def test_colour_always_never_and_plain_off_a_terminal(project):
    write(project, "bad.py", BAD)
    plain = run("check", "bad.py", cwd=project)
    assert plain.returncode == 1 and not ANSI.search(plain.stdout)  # stdout is a pipe
    coloured = run("check", "--color", "always", "bad.py", cwd=project)
    assert coloured.returncode == 1 and ANSI.search(coloured.stdout)
    assert ANSI.sub("", coloured.stdout) == plain.stdout
    assert "\x1b[1;31mTNP001\x1b[0m" in coloured.stdout  # ruff's bold red code
    assert run("check", "--color", "never", "bad.py", cwd=project, env={"FORCE_COLOR": "1"}).stdout == plain.stdout


@pytest.mark.parametrize("env, coloured", [
    ({}, False),
    ({"FORCE_COLOR": "1"}, True),
    ({"FORCE_COLOR": ""}, False),  # empty: not set, as ruff reads it
    ({"CLICOLOR_FORCE": "1"}, True),
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, True),  # ruff: FORCE_COLOR overrides
])
def test_colour_from_the_environment_off_a_terminal(project, env, coloured):
    write(project, "bad.py", BAD)
    proc = run("check", "bad.py", cwd=project, env=env)
    assert bool(ANSI.search(proc.stdout)) is coloured


class Terminal:
    def isatty(self):
        return True


@pytest.mark.parametrize("env, coloured", [
    ({}, True), ({"NO_COLOR": "1"}, False), ({"NO_COLOR": ""}, False), ({"CLICOLOR": "0"}, False),
    ({"NO_COLOR": "1", "CLICOLOR_FORCE": "1"}, True),
])
def test_colour_on_a_terminal(env, coloured):
    assert wants_color("auto", Terminal(), env) is coloured
    assert wants_color("never", Terminal(), env) is False
    assert wants_color("always", object(), env) is True


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_colour_on_a_real_terminal(project):
    import pty
    write(project, "bad.py", BAD)
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "detachify", "check", "bad.py"], cwd=project, stdout=slave,
                              stderr=subprocess.PIPE, env=clean_env(), timeout=120)
        os.close(slave)
        seen = os.read(master, 65536)
    finally:
        os.close(master)
    assert proc.returncode == 1 and b"\x1b[1;31mTNP001\x1b[0m" in seen


def test_bad_colour_choice_is_a_usage_error(project, capsys):
    assert run_main(capsys, "check", "--color", "sometimes")[0] == 2


# ---------------------------------------------------------------------------------------------------------------
# --output-file, -s/--silent


def test_output_file_takes_the_report(project):
    write(project, "bad.py", BAD)
    expected = run("check", "bad.py", cwd=project).stdout
    proc = run("check", "--output-file", "reports/out.txt", "--color", "always", "bad.py", cwd=project)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert (project / "reports" / "out.txt").read_text() == expected  # made its directory; never in colour
    proc = run("check", "-o", "report.json", "--output-format", "json", "bad.py", cwd=project)
    assert proc.returncode == 1 and [f["code"] for f in json.loads((project / "report.json").read_text())] == \
        ["TNP001"]


def test_output_file_that_cannot_be_written_is_an_error(project, capsys):
    write(project, "bad.py", BAD)
    write(project, "file", "")
    status, out, err = run_main(capsys, "check", "--output-file", "file/out.txt", "bad.py")
    assert status == 2 and out == "" and err.startswith("detachify: error: --output-file: cannot write file/out.txt")


def test_output_file_with_fixes_from_stdin(project):
    proc = run("fix", "-", "--stdin-filename", "u.py", "-o", "left.txt", cwd=project, input=UNSAFE)
    assert proc.returncode == 1 and proc.stdout == UNSAFE and proc.stderr == ""
    assert "u.py:3:" in (project / "left.txt").read_text()


def test_silent(project, capsys):
    write(project, "bad.py", BAD)
    write(project, "broken.py", "import torch\nx = torch.ones(1).numpy(\n")
    assert run_main(capsys, "check", "-s", "bad.py") == (1, "", "")
    assert run_main(capsys, "check", "--silent", "bad.py", "broken.py", "missing.py") == (2, "", "")
    assert run_main(capsys, "fix", "--silent", "--diff", "bad.py") == (1, "", "")
    assert run_main(capsys, "fix", "-s", "bad.py") == (0, "", "")
    assert (project / "bad.py").read_text() == fix_source(BAD)
    # Usage and configuration errors still say what is wrong.
    status, _, err = run_main(capsys, "check", "-s", "--select", "TNP01", "bad.py")
    assert status == 2 and "unknown rule selector" in err


def test_silent_fix_from_stdin_still_prints_the_source(project):
    proc = run("fix", "-s", "-", cwd=project, input=BAD)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, fix_source(BAD), "")


# ---------------------------------------------------------------------------------------------------------------
# --show-fixes, --diff as JSON


def test_show_fixes(project, capsys):
    write(project, "b.py", BAD + "print(out.numpy())\n")
    write(project, "a.py", BAD)
    write(project, "u.py", UNSAFE)
    status, out, _ = run_main(capsys, "fix", "--show-fixes", ".")
    assert status == 1
    [left] = check_source(UNSAFE, "u.py")
    assert out.splitlines() == [
        f"u.py:3:{left.column + 1}: TNP001 {left.message}",  # no `[*]` in a run that fixes
        "",
        "Fixed 3 errors:",
        "- a.py:",
        "    1 \u00d7 TNP001 (numpy-on-grad-tensor)",
        "- b.py:",
        "    2 \u00d7 TNP001 (numpy-on-grad-tensor)",
        "",
        "Found 4 errors (3 fixed, 1 remaining).",
        "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option).",
    ]
    # Nothing fixed, nothing listed.
    assert run_main(capsys, "fix", "--show-fixes", "u.py")[1].count("Fixed") == 0


def test_diff_as_json(project, capsys):
    write(project, "bad.py", BAD)
    write(project, "clean.py", CLEAN)
    write(project, "u.py", UNSAFE)
    _, patch, _ = run_main(capsys, "fix", "--diff", "bad.py")
    status, out, err = run_main(capsys, "fix", "--diff", "--output-format", "json", ".")
    assert status == 1 and json.loads(out) == [{"filename": "bad.py", "fixed": 1, "diff": patch}]
    assert err == "Would fix 1 error (1 additional fix available with `--unsafe-fixes`).\n"
    assert (project / "bad.py").read_text() == BAD
    assert run_main(capsys, "check", "--diff", "--output-format", "json", "clean.py")[:2] == (0, "[]\n")
    proc = run("fix", "--diff", "--output-format", "json", "-", "--stdin-filename", "s.py", cwd=project, input=BAD)
    [item] = json.loads(proc.stdout)
    assert proc.returncode == 1 and item["filename"] == "s.py" and "+print(out.detach().cpu().numpy())" in item["diff"]


@pytest.mark.parametrize("output_format", ["github", "sarif"])
def test_diff_in_a_findings_format_is_a_usage_error(project, capsys, output_format):
    write(project, "bad.py", BAD)
    status, out, err = run_main(capsys, "fix", "--diff", "--output-format", output_format, "bad.py")
    assert status == 2 and out == "" and "--diff" in err
    assert (project / "bad.py").read_text() == BAD


# ---------------------------------------------------------------------------------------------------------------
# the closing line


def test_short_runs_off_a_terminal_end_without_a_closing_line(project, capsys):
    write(project, "bad.py", BAD)
    assert run_main(capsys, "check", "bad.py")[2] == ""


@pytest.mark.parametrize("output_format", ["concise", "json"])
def test_long_runs_close_with_a_count_on_stderr(project, capsys, monkeypatch, output_format):
    for i in range(3):
        write(project, f"m{i}.py", CLEAN)
    monkeypatch.setattr(cli, "LONG_RUN_SECONDS", 0.0)  # every run counts as long
    status, out, err = run_main(capsys, "check", "--output-format", output_format, ".")
    assert status == 0 and re.fullmatch(r"Checked 3 files in \d+\.\d s\n", err)
    assert out in ("All checks passed!\n", "[]\n")  # stdout stays machine-readable
    assert run_main(capsys, "check", "-q", ".")[2] == ""


def test_the_closing_count_has_thousands_separators(monkeypatch, capsys):
    class Args:
        quiet = False

    class Shown:
        enabled = True

    cli._closing_line(Args(), 8602, 59.64, Shown())
    assert capsys.readouterr().err == "Checked 8,602 files in 59.6 s\n"


def test_module_runs_with_the_flags(tmp_path):
    # The console entry point parses them too (a smoke test of the real command).
    write(tmp_path, "bad.py", BAD)
    proc = run_cli("check", "--color", "never", "-o", "o.txt", "--show-fixes", "bad.py", cwd=tmp_path)
    assert proc.returncode == 1 and (tmp_path / "o.txt").read_text().startswith("bad.py:4:")
