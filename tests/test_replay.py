"""A warm run over an unchanged project is read back whole (`detachify.replay`), and never when anything it read
has changed: the file checked, a module it imports, a file that appears, a file rewritten behind an unchanged
modification time."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import NET_MODULE as MODEL

TRAIN = """import torch
from model import Net

out = Net()(torch.randn(3, 4))
print(out.numpy())
"""

# Runs the CLI in a fresh interpreter and says, after its output, whether the parser was ever loaded.
RUN = """
import sys
from detachify.cli import main
status = main(sys.argv[1:])
print("parser loaded:", "libcst" in sys.modules)
raise SystemExit(status)
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def detachify(project: Path, *args: str):
    proc = subprocess.run([sys.executable, "-c", RUN, *args], cwd=project, capture_output=True, text=True,
                          timeout=300)
    *output, loaded = proc.stdout.splitlines()
    return proc.returncode, "\n".join(output), loaded == "parser loaded: True"


def check(project: Path, *args: str):
    return detachify(project, "check", "--isolated", "-q", *args, ".")


def test_an_unchanged_project_is_read_back_without_the_parser(project):
    status, cold, parsed = check(project)
    assert (status, parsed) == (1, True) and "train.py:5:" in cold
    assert check(project) == (1, cold, False)
    assert check(project, "--output-format", "json")[2] is False  # the same results, shown another way
    assert check(project, "--select", "TNP002") == (0, "", True)  # other settings: another run
    assert check(project, "--select", "TNP002") == (0, "", False)


def test_a_changed_imported_module_is_not_read_back(project):
    assert "train.py:5:" in check(project)[1]
    (project / "model.py").write_text(MODEL.replace("return self.fc(x)", "return self.fc(x).detach()"))
    status, output, parsed = check(project)
    assert (status, output, parsed) == (0, "", True)


def test_a_module_that_appears_is_not_missed(project):
    (project / "train.py").write_text(TRAIN.replace("from model import Net", "from nets import Net"))
    assert check(project)[:2] == (0, "")
    (project / "nets.py").write_text(MODEL)
    status, output, parsed = check(project)
    assert status == 1 and "train.py:5:" in output and parsed


def test_a_file_rewritten_behind_its_old_size_and_modification_time_is_read_again(project):
    model = project / "model.py"
    model.write_text(MODEL.replace("return self.fc(x)", "return self.fc(x)#detached"))
    assert "train.py:5:" in check(project)[1]
    stamp = os.stat(model)
    model.write_text(MODEL.replace("return self.fc(x)", "return self.fc(x).detach()"))
    os.utime(model, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert os.stat(model).st_size == stamp.st_size
    assert check(project) == (0, "", True)


def test_a_fix_is_never_read_back(project):
    check(project)
    status, _, parsed = detachify(project, "fix", "--isolated", "-q", ".")
    assert parsed and ".detach()" in (project / "train.py").read_text()
    assert check(project)[:2] == (0, "")


@pytest.mark.parametrize("module", ["detachify", "detachify.cli", "detachify.flake8_plugin", "detachify.api"])
def test_the_front_ends_load_the_parser_only_to_analyse(module):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'libcst'))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


FLAKE8 = """
import sys
from flake8.main.cli import main
try:
    main(["-j1", "--select", "TNP", "."])
finally:
    print("parser loaded:", "libcst" in sys.modules)
"""


def test_flake8_reads_cached_findings_without_the_parser(project, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("cache"))

    def flake8():
        proc = subprocess.run([sys.executable, "-c", FLAKE8], cwd=project, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "DETACHIFY_CACHE_DIR": cache})
        *output, loaded = proc.stdout.splitlines()
        return [line for line in output if "TNP" in line], loaded == "parser loaded: True"

    cold, parsed = flake8()
    assert parsed and any("train.py:5:" in line for line in cold)
    assert flake8() == (cold, False)
