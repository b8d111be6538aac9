"""Checks are queued on one worker thread, debounced per document, so the event loop keeps answering while one
runs.

Each document has at most one pending check, holding the newest snapshot: a burst of keystrokes becomes one
check of the last state, a short while after the last of them, and a change that arrives while a check runs
queues exactly one more.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Dict, Generic, Optional, Tuple, TypeVar

T = TypeVar("T")


class Scheduler(Generic[T]):
    def __init__(self, run: Callable[[T], None], on_error: Callable[[BaseException], None]):
        self._run = run
        self._on_error = on_error
        self._pending: Dict[str, Tuple[float, T]] = {}
        self._condition = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="detachify-check", daemon=True)
        self._thread.start()

    def schedule(self, key: str, item: T, delay: float) -> None:
        """Check ``item`` ``delay`` seconds from now, replacing whatever was pending for ``key``."""
        with self._condition:
            self._pending[key] = (time.monotonic() + delay, item)
            self._condition.notify()

    def cancel(self, key: str) -> None:
        with self._condition:
            self._pending.pop(key, None)

    def pending(self, key: str) -> bool:
        with self._condition:
            return key in self._pending

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._pending.clear()
            self._condition.notify()

    def _next(self) -> Optional[T]:
        with self._condition:
            while not self._stopped:
                if not self._pending:
                    self._condition.wait()
                    continue
                key, (due, item) = min(self._pending.items(), key=lambda entry: entry[1][0])
                wait = due - time.monotonic()
                if wait <= 0:
                    del self._pending[key]
                    return item
                self._condition.wait(wait)
            return None

    def _loop(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            try:
                self._run(item)
            except BaseException as exc:  # the worker must outlive any one document
                self._on_error(exc)
