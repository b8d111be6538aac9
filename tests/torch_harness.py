"""Run a program under torch and record which lines raise "Can't call numpy() on Tensor that requires grad".

This is the ground truth behind every fixture label: a line is labelled ``# expect: TNP001`` because running it
under torch raised, never because someone thought it would.

Each run happens in a fresh process: a child forked from a *fork server*, one ``python`` subprocess per test process
that has imported torch, NumPy, matplotlib, pandas, SciPy and scikit-learn once (so a run costs a fork, not a torch
import); the child runs the program as a fresh ``python`` would (``runpy``, ``__main__``, its own working directory,
stdout and stderr, exit status). Where ``os.fork`` is missing, or with ``DETACHIFY_TEST_NO_FORK_SERVER=1``, each run
is a fresh ``python`` subprocess instead. In *wrapped* mode a small bootstrap replaces ``torch.Tensor.numpy`` before
the program starts: it calls the original; when that raises the requires-grad ``RuntimeError`` it records the line
of the innermost stack frame that belongs to the program and returns ``self.detach().numpy(...)`` instead, so the
program runs on and every raising conversion of the run is found, not only the first. ``Tensor.__array__`` calls
``self.numpy()``, so implicit conversions (``np.asarray(t)``, ``plt.plot(losses)``, ``pd.DataFrame(t)``) are
recorded at the line of the user's call too. In *plain* mode nothing is wrapped.

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
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Optional

REQUIRES_GRAD_MARKER = "requires grad"

# The bootstrap runs in the child. It gets one argument: a JSON spec file
# {"program": path of the program file, "wrap": bool, "report": path where raising lines are written}.
BOOTSTRAP = r'''
import json, os, runpy, sys

def _program_line(frame, program):
    while frame is not None and frame.f_code.co_filename != program:
        frame = frame.f_back
    return frame.f_lineno if frame is not None else None


_PATCH = []


def _record_patch_creation(program):
    """matplotlib patches convert their coordinates when added or drawn: remember the program line that made each,
    so a conversion inside one is recorded where the patch got the tensor (where detachify reports it)."""
    try:
        import matplotlib.patches
    except ImportError:
        return
    init = matplotlib.patches.Patch.__init__
    _PATCH.append(matplotlib.patches.Patch)

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._detachify_created_at = _program_line(sys._getframe(1), program)

    matplotlib.patches.Patch.__init__ = __init__


def _patch_being_converted(frame):
    patch = _PATCH[0] if _PATCH else None
    while patch is not None and frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, patch):  # only patches: another half-built object may answer getattr oddly
            line = vars(owner).get("_detachify_created_at")
            if line is not None:
                return line
        frame = frame.f_back
    return None


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
                line = _patch_being_converted(sys._getframe(1)) or _program_line(sys._getframe(1), program)
                raising.append(line if line is not None else -1)
                return original(self.detach(), *args, **kwargs)

        numpy.__doc__ = original.__doc__
        torch.Tensor.numpy = numpy
        _record_patch_creation(program)

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

if __name__ == "__main__":
    _main()
'''

# The fork server: imports what the programs import, then for each request (a JSON line: spec, cwd, where stdout
# and stderr go, timeout) forks a child that runs the bootstrap's `_main` there, and answers with its exit status.
FORK_SERVER = r'''
import json, os, signal, sys, time, traceback

for name in ("torch", "numpy", "matplotlib.pyplot", "pandas", "scipy.stats", "sklearn.metrics", "seaborn"):
    try:
        __import__(name)
    except Exception:
        pass
bootstrap = {"__name__": "detachify_bootstrap"}
exec(compile(sys.argv[1], "<bootstrap>", "exec"), bootstrap)
protocol_in, protocol_out = sys.stdin, os.fdopen(os.dup(1), "w")
null = os.open(os.devnull, os.O_RDONLY)

def child(request):
    os.dup2(null, 0)
    out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.chdir(request["cwd"])
    sys.argv = ["-c", request["spec"]]
    code = 0
    try:
        bootstrap["_main"]()
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)

for line in protocol_in:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        child(request)
    deadline = time.monotonic() + request["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = None
            break
        time.sleep(0.005)
    code = None if status is None else os.waitstatus_to_exitcode(status)
    protocol_out.write(json.dumps({"returncode": code}) + "\n")
    protocol_out.flush()
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
        returncode, stdout, stderr = _run_spec(spec, tmp, timeout)
        try:
            lines = frozenset(json.loads(Path(report).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            lines = frozenset()
    return RunResult(lines, stdout, returncode, stderr)


def _run_spec(spec: str, cwd: str, timeout: float):
    """Run the bootstrap on ``spec`` in a fresh process: (exit status, stdout, stderr)."""
    server = _fork_server()
    if server is not None:
        answer = server.run(spec, cwd, timeout)
        if answer is not None:
            return answer
    proc = subprocess.run([sys.executable, "-c", BOOTSTRAP, spec], cwd=cwd, env=_child_env(), capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


class _ForkServer:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", FORK_SERVER, BOOTSTRAP], env=_child_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self.lock = threading.Lock()

    def run(self, spec: str, cwd: str, timeout: float):
        stdout, stderr = os.path.join(cwd, ".stdout"), os.path.join(cwd, ".stderr")
        request = {"spec": spec, "cwd": cwd, "stdout": stdout, "stderr": stderr, "timeout": timeout}
        with self.lock:
            try:
                self.proc.stdin.write(json.dumps(request) + "\n")
                self.proc.stdin.flush()
                answer = self.proc.stdout.readline()
            except OSError:
                return None
        if not answer:
            return None  # the server died: the caller runs a plain subprocess
        code = json.loads(answer)["returncode"]
        if code is None:
            raise subprocess.TimeoutExpired(["fork-server", spec], timeout)
        read = functools.partial(Path.read_text, encoding="utf-8", errors="replace")
        return code, read(Path(stdout)), read(Path(stderr))


_server: list = []


def _fork_server() -> Optional[_ForkServer]:
    if not hasattr(os, "fork") or os.environ.get("DETACHIFY_TEST_NO_FORK_SERVER", "") not in ("", "0"):
        return None
    if not _server or _server[0].proc.poll() is not None:
        _server[:] = [_ForkServer()]
    return _server[0]


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
