"""`[tool.detachify]` in pyproject.toml: discovery, every key, precedence of the command line, errors."""
from __future__ import annotations

import os
import textwrap

import pytest

from cli_support import BAD, UNSAFE, run_cli, run_main, write
from detachify import Settings, fix_source
from detachify.config import ConfigError, FileConfig, Overrides, Project, Resolver, parse_table
from detachify.discovery import glob_regex, parse_gitignore


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pyproject(directory, body, name="pyproject.toml"):
    return write(directory, name, textwrap.dedent(body))


def codes(out):
    return [line.split(": ")[1].split()[0] for line in out.splitlines() if ": TNP" in line]


# ---------------------------------------------------------------------------------------------------------------
# keys


def test_ignore_and_command_line_select(project, capsys):
    pyproject(project, '[tool.detachify]\nignore = ["TNP001"]\n')
    write(project, "bad.py", BAD)
    assert run_main(capsys, "check", "bad.py")[0] == 0
    # --select starts the selection afresh, but the config's ignore of the same code still wins a tie...
    assert run_main(capsys, "check", "--select", "TNP001", "bad.py")[0] == 0
    # ...while a select more specific than an ignore wins.
    pyproject(project, '[tool.detachify]\nignore = ["TNP"]\n')
    assert run_main(capsys, "check", "--select", "TNP001", "bad.py")[0] == 1


def test_select_and_extend_select(project, capsys):
    write(project, "bad.py", BAD)
    pyproject(project, '[tool.detachify]\nselect = ["TNP9"]\n')
    assert run_main(capsys, "check", "bad.py")[0] == 0
    pyproject(project, '[tool.detachify]\nselect = ["TNP9"]\nextend-select = ["TNP001"]\n')
    assert run_main(capsys, "check", "bad.py")[0] == 1
    pyproject(project, '[tool.detachify]\nselect = ["TNP9"]\n')
    assert run_main(capsys, "check", "--extend-select", "TNP0", "bad.py")[0] == 1
    assert run_main(capsys, "check", "--select", "TNP0", "bad.py")[0] == 1


def test_extend_exclude_keeps_the_defaults(project, capsys):
    pyproject(project, '[tool.detachify]\nextend-exclude = ["generated", "legacy/*.py"]\n')
    for name in ["a.py", "generated/b.py", "legacy/c.py", "legacy/sub/d.py", "build/e.py"]:
        write(project, name, BAD)
    _, out, _ = run_main(capsys, "check", "--show-files")
    assert out.split() == ["a.py", os.path.join("legacy", "sub", "d.py")]


def test_exclude_replaces_the_defaults(project, capsys):
    pyproject(project, '[tool.detachify]\nexclude = ["generated"]\n')
    for name in ["a.py", "generated/b.py", "build/e.py"]:
        write(project, name, BAD)
    _, out, _ = run_main(capsys, "check", "--show-files")
    assert out.split() == ["a.py", os.path.join("build", "e.py")]


def test_exclude_is_anchored_at_the_config_not_the_working_directory(project, capsys, monkeypatch):
    pyproject(project, '[tool.detachify]\nextend-exclude = ["src/gen"]\n')
    write(project, "src/gen/a.py", BAD)
    write(project, "src/b.py", BAD)
    monkeypatch.chdir(project / "src")
    _, out, _ = run_main(capsys, "check", "--show-files")
    assert out.split() == ["b.py"]
    # pre-commit names files explicitly: --force-exclude applies the config's patterns to them too.
    monkeypatch.chdir(project)
    status, out, _ = run_main(capsys, "check", "-q", "--force-exclude", "src/gen/a.py", "src/b.py")
    assert status == 1 and out.startswith(os.path.join("src", "b.py") + ":") and len(out.splitlines()) == 1


def test_per_file_ignores(project, capsys):
    pyproject(project, textwrap.dedent('''\
        [tool.detachify.per-file-ignores]
        "tests/*" = ["TNP001"]
        "conftest.py" = ["TNP"]
        "scripts/" = ["TNP0"]
    '''))
    for name in ["a.py", "tests/test_a.py", "tests/deeper/test_b.py", "pkg/conftest.py", "scripts/x/y.py"]:
        write(project, name, BAD)
    status, out, _ = run_main(capsys, "check", "-q")
    # A bare name matches anywhere; a pattern matching a directory covers everything under it (so `tests/*`
    # reaches tests/deeper/, as in ruff).
    assert status == 1 and out.split(":")[0] == "a.py" and len(out.splitlines()) == 1


def test_per_file_ignores_win_over_select(project, capsys):
    # ruff applies per-file-ignores after the selection: a prefix there switches off even a code `select` names.
    pyproject(project, textwrap.dedent('''\
        [tool.detachify]
        select = ["TNP001"]
        per-file-ignores = { "tests/*" = ["TNP0"] }
    '''))
    write(project, "a.py", BAD)
    write(project, "tests/test_a.py", BAD)
    status, out, _ = run_main(capsys, "check", "-q")
    assert status == 1 and [line.split(":")[0] for line in out.splitlines()] == ["a.py"]
    # So does a --select on the command line, and the fix leaves the ignored file alone.
    _, out, _ = run_main(capsys, "check", "-q", "--select", "TNP001", "tests/test_a.py")
    assert out == ""
    assert run_main(capsys, "fix", "-q", "--select", "TNP001", ".")[0] == 0
    assert (project / "tests" / "test_a.py").read_text() == BAD and (project / "a.py").read_text() != BAD


def test_fix_style_from_config_and_command_line(project, capsys):
    pyproject(project, '[tool.detachify]\nfix-style = "force"\n')
    path = write(project, "bad.py", BAD)
    assert run_main(capsys, "fix", "bad.py")[0] == 0
    assert path.read_text() == fix_source(BAD, settings=Settings(fix_style="force"))
    path.write_text(BAD)
    assert run_main(capsys, "fix", "--fix-style", "detach-cpu", "bad.py")[0] == 0
    assert path.read_text() == fix_source(BAD)


def test_unsafe_fixes_from_config_and_command_line(project, capsys):
    pyproject(project, "[tool.detachify]\nunsafe-fixes = true\n")
    path = write(project, "u.py", UNSAFE)
    assert run_main(capsys, "fix", "--no-unsafe-fixes", "u.py")[0] == 1
    assert path.read_text() == UNSAFE
    assert run_main(capsys, "fix", "u.py")[0] == 0
    assert path.read_text() == fix_source(UNSAFE, unsafe=True)


# ---------------------------------------------------------------------------------------------------------------
# which config


def test_closest_pyproject_with_the_table_wins(project, capsys):
    pyproject(project, '[tool.detachify]\nignore = ["TNP001"]\n')
    pyproject(project / "inner", '[project]\nname = "inner"\n')  # no table: passed over
    pyproject(project / "other", '[tool.detachify]\nselect = ["TNP001"]\n')
    for name in ["top.py", "inner/a.py", "other/b.py", "other/deep/c.py"]:
        write(project, name, BAD)
    _, out, _ = run_main(capsys, "check", "-q")
    assert sorted(line.split(":")[0] for line in out.splitlines()) == [
        os.path.join("other", "b.py"), os.path.join("other", "deep", "c.py")]
    # The config is found from the file, wherever the command runs.
    _, out, _ = run_main(capsys, "check", "-q", "inner/a.py")
    assert out == ""


def test_config_flag_and_isolated(project, capsys):
    pyproject(project, '[tool.detachify]\nignore = ["TNP001"]\n')
    pyproject(project / "cfg", '[tool.detachify]\nselect = ["TNP001"]\n')
    write(project, "bad.py", BAD)
    assert run_main(capsys, "check", "bad.py")[0] == 0
    assert run_main(capsys, "check", "--config", "cfg/pyproject.toml", "bad.py")[0] == 1
    assert run_main(capsys, "check", "--isolated", "bad.py")[0] == 1
    status, _, err = run_main(capsys, "check", "--config", "missing.toml", "bad.py")
    assert status == 2 and "missing.toml" in err


def test_stdin_uses_the_config_of_its_filename(project):
    pyproject(project / "pkg", '[tool.detachify]\nignore = ["TNP001"]\n')
    assert run_cli("check", "-", "--stdin-filename", "pkg/a.py", cwd=project, input=BAD).returncode == 0
    assert run_cli("check", "-", "--stdin-filename", "a.py", cwd=project, input=BAD).returncode == 1


# ---------------------------------------------------------------------------------------------------------------
# errors: exit 2 and a message naming the file and the key


@pytest.mark.parametrize("body, expected", [
    ('selct = ["TNP001"]', "unknown key 'selct' (did you mean 'select'?)"),
    ('extend_select = ["TNP001"]', "unknown key 'extend_select' (did you mean 'extend-select'?)"),
    ('colour = true', "unknown key 'colour'"),
    ('select = "TNP001"', "'select' must be a list of strings, not str"),
    ('ignore = [1]', "'ignore' must be a list of strings"),
    ('exclude = "build"', "'exclude' must be a list of strings"),
    ('per-file-ignores = ["tests/*"]', "'per-file-ignores' must be a table"),
    ('per-file-ignores = {"tests/*" = "TNP001"}', "'per-file-ignores.tests/*' must be a list of strings"),
    ('fix-style = "cpu"', "'fix-style' must be one of 'detach-cpu', 'force', not 'cpu'"),
    ('unsafe-fixes = "yes"', "'unsafe-fixes' must be true or false, not str"),
    ('select = ["E501"]', "'select': unknown rule selector 'E501'"),
    ('select = ["TNP01"]', "'select': unknown rule selector 'TNP01': no rule starts with it"),
    ('ignore = ["TNP0", "TNP999"]', "'ignore': unknown rule selector 'TNP999'"),
    ('per-file-ignores = {"tests/*" = ["TNP8"]}', "'per-file-ignores.tests/*': unknown rule selector 'TNP8'"),
])
def test_bad_config_is_a_clear_error(project, capsys, body, expected):
    pyproject(project, f"[tool.detachify]\n{body}\n")
    write(project, "bad.py", BAD)
    status, out, err = run_main(capsys, "check", "bad.py")
    assert status == 2 and out == ""
    assert err.startswith("detachify: error: ") and "pyproject.toml" in err and expected in err, err
    assert len(err.splitlines()) == 1


def test_invalid_toml(project, capsys):
    pyproject(project, "[tool.detachify\nselect = \n")
    write(project, "bad.py", BAD)
    status, _, err = run_main(capsys, "check", "bad.py")
    assert status == 2 and "pyproject.toml: invalid TOML" in err


def test_table_of_the_wrong_type(project, capsys):
    pyproject(project, '[tool]\ndetachify = "on"\n')
    write(project, "bad.py", BAD)
    status, _, err = run_main(capsys, "check", "bad.py")
    assert status == 2 and "[tool.detachify] must be a table" in err


def test_error_in_a_subproject_config_stops_the_run(project):
    write(project, "a.py", BAD)
    pyproject(project / "sub", "[tool.detachify]\nbogus = 1\n")
    write(project, "sub/b.py", BAD)
    proc = run_cli("check", cwd=project)
    assert proc.returncode == 2 and "unknown key 'bogus'" in proc.stderr


# ---------------------------------------------------------------------------------------------------------------
# units


def test_parse_table_values():
    config = parse_table({"select": ["tnp0"], "per-file-ignores": {"a/*": ["TNP001"]}, "fix-style": "force",
                          "unsafe-fixes": False, "exclude": [], "extend-exclude": ["x"]}, "/p/pyproject.toml")
    assert config == FileConfig(path="/p/pyproject.toml", root=os.path.abspath("/p"), select=("TNP0",), exclude=(),
                                extend_exclude=("x",), per_file_ignores=(("a/*", ("TNP001",)),),
                                fix_style="force", unsafe_fixes=False)


def test_project_merges_command_line_over_config(tmp_path):
    config = FileConfig(root=str(tmp_path), select=("TNP9",), ignore=("TNP002",), extend_select=("TNP003",),
                        fix_style="force", unsafe_fixes=True)
    assert Project(config, Overrides(), str(tmp_path)).settings == Settings(
        select=("TNP9",), ignore=("TNP002",), extend_select=("TNP003",), fix_style="force", unsafe_fixes=True)
    overrides = Overrides(select=("TNP0",), ignore=("TNP001",), extend_select=("TNP1",), fix_style="detach-cpu",
                          unsafe_fixes=False)
    assert Project(config, overrides, str(tmp_path)).settings == Settings(
        select=("TNP0",), ignore=("TNP002", "TNP001"), extend_select=("TNP1",), fix_style="detach-cpu",
        unsafe_fixes=False)


def test_resolver_without_any_config(tmp_path):
    resolver = Resolver(cwd=str(tmp_path))
    assert resolver.project_for(str(tmp_path / "a.py")).settings == Settings()


def test_config_error_type():
    with pytest.raises(ConfigError, match="unknown key 'x'"):
        parse_table({"x": 1}, "pyproject.toml")


@pytest.mark.parametrize("pattern, path, matches", [
    ("*.py", "a.py", True), ("*.py", "a/b.py", False), ("**/b.py", "a/c/b.py", True), ("**/b.py", "b.py", True),
    ("a/**", "a/b/c", True), ("a/**/c", "a/c", True), ("a/**/c", "a/x/y/c", True), ("?.py", "ab.py", False),
    ("[ab].py", "b.py", True), ("[!ab].py", "b.py", False), ("a\\*.py", "a*.py", True), ("a\\*.py", "ab.py", False),
])
def test_glob_regex(pattern, path, matches):
    assert bool(glob_regex(pattern).match(path)) is matches


def test_parse_gitignore():
    rules = parse_gitignore("# comment\n\n!keep\nbuild/\n/top\n a/b \n\\#hash\n", "/base")
    assert [(r.negate, r.dir_only, r.anchored) for r in rules] == [
        (True, False, False), (False, True, False), (False, False, True), (False, False, True),
        (False, False, False)]
