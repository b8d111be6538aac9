"""Running files through ``files.process_file``: in this process, or a pool for big runs; progress; signals.

Workers only compute. Every write happens here in the main process, one atomic ``os.replace`` at a time,
so an interrupt can stop the run between two files but never leave one half written.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator, Optional, Sequence, TextIO, Tuple

from .cache import shared_by_this_run
from .files import FIRST_PASS, FileResult, process_file
from .project import witness
from .settings import Settings

Task = Tuple[str, str, Settings, str]  # (path, display, settings, mode)

MIN_PARALLEL = 8  # below this a pool costs more (start-up, imports) than it saves
PROGRESS_THRESHOLD = 50


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))  # what this process may use, e.g. in a container
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _init_worker() -> None:
    # Ctrl-C reaches the whole process group; only the main process reacts, and it ends the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _work(task) -> FileResult:
    result = process_file(*task)
    result.witnessed = _facts_for_the_main_process()
    return result


def _outgoing(path: str):
    from . import api

    return path, api.project_of(path).workspace.outgoing(path), _facts_for_the_main_process()


def _facts_for_the_main_process() -> list:
    """What a worker read of the file system since its last result; nothing when this is the main process
    (its facts are already where a run index reads them)."""
    import multiprocessing

    return witness.drain() if multiprocessing.parent_process() is not None else []


def run(tasks: Sequence[Task], jobs: int, on_result: Callable[[FileResult], None],
        stop: Optional["StopRequest"] = None) -> None:
    """Process every file as part of its project, in three passes over one pool.

    1. Every file, with `FIRST_PASS`: files that cannot receive calls from other files are done; the others
       wait, and each analysed file reports its calls into the rest of the project.
    2. Callers that pass 1 did not analyse (nothing to report in them), for their calls only.
    3. The waiting files, with the calls gathered from 1 and 2: what a check of one file would find itself.
    """
    from . import api
    from .project.workspace import calls_into

    stop = stop or StopRequest()
    with _Pool(jobs, len(tasks), stop) as pool:
        waiting, outgoing = [], {}
        for result in pool.map(_work, [(*task, FIRST_PASS) for task in tasks]):
            _take_facts(result)
            if result.facts is not None and result.facts.outgoing is not None:
                outgoing[os.path.abspath(result.path)] = result.facts.outgoing
            if result.facts is not None and result.facts.deferred:
                waiting.append(result)
            else:
                on_result(result)
        if not waiting:
            return
        by_path = {os.path.abspath(task[0]): task for task in tasks}
        callers = {}
        for result in waiting:
            path = os.path.abspath(result.path)
            callers[path] = api.project_of(path).workspace.callers_naming(path, result.facts.names)
        missing = sorted({caller for found in callers.values() for caller in found if caller not in outgoing})
        for path, calls, facts in pool.map(_outgoing, missing):
            witness.merge(facts)
            outgoing[path] = calls
        again = []
        for result in waiting:
            path = os.path.abspath(result.path)
            incoming = calls_into(path, {caller: outgoing.get(caller, ()) for caller in callers[path]})
            again.append((*by_path[path], incoming))
        for result in pool.map(_work, again):
            _take_facts(result)
            on_result(result)


def _take_facts(result: FileResult) -> None:
    """What a worker read for the result joins what this process read (a run index records it all)."""
    witness.merge(result.witnessed or ())
    result.witnessed = None


class _Pool:
    """`map` over a process pool for big runs, in this process for small ones; results in any order."""

    def __init__(self, jobs: int, size: int, stop: "StopRequest"):
        self.jobs = 1 if jobs <= 1 or size < MIN_PARALLEL else min(jobs, size)
        self.stop = stop
        self.pool = None

    def __enter__(self):
        if self.jobs > 1:
            import multiprocessing  # here: a run read back whole (replay) starts no pool

            with ExitStack() as stack:
                stack.enter_context(shared_by_this_run())  # before the workers start: they inherit it
                self.pool = multiprocessing.get_context().Pool(self.jobs, initializer=_init_worker)
                self.cleanup = stack.pop_all()
            self.stop.immediate = True  # this process only waits and writes (atomically): safe to unwind anywhere
            self.stop.check()
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.cleanup.close()

    def map(self, function, items):
        if self.pool is None:
            for item in items:
                self.stop.check()
                yield function(item)
            return
        # Chunks amortise the pickling round trips; several per worker keep the load even at the end.
        chunksize = max(1, min(16, len(items) // (self.jobs * 4)))
        yield from self.pool.imap_unordered(function, items, chunksize)


class StopRequest:
    """Set by SIGINT/SIGTERM. While the engine runs in this process the stop waits for the file in hand:
    an exception raised at an arbitrary point inside the analysis (libcst included) is not reliably an
    interrupt by the time it surfaces. A second signal stops at once."""

    def __init__(self):
        self.signum: Optional[int] = None
        self.immediate = False

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


@contextmanager
def interruptible() -> Iterator[StopRequest]:
    """SIGTERM behaves like Ctrl-C: the run unwinds (temporary files removed, pool ended) instead of dying."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        again = stop.signum is not None
        stop.signum = signum
        if stop.immediate or again:
            raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
        stop.check()  # a signal during the last file still ends the run as interrupted
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def exit_status(exc: KeyboardInterrupt) -> int:
    return 128 + getattr(exc, "signum", signal.SIGINT)


class Progress:
    """A `\\r` counter on stderr, for long runs on a terminal only: logs and CI output stay clean."""

    def __init__(self, total: int, enabled: bool, stream: Optional[TextIO] = None):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > PROGRESS_THRESHOLD and self.stream.isatty()
        self._drawn = False

    def update(self) -> None:
        self.done += 1
        if self.enabled and (self.done == self.total or self.done % 10 == 0):
            self.stream.write(f"\rdetachify: {self.done}/{self.total} files")
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
