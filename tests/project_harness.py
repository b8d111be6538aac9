"""Run a fixture project's entry points under torch and record where "Can't call numpy() on Tensor that requires
grad" is raised: the ground truth behind the labels of `fixtures/projects/`.

As in `torch_harness`, `torch.Tensor.numpy` is wrapped in the child so that every raising conversion is recorded
(and survives); the line recorded is that of the innermost stack frame inside the project, so a helper module
converting its argument is blamed, not the script that called it. Each run works on a copy of the project in a
temporary directory (whatever the program writes is thrown away). A notebook entry runs as its code cells joined
(IPython syntax masked, as detachify reads it); its lines are reported as (cell, line).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Tuple

from torch_harness import _child_env

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>TNP\d+(?:\s*,\s*TNP\d+)*)(?P<unsafe>\s+unsafe-fix)?")
Site = Tuple[str, int, int]  # (path relative to the project, cell (0 for a .py file), line)

BOOTSTRAP = r'''
import json, os, runpy, sys

def _main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    root = os.path.join(os.path.realpath(spec["root"]), "")
    raising = []
    if spec["wrap"]:
        import torch

        original = torch.Tensor.numpy

        def numpy(self, *args, **kwargs):
            try:
                return original(self, *args, **kwargs)
            except RuntimeError as exc:
                if "requires grad" not in str(exc):
                    raise
                frame = sys._getframe(1)
                while frame is not None and not os.path.realpath(frame.f_code.co_filename).startswith(root):
                    frame = frame.f_back
                if frame is not None:
                    raising.append([os.path.relpath(os.path.realpath(frame.f_code.co_filename), root),
                                    frame.f_lineno])
                return original(self.detach(), *args, **kwargs)

        torch.Tensor.numpy = numpy
    try:
        program = spec["program"]
        sys.argv = [program]
        sys.path.insert(0, os.path.dirname(program))
        runpy.run_path(program, run_name="__main__")
    finally:
        sys.stdout.flush()
        with open(spec["report"], "w", encoding="utf-8") as f:
            json.dump(raising, f)

_main()
'''


@dataclass(frozen=True)
class ProjectRun:
    raising: FrozenSet[Site]
    stdout: str
    returncode: int
    stderr: str


def entries(project: Path) -> List[str]:
    with open(project / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["tool"]["detachify-fixture"]["entry"])


def partial_copy(project: Path) -> bool:
    """Whether a copy without its `__init__.py` files and root marker must report the same (test_projects.py)."""
    with open(project / "pyproject.toml", "rb") as f:
        return bool(tomllib.load(f)["tool"]["detachify-fixture"].get("partial-copy"))


def project_files(project: Path) -> List[Path]:
    return sorted(p for p in project.rglob("*") if p.suffix in (".py", ".ipynb") and p.is_file()
                  and "__pycache__" not in p.parts)


def labels(project: Path) -> Dict[Site, Tuple[FrozenSet[str], bool]]:
    """Every `# expect: CODES [unsafe-fix]` of the project: site → (codes, fix must be unsafe)."""
    found = {}
    for path in project_files(project):
        relative = path.relative_to(project).as_posix()
        for cell, number, text in _lines(path):
            match = EXPECT.search(text)
            if match:
                codes = frozenset(code.strip() for code in match["codes"].split(","))
                found[(relative, cell, number)] = (codes, bool(match["unsafe"]))
    return found


def _lines(path: Path):
    if path.suffix == ".py":
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield 0, number, text
        return
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells, 1):
        if cell.get("cell_type") == "code":
            source = cell["source"]
            text = "".join(source) if isinstance(source, list) else source
            for number, line in enumerate(text.splitlines(), 1):
                yield index, number, line


def run_project(project: Path, *, wrap: bool = True, timeout: float = 180, copy: Optional[Path] = None) -> ProjectRun:
    """Run every entry point in order in one copy of the project (`copy`: run that tree instead)."""
    from detachify.notebook import read_notebook

    raising, outs, errs, status = set(), [], [], 0
    with tempfile.TemporaryDirectory(prefix="detachify-project-") as tmp:
        tree = Path(tmp) / project.name
        shutil.copytree(copy or project, tree, ignore=shutil.ignore_patterns("__pycache__"))
        for entry in entries(project):
            notebook = None
            program = tree / entry
            if entry.endswith(".ipynb"):
                notebook = read_notebook(program.read_bytes())
                program = program.with_name(program.stem + "_program.py")
                program.write_text(notebook.program, encoding="utf-8")
            report, spec = Path(tmp) / "report.json", Path(tmp) / "spec.json"
            spec.write_text(json.dumps({"program": str(program), "root": str(tree), "wrap": wrap,
                                        "report": str(report)}), encoding="utf-8")
            env = _child_env()
            if (tree / "src").is_dir():  # a src/ layout runs as if installed (`pip install -e .`)
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree / "src"), env.get("PYTHONPATH")]))
            proc = subprocess.run([sys.executable, "-c", BOOTSTRAP, str(spec)], cwd=program.parent,
                                  env=env, capture_output=True, text=True, encoding="utf-8", timeout=timeout)
            outs.append(proc.stdout)
            errs.append(proc.stderr)
            status = status or proc.returncode
            for relative, line in json.loads(report.read_text(encoding="utf-8")) if report.exists() else ():
                if notebook is not None and relative == program.name:
                    cell, cell_line, _ = notebook.locate(line, 0)
                    raising.add((entry, cell, cell_line))
                else:
                    raising.add((relative.replace(os.sep, "/"), 0, line))
    return ProjectRun(frozenset(raising), "".join(outs), status, "".join(errs))
