"""Multi-module fixture projects (`fixtures/projects/`), labelled by running their entry points under torch.

Each project is checked the way users check projects: `detachify check` on the whole tree must report exactly
the labelled sites (the TNP001/TNP003 labels are proven: they are exactly the lines where torch raised while the
entry points ran; TNP002 labels are not, see fixtures/README.md), and `detachify fix` must leave a tree whose
entry points run to the end and print what they printed before. How each door reports one file of a project is
held to the same answer in tests/test_agreement.py.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from project_harness import entries, labels, partial_copy, run_project

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = sorted(p for p in (ROOT / "fixtures" / "projects").iterdir() if (p / "pyproject.toml").is_file())
PROVEN = {"TNP001", "TNP003"}
CELL = re.compile(r"^cell (\d+)$")


def detachify(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "detachify", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def reported(tree: Path):
    """{(path, cell, line): {codes}} from `detachify check --output-format json` over a project tree."""
    out = detachify("check", "--isolated", "--output-format", "json", str(tree)).stdout
    found = {}
    for item in json.loads(out):
        path = Path(item["filename"]).resolve().relative_to(tree.resolve()).as_posix()
        cell = item.get("cell") or 0
        found.setdefault((path, cell, item["location"]["row"]), set()).add(item["code"])
    return found


@pytest.fixture(scope="module", params=[p.name for p in PROJECTS])
def project(request, tmp_path_factory):
    tree = tmp_path_factory.mktemp("project") / request.param
    shutil.copytree(ROOT / "fixtures" / "projects" / request.param, tree,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def test_labels_are_what_torch_raises(project):
    run = run_project(project)
    assert run.returncode == 0, run.stderr[-3000:]
    proven = {site for site, (codes, _) in labels(project).items() if codes & PROVEN}
    assert run.raising == proven


def test_check_reports_the_labels(project):
    expected = {site: set(codes) for site, (codes, _) in labels(project).items()}
    assert reported(project) == expected


def test_fixed_project_runs_and_prints_the_same(project, tmp_path):
    before = run_project(project)  # wrapped: it survives the crashes and prints everything
    fixed = tmp_path / project.name
    shutil.copytree(project, fixed)
    detachify("fix", "--isolated", "--unsafe-fixes", str(fixed))
    assert reported(fixed) == {}, "fixing twice would change more"
    after = run_project(project, wrap=False, copy=fixed)
    assert after.returncode == 0, after.stderr[-3000:]
    assert "requires grad" not in after.stderr
    assert after.stdout == before.stdout


@pytest.mark.parametrize("name", [p.name for p in PROJECTS if partial_copy(p)])
def test_a_partial_checkout_reports_what_the_whole_one_does(name, tmp_path):
    """A copy without the packages' `__init__.py` files (a sparse checkout, a subset copied elsewhere): the folders
    left are namespace packages, which Python imports too, and a name a missing `__init__` re-exported is taken
    from the one module of its folder that defines it; the labels (proven on the whole project) are reported all
    the same. Without the root marker too, an entry point in a sub-folder still finds the packages above it."""
    tree = tmp_path / name
    shutil.copytree(ROOT / "fixtures" / "projects" / name, tree, ignore=shutil.ignore_patterns("__pycache__"))
    for init in tree.rglob("__init__.py"):
        init.unlink()
    expected = {site: set(codes) for site, (codes, _) in labels(tree).items()}
    assert reported(tree) == expected
    scripts = set(entries(tree))
    (tree / "pyproject.toml").unlink()
    assert {site: codes for site, codes in reported(tree).items() if site[0] in scripts} == \
        {site: codes for site, codes in expected.items() if site[0] in scripts}
