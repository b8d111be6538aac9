"""The pre-commit door, with the real `pre-commit`: it builds its own venv and installs detachify from a repo.

The hook repo is a committed copy of this working tree (tracked and untracked-but-not-ignored files), so the
test sees the code as it is now; `pre-commit try-repo` on this checkout itself would only see committed and
modified tracked files. pre-commit's hook venv is built once per session (a shared PRE_COMMIT_HOME) except for
`try-repo`, which always uses a throwaway store.
"""
from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Tuple

import pytest
import yaml

from detachify import fix_source

pytestmark = pytest.mark.slow  # a pip install into a fresh venv: tens of seconds, still in the default run

ROOT = Path(__file__).resolve().parent.parent
BAD = textwrap.dedent("""\
    import torch
    model = torch.nn.Linear(4, 2)
    out = model(torch.randn(3, 4))
    print(out.numpy())
""")
CLEAN = "import torch\nprint(torch.randn(3).numpy())\n"
# Its fix is unsafe (the NumPy value flows back into torch): `detachify fix` leaves it and reports it.
UNSAFE = textwrap.dedent("""\
    import torch
    layer = torch.nn.Linear(3, 3)
    clipped = torch.from_numpy(layer.weight.numpy().clip(-0.3, 0.3))
""")
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull}


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


def make_repo(path: Path, files: dict) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", cwd=path)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    if files:
        git("add", "--", *files, cwd=path)
        git("commit", "-qm", "init", cwd=path)
    return path


@functools.lru_cache(maxsize=None)
def snapshot() -> Tuple[Path, str, Path]:
    """(repo, sha, PRE_COMMIT_HOME): a committed copy of this checkout, made once per process.

    A cached function rather than a fixture so test_docs_snippets shares it (and the hook venv built in it).
    """
    base = Path(tempfile.mkdtemp(prefix="detachify-precommit-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    dest = base / "hook-repo"
    names = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for name in filter(None, names):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    make_repo(dest, {})
    git("add", "-A", cwd=dest)
    git("commit", "-qm", "snapshot", cwd=dest)
    return dest, git("rev-parse", "HEAD", cwd=dest), base / "home"


@pytest.fixture
def hook_repo():
    return snapshot()[:2]


@pytest.fixture
def pre_commit_home():
    return snapshot()[2]


def pre_commit(*args, cwd, home):
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    env.pop("VIRTUAL_ENV", None)  # pre-commit must build the hook's env from scratch, not lean on ours
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=600)


def run_hooks(project, hook_repo, home, hook_ids, files, args=None):
    path, sha = hook_repo
    hooks = [{"id": hook_id, **({"args": args} if args else {})} for hook_id in hook_ids]
    config = project / ".pre-commit-config.yaml"
    config.write_text(yaml.safe_dump({"repos": [{"repo": str(path), "rev": sha, "hooks": hooks}]}))
    return pre_commit("run", "--config", str(config), "--files", *files, cwd=project, home=home)


def test_manifest_entries():
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"detachify", "detachify-fix"}
    for hook_id, command in (("detachify", "check"), ("detachify-fix", "fix")):
        hook = hooks[hook_id]
        assert hook["entry"].split()[:2] == ["detachify", command]
        # As ruff-pre-commit: one process for all the files (one summary), which runs its own pool.
        assert hook["require_serial"] is True and "--jobs" not in hook["entry"]
        assert "--force-exclude" in hook["entry"]
        assert hook["language"] == "python" and hook["types_or"] == ["python", "pyi", "jupyter", "markdown"]
        assert hook.get("pass_filenames", True) is True


def test_try_repo_reports_findings(tmp_path, hook_repo):
    project = make_repo(tmp_path / "project", {"bad.py": BAD, "clean.py": CLEAN})
    proc = pre_commit("try-repo", str(hook_repo[0]), "detachify", "--files", "bad.py", "clean.py",
                      cwd=project, home=tmp_path / "home")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bad.py:4:" in proc.stdout and "TNP001" in proc.stdout
    assert "clean.py" not in proc.stdout.split("Failed", 1)[1]


def test_clean_files_pass(tmp_path, hook_repo, pre_commit_home):
    project = make_repo(tmp_path / "project", {"clean.py": CLEAN, "stub.pyi": "def f() -> int: ...\n"})
    proc = run_hooks(project, hook_repo, pre_commit_home, ["detachify"], ["clean.py", "stub.pyi"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout


def test_non_python_files_are_not_passed(tmp_path, hook_repo, pre_commit_home):
    project = make_repo(tmp_path / "project", {"notes.txt": "out.numpy()\n", "data.json": "{}\n"})
    proc = run_hooks(project, hook_repo, pre_commit_home, ["detachify", "detachify-fix"], ["notes.txt", "data.json"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("(no files to check)Skipped") == 2


def test_fix_hook_rewrites_and_fails(tmp_path, hook_repo, pre_commit_home):
    project = make_repo(tmp_path / "project", {"bad.py": BAD, "clean.py": CLEAN})
    proc = run_hooks(project, hook_repo, pre_commit_home, ["detachify-fix"], ["bad.py", "clean.py"])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "files were modified by this hook" in proc.stdout
    assert (project / "bad.py").read_text() == fix_source(BAD, "bad.py")
    assert (project / "clean.py").read_text() == CLEAN
    # Second run: nothing left to fix, and the check hook agrees.
    proc = run_hooks(project, hook_repo, pre_commit_home, ["detachify-fix", "detachify"], ["bad.py", "clean.py"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("hook_id", ["detachify", "detachify-fix"])
def test_many_files_one_summary(tmp_path, hook_repo, pre_commit_home, hook_id):
    # Without require_serial, pre-commit splits the list over one process per CPU: one summary per slice.
    files = {f"pkg/mod{i:03}.py": (BAD if i % 7 == 0 else UNSAFE if i % 7 == 1 else CLEAN) for i in range(60)}
    project = make_repo(tmp_path / "project", files)
    proc = run_hooks(project, hook_repo, pre_commit_home, [hook_id], sorted(files))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    reported = sorted(line.split(":", 1)[0] for line in proc.stdout.splitlines() if ": TNP001 " in line)
    left = {name for name, text in files.items() if text == UNSAFE or (text == BAD and hook_id == "detachify")}
    assert reported == sorted(left)  # each once
    assert len([line for line in proc.stdout.splitlines() if line.startswith("Found ")]) == 1, proc.stdout


def test_hook_args_are_appended(tmp_path, hook_repo, pre_commit_home):
    # `args:` in the user's config goes after the entry, like any CLI flag: here it switches TNP001 off.
    project = make_repo(tmp_path / "project", {"bad.py": BAD})
    proc = run_hooks(project, hook_repo, pre_commit_home, ["detachify"], ["bad.py"], args=["--ignore", "TNP001"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_project_excludes_apply_to_named_files(tmp_path, hook_repo, pre_commit_home):
    # pre-commit names every file explicitly; --force-exclude in the entry keeps pyproject.toml's excludes working.
    project = make_repo(tmp_path / "project", {
        "pyproject.toml": '[tool.detachify]\nextend-exclude = ["generated/"]\n',
        "generated/bad.py": BAD, "bad.py": BAD,
    })
    proc = run_hooks(project, hook_repo, pre_commit_home, ["detachify"], ["generated/bad.py", "bad.py"])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bad.py:4:" in proc.stdout and "generated/bad.py" not in proc.stdout
    proc = run_hooks(project, hook_repo, pre_commit_home, ["detachify-fix"], ["generated/bad.py"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (project / "generated" / "bad.py").read_text() == BAD


def test_notebooks(tmp_path, hook_repo, pre_commit_home):
    notebook = (ROOT / "fixtures" / "notebooks" / "training_loop.ipynb").read_text()
    project = make_repo(tmp_path / "project", {"nb/train.ipynb": notebook})
    proc = run_hooks(project, hook_repo, pre_commit_home, ["detachify"], ["nb/train.ipynb"])
    assert proc.returncode == 1 and "nb/train.ipynb:cell " in proc.stdout, proc.stdout + proc.stderr
    proc = run_hooks(project, hook_repo, pre_commit_home, ["detachify-fix"], ["nb/train.ipynb"])
    assert proc.returncode == 1 and "files were modified by this hook" in proc.stdout, proc.stdout + proc.stderr
    assert ".detach().cpu().numpy()" in (project / "nb/train.ipynb").read_text()
    assert run_hooks(project, hook_repo, pre_commit_home, ["detachify"], ["nb/train.ipynb"]).returncode == 0
