"""The persistent cache: a warm run reports what a cold run reports, and never anything stale.

Real `detachify` processes over a small project in a temporary directory: its summaries, calls and findings are
cached in `.detachify_cache/`; each test changes something a cached entry depended on and checks that the warm
run sees it.
"""
from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

import libcst
import pytest

from cli_support import NET_MODULE as MODEL
from detachify import cache as cache_module
from detachify.cache import Cache
from detachify.cli import main
from detachify.project.workspace import forget_workspaces

HELPERS = """def to_numpy(t):
    return t.numpy()
"""
TRAIN = """import torch
from model import Net
from helpers import to_numpy

out = Net()(torch.randn(3, 4))
print(out.numpy())
print(to_numpy(out.sum()))
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "helpers.py").write_text(HELPERS)
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def check(project: Path, *args: str, env=None) -> str:
    proc = subprocess.run([sys.executable, "-m", "detachify", "check", "--isolated", "-q", *args], cwd=project,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


def entries(directory: Path):
    return sorted(p for p in directory.rglob("*.pickle"))


def test_a_warm_run_reports_what_a_cold_run_reports(project):
    cold = check(project, ".")
    assert "train.py:6:" in cold and "helpers.py:2:" in cold
    cache = project / ".detachify_cache"
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    assert entries(cache)
    assert check(project, ".") == cold
    assert check(project, "helpers.py") == "".join(line + "\n" for line in cold.splitlines() if "helpers.py" in line)
    assert check(project, "--no-cache", ".") == cold


def test_a_warm_run_does_not_analyse_again(project, capsys, monkeypatch):
    forget_workspaces()
    monkeypatch.chdir(project)
    main(["check", "--isolated", "-q", "--jobs", "1", "."])
    cold = capsys.readouterr().out
    forget_workspaces()  # a new process, as far as the cache can tell
    parses = collections.Counter()
    real = libcst.parse_module
    monkeypatch.setattr(libcst, "parse_module", lambda *a, **k: parses.update(["parse"]) or real(*a, **k))
    main(["check", "--isolated", "-q", "--jobs", "1", "."])
    assert capsys.readouterr().out == cold
    assert parses["parse"] == 0
    forget_workspaces()


def test_a_changed_imported_module_changes_its_dependants(project):
    assert "train.py:6:" in check(project, ".")
    (project / "model.py").write_text(MODEL.replace("return self.fc(x)", "return self.fc(x).detach()"))
    warm = check(project, ".")
    assert "train.py:6:" not in warm
    assert warm == check(project, "--no-cache", ".")


CYCLE_A = "from cycle_b import make\n\n\ndef run():\n    return make()\n"
CYCLE_B = ("import torch\n\nimport cycle_a  # noqa: F401\n\n\n"
           "def make():\n    return torch.ones(2, requires_grad=True) * 2\n")


@pytest.mark.parametrize("target", [".", "use_cycle.py"])
def test_a_broken_import_cycle_is_seen_by_the_module_whose_content_did_not_change(project, target):
    """On the cycle, `cycle_a` read `cycle_b` as unknown; once `cycle_b` stops importing it, `cycle_a` reads it:
    its cached summary depended on the cycle, not only on what it read."""
    (project / "cycle_a.py").write_text(CYCLE_A)
    (project / "cycle_b.py").write_text(CYCLE_B)
    (project / "use_cycle.py").write_text("from cycle_a import run\n\nprint(run().numpy())\n")
    assert "use_cycle.py:3:" not in check(project, target)
    (project / "cycle_b.py").write_text(CYCLE_B.replace("import cycle_a  # noqa: F401\n", ""))
    warm = check(project, target)
    assert "use_cycle.py:3:" in warm
    assert warm == check(project, "--no-cache", target)


def test_a_module_that_appears_is_imported(project):
    (project / "train.py").write_text(TRAIN.replace("from model import Net", "from nets import Net"))
    assert "train.py:6:" not in check(project, ".")  # `nets` resolves nowhere: unknown
    (project / "nets.py").write_text(MODEL)
    assert "train.py:6:" in check(project, ".")


def test_a_new_caller_reaches_the_helper(project):
    check(project, ".")
    (project / "train.py").write_text(TRAIN.replace("print(to_numpy(out.sum()))\n", ""))
    assert "helpers.py" not in check(project, ".")
    assert "helpers.py" not in check(project, "helpers.py")
    (project / "report.py").write_text("import torch\nfrom model import Net\nfrom helpers import to_numpy\n"
                                       "to_numpy(Net()(torch.ones(1, 4)))\n")
    assert "helpers.py:2:" in check(project, "helpers.py")
    assert "helpers.py:2:" in check(project, ".")


def test_cache_dir_and_no_cache(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    check(project, "--no-cache", ".")
    assert not (project / ".detachify_cache").exists()
    check(project, "--cache-dir", str(elsewhere / "c"), ".")
    assert entries(elsewhere / "c") and not (project / ".detachify_cache").exists()
    check(project, ".", env={"DETACHIFY_CACHE_DIR": str(elsewhere / "env")})
    assert entries(elsewhere / "env") and not (project / ".detachify_cache").exists()


def test_the_workers_of_a_run_without_cache_share_one_that_goes_with_the_run(project, tmp_path_factory):
    for index in range(10):  # enough files for a pool of workers
        (project / f"script_{index}.py").write_text(TRAIN.replace("out.numpy()", f"out.numpy() + {index}"))
    temporary = tmp_path_factory.mktemp("tmp")
    one_process = check(project, "--no-cache", "--jobs", "1", ".")
    pooled = check(project, "--no-cache", "--jobs", "2", ".", env={"TMPDIR": str(temporary)})
    assert pooled == one_process and one_process.count("TNP001") == 12  # each script, and the helper once
    assert not list(temporary.iterdir()) and not (project / ".detachify_cache").exists()


def test_processes_at_once_agree_and_leave_no_temporary_files(project):
    cold = check(project, "--no-cache", ".")
    procs = [subprocess.Popen([sys.executable, "-m", "detachify", "check", "--isolated", "-q", name], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("train.py", "helpers.py", "model.py", "train.py", "helpers.py", ".")]
    outs = [proc.communicate(timeout=300)[0] for proc in procs]
    by_file = {name: "".join(line + "\n" for line in cold.splitlines() if line.startswith(name)) for name in
               ("train.py", "helpers.py", "model.py")}
    assert outs[:5] == [by_file["train.py"], by_file["helpers.py"], by_file["model.py"], by_file["train.py"],
                        by_file["helpers.py"]]
    assert outs[5] == cold
    assert not [p for p in (project / ".detachify_cache").rglob("*") if p.name.startswith(".tmp-")]


def test_the_cache_stays_bounded_and_drops_other_versions(tmp_path):
    cache = Cache.at(str(tmp_path / "c"))
    for index in range(20):
        cache.store("summary", f"{index:064x}", b"x" * 1000)
    cache.prune(limit=5_000)
    assert len(entries(tmp_path / "c")) <= 5
    (tmp_path / "c" / "0.0.0-old").mkdir()
    Cache.at(str(tmp_path / "c"))
    assert not (tmp_path / "c" / "0.0.0-old").exists()
    assert (tmp_path / "c" / cache_module.entry_format()).is_dir()


def test_a_process_that_runs_main_again_sees_what_changed_since(tmp_path, monkeypatch, capsys):
    """A script (or a test) calling `main` twice: the second run must not answer from what the first one
    analysed in memory (here the caller's calls, analysed when `.` was checked)."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "plots.py").write_text("def show(t):\n    print(t.numpy())\n")
    caller = tmp_path / "explore.py"
    caller.write_text("import torch\nfrom plots import show\nw = torch.ones(3, requires_grad=True)\nshow(w * 2)\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--isolated", "-q", "."]) == 1
    assert "plots.py:2:12: TNP001" in capsys.readouterr().out
    caller.write_text(caller.read_text().replace("show(w * 2)", "show((w * 2).detach())"))
    assert main(["check", "--isolated", "-q", "plots.py"]) == 0


def test_summaries_read_back_are_one_object_per_distinct_value():
    """Read back from the cache, equal value summaries (and their refs and parameters) are one object: a warm
    flake8 worker holds thousands, and its garbage collector walks each of them on every full collection."""
    import pickle

    from detachify.analysis.summary import ParamSummary, Ref, ValueSummary

    net = ValueSummary("instance", ref=Ref("/p/model.py", "Net"), has_params=True)
    first = pickle.loads(pickle.dumps((net, ParamSummary("x", "positional"), [net, net])))
    second = pickle.loads(pickle.dumps(ValueSummary("instance", ref=Ref("/p/model.py", "Net"), has_params=True)))
    assert first[0] == net and first[0] is not net
    assert second is first[0] and second.ref is first[0].ref and first[2][0] is first[0]
    assert pickle.loads(pickle.dumps(ParamSummary("x", "positional"))) is first[1]
    assert pickle.loads(pickle.dumps(ValueSummary("tensor", grad=2))) != net
