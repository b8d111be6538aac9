"""Running files through ``files.process_file``: in this process, or a pool for big runs; progress; signals.

Workers only compute. Every write happens here in the main process, one atomic ``os.replace`` at a time,
so an interrupt can stop the run between two files but never leave one half written.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Sequence, TextIO, Tuple

from .files import FileResult, process_file
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


def _work(task: Task) -> FileResult:
    return process_file(*task)


def run(tasks: Sequence[Task], jobs: int, on_result: Callable[[FileResult], None],
        stop: Optional["StopRequest"] = None) -> None:
    stop = stop or StopRequest()
    if jobs <= 1 or len(tasks) < MIN_PARALLEL:
        for task in tasks:
            stop.check()
            on_result(process_file(*task))
        return
    jobs = min(jobs, len(tasks))
    # Chunks amortise the pickling round trips; several per worker keep the load even at the end.
    chunksize = max(1, min(16, len(tasks) // (jobs * 4)))
    with multiprocessing.get_context().Pool(jobs, initializer=_init_worker) as pool:  # exit terminates it
        stop.immediate = True  # this process only waits and writes (atomically): safe to unwind anywhere
        stop.check()
        for result in pool.imap_unordered(_work, tasks, chunksize):
            on_result(result)


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
