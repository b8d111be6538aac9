"""One engine behind every door: flake8, the CLI in every output format and the API report the same findings
for every fixture, and the codemod and `detachify fix` write the same bytes.

Each tool runs once over a copy of the whole fixture tree (a copy, so no project config above `fixtures/`
changes what is checked); the per-fixture tests then only compare. Positions are compared 1-based.
"""
from __future__ import annotations

from fixture_files import single_file_fixtures
import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set, Tuple
from urllib.parse import unquote, urlparse

import pytest

from detachify import Settings, check_source, fix_source

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FIXTURE_FILES = [p.relative_to(FIXTURES).as_posix() for p in single_file_fixtures(FIXTURES)]
Found = Dict[str, Set[Tuple[int, int, str]]]  # fixture path -> {(line, 1-based column, code)}


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # not read_text: keep "\r\n" as the doors see it


def run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    # 0: nothing found, 1: findings; anything else is a crash or a usage error.
    assert proc.returncode in (0, 1), f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="session")
def tree(tmp_path_factory):
    dest = tmp_path_factory.mktemp("agreement") / "fixtures"
    # Python files only: flake8 and the codemod do not read notebooks, .ipynb or .md (their doors are
    # tests/test_notebook*.py and tests/test_markdown_notebooks.py), and the exercise notebooks' broken cells would
    # make every CLI run exit 2. The multi-module projects are compared project by project, at the end of this file.
    shutil.copytree(FIXTURES, dest, ignore=lambda folder, names: [n for n in names if n == "__pycache__" or (
        n.endswith((".ipynb", ".md"))) or (n == "projects" and Path(folder) == FIXTURES)])
    return dest


def relative(name: str, base: Path) -> str:
    """Doors may print paths as given (`./a.py`), absolute, or as `file:` URIs (SARIF): compare them relative."""
    if name.startswith("file:"):
        name = unquote(urlparse(name).path)
    path = Path(name)  # Path drops a leading "./"
    return path.resolve().relative_to(base.resolve()).as_posix() if path.is_absolute() else path.as_posix()


def collect(rows, base: Path) -> Found:
    found: Found = {}
    for name, line, column, code in rows:
        found.setdefault(relative(name, base), set()).add((int(line), int(column), code))
    return found


def parse_concise(out, base):
    pattern = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) ")
    matches = [pattern.match(line) for line in out.splitlines()]
    return collect([(m["path"], m["line"], m["col"], m["code"]) for m in matches if m], base)


def parse_json(out, base):
    return collect([(d["filename"], d["location"]["row"], d["location"]["column"], d["code"])
                    for d in json.loads(out)], base)


def parse_github(out, base):
    pattern = re.compile(r"^::error file=(?P<path>[^,]+),line=(?P<line>\d+),(?:endLine=\d+,)?col=(?P<col>\d+)"
                         r"(?:,endColumn=\d+)?,title=(?P<code>[A-Z]+\d+)")
    matches = [pattern.match(line) for line in out.splitlines()]
    return collect([(m["path"], m["line"], m["col"], m["code"]) for m in matches if m], base)


def parse_sarif(out, base):
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    rows = []
    for result in log["runs"][0]["results"]:
        location = result["locations"][0]["physicalLocation"]
        region = location["region"]
        rows.append((location["artifactLocation"]["uri"], region["startLine"], region["startColumn"],
                     result["ruleId"]))
    return collect(rows, base)


PARSERS = {"concise": parse_concise, "json": parse_json, "github": parse_github, "sarif": parse_sarif}


# Each door's way of saying "default rules" and "every rule, off-by-default ones (TNP9xx) included".
SELECTIONS = {
    "default": {"flake8": [], "cli": [], "api": Settings()},
    "all": {"flake8": ["--select", "TNP"], "cli": ["--select", "TNP"], "api": Settings(select=("TNP",))},
}
DOORS = ["flake8", "cli:concise", "cli:json", "cli:github", "cli:sarif"]


@pytest.fixture(scope="session")
def reports(tree) -> Dict[Tuple[str, str], Found]:
    """Every door's findings, keyed by (door, selection); computed lazily, once per session."""
    return Reports(tree)


class Reports(dict):
    def __init__(self, tree: Path):
        super().__init__()
        self.tree = tree

    def __missing__(self, key: Tuple[str, str]) -> Found:
        door, selection = key
        if door == "api":
            self[key] = self._api(SELECTIONS[selection]["api"])
        elif door == "flake8":
            self[key] = self._flake8(SELECTIONS[selection]["flake8"])
        else:  # "cli:FORMAT"
            fmt = door.split(":", 1)[1]
            self[key] = PARSERS[fmt](self._cli(fmt, SELECTIONS[selection]["cli"]), self.tree)
        return self[key]

    def _api(self, settings: Settings) -> Found:
        found: Found = {}
        for name in FIXTURE_FILES:
            for f in check_source(read(self.tree / name), name, settings):
                found.setdefault(name, set()).add((f.line, f.column + 1, f.code))
        return found

    def _flake8(self, args) -> Found:
        # Without --select flake8 also runs pycodestyle and pyflakes: keep the TNP rows only.
        out = run([sys.executable, "-m", "flake8", "--isolated", *args, "--jobs", "2",
                   "--format", "%(path)s:%(row)d:%(col)d: %(code)s %(text)s", "."], self.tree)
        return {name: {row for row in rows if row[2].startswith("TNP")}
                for name, rows in parse_concise(out, self.tree).items()}

    def _cli(self, fmt: str, args) -> str:
        return run([sys.executable, "-m", "detachify", "check", *args, "--output-format", fmt, "."], self.tree)


def test_fixtures_exist_and_are_reported(reports):
    assert FIXTURE_FILES, "no fixtures under fixtures/"
    # Guard against agreeing on nothing: the fixtures carry `# expect:` labels, so the engine finds something.
    assert reports["api", "default"], "the API reports nothing on any fixture"
    assert not set(reports["api", "default"]) - set(FIXTURE_FILES)


@pytest.mark.parametrize("selection", sorted(SELECTIONS))
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("fixture", FIXTURE_FILES)
def test_same_findings(reports, door, selection, fixture):
    assert reports[door, selection].get(fixture, set()) == reports["api", selection].get(fixture, set())


@pytest.mark.parametrize("selection", sorted(SELECTIONS))
@pytest.mark.parametrize("door", DOORS)
def test_no_findings_outside_fixtures(reports, door, selection):
    # Notebook fixtures (`x.ipynb:cell N`) are the CLI's alone: flake8 and the codemod only read Python files.
    assert {name for name in reports[door, selection] if ".ipynb" not in name} <= set(FIXTURE_FILES)


VARIANTS = {
    "default": ((), Settings()),
    "force": (("--fix-style", "force"), Settings(fix_style="force")),
    "all-unsafe": (("--select", "TNP", "--unsafe-fixes"), Settings(select=("TNP",), unsafe_fixes=True)),
}


@functools.lru_cache(maxsize=None)
def fixed_trees(tree: Path, variant: str) -> Tuple[Path, Path]:
    """(tree after `detachify fix`, tree after the libcst codemod) for one settings variant."""
    args, _ = VARIANTS[variant]
    by_cli, by_codemod = tree.parent / f"fix-{variant}", tree.parent / f"codemod-{variant}"
    for dest in (by_cli, by_codemod):
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(tree, dest)
    # Both at once: they write separate copies, and each spends much of its time starting up.
    cli = subprocess.Popen([sys.executable, "-m", "detachify", "fix", "-q", *args, "."], cwd=by_cli,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    codemod = subprocess.Popen([sys.executable, "-m", "libcst.tool", "codemod", "-x", "detachify.codemod.DetachNumpy",
                                "--no-format", "--hide-progress", *args, "."], cwd=by_codemod,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for proc, ok in ((cli, (0, 1)), (codemod, (0,))):  # fix: 1 = findings without a (safe) fix remain
        out, err = proc.communicate(timeout=600)
        assert proc.returncode in ok, f"{proc.args}\n{out[-3000:]}\n{err[-3000:]}"
    return by_cli, by_codemod


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("fixture", FIXTURE_FILES)
def test_same_fixes(tree, variant, fixture):
    by_cli, by_codemod = fixed_trees(tree, variant)
    expected = fix_source(read(tree / fixture), fixture, VARIANTS[variant][1])
    assert (by_cli / fixture).read_bytes() == expected.encode("utf-8")
    assert (by_codemod / fixture).read_bytes() == expected.encode("utf-8")


# --- multi-module projects ---------------------------------------------------------------------------------------
# Every door reports for each file of a project exactly what `detachify check` of the whole project reports for it:
# `detachify check FILE` (what pre-commit runs on changed files), flake8 (one file per call), the API with the file's
# project, and the codemod writes what `detachify fix` writes.

PROJECTS = sorted(p.name for p in (FIXTURES / "projects").iterdir() if (p / "pyproject.toml").is_file())


@pytest.fixture(scope="session")
def project_trees(tmp_path_factory):
    dest = tmp_path_factory.mktemp("projects")
    for name in PROJECTS:
        shutil.copytree(FIXTURES / "projects" / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _json_rows(out: str, base: Path) -> Set[Tuple[str, int, int, int, str]]:
    return {(relative(d["filename"], base), d.get("cell") or 0, d["location"]["row"], d["location"]["column"],
             d["code"]) for d in json.loads(out)}


def _project_files(root: Path):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.suffix in (".py", ".ipynb") and "__pycache__" not in p.parts)


@pytest.mark.parametrize("name", PROJECTS)
def test_project_doors_agree(project_trees, name):
    root = project_trees / name
    whole = _json_rows(run([sys.executable, "-m", "detachify", "check", "--isolated", "--output-format", "json",
                            "."], root), root)
    assert whole, f"{name}: no findings at all (its labels say otherwise)"
    single = set()
    for path in _project_files(root):
        single |= _json_rows(run([sys.executable, "-m", "detachify", "check", "--isolated", "--output-format",
                                  "json", path], root), root)
    assert single == whole
    import detachify.api as api

    by_api = set()
    for path in _project_files(root):
        if path.endswith(".py"):
            for f in check_source(read(root / path), path, Settings(), project=api.project_of(str(root / path))):
                by_api.add((path, 0, f.line, f.column + 1, f.code))
    assert by_api == {row for row in whole if row[0].endswith(".py")}
    out = run([sys.executable, "-m", "flake8", "--isolated", "--select", "TNP0", "--format",
               "%(path)s:%(row)d:%(col)d: %(code)s %(text)s", "."], root)
    by_flake8 = {(path, 0, line, column, code) for path, rows in parse_concise(out, root).items()
                 for line, column, code in rows}
    assert by_flake8 == {row for row in whole if row[0].endswith(".py")}


@pytest.mark.parametrize("name", PROJECTS)
def test_project_fixes_agree(project_trees, tmp_path, name):
    by_cli, by_codemod = tmp_path / "cli", tmp_path / "codemod"
    for dest in (by_cli, by_codemod):
        shutil.copytree(project_trees / name, dest)
    subprocess.run([sys.executable, "-m", "detachify", "fix", "-q", "--isolated", "."], cwd=by_cli, check=False,
                   capture_output=True, timeout=600)
    proc = subprocess.run([sys.executable, "-m", "libcst.tool", "codemod", "-x", "detachify.codemod.DetachNumpy",
                           "--no-format", "--hide-progress", "--isolated", "."], cwd=by_codemod, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for path in _project_files(by_cli):
        if path.endswith(".py"):
            assert (by_codemod / path).read_bytes() == (by_cli / path).read_bytes(), path
