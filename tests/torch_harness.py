"""Run a program under torch and record which lines raise "Can't call numpy() on Tensor that requires grad".

This is the ground truth behind every fixture label: a line is labelled ``# expect: TNP001`` because running it
under torch raised, never because someone thought it would.

Each run happens in a fresh ``python`` subprocess (``sys.executable``). In *wrapped* mode a small bootstrap replaces
``torch.Tensor.numpy`` before the program starts: it calls the original; when that raises the requires-grad
``RuntimeError`` it records the line of the innermost stack frame that belongs to the program and returns
``self.detach().numpy(...)`` instead, so the program runs on and every raising conversion of the run is found, not
only the first. ``Tensor.__array__`` calls ``self.numpy()``, so implicit conversions (``np.asarray(t)``,
``plt.plot(losses)``, ``pd.DataFrame(t)``) are recorded at the line of the user's call too. In *plain* mode nothing
is wrapped.

The entry point takes a source string and a filename (``run_source``), so the same harness serves the fixture
folders, fixed programs that exist only in memory and, later, notebooks (pass the cells joined as one program and
a filename of your choice; recorded lines are lines of that source).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Optional

REQUIRES_GRAD_MARKER = "requires grad"

# The bootstrap runs in the child. It gets one argument: a JSON spec file
# {"program": path of the program file, "wrap": bool, "report": path where raising lines are written}.
BOOTSTRAP = r'''
import json, os, runpy, sys

def _main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    program = spec["program"]
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
                while frame is not None and frame.f_code.co_filename != program:
                    frame = frame.f_back
                raising.append(frame.f_lineno if frame is not None else -1)
                return original(self.detach(), *args, **kwargs)

        numpy.__doc__ = original.__doc__
        torch.Tensor.numpy = numpy

    def write_report():
        with open(spec["report"], "w", encoding="utf-8") as f:
            json.dump(sorted(set(raising)), f)

    sys.argv = [program]
    sys.path.insert(0, os.path.dirname(program))
    try:
        runpy.run_path(program, run_name="__main__")
    finally:
        sys.stdout.flush()
        write_report()

_main()
'''


@dataclass(frozen=True)
class RunResult:
    raising_lines: FrozenSet[int]  # lines of the program where a conversion raised (wrapped runs only)
    stdout: str
    returncode: int
    stderr: str

    @property
    def requires_grad_error(self) -> bool:
        """True when the run died of (or printed) the requires-grad error — the plain-run symptom."""
        return "Can't call numpy() on Tensor that requires grad" in self.stderr

    def __iter__(self):  # unpack as (raising_lines, stdout, returncode, stderr)
        return iter((self.raising_lines, self.stdout, self.returncode, self.stderr))


def _child_env() -> dict:
    env = dict(os.environ)
    env.update({
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        # Tiny tensors: one thread is faster and does not fight the other test workers for the cores.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    })
    env.pop("PYTHONSTARTUP", None)
    return env


def run_source(source: str, filename: str = "program.py", *, wrap: bool = True, timeout: float = 120) -> RunResult:
    """Run ``source`` as ``__main__`` in a fresh interpreter; ``filename``'s base name names the program file.

    The program runs from a temporary directory (its working directory too), so whatever it writes is thrown away.
    """
    with tempfile.TemporaryDirectory(prefix="detachify-run-") as tmp:
        program = os.path.join(tmp, os.path.basename(filename) or "program.py")
        if not program.endswith(".py"):
            program += ".py"
        Path(program).write_text(source, encoding="utf-8")
        report = os.path.join(tmp, "raising-lines.json")
        spec = os.path.join(tmp, "spec.json")
        Path(spec).write_text(json.dumps({"program": program, "wrap": wrap, "report": report}), encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-c", BOOTSTRAP, spec],
            cwd=tmp, env=_child_env(), capture_output=True, text=True, encoding="utf-8", timeout=timeout,
        )
        try:
            lines = frozenset(json.loads(Path(report).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            lines = frozenset()
    return RunResult(lines, proc.stdout, proc.returncode, proc.stderr)


def run_file(path, *, wrap: bool = True, timeout: float = 120) -> RunResult:
    path = Path(path)
    return run_source(path.read_text(encoding="utf-8"), path.name, wrap=wrap, timeout=timeout)


# --- caching ---------------------------------------------------------------------------------------------------
# Several tests need the same run of the same program. Results are cached in-process and, when a cache directory is
# given, on disk keyed by a hash of (bootstrap, source, mode), so pytest-xdist workers share runs too.

def _cache_key(source: str, filename: str, wrap: bool) -> str:
    h = hashlib.sha256()
    for part in (BOOTSTRAP, sys.executable, os.path.basename(filename), "wrap" if wrap else "plain", source):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def cached_run(source: str, filename: str, wrap: bool = True, cache_dir: Optional[str] = None) -> RunResult:
    """``run_source`` with memoisation (and an optional on-disk cache shared between processes)."""
    entry = None
    if cache_dir:
        entry = Path(cache_dir) / (_cache_key(source, filename, wrap) + ".json")
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
            return RunResult(frozenset(data["raising_lines"]), data["stdout"], data["returncode"], data["stderr"])
        except (OSError, ValueError, KeyError):
            pass
    result = run_source(source, filename, wrap=wrap)
    if entry is not None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"raising_lines": sorted(result.raising_lines), "stdout": result.stdout,
                                   "returncode": result.returncode, "stderr": result.stderr}), encoding="utf-8")
        os.replace(tmp, entry)  # atomic: a racing worker reads a whole entry or none
    return result


if __name__ == "__main__":  # python tests/torch_harness.py FILE...  — show what torch says about each file
    for arg in sys.argv[1:]:
        res = run_file(arg)
        print(f"{arg}: rc={res.returncode} raising={sorted(res.raising_lines)}")
        if res.returncode:
            print(res.stderr[-2000:])
