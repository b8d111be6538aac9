"""What this process read of the file system, so that a later run can tell nothing a run depended on changed.

Three kinds of fact, each checked again the cheapest way that cannot be fooled by a coarse clock:

* files read: the hash of the bytes the analysis saw (None when they could not be read);
* paths probed: what was there, a file, a folder or nothing (how imports resolved, where a project starts);
* a project's files: the list its walk found (which files may call into a module).

Every read and probe of the analysis goes through here; the facts are kept process-wide, first seen first kept
(a file that changes during a run no longer matches what the run saw, so nothing read back is ever stale). Worker
processes hand theirs to the main process with each result (`drain`).
"""
from __future__ import annotations

import hashlib
import os
import stat
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Tuple

FILE, FOLDER, NOTHING = "file", "folder", ""
_CHANGED = "changed during the run"  # a digest no file has: two reads of one file disagreed

_files: Dict[str, Optional[str]] = {}
_kinds: Dict[str, str] = {}
_listings: Dict[Tuple[str, str], Tuple[str, ...]] = {}  # (walker, root) -> what it found
_new: List[tuple] = []  # facts not yet handed over by `drain`
_WALKERS: Dict[str, Callable[[str], List[str]]] = {}

Facts = Tuple[Dict[str, Optional[str]], Dict[str, str], Dict[Tuple[str, str], Tuple[str, ...]]]
_TABLES: Facts = (_files, _kinds, _listings)
_KINDS = ("file", "kind", "listing")
_MISSING = object()
_scopes: List[Facts] = []


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(path: str, data: Optional[bytes]) -> None:
    """The analysis read `data` from `path` (None: it could not)."""
    _note_file(path, _digest(data) if data is not None else None)


def read_digest(path: str, digest: Optional[str]) -> None:
    """The same, for a caller that hashed the bytes itself (sha256)."""
    _note_file(path, digest)


def _note_file(path: str, digest: Optional[str]) -> None:
    _note(0, path, digest)


def kind(path: str) -> str:
    """What is at `path` now (following links), noted as a fact the run depends on."""
    found = _kind_now(path)
    _note(1, path, found)
    return found


def _note(table: int, key, value) -> None:
    """Note a fact in this process's tables and in every open `recording`; a fact seen two ways is `_CHANGED`."""
    for facts in (_TABLES, *_scopes):
        known = facts[table].get(key, _MISSING)
        if known is _MISSING:
            facts[table][key] = value
            if facts is _TABLES:
                _new.append((_KINDS[table], key, value))
        elif known != value and known != _CHANGED:
            facts[table][key] = _CHANGED
            if facts is _TABLES:
                _new.append((_KINDS[table], key, _CHANGED))


@contextmanager
def recording() -> Iterator[Facts]:
    """The facts noted while the block runs, all of them (also those this process knew before): what one
    computation depended on, to keep with its result. Memoised probes are not noted again: clear them first."""
    facts: Facts = ({}, {}, {})
    _scopes.append(facts)
    try:
        yield facts
    finally:
        _scopes.remove(facts)


def adopt(facts: Facts) -> None:
    """Facts `still_holds` just confirmed, noted as if observed now (a result read back depends on them too)."""
    for table, entries in enumerate(facts):
        for key, value in entries.items():
            _note(table, key, value)


def is_file(path: str) -> bool:
    return kind(path) == FILE


def is_dir(path: str) -> bool:
    return kind(path) == FOLDER


def exists(path: str) -> bool:
    return kind(path) != NOTHING


def walker(walk: Callable[[str], List[str]]) -> Callable[[str], List[str]]:
    """Decorates a function listing the files under a folder, whose results `listing` notes."""
    _WALKERS[f"{walk.__module__}.{walk.__qualname__}"] = walk
    return walk


def listing(root: str, walk: Callable[[str], List[str]]) -> List[str]:
    """`walk(root)` (a `walker`), noted: a later run walks again and compares."""
    found = walk(root)
    _note(2, (f"{walk.__module__}.{walk.__qualname__}", root), tuple(found))
    return found


def _kind_now(path: str) -> str:
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return NOTHING
    return FOLDER if stat.S_ISDIR(mode) else FILE if stat.S_ISREG(mode) else "other"


def drain() -> List[tuple]:
    """The facts noted since the last call (to send to the main process)."""
    global _new
    found, _new = _new, []
    return found


def merge(facts: List[tuple]) -> None:
    """Facts another process noted, as if noted here."""
    for what, key, value in facts:
        _note(_KINDS.index(what), key, value)


def snapshot() -> Facts:
    return dict(_files), dict(_kinds), dict(_listings)


def forget() -> None:
    """A long-lived process (the language server) starts over."""
    _files.clear()
    _kinds.clear()
    _listings.clear()
    del _new[:]


def still_holds(facts: Facts) -> bool:
    """Whether every fact is still true (the cheap ones first)."""
    files, kinds, listings = facts
    for path, kind_then in kinds.items():
        # Most probes found nothing (every place an import could resolve): `os.access` tells that apart
        # without the exception a failing `os.stat` costs (half the time); what it finds is stat-ed.
        if kind_then == NOTHING and not os.access(path, os.F_OK):
            continue
        if _kind_now(path) != kind_then:
            return False
    for path, digest in files.items():
        try:
            with open(path, "rb") as f:
                now = _digest(f.read())
        except OSError:
            now = None
        if now != digest:
            return False
    for (name, root), found in listings.items():
        walk = _WALKERS.get(name)
        if walk is None or tuple(walk(root)) != found:
            return False
    return True
