"""The persistent cache: what a run learnt about each file, kept for the next run, as ruff keeps `.ruff_cache`.

Entries live under `<project root>/.detachify_cache/` (a `.gitignore` inside keeps it out of version control),
or `--cache-dir` / `$DETACHIFY_CACHE_DIR`. An entry is found by what it was computed from — the file's path,
detachify's version, the settings — and is used only if what it depended on is still true: the file's content
(by hash), how its imports resolve, and the summaries of the modules it read (each by the key it had then, which
changes when that module or anything it read changes). So an entry is never stale, only unused.

Writes are atomic (a temporary file, then `os.replace`) and nothing is locked: processes running at once (pre-commit
runs several) at worst compute the same entry twice. The cache is bounded: past `MAX_BYTES`, the entries used
least recently go first; entries of other versions are removed when a run starts.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
import time
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from . import __version__

CACHE_DIRNAME = ".detachify_cache"
MAX_BYTES = 256 * 1024 * 1024


def _fingerprint() -> str:
    """The installed code itself (size and time of every file of the package): a development checkout changes
    without a new version number, and its entries must not outlive the code that wrote them."""
    package = os.path.dirname(os.path.abspath(__file__))
    stamps = []
    for folder, _, names in os.walk(package):
        for name in sorted(names):
            if name.endswith((".py", ".json")):
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                stamps.append((os.path.relpath(path, package), stat.st_size, stat.st_mtime_ns))
    return hashlib.sha256(repr(sorted(stamps)).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=None)
def entry_format() -> str:
    """What every entry was written by: a change of either invalidates them all. The fingerprint also covers
    the shape of summaries and results (any change to the code that defines them changes it)."""
    return f"{__version__}-{_fingerprint()}"


_GITIGNORE = "# Automatically created by detachify.\n*\n"


def digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class Cache:
    def __init__(self, directory: str):
        self.directory = directory
        self.root = os.path.join(directory, entry_format())
        self.written = 0

    @classmethod
    def at(cls, directory: str) -> Optional["Cache"]:
        """The cache in `directory`, created (with its .gitignore) if it can be; None if it cannot."""
        try:
            os.makedirs(directory, exist_ok=True)
            ignore = os.path.join(directory, ".gitignore")
            if not os.path.exists(ignore):
                _write_atomic(ignore, _GITIGNORE.encode())
            cache = cls(directory)
            cache._forget_other_versions()
            cache._prune_now_and_then()
            return cache
        except OSError:
            return None  # a read-only checkout: run without a cache rather than fail

    def _entry_path(self, kind: str, key: str) -> str:
        return os.path.join(self.root, kind, key[:2], key + ".pickle")

    def load(self, kind: str, key: str) -> Optional[Any]:
        path = self._entry_path(kind, key)
        try:
            with open(path, "rb") as f:
                value = pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError, TypeError):
            return None
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return value

    def store(self, kind: str, key: str, value: Any) -> None:
        path = self._entry_path(kind, key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            _write_atomic(path, data)
            self.written += len(data)
        except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
            pass  # a cache that cannot be written is only slower

    def prune(self, limit: int = MAX_BYTES) -> None:
        """Keep the cache under `limit` bytes, dropping the least recently used entries first."""
        entries, total = [], 0
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                entries.append((stat.st_mtime, stat.st_size, path))
                total += stat.st_size
        for _, size, path in sorted(entries):
            if total <= limit:
                break
            try:
                os.unlink(path)
                total -= size
            except OSError:
                pass

    def _prune_now_and_then(self, every: float = 3600.0) -> None:
        """Prune at most once an hour (a walk over every entry), whoever runs first."""
        stamp = os.path.join(self.directory, ".pruned")
        try:
            if time.time() - os.stat(stamp).st_mtime < every:
                return
        except OSError:
            pass
        _write_atomic(stamp, b"")
        self.prune()

    def _forget_other_versions(self) -> None:
        for name in os.listdir(self.directory):
            path = os.path.join(self.directory, name)
            if name != entry_format() and os.path.isdir(path):
                import shutil

                shutil.rmtree(path, ignore_errors=True)


def _write_atomic(path: str, data: bytes) -> None:
    import tempfile  # here: a warm run writes nothing, and tempfile loads shutil, zlib, bz2 and lzma

    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


# Process-wide choice of the doors: `--no-cache`, `--cache-dir`, `$DETACHIFY_CACHE_DIR`.
_settings = {"enabled": os.environ.get("DETACHIFY_NO_CACHE", "") in ("", "0"), "directory": None}


def configure(enabled: bool = True, directory: Optional[str] = None) -> None:
    """The choice of this process, passed on to the worker processes it starts (through the environment)."""
    _settings["enabled"] = enabled
    _settings["directory"] = os.path.abspath(directory) if directory else None
    if not enabled:
        os.environ["DETACHIFY_NO_CACHE"] = "1"
    if directory:
        os.environ["DETACHIFY_CACHE_DIR"] = _settings["directory"]


# With the cache off, the processes of one run still share what they compute (the summaries of the modules their
# files import: each would otherwise compute them all again) through a temporary directory the run removes.
_RUN_SCOPED = "DETACHIFY_RUN_CACHE_DIR"


@contextmanager
def shared_by_this_run() -> Iterator[None]:
    """For the worker processes about to start: without a persistent cache, one that lives while the run does."""
    if _enabled() or os.environ.get(_RUN_SCOPED):
        yield
        return
    import shutil
    import tempfile

    directory = tempfile.mkdtemp(prefix="detachify-shared-")
    os.environ[_RUN_SCOPED] = directory
    try:
        yield
    finally:
        del os.environ[_RUN_SCOPED]
        shutil.rmtree(directory, ignore_errors=True)


def _enabled() -> bool:
    return _settings["enabled"] and os.environ.get("DETACHIFY_NO_CACHE", "") in ("", "0")


def cache_for_root(root: str) -> Optional[Cache]:
    if not _enabled():
        run_scoped = os.environ.get(_RUN_SCOPED)
        return Cache.at(run_scoped) if run_scoped else None
    directory = _settings["directory"] or os.environ.get("DETACHIFY_CACHE_DIR") or os.path.join(root, CACHE_DIRNAME)
    return Cache.at(os.path.abspath(directory))
