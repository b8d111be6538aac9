"""What this process read of the file system, so that a later run can tell nothing a run depended on changed.

Three kinds of fact, each checked again the cheapest way that cannot be fooled by a coarse clock:

* files read: the hash of the bytes the analysis saw (None when they could not be read);
* paths probed: what was there, a file, a folder or nothing (how imports resolved, where a project starts);
* a project's files: the list its walk found (which files may call into a module).

A result kept with its facts may also keep their `seal`: the stat of each file read, and of each folder where a
probed path was missing, taken and confirmed when the result was stored. A later check takes an unchanged stat for
the unchanged fact (one `stat` instead of reading and hashing a file, one per folder instead of one probe per
missing path), but only for stats whose times were already older than the seal by more than any file system's
clock step, git's rule against "racy" entries: any later write gives a later time. The ctime is in the stat, so a
file rewritten and given back its old mtime (`touch -d`, `rsync -t`) is read again.

Every read and probe of the analysis goes through here; the facts are kept process-wide, first seen first kept
(a file that changes during a run no longer matches what the run saw, so nothing read back is ever stale). Worker
processes hand theirs to the main process with each result (`drain`).
"""
from __future__ import annotations

import hashlib
import os
import stat
import time
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
_keeping = True  # whether this process keeps the facts of its whole run (for `snapshot`, `drain`)

# (mtime, ctime, size, inode, device): what `stat` says of a path, None where there is nothing.
StatKey = Tuple[int, int, int, int, int]
# The stats that stand for facts: files read -> stat; folder -> (stat, the missing paths its listing rules out).
Seals = Tuple[Dict[str, StatKey], Dict[str, Tuple[StatKey, Tuple[str, ...]]]]
NO_SEALS: Seals = ({}, {})
# FAT keeps modification times to 2 s; every other file system is finer. A time this much older than the moment
# a stat is sealed cannot be given again by a write after it.
CLOCK_STEP_NS = 2_000_000_000


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
    for facts in (_TABLES, *_scopes) if _keeping else _scopes:
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
    if not (_keeping or _scopes):
        return
    for table, entries in enumerate(facts):
        for key, value in entries.items():
            _note(table, key, value)


def keep_process_facts(keep: bool) -> None:
    """Whether to keep what the whole process reads (`recording` blocks are kept either way): a front end that
    keeps no run index (flake8) has no use for them, and noting 40,000 facts costs a warm run a tenth of its
    time."""
    global _keeping
    _keeping = keep


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


def _stat_key(path: str) -> Optional[StatKey]:
    try:
        s = os.stat(path)
    except (OSError, ValueError):
        return None
    return s.st_mtime_ns, s.st_ctime_ns, s.st_size, s.st_ino, s.st_dev


def _hash_of_file(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            return _digest(f.read())
    except OSError:
        return None


def seal(facts: Facts) -> Seals:
    """The stats that will stand for these facts in `still_holds`, each confirmed now: a file hashed again between
    two equal stats, a folder stat-ed around probing the missing entries it holds."""
    files, kinds, _ = facts
    settled_before = time.time_ns() - CLOCK_STEP_NS

    def settled(key: Optional[StatKey]) -> bool:
        return key is not None and key[0] < settled_before and key[1] < settled_before

    sealed_files: Dict[str, StatKey] = {}
    for path, digest in files.items():
        before = _stat_key(path)
        if digest is not None and settled(before) and _hash_of_file(path) == digest and _stat_key(path) == before:
            sealed_files[path] = before
    sealed_folders: Dict[str, Tuple[StatKey, Tuple[str, ...]]] = {}
    for folder, (first_missing, paths) in _missing_by_folder(kinds).items():
        before = _stat_key(folder)
        if settled(before) and not any(os.access(p, os.F_OK) for p in first_missing) and _stat_key(folder) == before:
            sealed_folders[folder] = (before, tuple(paths))
    return sealed_files, sealed_folders


def _missing_by_folder(kinds: Dict[str, str]) -> Dict[str, Tuple[set, List[str]]]:
    """The paths that were missing, by the existing folder where their first missing component would be: as long
    as that folder's entries stay the same, so does their absence."""
    exists: Dict[str, bool] = {}

    def there(path: str) -> bool:
        found = exists.get(path)
        if found is None:
            found = exists[path] = os.access(path, os.F_OK)
        return found

    groups: Dict[str, Tuple[set, List[str]]] = {}
    for path, kind_then in kinds.items():
        if kind_then != NOTHING or there(path):
            continue
        first_missing, folder = path, os.path.dirname(path)
        while folder != first_missing and not there(folder):
            first_missing, folder = folder, os.path.dirname(folder)
        if folder == first_missing:
            continue  # nothing above it exists: no folder to seal
        group = groups.setdefault(folder, (set(), []))
        group[0].add(first_missing)
        group[1].append(path)
    return groups


def still_holds(facts: Facts, seals: Seals = NO_SEALS) -> bool:
    """Whether every fact is still true (the cheap ones first)."""
    files, kinds, listings = facts
    sealed_files, sealed_folders = seals
    ruled_out = set()
    for folder, (then, missing) in sealed_folders.items():
        if _stat_key(folder) == then:
            ruled_out.update(missing)
    for path, kind_then in kinds.items():
        # Most probes found nothing (every place an import could resolve): `os.access` tells that apart
        # without the exception a failing `os.stat` costs (half the time); what it finds is stat-ed.
        if kind_then == NOTHING and (path in ruled_out or not os.access(path, os.F_OK)):
            continue
        if _kind_now(path) != kind_then:
            return False
    for path, digest in files.items():
        then = sealed_files.get(path)
        if then is not None and _stat_key(path) == then:
            continue
        if _hash_of_file(path) != digest:
            return False
    for (name, root), found in listings.items():
        walk = _WALKERS.get(name)
        if walk is None or tuple(walk(root)) != found:
            return False
    return True
