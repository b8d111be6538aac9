"""A run read back whole: when nothing the last identical run read has changed, its results are this run's.

The per-file cache spares the analysis, but a warm run still checks each file's entry against the summaries it
depends on, loading them one by one. A run over an unchanged project needs none of that, nor the parser: its
index holds the results of the whole run and everything the run read of the file system (`project.witness`),
and it is read back only if all of that is still true, file by file, hash by hash. Only checks are read back
(a fix writes files); the index is found by what the run was asked (every file, as shown, with its settings).
"""
from __future__ import annotations

from dataclasses import replace
from typing import List, Optional, Sequence

from .cache import Cache, cache_for_root, digest
from .files import FileResult
from .project import layout, witness

KIND = "run"


def _cache(tasks: Sequence[tuple]) -> Optional[Cache]:
    return cache_for_root(layout.project_root(tasks[0][0])) if tasks else None


def _key(tasks: Sequence[tuple]) -> str:
    return digest(KIND, tuple(tasks))


def recall(tasks: Sequence[tuple]) -> Optional[List[FileResult]]:
    """The results of the last run of these tasks, if nothing it read has changed since."""
    cache = _cache(tasks)
    entry = cache.load(KIND, _key(tasks)) if cache is not None else None
    if entry is None:
        return None
    from .project import universe  # noqa: F401  (registers the walker the index's listings were made with)

    if not witness.still_holds(entry["facts"], entry["seals"]):
        return None
    return list(entry["results"])


def remember(tasks: Sequence[tuple], results: Sequence[FileResult]) -> None:
    """Keep a complete run's results with what it read."""
    cache = _cache(tasks)
    if cache is None:
        return
    kept = [replace(result, facts=None, witnessed=None) for result in results]
    facts = witness.snapshot()
    cache.store(KIND, _key(tasks), {"facts": facts, "seals": witness.seal(facts), "results": kept})
