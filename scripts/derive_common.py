"""Machinery shared by the derive scripts (derive_torch_ops.py, derive_numpy_converters.py) and their test.

Calling a library function with made-up arguments can print, warn, hang or take forever; `call_quietly` runs one
call with warnings recorded, output swallowed and a time limit. The rest writes the derived data so that a rerun on
the same library versions gives the same bytes: sorted keys, no addresses in messages, one trailing newline.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "src" / "detachify" / "registry" / "data"
COVERAGE_FILE = ROOT / "scripts" / "DERIVED_COVERAGE.md"

GRAD_ERROR = "Can't call numpy() on Tensor that requires grad"
CALL_TIME_LIMIT_S = 2.0


class ProbeTimeout(Exception):
    """A probe call ran past CALL_TIME_LIMIT_S."""


@dataclass
class CallResult:
    ok: bool
    value: Any = None
    error: Optional[BaseException] = None
    warnings: List[str] = field(default_factory=list)


def _on_alarm(signum, frame):
    raise ProbeTimeout(f"ran past {CALL_TIME_LIMIT_S} s")


def call_quietly(thunk: Callable[[], Any], time_limit_s: float = CALL_TIME_LIMIT_S) -> CallResult:
    """Run `thunk()`: its warnings are recorded, its prints swallowed, and it is stopped after `time_limit_s`
    (by SIGALRM, so only in the main thread and only once control is back in Python)."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    sink = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("always")
            signal.setitimer(signal.ITIMER_REAL, time_limit_s)
            try:
                value = thunk()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        return CallResult(True, value, None, [warning_text(w) for w in caught])
    except Exception as error:  # noqa: BLE001 (the point: a probe may raise anything, ProbeTimeout included)
        return CallResult(False, None, error, [])
    finally:
        signal.signal(signal.SIGALRM, previous)


_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_SPACES = re.compile(r"\s+")


def stable_text(text: str, limit: int = 160) -> str:
    """`text` on one line, without memory addresses, cut to `limit` characters: the same on every run."""
    text = _SPACES.sub(" ", _ADDRESS.sub("0x...", text)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_text(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return stable_text(f"{type(error).__name__}: {lines[0] if lines else ''}")


def warning_text(caught: warnings.WarningMessage) -> str:
    return stable_text(f"{caught.category.__name__}: {caught.message}")


def deprecation_of(warning_texts: List[str]) -> Optional[str]:
    """The first warning that says the callable is deprecated, if any."""
    for text in warning_texts:
        if "deprecat" in text.lower() or text.startswith(("FutureWarning", "DeprecationWarning")):
            return text
    return None


def write_json(path: Path, data: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=True) + "\n", encoding="utf-8")


def update_coverage_section(section: str, markdown: str, path: Path = COVERAGE_FILE) -> None:
    """Replace (or add) the section between `<!-- section:start -->` and `<!-- section:end -->` of the coverage
    report, so that each script rewrites only its own part."""
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else (
        "# Derived library knowledge: coverage\n\n"
        "Written by `scripts/derive_torch_ops.py` and `scripts/derive_numpy_converters.py`; do not edit by hand.\n")
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def summary_line(entries: Dict[str, Dict[str, Any]]) -> str:
    """How many entries were probed at all, and how many of those are classified."""
    not_probed = sum(1 for e in entries.values() if e.get("reason", "").startswith("not probed"))
    probed = len(entries) - not_probed
    classified = sum(1 for e in entries.values() if e["effect"] != "unknown")
    share = f"{100 * classified / probed:.1f} %" if probed else "-"
    return (f"Of {len(entries)} public callables, {not_probed} were not probed (reasons below); of the {probed} "
            f"probed, {classified} are classified ({share}) and {probed - classified} left unknown.")


def markdown_table(header: List[str], rows: List[List[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Isolation: a probe that aborts the interpreter (C++ throwing through pybind11) or hangs in C code must cost one
# entry, not the run. The parent feeds names to a worker process and restarts it past the one it died on.
# ---------------------------------------------------------------------------------------------------------------

WORKER_FLAG = "--worker"
RESULT_PREFIX = "@@derived "
WORKER_SILENCE_LIMIT_S = 120.0


def serve_worker(classify: Callable[[str], Dict[str, Any]]) -> int:
    """The worker's loop: a name per line on stdin, a result line per name on the real stdout. Anything the
    library prints at C level goes to /dev/null, so it cannot corrupt the results."""
    import os
    import sys

    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        try:
            entry = classify(name)
        except Exception as error:  # noqa: BLE001 (one entry lost, not the run; the entry says why)
            entry = {"effect": "unknown", "reason": f"the prober failed: {error_text(error)}"}
        results.write(RESULT_PREFIX + json.dumps([name, entry], sort_keys=True) + "\n")
        results.flush()
    return 0


def derive_isolated(script: Path, names: List[str], progress: bool = True) -> Dict[str, Dict[str, Any]]:
    """Classify `names` in worker processes running `script --worker`, in a scratch directory (a probe given a
    string may take it for a file name); a name whose probing killed or hung the worker gets an `unknown` entry
    saying so."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="derive-") as scratch:
        return _derive_isolated(script, names, progress, scratch)


def _derive_isolated(script: Path, names: List[str], progress: bool, scratch: str) -> Dict[str, Dict[str, Any]]:
    import select
    import subprocess
    import sys
    import threading

    entries: Dict[str, Dict[str, Any]] = {}
    pending = list(names)
    while pending:
        worker = subprocess.Popen([sys.executable, str(script), WORKER_FLAG], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, encoding="utf-8", cwd=scratch)
        feeder = threading.Thread(target=_feed, args=(worker, list(pending)), daemon=True)
        feeder.start()
        while pending:
            ready, _, _ = select.select([worker.stdout], [], [], WORKER_SILENCE_LIMIT_S)
            line = worker.stdout.readline() if ready else None
            if not line:
                break
            if not line.startswith(RESULT_PREFIX):
                continue
            name, entry = json.loads(line[len(RESULT_PREFIX):])
            entries[name] = entry
            pending.remove(name)
            if progress and len(entries) % 100 == 0:
                print(f"  {len(entries)}/{len(names)} {name}", file=sys.stderr, flush=True)
        if not pending:
            worker.stdin.close() if not worker.stdin.closed else None
            worker.wait()
            break
        try:
            worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        hung = worker.poll() is None
        worker.kill()
        worker.wait()
        name = pending.pop(0)
        how = f"hangs (no answer in {WORKER_SILENCE_LIMIT_S:.0f} s)" if hung else \
            f"kills the interpreter (exit status {worker.returncode})"
        entries[name] = {"effect": "unknown", "reason": f"probing {how}"}
        print(f"  {name}: probing {how}; restarting the worker", file=sys.stderr, flush=True)
    return {name: entries[name] for name in names}


def _feed(worker, names: List[str]) -> None:
    try:
        for name in names:
            worker.stdin.write(name + "\n")
        worker.stdin.close()
    except (BrokenPipeError, ValueError, OSError):
        pass  # the worker died; the parent notices
