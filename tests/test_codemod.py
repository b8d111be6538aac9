"""The libcst codemod door, through the real `python -m libcst.tool codemod` runner: same bytes as fix_source."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import libcst
import pytest
from libcst.codemod import CodemodContext

from detachify import Settings, fix_source
from detachify.codemod import DetachNumpy

BAD = textwrap.dedent("""\
    import torch
    model = torch.nn.Linear(4, 2)
    out = model(torch.randn(3, 4))
    print(out.numpy())
""")
# Odd but valid formatting that black would change: the codemod must leave it exactly as it is.
UGLY = BAD.replace("print(out.numpy())", "print( out.numpy() ) ;x=[1,\n  2]")


def codemod(*args, cwd):
    cmd = [sys.executable, "-m", "libcst.tool", "codemod", "--no-format", "--hide-progress",
           "-x", "detachify.codemod.DetachNumpy", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_in_process_matches_fix_source():
    for source in (BAD, UGLY):
        tree = libcst.parse_module(source)
        transformed = DetachNumpy(CodemodContext(filename="bad.py"), isolated=True).transform_module(tree)
        assert transformed.code == fix_source(source, "bad.py")
    assert fix_source(BAD, "bad.py") != BAD  # the positive example really is rewritten


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_runner_output_equals_fix_source(tmp_path, newline):
    sources = {"bad.py": BAD, "ugly.py": UGLY, "clean.py": "import torch\nprint(torch.randn(3).numpy())\n",
               "pkg/deep.py": "# -*- coding: latin-1 -*-\n# caf\xe9\n" + BAD}
    for name, text in sources.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(text.replace("\n", newline).encode("latin-1"))
    proc = codemod("-j", "2", ".", cwd=tmp_path)  # -j 2: the multiprocessing path pickles our arguments
    assert proc.returncode == 0, proc.stderr
    for name, text in sources.items():
        original = text.replace("\n", newline)
        assert (tmp_path / name).read_bytes() == fix_source(original, name).encode("latin-1"), name


@pytest.mark.parametrize("args, settings", [
    (("--fix-style", "force"), Settings(fix_style="force")),
    (("--unsafe-fixes",), Settings(unsafe_fixes=True)),
    (("--unsafe-fixes", "--fix-style", "detach-cpu"), Settings(unsafe_fixes=True)),
    (("--no-unsafe-fixes",), Settings()),
    (("--select", "TNP"), Settings(select=("TNP",))),
    (("--select", "TNP", "--unsafe-fixes"), Settings(select=("TNP",), unsafe_fixes=True)),
    (("--extend-select", "TNP901", "--ignore", "TNP001"), Settings(extend_select=("TNP901",), ignore=("TNP001",))),
])
def test_arguments_reach_the_engine(tmp_path, args, settings):
    source = BAD + "\n\ndef to_numpy(t):\n    return t.numpy()  # TNP901 (off by default)\n"
    (tmp_path / "bad.py").write_text(source)
    proc = codemod(*args, "-j", "1", "bad.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "bad.py").read_text() == fix_source(source, "bad.py", settings)


def test_help_lists_arguments(tmp_path):
    proc = codemod("--help", cwd=tmp_path)
    assert "--unsafe-fixes" in proc.stdout and "--fix-style" in proc.stdout


def test_bad_fix_style_is_rejected(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    proc = codemod("--fix-style", "sideways", "bad.py", cwd=tmp_path)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    assert (tmp_path / "bad.py").read_text() == BAD


@pytest.mark.parametrize("comment", ["  # noqa", "  # noqa: TNP001"])
def test_noqa_is_honoured(tmp_path, comment):
    source = BAD.replace("print(out.numpy())", "print(out.numpy())" + comment)
    (tmp_path / "bad.py").write_text(source)
    assert codemod("-j", "1", "bad.py", cwd=tmp_path).returncode == 0
    assert (tmp_path / "bad.py").read_text() == source


def test_unparsable_file_is_reported_not_rewritten(tmp_path):
    broken = BAD + "def broken(:\n    out.numpy()\n"
    (tmp_path / "broken.py").write_text(broken)
    (tmp_path / "bad.py").write_text(BAD)
    proc = codemod("-j", "1", ".", cwd=tmp_path)
    assert proc.returncode == 1  # the runner's "failures" exit status
    assert "broken.py" in proc.stderr and "Failed to codemod 1 files" in proc.stderr
    assert (tmp_path / "broken.py").read_text() == broken
    assert (tmp_path / "bad.py").read_text() == fix_source(BAD, "bad.py")  # the rest of the run still happens


def test_unified_diff_leaves_files_alone(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    proc = codemod("-j", "1", "--unified-diff", "3", "bad.py", cwd=tmp_path)
    assert proc.returncode == 0
    assert "-print(out.numpy())" in proc.stdout and (tmp_path / "bad.py").read_text() == BAD


def test_config_file_route(tmp_path):
    # The other documented invocation: a .libcst.codemod.yaml naming `detachify` among its modules.
    (tmp_path / ".libcst.codemod.yaml").write_text("modules: ['libcst.codemod.commands', 'detachify']\n")
    (tmp_path / "bad.py").write_text(BAD)
    # The command name goes before any option that takes a value: libcst.tool finds it with a first-pass
    # parser that does not know `-j`, so `-j 1 codemod.DetachNumpy` would read "1" as the command.
    proc = subprocess.run([sys.executable, "-m", "libcst.tool", "codemod", "codemod.DetachNumpy", "--no-format",
                           "--hide-progress", "-j", "1", "bad.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "bad.py").read_text() == fix_source(BAD, "bad.py")


def test_libcst_tool_list_with_detachify_in_the_config(tmp_path):
    # `list` imports every submodule of each configured module, `detachify.__main__` included: it must not run the CLI.
    (tmp_path / ".libcst.codemod.yaml").write_text("modules: ['libcst.codemod.commands', 'detachify']\n")
    proc = subprocess.run([sys.executable, "-m", "libcst.tool", "list"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "codemod.DetachNumpy - " in proc.stdout and "usage: detachify" not in proc.stdout + proc.stderr


def test_byte_order_mark_is_kept(tmp_path):
    # `detachify fix` keeps a UTF-8 BOM; so must the runner's bytes -> Module -> bytes round trip.
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + BAD.encode())
    assert codemod("-j", "1", "bom.py", cwd=tmp_path).returncode == 0
    assert (tmp_path / "bom.py").read_bytes() == b"\xef\xbb\xbf" + fix_source(BAD, "bom.py").encode()


def make_project(root):
    files = {
        "pyproject.toml": textwrap.dedent("""\
            [tool.detachify]
            fix-style = "force"
            extend-exclude = ["generated/"]
            per-file-ignores = { "tests/*" = ["TNP001"] }
        """),
        "app.py": BAD, "tests/test_app.py": BAD, "generated/gen.py": BAD, ".venv/lib/site.py": BAD,
        "sub/pyproject.toml": '[tool.detachify]\nfix-style = "detach-cpu"\n', "sub/mod.py": BAD,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return files


def test_project_config_same_as_detachify_fix(tmp_path):
    # In a configured project the codemod writes what `detachify fix` writes, file for file.
    by_codemod, by_cli = tmp_path / "codemod", tmp_path / "cli"
    files = make_project(by_codemod)
    make_project(by_cli)
    proc = codemod("-j", "1", ".", cwd=by_codemod)
    assert proc.returncode == 0, proc.stderr
    subprocess.run([sys.executable, "-m", "detachify", "fix", "-q", "."], cwd=by_cli, capture_output=True)
    for name in files:
        assert (by_codemod / name).read_text() == (by_cli / name).read_text(), name
    assert (by_codemod / "app.py").read_text() == fix_source(BAD, "app.py", Settings(fix_style="force"))
    assert (by_codemod / "sub/mod.py").read_text() == fix_source(BAD, "sub/mod.py")
    for untouched in ("tests/test_app.py", "generated/gen.py", ".venv/lib/site.py"):
        assert (by_codemod / untouched).read_text() == BAD, untouched


def test_options_override_project_config(tmp_path):
    make_project(tmp_path)
    proc = codemod("--fix-style", "detach-cpu", "--ignore", "TNP001", "-j", "1", "app.py", cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "app.py").read_text() == BAD
    proc = codemod("--fix-style", "detach-cpu", "--select", "TNP001", "-j", "1", "app.py", cwd=tmp_path)
    assert (tmp_path / "app.py").read_text() == fix_source(BAD, "app.py")
    proc = codemod("--isolated", "-j", "1", "tests/test_app.py", cwd=tmp_path)
    assert (tmp_path / "tests/test_app.py").read_text() == fix_source(BAD, "tests/test_app.py")


@pytest.mark.parametrize("args", [("--select", "E501"), ("--select", "TNP01"), ("--ignore", "TNP999")])
def test_unknown_selector_is_a_usage_error(tmp_path, args):
    (tmp_path / "bad.py").write_text(BAD)
    proc = codemod(*args, "bad.py", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown rule selector" in proc.stderr
    assert (tmp_path / "bad.py").read_text() == BAD


def test_unknown_selector_in_the_config_fails_the_file(tmp_path):
    # The runner owns the exit status (1: some files failed); the file is left alone and the message names the key.
    (tmp_path / "pyproject.toml").write_text('[tool.detachify]\nselect = ["TNP01"]\n')
    (tmp_path / "bad.py").write_text(BAD)
    proc = codemod("-j", "1", "bad.py", cwd=tmp_path)
    assert proc.returncode == 1 and "'select': unknown rule selector 'TNP01'" in proc.stderr
    assert (tmp_path / "bad.py").read_text() == BAD
