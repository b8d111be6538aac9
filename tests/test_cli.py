"""`detachify check / fix / rule`: output formats, flags, exit codes, discovery, stdin, parallel runs."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import BAD, CLEAN, UNSAFE, run_cli, run_main, write
from detachify import Settings, check_source, fix_source
from detachify.cli import EPILOG
from detachify.rules.registry import RULES, all_rules

ROOT = Path(__file__).resolve().parent.parent
FINDING_LINE = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>TNP\d{3}) (?:\[\*\] )?(?P<message>.+)$")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def finding_lines(out):
    return [m.groupdict() for m in map(FINDING_LINE.match, out.splitlines()) if m]


# ---------------------------------------------------------------------------------------------------------------
# check


def test_check_reports_code_line_and_one_based_column(project, capsys):
    write(project, "bad.py", BAD)
    write(project, "clean.py", CLEAN)
    status, out, err = run_main(capsys, "check", ".")
    [expected] = check_source(BAD, "bad.py")
    assert status == 1, err
    assert finding_lines(out) == [{"path": "bad.py", "line": "4", "col": str(expected.column + 1),
                                   "code": "TNP001", "message": expected.message}]
    assert out.splitlines()[-2:] == ["Found 1 error.", "[*] 1 fixable with `detachify fix`."]
    assert err == ""
    # ruff's marker for what `detachify fix` would fix.
    assert out.splitlines()[0] == f"bad.py:4:{expected.column + 1}: TNP001 [*] {expected.message}"


def test_clean_project_passes(project, capsys):
    write(project, "clean.py", CLEAN)
    assert run_main(capsys, "check") == (0, "All checks passed!\n", "")


def test_quiet_prints_findings_only(project, capsys):
    write(project, "bad.py", BAD)
    status, out, _ = run_main(capsys, "check", "-q", "bad.py")
    assert status == 1 and len(out.splitlines()) == 1 and finding_lines(out)


def test_exit_zero(project, capsys):
    write(project, "bad.py", BAD)
    status, out, _ = run_main(capsys, "check", "--exit-zero", "bad.py")
    assert status == 0 and finding_lines(out)


def test_paths_outside_the_working_directory_are_shown_as_given(tmp_path, capsys, monkeypatch):
    write(tmp_path / "elsewhere", "bad.py", BAD)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    _, out, _ = run_main(capsys, "check", "-q", tmp_path / "elsewhere")
    assert finding_lines(out)[0]["path"] == str(tmp_path / "elsewhere" / "bad.py")
    _, out, _ = run_main(capsys, "check", "-q", "../elsewhere/bad.py")
    assert finding_lines(out)[0]["path"] == os.path.join("..", "elsewhere", "bad.py")


# ---------------------------------------------------------------------------------------------------------------
# rule selection


@pytest.mark.parametrize("args, status", [
    (["--ignore", "TNP001"], 0),
    (["--ignore", "TNP"], 0),
    (["--select", "TNP001"], 1),
    (["--select", "TNP001", "--ignore", "TNP"], 1),  # the longer prefix decides
    (["--select", "TNP0,TNP9"], 1),
    (["--ignore", "TNP001", "--extend-select", "TNP001"], 0),  # equal length: ignore wins
    (["--select", "tnp001"], 1),  # codes are case-insensitive
])
def test_select_and_ignore(project, capsys, args, status):
    write(project, "bad.py", BAD)
    assert run_main(capsys, "check", *args, "bad.py")[0] == status


@pytest.mark.parametrize("flag", ["--select", "--ignore", "--extend-select"])
@pytest.mark.parametrize("selector", ["E501", "TNP0001", "ALL", "TNP-1", "TNP01", "TNP999", "TNP001,TNP8"])
def test_unknown_selector_is_a_usage_error(project, capsys, flag, selector):
    # As in ruff, a selector no rule starts with (a typo such as TNP01) stops the run instead of passing it.
    write(project, "bad.py", BAD)
    status, out, err = run_main(capsys, "check", flag, selector, "bad.py")
    assert status == 2 and out == ""
    assert err.startswith(f"detachify: error: {flag}: unknown rule selector") and len(err.splitlines()) == 1
    assert selector.upper().split(",")[-1] in err


# ---------------------------------------------------------------------------------------------------------------
# fix


def test_fix_rewrites_and_then_check_passes(project, capsys):
    bad = write(project, "bad.py", BAD)
    clean = write(project, "clean.py", CLEAN)
    status, out, err = run_main(capsys, "fix", ".")
    assert (status, err) == (0, "")
    assert out == "Found 1 error (1 fixed, 0 remaining).\n"
    assert bad.read_text() == fix_source(BAD, "bad.py") != BAD
    assert ".detach().cpu().numpy()" in bad.read_text()
    assert clean.read_text() == CLEAN
    assert run_main(capsys, "check", ".")[0] == 0


def test_check_fix_is_fix(project, capsys):
    bad = write(project, "bad.py", BAD)
    assert run_main(capsys, "check", "--fix", "bad.py")[0] == 0
    assert bad.read_text() == fix_source(BAD)


def test_fix_diff_prints_and_writes_nothing(project, capsys):
    bad = write(project, "bad.py", BAD)
    status, out, err = run_main(capsys, "fix", "--diff", "bad.py")
    assert status == 1
    assert bad.read_text() == BAD
    assert out.startswith("--- bad.py\n+++ bad.py\n@@ ")
    assert "-print(out.numpy())\n+print(out.detach().cpu().numpy())\n" in out
    assert err == "Would fix 1 error.\n"
    assert run_main(capsys, "check", "--diff", "bad.py")[:2] == (1, out)


def test_fix_diff_without_changes_exits_zero(project, capsys):
    write(project, "clean.py", CLEAN)
    assert run_main(capsys, "fix", "--diff", "clean.py")[:2] == (0, "")


def test_diff_applies_with_patch(project, capsys):
    if shutil.which("patch") is None:
        pytest.skip("no patch(1)")
    bad = write(project, "bad.py", BAD)
    _, diff, _ = run_main(capsys, "fix", "--diff", "bad.py")
    subprocess.run(["patch", "-p0", "-s"], input=diff, text=True, check=True, cwd=project)
    assert bad.read_text() == fix_source(BAD)


def test_unsafe_fixes_only_on_request(project, capsys):
    path = write(project, "unsafe.py", UNSAFE)
    status, out, _ = run_main(capsys, "check", "unsafe.py")
    assert status == 1 and out.splitlines()[-1] == \
        "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option)."
    assert "[*]" not in out  # an unsafe fix is not what `detachify fix` would apply
    status, out, _ = run_main(capsys, "check", "--unsafe-fixes", "unsafe.py")
    assert "TNP001 [*] " in out and out.splitlines()[-1] == "[*] 1 fixable with `detachify fix --unsafe-fixes`."
    status, out, _ = run_main(capsys, "fix", "unsafe.py")
    assert status == 1 and path.read_text() == UNSAFE
    assert out.splitlines()[-2:] == [  # nothing fixed: ruff's plain count
        "Found 1 error.", "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option)."]
    status, out, _ = run_main(capsys, "fix", "--unsafe-fixes", "unsafe.py")
    assert status == 0 and path.read_text() == fix_source(UNSAFE, unsafe=True) != UNSAFE


def test_fix_style_force(project, capsys):
    bad = write(project, "bad.py", BAD)
    assert run_main(capsys, "fix", "--fix-style", "force", "bad.py")[0] == 0
    assert bad.read_text() == fix_source(BAD, settings=Settings(fix_style="force"))
    assert "numpy(force=True)" in bad.read_text()


def test_fix_leaves_unfixable_findings_and_exits_one(project, capsys):
    write(project, "unsafe.py", UNSAFE)
    write(project, "bad.py", BAD)
    status, out, _ = run_main(capsys, "fix", ".")
    assert status == 1
    assert [f["path"] for f in finding_lines(out)] == ["unsafe.py"]
    assert "Found 2 errors (1 fixed, 1 remaining)." in out


# ---------------------------------------------------------------------------------------------------------------
# output formats


def test_json_format(project, capsys):
    write(project, "bad.py", BAD)
    status, out, _ = run_main(capsys, "check", "--output-format", "json", "bad.py")
    [finding] = check_source(BAD, "bad.py")
    [item] = json.loads(out)
    edit = finding.fix.edits[0]
    assert status == 1
    assert item == {
        "code": "TNP001", "message": finding.message, "filename": "bad.py",
        "location": {"row": 4, "column": finding.column + 1},
        "end_location": {"row": finding.end_line, "column": finding.end_column + 1},
        "fix": {"applicability": "safe", "message": finding.fix.description, "edits": [{
            "content": edit.text,
            "location": {"row": edit.start_line, "column": edit.start_column + 1},
            "end_location": {"row": edit.end_line, "column": edit.end_column + 1}}]},
    }


def test_json_format_of_a_clean_run_is_an_empty_list(project, capsys):
    write(project, "clean.py", CLEAN)
    assert run_main(capsys, "check", "--output-format", "json") == (0, "[]\n", "")


def test_json_carries_unsafe_applicability(project, capsys):
    write(project, "unsafe.py", UNSAFE)
    [item] = json.loads(run_main(capsys, "check", "--output-format", "json", "unsafe.py")[1])
    assert item["fix"]["applicability"] == "unsafe" and item["fix"]["unsafe_reason"]


def test_github_format(project, capsys):
    write(project, "bad.py", BAD)
    status, out, _ = run_main(capsys, "check", "--output-format", "github", "bad.py")
    [finding] = check_source(BAD, "bad.py")
    assert status == 1
    assert out == f"::error file=bad.py,line=4,col={finding.column + 1},title=TNP001::{finding.message}\n"


def test_github_format_escapes(project):
    from detachify.findings import Finding
    from detachify.output import github
    import io
    stream = io.StringIO()
    github([Finding("TNP001", "50% of a\nb", 1, 0, filename="a,b:c.py")], stream)
    assert stream.getvalue() == "::error file=a%2Cb%3Ac.py,line=1,col=1,title=TNP001::50%25 of a%0Ab\n"


def _check_sarif_structure(log):
    """The parts of the SARIF 2.1.0 schema this output uses: required properties and closed objects."""
    assert set(log) == {"$schema", "version", "runs"} and log["version"] == "2.1.0"
    [run] = log["runs"]
    assert set(run) <= {"tool", "results", "columnKind", "originalUriBaseIds"}
    assert run["columnKind"] in ("utf16CodeUnits", "unicodeCodePoints")
    driver = run["tool"]["driver"]
    assert isinstance(driver["name"], str)
    for rule in driver["rules"]:
        assert set(rule) <= {"id", "name", "shortDescription", "fullDescription", "help",
                             "defaultConfiguration", "properties"}
        assert isinstance(rule["id"], str)
        for key in ("shortDescription", "fullDescription"):
            assert set(rule[key]) == {"text"}
        assert rule["defaultConfiguration"]["level"] in ("none", "note", "warning", "error")
    for result in run["results"]:
        assert set(result) <= {"ruleId", "ruleIndex", "level", "message", "locations", "fixes"}
        assert isinstance(result["message"]["text"], str)
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        for location in result["locations"]:
            physical = location["physicalLocation"]
            assert set(physical) == {"artifactLocation", "region"}
            _check_region(physical["region"])
        for fix in result.get("fixes", []):
            assert set(fix) <= {"description", "artifactChanges", "properties"}
            assert fix["artifactChanges"]
            for change in fix["artifactChanges"]:
                assert set(change) == {"artifactLocation", "replacements"} and change["replacements"]
                for replacement in change["replacements"]:
                    assert set(replacement) == {"deletedRegion", "insertedContent"}
                    _check_region(replacement["deletedRegion"])
                    assert set(replacement["insertedContent"]) == {"text"}


def _check_region(region):
    assert set(region) <= {"startLine", "startColumn", "endLine", "endColumn"}
    assert all(isinstance(v, int) and v >= 1 for v in region.values())
    assert (region["endLine"], region["endColumn"]) >= (region["startLine"], region["startColumn"])


def test_sarif_format(project, capsys):
    write(project, "sub/bad.py", BAD)
    status, out, _ = run_main(capsys, "check", "--output-format", "sarif", ".")
    log = json.loads(out)
    assert status == 1
    _check_sarif_structure(log)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r.code for r in all_rules()]
    assert run["tool"]["driver"]["rules"][0]["help"]["markdown"] == RULES["TNP001"].documentation()
    [finding] = check_source(BAD, "sub/bad.py")
    [result] = run["results"]
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "sub/bad.py", "uriBaseId": "%SRCROOT%"}
    assert physical["region"]["startLine"] == 4 and physical["region"]["startColumn"] == finding.column + 1
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    [change] = result["fixes"][0]["artifactChanges"]
    [replacement] = change["replacements"]
    edit = finding.fix.edits[0]
    assert replacement == {
        "deletedRegion": {"startLine": edit.start_line, "startColumn": edit.start_column + 1,
                          "endLine": edit.end_line, "endColumn": edit.end_column + 1},
        "insertedContent": {"text": edit.text},
    }


def test_sarif_of_a_clean_run(project, capsys):
    write(project, "clean.py", CLEAN)
    status, out, _ = run_main(capsys, "check", "--output-format", "sarif")
    log = json.loads(out)
    _check_sarif_structure(log)
    assert status == 0 and log["runs"][0]["results"] == []


def test_statistics(project, capsys):
    write(project, "a.py", BAD)
    write(project, "b.py", BAD)
    status, out, _ = run_main(capsys, "check", "--statistics")
    assert status == 1 and out == ("2\tTNP001\t[*] numpy-on-grad-tensor\n"
                                   "Found 2 errors.\n[*] 2 fixable with `detachify fix`.\n")
    status, out, _ = run_main(capsys, "check", "--statistics", "--output-format", "json")
    assert json.loads(out) == [{"code": "TNP001", "name": "numpy-on-grad-tensor", "count": 2, "fixable": True,
                                "fixable_count": 2}]


def test_statistics_mark_unsafe_only_fixes_as_not_fixable(project, capsys):
    # ruff's layout: counts right-aligned, `[*]` every fix applies, `[~]` some do, `[ ]` none does.
    write(project, "a.py", BAD)
    write(project, "b.py", BAD)
    write(project, "u.py", UNSAFE)
    write(project, "mixed.py", UNSAFE.replace("clipped", "c") + "print(layer.weight.numpy())\n")
    status, out, _ = run_main(capsys, "check", "--statistics", "--select", "TNP001", "a.py", "b.py", "u.py")
    assert status == 1 and out.splitlines() == [
        "3\tTNP001\t[~] numpy-on-grad-tensor", "Found 3 errors.",
        "[*] 2 fixable with `detachify fix` (1 hidden fix can be enabled with the `--unsafe-fixes` option)."]
    _, out, _ = run_main(capsys, "check", "--statistics", "u.py")
    assert out.splitlines()[0] == "1\tTNP001\tnumpy-on-grad-tensor"  # nothing applies: no markers at all
    write(project, "gpu.py", "import torch\nx = torch.ones(2).cuda()\nprint(x.numpy())\n")
    _, out, _ = run_main(capsys, "check", "--statistics", "u.py", "gpu.py")
    assert out.splitlines()[:2] == ["1\tTNP001\t[ ] numpy-on-grad-tensor", "1\tTNP002\t[*] numpy-on-gpu-tensor"]


# ---------------------------------------------------------------------------------------------------------------
# rule


def test_rule_prints_documentation(capsys):
    assert run_main(capsys, "rule", "TNP001") == (0, RULES["TNP001"].documentation().rstrip("\n") + "\n", "")
    assert run_main(capsys, "rule", "tnp001")[0] == 0


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.name)
def test_rule_by_name(capsys, rule):
    assert run_main(capsys, "rule", rule.name) == run_main(capsys, "rule", rule.code)
    assert run_main(capsys, "rule", rule.name)[0] == 0


def test_rule_all(capsys):
    status, out, _ = run_main(capsys, "rule", "--all")
    assert status == 0
    for rule in all_rules():
        assert rule.documentation().rstrip("\n") in out
    status, out, _ = run_main(capsys, "rule", "--all", "--output-format", "json")
    assert [r["code"] for r in json.loads(out)] == [r.code for r in all_rules()]


@pytest.mark.parametrize("args", [["TNP999"], ["E501"], [], ["numpy-on-grad"]])
def test_rule_errors(capsys, args):
    status, out, err = run_main(capsys, "rule", *args)
    assert status == 2 and out == "" and err.startswith("detachify: error:")
    if args:
        assert "TNP001 (numpy-on-grad-tensor)" in err


# ---------------------------------------------------------------------------------------------------------------
# usage


@pytest.mark.parametrize("args", [
    [], ["lint"], ["check", "--no-such-flag"], ["check", "--jobs", "0"], ["check", "--jobs", "x"],
    ["check", "--output-format", "xml"], ["check", "--fix-style", "cpu"], ["fix", "-", "other.py"],
])
def test_usage_errors_exit_two(project, capsys, args):
    assert run_main(capsys, *args)[0] == 2


def test_missing_path_is_an_error_but_others_are_checked(project, capsys):
    write(project, "bad.py", BAD)
    status, out, err = run_main(capsys, "check", "nope.py", "bad.py")
    assert status == 2
    assert err == "nope.py: error: No such file or directory\n"
    assert finding_lines(out)
    assert out.splitlines()[-3:] == ["Found 1 error.", "[*] 1 fixable with `detachify fix`.",
                                     "1 file could not be checked."]


@pytest.mark.parametrize("command", ["check", "fix"])
def test_never_all_checks_passed_when_a_file_could_not_be_checked(project, capsys, command):
    write(project, "clean.py", CLEAN)
    write(project, "broken.py", "import torch\nx = torch.ones(1).numpy(\n")
    write(project, "blob.py", b"import torch\0")
    status, out, err = run_main(capsys, command, ".")
    assert status == 2 and "All checks passed!" not in out
    # Code that does not parse is a finding (E999, where CPython says); a file that cannot be read is not checked.
    assert out.splitlines()[0].startswith("broken.py:2:24: E999 SyntaxError:")
    assert out.splitlines()[-1] == "1 file could not be checked."
    assert [line.split(": error: ")[0] for line in err.splitlines()] == ["blob.py"]
    status, out, err = run_main(capsys, "fix", "--diff", ".")
    assert status == 2 and out == ""
    assert err.splitlines()[-2:] == ["No fixes to apply.", "1 file could not be checked."]


def test_help_documents_exit_codes(capsys):
    status, out, _ = run_main(capsys, "--help")
    assert status == 0 and EPILOG in out
    status, out, _ = run_main(capsys, "check", "--help")
    assert status == 0 and "exit status:" in out and "--unsafe-fixes" in out


def test_module_entry_point_and_version(tmp_path):
    proc = run_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("detachify ")


def test_console_script_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'detachify = "detachify.cli:command"' in text


# ---------------------------------------------------------------------------------------------------------------
# stdin


def test_stdin_check(tmp_path):
    proc = run_cli("check", "-", "--stdin-filename", "pkg/mod.py", cwd=tmp_path, input=BAD)
    assert proc.returncode == 1
    [line] = finding_lines(proc.stdout)
    assert (line["path"], line["line"], line["code"]) == (os.path.join("pkg", "mod.py"), "4", "TNP001")


def test_stdin_without_a_name(tmp_path):
    proc = run_cli("check", "-", cwd=tmp_path, input=BAD)
    assert proc.returncode == 1 and finding_lines(proc.stdout)[0]["path"] == "-"


def test_stdin_fix_prints_fixed_source(tmp_path):
    proc = run_cli("fix", "-", "--stdin-filename", "mod.py", cwd=tmp_path, input=BAD.encode())
    assert proc.returncode == 0
    assert proc.stdout == fix_source(BAD).encode()
    assert not (tmp_path / "mod.py").exists()


def test_stdin_fix_keeps_bytes_it_does_not_change(tmp_path):
    source = ("# -*- coding: latin-1 -*-\r\n# caf\xe9\r\n" + BAD.replace("\n", "\r\n")).encode("latin-1")
    proc = run_cli("fix", "-", cwd=tmp_path, input=source)
    assert proc.returncode == 0
    assert proc.stdout == source.replace(b"out.numpy()", b"out.detach().cpu().numpy()")


def test_stdin_fix_reports_what_is_left_on_stderr(tmp_path):
    proc = run_cli("fix", "-", "--stdin-filename", "u.py", cwd=tmp_path, input=UNSAFE.encode())
    assert proc.returncode == 1
    assert proc.stdout == UNSAFE.encode()
    assert b"u.py:3:" in proc.stderr and b"TNP001" in proc.stderr


def test_stdin_diff(tmp_path):
    proc = run_cli("fix", "--diff", "-", "--stdin-filename", "mod.py", cwd=tmp_path, input=BAD)
    assert proc.returncode == 1 and "+print(out.detach().cpu().numpy())" in proc.stdout


def test_stdin_parse_error_echoes_the_input(tmp_path):
    source = "import torch\nx = torch.ones(1).numpy(\n"
    proc = run_cli("fix", "-", "--stdin-filename", "broken.py", cwd=tmp_path, input=source)
    assert proc.returncode == 2
    assert proc.stdout == source
    assert proc.stderr.startswith("broken.py:2:24: E999 SyntaxError: '(' was never closed\n")


def test_stdin_force_exclude(tmp_path):
    proc = run_cli("check", "--force-exclude", "-", "--stdin-filename", "build/gen.py", cwd=tmp_path, input=BAD)
    assert (proc.returncode, proc.stdout) == (0, "")
    proc = run_cli("fix", "--force-exclude", "-", "--stdin-filename", "build/gen.py", cwd=tmp_path, input=BAD)
    assert (proc.returncode, proc.stdout) == (0, BAD)


# ---------------------------------------------------------------------------------------------------------------
# discovery


def test_walk_finds_py_and_pyi_and_skips_default_excludes(project, capsys):
    for name in ["a.py", "stubs/b.pyi", "pkg/sub/c.py", "notes.txt", "script"]:
        write(project, name, BAD)
    for excluded in [".venv", "venv", "build", "dist", "node_modules", "__pycache__", ".tox", ".git",
                     "site-packages", ".mypy_cache", "x.egg/.eggs"]:
        write(project, f"{excluded}/m.py", BAD)
    status, out, _ = run_main(capsys, "check", "--show-files")
    assert status == 0
    assert out.split() == sorted(["a.py", os.path.join("pkg", "sub", "c.py"), os.path.join("stubs", "b.pyi")])


def test_named_files_are_always_checked_unless_force_exclude(project, capsys):
    write(project, "build/gen.py", BAD)
    write(project, "tool", BAD)  # no suffix: named explicitly, so read as Python
    status, out, _ = run_main(capsys, "check", "-q", "build/gen.py", "tool")
    assert status == 1 and [f["path"] for f in finding_lines(out)] == [os.path.join("build", "gen.py"), "tool"]
    status, out, _ = run_main(capsys, "check", "-q", "--force-exclude", "build/gen.py")
    assert (status, out) == (0, "")
    # A named directory is walked even when excluded by default, unless --force-exclude.
    assert run_main(capsys, "check", "-q", "build")[0] == 1
    assert run_main(capsys, "check", "-q", "--force-exclude", "build")[0] == 0


def test_exclude_globs(project, capsys):
    for name in ["keep.py", "gen/a.py", "pkg/gen/b.py", "pkg/migrations/0001.py", "pkg/c_pb2.py", "deep/x/y.py"]:
        write(project, name, BAD)
    _, out, _ = run_main(capsys, "check", "--show-files", "--exclude", "gen", "--exclude", "*_pb2.py",
                         "--exclude", "pkg/migrations", "--extend-exclude", "deep/**/y.py")
    assert out.split() == ["keep.py"]


def test_gitignore_without_git(project, capsys):
    write(project, ".gitignore", "ignored/\n*.gen.py\n/top.py\n!keep.gen.py\n")
    for name in ["a.py", "ignored/b.py", "x.gen.py", "keep.gen.py", "top.py", "sub/top.py", "sub/ignored/c.py"]:
        write(project, name, BAD)
    write(project, "sub/.gitignore", "local.py\n")
    write(project, "sub/local.py", BAD)
    _, out, _ = run_main(capsys, "check", "--show-files")
    assert out.split() == ["a.py", "keep.gen.py", os.path.join("sub", "top.py")]
    _, out, _ = run_main(capsys, "check", "--show-files", "--no-respect-gitignore")
    assert len(out.split()) == 8


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_gitignore_in_a_git_work_tree(project, capsys):
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, env=env)
    write(project, ".gitignore", "ignored/\n*.gen.py\n")
    write(project, ".git/info/exclude", "private.py\n")
    for name in ["a.py", "ignored/b.py", "x.gen.py", "private.py", "untracked.py", "sub/c.py"]:
        write(project, name, BAD)
    subprocess.run(["git", "add", "a.py", "sub/c.py"], cwd=project, check=True, env=env)
    os.remove(project / "sub" / "c.py")  # deleted but still in the index: not an error
    _, out, err = run_main(capsys, "check", "--show-files")
    assert out.split() == ["a.py", "untracked.py"] and err == ""
    # A tracked file that matches .gitignore is still checked, as git lists it.
    subprocess.run(["git", "add", "-f", "x.gen.py"], cwd=project, check=True, env=env)
    _, out, _ = run_main(capsys, "check", "--show-files", "sub", ".")
    assert out.split() == ["a.py", "untracked.py", "x.gen.py"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_gitignored_directory_named_explicitly_is_checked(project, capsys):
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, env=env)
    write(project, ".gitignore", "scratch/\n")
    write(project, "scratch/.gitignore", "*.tmp.py\n")
    for name in ["a.py", "scratch/b.py", "scratch/sub/c.py", "scratch/d.tmp.py"]:
        write(project, name, BAD)
    assert run_main(capsys, "check", "--show-files")[1].split() == ["a.py"]
    _, out, err = run_main(capsys, "check", "--show-files", "scratch")
    assert out.split() == [os.path.join("scratch", "b.py"), os.path.join("scratch", "sub", "c.py")] and err == ""


def test_directory_symlinks_are_not_followed(project, capsys):
    write(project, "real/a.py", BAD)
    os.symlink(project / "real", project / "link")
    os.symlink(project, project / "real" / "back")  # a loop, if it were followed
    os.symlink(project / "real" / "a.py", project / "alias.py")  # file symlinks are files
    status, out, err = run_main(capsys, "check", "--show-files")
    assert out.split() == ["alias.py", os.path.join("real", "a.py")] and err == ""


def test_empty_directory_warns(project, capsys):
    (project / "empty").mkdir()
    status, out, err = run_main(capsys, "check", "empty")
    assert status == 0 and "no Python files found under empty" in err


def test_each_file_once(project, capsys):
    write(project, "bad.py", BAD)
    _, out, _ = run_main(capsys, "check", "-q", ".", "bad.py", "./bad.py", project / "bad.py")
    assert len(finding_lines(out)) == 1


def test_notebooks_are_walked_and_reported_by_cell(project, capsys):
    notebook = ROOT / "fixtures" / "notebooks" / "training_loop.ipynb"
    if not notebook.exists():
        pytest.skip("no fixture notebook")
    shutil.copy(notebook, project / "nb.ipynb")
    status, out, _ = run_main(capsys, "check", "-q")
    lines = out.splitlines()
    assert status == 1 and lines and all(re.match(r"nb\.ipynb:cell \d+:\d+:\d+: TNP001 ", line) for line in lines)
    cells = [int(line.split("cell ")[1].split(":")[0]) for line in lines]
    assert cells == sorted(cells)
    original = notebook.read_bytes()
    assert run_main(capsys, "fix", "-q", "nb.ipynb")[0] in (0, 1)
    from detachify.notebook import fix_notebook
    assert (project / "nb.ipynb").read_bytes() == fix_notebook(original, "nb.ipynb") != original


# ---------------------------------------------------------------------------------------------------------------
# parallel runs and progress


def test_pool_gives_the_same_answer(project, capsys):
    for i in range(24):
        write(project, f"m{i:02}.py", BAD if i % 3 == 0 else CLEAN)
    serial = run_main(capsys, "check", "--jobs", "1")
    parallel = run_main(capsys, "check", "--jobs", "3")
    assert serial == parallel and serial[0] == 1 and len(finding_lines(serial[1])) == 8
    assert run_main(capsys, "fix", "-q", "--jobs", "3")[0] == 0
    assert all((project / f"m{i:02}.py").read_text() == fix_source(BAD if i % 3 == 0 else CLEAN) for i in range(24))


def test_pool_is_not_used_for_small_runs(project, capsys, monkeypatch):
    import multiprocessing
    write(project, "a.py", BAD)

    def no_pool(*args, **kwargs):
        raise AssertionError("a pool for one file")

    monkeypatch.setattr(multiprocessing.context.BaseContext, "Pool", no_pool)
    assert run_main(capsys, "check", "--jobs", "8")[0] == 1


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    for i in range(60):
        write(tmp_path, f"m{i:02}.py", CLEAN)
    proc = run_cli("check", "--jobs", "2", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_progress_on_a_terminal(tmp_path):
    import pty
    for i in range(60):
        write(tmp_path, f"m{i:02}.py", CLEAN)
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "detachify", "check", "--jobs", "1"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0
    # The counter, cleared, then the closing line of a run long enough to show it.
    assert b"\rdetachify: 60/60 files" in seen
    assert re.search(rb"\r\x1b\[KChecked 60 files in \d+\.\d s\r?\n$", seen), seen[-80:]
    assert proc.stdout == b"All checks passed!\n"
